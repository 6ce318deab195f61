"""Keeping branch_status (latest count, risk as of today) and current units in step.

Called after every load, import and write, for the branches touched or for all.
"""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Engine, delete, func, insert, literal, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.models import BranchStatus, Locality, LocalitySuccession
from app.services.risk import risk_select
from app.services.risk_rules import RiskRules


def refresh_current_units(session: Session) -> None:
    """Set what each locality's province and commune are today (2025 reform successors).

    A unit that a succession replaced points to its successor; a unit still valid
    points to itself; an abolished unit without successor (a district) points nowhere.
    """
    loc = Locality.__table__
    succ = LocalitySuccession.__table__
    current = aliased(Locality)
    for level in ("province", "commune"):
        ancestor = loc.c[f"{level}_id"]
        successor = (
            select(succ.c.successor_id)
            .where(succ.c.predecessor_id == ancestor)
            .order_by(succ.c.successor_id)
            .limit(1)
            .scalar_subquery()
        )
        itself_if_valid = (
            select(current.id)
            .where(current.id == ancestor, current.valid_to.is_(None))
            .scalar_subquery()
        )
        session.execute(
            update(loc).values({f"current_{level}_id": func.coalesce(successor, itself_if_valid)})
        )


def refresh_status(
    session: Session,
    rules: RiskRules,
    *,
    branch_ids: Iterable[int] | None = None,
    today: date | None = None,
) -> None:
    """Recompute branch_status as of today, for some branches or (None) for all."""
    today = today or date.today()
    ids = None if branch_ids is None else sorted(set(branch_ids))
    target = BranchStatus.__table__
    if ids is not None:
        if not ids:
            return
        session.execute(delete(target).where(target.c.branch_id.in_(ids)))
        query = risk_select(rules, today, scope=lambda b: b.c.id.in_(ids))
    else:
        session.execute(delete(target))
        query = risk_select(rules, today)
    rows = query.subquery()
    session.execute(
        insert(target).from_select(
            [
                "branch_id",
                "latest_count_id",
                "members_low",
                "members_high",
                "risk_level",
                "risk_rank",
                "criteria_met",
                "newest_evidence_date",
                "rules_version",
                "evaluated_on",
            ],
            select(
                rows.c.branch_id,
                rows.c.count_id,
                rows.c.members_low,
                rows.c.members_high,
                rows.c.level,
                rows.c.rank,
                rows.c.criteria_met,
                rows.c.newest_evidence_date,
                literal(rules.version),
                literal(today),
            ),
        )
    )


def refresh_all(engine: Engine, rules: RiskRules | None = None) -> None:
    """Recompute everything derived, in one transaction."""
    with Session(engine) as session:
        refresh_current_units(session)
        refresh_status(session, rules or RiskRules())
        session.commit()


def status_date(session: Session) -> date | None:
    """The day branch_status was computed for (None when empty)."""
    return session.execute(select(BranchStatus.evaluated_on).limit(1)).scalar()
