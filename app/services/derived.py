"""Everything stored from the rows to be served, recomputed at once.

Each write keeps what it touches current in its own transaction. Rows changed behind
the service's back (SQL by hand, a restored backup) leave it behind, which
`branchstats check` reports (app.services.data_check); this recomputes all of it: the
search fields and words of every locality and branch whose names changed, every
locality's units of today, every branch's status and list item, every commune's yearly
totals and their sums. One transaction, as a writer: other writes wait for it as for
any writer, up to their timeouts (at national scale it takes longer than those: a
refresh is for a quiet time, as app.services.status_day explains of a day's refresh).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col

from app.db import begin_writing
from app.ingest.places import (
    branch_search_fields,
    locality_search_fields,
    stale_search,
    sync_locality_words,
)
from app.models import Branch, Locality
from app.models.localities import LocalityWord
from app.services.refs import table
from app.services.risk_rules import RiskRules
from app.services.status import refresh_current_units, refresh_status
from app.services.yearly import refresh_totals

# Ids in one IN list: below SQLite's limit on a statement's variables (32,766).
ID_CHUNK = 10_000


@dataclass(frozen=True)
class Refreshed:
    """How many search fields were out of date (everything else is recomputed whole)."""

    localities_searched: int
    branches_searched: int


def refresh_derived(session: Session, rules: RiskRules) -> Refreshed:
    """Recompute everything derived from the rows; the caller commits."""
    begin_writing(session)
    stale = stale_search(session)
    localities = _refresh_locality_search(session, stale["localities"])
    for branch in _rows(session, Branch, stale["branches"]):
        fields = branch_search_fields(branch.name, branch.description)
        branch.search_key, branch.name_lower, branch.name_order = fields
    refresh_current_units(session)
    refresh_status(session, rules)
    refresh_totals(session)
    return Refreshed(localities, len(stale["branches"]))


def _refresh_locality_search(session: Session, ids: list[int]) -> int:
    """The search fields and words of these localities, from their names; the words of
    ids that are no locality's, deleted. How many localities were refreshed."""
    refreshed = []
    for locality in _rows(session, Locality, ids):
        fields = locality_search_fields(locality.name, locality.official_name)
        locality.search_key, locality.name_lower, locality.name_order = fields
        refreshed.append(locality)
    sync_locality_words(session, refreshed)
    orphaned = sorted(set(ids) - {locality.id for locality in refreshed})
    words = table(LocalityWord)
    for chunk in _chunks(orphaned):
        session.execute(delete(words).where(words.c.locality_id.in_(chunk)))
    return len(refreshed)


def _rows(session: Session, model: Any, ids: list[int]) -> Iterator[Any]:
    for chunk in _chunks(ids):
        yield from session.scalars(select(model).where(col(model.id).in_(chunk)))


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]
