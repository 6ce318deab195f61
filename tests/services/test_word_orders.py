"""A search's order of words, kept between searches: it spares the count of the words,
changes no result, and is dropped once the data has changed since it was counted."""

from app.reader import Reader
from app.services.data_version import data_version
from app.services.json_sql import as_plain
from app.services.listing import Page
from app.services.localities import (
    LocalityFilters,
    SearchWords,
    WordOrders,
    list_localities,
)
from app.services.pagination import PageRequest

QUERY = "huyện lục yên"  # three words, in the seed
KEY = ("huyen", "luc", "yen")


def _search(reader: Reader, orders: WordOrders | None, statements: list[str]) -> Page:
    statements.clear()
    page = PageRequest(limit=50, cursor=None, sort="relevance", filters_digest="orders")
    return list_localities(
        reader, LocalityFilters(q=QUERY), page, b"test", True, word_orders=orders
    )


def _ids(page: Page) -> list[int]:
    return [as_plain(item)["id"] for item in page.items]


def test_a_kept_order_spares_the_count_of_the_words(reader: Reader, statements: list[str]) -> None:
    orders = WordOrders()
    first = _search(reader, orders, statements)
    # The words' counts, and the page (with its rows' successions, in its statement).
    assert first.items and len(statements) == 2
    kept = orders.get(KEY)
    assert kept is not None and kept[0] == data_version(reader)
    assert sorted(kept[1].words) == sorted(KEY)
    again = _search(reader, orders, statements)
    assert len(statements) == 1
    assert _ids(again) == _ids(first) and again.total == first.total


def test_any_order_finds_the_same_localities(reader: Reader, statements: list[str]) -> None:
    expected = _search(reader, None, statements)
    version = data_version(reader)
    assert version is not None
    for words, rare_first in ((["yen", "luc", "huyen"], True), (["huyen", "yen", "luc"], False)):
        orders = WordOrders()
        orders.put(KEY, version, SearchWords(words, rare_first))
        found = _search(reader, orders, statements)
        assert _ids(found) == _ids(expected) and found.total == expected.total
        assert orders.get(KEY) is not None  # counted at the version the page read


def test_an_order_counted_before_a_write_is_dropped(reader: Reader, statements: list[str]) -> None:
    expected = _search(reader, None, statements)
    version = data_version(reader)
    assert version is not None
    orders = WordOrders()
    orders.put(KEY, version - 1, SearchWords(["yen", "luc", "huyen"], False))
    found = _search(reader, orders, statements)
    assert _ids(found) == _ids(expected)
    assert orders.get(KEY) is None
    _search(reader, orders, statements)
    kept = orders.get(KEY)
    assert kept is not None and kept[0] == version
