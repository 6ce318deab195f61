"""Lookups derived from the data, kept with the data version they were read at, for a
statement that reads the version itself to tell whether they are still current
(app.services.place_scopes, the word order of app.services.localities)."""

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VersionedMemo(Generic[K, V]):
    """Values by key, each with the data version it was read at; beyond `size` the least
    recently used go first. Locked: PostgreSQL's reads run on several threads."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._kept: OrderedDict[K, tuple[int, V]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: K) -> tuple[int, V] | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: K, version: int, value: V) -> None:
        with self._lock:
            self._kept[key] = (version, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def drop(self, key: K) -> None:
        with self._lock:
            self._kept.pop(key, None)

    def __len__(self) -> int:
        return len(self._kept)
