"""What lies under a place: organizations, members (without double counting), risk."""

from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select

from app.models import Branch, BranchStatus, MembershipCount
from app.models.vocab import LEVELS
from app.reader import Reader
from app.services.refs import alias, in_bound_scope, scope_levels, scope_params, table
from app.services.risk import lower_bound, upper_bound

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


def top_counted_members(levels: tuple[str, ...]) -> Select[Any]:
    """Latest counts of organizations in the scope with no counted ancestor in the scope.

    A district committee's 6,799 members include its village branches' members: a sum
    over a place adds only the top-most counted organizations, never two levels. The
    scope's units are bound (app.services.refs.scope_params); `levels` are its levels.
    """
    b = alias(Branch, "b")
    st = alias(BranchStatus, "st")
    lc = alias(MembershipCount, "lc")
    # A group's count "for each" of its members counts group_size times in a sum. The
    # count's own bounds: the status keeps each organization's (0 for each of a group
    # whose count is of its whole).
    times = case((lc.c.applies_to_each, func.coalesce(b.c.group_size, 1)), else_=1)
    query: Select[Any] = (
        select(
            b.c.id,
            (lower_bound(lc.c.value, lc.c.qualifier) * times).label("members_low"),
            (upper_bound(lc.c.value, lc.c.value_max, lc.c.qualifier) * times).label("members_high"),
            lc.c.evidence_date,
            lc.c.as_of,
            lc.c.qualifier,
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
            in_bound_scope(other, levels),
        )
        .exists()
    )
    return query.where(
        in_bound_scope(b, levels), st.c.latest_count_id.is_not(None), ~counted_ancestor
    )


def _summary(levels: tuple[str, ...]) -> Select[Any]:
    """Organizations, groups, members and risk levels under a scope, in one row (the
    levels as one count column each)."""
    b = table(Branch)
    st = table(BranchStatus)
    organizations = (
        select(
            func.count().label("organizations"),
            func.count(b.c.group_size).label("groups"),
            func.coalesce(func.sum(b.c.group_size), 0).label("in_groups"),
            *(
                func.count(case((st.c.risk_level == level, 1))).label(f"level_{level}")
                for level in LEVELS
            ),
        )
        .select_from(b.outerjoin(st, st.c.branch_id == b.c.id))
        .where(in_bound_scope(b, levels))
    )
    top = top_counted_members(levels).subquery()
    members = select(
        func.count().label("counted"),
        func.sum(top.c.members_low).label("low"),
        func.sum(top.c.members_high).label("high"),
        func.count(top.c.members_high).label("bounded"),
        func.min(top.c.evidence_date).label("earliest"),
        func.max(top.c.evidence_date).label("latest"),
        func.count(case((top.c.as_of.is_(None), 1))).label("undated"),
        func.count(case((top.c.qualifier == "approximate", 1))).label("approximate"),
    )
    both = organizations.subquery("o"), members.subquery("m")
    return select(*both[0].c, *both[1].c)


def locality_summary(reader: Reader, scope: dict[str, list[int]]) -> dict[str, Any]:
    """Counts of organizations and members under a place (and the places it replaced)."""
    row = reader.mappings(_summary, scope_levels(scope), params=scope_params(scope))[0]
    high = row["high"] if row["bounded"] == row["counted"] else None
    return {
        "organizations": row["organizations"] - row["groups"],
        "unnamed_groups": row["groups"],
        "organizations_in_unnamed_groups": row["in_groups"],
        "members": {
            "low": row["low"],
            "high": high,
            "organizations_counted": row["counted"],
            "earliest_evidence_date": row["earliest"],
            "latest_evidence_date": row["latest"],
            "counts_without_a_day": row["undated"],
            "approximate_counts": row["approximate"],
            "note": (
                "Sum of the latest count of each organization the sources name under this "
                "place whose parent organizations here have no count of their own: not the "
                "place's whole membership. Counts of different days are added (from "
                "earliest_evidence_date to latest_evidence_date; a count without a day of "
                "its own is dated by its article, an upper bound). Low and high keep the "
                "qualifiers of the sources ('fewer than 5' is 0 to 4; approximate_counts "
                "says how many are approximate, and the sum with them)."
            ),
        },
        "risk_levels": {level: row[f"level_{level}"] for level in reversed(LEVELS)},
    }
