"""The day's rows and rankings of gathered lists, kept in arrays of ints, and the version
they are kept as of (no database)."""

from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import column

from app.services import gathered
from app.services.gathered import DayRows, Ranking
from app.services.pagination import SortKey

BIG = 2**40  # past 4-byte ints: kept in 8-byte ones


def test_day_rows_keep_every_value_in_its_column() -> None:
    rows = [(1, 4, -1, BIG), (2, 0, 7, 3), (3, 2, -(2**31), 2**31 - 1)]
    assert list(DayRows(rows, 4)) == rows
    assert list(DayRows([], 4)) == []


def test_a_ranking_is_the_rows_sorted_on_their_keys_and_paged_after_a_cursor() -> None:
    # Most at risk first, newest first within a level (as sort=risk).
    keys = [SortKey(column("rank"), int, True), SortKey(column("id"), int, True)]
    rows = [(ident, rank, ident) for ident, rank in [(1, 2), (2, 4), (3, 2), (4, 0), (BIG, 2)]]
    ranking = Ranking(keys, rows)
    expected = [(2, (4, 2)), (BIG, (2, BIG)), (3, (2, 3)), (1, (2, 1)), (4, (0, 4))]
    assert len(ranking) == 5
    assert ranking.page(None, 10) == expected
    assert ranking.page(None, 2) == expected[:2]
    assert ranking.page((2, BIG), 2) == expected[2:4]
    assert ranking.page((0, 4), 2) == []
    # A cursor's row gone since: the page starts where it would have been.
    assert ranking.page((2, 2), 1) == [(1, (2, 1))]


def test_an_ascending_ranking() -> None:
    keys = [SortKey(column("members"), int), SortKey(column("id"), int)]
    ranking = Ranking(keys, [(5, -1, 5), (6, 30, 6), (7, -1, 7)])
    assert ranking.page(None, 3) == [(5, (-1, 5)), (7, (-1, 7)), (6, (30, 6))]
    assert ranking.page((-1, 5), 3) == [(7, (-1, 7)), (6, (30, 6))]


class _WrittenBetweenRanges:
    """The calls _read_day_rows makes of a reader, over data written between its two
    ranges' reads (PostgreSQL reads them apart): the first range of ids has no branch,
    the second one, read after the write."""

    def __init__(self) -> None:
        self.version = 1
        self.ranges_read = 0

    def rows(self, statement: Any, listing: Any) -> list[tuple[int, int]]:
        return [(1, 2 * gathered.GATHER_IDS)]  # the span of ids

    def prepared(self, statement: Any, listing: Any) -> Any:
        return SimpleNamespace(columns=["id", "rank", "_day_version"])

    def run(self, prepared: Any, values: dict[str, Any]) -> list[tuple[int, int, int]]:
        self.ranges_read += 1
        if self.ranges_read == 1:
            self.version += 1  # another process's write, after the empty range's read
            return []
        return [(values["_from_id"], 2, self.version)]

    def scalar(self, statement: Any) -> int:
        return self.version


def test_day_rows_read_across_a_write_are_of_no_version() -> None:
    """Kept as of the write's version (the only one a range with rows said), the rows
    would have been served while the empty range, read before it, may hold some now."""
    reader = _WrittenBetweenRanges()
    version, rows = gathered._read_day_rows(cast(Any, reader), cast(Any, None), {})
    assert reader.ranges_read == 2 and list(rows) == [(1 + gathered.GATHER_IDS, 2)]
    assert version is None
