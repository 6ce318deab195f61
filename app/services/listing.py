"""The shape every list service returns, and the keyset fetch they share."""

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from app.reader import Reader, Row
from app.services.data_version import data_version, version_column
from app.services.gathered import GatheredRows, KeptRankings, frozen_values, gather, gathers
from app.services.json_sql import JsonText
from app.services.pagination import (
    PageRequest,
    SortKey,
    after,
    decode_cursor,
    encode_cursor,
    order_by,
)
from app.services.reading_locks import ReadingLocks
from app.services.versioned_memo import VersionedMemo

# Counting is not free: exact up to this many rows, null beyond.
TOTAL_CAP = 1_000

# The rows a walked list (LateRows.walked) reads a step: growing, so that a page of rows
# most of which match costs one small step, and one of rows few match not thousands.
WALK_STEPS = (256, 1_024, 4_096, 16_384)

# First pages' totals, by list statement and filter values, each with the data version it
# was counted at (fetch_page). Counting a thousand rows was most of what the database did
# for a first page: 0.10 against 0.25-0.30 ms on PostgreSQL at scale 1.0 for the page of
# branches at risk and a province's page, which a deep page (uncounted) shows too.
KeptCounts = VersionedMemo[Hashable, int | None]


@dataclass(frozen=True)
class WalkedRows:
    """The first rows of a walked list (LateRows.walked), as a first page's walk read them
    to count its total: the later pages within them are cut from them."""

    rows: list[Row]  # page_statement's rows, versioned, not counted: up to TOTAL_CAP + 1
    complete: bool  # they are all the list's rows
    total: int | None  # the first page's


class KeptWalks(VersionedMemo[Hashable, WalkedRows]):
    """Walked lists' first rows by list statement and filter values, each with the data
    version they were read at (fetch_page). A filter few branches meet as of a day walked
    most of them for each page (186 critical ones at scale 1.0: ~1.3 s a later page); a
    first page had walked them all already to count them. Each is up to 1,001 rows of 1-2
    KB. A first page being walked is waited for by the requests for the same one (5-6 s
    for such a filter), which are then cut from its rows rather than walk beside it."""

    def __init__(self, size: int = 4096) -> None:
        super().__init__(size)
        self.reading = ReadingLocks[Hashable]()


WALKS_KEPT = 8


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
class LateRows:
    """The rows of a list as ids, for pages sorted before their documents are read.

    Sorting whole rows, both databases carried each match's document (1-2 KB of JSON)
    through the sort: a search for a word that 253,000 branches hold ("chi bộ", scale
    1.0) sorted them all with their items, 0.6-0.9 s a page.

    The documents are what a page shows of a row (what its render reads), of any row:
    `documents`, read row by row by `id_column`; or `documents_of`, given a select of
    ids, the documents of those rows, read at once for the page's (for documents whose
    work is per set: a branch's risk as of a day, evaluated for the branches it is given).
    """

    ids: Select[Any]  # one column, the id, with the list's filters
    id_column: ColumnElement[Any]  # the id in the documents
    documents: Select[Any] | None = None
    documents_of: Callable[[Select[Any]], Select[Any]] | None = None
    # `documents_of` keeps only the rows that match (a condition on a risk as of a day,
    # known once evaluated): the ids are walked in the list's order, WALK_STEPS at a
    # time, until the page is full, or the count reached. Evaluating every branch's
    # risk to keep those at risk took 4-7 s at scale 1.0 (a 503 on PostgreSQL); the
    # first steps find a page of most filters.
    walked: bool = False


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
    # For an order no index gives (a search by relevance), or documents whose work
    # grows with the rows they are made for (a risk as of a day): the ids of the rows
    # (from only what the filters and keys read) and their documents. A page is sorted
    # and cut from the rows' keys, and its rows' documents read after.
    late: LateRows | None = None
    # For rows whose work grows with every row the order needs (a risk as of a day, to
    # order branches on it nationally): the list ranked a range of ids at a time (gather).
    gathered: GatheredRows | None = None


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
    if listing.late is not None:
        return _late_page_statement(listing, listing.late, resumed, counting, versioned)
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


def _late_page_statement(
    listing: ListQuery, late: LateRows, resumed: bool, counting: bool, versioned: bool
) -> Select[Any]:
    """page_statement for a list with `late` rows: the page's ids and keys, sorted and
    cut in a subquery; then its rows' documents (LateRows), in the page's order."""
    keys = listing.keys

    def page_rows(name: str) -> Any:
        ids = late.ids.add_columns(*(k.column.label(f"_k{i}") for i, k in enumerate(keys)))
        if resumed:
            ids = ids.where(after(keys, [bindparam(f"_after{i}") for i in range(len(keys))]))
        return ids.order_by(*order_by(keys)).limit(bindparam("_limit")).subquery(name)

    page = page_rows("page")
    columns: list[ColumnElement[Any]]
    if late.documents_of is not None:
        # The page's ids walked twice, as a subquery cannot be named twice: once for the
        # documents' own work, once to join them in the page's order.
        of_page = late.documents_of(select(page_rows("page_ids").c[0]))
        query = of_page.join(page, late.id_column == page.c[0])
        columns = list(of_page.selected_columns)
    else:
        assert late.documents is not None
        query = select().select_from(page)
        one_row = late.documents.where(late.id_column == page.c[0])
        columns = [
            one_row.with_only_columns(column).scalar_subquery().label(column.name)
            for column in late.documents.selected_columns
        ]
    if versioned:
        columns.append(version_column().label("_version"))
    if counting:
        counted = listing.count_query if listing.count_query is not None else late.ids
        columns.append(_capped_count(counted).label("_total"))
    page_keys = [SortKey(page.c[f"_k{i}"], k.kind, k.descending) for i, k in enumerate(keys)]
    columns += [k.column.label(f"_k{i}") for i, k in enumerate(page_keys)]
    return query.with_only_columns(*columns).order_by(*order_by(page_keys))


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
    rankings: KeptRankings | None = None,
    walks: KeptWalks | None = None,
) -> Page:
    """Run one keyset page of a list with the values of its filters, and render its rows.

    The total is counted on the first page only (later pages carry a cursor). With
    `versioned`, the page says which data version it read (Page.data_version). With
    `counts`, a first page reads its version and takes the total kept at that version,
    or counts it and keeps it: a page never shows a total of another state of the data.
    With `rankings`, a gathered list's ranking is kept likewise (gather), and with
    `walks` the rows a walked list's first page read (WalkedRows).
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

    if gathers(reader, listing, values, rankings):
        rows, matched, version = gather(
            reader, listing, values, bool(page.cursor), versioned=versioned, rankings=rankings
        )
        total = matched if counting and matched <= TOTAL_CAP else None
        return _page_of(
            reader, listing, rows, page, secret, render, total, version,
            counted=False, versioned=versioned,
        )  # fmt: skip
    if listing.late is not None and listing.late.walked:
        walk_key = _count_key(listing, params) if walks is not None else None
        # Where a first page's rows are kept, the requests for it wait for its walk.
        keeping = walks if walk_key is not None and counting and versioned else None
        with keeping.reading.reading(walk_key) if keeping is not None else nullcontext():
            walked = walks.get(walk_key) if walks is not None and walk_key is not None else None
            cut = _kept_walk_rows(reader, listing, walked, values, page) if walked else None
            if walked is not None and cut is not None:
                # Kept rows are versioned and not counted (WalkedRows); the first page's
                # total.
                version, kept_walk = walked
                return _page_of(
                    reader, listing, cut, page, secret, render,
                    kept_walk.total if counting else None, version,
                    counted=False, versioned=True,
                )  # fmt: skip
            keep = keep_rows = None
            if counts is not None and count_key is not None:
                keep = partial(counts.put, count_key)
            if keeping is not None:
                keep_rows = partial(keeping.put, walk_key)
            return _walked_page(
                reader, listing, values, page, secret, render,
                versioned=versioned, counting=counting, kept=kept, keep=keep,
                keep_rows=keep_rows,
            )  # fmt: skip
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


def walk(
    reader: Reader,
    listing: ListQuery,
    values: Mapping[str, Any],
    resumed: bool,
    versioned: bool,
) -> Iterator[list[Row]]:
    """The rows of a walked list (LateRows.walked) after the cursor in `values` (when
    `resumed`), a step at a time: the rows of the step's ids that match, in the list's
    order (page_statement's columns, not counted). Ends with the list; its caller stops
    it once it has what it needs."""
    steps = iter(WALK_STEPS)
    size = next(steps)
    values = dict(values)
    while True:
        values["_limit"] = size
        prepared = reader.prepared(page_statement, listing, resumed, False, versioned)
        yield reader.run(prepared, values)
        end = {**values, "_offset": size - 1}
        last = reader.rows(walk_end_statement, listing, resumed, params=end)
        if not last:
            return
        values.update({f"_after{i}": value for i, value in enumerate(last[0][1:])})
        resumed = True
        size = next(steps, size)


def walk_end_statement(listing: ListQuery, resumed: bool) -> Select[Any]:
    """The id and keys of the row `_offset` (from 0) of a walked list after the cursor:
    where a step of that many rows ended, or none when the list ended first."""
    assert listing.late is not None
    keys = listing.keys
    ids = listing.late.ids.add_columns(*(k.column.label(f"_k{i}") for i, k in enumerate(keys)))
    if resumed:
        ids = ids.where(after(keys, [bindparam(f"_after{i}") for i in range(len(keys))]))
    return ids.order_by(*order_by(keys)).limit(1).offset(bindparam("_offset"))


def _walked_page(
    reader: Reader,
    listing: ListQuery,
    values: Mapping[str, Any],
    page: PageRequest,
    secret: bytes,
    render: Render,
    *,
    versioned: bool,
    counting: bool,
    kept: tuple[int, int | None] | None,
    keep: Callable[[int, int | None], None] | None,
    keep_rows: Callable[[int, WalkedRows], None] | None = None,
) -> Page:
    """fetch_page of a walked list: steps until the page is full or, counting, until
    the count is reached (or a total kept at the version the walk read is taken). With
    `keep_rows`, a first page's rows are kept (WalkedRows)."""
    keys = listing.keys
    rows: list[Row] = []
    version: int | None = None
    # The versions the walk read at: each step's statement says its own, an empty one
    # none; the data's before the first step and after the last bound those.
    read_at = {data_version(reader)} if versioned else set()
    known = False  # the kept total is of the version read
    ended = True  # the walk reached the list's end
    for found in walk(reader, listing, values, bool(page.cursor), versioned):
        if found and versioned:
            read_at.add(found[0][-len(keys) - 1])
            version = found[0][-len(keys) - 1] if version is None else version
        rows += found
        known = kept is not None and version is not None and kept[0] == version
        wanted = page.limit + 1 if not counting or known else TOTAL_CAP + 1
        if len(rows) >= wanted:
            ended = False
            break
    if versioned:
        read_at.add(data_version(reader))
    if len(read_at) > 1:
        # A write committed during the walk, whose steps PostgreSQL reads apart: its rows
        # are of more than one state of the data. Served, but neither they nor their
        # count are kept, as of a version whose rows they are not all.
        version = None
    total = None
    if counting and known and kept is not None:
        total = kept[1]
    elif counting:
        total = len(rows) if len(rows) <= TOTAL_CAP else None
        if keep is not None and version is not None:
            keep(version, total)
    if keep_rows is not None and version is not None and not page.cursor:
        first = rows[: TOTAL_CAP + 1]
        keep_rows(version, WalkedRows(first, ended and len(first) == len(rows), total))
    return _page_of(
        reader, listing, rows, page, secret, render, total, version,
        counted=False, versioned=versioned,
    )  # fmt: skip


def _kept_walk_rows(
    reader: Reader,
    listing: ListQuery,
    walked: tuple[int, WalkedRows],
    values: Mapping[str, Any],
    page: PageRequest,
) -> list[Row] | None:
    """The page's rows (one more when there is a next page) cut from a walked list's
    kept first rows, when they are of the data version now and hold it (its cursor's row
    and a page after it, or the list's end); else None."""
    version, kept = walked
    keys = listing.keys
    start = 0
    if page.cursor:
        after = [values[f"_after{i}"] for i in range(len(keys))]
        found = (i + 1 for i, row in enumerate(kept.rows) if list(row[-len(keys) :]) == after)
        start = next(found, -1)
    rows = kept.rows[start : start + page.limit + 1] if start >= 0 else []
    if start < 0 or (len(rows) <= page.limit and not kept.complete):
        return None
    if data_version(reader) != version:
        return None
    return rows


def _page_of(
    reader: Reader,
    listing: ListQuery,
    rows: list[Row],
    page: PageRequest,
    secret: bytes,
    render: Render,
    total: int | None,
    version: int | None,
    *,
    counted: bool,
    versioned: bool,
) -> Page:
    """The page of `rows` (page_statement's, `counted` and `versioned` or not, one more
    than the page when there is a next page)."""
    keys = listing.keys
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(list(rows[-1][-len(keys) :]), page, secret)
    prepared = reader.prepared(page_statement, listing, bool(page.cursor), counted, versioned)
    return Page(render(reader, rows, prepared.columns), next_cursor, total, page.limit, version)


def _count_key(listing: ListQuery, params: Mapping[str, Any]) -> Hashable | None:
    """The key of a first page's total: its list statement and its filters' values; None
    when a value cannot be a key."""
    frozen = frozen_values(params)
    return None if frozen is None else (listing, frozen)
