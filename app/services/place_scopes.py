"""Places' scopes kept between requests, trusted only by a page that read the same
data version (issue 7).

A list filtered by a place (`/branches?province=1`) needs the units the place covers
before its statement can be written (app.services.localities.place_scope): on
PostgreSQL a round trip of its own in every request, for an answer that changes only
when the data does. A province's first page at scale 1.0 on PostgreSQL, built each
time, served 535-803 requests a second with the scope read each time and 620-877 with
it kept (2026-12-04, six rounds alternated; README.md, "How").

A kept scope is used by a page that reads the data version in its own statement
(app.services.listing.fetch_page, `versioned`), and the page stands only if that is the
version the scope was read at: the scope was then current for the very state of the
data that the page read. Otherwise (a write in between, or an empty page, which carries
no version) the scope is read again and the page with it, as without a kept scope.
"""

from collections import OrderedDict
from threading import Lock

from app.reader import Reader
from app.services.localities import PlaceScope, place_scope_at


class PlaceScopes:
    """Scopes by locality id, each with the data version it was read at; beyond `size`
    the least recently used go first. Locked: PostgreSQL's reads run on several threads."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[int, PlaceScope]] = OrderedDict()
        self._lock = Lock()

    def lookup(self, reader: Reader, *, kept: bool) -> "ScopeLookup":
        """Scopes for one page: kept ones where there are (`kept`), else read now."""
        return ScopeLookup(self, reader, kept)

    def get(self, locality_id: int) -> tuple[int, PlaceScope] | None:
        with self._lock:
            found = self._kept.get(locality_id)
            if found is not None:
                self._kept.move_to_end(locality_id)
            return found

    def put(self, locality_id: int, version: int, scope: PlaceScope) -> None:
        with self._lock:
            self._kept[locality_id] = (version, scope)
            self._kept.move_to_end(locality_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


class ScopeLookup:
    """The scopes that one page was written with, and the versions they were read at."""

    def __init__(self, scopes: PlaceScopes, reader: Reader, kept: bool) -> None:
        self.scopes = scopes
        self.reader = reader
        self.kept = kept
        self.versions: set[int | None] = set()

    def __call__(self, locality_id: int) -> PlaceScope:
        found = self.scopes.get(locality_id) if self.kept else None
        if found is None:
            scope, version = place_scope_at(self.reader, locality_id)  # 404 if none
            if version is not None:  # no version row (deleted by hand): nothing is kept
                self.scopes.put(locality_id, version, scope)
        else:
            version, scope = found
        self.versions.add(version)
        return scope

    def current_at(self, version: int | None) -> bool:
        """Whether every scope used was read at this version of the data."""
        return version is not None and self.versions <= {version}
