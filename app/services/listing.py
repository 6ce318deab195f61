"""The shape every list service returns, and the keyset fetch they share."""

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from app.reader import Reader, Row
from app.services.data_version import version_column
from app.services.json_sql import JsonText
from app.services.pagination import (
    PageRequest,
    SortKey,
    after,
    decode_cursor,
    encode_cursor,
    order_by,
)
from app.services.versioned_memo import VersionedMemo

# Counting is not free: exact up to this many rows, null beyond.
TOTAL_CAP = 1_000

# First pages' totals, by list statement and filter values, each with the data version it
# was counted at (fetch_page). Counting a thousand rows was most of what the database did
# for a first page: 0.10 against 0.25-0.30 ms on PostgreSQL at scale 1.0 for the page of
# branches at risk and a province's page, which a deep page (uncounted) shows too.
KeptCounts = VersionedMemo[Hashable, int | None]


@dataclass
class Page:
    items: list[Any]  # dicts, JsonText documents, or tuples of CSV cells
    next_cursor: str | None
    total: int | None
    limit: int
    # With fetch_page(versioned=True): the data version the page was read at (None when
    # it has no row to carry it).
    data_version: int | None = None


@dataclass(frozen=True, eq=False)
class ListQuery:
    """A list's rows in one shape of its filters: the rows, their order, and the rows
    to count (the same rows without the joins that only decorate them), or None.

    Built once per shape (its builder is cached) and compared by identity: it is the
    key of the page statements compiled from it (app.reader).
    """

    query: Select[Any]
    keys: tuple[SortKey, ...]
    count_query: Select[Any] | None = None


# Turns a page of rows into items (and may batch-load what they show): given the reader,
# the rows (the list query's columns first) and the names of the columns.
Render = Callable[[Reader, list[Row], Sequence[str]], list[Any]]


def documents(_reader: Reader, rows: list[Row], _columns: Sequence[str]) -> list[Any]:
    """Items rendered by the database: the first column is each item's JSON."""
    return [JsonText(row[0]) for row in rows]


def mapped(render: Callable[[Reader, list[dict[str, Any]]], list[Any]]) -> Render:
    """Items rendered in Python from each row as a dict of its columns."""

    def render_mapped(reader: Reader, rows: list[Row], columns: Sequence[str]) -> list[Any]:
        return render(reader, [dict(zip(columns, row, strict=True)) for row in rows])

    return render_mapped


class PageFetcher(Protocol):
    def __call__(self, reader: Reader, page: PageRequest, with_total: bool) -> Page: ...


def _capped_count(query: Select[Any]) -> ColumnElement[int]:
    """The number of rows of `query`, counted up to TOTAL_CAP + 1, as a scalar subquery."""
    return (
        select(func.count())
        .select_from(query.order_by(None).limit(TOTAL_CAP + 1).subquery())
        .scalar_subquery()
    )


def page_statement(
    listing: ListQuery, resumed: bool, counting: bool, versioned: bool = False
) -> Select[Any]:
    """One keyset page of a list: ordered, after the cursor's values (`_after<i>`) when
    `resumed`, `_limit` rows; the sort keys last, before them the capped count, and
    before that, when `versioned`, the data version the page was read at."""
    keys = listing.keys
    query = listing.query
    if versioned:
        query = query.add_columns(version_column().label("_version"))
    if counting:
        # In the page's own statement, as a column that does not depend on the row: the
        # database counts once (an uncorrelated subquery), and the page costs one
        # statement, not two.
        counted = listing.count_query if listing.count_query is not None else query
        query = query.add_columns(_capped_count(counted).label("_total"))
    query = query.add_columns(*(k.column.label(f"_k{i}") for i, k in enumerate(keys)))
    if resumed:
        query = query.where(after(keys, [bindparam(f"_after{i}") for i in range(len(keys))]))
    return query.order_by(*order_by(keys)).limit(bindparam("_limit"))


def fetch_page(
    reader: Reader,
    listing: ListQuery,
    params: Mapping[str, Any],
    page: PageRequest,
    secret: bytes,
    render: Render,
    *,
    with_total: bool,
    versioned: bool = False,
    counts: KeptCounts | None = None,
) -> Page:
    """Run one keyset page of a list with the values of its filters, and render its rows.

    The total is counted on the first page only (later pages carry a cursor). With
    `versioned`, the page says which data version it read (Page.data_version). With
    `counts`, a first page reads its version and takes the total kept at that version,
    or counts it and keeps it: a page never shows a total of another state of the data.
    """
    keys = listing.keys
    counting = with_total and not page.cursor
    values = {**params, "_limit": page.limit + 1}
    if page.cursor:
        resumed_after = decode_cursor(page.cursor, keys, page, secret)
        values.update({f"_after{i}": value for i, value in enumerate(resumed_after)})
    count_key = _count_key(listing, params) if counting and counts is not None else None
    kept = counts.get(count_key) if counts is not None and count_key is not None else None
    versioned = versioned or count_key is not None

    def run(counted: bool) -> tuple[Any, list[Row], int | None]:
        prepared = reader.prepared(page_statement, listing, bool(page.cursor), counted, versioned)
        rows = reader.run(prepared, values)
        version = rows[0][-len(keys) - 1 - counted] if versioned and rows else None
        return prepared, rows, version

    prepared, rows, version = run(kept is None and counting)
    total = None
    if kept is not None:
        kept_version, total = kept
        if not rows:
            total = 0  # no row on a first page: nothing matches
        elif version != kept_version:
            prepared, rows, version = run(True)  # counted again, in the page's statement
            kept = None
    if counting and kept is None:
        counted = rows[0][-len(keys) - 1] if rows else 0
        total = counted if counted <= TOTAL_CAP else None
        if counts is not None and count_key is not None and version is not None:
            counts.put(count_key, version, total)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(list(rows[-1][-len(keys) :]), page, secret)
    items = render(reader, rows, prepared.columns)
    return Page(items, next_cursor, total, page.limit, version)


def _count_key(listing: ListQuery, params: Mapping[str, Any]) -> Hashable | None:
    """The key of a first page's total: its list statement and its filters' values (a
    list of values as a tuple); None when a value cannot be a key."""
    frozen = tuple(
        sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in params.items())
    )
    try:
        hash(frozen)
    except TypeError:
        return None
    return (listing, frozen)
