"""HTTP in the OpenAPI document: the headers reads and writes answer with, and the 304.

FastAPI documents bodies only. A generated client, or an integrator reading the
document, also needs what caching rests on: each read's ETag and Cache-Control, the 304
that If-None-Match earns, a list's Link to its next page, and the Retry-After of a 503;
and what a write answers with: the new record's Location, the ETag its next change sends
in If-Match, the key's rate limit. Added to the document as it is built, from its own
paths.
"""

from typing import Any

from app.errors import PROBLEM_CACHE_CONTROL, PROBLEM_JSON

# Reads that describe the moment (liveness, readiness) or one caller (the audit log,
# for writers): neither kept nor validated, so no ETag.
UNCACHED = {
    "/health": "no-store: a probe asks the server.",
    "/ready": "no-store: a probe asks the server.",
    "/audit": "private, no-store.",
}


NULL = {"type": "null"}


def _header(description: str) -> dict[str, Any]:
    # A new object each time: a YAML writer names a shared one and refers to it (&id001).
    return {"description": description, "schema": {"type": "string"}}


def _etag() -> dict[str, Any]:
    return _header(
        "Strong validator of this answer: send it back in If-None-Match (304 while it "
        "holds) or, to change the item, in If-Match. The gzip encoding's ends in -gzip "
        "inside the quotes (its own representation); either is taken back."
    )


def _next_link() -> dict[str, Any]:
    return _header('RFC 8288: <URL of the next page>; rel="next", when there is one.')


def _cache_control() -> dict[str, Any]:
    return _header("public, max-age=60.")


def _vary(varies_on: str) -> dict[str, Any]:
    return _header(
        f"{varies_on}, Origin (CORS: its headers are sent to a browser's request). "
        "Accept-Encoding only on an answer large enough to be compressed (1,000 bytes)."
    )


def _service_links() -> dict[str, Any]:
    return _header(
        "RFC 8288: the OpenAPI document (service-desc), the docs page (service-doc), /health "
        "(status)."
    )


def _no_store() -> dict[str, Any]:
    return _header("no-store: an answer to one write, which no cache keeps.")


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


# The headers of app.ratelimit, described once: on every answer to a write that reached
# its key's bucket, done or refused.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Writes a minute this key may make (its bucket's size).",
    "RateLimit-Remaining": "Writes it may make now.",
    "RateLimit-Reset": "Seconds until its bucket is full again.",
}
_COUNTED = (
    " Sent on every answer to a write counted against its key, done or refused; not on "
    "a 401, 403, 413 or 414, nor on a body that is not JSON, refused before."
)
# A write's problems that may come after its key's bucket was reached (the 429 has the
# headers of its own).
_COUNTED_PROBLEMS = ("400", "404", "409", "412", "415", "422", "428", "503", "default")


def _rate_limit() -> dict[str, Any]:
    return {
        name: {"$ref": f"#/components/headers/{name.replace('-', '')}"}
        for name in RATE_LIMIT_HEADERS
    }


def _write_headers(path: str, method: str, responses: dict[str, Any]) -> None:
    """What each answer to a write carries beyond its body (app.api.writes, app.ratelimit,
    app.services.auth)."""
    replayed = {
        "Idempotent-Replayed": _header(
            "true when this is the stored answer to an Idempotency-Key sent before."
        )
    }
    created = responses.get("201")
    if created is not None:
        created.setdefault("headers", {}).update(
            {
                "Location": _header("The new record's URL."),
                "ETag": _header("The new record's: send it in If-Match to change it."),
                "Cache-Control": _no_store(),
                **replayed,
                **_rate_limit(),
            }
        )
    if path == "/imports":
        responses["200"].setdefault("headers", {}).update(
            {"Cache-Control": _no_store(), **replayed, **_rate_limit()}
        )
    if method == "patch":
        responses["200"].setdefault("headers", {}).update(
            {
                "ETag": _header("The record's new ETag, for its next If-Match."),
                "Cache-Control": _no_store(),
                **_rate_limit(),
            }
        )
    if "204" in responses:
        responses["204"].setdefault("headers", {}).update(_rate_limit())
    for status in _COUNTED_PROBLEMS:
        if status in responses:
            responses[status].setdefault("headers", {}).update(_rate_limit())


def _error_headers(responses: dict[str, Any]) -> None:
    for response in responses.values():
        if PROBLEM_JSON in response.get("content", {}):  # app.errors
            response.setdefault("headers", {})["Cache-Control"] = {"$ref": PROBLEM_CACHE_REF}
    for status, headers in (
        ("401", {"WWW-Authenticate": _header("Bearer, with the reason (RFC 6750).")}),
        (
            "403",
            {"WWW-Authenticate": _header('Bearer, error="insufficient_scope" (RFC 6750).')},
        ),
        ("412", {"ETag": _header("The record's current ETag.")}),
        (
            "429",
            {"Retry-After": _header("Seconds until the next write is allowed."), **_rate_limit()},
        ),
    ):
        if status in responses:
            responses[status].setdefault("headers", {}).update(headers)


# Every problem's, described once.
PROBLEM_CACHE_HEADER = "ProblemCacheControl"
PROBLEM_CACHE_REF = f"#/components/headers/{PROBLEM_CACHE_HEADER}"


def _no_null_query_values(operation: dict[str, Any]) -> None:
    """A query parameter is sent or left out: none is null. FastAPI's `T | None` said
    each could be, and a typed client offered null, which every spelling of it is
    refused as (`?province=null`, `?province=`: from an integrator's audit)."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        options = schema.get("anyOf")
        if parameter["in"] != "query" or not options or NULL not in options:
            continue
        kept = [option for option in options if option != NULL]
        rest = {k: v for k, v in schema.items() if k != "anyOf" and (k, v) != ("default", None)}
        parameter["schema"] = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}


def describe_http(document: dict[str, Any]) -> dict[str, Any]:
    """Add the caching headers of every kept read, the headers of every write's answers,
    and Retry-After to every 503, to `document` (an OpenAPI 3.1 dict), in place."""
    described = document.setdefault("components", {}).setdefault("headers", {})
    described[PROBLEM_CACHE_HEADER] = _header(
        f"{PROBLEM_CACHE_CONTROL}: a problem describes one moment, which no cache keeps."
    )
    for name, description in RATE_LIMIT_HEADERS.items():
        described[name.replace("-", "")] = _header(description + _COUNTED)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # A problem is sent as problem+json only; FastAPI adds the route's own media
            # type to the default answer (application/json, text/plain for a text).
            default = operation["responses"].get("default", {}).get("content", {})
            if PROBLEM_JSON in default:
                operation["responses"]["default"]["content"] = {PROBLEM_JSON: default[PROBLEM_JSON]}
            busy = operation["responses"].get("503")
            if busy is not None:
                retry = _header("Seconds to wait before trying again.")
                busy.setdefault("headers", {})["Retry-After"] = retry
            if method in ("post", "patch", "delete"):
                _write_headers(path, method, operation["responses"])
            _error_headers(operation["responses"])
            _no_null_query_values(operation)
        read = operations.get("get")
        if read is None:
            continue
        names = {parameter["name"] for parameter in read.get("parameters", [])}
        if path in UNCACHED:
            if "cursor" in names:  # the audit log's pages
                read["responses"]["200"].setdefault("headers", {})["Link"] = _next_link()
            for status in ("200", "503"):  # /ready's 503 is a Readiness, not a problem
                response = read["responses"].get(status)
                if response is not None and PROBLEM_JSON not in response.get("content", {}):
                    response.setdefault("headers", {})["Cache-Control"] = _header(UNCACHED[path])
            continue
        headers = {
            "ETag": _etag(),
            "Cache-Control": _cache_control(),
            "Vary": _vary("Accept-Encoding"),
        }
        links: dict[str, Any] = {}
        if "cursor" in names:  # a list
            headers["ETag"] = _header(
                "Strong validator of this page (a streamed export, CSV or NDJSON without a "
                "limit, sends none): send it back in If-None-Match, 304 while it holds."
            )
            links["Link"] = _next_link()
            headers["Vary"] = _vary("Accept (a list's format may come from it), Accept-Encoding")
            headers["Content-Disposition"] = _header(
                'CSV and NDJSON: attachment; filename="<list>.csv" (or .ndjson).'
            )
        elif "format" in names:  # a document that is also a table (a place's stats)
            headers["Vary"] = _vary("Accept (its format may come from it), Accept-Encoding")
            headers["Content-Disposition"] = _header('CSV: attachment; filename="<name>.csv".')
        elif path == "/":
            links["Link"] = _service_links()
        read["responses"]["200"].setdefault("headers", {}).update({**headers, **links})
        read["responses"]["304"] = {
            "description": "Not Modified: an ETag sent in If-None-Match is current.",
            "headers": {
                "ETag": _header("The tag sent that is current (of either encoding)."),
                "Cache-Control": _cache_control(),
                "Vary": _header("As the 200's would be (RFC 9110 15.4.5)."),
                **{name: _header("As the 200's.") for name in links},
            },
        }
        read.setdefault("parameters", []).append(_if_none_match())
    return document
