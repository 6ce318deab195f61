"""CSV and NDJSON rendering: nested rows flattened to stable, explicit columns."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson

UTF8_BOM = "\ufeff"


def dig(row: dict[str, Any], path: str) -> Any:
    """The value at a dotted path ('latest_count.source.title'); None when absent."""
    return _dig(row, tuple(path.split(".")))


def _dig(row: dict[str, Any], parts: tuple[str, ...]) -> Any:
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
    paths = [tuple(c.split(".")) for c in columns]
    flat = ([cell(_dig(row, p)) for p in paths] for row in rows)
    return csv_cells(flat, columns, bom=bom)


def csv_cells(
    rows: Iterable[Sequence[Any]], columns: Sequence[str], *, bom: bool = False
) -> Iterator[str]:
    """csv_lines for rows that are already cells in the columns' order (rendered by the
    database: app.services.json_sql.JsonSql.cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(columns))
    yield (UTF8_BOM if bom else "") + buffer.getvalue()
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CSV_CHUNK_ROWS:
            yield _written(buffer, writer, chunk)
            chunk = []
    if chunk:
        yield _written(buffer, writer, chunk)


def _written(buffer: io.StringIO, writer: Any, rows: Sequence[Sequence[Any]]) -> str:
    buffer.seek(0)
    buffer.truncate()
    writer.writerows(rows)
    return buffer.getvalue()


def ndjson_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"
