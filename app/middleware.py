"""HTTP concerns around every request: CORS, compression, security headers, size limits."""

import logging
import re
from typing import Any, NamedTuple

import orjson
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.compression import LEVEL, MINIMUM_SIZE, accepts_gzip, gzip_stream
from app.errors import (
    PROBLEM_CACHE_CONTROL,
    PROBLEM_JSON,
    UNEXPECTED_ERROR,
    DataChangedDuringExport,
    FieldError,
    problem_body,
)
from app.log_config import SERVICE_LOGGER
from app.media_types import is_json, parse_content_type, utf_8_only
from app.services.json_sql import gzip_etag

log = logging.getLogger(SERVICE_LOGGER)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
# The interactive docs load their own scripts and styles (served under DOCS_ASSETS).
DOCS_PAGE, REDOC_PAGE, DOCS_ASSETS = "/docs", "/redoc", "/docs/assets"
OPENAPI_DOCUMENT = "/openapi.json"
DOCS_PATHS = (DOCS_PAGE, REDOC_PAGE, OPENAPI_DOCUMENT)
# Reads are open to every origin, never with credentials (install_middleware).
ANY_ORIGIN = b"*"
# A `next` link of the longest cursor beside the longest q (200 letters of 4 bytes,
# percent-encoded) and every filter fits; within the 8 KB request line of nginx's buffers.
MAX_QUERY_BYTES = 6144
MAX_BODY_BYTES = 2_000_000
# The writes whose body is JSON: POST to a collection, PATCH to one of its items (an
# import's may be YAML: app.api.imports answers its own 415). With any other
# Content-Type, or none, FastAPI read no JSON and answered a 422 about the body.
IMPORTS_PATH = "/imports"  # a write whose body may be YAML (app.api.imports)
JSON_WRITES = re.compile(
    r"^/(?:sources|localities|branches|membership-counts|admissions|facts)(?P<item>/[^/]+)?$"
)


class GuardMiddleware:
    """Security headers on every response; 414 for oversized query strings; 413 for
    oversized bodies (checked on Content-Length and while reading)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            await _problem(
                send, 414, f"The query string is longer than {MAX_QUERY_BYTES} bytes.", scope
            )
            return
        if b"%2f" in scope.get("raw_path", b"").lower():
            # Routing reads the decoded path, where "%2F" is a "/": /branches%2F5 served
            # branch 5 under a URL of its own (a resource has one URL).
            detail = "No resource here: a path's slashes are sent as they are, not as %2F."
            await _problem(send, 404, detail, scope)
            return
        scope = _list_fields_combined(scope)
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _problem(
                send, 413, BodyTooLarge.detail_text, scope, "body", error_type="too_large"
            )
            return
        unsupported = _unsupported_body(scope, headers)
        if unsupported is not None:
            await _problem(send, 415, unsupported.detail, scope, **unsupported.problem)
            return
        docs = scope["path"].startswith(DOCS_PATHS)
        # HEAD is GET without the body (RFC 9110 9.3.2; CORS allows it), but the routes
        # declare GET only, so HEAD was a 405: serve it as a GET and drop the body.
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        received = 0
        json_write = _is_json_write(scope)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            chunk = message.get("body", b"")
            if json_write and received == 0 and _not_utf8_json(chunk):
                # FastAPI answers what fails in reading a body as its unreadable-body 400.
                raise UnicodeError("a JSON write's body in UTF-16 or UTF-32")
            received += len(chunk)
            if received > MAX_BODY_BYTES:
                raise BodyTooLarge
            return message

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = [
                    h for h in SECURITY_HEADERS if not (docs and h[0] == b"content-security-policy")
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            elif head and message["type"] == "http.response.body":
                # The headers are sent: end the response here. Dropping the body's bytes
                # one by one ran a whole export (52 MB of CSV at scale 0.05, a second's
                # CPU) before the connection could take its next request.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                raise _HeadSent
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _HeadSent:
            return
        except DataChangedDuringExport as exc:
            # Not a fault: said in one line, and the response left without its end, which
            # the server closes the connection on (a traceback would say a fault).
            log.warning("%s", exc)
            if not started:
                await _problem(send, 503, str(exc), scope, headers=[(b"retry-after", b"1")])
        except BodyTooLarge:  # raised where no handler of the app's answered it
            await _problem(
                send, 413, BodyTooLarge.detail_text, scope, "body", error_type="too_large"
            )
        except Exception:
            if started:  # a stream cut part way: its status is sent, only the server logs it
                raise
            # Starlette answers an unhandled error outside every middleware of the app's,
            # without CORS's header: a browser's fetch() saw a network error, not the
            # problem. Answered here; raised on for the server to log, as Starlette does.
            await _problem(send, 500, UNEXPECTED_ERROR, scope)
            raise


# Fields that are lists: sent in several lines, they are one list (RFC 9110 5.3), where a
# read of one header takes one line alone (the first, or in a dict the last).
LIST_FIELDS = (b"content-encoding", b"if-match", b"if-none-match")


def _list_fields_combined(scope: Scope) -> Scope:
    raw = scope.get("headers", [])
    names = [name for name, _ in raw if name in LIST_FIELDS]
    if len(names) == len(set(names)):
        return scope
    headers = [(name, value) for name, value in raw if name not in LIST_FIELDS]
    for field in dict.fromkeys(names):
        headers.append((field, b", ".join(value for name, value in raw if name == field)))
    return {**scope, "headers": headers}


class _HeadSent(Exception):
    """A HEAD's response is complete: the app that would write its body is stopped."""


class BodyTooLarge(HTTPException):
    """A body read past MAX_BODY_BYTES (one sent in chunks, without a Content-Length).

    An HTTP exception, so that the app's handler answers it: FastAPI reads a JSON body
    inside `except Exception`, which made any other a 400 "error parsing the body"."""

    detail_text = f"The body is larger than {MAX_BODY_BYTES} bytes."

    def __init__(self) -> None:
        super().__init__(413, self.detail_text)


def _is_json_write(scope: Scope) -> bool:
    if scope["method"] not in ("POST", "PATCH"):  # every read: no pattern matched
        return False
    write = JSON_WRITES.match(scope["path"])
    return write is not None and scope["method"] == ("PATCH" if write["item"] else "POST")


def _not_utf8_json(start: bytes) -> bool:
    """A JSON text begins with an ASCII character: in UTF-16 or UTF-32 a NUL byte comes
    within its first four, or their byte order mark. Python's JSON reader took either
    (RFC 8259: JSON between systems is UTF-8; the README says so of every write)."""
    return start[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in start[:4]


class _Unsupported(NamedTuple):
    detail: str
    problem: dict[str, Any]  # _problem's field, headers and error_type


def _unsupported_body(scope: Scope, headers: dict[bytes, bytes]) -> _Unsupported | None:
    """A 415's reason: a write's body in a coding (RFC 9110 15.5.16: with the codings
    that would have been taken), or a JSON write's body not said to be JSON."""
    if _encoded_write(scope, headers.get(b"content-encoding", b"")):
        return _Unsupported(
            "A write's body is sent as it is: no Content-Encoding.",
            {
                "field": "header.content-encoding",
                "headers": [(b"accept-encoding", b"identity")],
                "error_type": "content_coding",
            },
        )
    if _not_json_for_a_json_write(scope, headers.get(b"content-type", b"")):
        return _Unsupported(
            "The body of this write is JSON: send Content-Type: application/json (in UTF-8).",
            {"field": "header.content-type"},
        )
    return None


def _encoded_write(scope: Scope, content_encoding: bytes) -> bool:
    """A write's body in gzip (or any coding) was read as it came: a 400 about its bytes,
    or, sent plain under the header, taken. None is decoded here. (Another path or method
    is answered as it would be: 404, 405.)"""
    is_import = scope["method"] == "POST" and scope["path"] == IMPORTS_PATH
    if not (is_import or _is_json_write(scope)):
        return False
    codings = {c.strip().lower() for c in content_encoding.split(b",")} - {b"", b"identity"}
    return bool(codings)


def _not_json_for_a_json_write(scope: Scope, content_type: bytes) -> bool:
    if not _is_json_write(scope):
        return False
    media, charsets = parse_content_type(content_type.decode("latin-1"))
    return not is_json(media) or not utf_8_only(charsets)


async def _problem(
    send: Send,
    status: int,
    detail: str,
    scope: Scope,
    field: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    error_type: str = "media_type",
) -> None:
    errors = [FieldError(field=field, message=detail, type=error_type)] if field else None
    body = orjson.dumps(problem_body(status, detail, path=scope.get("path", ""), errors=errors))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", PROBLEM_CACHE_CONTROL.encode()),
                # Answered before CORS runs: without its header a browser's fetch() sees
                # an opaque network error, not this problem.
                (b"access-control-allow-origin", ANY_ORIGIN),
                *SECURITY_HEADERS,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ZlibNgResponder(GZipResponder):
    """Starlette's gzip responder, its deflate done by zlib-ng (app.compression); a
    response it compresses names the gzip encoding's ETag (a write's answer: a read's
    arrives compressed and tagged by app.api.responses)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_gzip_etag(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.content_encoding_set:
                message["headers"] = _gzip_etag_if_compressed(message["headers"])
            await send(message)

        await super().__call__(scope, receive, send_with_gzip_etag)

    @property
    def compressor(self) -> Any:
        if self._compressor is None:
            self._compressor = gzip_stream(self.compresslevel)
        return self._compressor


class ZlibNgGZipMiddleware(GZipMiddleware):
    """Starlette's GZipMiddleware with zlib-ng's deflate (app.compression). A kept answer
    arrives compressed already (app.api.responses) and passes through, as any response
    with a Content-Encoding does.

    To a client that does not take gzip the response goes as it is, saying
    `Vary: Accept-Encoding` where it would have been compressed for one that does (as
    Starlette's IdentityResponder says it), told by its start's headers: the responder
    held each start back until the first body and parsed its headers twice, 9 µs of the
    46 µs of a request to /health in process."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if accepts_gzip(Headers(scope=scope)):
            responder = ZlibNgResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
            await responder(scope, receive, send)
            return

        async def send_saying_vary(message: Message) -> None:
            if message["type"] == "http.response.start" and self._would_compress(message):
                message["headers"] = _with_vary(message.get("headers", []), b"Accept-Encoding")
            await send(message)

        await self.app(scope, receive, send_saying_vary)

    def _would_compress(self, start: Message) -> bool:
        """Whether ZlibNgResponder compresses the response this starts: not one already
        encoded, partial, of an excluded type, or with a body shorter than minimum_size
        (one without a Content-Length is streamed: compressed whatever its length)."""
        if start["status"] in (204, 206, 304):  # no body, or a part of one
            return False
        length: int | None = None
        media_type = ""
        for name, value in start.get("headers", []):
            if name == b"content-encoding":
                return False
            if name == b"content-length":
                length = int(value)
            elif name == b"content-type":
                media_type = value.decode("latin-1").partition(";")[0].strip().lower()
        if length is not None and length < self.minimum_size:
            return False
        media_types = {media_type, media_type.partition("/")[0] + "/*"}
        return media_types.isdisjoint(self.exclude_content_types)


def _gzip_etag_if_compressed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    if not any(name == b"content-encoding" for name, _ in headers):
        return headers
    return [
        (name, gzip_etag(value.decode("latin-1")).encode("latin-1") if name == b"etag" else value)
        for name, value in headers
    ]


def _with_vary(headers: list[tuple[bytes, bytes]], field: bytes) -> list[tuple[bytes, bytes]]:
    """The headers with `field` added to Vary unless it is there (its values joined, as
    Starlette's MutableHeaders.add_vary_header joins them)."""
    vary = [value for name, value in headers if name == b"vary"]
    if not vary:
        return [*headers, (b"vary", field)]
    if field.lower() in {v.strip().lower() for value in vary for v in value.split(b",")}:
        return headers
    others = [(name, value) for name, value in headers if name != b"vary"]
    return [*others, (b"vary", b", ".join([*vary, field]))]


# What each refusal of Starlette's preflight is about: the request header that asked it.
PREFLIGHT_FIELDS = {
    "origin": "header.origin",
    "method": "header.access-control-request-method",
    "headers": "header.access-control-request-headers",
    "private-network": "header.access-control-request-private-network",
}


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, a preflight it refuses (a method no route takes) answered as
    every error is, problem+json naming the header, not its text/plain line."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        failures = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        detail = f"This preflight asks for what CORS here does not allow: {', '.join(failures)}."
        errors = [
            FieldError(
                field=PREFLIGHT_FIELDS.get(failure, "header"), message="not allowed", type="cors"
            )
            for failure in failures
        ]
        # Starlette hands this method the headers only: no path for `instance`.
        problem = problem_body(400, detail, path=None, errors=errors)
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        headers["Cache-Control"] = PROBLEM_CACHE_CONTROL
        return Response(orjson.dumps(problem), 400, headers, media_type=PROBLEM_JSON)


def install_middleware(app: FastAPI) -> None:
    # Starlette runs the last added first: guard, then CORS, then gzip.
    app.add_middleware(ZlibNgGZipMiddleware, minimum_size=MINIMUM_SIZE, compresslevel=LEVEL)
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=[ANY_ORIGIN.decode()],
        # Editors' browser apps send Bearer keys; never cookies (no credentials).
        allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PATCH", "DELETE"],
        allow_headers=["*"],
        allow_credentials=False,
        expose_headers=[
            "Allow",  # a 405's, and OPTIONS's
            "Content-Disposition",  # a CSV's file name
            "ETag",
            "Link",
            "Location",
            "Retry-After",
            "WWW-Authenticate",
            "Idempotent-Replayed",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        ],
        max_age=600,
    )
    app.add_middleware(GuardMiddleware)
