"""The day's rows and rankings of gathered lists, kept in arrays of ints (no database)."""

from sqlalchemy import column

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
