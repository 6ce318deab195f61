"""What a place covers (itself and every unit it replaced), read, or kept between
requests and then trusted only by a page that read the same data version (issue 7).

A list filtered by a place (`/branches?province=1`) needs the units the place covers
before its statement can be written (`place_scope`, below): on PostgreSQL a round trip
of its own in every request, for an answer that changes only when the data does. A
province's first page at scale 1.0 on PostgreSQL, built each time, served 535-803
requests a second with the scope read each time and 620-877 with it kept (2026-12-04,
six rounds alternated; README.md, "How").

A kept scope is used by a page that reads the data version in its own statement
(app.services.listing.fetch_page, `versioned`), and the page stands only if that is the
version the scope was read at: the scope was then current for the very state of the
data that the page read. Otherwise (a write in between, or an empty page, which carries
no version) the scope is read again and the page with it, as without a kept scope.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, bindparam, cast, select

from app.errors import ApiError, not_found
from app.models import Locality, LocalitySuccession
from app.models.vocab import LEVEL_OF_KIND
from app.reader import Reader, Row
from app.services.data_version import version_column
from app.services.listing import Page
from app.services.refs import table
from app.services.versioned_memo import VersionedMemo


@dataclass(frozen=True)
class PlaceScope:
    """A unit's kind, and the units it covers (itself and all it replaced) by level."""

    kind: str
    units: dict[str, list[int]]


def place_scope(reader: Reader, locality_id: int, field: str | None = None) -> PlaceScope:
    """A unit and every unit it replaced (transitively), grouped by level; 404 if none,
    naming `field`, the input that asked for it (query.province), when given.

    Today's Lào Cai province covers old Yên Bái and old Lào Cai: figures reported
    under either are "in" today's Lào Cai. One statement: lists filtered by place ask
    this on every request.
    """
    return _scope(
        reader.rows(_covered_units, False, params={"locality_id": locality_id}),
        locality_id,
        field,
    )


def place_scope_at(
    reader: Reader, locality_id: int, field: str | None = None
) -> tuple[PlaceScope, int | None]:
    """place_scope, and the data version it was read at (for PlaceScopes)."""
    rows = reader.rows(_covered_units, True, params={"locality_id": locality_id})
    # Every row carries the version, the same: the one the statement read.
    return _scope(rows, locality_id, field), rows[0][2]


def _scope(rows: list[Row], locality_id: int, field: str | None) -> PlaceScope:
    kind = None
    units: dict[str, list[int]] = defaultdict(list)
    for ident, unit_kind, *_ in rows:
        units[LEVEL_OF_KIND[unit_kind]].append(ident)
        if ident == locality_id:
            kind = unit_kind
    if kind is None:
        raise not_found("Locality", locality_id, field)
    return PlaceScope(kind, dict(units))


def scope_of(reader: Reader, locality_id: int, field: str | None = None) -> dict[str, list[int]]:
    return place_scope(reader, locality_id, field).units


def _covered_units(versioned: bool) -> Select[Any]:
    succession, loc = table(LocalitySuccession), table(Locality)
    covered = select(cast(bindparam("locality_id"), Integer).label("id")).cte(
        "covered", recursive=True
    )
    # UNION, not UNION ALL: a cycle of successions would otherwise never end.
    covered = covered.union(
        select(succession.c.predecessor_id).join(covered, succession.c.successor_id == covered.c.id)
    )
    # IN, not a join: SQLite then looks the few units up by key instead of scanning them all.
    covering = loc.c.id.in_(select(covered.c.id))
    columns = [loc.c.id, loc.c.kind, *([version_column()] if versioned else [])]
    return select(*columns).where(covering).order_by(loc.c.id)


class PlaceScopes(VersionedMemo[int, PlaceScope]):
    """Scopes by locality id, each with the data version it was read at."""

    def lookup(self, reader: Reader, *, kept: bool) -> "ScopeLookup":
        """Scopes for one page: kept ones where there are (`kept`), else read now."""
        return ScopeLookup(self, reader, kept)


class ScopeLookup:
    """The scopes that one page was written with, and the versions they were read at."""

    def __init__(self, scopes: PlaceScopes, reader: Reader, kept: bool) -> None:
        self.scopes = scopes
        self.reader = reader
        self.kept = kept
        self.versions: set[int | None] = set()

    def __call__(self, locality_id: int, field: str | None = None) -> PlaceScope:
        found = self.scopes.get(locality_id) if self.kept else None
        if found is None:
            scope, version = place_scope_at(self.reader, locality_id, field)  # 404 if none
            if version is not None:  # no version row (deleted by hand): nothing is kept
                self.scopes.put(locality_id, version, scope)
        else:
            version, scope = found
        self.versions.add(version)
        return scope

    def current_at(self, version: int | None) -> bool:
        """Whether every scope used was read at this version of the data."""
        return version is not None and self.versions <= {version}


def reads_kept(lookup: ScopeLookup | None) -> bool:
    """Whether a page written with `lookup` must read the data version: its scopes may
    be kept ones."""
    return lookup is not None and lookup.kept


def scoped_page(
    scopes: PlaceScopes | None, reader: Reader, page_with: Callable[[ScopeLookup | None], Page]
) -> Page:
    """A page of a list filtered by places: `page_with(lookup)` writes it with the scopes
    that `lookup` gives (versioned when they may be kept ones), or with None reads them.

    Tried with the kept scopes first; the page stands if it read the version they were
    read at. Else, or on any error, the scopes are read again and the page with them.
    """
    if scopes is None:
        return page_with(None)
    lookup = scopes.lookup(reader, kept=True)
    try:
        found: Page | None = page_with(lookup)
    except ApiError:
        found = None  # a kept scope's kind may be out of date: asked again below
    if found is not None and lookup.current_at(found.data_version):
        return found
    return page_with(scopes.lookup(reader, kept=False))
