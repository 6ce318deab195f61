"""The shape every list service returns, and the keyset fetch they share."""

from array import array
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from app.reader import Reader, Row
from app.services.data_version import data_version, version_column
from app.services.json_sql import JsonText
from app.services.pagination import (
    PageRequest,
    SortKey,
    after,
    decode_cursor,
    encode_cursor,
    order_by,
)
from app.services.sqlfuncs import bound_ids
from app.services.versioned_memo import VersionedMemo

# Counting is not free: exact up to this many rows, null beyond.
TOTAL_CAP = 1_000

# The rows a walked list (LateRows.walked) reads a step: growing, so that a page of rows
# most of which match costs one small step, and one of rows few match not thousands.
WALK_STEPS = (256, 1_024, 4_096, 16_384)

# The ids a statement of a gathered list evaluates (ListQuery.gathered): at scale 1.0 a
# range's statement took about 0.5 s on either database, where one over every branch
# took 5-7 s, past the 5 s a statement may run (a 503).
GATHER_IDS = 16_384

# First pages' totals, by list statement and filter values, each with the data version it
# was counted at (fetch_page). Counting a thousand rows was most of what the database did
# for a first page: 0.10 against 0.25-0.30 ms on PostgreSQL at scale 1.0 for the page of
# branches at risk and a province's page, which a deep page (uncounted) shows too.
KeptCounts = VersionedMemo[Hashable, int | None]


class Ranking:
    """A gathered list's rows in its order: their ids, and each key's values (negated
    when descending, so that every key sorts ascending), in arrays of 8-byte ints: at
    scale 1.0 a day's 274,000 branches in two keys take 6.6 MB."""

    def __init__(self, keys: Sequence[SortKey], rows: Iterable[Sequence[int]]) -> None:
        """`rows`: each row's id, then its keys' values, in the list's keys' order."""
        self._signs = tuple(-1 if key.descending else 1 for key in keys)
        ordered = sorted((*self._ascending(row[1:]), row[0]) for row in rows)
        self._keys = tuple(array("q", (row[i] for row in ordered)) for i in range(len(keys)))
        self._ids = array("q", (row[-1] for row in ordered))

    def __len__(self) -> int:
        return len(self._ids)

    def _ascending(self, values: Sequence[int]) -> tuple[int, ...]:
        return tuple(sign * value for sign, value in zip(self._signs, values, strict=True))

    def _at(self, index: int) -> tuple[int, ...]:
        return tuple(values[index] for values in self._keys)

    def page(self, after: Sequence[int] | None, size: int) -> list[tuple[int, tuple[int, ...]]]:
        """Up to `size` rows after the keys `after` (from the first without): each row's
        id and keys, as the list's keys read them."""
        start = 0
        if after is not None:
            start = bisect_right(range(len(self)), self._ascending(after), key=self._at)
        return [
            (self._ids[i], self._ascending(self._at(i)))
            for i in range(start, min(start + size, len(self)))
        ]


class DayRows:
    """A gathered list's rows as a range's statements read them (GatheredRows.day_rows),
    each column in an array of 8-byte ints: 8.8 MB for 274,000 branches in four."""

    def __init__(self, rows: Iterable[Sequence[int]], width: int) -> None:
        self._columns = tuple(array("q") for _ in range(width))
        for row in rows:
            for values, value in zip(self._columns, row, strict=True):
                values.append(value)

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return zip(*self._columns, strict=True)


class KeptRankings:
    """Gathered lists' rankings, by ranking key and filter values, and the days' rows they
    were sorted from, each with the data version it was read at (gather).

    Reading a day's branches nationally took 5-9 s at scale 1.0. With its ranking kept, a
    page after the first reads only its rows' documents; with the day's rows kept, another
    order or filter of that day is sorted from them in Python. Each is a few MB.
    """

    def __init__(self, rankings: int = 4, days: int = 2) -> None:
        self.rankings = VersionedMemo[Hashable, Ranking](rankings)
        self.days = VersionedMemo[Hashable, DayRows](days)


@dataclass(frozen=True)
class WalkedRows:
    """The first rows of a walked list (LateRows.walked), as a first page's walk read them
    to count its total: the later pages within them are cut from them."""

    rows: list[Row]  # page_statement's rows, versioned, not counted: up to TOTAL_CAP + 1
    complete: bool  # they are all the list's rows
    total: int | None  # the first page's


# Walked lists' first rows by list statement and filter values, each with the data version
# they were read at (fetch_page). A filter few branches meet as of a day walked most of
# them for each page (186 critical ones at scale 1.0: ~1.3 s a later page); a first page
# had walked them all already to count them. Each is up to 1,001 rows of 1-2 KB.
KeptWalks = VersionedMemo[Hashable, WalkedRows]
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
class GatheredRows:
    """The rows of a list ranked a range of ids at a time, and their documents read after
    for a page's (gather). The keys must be ints: the ranking is sorted in Python.

    A range's rows are read with what the order and the filters need of them (a day's
    risk evaluated), but not ordered or filtered on it: the day's rows (DayRows) serve
    every order and filter of that day, in Python (`keys_of`).
    """

    span: Select[Any]  # the ids' lowest and highest: one row
    # The rows whose id is in the bound range (`_from_id` <= id < `_to_id`), with the
    # list's filters on what a row is: columns of ints (no null), the id first.
    day_rows: Select[Any]
    # Given the request's values, each day row's keys in the list's order (as its keys
    # read them), or None when the list's other filters leave the row out.
    keys_of: Callable[[Mapping[str, Any]], Callable[[Sequence[int]], tuple[int, ...] | None]]
    # What a page shows of the rows bound as `_ids` (sqlfuncs.in_bound_ids), their id
    # last, in no order.
    documents: Select[Any]
    # What the ranking depends on besides the values (its order and filters, not how a
    # row is shown: JSON and CSV of one list share one); what the day's rows depend on
    # besides the values their statement binds (not the order, nor the day's filters).
    ranking_key: Hashable
    day_key: Hashable
    # Read so only when the day's rows (or the ranking) are kept: the list is walked else
    # (LateRows.walked), as most walks take less than reading the day's rows.
    when_kept: bool = False


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
        rows, total, version = gather(
            reader, listing, values, bool(page.cursor),
            counting=counting, versioned=versioned, rankings=rankings,
        )  # fmt: skip
        return _page_of(
            reader, listing, rows, page, secret, render, total, version,
            counted=False, versioned=versioned,
        )  # fmt: skip
    if listing.late is not None and listing.late.walked:
        walk_key = _count_key(listing, params) if walks is not None else None
        walked = walks.get(walk_key) if walks is not None and walk_key is not None else None
        if walked is not None:
            cut = _page_of_walked(reader, listing, walked, values, page, secret, render, counting)
            if cut is not None:
                return cut
        keep = keep_rows = None
        if counts is not None and count_key is not None:
            keep = partial(counts.put, count_key)
        if walks is not None and walk_key is not None and counting and versioned:
            keep_rows = partial(walks.put, walk_key)
        return _walked_page(
            reader, listing, values, page, secret, render,
            versioned=versioned, counting=counting, kept=kept, keep=keep, keep_rows=keep_rows,
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
    rankings: KeptRankings | None = None,
) -> tuple[list[Row], int | None, int | None]:
    """The rows of a gathered list's page (ListQuery.gathered): page_statement's rows (not
    counted), `_limit` of them, after the cursor in `values` when `resumed`, in the list's order.

    Each range of GATHER_IDS ids gives its rows (DayRows), whose keys are sorted (a
    Ranking), and the page's documents read for its rows. With `rankings`, a ranking or
    the day's rows kept at the data version are taken, and those read are kept. With
    `counting`, the total (None past TOTAL_CAP); the data version read, None if the
    statements read different ones (a write came between two statements of a PostgreSQL
    read)."""
    keys = listing.keys
    if any(key.kind is not int for key in keys):
        raise ValueError("a gathered list is sorted in Python on int keys")
    after = [values[f"_after{i}"] for i in range(len(keys))] if resumed else None
    ranking_key = _ranking_key(listing, values) if rankings is not None else None
    kept = None
    if rankings is not None and ranking_key is not None:
        kept = rankings.rankings.get(ranking_key)
    version: int | None
    if kept is not None:
        version, ranking = kept
        page = ranking.page(after, values["_limit"])
        documents, read = _gathered_documents(reader, listing, values, page)
        if read != version:  # the data changed since it was ranked
            kept = None
    if kept is None:
        version, ranking = _rank(reader, listing, values, rankings)
        if rankings is not None and ranking_key is not None and version is not None:
            rankings.rankings.put(ranking_key, version, ranking)
        page = ranking.page(after, values["_limit"])
        documents, read = _gathered_documents(reader, listing, values, page)
    total = len(ranking) if counting and len(ranking) <= TOTAL_CAP else None
    extra = (read,) if versioned else ()
    # A row gone since the ranking (the versions differ then) is left out, not an error.
    rows = [(*documents[ident], *extra, *k) for ident, k in page if ident in documents]
    return rows, total, version if read == version else None


def gathers(
    reader: Reader, listing: ListQuery, values: Mapping[str, Any], kept: KeptRankings | None
) -> bool:
    """Whether a page of the list is gathered (GatheredRows; when_kept: its ranking or
    the day's rows are kept at the data version)."""
    gathered = listing.gathered
    if gathered is None or not gathered.when_kept:
        return gathered is not None
    if kept is None:
        return False
    ranking_key, day_key = _ranking_key(listing, values), _day_key(reader, listing, values)
    found = [
        memo.get(key)
        for memo, key in ((kept.rankings, ranking_key), (kept.days, day_key))
        if key is not None
    ]
    versions = {entry[0] for entry in found if entry is not None}
    return bool(versions) and data_version(reader) in versions


def _rank(
    reader: Reader, listing: ListQuery, values: Mapping[str, Any], kept: KeptRankings | None
) -> tuple[int | None, Ranking]:
    """A gathered list's ranking, and the data version it was read at (None if its
    statements read different ones): sorted from the day's rows, kept or read."""
    assert listing.gathered is not None
    day_key = _day_key(reader, listing, values)
    found = kept.days.get(day_key) if kept is not None and day_key is not None else None
    version: int | None
    if found is not None and found[0] == data_version(reader):
        version, rows = found
    else:
        version, rows = _day_rows(reader, listing, values)
        if kept is not None and day_key is not None and version is not None:
            kept.days.put(day_key, version, rows)
    keys_of = listing.gathered.keys_of(values)
    keyed = ((row[0], keys_of(row)) for row in rows)
    return version, Ranking(listing.keys, ((ident, *k) for ident, k in keyed if k is not None))


def _day_rows(
    reader: Reader, listing: ListQuery, values: Mapping[str, Any]
) -> tuple[int | None, DayRows]:
    """The day's rows of a gathered list, read a range at a time, and the data version
    they were read at (None if the ranges read different ones)."""
    low, high = reader.rows(gathered_span_statement, listing)[0]
    prepared = reader.prepared(day_rows_statement, listing)
    versions: set[int | None] = set()

    def ranges() -> Iterator[tuple[int, ...]]:
        # A range's rows at a time: the driver's rows of every range at once took some
        # 30 MB more at scale 1.0.
        for start in range(low, high + 1, GATHER_IDS) if low is not None else ():
            bounds = {"_from_id": start, "_to_id": start + GATHER_IDS}
            found = reader.run(prepared, {**values, **bounds})
            versions.update(row[-1] for row in found[:1])
            yield from (row[:-1] for row in found)

    rows = DayRows(ranges(), len(prepared.columns) - 1)
    if not versions:
        versions.add(data_version(reader))
    return (versions.pop() if len(versions) == 1 else None), rows


def _gathered_documents(
    reader: Reader,
    listing: ListQuery,
    values: Mapping[str, Any],
    page: Sequence[tuple[int, tuple[int, ...]]],
) -> tuple[dict[int, tuple[Any, ...]], int | None]:
    """The documents of a page's rows by id, and the data version they were read at."""
    if not page:
        return {}, data_version(reader)
    dialect = reader.dialect.name
    ids = bound_ids([ident for ident, _ in page], dialect)
    rows = reader.rows(gathered_documents_statement, listing, params={**values, "_ids": ids})
    return {row[-2]: tuple(row[:-2]) for row in rows}, rows[0][-1] if rows else None


def gathered_span_statement(listing: ListQuery) -> Select[Any]:
    assert listing.gathered is not None
    return listing.gathered.span


def day_rows_statement(listing: ListQuery) -> Select[Any]:
    """A range's day rows of a gathered list, the data version last."""
    assert listing.gathered is not None
    return listing.gathered.day_rows.add_columns(version_column().label("_day_version"))


def gathered_documents_statement(listing: ListQuery) -> Select[Any]:
    """The documents of a gathered list's bound `_ids`: their columns, the id, the data
    version."""
    assert listing.gathered is not None
    return listing.gathered.documents.add_columns(version_column().label("_version"))


def _ranking_key(listing: ListQuery, values: Mapping[str, Any]) -> Hashable | None:
    """A ranking's key: what it depends on, and the filters' values (not the page's)."""
    assert listing.gathered is not None
    frozen = _frozen({name: v for name, v in values.items() if not name.startswith("_")})
    return None if frozen is None else (listing.gathered.ranking_key, frozen)


def _day_key(reader: Reader, listing: ListQuery, values: Mapping[str, Any]) -> Hashable | None:
    """The day rows' key: what they depend on, and the values their statement binds."""
    assert listing.gathered is not None
    names = reader.prepared(day_rows_statement, listing).names - {"_from_id", "_to_id"}
    frozen = _frozen({name: values.get(name) for name in names})
    return None if frozen is None else (listing.gathered.day_key, frozen)


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
    known = False  # the kept total is of the version read
    ended = True  # the walk reached the list's end
    for found in walk(reader, listing, values, bool(page.cursor), versioned):
        if found and version is None and versioned:
            version = found[0][-len(keys) - 1]
        rows += found
        known = kept is not None and version is not None and kept[0] == version
        wanted = page.limit + 1 if not counting or known else TOTAL_CAP + 1
        if len(rows) >= wanted:
            ended = False
            break
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


def _page_of_walked(
    reader: Reader,
    listing: ListQuery,
    walked: tuple[int, WalkedRows],
    values: Mapping[str, Any],
    page: PageRequest,
    secret: bytes,
    render: Render,
    counting: bool,
) -> Page | None:
    """The page cut from a walked list's kept first rows, when they are of the data
    version now and hold it (its cursor's row and a page after it, or the list's end);
    else None."""
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
    total = kept.total if counting else None
    return _page_of(
        reader, listing, rows, page, secret, render, total, version,
        counted=False, versioned=True,
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
    """The key of a first page's total: its list statement and its filters' values; None
    when a value cannot be a key."""
    frozen = _frozen(params)
    return None if frozen is None else (listing, frozen)


def _frozen(params: Mapping[str, Any]) -> Hashable | None:
    """The values as a key (a list of values as a tuple); None when one cannot be."""
    frozen = tuple(
        sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in params.items())
    )
    try:
        hash(frozen)
    except TypeError:
        return None
    return frozen
