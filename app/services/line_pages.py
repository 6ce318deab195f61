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

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, CursorResult, Select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from app.services.csv_sql import ISO_DAYS
from app.services.listing import Page
from app.services.pagination import PageRequest, SortKey, apply_page, encode_cursor


def fetch_lines(
    session: Session,
    query: Select[Any],
    line: ColumnElement[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    secret: bytes,
) -> Page:
    """One keyset page of `query`'s rows as their CSV lines: the items are the lines
    (bytes or str, as the database gives them), in the order of `keys`. Not counted:
    CSV shows no total."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        connection.execute(ISO_DAYS)
    labelled = query.with_only_columns(
        line, *(k.column.label(f"_k{i}") for i, k in enumerate(keys))
    )
    # Core, on the session's connection, as app.services.listing.fetch_page.
    rows = _driver_rows(connection.execute(apply_page(labelled, keys, page, secret)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    # A date key is SQLite's ISO text or a date: encode_cursor writes both the same way.
    next_cursor = encode_cursor(list(rows[-1][1:]), page, secret) if more and rows else None
    return Page([row[0] for row in rows], next_cursor, None, page.limit)


def _driver_rows(result: CursorResult[Any]) -> list[Any]:
    """A result's rows as the driver's tuples, with the errors SQLAlchemy's own fetch
    raises: SQLite runs a statement as its rows are fetched, and a read cut by the time
    limit must stay an OperationalError (answered 503)."""
    dbapi_error = result.dialect.loaded_dbapi.Error
    try:
        return list(result.cursor.fetchall())
    except dbapi_error as error:
        raise DBAPIError.instance(None, None, error, dbapi_error) from error
    finally:
        result.close()


def copy_lines(
    session: Session,
    query: Select[Any],
    cells: Sequence[ColumnElement[Any]],
    keys: Sequence[SortKey],
    page: PageRequest,
    secret: bytes,
) -> Page:
    """fetch_lines on PostgreSQL, by COPY (...) TO STDOUT (FORMAT csv): the server quotes
    every field in C, where the SQL of a line tests each text field with four function
    calls. `cells` are CsvSql.copy_cells.

    The sort keys ride at the end of each row (numbers and days: never quoted, never
    empty) and are cut off here. The items are one chunk of bytes: the page's lines.
    """
    if any(key.kind not in (int, date) for key in keys):
        raise ValueError("COPY pages need sort keys written without quotes (int, date)")
    connection = session.connection()
    connection.execute(ISO_DAYS)
    labelled = query.with_only_columns(
        *cells, *(k.column.label(f"_k{i}") for i, k in enumerate(keys))
    )
    compiled = apply_page(labelled, keys, page, secret).compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    # COPY takes no parameters of its own: psycopg binds them into the statement.
    statement = f"COPY ({compiled}) TO STDOUT (FORMAT csv)"
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    lines: list[bytes] = []
    rows = 0
    last, last_end = b"", 0
    try:
        with driver.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:
            # Every row is read (a COPY cut short leaves the connection busy); the one
            # past the page only says that there is more.
            for block in copy:
                rows += 1
                if rows > page.limit:
                    continue
                row = bytes(block)  # one row, LF-terminated, as PostgreSQL writes CSV
                end = len(row) - 1
                for _ in keys:
                    end = row.rfind(b",", 0, end)
                lines.append(row[:end])
                last, last_end = row, end
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
    next_cursor = None
    if rows > page.limit:
        fields = last[last_end + 1 : -1].split(b",")
        values = [
            int(f) if k.kind is int else f.decode() for f, k in zip(fields, keys, strict=True)
        ]
        next_cursor = encode_cursor(values, page, secret)
    items = [b"\r\n".join(lines) + b"\r\n"] if lines else []
    return Page(items, next_cursor, None, page.limit)
