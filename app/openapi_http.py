"""HTTP in the OpenAPI document: the headers reads answer with, and their 304.

FastAPI documents bodies only. A generated client, or an integrator reading the
document, also needs what caching rests on: each read's ETag and Cache-Control, the 304
that If-None-Match earns, a list's Link to its next page, and the Retry-After of a 503.
Added to the document as it is built, from its own paths.
"""

from typing import Any

# Reads that describe the moment (liveness, readiness) or one caller (the audit log,
# for writers): neither kept nor validated, so no ETag.
UNCACHED = ("/health", "/ready", "/audit")


def _header(description: str) -> dict[str, Any]:
    # A new object each time: a YAML writer names a shared one and refers to it (&id001).
    return {"description": description, "schema": {"type": "string"}}


def _etag() -> dict[str, Any]:
    return _header(
        "Strong validator of this answer: send it back in If-None-Match (304 while it "
        "holds) or, to change the item, in If-Match."
    )


def _next_link() -> dict[str, Any]:
    return _header('RFC 8288: <URL of the next page>; rel="next", when there is one.')


def _cache_control() -> dict[str, Any]:
    return _header("public, max-age=60.")


def _if_none_match() -> dict[str, Any]:
    return {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        **_header(
            "ETags of answers already held (or *): 304 Not Modified, without a body, while "
            "one is still current."
        ),
    }


def describe_http(document: dict[str, Any]) -> dict[str, Any]:
    """Add the caching headers of every kept read, and Retry-After to every 503, to
    `document` (an OpenAPI 3.1 dict), in place."""
    for path, operations in document["paths"].items():
        for operation in operations.values():
            busy = operation["responses"].get("503")
            if busy is not None:
                retry = _header("Seconds to wait before trying again.")
                busy.setdefault("headers", {})["Retry-After"] = retry
        read = operations.get("get")
        if read is None:
            continue
        names = {parameter["name"] for parameter in read.get("parameters", [])}
        if path in UNCACHED:
            if "cursor" in names:  # the audit log's pages
                read["responses"]["200"].setdefault("headers", {})["Link"] = _next_link()
            continue
        headers = {"ETag": _etag(), "Cache-Control": _cache_control()}
        if "cursor" in names:  # a list
            headers["ETag"] = _header(
                "Strong validator of this page (a streamed export, CSV or NDJSON without a "
                "limit, sends none): send it back in If-None-Match, 304 while it holds."
            )
            headers["Link"] = _next_link()
            headers["Vary"] = _header("Accept (a list's format may come from it), Accept-Encoding.")
        read["responses"]["200"].setdefault("headers", {}).update(headers)
        read["responses"]["304"] = {
            "description": "Not Modified: an ETag sent in If-None-Match is current.",
            "headers": {"ETag": _etag(), "Cache-Control": _cache_control()},
        }
        read.setdefault("parameters", []).append(_if_none_match())
    return document
