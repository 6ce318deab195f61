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
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
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


def csv_lines(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], *, bom: bool = False
) -> Iterator[str]:
    """CSV text in chunks: a header, then rows (RFC 4180, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(columns))
    yield (UTF8_BOM if bom else "") + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(dig(row, c)) for c in columns])
        yield buffer.getvalue()


def ndjson_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"
