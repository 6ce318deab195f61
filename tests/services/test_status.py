"""branch_status follows the calendar and the rule set."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from app.models import BranchStatus
from app.services.refs import table
from app.services.risk_rules import RiskRules
from app.services.status import (
    STAGED_STATUS,
    is_stale,
    refresh_if_stale,
    refresh_status,
    stage_status,
    store_staged_status,
)


def test_a_new_day_or_new_rules_make_the_status_stale(engine: Engine) -> None:
    rules = RiskRules()
    assert not is_stale(engine, rules, date.today())
    assert is_stale(engine, rules, date.today() + timedelta(days=1))
    assert is_stale(engine, RiskRules(min_members=10), date.today())


def test_refresh_if_stale_recomputes_for_today(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(update(BranchStatus).values(evaluated_on=date(2000, 1, 1)))
        session.commit()
    assert refresh_if_stale(engine, RiskRules()) is True
    assert refresh_if_stale(engine, RiskRules()) is False
    with Session(engine) as session:
        days = set(session.exec(select(BranchStatus.evaluated_on)).all())
    assert days == {date.today()}


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
