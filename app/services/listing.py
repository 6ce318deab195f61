"""The shape every list service returns, and the keyset fetch they share."""

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
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

# The rows a walked list (LateRows.walked) reads a step: growing, so that a page of rows
# most of which match costs one small step, and one of rows few match not thousands.
WALK_STEPS = (256, 1_024, 4_096, 16_384)

# The ids a statement of a gathered list evaluates (ListQuery.id_span): at scale 1.0 a
# range's statement took about 0.5 s on either database, where one over every branch
# took 5-7 s, past the 5 s a statement may run (a 503).
GATHER_IDS = 16_384

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
    # order branches on it nationally): the ids' lowest and highest, a select of one
    # row. The query and the count query then take a range of ids (`_from_id` <= id <
    # `_to_id`, bound): a page is gathered from each range's page (gather) and sorted
    # by its keys, which must be ints.
    id_span: Select[Any] | None = None


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

    if listing.id_span is not None:
        rows, total, version = gather(
            reader, listing, values, bool(page.cursor), counting=counting, versioned=versioned
        )
        return _page_of(
            reader, listing, rows, page, secret, render, total, version,
            counted=counting, versioned=versioned,
        )  # fmt: skip
    if listing.late is not None and listing.late.walked:
        keep = None
        if counts is not None and count_key is not None:
            keep = partial(counts.put, count_key)
        return _walked_page(
            reader, listing, values, page, secret, render,
            versioned=versioned, counting=counting, kept=kept, keep=keep,
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


def gather(
    reader: Reader,
    listing: ListQuery,
    values: Mapping[str, Any],
    resumed: bool,
    *,
    counting: bool,
    versioned: bool,
) -> tuple[list[Row], int | None, int | None]:
    """The rows of a gathered list's page (ListQuery.id_span), in the list's order: each
    range of GATHER_IDS ids gives its page (page_statement's rows, `_limit` of them, after
    the cursor in `values` when `resumed`), and the pages are merged. With `counting`,
    the total (the ranges' counts summed: None past TOTAL_CAP); with `versioned`, the
    data version read, None if the ranges read different ones (a write came between
    two statements of a PostgreSQL read)."""
    keys = listing.keys
    if any(key.kind is not int for key in keys):
        raise ValueError("a gathered list is sorted in Python on int keys")
    low, high = reader.rows(id_span_statement, listing)[0]
    prepared = reader.prepared(page_statement, listing, resumed, counting, versioned)
    rows: list[Row] = []
    counted = 0
    versions = set()
    for start in range(low, high + 1, GATHER_IDS) if low is not None else ():
        found = reader.run(prepared, {**values, "_from_id": start, "_to_id": start + GATHER_IDS})
        if found:
            counted += found[0][-len(keys) - 1] if counting else 0
            versions.add(found[0][-len(keys) - 1 - counting] if versioned else None)
        rows += found

    def in_order(row: Row) -> tuple[int, ...]:
        cells = row[-len(keys) :]
        return tuple(-v if key.descending else v for key, v in zip(keys, cells, strict=True))

    rows.sort(key=in_order)
    total = counted if counting and counted <= TOTAL_CAP else None
    version = versions.pop() if len(versions) == 1 else None
    return rows[: values["_limit"]], total, version


def id_span_statement(listing: ListQuery) -> Select[Any]:
    assert listing.id_span is not None
    return listing.id_span


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
) -> Page:
    """fetch_page of a walked list: steps until the page is full or, counting, until
    the count is reached (or a total kept at the version the walk read is taken)."""
    keys = listing.keys
    rows: list[Row] = []
    version: int | None = None
    known = False  # the kept total is of the version read
    for found in walk(reader, listing, values, bool(page.cursor), versioned):
        if found and version is None and versioned:
            version = found[0][-len(keys) - 1]
        rows += found
        known = kept is not None and version is not None and kept[0] == version
        wanted = page.limit + 1 if not counting or known else TOTAL_CAP + 1
        if len(rows) >= wanted:
            break
    total = None
    if counting and known and kept is not None:
        total = kept[1]
    elif counting:
        total = len(rows) if len(rows) <= TOTAL_CAP else None
        if keep is not None and version is not None:
            keep(version, total)
    return _page_of(
        reader, listing, rows, page, secret, render, total, version,
        counted=False, versioned=versioned,
    )  # fmt: skip


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
