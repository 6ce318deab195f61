"""CSV and NDJSON rendering: nested rows flattened to stable, explicit columns."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson

UTF8_BOM = "\ufeff"


def _dig(row: dict[str, Any], parts: tuple[str, ...]) -> Any:
    """The value at a dotted path, split ('latest_count', 'source', 'title'); None when
    absent."""
    value: Any = row
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell(value: Any) -> str:
    # The common kinds first: a CSV export calls this for every column of every row.
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return "; ".join(cell(v) for v in value)
        return orjson.dumps(value).decode()
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def csv_header(columns: Sequence[str]) -> list[str]:
    return [c.replace(".", "_") for c in columns]


CSV_CHUNK_ROWS = 500


def csv_lines(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], *, bom: bool = False
) -> Iterator[str]:
    """CSV text in chunks: a header, then up to CSV_CHUNK_ROWS rows a chunk (RFC 4180,
    CRLF line ends)."""
    return csv_cells(row_cells(rows, columns), columns, bom=bom)


def row_cells(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[list[str]]:
    """Nested rows as their cells in the columns' order (dotted paths, as in
    'latest_count.source.title')."""
    paths = [tuple(c.split(".")) for c in columns]
    return ([cell(_dig(row, p)) for p in paths] for row in rows)


def csv_cells(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], *, bom: bool = False
) -> Iterator[str]:
    """The CSV of rows already flattened to cells, in the columns' order (csv_lines
    flattens its rows to them)."""
    yield _header(columns, bom)
    writer = _Writer()
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CSV_CHUNK_ROWS:
            yield writer.written(chunk)
            chunk = []
    if chunk:
        yield writer.written(chunk)


def csv_batches(
    batches: Iterable[Sequence[Any]], columns: Sequence[str], *, bom: bool = False
) -> Iterator[str | bytes]:
    """CSV in chunks: a header, then a chunk a batch (at most CSV_CHUNK_ROWS rows a
    chunk for rows of cells).

    A batch holds rows of cells in the columns' order, or whole lines (CRLF included)
    that the database wrote as this writer would (app.services.csv_sql): str, or UTF-8
    bytes, joined as they are, without a call per row.
    """
    yield _header(columns, bom)
    writer = _Writer()
    for batch in batches:
        if not batch:
            continue
        if isinstance(batch[0], bytes):
            yield b"".join(batch)
        elif isinstance(batch[0], str):
            yield "".join(batch)
        else:
            for start in range(0, len(batch), CSV_CHUNK_ROWS):
                yield writer.written(batch[start : start + CSV_CHUNK_ROWS])


def _header(columns: Sequence[str], bom: bool) -> str:
    return (UTF8_BOM if bom else "") + _Writer().written([csv_header(columns)])


class _Writer:
    """csv.writer's default dialect with CRLF line ends, writing into a reused buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def written(self, rows: Sequence[Sequence[Any]]) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerows(rows)
        return self.buffer.getvalue()


def ndjson_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"
