"""Keyset pagination: a stable order on a unique key, opaque signed cursors.

A cursor carries the sort values of the last row, the sort name and a digest of the
filters, signed with HMAC: a cursor forged, truncated, or replayed with other filters or
another sort is refused with a 400 rather than returning a wrong page.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, or_, tuple_

from app.errors import bad_request


@dataclass(frozen=True)
class SortKey:
    """One column of an order; `kind` is the Python type its cursor value must have.

    `same_as`: a column equal to this one in every row (the other side of a join). The
    keyset condition is stated on both, so that the database bounds both index scans:
    PostgreSQL's generic plan of a page at risk otherwise merge-joined every branch
    before the cursor (a page 590 deep at scale 1.0: 0.3 -> 50 ms).
    """

    column: ColumnElement[Any]
    kind: type
    descending: bool = False
    same_as: ColumnElement[Any] | None = None

    def beyond(self, value: Any) -> ColumnElement[bool]:
        """Strictly after `value` in this key's direction."""
        columns = [self.column] if self.same_as is None else [self.column, self.same_as]
        return and_(*(c < value if self.descending else c > value for c in columns))


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None
    sort: str
    filters_digest: str


def filters_digest(params: Sequence[tuple[str, str]]) -> str:
    """A digest of the query parameters that choose rows (not the page or format ones)."""
    ignored = {"cursor", "limit", "format", "bom"}
    kept = sorted((k, v) for k, v in params if k not in ignored)
    return hashlib.sha256(orjson.dumps(kept)).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    # validate: characters outside the alphabet are an error, not silently skipped.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


# What a cursor's values are of. Raised when a sort comes to read other values under
# the same name: 2 since migration 0019 (a name's position is its name_order, where
# cursors of before held its name_lower, which would be compared with name_order and
# silently end a walk).
CURSOR_VALUES = 2
# Sorts whose values changed apart from the others': a relevance rank is one of four since
# whole words rank first (it was exact diacritics or not, 0 or 1, which a walk would now
# read as ranks of other rows); a place's name_order is of its name first since
# migration 0026 (it was of the name with its kind word).
SORT_VALUES = {"relevance": 3, "name": 3}


def _values_version(sort: str) -> int:
    return SORT_VALUES.get(sort.lstrip("-"), CURSOR_VALUES)


# The longest cursor a list makes: a relevance page's name_lower (600 characters, up to 4
# bytes each in UTF-8) or a name page's name_order (2,000), signed, in base64. Lists
# accept as long a cursor, and a query string of it beside the longest q
# (app.middleware.MAX_QUERY_BYTES): they accepted 1,000, and a page of a long-named
# group or place gave a `next` its own list refused (from an integrator's audit).
CURSOR_MAX_LENGTH = 3600


def encode_cursor(values: list[Any], page: PageRequest, secret: bytes) -> str:
    payload = orjson.dumps(
        {
            "v": [v.isoformat() if isinstance(v, date) else v for v in values],
            "s": page.sort,
            "f": page.filters_digest,
            "k": _values_version(page.sort),
        }
    )
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    return f"{_b64(payload)}.{_b64(signature)}"


def decode_cursor(
    token: str, keys: Sequence[SortKey], page: PageRequest, secret: bytes
) -> list[Any]:
    """The sort values in a cursor; a 400 naming `query.cursor` if it is not ours."""
    error = bad_request("query.cursor", "not a valid cursor for this query; start again without it")
    try:
        payload_part, signature_part = token.split(".", 1)
        payload, signature = _unb64(payload_part), _unb64(signature_part)
    except (ValueError, binascii.Error):
        raise error from None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    if not hmac.compare_digest(signature, expected):
        raise error
    # Signed by the secret, which is public until it is set (CURSOR_SECRET): what follows
    # takes a forged payload as it takes any other input.
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise error from None
    if not isinstance(data, dict):
        raise error
    if data.get("k") != _values_version(page.sort):
        raise bad_request(
            "query.cursor", "this cursor is of an earlier version of the service; start again"
        )
    if data.get("s") != page.sort or data.get("f") != page.filters_digest:
        raise bad_request("query.cursor", "this cursor belongs to another sort or other filters")
    values = data.get("v")
    if not isinstance(values, list) or len(values) != len(keys):
        raise error
    typed: list[Any] = []
    for value, key in zip(values, keys, strict=True):
        if key.kind is date and isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise error from None
        if key.kind is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, key.kind) or isinstance(value, bool):
            raise error
        if isinstance(value, int) and not -(2**31) <= value < 2**31:
            raise error  # each is of an INTEGER column (32 bits on PostgreSQL, which refuses more)
        typed.append(value)
    return typed


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order given by `keys` (keyset condition).

    Keys all in one direction compare as a row value, `(name, id) > (?, ?)`, which both
    databases read as one range of an index in that order; spelled out with OR, SQLite
    read two ranges and sorted their union (a page of villages by name).
    """
    if len(keys) > 1 and all(
        k.descending == keys[0].descending and k.same_as is None for k in keys
    ):
        row, bound = tuple_(*(k.column for k in keys)), tuple_(*values)
        return row < bound if keys[0].descending else row > bound
    clauses = []
    for index, key in enumerate(keys):
        equal_prefix = [keys[i].column == values[i] for i in range(index)]
        clauses.append(and_(*equal_prefix, key.beyond(values[index])))
    return or_(*clauses)


def order_by(keys: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    return [k.column.desc() if k.descending else k.column.asc() for k in keys]
