"""branch_status brought to a new day (or new rules) while the service keeps serving.

Risk "as of today" changes with the date, and each stored list item says the day it was
evaluated on: when the day turns, every status row is computed again. At national scale
that is 35-60 s of work, and done in one locked transaction (`refresh_status`) it held up
every write for as long: PostgreSQL's writes waited on the table lock past their 5 s
statement limit, SQLite's on the write lock past their 10 s busy timeout, and got 503s.

Here the rows are computed into a temporary table with reads only (`stage_status`), then
stored in short transactions of STORE_CHUNK branches each, over the rows that are not yet
current. A write meanwhile refreshes the status rows it changes for the new day (each
write recomputes the rows that show what it changed), and those rows are left as the
write stored them: the staged ones may predate it.

That holds for a write that computed its status for the new day. One that computed it
just before midnight and committed after the rows were staged would have its rows taken
for stale ones: so nothing is staged in the first GRACE_S after midnight, by which time
every write of the old day has ended (a request's statements stop after 5 s).
"""

import asyncio
import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    Date,
    Engine,
    Integer,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.dml import Update
from sqlmodel import Session, col

from app.db import BEGIN_IMMEDIATE, make_engine, said_by_the_database, unpooled_session
from app.log_config import SERVICE_LOGGER
from app.models import BranchStatus
from app.services.refs import table
from app.services.risk_rules import RiskRules
from app.services.status import (
    STAGED_BY_BRANCH,
    STAGED_STATUS,
    lock_data_version,
    stage_status,
    vacuum_status,
)

log = logging.getLogger(SERVICE_LOGGER)
# Branches stored per transaction: 0.13-0.9 s of lock each at national scale, where all
# 274,473 in one statement took 13-15 s on either database, past the 5 s a write's
# statement may wait on PostgreSQL (10 s for SQLite's lock).
STORE_CHUNK = 5_000
GRACE_S = 60
# PostgreSQL's advisory lock of the day's refresh (any number unique to this use).
REFRESHER_LOCK = 0x6272_7374_6474


def is_stale(engine: Engine, rules: RiskRules, today: date) -> bool:
    """Some branch_status row was computed for another day or another rule set.

    Any row: a write stores the rows of the branches it changes for its own day, so one
    row of the new day says nothing of the others (the lowest id's, read alone here
    before, made a write to that branch on a new day hide the day's refresh). Four seeks
    on the index by day and rules, each finding no row when all are current.
    """
    day, version = col(BranchStatus.evaluated_on), col(BranchStatus.rules_version)
    other = (
        day < today,
        day > today,
        and_(day == today, version < rules.version),
        and_(day == today, version > rules.version),
    )
    with Session(engine) as session:
        return bool(session.execute(select(or_(*(exists().where(o) for o in other)))).scalar())


def refresh_if_stale(engine: Engine, rules: RiskRules, now: datetime | None = None) -> bool:
    """Bring the status to today if it is not; not in the first GRACE_S of a day. A
    database that fails it (unmigrated, unreachable, locked past the busy timeout) is
    said in the log, and left for later."""
    try:
        return refresh_stale(engine, rules, now)
    except SQLAlchemyError as exc:
        log.warning("branch status not refreshed: %s", said_by_the_database(exc))
        return False


def refresh_stale(engine: Engine, rules: RiskRules, now: datetime | None = None) -> bool:
    """refresh_if_stale, its failures raised."""
    now = now or datetime.now()
    today = now.date()
    if now < datetime.combine(today, time()) + timedelta(seconds=GRACE_S):
        return False
    if not is_stale(engine, rules, today):
        return False
    if not refresh_for_day(engine, rules, today):
        return False
    log.info("branch status refreshed for %s (rules %s)", today, rules.version)
    return True


def refresh_for_day(
    engine: Engine, rules: RiskRules, today: date, *, chunk: int = STORE_CHUNK
) -> bool:
    """Every status row as of `today` under `rules`, stored in short transactions; False
    if another process is at it (each worker of a server keeps the status current)."""
    with unpooled_session(engine) as session, _the_only_refresher(session) as alone:
        if not alone:
            return False
        stage_for_day(session, rules, today)
        store_staged_in_chunks(session, rules, today, chunk=chunk)
        session.execute(delete(STAGED_STATUS))
        session.commit()
    vacuum_status(engine)
    return True


@contextmanager
def _the_only_refresher(session: Session) -> Iterator[bool]:
    """Whether no other process is refreshing the day on this database, held for the
    block: PostgreSQL's advisory lock on the session's connection; SQLite's database
    file, a lock on a file beside it (released by the system if the process dies)."""
    connection = session.get_bind()
    if connection.dialect.name != "sqlite":
        alone = session.execute(select(func.pg_try_advisory_lock(REFRESHER_LOCK))).scalar()
        session.commit()
        try:
            yield bool(alone)
        finally:
            if alone:
                session.rollback()  # whatever failed in the block
                session.execute(select(func.pg_advisory_unlock(REFRESHER_LOCK)))
                session.commit()
        return
    database = connection.engine.url.database  # a file's (app.db.make_engine)
    with open(f"{database}.status-day.lock", "a+b") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def stage_for_day(session: Session, rules: RiskRules, today: date) -> None:
    """Every branch's status row into STAGED_STATUS, with reads only."""
    stage_status(session, rules, today=today)
    session.execute(CreateIndex(STAGED_BY_BRANCH, if_not_exists=True))
    session.commit()


def store_staged_in_chunks(
    session: Session, rules: RiskRules, today: date, *, chunk: int = STORE_CHUNK
) -> None:
    """Store the staged rows over those not evaluated on `today` under `rules`, `chunk`
    branches a transaction, from the highest ids down."""
    ids = list(
        session.execute(
            select(STAGED_STATUS.c.branch_id).order_by(STAGED_STATUS.c.branch_id.desc())
        ).scalars()
    )
    session.commit()
    # The session's one connection (its temporary tables hold the staged rows); SQLite
    # takes the write lock as each transaction begins, so that none fails upgrading a
    # read to a write.
    connection = session.get_bind()
    assert isinstance(connection, Connection)
    connection.execution_options(**{BEGIN_IMMEDIATE: True})
    try:
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            _store_chunk(session, low=part[-1], high=part[0], today=today, rules=rules)
    finally:
        connection.execution_options(**{BEGIN_IMMEDIATE: False})


def _store_chunk(session: Session, *, low: int, high: int, today: date, rules: RiskRules) -> None:
    lock_data_version(session)  # as every writer does first (PostgreSQL)
    params = {"low": low, "high": high, "as_of": today, "rules_version": rules.version}
    session.execute(_STORE_OVER_STALE_ROWS, params)
    session.commit()


def _store_over_stale_rows() -> Update:
    """The staged rows of the branches `low` to `high` over their status rows, those
    not evaluated on `as_of` under `rules_version`."""
    target = table(BranchStatus)
    staged = STAGED_STATUS.c
    low, high = bindparam("low", type_=Integer), bindparam("high", type_=Integer)
    return (
        update(target)
        .values({c.name: staged[c.name] for c in target.c if c.name != "branch_id"})
        .where(
            target.c.branch_id == staged.branch_id,
            staged.branch_id.between(low, high),
            target.c.branch_id.between(low, high),
            or_(
                target.c.evaluated_on != bindparam("as_of", type_=Date),
                target.c.rules_version != bindparam("rules_version"),
            ),
        )
    )


_STORE_OVER_STALE_ROWS = _store_over_stale_rows()


def until_the_next_check(now: datetime) -> float:
    """Seconds until GRACE_S past the next midnight (or this one's, if still ahead)."""
    check = datetime.combine(now.date(), time()) + timedelta(seconds=GRACE_S)
    if check <= now:
        check += timedelta(days=1)
    return (check - now).total_seconds()


async def keep_status_current(
    database_url: str, rules: RiskRules, every_s: float = 3600, retry_s: float = GRACE_S
) -> None:
    """Risk "as of today" changes with the date: recompute when the day turns (checked
    every `every_s` and just after midnight; `retry_s` after a refresh that failed).

    Runs in a worker thread so that requests keep being served meanwhile. A failure of
    any kind is logged and tried again: one left to end the loop stopped the refresher
    for the process's life, and every answer stayed at the day it failed on; one tried
    again at the hour left the stored rows and the answers computed live a day apart.
    """
    engine = make_engine(database_url)
    try:
        while True:
            try:
                await asyncio.to_thread(refresh_stale, engine, rules)
                wait = min(every_s, until_the_next_check(datetime.now()))
            except Exception:
                log.exception("branch status not refreshed; trying again in %.0f s", retry_s)
                wait = retry_s
            await asyncio.sleep(wait)
    finally:
        engine.dispose()
