"""Keyset pages of CSV lines written by the database (app.services.csv_sql).

The same pages as app.services.listing.fetch_page, read as the driver gives them. A line
needs no processing, and a SQLAlchemy Row per row cost ~1 µs of the ~10 µs a row an
export may spend at 100,000 rows a second, most of it in the garbage collector: a Row is
a container it tracks, and 5,000 of them a batch, alive until the batch is written,
reached the oldest generation and made it walk the whole heap every few batches (the
driver's tuples of plain values are untracked at their first collection).

On PostgreSQL, `copy_lines` has COPY write the CSV: measured on the national export,
~4 µs a row of the server's time against ~7 for the SELECT of whole lines.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import TextClause

from app.reader import Reader
from app.services.csv_sql import ISO_DAYS
from app.services.gathered import KeptRankings, gather, gathers
from app.services.listing import ListQuery, Page, page_statement, walk
from app.services.pagination import PageRequest, decode_cursor, encode_cursor


def _iso_days() -> TextClause:
    return ISO_DAYS


def _days_as_iso(reader: Reader) -> None:
    """PostgreSQL writes days in the session's DateStyle. The app's connections start
    in ISO (app.db); a session's transaction may have set another, for itself only."""
    if not reader.sqlite and reader.in_transaction:
        reader.rows(_iso_days)


def _values(
    listing: ListQuery, params: Mapping[str, Any], page: PageRequest, secret: bytes
) -> dict[str, Any]:
    values = {**params, "_limit": page.limit + 1}
    if page.cursor:
        resumed_after = decode_cursor(page.cursor, listing.keys, page, secret)
        values.update({f"_after{i}": value for i, value in enumerate(resumed_after)})
    return values


def fetch_lines(
    reader: Reader,
    listing: ListQuery,
    params: Mapping[str, Any],
    page: PageRequest,
    secret: bytes,
    *,
    versioned: bool = False,
    rankings: KeptRankings | None = None,
) -> Page:
    """One keyset page of a list whose query selects one column, each row's CSV line:
    the items are the lines (bytes or str, as the database gives them), in the list's
    order. Not counted: CSV shows no total. With `versioned`, the page says which data
    version it read, and with `rankings` a gathered list's ranking may be a kept one (as
    listing.fetch_page does)."""
    _days_as_iso(reader)
    values = _values(listing, params, page, secret)
    if gathers(reader, listing, values, rankings):
        rows, _, version = gather(
            reader, listing, values, bool(page.cursor),
            versioned=versioned, rankings=rankings,
        )  # fmt: skip
    else:
        if listing.late is not None and listing.late.walked:
            rows = []
            for found in walk(reader, listing, values, bool(page.cursor), versioned):
                rows += found
                if len(rows) > page.limit:
                    break
        else:
            prepared = reader.prepared(page_statement, listing, bool(page.cursor), False, versioned)
            rows = reader.run(prepared, values)
        version = rows[0][1] if versioned and rows else None
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    # A date key is SQLite's ISO text or a date: encode_cursor writes both the same way.
    keys = list(rows[-1][1 + versioned :]) if more and rows else None
    next_cursor = encode_cursor(keys, page, secret) if keys is not None else None
    return Page([row[0] for row in rows], next_cursor, None, page.limit, version)


def copy_lines(
    reader: Reader,
    listing: ListQuery,
    params: Mapping[str, Any],
    page: PageRequest,
    secret: bytes,
) -> Page:
    """fetch_lines on PostgreSQL, by COPY (...) TO STDOUT (FORMAT csv): the server quotes
    every field in C, where the SQL of a line tests each text field with four function
    calls. The list's query selects CsvSql.copy_cells.

    The sort keys ride at the end of each row (numbers and days: never quoted, never
    empty) and are cut off here. The items are one chunk of bytes: the page's lines.
    """
    keys = listing.keys
    if any(key.kind not in (int, date) for key in keys):
        raise ValueError("COPY pages need sort keys written without quotes (int, date)")
    _days_as_iso(reader)
    prepared = reader.prepared(page_statement, listing, bool(page.cursor), False)
    lines: list[bytes] = []
    rows = 0
    last, last_end = b"", 0
    # Every row is read (a COPY cut short leaves the connection busy); the one past the
    # page only says that there is more.
    for block in reader.copy_csv(prepared, _values(listing, params, page, secret)):
        rows += 1
        if rows > page.limit:
            continue
        row = bytes(block)  # one row, LF-terminated, as PostgreSQL writes CSV
        end = len(row) - 1
        for _ in keys:
            end = row.rfind(b",", 0, end)
        lines.append(row[:end])
        last, last_end = row, end
    next_cursor = None
    if rows > page.limit:
        fields = last[last_end + 1 : -1].split(b",")
        values = [
            int(f) if k.kind is int else f.decode() for f, k in zip(fields, keys, strict=True)
        ]
        next_cursor = encode_cursor(values, page, secret)
    items = [b"\r\n".join(lines) + b"\r\n"] if lines else []
    return Page(items, next_cursor, None, page.limit)
