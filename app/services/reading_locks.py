"""One read at a time of a value kept by key (a day's rows: app.services.gathered): a
request that finds another reading the same key waits for that read and takes what it
kept, rather than reading it again beside it."""

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from threading import Lock
from typing import Generic, TypeVar

from app.db import acquire_off_the_loop

K = TypeVar("K", bound=Hashable)


class ReadingLocks(Generic[K]):
    """A lock for each key being read, gone when no thread holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[Lock, int]] = {}
        self._guard = Lock()

    @contextmanager
    def reading(self, key: K) -> Iterator[None]:
        """Held while this thread reads `key`'s value; entered once any other read of
        it has ended. A read on the event loop does not wait (acquire_off_the_loop)."""
        with self._guard:
            lock, users = self._locks.get(key, (Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            acquire_off_the_loop(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                users = self._locks[key][1] - 1
                if users:
                    self._locks[key] = (lock, users)
                else:
                    del self._locks[key]

    def readers(self, key: K | None = None) -> int:
        """The threads reading `key` (any key: None) or waiting to."""
        with self._guard:
            if key is None:
                return sum(users for _, users in self._locks.values())
            return self._locks.get(key, (None, 0))[1]
