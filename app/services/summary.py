"""What lies under a place: organizations, members (without double counting), risk."""

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlmodel import Session

from app.models import Branch, BranchStatus, MembershipCount
from app.services.refs import alias, in_scope, table
from app.services.risk_rules import LEVELS

MAX_DEPTH = 4  # party cell < branch < commune committee < district committee < province


def with_ancestors(query: Select[Any], b: Any) -> tuple[Select[Any], list[ColumnElement[Any]]]:
    """Join a branch's parent chain; return the ids of its ancestors (NULL past the top)."""
    ancestor_ids: list[ColumnElement[Any]] = [b.c.parent_id]
    child = b
    for depth in range(1, MAX_DEPTH):
        parent = alias(Branch, f"anc{depth}")
        query = query.outerjoin(parent, parent.c.id == child.c.parent_id)
        ancestor_ids.append(parent.c.parent_id)
        child = parent
    return query, ancestor_ids


def top_counted_members(scope: dict[str, list[int]]) -> Select[Any]:
    """Latest counts of organizations in the scope with no counted ancestor in the scope.

    A district committee's 6,799 members include its village branches' members: a sum
    over a place adds only the top-most counted organizations, never two levels.
    """
    b = alias(Branch, "b")
    st = alias(BranchStatus, "st")
    lc = alias(MembershipCount, "lc")
    # A group's count "for each" of its members counts group_size times in a sum.
    times = case((lc.c.applies_to_each, func.coalesce(b.c.group_size, 1)), else_=1)
    query = (
        select(
            b.c.id,
            (st.c.members_low * times).label("members_low"),
            (st.c.members_high * times).label("members_high"),
        )
        .select_from(b)
        .join(st, st.c.branch_id == b.c.id)
        .join(lc, lc.c.id == st.c.latest_count_id)
    )
    query, ancestors = with_ancestors(query, b)
    other = alias(Branch, "other")
    other_status = alias(BranchStatus, "other_st")
    counted_ancestor = (
        select(other.c.id)
        .join(other_status, other_status.c.branch_id == other.c.id)
        .where(
            other.c.id.in_(ancestors),
            other_status.c.latest_count_id.is_not(None),
            in_scope(other, scope),
        )
        .exists()
    )
    return query.where(in_scope(b, scope), st.c.latest_count_id.is_not(None), ~counted_ancestor)


def locality_summary(session: Session, scope: dict[str, list[int]]) -> dict[str, Any]:
    """Counts of organizations and members under a place (and the places it replaced)."""
    b = table(Branch)
    st = table(BranchStatus)
    organizations = session.execute(
        select(
            func.count().label("organizations"),
            func.count(b.c.group_size).label("groups"),
            func.coalesce(func.sum(b.c.group_size), 0).label("in_groups"),
        ).where(in_scope(b, scope))
    ).one()
    levels = dict(
        session.execute(
            select(st.c.risk_level, func.count())
            .join(b, b.c.id == st.c.branch_id)
            .where(in_scope(b, scope))
            .group_by(st.c.risk_level)
        ).all()
    )
    top = top_counted_members(scope).subquery()
    members = session.execute(
        select(
            func.count().label("counted"),
            func.sum(top.c.members_low).label("low"),
            func.sum(top.c.members_high).label("high"),
            func.count(top.c.members_high).label("bounded"),
        )
    ).one()
    high = members.high if members.bounded == members.counted else None
    return {
        "organizations": organizations.organizations - organizations.groups,
        "unnamed_groups": organizations.groups,
        "organizations_in_unnamed_groups": organizations.in_groups,
        "members": {
            "low": members.low,
            "high": high,
            "organizations_counted": members.counted,
            "note": (
                "Sum of the latest count of each organization under this place whose "
                "parent organizations here have no count of their own; low and high "
                "keep the qualifiers of the sources ('fewer than 5' is 0 to 4)."
            ),
        },
        "risk_levels": {level: levels.get(level, 0) for level in reversed(LEVELS)},
    }
