"""Building responses: answers and list pages with ETag and Link, kept until the data
changes; CSV and NDJSON exports that stream."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from itertools import chain
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from app.api.common import answers_of
from app.api.deps import ListParams
from app.compression import MINIMUM_SIZE, accepts_gzip
from app.errors import ApiError, DataChangedDuringExport
from app.formats import csv_batches, csv_lines, ndjson_lines
from app.reader import Reader
from app.services.answer_cache import Answer, kept
from app.services.data_version import data_version
from app.services.json_sql import as_plain, etag_of, gzip_etag
from app.services.listing import Page, PageFetcher
from app.services.references import Reference, require_references

CACHE_CONTROL = "public, max-age=60"
# A list's format may come from the Accept header: a shared cache must not hand the CSV
# it kept for one client to another that asked for JSON.
NEGOTIATED = {"Vary": "Accept"}
EXPORT_BATCH = 5000


def json_response(
    request: Request, data: Any, *, headers: dict[str, str] | None = None
) -> Response:
    """orjson-encoded JSON with a strong ETag; 304 when the client already has it."""
    return answer_response(request, Answer.of(data), headers=headers)


def answer_response(
    request: Request, answer: Answer, *, headers: dict[str, str] | None = None
) -> Response:
    """An encoded answer; 304 when the client already has it."""
    # Strong, so that writes can send it back in If-Match; the gzip encoding has its own.
    # A body too small to compress has one representation, one tag.
    compressible = len(answer.body) >= MINIMUM_SIZE
    gzipped = compressible and accepts_gzip(request.headers)
    sent = gzip_etag(answer.etag) if gzipped else answer.etag
    common = {
        "ETag": sent,
        "Cache-Control": CACHE_CONTROL,
        **dict(answer.headers),
        **(headers or {}),
    }
    if compressible:
        # Its 304 too says so (RFC 9110 15.4.5): the ETag it names depends on the encoding.
        common["Vary"] = ", ".join(filter(None, (common.get("Vary"), "Accept-Encoding")))
    held = _if_none_match(request)
    # Either encoding the client holds is still current: the 304 names the one it has (the
    # one it asks for when it holds both), the stored response a cache then refreshes (RFC
    # 9111 4.3.4). "*": any current representation (RFC 9110 13.1.2); every answer is one.
    other = (answer.etag if gzipped else gzip_etag(answer.etag)) if compressible else None
    matched = [tag for tag in (sent, other) if tag in held]
    if matched or "*" in held:
        return Response(status_code=304, headers={**common, "ETag": next(iter(matched), sent)})
    if gzipped:
        # Compressed here, once for a kept answer, rather than by the middleware on
        # every request.
        common["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type=answer.media_type, headers=common)
    return Response(answer.body, media_type=answer.media_type, headers=common)


def _if_none_match(request: Request) -> set[str]:
    raw = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


def next_url(request: Request, cursor: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    # The scope's path: request.url builds a whole URL object first.
    return f"{request.scope['path']}?{urlencode(params)}"


def page_body(request: Request, page: Page) -> dict[str, Any]:
    return {
        "items": page.items,
        "next": next_url(request, page.next_cursor) if page.next_cursor else None,
        "next_cursor": page.next_cursor,
        "total": page.total,
        "limit": page.limit,
    }


def list_response(
    request: Request,
    params: ListParams,
    engine: Engine,
    fetch: PageFetcher,
    columns: list[str],
    sort: str,
    filename: str,
    *,
    fetch_cells: PageFetcher | None = None,
    references: Callable[[], Sequence[Reference]] | None = None,
    export_batch: int | None = None,
) -> Response:
    """A JSON page, a CSV/NDJSON page, or a streamed CSV/NDJSON export of everything,
    `export_batch` items a batch (EXPORT_BATCH unless given).

    `fetch_cells`, when given, fetches the same rows as CSV lines of `columns`, written
    by the database (app.services.line_pages): CSV then skips building and flattening
    nested items. `references()`: the records the filters name, which an empty answer
    checks exist (app.services.references); asked only then.
    """
    flat = params.format == "csv" and fetch_cells is not None
    if fetch_cells is not None and flat:
        fetch = fetch_cells
    if params.streams_all:
        return _export(
            engine, fetch, params, columns, sort, filename, flat, references,
            export_batch or EXPORT_BATCH,
        )  # fmt: skip
    # A page is kept until the data changes, like a detail (app.services.answer_cache):
    # the page at risk and a province's first page are what every front end asks first,
    # a province's CSV page what a newsroom downloads again. The path and the query
    # string as sent make the page, its `next` and its Link; the format may come from the
    # Accept header; a place's "today" (the successors in force) depends on the day.
    scope = request.scope
    key = ("list", scope["path"], scope["query_string"], params.format, date.today())

    def make() -> Answer:
        page = fetch(reader, params.page(sort), True)
        if not page.items and references is not None:
            require_references(reader, references())
        if params.format == "json":
            document = page_body(request, page)  # its `next` is the Link's URL too
            return Answer.of(document, link_to_next(document["next"]))
        body = b"".join(_render(iter(page.items), params, columns, flat=flat))
        disposition = f'attachment; filename="{filename}.{params.format}"'
        headers = {**_link(request, page), "Content-Disposition": disposition}
        return Answer(body, etag_of(body), tuple(headers.items()), _media_type(params))

    with Reader.open(engine) as reader:
        answer = kept(reader, answers_of(request), key, make)
    return answer_response(request, answer, headers=NEGOTIATED)


def _link(request: Request, page: Page) -> dict[str, str]:
    return link_to_next(next_url(request, page.next_cursor) if page.next_cursor else None)


def link_to_next(url: str | None) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="next"'} if url else {}


def _media_type(params: ListParams) -> str:
    return "text/csv; charset=utf-8" if params.format == "csv" else "application/x-ndjson"


def _render(
    rows: Iterator[Any], params: ListParams, columns: list[str], *, flat: bool
) -> Iterator[bytes]:
    return _render_batches(iter([list(rows)]), params, columns, flat=flat)


def _render_batches(
    batches: Iterator[list[Any]], params: ListParams, columns: list[str], *, flat: bool
) -> Iterator[bytes]:
    """Batches of items as CSV or NDJSON bytes; CSV lines that the database wrote go out
    a batch at a time, without a call per row (app.formats.csv_batches)."""
    chunks: Iterator[str | bytes]
    if flat:
        chunks = csv_batches(batches, columns, bom=params.bom)
    elif params.format == "csv":
        chunks = csv_lines(map(as_plain, chain.from_iterable(batches)), columns, bom=params.bom)
    else:
        return ndjson_lines(map(as_plain, chain.from_iterable(batches)))
    return (chunk if isinstance(chunk, bytes) else chunk.encode("utf-8") for chunk in chunks)


def _export(
    engine: Engine,
    fetch: PageFetcher,
    params: ListParams,
    columns: list[str],
    sort: str,
    filename: str,
    flat: bool,
    references: Callable[[], Sequence[Reference]] | None,
    export_batch: int,
) -> Response:
    """Stream every row, a keyset batch at a time: memory stays flat however large."""
    first = params.page(sort)

    def batch(reader: Reader, cursor: str | None) -> Page:
        return fetch(
            reader, type(first)(export_batch, cursor, first.sort, first.filters_digest), False
        )

    # The first batch runs before the response starts, so that a bad cursor (400) or an
    # unavailable database (503) is still answered with a problem, not a cut stream.
    with Reader.open(engine) as reader:
        version, head = _first_batch(reader, lambda: batch(reader, first.cursor))
        if not head.items and references is not None:
            require_references(reader, references())
    # "*": any current representation (RFC 9110 13.1.2), which the filters, checked by the
    # first batch, have; a stream sends no ETag that another tag could match.
    if "*" in _if_none_match(params.request):
        # The Vary of the stream it stands for, which is gzipped to a client that asks.
        vary = {"Vary": NEGOTIATED["Vary"] + ", Accept-Encoding"}
        return Response(status_code=304, headers={"Cache-Control": CACHE_CONTROL, **vary})

    def batches() -> Iterator[list[Any]]:
        yield head.items
        cursor = head.next_cursor
        while cursor:
            # A read of its own per batch: no transaction stays open while the client
            # takes its time to read the stream. So each batch checks it read the first
            # one's data: one written between them could move a row from a batch not yet
            # read to one sent (under sort=name, a renamed branch came twice, or never).
            with Reader.open(engine) as reader:
                page = batch(reader, cursor)
                if data_version(reader) != version:
                    raise DataChangedDuringExport(params.request.url.path)
            yield page.items
            cursor = page.next_cursor

    chunks = _render_batches(batches(), params, columns, flat=flat)
    return StreamingResponse(
        _on_export_threads(chunks, params.request.app.state.export_threads),
        media_type=_media_type(params),
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.{params.format}"',
            "Cache-Control": CACHE_CONTROL,
            **NEGOTIATED,
        },
    )


# Times the first batch of an export is read again when a write came during its read.
FIRST_BATCH_TRIES = 3


def _first_batch(reader: Reader, read: Callable[[], Page]) -> tuple[int | None, Page]:
    """The first batch, and the data version it was read at (the version after the read,
    as on PostgreSQL a batch's statements each read the data as committed then: the same
    version before and after them means they read one state of it)."""
    for _ in range(FIRST_BATCH_TRIES):
        before = data_version(reader)
        page = read()
        if data_version(reader) == before:
            return before, page
    raise ApiError(
        503,
        "The data changed during each read of the export's first rows; ask again.",
        headers={"Retry-After": "1"},
    )


# Bytes of a stream made per hop to a thread: a batch's CSV, some 3,000 NDJSON lines.
STREAM_CHUNK = 1 << 20


async def _on_export_threads(
    chunks: Iterator[bytes], threads: ThreadPoolExecutor
) -> AsyncIterator[bytes]:
    """A stream's bytes, made on the export threads (app.main) a megabyte at a time.

    Starlette iterates a plain iterator on anyio's threads, where FastAPI also runs the
    writes: writes queued for the writer lock held them, and a whole export stalled until
    they gave up (2.8-5 s on PostgreSQL, 8 s on SQLite, from a concurrency audit). On the
    read threads, a few exports would hold the pages back instead. A hop per chunk also
    cost NDJSON, one chunk a line, a hop a line: 30 times CSV's time.
    """
    # Left early (the client gone), the batches are dropped with this generator: none is
    # read after the step running, and none holds a connection between steps.
    while chunk := await asyncio.wrap_future(threads.submit(_take, chunks, STREAM_CHUNK)):
        yield chunk


def _take(chunks: Iterator[bytes], size: int) -> bytes:
    """The next chunks, joined, up to `size` bytes or a little over; b"" at the end."""
    taken: list[bytes] = []
    length = 0
    for chunk in chunks:
        taken.append(chunk)
        length += len(chunk)
        if length >= size:
            break
    return b"".join(taken)
