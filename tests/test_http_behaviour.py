"""HTTP behaviour around every read (issue 8, point 6, read side).

Security headers on every response, errors and 404s included; CORS that never allows
credentials; gzip for large pages; ETags and 304; Cache-Control on reads and never on
errors; and error bodies that never carry a traceback or SQL.
"""

import gzip
import json
import re
import threading
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.api import responses
from app.errors import PROBLEM_JSON
from app.middleware import MAX_QUERY_BYTES, SECURITY_HEADERS
from app.models.data_version import RAISE_DATA_VERSION
from app.openapi import openapi_document
from app.services import sources as sources_service
from app.services.json_sql import gzip_etag

HEADERS = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
ORIGIN = "https://example.org"

# (label, method, url, request headers, expected status)
RESPONSES: list[tuple[str, str, str, dict[str, str], int]] = [
    ("json page", "GET", "/branches?limit=2", {}, 200),
    ("json detail", "GET", "/localities/1", {}, 200),
    ("csv page", "GET", "/branches?format=csv&limit=2", {}, 200),
    ("ndjson export", "GET", "/sources?format=ndjson", {}, 200),
    ("source text", "GET", "/sources/1/text", {}, 200),
    ("health", "GET", "/health", {}, 200),
    ("ready", "GET", "/ready", {}, 200),
    ("head", "HEAD", "/branches?limit=2", {}, 200),
    ("not modified", "GET", "/risk/rules", {"if-none-match": "*etag*"}, 304),
    ("unknown parameter", "GET", "/branches?limt=2", {}, 400),
    ("bad cursor", "GET", "/branches?cursor=x.y", {}, 400),
    ("write without a key", "POST", "/branches", {"content-type": "application/json"}, 401),
    ("no such route", "GET", "/etc/passwd", {}, 404),
    ("no such branch", "GET", "/branches/99999999", {}, 404),
    ("method not allowed", "POST", "/risk/summary", {}, 405),
    ("query string too long", "GET", "/branches?q=" + "a" * MAX_QUERY_BYTES, {}, 414),
    ("invalid parameter", "GET", "/branches?limit=abc", {}, 400),
    ("impossible date", "GET", "/facts?from=2023-02-30", {}, 422),
    ("cors preflight", "OPTIONS", "/branches", {
        "origin": ORIGIN, "access-control-request-method": "GET"}, 200),
]  # fmt: skip


def _send(api: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    if headers.get("if-none-match") == "*etag*":
        headers = {**headers, "if-none-match": api.get(url).headers["etag"]}
    return api.request(method, url, headers=headers)


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in RESPONSES],
)
def test_security_headers_on_every_response(
    api: TestClient, method: str, url: str, headers: dict[str, str], status: int
) -> None:
    response = _send(api, method, url, headers)
    assert response.status_code == status, response.text[:300]
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name


def test_docs_keep_the_other_headers_without_csp(api: TestClient) -> None:
    # The interactive docs load scripts and styles of their own (app/middleware.py).
    response = api.get("/docs")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


# -- CORS ---------------------------------------------------------------------------------
@pytest.mark.parametrize("origin", [ORIGIN, "null", "http://localhost:3000"])
@pytest.mark.parametrize(
    "url",
    ["/branches?limit=1", "/branches/99999999", "/health", "/branches?q=" + "a" * MAX_QUERY_BYTES],
)
def test_cors_allows_any_origin_without_credentials(api: TestClient, origin: str, url: str) -> None:
    # A cookie or an Authorization header does not make the answer credentialed.
    response = api.get(
        url, headers={"origin": origin, "cookie": "session=1", "authorization": "Bearer x"}
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    if response.status_code != 414:  # answered before routing: nothing to expose
        assert "etag" in response.headers["access-control-expose-headers"].lower()


def test_a_browser_reads_an_oversized_requests_problem_and_a_csvs_file_name(
    api: TestClient,
) -> None:
    """The guard answers 413 and 414 before CORS runs; fetch() must still read them."""
    body = b"x" * 2_000_001
    headers = {"origin": ORIGIN, "content-type": "application/json"}
    too_large = api.post("/sources", content=body, headers=headers)
    assert too_large.status_code == 413
    assert [e["field"] for e in too_large.json()["errors"]] == ["body"]
    assert too_large.headers["access-control-allow-origin"] == "*"
    csv = api.get("/branches?format=csv&limit=1", headers={"origin": ORIGIN})
    exposed = csv.headers["access-control-expose-headers"].lower().split(", ")
    assert "content-disposition" in exposed and "attachment" in csv.headers["content-disposition"]


@pytest.mark.parametrize("request_headers", ["authorization", "authorization, cookie", ""])
def test_cors_preflight_never_allows_credentials(api: TestClient, request_headers: str) -> None:
    headers = {"origin": ORIGIN, "access-control-request-method": "GET"}
    if request_headers:
        headers["access-control-request-headers"] = request_headers
    response = api.options("/branches", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "GET" in response.headers["access-control-allow-methods"]


def test_a_refused_preflight_is_a_problem_naming_its_header(api: TestClient) -> None:
    headers = {"origin": ORIGIN, "access-control-request-method": "PUT"}
    problem = _assert_clean_problem(api.options("/branches", headers=headers), 400)
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [
        ("header.access-control-request-method", "cors")
    ]


def test_a_browser_script_reads_a_405s_allow(api: TestClient) -> None:
    response = api.put("/branches", headers={"origin": ORIGIN})
    assert response.status_code == 405
    exposed = response.headers["access-control-expose-headers"].lower().split(",")
    assert "allow" in [name.strip() for name in exposed]


def test_cors_preflight_for_a_write_allows_bearer_keys_never_credentials(api: TestClient) -> None:
    # A browser editor may send a Bearer key from another origin: keys are not ambient
    # credentials (no cookies), so a foreign page cannot borrow a user's rights.
    headers = {
        "origin": ORIGIN,
        "access-control-request-method": "DELETE",
        "access-control-request-headers": "authorization, if-match",
    }
    response = api.options("/branches/1", headers=headers)
    assert response.status_code == 200
    assert "DELETE" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["access-control-allow-origin"] == "*"


# -- Compression, ETags, caching ------------------------------------------------------------
def test_large_pages_are_gzipped_when_asked(api: TestClient) -> None:
    url = "/branches?limit=500"
    plain = api.get(url, headers={"accept-encoding": "identity"})
    zipped = api.get(url, headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in zipped.headers["vary"].lower()
    # httpx decodes transparently; the compressed size is what went over the wire.
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.json() == plain.json()


@pytest.mark.parametrize(
    "url", ["/membership-counts?format=csv", "/admissions?format=ndjson", "/branches?format=csv"]
)
def test_a_streamed_export_in_gzip_is_the_same_export(api: TestClient, url: str) -> None:
    """An export is compressed as it streams (no Content-Length), not kept whole."""
    sent = {}
    for encoding in ("identity", "gzip"):
        with api.stream("GET", url, headers={"accept-encoding": encoding}) as response:
            assert response.status_code == 200
            sent[encoding] = (response.headers, b"".join(response.iter_raw()))
    zipped_headers, zipped = sent["gzip"]
    assert zipped_headers["content-encoding"] == "gzip"
    assert "content-length" not in zipped_headers
    assert gzip.decompress(zipped) == sent["identity"][1]
    assert len(zipped) < len(sent["identity"][1])


@pytest.mark.parametrize("url", ["/membership-counts?format=csv", "/admissions?format=ndjson"])
def test_a_streamed_export_is_made_on_the_export_threads(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """From a concurrency audit: on anyio's threads, which FastAPI's writes share, a
    whole export waited for every write queued for the writer lock (seconds); on the
    read threads, exports would hold the pages back."""
    made_on = []
    render = responses._render_batches

    def watched(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        for chunk in render(*args, **kwargs):
            made_on.append(threading.current_thread().name)
            yield chunk

    monkeypatch.setattr(responses, "_render_batches", watched)
    monkeypatch.setattr(responses, "EXPORT_BATCH", 2)  # several batches, several reads
    assert api.get(url).status_code == 200
    assert len(made_on) > 2
    assert {name.split("_")[0] for name in made_on} == {"export"}


def _messages_of_a_get(app: Any, url: str) -> list[dict[str, Any]]:
    """The ASGI messages of a GET, as the app sends them to the server. A client of its
    own, without the lifespan (the fixture's client ran it): a stream the app leaves
    without its end reaches that client as a body that simply stops."""
    messages: list[dict[str, Any]] = []

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        async def kept(message: Any) -> None:
            messages.append(message)
            await send(message)

        await app(scope, receive, kept)

    TestClient(recorded).get(url, headers={"accept-encoding": "identity"})
    return messages


@pytest.mark.parametrize("write_after_batch", [None, 0, 1])
def test_an_export_the_data_changes_under_is_cut_not_mixed(
    write_api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    write_after_batch: int | None,
) -> None:
    """From a concurrency audit: each batch of a whole export is a read of its own, and
    under sort=name a branch renamed between two of them came twice, or never (9 of 40
    exports). A write after a batch now cuts the stream: the status is sent, the rest is
    not, and the response has no end, which a client sees as an incomplete transfer."""
    engine = write_api.app.state.engine  # type: ignore[attr-defined]
    render = responses._render_batches

    def written_between(batches: Iterator[list[Any]], *args: Any, **kwargs: Any) -> Any:
        def batches_with_a_write() -> Iterator[list[Any]]:
            for number, batch in enumerate(batches):
                yield batch
                if number == write_after_batch:
                    with engine.begin() as connection:  # another request's write
                        connection.exec_driver_sql(RAISE_DATA_VERSION)

        return render(batches_with_a_write(), *args, **kwargs)

    monkeypatch.setattr(responses, "_render_batches", written_between)
    monkeypatch.setattr(responses, "EXPORT_BATCH", 3)
    monkeypatch.setattr(responses, "STREAM_CHUNK", 1)  # a batch a chunk
    url = "/branches?format=ndjson&sort=name"
    total = write_api.get("/branches", params={"limit": "1"}).json()["total"]
    assert total > 3 * 3  # batches after the second
    messages = _messages_of_a_get(write_api.app, url)
    assert messages[0]["status"] == 200
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    lines = b"".join(m.get("body", b"") for m in bodies).splitlines()
    ended = not bodies[-1].get("more_body", False)
    if write_after_batch is None:
        assert ended and len(lines) == total
        return
    assert not ended
    assert len(lines) == 3 * (write_after_batch + 1)  # the batches read before the write
    assert "the data changed during an export of /branches" in caplog.text


@pytest.mark.parametrize("url", ["/membership-counts?format=csv", "/admissions?format=ndjson"])
def test_a_head_of_a_streamed_export_makes_none_of_its_body(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """From an HTTP audit: a HEAD ran the whole export and dropped its bytes, a second of
    CPU at scale 0.05 before its connection took the next request. Its first chunk ends
    it now, with the headers of the GET."""
    taken = []
    take = responses._take

    def counted(*args: Any) -> bytes:
        chunk: bytes = take(*args)
        taken.append(len(chunk))
        return chunk

    monkeypatch.setattr(responses, "_take", counted)
    monkeypatch.setattr(responses, "EXPORT_BATCH", 2)
    monkeypatch.setattr(responses, "STREAM_CHUNK", 1)  # a batch a chunk
    got = api.get(url)
    chunks_of_a_get = len(taken)
    assert chunks_of_a_get > 3
    taken.clear()
    head = api.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert len(taken) == 1
    for name in ("content-type", "content-disposition", "vary", "cache-control"):
        assert head.headers[name] == got.headers[name], name


def _vary(response: Any) -> list[str]:
    return [v.strip().lower() for v in response.headers.get("vary", "").split(",") if v.strip()]


@pytest.mark.parametrize("url", ["/branches?limit=500", "/membership-counts?format=csv"])
def test_a_body_sent_as_it_is_says_it_would_be_gzipped(api: TestClient, url: str) -> None:
    """A cache that stored the plain body must not give it for a gzip request without
    knowing it varies: a page and a streamed export, as they are, say so."""
    plain = api.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in _vary(plain)
    from_a_page = api.get(url, headers={"accept-encoding": "identity", "origin": ORIGIN})
    assert {"origin", "accept-encoding"} <= set(_vary(from_a_page))


@pytest.mark.parametrize(
    "url",
    ["/sources?limit=1", "/branches?limit=500", "/membership-counts", "/facts?format=csv&limit=2"],
)
@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/x-ndjson"])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_list_varies_on_accept(api: TestClient, url: str, accept: str, encoding: str) -> None:
    """Its format may come from Accept: a shared cache that kept one client's CSV must not
    give it to another that asked for JSON (small, large, kept, streamed, gzipped)."""
    response = api.get(url, headers={"accept": accept, "accept-encoding": encoding})
    assert response.status_code == 200
    assert "accept" in _vary(response)
    assert len(_vary(response)) == len(set(_vary(response)))


def test_a_body_too_small_to_gzip_does_not_vary_on_it(api: TestClient) -> None:
    identity = {"accept-encoding": "identity"}
    assert "accept-encoding" not in _vary(api.get("/health", headers=identity))
    not_found = api.get("/branches/999999", headers=identity)
    assert not_found.status_code == 404 and "accept-encoding" not in _vary(not_found)


def test_small_bodies_are_not_gzipped(api: TestClient) -> None:
    response = api.get("/health", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    "url",
    ["/branches?limit=3", "/branches/1", "/localities/1/stats", "/risk/summary", "/sources/1"],
)
def test_etag_and_304(api: TestClient, url: str) -> None:
    first = api.get(url)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert api.get(url).headers["etag"] == etag  # stable
    # "*" matches any current representation (RFC 9110 13.1.2).
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = api.get(url, headers={"if-none-match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
    assert api.get(url, headers={"if-none-match": '"other"'}).status_code == 200


@pytest.mark.parametrize("url", ["/branches?limit=50", "/branches/1", "/sources/1/text"])
def test_each_encoding_is_a_representation_with_its_own_etag(api: TestClient, url: str) -> None:
    """RFC 9110 8.8.3: a strong tag names one representation's bytes, and the gzip and
    the plain body are two. A client holding either is sent a 304 naming the one it holds
    (the stored response a cache refreshes, RFC 9111 4.3.4), whatever it asks for now."""
    plain = api.get(url, headers={"accept-encoding": "identity"})
    zipped = api.get(url, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] == gzip_etag(plain.headers["etag"]) != plain.headers["etag"]
    for held in (plain.headers["etag"], zipped.headers["etag"]):
        for encoding in ("identity", "gzip"):
            again = api.get(url, headers={"accept-encoding": encoding, "if-none-match": held})
            assert again.status_code == 304, (held, encoding)
            assert again.headers["etag"] == held
            assert "accept-encoding" in _vary(again)
            assert len(_vary(again)) == len(set(_vary(again)))
    star = api.get(url, headers={"accept-encoding": "gzip", "if-none-match": "*"})
    assert star.status_code == 304 and star.headers["etag"] == zipped.headers["etag"]
    # Holding both, the client is told of the one it asks for.
    both = f"{plain.headers['etag']}, {zipped.headers['etag']}"
    for encoding, response in (("identity", plain), ("gzip", zipped)):
        again = api.get(url, headers={"accept-encoding": encoding, "if-none-match": both})
        assert again.status_code == 304 and again.headers["etag"] == response.headers["etag"]


def test_a_body_too_small_to_gzip_has_one_tag(api: TestClient) -> None:
    """Never gzipped, it is never sent with the gzip tag, which then matches nothing."""
    small = api.get("/facts/1", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers
    tag = small.headers["etag"]
    assert api.get("/facts/1", headers={"if-none-match": gzip_etag(tag)}).status_code == 200
    assert api.get("/facts/1", headers={"if-none-match": tag}).status_code == 304


@pytest.mark.parametrize(
    "url", ["/facts/1", "/branches/1", "/branches?limit=50", "/membership-counts?format=csv"]
)
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_304_varies_as_its_200(api: TestClient, url: str, encoding: str) -> None:
    """RFC 9110 15.4.5: a cache copies a 304's headers onto the response it stored, which
    would lose its Vary: Accept-Encoding (gzip served to any client), or gain one."""
    full = api.get(url, headers={"accept-encoding": encoding})
    held = full.headers.get("etag", "*")  # a whole export sends none: "*" stands for it
    again = api.get(url, headers={"accept-encoding": encoding, "if-none-match": held})
    assert again.status_code == 304
    assert _vary(again) == _vary(full)


def test_a_list_field_sent_in_several_lines_is_one_list(api: TestClient) -> None:
    """RFC 9110 5.3: If-None-Match in two lines is the list of both, not the first."""
    url = "/branches/1"
    etag = api.get(url).headers["etag"]
    for lines in ([('"other"', etag)], [(etag, '"other"')]):
        sent = [("if-none-match", tag) for pair in lines for tag in pair]
        assert api.get(url, headers=sent).status_code == 304, sent


@pytest.mark.parametrize(
    ("url", "missing_filter"),
    [
        ("/branches?format=csv", "province=999999"),
        ("/membership-counts?format=ndjson", "source=999999"),
    ],
)
def test_a_streamed_export_is_not_modified_for_any_tag(
    api: TestClient, url: str, missing_filter: str
) -> None:
    """A stream sends no ETag: no tag matches it but "*", which any current answer does;
    a filter naming a missing record is still its 404."""
    assert "etag" not in api.get(url).headers
    held = api.get(url, headers={"if-none-match": "*"})
    assert held.status_code == 304 and held.content == b""
    assert api.get(url, headers={"if-none-match": '"other"'}).status_code == 200
    missing = api.get(f"{url}&{missing_filter}", headers={"if-none-match": "*"})
    assert missing.status_code == 404


def test_etag_differs_between_queries(api: TestClient) -> None:
    one = api.get("/branches?limit=1").headers["etag"]
    two = api.get("/branches?limit=2").headers["etag"]
    assert one != two


@pytest.mark.parametrize(
    "url",
    [
        "/branches?limit=2",
        "/branches/1",
        "/localities?format=csv&limit=2",
        "/sources?format=ndjson",
        "/sources/1/text",
        "/risk/rules",
    ],
)
def test_reads_carry_cache_control(api: TestClient, url: str) -> None:
    response = api.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    "url", ["/branches/99999999", "/branches?limt=1", "/facts?from=2023-02-30", "/nowhere"]
)
def test_errors_are_not_cached(api: TestClient, url: str) -> None:
    """404, 405 and 414 are cacheable by default (RFC 9110 15.1): a record missing now may
    be created the next minute."""
    response = api.get(url)
    assert response.status_code >= 400
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


@pytest.mark.parametrize("url", ["/health", "/ready"])
def test_probes_are_never_answered_by_a_cache(api: TestClient, url: str) -> None:
    assert api.get(url).headers["cache-control"] == "no-store"


def test_a_trailing_slash_is_not_a_redirect_built_from_the_host(api: TestClient) -> None:
    """A resource has one URL; Starlette answered /branches/ with a 307 to an absolute URL
    made of the Host header the client sent."""
    response = api.get("/branches/", headers={"host": "evil.example"}, follow_redirects=False)
    problem = _assert_clean_problem(response, 404)
    assert "location" not in response.headers
    assert problem["instance"] == "/branches/"


@pytest.mark.parametrize(
    "url",
    [
        "/branches?sort=relevance",  # a rule of the service's, no more precise code
        "/localities?sort=relevance",
        "/branches?limit=0",  # a rule of the parameter's, its own code
        "/facts?from=2023-02-30",
    ],
)
def test_every_error_of_a_problem_has_its_type(api: TestClient, url: str) -> None:
    """From an integrator's audit: the errors a service raised named their field and said
    why, with no `type`, which a client tells errors apart by (the document said it
    might be missing). Each has one; `invalid` where none more precise is given."""
    problem = api.get(url).json()
    assert problem["status"] in (400, 422) and problem["errors"], problem
    assert all(isinstance(e.get("type"), str) and e["type"] for e in problem["errors"])


def test_a_problems_instance_is_a_uri_reference(api: TestClient) -> None:
    """RFC 9457 3.1.5: the decoded path held a space, "%" and non-ASCII letters."""
    problem = _assert_clean_problem(api.get("/no%20such/%25/%C3%BC"), 404)
    assert problem["instance"] == "/no%20such/%25/%C3%BC"
    # Encoded once: Starlette's request.url.path has "?" escaped already.
    problem = _assert_clean_problem(api.get("/no/a%3Fb"), 404)
    assert problem["instance"] == "/no/a%3Fb"


# -- Error bodies -------------------------------------------------------------------------
LEAKS = ("Traceback", 'File "', "SELECT ", "FROM ", "sqlalchemy", "psycopg", "sqlite3", "/work/")


def _assert_clean_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    for leak in LEAKS:
        assert leak not in response.text, leak
    problem: dict[str, Any] = json.loads(response.text)
    assert problem["status"] == status and problem["detail"]
    # RFC 9110's phrase (RFC 9457 4.2.1): "Content Too Large", not RFC 7231's "Request
    # Entity Too Large", which Python's http module still gives.
    assert problem["title"] == RFC_9110_TITLES.get(status, HTTPStatus(status).phrase)
    assert response.headers["cache-control"] == "no-store"
    return problem


RFC_9110_TITLES = {413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [pytest.param(*row[1:], id=row[0]) for row in RESPONSES if row[4] >= 400],
)
def test_errors_never_show_a_traceback_or_sql(
    api: TestClient, method: str, url: str, headers: dict[str, str], status: int
) -> None:
    _assert_clean_problem(_send(api, method, url, headers), status)


def test_an_unexpected_error_is_a_bare_500(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> str:
        raise RuntimeError('Traceback (most recent call last): File "x" SELECT secret FROM keys')

    monkeypatch.setattr(sources_service, "source_text", broken)
    response = api.get("/sources/1/text", headers={"origin": ORIGIN})
    problem = _assert_clean_problem(response, 500)
    assert problem["detail"] == "An unexpected error occurred."
    # Readable by a browser's fetch(), and as guarded as every other answer: Starlette
    # answered it outside the app's middleware, with neither (from an HTTP audit).
    assert response.headers["access-control-allow-origin"] == "*"
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name


def test_a_database_error_is_a_503_without_its_sql(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_args: object) -> str:
        raise OperationalError("SELECT text FROM sources WHERE id = 1", {}, Exception("refused"))

    monkeypatch.setattr(sources_service, "source_text", unavailable)
    response = api.get("/sources/1/text")
    _assert_clean_problem(response, 503)
    assert response.headers["retry-after"] == "1"


def test_a_405_allows_every_method_the_path_answers(api: TestClient) -> None:
    """Starlette's own 405 named the first route that matched (Allow: GET on an item
    that PATCH and DELETE change too): Allow lists what the OpenAPI lists for the path."""
    for path, operations in openapi_document()["paths"].items():
        allowed = {method.upper() for method in operations} | {"OPTIONS"}
        if "GET" in allowed:
            allowed.add("HEAD")
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        response = api.put(url)  # no route of the API takes PUT
        assert response.status_code == 405, url
        assert response.headers["allow"].split(", ") == sorted(allowed), url
        assert response.json()["detail"].startswith("PUT is not allowed here"), url
        # Asked without a preflight's headers, OPTIONS answers the same list.
        options = api.options(url)
        assert options.status_code == 204 and options.headers["allow"] == response.headers["allow"]
    # The docs' assets are served by a mount, whose routes say no methods: Starlette's.
    asset = api.post("/docs/assets/swagger-ui.css")
    assert asset.status_code == 405 and "GET" in asset.headers["allow"].split(", ")
