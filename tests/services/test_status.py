"""branch_status follows the calendar and the rule set."""

from datetime import date, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from app.models import BranchStatus
from app.services.risk_rules import RiskRules
from app.services.status import is_stale, refresh_if_stale


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
