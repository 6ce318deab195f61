"""The heap a server starts with, kept out of the garbage collector's full passes."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While the app serves, the objects that existed when it started (the libraries'
    modules, classes and functions, the app's routes and schemas) are not scanned by the
    cyclic garbage collector's full passes.

    Under load on PostgreSQL a full pass ran every 1.3-1.8 s, freed next to nothing, and
    took 90-117 ms walking that heap, with every request waiting: most of the p99 of
    PostgreSQL's rows (scale 1.0, the page at risk kept: p99 146-148 ms, 816-825 req/s;
    frozen, 69-72 ms and 926-959 req/s, a full pass 2-5 ms). Objects made later are
    collected as usual; cycles among the frozen ones would stay until the app stops.

    Freezing and unfreezing only move the collector's lists (no walk). The heap is
    unfrozen when the app stops, so that apps started again in one process (the tests)
    do not pile frozen objects up.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
