"""Statements share some SQL elements (aliases, joins, rendered columns): each must be
one object in a process, even when threads ask for it at once (app.reader.shared).

Two aliases both named "b" in one statement are a statement PostgreSQL refuses: the
soak saw that as a 500 at a worker's first writes, reads being built beside them.
"""

import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from app.models import Branch
from app.reader import shared
from app.services.refs import alias

THREADS = 8


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Threads switch at every chance, as they may on a loaded machine."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def at_once(call: Callable[[], Any]) -> list[Any]:
    """What `call` returned in each of THREADS threads started together."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = []

    def run() -> None:
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_shared_element_is_built_once_when_threads_ask_at_once() -> None:
    builds: list[int] = []

    @shared()
    def slow_element(n: int) -> object:
        builds.append(n)
        time.sleep(0.02)  # long enough for every other thread to ask meanwhile
        return object()

    results = at_once(lambda: slow_element(1))
    assert len(builds) == 1
    assert len({id(r) for r in results}) == 1
    assert slow_element(1) is results[0]
    assert slow_element(2) is not results[0]


def test_the_oldest_is_dropped_beyond_maxsize_and_built_again_when_asked() -> None:
    builds: list[int] = []

    @shared(maxsize=2)
    def element(n: int) -> object:
        builds.append(n)
        return object()

    first = element(1)
    element(2)
    assert element(1) is first and builds == [1, 2]
    element(3)  # three kept would be over the size: 1, the oldest, goes
    assert element(2) is not None and builds == [1, 2, 3]
    assert element(1) is not first and builds == [1, 2, 3, 1]


@pytest.mark.usefixtures("eager_switching")
def test_an_alias_is_one_object_whichever_threads_ask_first() -> None:
    # A new name each round: its first request is the one that can race.
    for round_ in range(100):
        aliases = at_once(partial(alias, Branch, f"race_{round_}"))
        distinct = len({id(a) for a in aliases})
        assert distinct == 1, f"round {round_}: {distinct} aliases named alike"
