"""Lists ordered or filtered on what only a day's evaluation knows (a branch's risk as of
a day), nationally: read a range of ids at a time, ranked in Python, and kept.

A list's page is gathered (gather) from the day's rows (DayRows, each range's rows read
with what the order and filters need), sorted into a ranking (Ranking), and the documents
of the page's rows read for them alone. Both are kept with the data version they were read
at (KeptRankings): the later pages, and the other orders and filters of the same day, are
cut from them.
"""

from array import array
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select

from app.reader import Reader, Row
from app.services.data_version import data_version, version_column
from app.services.pagination import SortKey
from app.services.reading_locks import ReadingLocks
from app.services.sqlfuncs import bound_ids
from app.services.versioned_memo import VersionedMemo

if TYPE_CHECKING:
    from app.services.listing import ListQuery

# The ids a statement of a gathered list evaluates (ListQuery.gathered): at scale 1.0 a
# range's statement took about 0.5 s on either database, where one over every branch
# took 5-7 s, past the 5 s a statement may run (a 503).
GATHER_IDS = 16_384


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


def _narrowed(values: "array[int]") -> "array[int]":
    """The values in 4-byte ints when they all fit (ids, levels, counts do): half the
    memory of 8-byte ones."""
    if values and (min(values) < -(2**31) or max(values) >= 2**31):
        return values
    return array("i", values)


class Ranking:
    """A gathered list's rows in its order: their ids, and each key's values (negated
    when descending, so that every key sorts ascending), in arrays of ints (_narrowed):
    at scale 1.0 a day's 274,000 branches in two keys take 3.3 MB."""

    def __init__(self, keys: Sequence[SortKey], rows: Iterable[Sequence[int]]) -> None:
        """`rows`: each row's id, then its keys' values, in the list's keys' order."""
        self._signs = tuple(-1 if key.descending else 1 for key in keys)
        ordered = sorted((*self._ascending(row[1:]), row[0]) for row in rows)
        self._keys = tuple(
            _narrowed(array("q", (row[i] for row in ordered))) for i in range(len(keys))
        )
        self._ids = _narrowed(array("q", (row[-1] for row in ordered)))

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
    each column in an array of ints (_narrowed): 7.7 MB for 274,000 branches in seven."""

    def __init__(self, rows: Iterable[Sequence[int]], width: int) -> None:
        columns = tuple(array("q") for _ in range(width))
        for row in rows:
            for values, value in zip(columns, row, strict=True):
                values.append(value)
        self._columns = tuple(map(_narrowed, columns))

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
        # Requests for a day being read wait for its rows, rather than read them again
        # beside it: twice the seconds, on the same cores.
        self.reading = ReadingLocks[Hashable]()


def gather(
    reader: Reader,
    listing: "ListQuery",
    values: Mapping[str, Any],
    resumed: bool,
    *,
    versioned: bool,
    rankings: KeptRankings | None = None,
) -> tuple[list[Row], int, int | None]:
    """The rows of a gathered list's page (ListQuery.gathered): page_statement's rows (not
    counted), `_limit` of them, after the cursor in `values` when `resumed`, in the list's order.

    Each range of GATHER_IDS ids gives its rows (DayRows), whose keys are sorted (a
    Ranking), and the page's documents read for its rows. With `rankings`, a ranking or
    the day's rows kept at the data version are taken, and those read are kept. Also the
    number of rows the list holds, and the data version read, None if the statements
    read different ones (a write came between two statements of a PostgreSQL read)."""
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
    extra = (read,) if versioned else ()
    # A row gone since the ranking (the versions differ then) is left out, not an error.
    rows = [(*documents[ident], *extra, *k) for ident, k in page if ident in documents]
    return rows, len(ranking), version if read == version else None


def gathers(
    reader: Reader, listing: "ListQuery", values: Mapping[str, Any], kept: KeptRankings | None
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
    reader: Reader, listing: "ListQuery", values: Mapping[str, Any], kept: KeptRankings | None
) -> tuple[int | None, Ranking]:
    """A gathered list's ranking, and the data version it was read at (None if its
    statements read different ones): sorted from the day's rows, kept or read."""
    assert listing.gathered is not None
    version, rows = day_rows(reader, listing, values, kept)
    keys_of = listing.gathered.keys_of(values)
    keyed = ((row[0], keys_of(row)) for row in rows)
    return version, Ranking(listing.keys, ((ident, *k) for ident, k in keyed if k is not None))


def day_rows(
    reader: Reader, listing: "ListQuery", values: Mapping[str, Any], kept: KeptRankings | None
) -> tuple[int | None, DayRows]:
    """A gathered list's day rows, kept at the data version or read (and kept), and the
    data version they were read at (None if their statements read different ones)."""
    day_key = _day_key(reader, listing, values)
    if kept is None or day_key is None:
        return _read_day_rows(reader, listing, values)
    found = _current(reader, kept.days, day_key)
    if found is not None:
        return found
    with kept.reading.reading(day_key):
        # Kept meanwhile by the read this one waited for, if any.
        found = _current(reader, kept.days, day_key)
        if found is not None:
            return found
        version, rows = _read_day_rows(reader, listing, values)
        if version is not None:
            kept.days.put(day_key, version, rows)
        return version, rows


def _current(
    reader: Reader, days: VersionedMemo[Hashable, DayRows], day_key: Hashable
) -> tuple[int, DayRows] | None:
    """The day's rows kept, if at the data version the reader reads."""
    found = days.get(day_key)
    return found if found is not None and found[0] == data_version(reader) else None


def _read_day_rows(
    reader: Reader, listing: "ListQuery", values: Mapping[str, Any]
) -> tuple[int | None, DayRows]:
    """The day's rows of a gathered list, read a range at a time, and the data version
    they were read at (None if the ranges read different ones).

    A range with rows says its version, an empty one none: the data's before the span
    and after the last range bound those (PostgreSQL reads each apart: a write between
    two of them made ranges read before it kept as of the write's version)."""
    versions: set[int | None] = {data_version(reader)}
    low, high = reader.rows(gathered_span_statement, listing)[0]
    prepared = reader.prepared(day_rows_statement, listing)

    def ranges() -> Iterator[tuple[int, ...]]:
        # A range's rows at a time: the driver's rows of every range at once took some
        # 30 MB more at scale 1.0.
        for start in range(low, high + 1, GATHER_IDS) if low is not None else ():
            bounds = {"_from_id": start, "_to_id": start + GATHER_IDS}
            found = reader.run(prepared, {**values, **bounds})
            versions.update(row[-1] for row in found[:1])
            yield from (row[:-1] for row in found)

    rows = DayRows(ranges(), len(prepared.columns) - 1)
    versions.add(data_version(reader))
    return (versions.pop() if len(versions) == 1 else None), rows


def _gathered_documents(
    reader: Reader,
    listing: "ListQuery",
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


def gathered_span_statement(listing: "ListQuery") -> Select[Any]:
    assert listing.gathered is not None
    return listing.gathered.span


def day_rows_statement(listing: "ListQuery") -> Select[Any]:
    """A range's day rows of a gathered list, the data version last."""
    assert listing.gathered is not None
    return listing.gathered.day_rows.add_columns(version_column().label("_day_version"))


def gathered_documents_statement(listing: "ListQuery") -> Select[Any]:
    """The documents of a gathered list's bound `_ids`: their columns, the id, the data
    version."""
    assert listing.gathered is not None
    return listing.gathered.documents.add_columns(version_column().label("_version"))


def _ranking_key(listing: "ListQuery", values: Mapping[str, Any]) -> Hashable | None:
    """A ranking's key: what it depends on, and the filters' values (not the page's)."""
    assert listing.gathered is not None
    frozen = frozen_values({name: v for name, v in values.items() if not name.startswith("_")})
    return None if frozen is None else (listing.gathered.ranking_key, frozen)


def _day_key(reader: Reader, listing: "ListQuery", values: Mapping[str, Any]) -> Hashable | None:
    """The day rows' key: what they depend on, and the values their statement binds."""
    assert listing.gathered is not None
    names = reader.prepared(day_rows_statement, listing).names - {"_from_id", "_to_id"}
    frozen = frozen_values({name: values.get(name) for name in names})
    return None if frozen is None else (listing.gathered.day_key, frozen)


def frozen_values(params: Mapping[str, Any]) -> Hashable | None:
    """The values as a key (a list of values as a tuple); None when one cannot be."""
    frozen = tuple(
        sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in params.items())
    )
    try:
        hash(frozen)
    except TypeError:
        return None
    return frozen
