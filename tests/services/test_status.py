"""branch_status follows the calendar and the rule set."""

import asyncio
import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, exists, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from app.db import BEGIN_IMMEDIATE, make_engine, unpooled_session
from app.models import Branch, BranchStatus, Locality, LocalitySuccession, MembershipCount, Source
from app.services import status, status_day
from app.services.auth import Caller
from app.services.branch_items import stale_items
from app.services.refs import table
from app.services.risk_rules import RiskRules
from app.services.status import (
    STAGED_STATUS,
    behind_the_day,
    refresh_current_units,
    refresh_status,
    stage_status,
    stale_current_units,
    store_staged_status,
)
from app.services.status_day import (
    GRACE_S,
    REFRESHER_LOCK,
    is_stale,
    refresh_for_day,
    refresh_if_stale,
    stage_for_day,
    store_staged_in_chunks,
)
from app.services.writes import WriteContext, refresh
from tests.conftest import DatabaseFactory


def test_a_new_day_or_new_rules_make_the_status_stale(engine: Engine) -> None:
    rules = RiskRules()
    assert not is_stale(engine, rules, date.today())
    assert is_stale(engine, rules, date.today() + timedelta(days=1))
    assert is_stale(engine, RiskRules(min_members=10), date.today())


@pytest.mark.parametrize("rules_written", [RiskRules(), RiskRules(min_members=10)])
def test_a_write_before_the_days_refresh_does_not_hide_it(
    engine: Engine, rules_written: RiskRules
) -> None:
    """From a code review: a write stores its branches' rows for its own day (or rules),
    and one to the lowest branch id, the row read alone, made the whole status look
    current: every other branch kept yesterday's risk for the day."""
    rules, tomorrow = RiskRules(), date.today() + timedelta(days=1)
    with Session(engine) as session:
        lowest = session.exec(select(func.min(BranchStatus.branch_id))).one()
        refresh_status(session, rules_written, branch_ids=[lowest], today=tomorrow)
        session.commit()
    assert is_stale(engine, rules, tomorrow)
    assert refresh_if_stale(engine, rules, datetime.combine(tomorrow, time(12))) is True
    with Session(engine) as session:
        stamps = set(session.exec(select(BranchStatus.evaluated_on, BranchStatus.rules_version)))
    assert stamps == {(tomorrow, rules.version)}
    assert not is_stale(engine, rules, tomorrow)


def test_one_custom_rule_set_after_another_makes_the_status_stale(engine: Engine) -> None:
    """From a regression review: every custom set had one version ("+custom"), so a
    server started with other thresholds over rows stored under custom ones (synthetic
    data, which loads no seed) kept serving the old ones."""
    before, after = RiskRules(min_members=7), RiskRules(min_members=30)
    with Session(engine) as session:
        refresh_status(session, before)
        session.commit()
    assert not is_stale(engine, before, date.today())
    assert is_stale(engine, after, date.today())


def test_refresh_if_stale_recomputes_for_today(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(update(BranchStatus).values(evaluated_on=date(2000, 1, 1)))
        session.commit()
    noon = datetime.combine(date.today(), time(12))
    assert refresh_if_stale(engine, RiskRules(), noon) is True
    assert refresh_if_stale(engine, RiskRules(), noon) is False
    with Session(engine) as session:
        days = set(session.exec(select(BranchStatus.evaluated_on)).all())
    assert days == {date.today()}


def test_no_refresh_in_the_first_minute_of_a_day(engine: Engine) -> None:
    """A write that computed its status just before midnight may still be committing."""
    rules, tomorrow = RiskRules(), date.today() + timedelta(days=1)
    just_after = datetime.combine(tomorrow, time()) + timedelta(seconds=GRACE_S - 1)
    assert refresh_if_stale(engine, rules, just_after) is False
    assert is_stale(engine, rules, tomorrow)
    assert refresh_if_stale(engine, rules, just_after + timedelta(seconds=1)) is True
    assert not is_stale(engine, rules, tomorrow)


def _status_rows(session: Session) -> list[Any]:
    return sorted(session.execute(select(*table(BranchStatus).c)).all())


def test_staged_status_rows_stored_are_those_a_refresh_writes(engine: Engine) -> None:
    """A bulk build computes the status rows into a temporary table beside other work
    and stores them after: the same rows, under other rules too, and nothing left
    staged."""
    rules = RiskRules(min_members=10)
    with engine.connect() as connection, Session(bind=connection) as session:
        refresh_status(session, rules)
        refreshed = _status_rows(session)
        refresh_status(session, RiskRules())
        assert _status_rows(session) != refreshed  # the rules change some rows
        stage_status(session, rules)
        session.commit()  # the staged rows outlive the commit that ends their reads
        store_staged_status(session)
        assert _status_rows(session) == refreshed
        assert session.execute(select(func.count()).select_from(STAGED_STATUS)).scalar() == 0
        session.rollback()


def _rows_a_refresh_writes(engine: Engine, rules: RiskRules, day: date) -> list[Any]:
    with Session(engine) as session:
        refresh_status(session, rules, today=day)
        rows = _status_rows(session)
        session.rollback()
    return rows


def _all_rows(engine: Engine) -> list[Any]:
    with Session(engine) as session:
        return _status_rows(session)


def test_a_new_day_is_stored_in_chunks_as_a_refresh_writes_it(engine: Engine) -> None:
    rules, tomorrow = RiskRules(min_members=10), date.today() + timedelta(days=1)
    expected = _rows_a_refresh_writes(engine, rules, tomorrow)
    assert expected != _all_rows(engine)
    refresh_for_day(engine, rules, tomorrow, chunk=2)
    assert _all_rows(engine) == expected
    assert not is_stale(engine, rules, tomorrow)


def test_a_write_after_the_rows_were_computed_is_not_undone(engine: Engine) -> None:
    """The staged rows predate the write, which stored its branch's row for the day:
    that row is kept, the others stored."""
    rules, tomorrow = RiskRules(), date.today() + timedelta(days=1)
    with unpooled_session(engine) as session:
        stage_for_day(session, rules, tomorrow)
        with Session(engine) as writer:  # a count halved, its status refreshed: a write
            latest = select(col(BranchStatus.latest_count_id)).where(
                col(BranchStatus.latest_count_id).is_not(None)
            )
            count = writer.get(MembershipCount, writer.exec(latest.limit(1)).one())
            assert count is not None
            count.value //= 2
            writer.add(count)
            refresh_status(writer, rules, branch_ids=[count.branch_id], today=tomorrow)
            writer.commit()
        staged = sorted(session.execute(select(*STAGED_STATUS.c)).all())
        store_staged_in_chunks(session, rules, tomorrow, chunk=1)
    expected = _rows_a_refresh_writes(engine, rules, tomorrow)
    assert staged != expected  # the write changed a row
    assert _all_rows(engine) == expected


@pytest.mark.parametrize("chunk", [status.STATUS_CHUNK, 1])
def test_a_write_that_renames_a_source_is_not_undone_by_the_days_refresh(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """A write that changes no branch's figures re-renders the items that show what it
    changed; during the day's refresh their rows are brought to the day, which the
    refresh then leaves (re-rendered only, they were overwritten by the rows it had
    staged before: the items showed the old publisher until another write). Brought
    there a chunk of branches a statement (one each, here, too)."""
    monkeypatch.setattr(status, "STATUS_CHUNK", chunk)
    rules, tomorrow = RiskRules(), date.today() + timedelta(days=1)
    with unpooled_session(engine) as session:
        stage_for_day(session, rules, tomorrow)
        with Session(engine) as writer:
            shown = select(col(Branch.source_id)).where(col(Branch.source_id).is_not(None))
            source = writer.get(Source, writer.exec(shown.limit(1)).one())
            assert source is not None
            source.publisher = "Báo Đổi Tên"
            writer.add(source)
            context = WriteContext(caller=Caller(None, "test"), rules=rules, today=tomorrow)
            refresh(writer, context, [], sources=[source.id])
            writer.commit()
        store_staged_in_chunks(session, rules, tomorrow, chunk=1)
    with Session(engine) as session:
        assert stale_items(session, rules) == []
        items = session.exec(select(BranchStatus.item)).all()
    assert any("Báo Đổi Tên" in str(item) for item in items)


def test_a_refresh_cut_short_leaves_the_status_stale(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks go from the highest branch ids down, and is_stale reads the lowest:
    a refresh that dies after its first chunk is done again."""
    rules, tomorrow = RiskRules(), date.today() + timedelta(days=1)
    store_chunk = status_day._store_chunk
    chunks = 0

    def dies_at_the_second_chunk(session: Session, **kwargs: Any) -> None:
        nonlocal chunks
        chunks += 1
        if chunks == 2:
            raise RuntimeError("the process died")
        store_chunk(session, **kwargs)

    monkeypatch.setattr(status_day, "_store_chunk", dies_at_the_second_chunk)
    with pytest.raises(RuntimeError):
        refresh_for_day(engine, rules, tomorrow, chunk=3)
    days = dict(_day_of_each_branch(engine))
    highest = sorted(days, reverse=True)[:3]
    assert {days[i] for i in highest} == {tomorrow}
    assert {days[i] for i in days if i not in highest} == {date.today()}
    assert is_stale(engine, rules, tomorrow)
    monkeypatch.undo()
    noon = datetime.combine(tomorrow, time(12))
    assert refresh_if_stale(engine, rules, noon) is True
    assert set(dict(_day_of_each_branch(engine)).values()) == {tomorrow}


def _day_of_each_branch(engine: Engine) -> list[tuple[int, date]]:
    with Session(engine) as session:
        rows = session.execute(select(col(BranchStatus.branch_id), col(BranchStatus.evaluated_on)))
        return [(row.branch_id, row.evaluated_on) for row in rows]


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2026, 12, 4, 23, 59, 30), 30 + GRACE_S),
        (datetime(2026, 12, 5, 0, 0, 10), GRACE_S - 10),
        (datetime(2026, 12, 31, 0, 1, 0), 86_400 + GRACE_S - 60),
    ],
)
def test_the_keeper_looks_again_just_after_the_first_minute_of_a_day(
    now: datetime, seconds: float
) -> None:
    assert status_day.until_the_next_check(now) == seconds


class _Stopped(BaseException):
    """Ends the keeper's loop in a test (as a server's shutdown cancels it)."""


def test_the_keeper_tries_again_soon_after_any_failure(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """From an audit of the day's turn: an error the refresh did not catch ended the
    loop, and the process kept yesterday's status until it was restarted; one it caught
    was tried again an hour later."""
    outcomes: list[BaseException | bool] = [sqlite3.OperationalError("locked"), True]
    waits: list[float] = []

    def refresh_for_day(*_args: Any) -> bool:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not outcomes or len(waits) > 2:
            raise _Stopped

    class Noon(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "Noon":
            return cls(2026, 12, 8, 12)

    monkeypatch.setattr(status_day, "datetime", Noon)
    monkeypatch.setattr(status_day, "is_stale", lambda *_args: True)
    monkeypatch.setattr(status_day, "refresh_for_day", refresh_for_day)
    monkeypatch.setattr(status_day.asyncio, "sleep", sleep)
    url = engine.url.render_as_string(hide_password=False)
    with pytest.raises(_Stopped):
        asyncio.run(status_day.keep_status_current(url, RiskRules(), every_s=3600, retry_s=7))
    assert waits == [7, 3600] and outcomes == []
    assert "branch status not refreshed; trying again in 7 s" in caplog.text


def test_a_refresh_that_fails_says_what_the_database_said(
    databases: DatabaseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The log said only the error's class (OperationalError: a lock, a cancelled
    statement, a missing table and a refused password alike), where the README promised
    it says why."""
    engine = make_engine(databases.blank())  # no table: as a schema not migrated
    try:
        assert refresh_if_stale(engine, RiskRules(), datetime(2026, 12, 8, 12)) is False
    finally:
        engine.dispose()
    [said] = [r.getMessage() for r in caplog.records if r.name == "branchstats"]
    assert said.startswith("branch status not refreshed: ") and "branch_status" in said
    assert "\n" not in said


def test_a_database_locked_past_its_timeout_is_sqlalchemys_error(engine: Engine) -> None:
    """SQLite's BEGIN IMMEDIATE, run by an event of the engine's: the driver's error
    came out unwrapped, past every `except SQLAlchemyError` (the refresher's among them)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's lock")
    with engine.connect() as holder:
        holder.execution_options(**{BEGIN_IMMEDIATE: True}).exec_driver_sql("SELECT 1")
        with engine.connect() as writer:
            # On the driver's connection: through SQLAlchemy it would begin a transaction.
            writer.connection.driver_connection.execute("PRAGMA busy_timeout=0")
            writer.execution_options(**{BEGIN_IMMEDIATE: True})
            with pytest.raises(OperationalError, match="database is locked"):
                writer.exec_driver_sql("SELECT 1")
        holder.rollback()


@contextmanager
def _another_process_refreshing(engine: Engine) -> Iterator[None]:
    """What a refresh in another process holds (its lock), held here for the block."""
    if engine.dialect.name == "sqlite":
        with open(f"{engine.url.database}.status-day.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield
        return
    with engine.connect() as connection:
        assert connection.execute(select(func.pg_try_advisory_lock(REFRESHER_LOCK))).scalar()
        yield
        connection.execute(select(func.pg_advisory_unlock(REFRESHER_LOCK)))


def test_one_process_refreshes_the_day_while_the_others_wait(engine: Engine) -> None:
    """Each server worker keeps the status current: one computes it, the others do not
    compute it again meanwhile."""
    rules = RiskRules()
    noon = datetime.combine(date.today() + timedelta(days=1), time(12))
    before = _all_rows(engine)
    with _another_process_refreshing(engine):
        assert refresh_for_day(engine, rules, noon.date()) is False
        assert refresh_if_stale(engine, rules, noon) is False
        assert _all_rows(engine) == before
    assert refresh_if_stale(engine, rules, noon) is True
    assert not is_stale(engine, rules, noon.date())


def test_rows_of_another_day_or_rule_set_are_behind_the_day(engine: Engine) -> None:
    """A write brings to its day the rows the day's refresh has yet to store: those of
    another day, and those of another rule set."""
    rules, today = RiskRules(), date.today()
    with Session(engine) as session:
        ids = set(session.exec(select(BranchStatus.branch_id).limit(3)).all())
        assert len(ids) == 3
        assert behind_the_day(session, ids, rules, today) == set()
        assert behind_the_day(session, ids, rules, today + timedelta(days=1)) == ids
        assert behind_the_day(session, ids, RiskRules(min_members=10), today) == ids


def test_a_commune_ended_without_a_successor_is_no_ones_commune_today(engine: Engine) -> None:
    """A unit ended with no successor is no place's unit of today."""
    loc, succ = table(Locality), table(LocalitySuccession)
    with Session(engine) as session:
        no_successor = ~exists().where(succ.c.predecessor_id == loc.c.id)
        has_places = loc.c.id.in_(sa_select(loc.c.commune_id).where(loc.c.commune_id.is_not(None)))
        commune = session.execute(
            sa_select(loc.c.id)
            .where(loc.c.kind == "commune", loc.c.valid_to.is_(None), no_successor, has_places)
            .order_by(loc.c.id)
            .limit(1)
        ).scalar_one()
        under = sa_select(loc.c.current_commune_id).where(loc.c.commune_id == commune)
        assert set(session.execute(under).scalars()) == {commune}
        session.execute(update(loc).where(loc.c.id == commune).values(valid_to=date(2025, 6, 30)))
        refresh_current_units(session)
        assert set(session.execute(under).scalars()) == {None}
        assert stale_current_units(session) == []
        session.rollback()
