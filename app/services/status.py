"""Keeping branch_status (latest count, risk as of today) and current units in step.

Called after every load, import and write, for the branches touched or for all.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Engine,
    Index,
    MetaData,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col

from app.models import Branch, BranchStatus, Locality, LocalitySuccession
from app.models.data_version import DataVersion
from app.reader import Reader, session_dialect, shared
from app.services.branch_items import with_items
from app.services.refs import table
from app.services.risk import RiskDay, risk_select
from app.services.risk_rules import RiskRules

# Rows of each index a sampled ANALYZE reads on SQLite (PRAGMA analysis_limit).
SAMPLED_ROWS = 1000


CURRENT_LEVELS = ("province", "commune")


def _unit_today(level: str) -> Any:
    """What a locality's province or commune (`level`) is today: a unit that a succession
    replaced, its successor; a unit still valid, itself; an abolished unit without
    successor (a district), none."""
    loc = table(Locality)
    succ = table(LocalitySuccession)
    current = aliased(Locality)
    ancestor = loc.c[f"{level}_id"]
    successor = (
        select(succ.c.successor_id)
        .where(succ.c.predecessor_id == ancestor)
        .order_by(succ.c.successor_id)
        .limit(1)
        .scalar_subquery()
    )
    itself_if_valid = (
        select(col(current.id))
        .where(col(current.id) == ancestor, col(current.valid_to).is_(None))
        .scalar_subquery()
    )
    return func.coalesce(successor, itself_if_valid)


def stored_status_day(reader: Reader) -> date:
    """The day the stored statuses are of: today's once the day's refresh has run; the
    day before from midnight until it has (a minute at least: app.services.status_day),
    the earliest of theirs while it runs. Today's for a database without them."""
    day = reader.scalar(_earliest_status_day)
    return date.fromisoformat(day) if isinstance(day, str) else (day or date.today())


def _earliest_status_day() -> Select[Any]:
    return select(func.min(table(BranchStatus).c.evaluated_on))  # first of its index


def refresh_current_units(session: Session) -> None:
    """Set what each locality's province and commune are today (2025 reform successors)."""
    loc = table(Locality)
    for level in CURRENT_LEVELS:
        unit_today = _unit_today(level)
        stored = loc.c[f"current_{level}_id"]
        # Only the rows that change: after a bulk load every unit is already current, and
        # rewriting all 106,000 localities cost PostgreSQL 21 s at scale 1.0.
        session.execute(
            update(loc).where(stored.is_distinct_from(unit_today)).values({stored: unit_today})
        )


def stale_current_units(session: Session) -> list[int]:
    """The localities whose stored province or commune of today is not what their
    successions give now (should be none)."""
    loc = table(Locality)
    stale = or_(
        *(
            loc.c[f"current_{level}_id"].is_distinct_from(_unit_today(level))
            for level in CURRENT_LEVELS
        )
    )
    return list(session.execute(select(loc.c.id).where(stale).order_by(loc.c.id)).scalars())


def stale_status_provinces(session: Session) -> list[int]:
    """Branches whose status row keeps another province than the branch's own (should be
    none: lists by province read the status row's)."""
    moved = (
        select(col(BranchStatus.branch_id))
        .join(Branch, col(Branch.id) == col(BranchStatus.branch_id))
        .where(col(BranchStatus.province_id).is_distinct_from(col(Branch.province_id)))
        .order_by(col(BranchStatus.branch_id))
    )
    return list(session.execute(moved).scalars())


def lock_data_version(session: Session) -> None:
    """PostgreSQL: lock the data version's row until the transaction ends.

    Every writing transaction raises the version (migration 0008's triggers), locking
    that row at its first write anyway. Taken first, it is every writer's first lock, and
    writers queue on it rather than deadlock on the order of the rest: a count's write
    held the version and waited for branch_status while the day's refresh held
    branch_status and waited for the version, and PostgreSQL cancelled one of them.
    """
    if session.get_bind().dialect.name != "sqlite":
        version = select(col(DataVersion.id)).where(col(DataVersion.id) == 1)
        session.execute(version.with_for_update(key_share=True))


# Branches whose status one statement computes, for a write's (some 0.4 ms each on
# PostgreSQL at scale 0.1).
STATUS_CHUNK = 2_000


def refresh_status(
    session: Session,
    rules: RiskRules,
    *,
    branch_ids: Iterable[int] | None = None,
    today: date | None = None,
) -> None:
    """Recompute branch_status as of today, items included, for some branches or (None)
    for all."""
    today = today or date.today()
    ids = None if branch_ids is None else sorted(set(branch_ids))
    if ids is not None and not ids:
        return
    # Two writes about one branch would each delete its status row and insert a new one:
    # on PostgreSQL the second's DELETE waits for the first, then misses the row the first
    # inserted, and its INSERT fails the primary key (a 409 for a valid write; issue 8,
    # soak). Lock the branches first, in id order: the second write waits here, and then
    # reads what the first committed. FOR NO KEY UPDATE, so that the foreign-key locks of
    # figures being inserted do not conflict. (SQLite: the transaction holds the database's
    # write lock already, see app.services.writes._begin.)
    postgres = session.get_bind().dialect.name != "sqlite"
    target = table(BranchStatus)
    if ids is None:
        if postgres:
            # The whole table: one table lock, rather than a row lock on every branch
            # (270,000 at national scale). Writers lock the data version, branch rows,
            # then this table: the same order.
            lock_data_version(session)
            session.execute(text("LOCK TABLE branch_status IN SHARE ROW EXCLUSIVE MODE"))
        session.execute(delete(target))
        insert_all = _insert_status(session_dialect(session), rules, scoped=False)
        session.execute(insert_all, RiskDay.params(today, rules))
        return
    insert_some = _insert_status(session_dialect(session), rules, scoped=True)
    # A chunk a statement: a rename a province's branches show took 5 s in one on
    # PostgreSQL at scale 0.1 (12,000 branches), the statement limit of a request.
    for start in range(0, len(ids), STATUS_CHUNK):
        part = ids[start : start + STATUS_CHUNK]
        if postgres:
            lock = select(col(Branch.id)).order_by(col(Branch.id)).with_for_update(key_share=True)
            session.execute(lock.where(col(Branch.id).in_(part))).all()
        session.execute(delete(target).where(target.c.branch_id.in_(part)))
        session.execute(insert_some, RiskDay.params(today, rules) | {"branch_ids": part})


# Branch ids asked about per statement (SQLite's bound parameters are limited).
BEHIND_CHUNK = 5_000


def behind_the_day(
    session: Session, branch_ids: Iterable[int], rules: RiskRules, today: date
) -> set[int]:
    """Those of the branches whose status row is of another day or rule set.

    While the day's refresh (app.services.status_day) stores its rows, these are the ones
    it has yet to store, from rows it may have computed before a write that runs now: a
    write that only re-rendered their items would see them overwritten by the staged
    ones, its change undone until another write.
    """
    target = table(BranchStatus)
    ids = sorted(set(branch_ids))
    found: set[int] = set()
    for start in range(0, len(ids), BEHIND_CHUNK):
        query = select(target.c.branch_id).where(
            target.c.branch_id.in_(ids[start : start + BEHIND_CHUNK]),
            or_(target.c.evaluated_on != today, target.c.rules_version != rules.version),
        )
        found.update(session.execute(query).scalars())
    return found


def stage_status(session: Session, rules: RiskRules, *, today: date | None = None) -> None:
    """Every branch's status row, as refresh_status computes it, into the temporary
    table STAGED_STATUS of this session's connection: reads only, beside other work (a
    bulk build's totals, app.synth). `store_staged_status` then stores them."""
    session.execute(CreateTable(STAGED_STATUS, if_not_exists=True))
    session.execute(delete(STAGED_STATUS))
    params = RiskDay.params(today or date.today(), rules)
    dialect = session_dialect(session)
    session.execute(_insert_status(dialect, rules, scoped=False, into=STAGED_STATUS), params)


def store_staged_status(session: Session) -> None:
    """Every branch's status replaced by the rows `stage_status` computed (same
    connection)."""
    target = table(BranchStatus)
    if session.get_bind().dialect.name != "sqlite":
        # As refresh_status: the whole table, one lock.
        lock_data_version(session)
        session.execute(text("LOCK TABLE branch_status IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(delete(target))
    columns = list(target.c.keys())
    session.execute(insert(target).from_select(columns, select(*STAGED_STATUS.c)))
    session.execute(delete(STAGED_STATUS))


# branch_status's columns, without its keys, checks and indexes, in a temporary table kept
# across commits (its rows are emptied by store_staged_status).
STAGED_STATUS = Table(
    "staged_status",
    MetaData(),
    *(Column(c.name, c.type) for c in table(BranchStatus).c),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="PRESERVE ROWS",
)
# Created where the staged rows are joined to the stored ones by branch.
STAGED_BY_BRANCH = Index("staged_status_branch", STAGED_STATUS.c.branch_id)

# What a status row holds that its branch's rows decide, as of its day (its item is
# compared by app.services.branch_items.stale_items, its province by
# stale_status_provinces).
DECIDED_COLUMNS = (
    "latest_count_id",
    "members_low",
    "members_high",
    "members_sort",
    "risk_level",
    "risk_rank",
    "criteria_met",
    "newest_evidence_date",
    "rules_version",
)


@dataclass(frozen=True)
class StaleStatus:
    """A branch whose status row is not what its rows give as of the row's day (`as_of`):
    `columns` differ; or (`as_of` None) that has no status row, so no list shows it."""

    branch_id: int
    as_of: date | None
    columns: tuple[str, ...]


def stale_statuses(session: Session, rules: RiskRules) -> list[StaleStatus]:
    """The branches whose status row (latest count, risk) is not what computing it again
    as of the day it was evaluated on gives, under `rules` (should be none), and those
    without one.

    Computed into STAGED_STATUS, as the day's refresh does, once for each day the rows
    were evaluated on (one, or two while the day turns: a write stores its rows for the
    new day before the refresh reaches the rest). Rows the day has not reached yet are
    stale only by date, which the refresh is for: not named.
    """
    stored = table(BranchStatus)
    staged = STAGED_STATUS.c
    days = session.execute(select(stored.c.evaluated_on).distinct()).scalars().all()
    found: dict[int, StaleStatus] = {}
    # Made before any day is staged: a database without status rows stages none, and the
    # cleaning up below still reads the table.
    session.execute(CreateTable(STAGED_STATUS, if_not_exists=True))
    try:
        for day in sorted(days):
            stage_status(session, rules, today=day)
            session.execute(CreateIndex(STAGED_BY_BRANCH, if_not_exists=True))
            differs = {
                name: stored.c[name].is_distinct_from(staged[name]) for name in DECIDED_COLUMNS
            }
            query = (
                select(stored.c.branch_id, *(d.label(name) for name, d in differs.items()))
                .join(STAGED_STATUS, staged.branch_id == stored.c.branch_id)
                .where(stored.c.evaluated_on == day, or_(*differs.values()))
            )
            for row in session.execute(query):
                columns = tuple(name for name in DECIDED_COLUMNS if row._mapping[name])
                found[row.branch_id] = StaleStatus(row.branch_id, day, columns)
    finally:
        session.execute(delete(STAGED_STATUS))
    branches = table(Branch)
    missing = select(branches.c.id).where(~exists().where(stored.c.branch_id == branches.c.id))
    for branch_id in session.execute(missing).scalars():
        found[branch_id] = StaleStatus(branch_id, None, ())
    return [found[branch_id] for branch_id in sorted(found)]


@shared(maxsize=32)
def _insert_status(
    dialect: Dialect, rules: RiskRules, *, scoped: bool, into: Table | None = None
) -> Insert:
    """The status rows of every branch, or (`scoped`) of the parameter `branch_ids`, as
    of the parameters of RiskDay; into branch_status, or the table `into`.

    Built once per database and rules: building it anew took a quarter of a write's
    time, and the day and the branches are parameters.
    """
    scope = (lambda b: b.c.id.in_(bindparam("branch_ids", expanding=True))) if scoped else None
    rows = risk_select(rules, RiskDay.bound(), scope=scope, few_branches=scoped).subquery()
    status_rows = select(
        rows.c.branch_id,
        rows.c.count_id.label("latest_count_id"),
        rows.c.members_low,
        rows.c.members_high,
        func.coalesce(rows.c.members_low, -1).label("members_sort"),
        rows.c.level.label("risk_level"),
        rows.c.rank.label("risk_rank"),
        rows.c.criteria_met,
        rows.c.newest_evidence_date,
        literal(rules.version).label("rules_version"),
        bindparam("as_of", type_=Date).label("evaluated_on"),
    )
    return insert(table(BranchStatus) if into is None else into).from_select(
        [*status_rows.selected_columns.keys(), "province_id", "item"],
        with_items(status_rows, dialect, rules),
    )


def analyze(engine: Engine, *, sampled: bool = False) -> None:
    """Refresh the planner's statistics after a bulk change.

    Without them SQLite guessed join orders badly (a members-sorted page went from 2 ms
    to 350 ms at 27,000 branches); PostgreSQL's autovacuum would get there, later.
    `sampled`: SQLite reads at most SAMPLED_ROWS rows of each index, as PostgreSQL
    always samples (see app.synth._refresh).
    """
    with engine.begin() as connection:
        if sampled and engine.dialect.name == "sqlite":
            connection.exec_driver_sql(f"PRAGMA analysis_limit={SAMPLED_ROWS}")
        connection.exec_driver_sql("ANALYZE")
        if sampled and engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
    vacuum_status(engine)


def vacuum_status(engine: Engine) -> None:
    """PostgreSQL, after every status row was rewritten: without a VACUUM the table stays
    twice its size, half of it dead rows, and its index-only scans (the count of an
    at-risk list) visit the heap, until autovacuum comes by."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) branch_status")


def release_counts(session: Session, count_ids: Iterable[int]) -> None:
    """Status rows stop pointing at these counts, about to be deleted (latest_count_id
    is a foreign key); the refresh of their branches names each one's new latest."""
    ids = list(count_ids)
    if ids:
        session.execute(
            update(BranchStatus)
            .where(col(BranchStatus.latest_count_id).in_(ids))
            .values(latest_count_id=None)
        )
