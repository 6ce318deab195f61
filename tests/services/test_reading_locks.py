"""A day's rows, and a walked list's first page, are read once however many requests ask
for them at once: the others wait for that read and take what it kept
(app.services.reading_locks); a read on the event loop does not wait there, it is run
again on a thread (app.db.run_inline)."""

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from app.db import run_inline
from app.reader import Reader
from app.services import gathered, listing
from app.services.branches import BranchFilters, day_rows_as_of, list_branches
from app.services.gathered import DayRows, KeptRankings
from app.services.json_sql import encode_json
from app.services.listing import KeptCounts, KeptWalks, Page
from app.services.pagination import PageRequest
from app.services.reading_locks import ReadingLocks
from app.services.risk_rules import RiskRules

WAIT_S = 10


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    return thread, done


class _Held:
    """A read held where it starts until let go (`wrapped`), to ask for the same thing
    again while it runs."""

    def __init__(self) -> None:
        self.started, self.may_end = threading.Event(), threading.Event()
        self.reads = 0

    def hold(self) -> None:
        self.started.set()
        self.may_end.wait(WAIT_S)
        self.reads += 1

    def twice(self, ask: Callable[[], Any], readers: Callable[[], int]) -> tuple[Any, Any]:
        """`ask` on two threads, the second once the first is held and it waits (two
        `readers`); both answers."""
        one, first = _in_thread(ask)
        self.started.wait(WAIT_S)
        two, second = _in_thread(ask)
        _until(lambda: readers() == 2)
        self.may_end.set()
        one.join(WAIT_S)
        two.join(WAIT_S)
        return first[0], second[0]


def test_a_second_read_of_a_key_waits_for_the_first() -> None:
    locks = ReadingLocks[str]()
    order: list[str] = []
    first_in, first_may_end = threading.Event(), threading.Event()

    def first() -> None:
        with locks.reading("day"):
            first_in.set()
            first_may_end.wait(WAIT_S)
            order.append("first")

    def second() -> None:
        with locks.reading("day"):
            order.append("second")

    one, _ = _in_thread(first)
    first_in.wait(WAIT_S)
    two, _ = _in_thread(second)
    _until(lambda: locks.readers("day") == 2)
    with locks.reading("another day"):  # another key is not held by them
        order.append("another")
    first_may_end.set()
    one.join(WAIT_S)
    two.join(WAIT_S)
    assert order == ["another", "first", "second"]
    assert locks.readers() == 0


def test_a_read_on_the_loop_does_not_wait_for_a_held_key() -> None:
    locks = ReadingLocks[str]()
    entered: list[str] = []

    def read() -> str:
        with locks.reading("day"):
            entered.append("inline")
        return "done"

    with locks.reading("day"):
        inline, answered = _in_thread(lambda: run_inline(read, budget_s=1.0))
        inline.join(WAIT_S)
        assert not inline.is_alive(), "the read waited on the loop"
    # Ended without entering, to run again on a thread.
    assert answered == [None] and entered == [] and locks.readers() == 0
    assert run_inline(read, budget_s=1.0) == "done"


def test_requests_for_a_day_at_once_read_its_rows_once(
    shared_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = KeptRankings()
    held = _Held()
    read_day_rows = gathered._read_day_rows

    def held_read(*args: Any) -> tuple[int | None, DayRows]:
        held.hold()
        return read_day_rows(*args)

    monkeypatch.setattr(gathered, "_read_day_rows", held_read)

    def ask() -> DayRows:
        with Reader.open(shared_engine) as reader:
            return day_rows_as_of(reader, date(2024, 1, 1), RiskRules(), kept)

    first, second = held.twice(ask, kept.reading.readers)
    assert held.reads == 1
    assert first is second
    assert list(first)  # the seed's branches, that day


def test_requests_for_a_walked_first_page_at_once_walk_it_once(
    shared_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The branches at risk as of a day, by id: walked (listing.walk) to count the first
    page's total; a second request for that page is cut from the rows it kept."""
    counts, walks = KeptCounts(), KeptWalks()
    held = _Held()
    walk = listing.walk

    def held_walk(*args: Any) -> Any:
        held.hold()
        yield from walk(*args)

    monkeypatch.setattr(listing, "walk", held_walk)
    filters = BranchFilters(as_of=date(2024, 1, 1), risk="true")
    first_page = PageRequest(limit=1, cursor=None, sort="id", filters_digest="at risk")

    def ask() -> Page:
        with Reader.open(shared_engine) as reader:
            return list_branches(
                reader, filters, first_page, b"secret", True, RiskRules(),
                counts=counts, walks=walks,
            )  # fmt: skip

    first, second = held.twice(ask, walks.reading.readers)
    assert held.reads == 1
    assert first.items and first.total is not None and first.next_cursor
    assert _shown(second) == _shown(first)


def _shown(page: Page) -> tuple[bytes, int | None, str | None]:
    return encode_json(page.items), page.total, page.next_cursor
