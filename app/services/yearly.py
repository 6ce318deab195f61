"""Per-year figures of a place's organizations, and their sums kept on write.

The rows are app.services.yearly_rows; their sums per commune (app.services.commune_totals)
and per province and district (app.services.place_totals) are refreshed inside every
write's transaction (`refresh_totals`) and in bulk after loads.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import select, text
from sqlmodel import Session, col

from app.models import Branch, Locality
from app.services.commune_totals import rebuild_communes, replace_with_staged, stage_every_commune
from app.services.place_totals import places_of, rebuild_places
from app.services.refs import table
from app.services.summary import MAX_DEPTH

# Communes whose totals a write made stale before its refresh runs (a branch moved away).
_STALE = "stale_commune_totals"
# PostgreSQL's memory for each sort and hash of a bulk rebuild: with the default 4 MB the
# rows of scale 1.0 (5.4 million) spill to disk at every step.
_BULK_WORK_MEM = "256MB"
# The first key of the advisory locks on places' sums (the second is the place's id): a
# number no other advisory lock uses.
_PLACE_LOCKS = 70601


def note_stale(session: Session, commune_ids: Iterable[int | None]) -> None:
    """A write is moving branches out of these communes: refresh them too."""
    session.info.setdefault(_STALE, set()).update(i for i in commune_ids if i is not None)


def affected_communes(session: Session, branch_ids: Iterable[int]) -> set[int]:
    """The communes of some branches and of their descendants (whose ancestors they are)."""
    b = table(Branch)
    communes: set[int] = set()
    frontier = sorted(set(branch_ids))
    for _ in range(MAX_DEPTH + 1):
        if not frontier:
            break
        rows = session.execute(
            select(b.c.commune_id).where(b.c.id.in_(frontier), b.c.commune_id.is_not(None))
        ).scalars()
        communes.update(rows)
        frontier = list(
            session.execute(select(b.c.id).where(b.c.parent_id.in_(frontier))).scalars()
        )
    return communes


@contextmanager
def _bulk_memory(session: Session) -> Iterator[None]:
    """PostgreSQL, for the statements of a bulk rebuild: memory enough to sort and hash
    most of the rows at once."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text(f"SET LOCAL work_mem = '{_BULK_WORK_MEM}'"))
    yield
    # Not in a `finally`: after an error the transaction is rolled back, setting and all.
    if postgres:
        session.execute(text("RESET work_mem"))


def refresh_totals(session: Session, branch_ids: Iterable[int] | None = None) -> None:
    """Recompute the totals of the communes some branches' writes touched (None: all),
    and of the provinces and districts those communes were and are in.

    Call after the write is flushed, inside its transaction. On PostgreSQL the communes'
    rows are locked first, in id order, so that two writes in one commune queue rather
    than both deleting and both inserting its totals; their places likewise, last.
    """
    session.flush()
    stale: set[int] = session.info.pop(_STALE, set())
    if branch_ids is None:
        with _bulk_memory(session):
            rebuild_communes(session, None)
            rebuild_places(session, None)
        return
    communes = sorted(affected_communes(session, branch_ids) | stale)
    if not communes:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        lock = select(col(Locality.id)).order_by(col(Locality.id)).with_for_update(key_share=True)
        session.execute(lock.where(col(Locality.id).in_(communes))).all()
    places = places_of(session, communes)
    rebuild_communes(session, communes)
    places |= places_of(session, communes)
    if postgres:
        _lock_places(session, places)
    rebuild_places(session, places)


def stage_totals(session: Session) -> None:
    """Every commune's totals computed into this connection's temporary table, writing
    nothing (app.services.commune_totals.stage_every_commune); `store_staged_totals`
    stores them, with the provinces' and districts' sums."""
    with _bulk_memory(session):
        stage_every_commune(session)


def store_staged_totals(session: Session) -> None:
    replace_with_staged(session)
    rebuild_places(session, None)


def _lock_places(session: Session, places: set[int]) -> None:
    """Two writes in different communes of a province both replace its sums: the second
    waits for the first to commit, then sums the first's communes' totals too.

    An advisory lock rather than the province's row: a write may already hold that row
    (an edit of the place itself) and be waiting for a commune this write holds.
    """
    for place in sorted(places):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :place)"),
            {"space": _PLACE_LOCKS, "place": place},
        )
