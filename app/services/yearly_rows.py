"""The rows a place's yearly stats add up, as SQL.

`member_rows`: a branch's latest dated count ('all' members) of each year. `event_rows`:
its events whose period lies inside one calendar year, per kind, each reported once
(app.services.event_reports). The stats of a village
add them up per request; above a village, app.services.commune_totals keeps their sums.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
)

from app.models import Branch, MembershipCount, MembershipEvent
from app.services.event_reports import reported_again
from app.services.refs import alias
from app.services.risk import lower_bound, upper_bound
from app.services.summary import MAX_DEPTH

SAMPLE_SIZE = 25  # record ids kept per total: a year shows up to this many records
SPANNING = "not_in_a_single_year"  # totals rows counting events that span years (year 0)
EVENT_MEASURES = {
    "admission": "admissions",
    "departure": "departures",
    "transfer_in": "transfers_in",
    "transfer_out": "transfers_out",
}

BranchFilter = Callable[[Any], ColumnElement[bool]]


def year_of(column: Any) -> Any:
    return cast(extract("year", column), Integer)


def single_year(ev: Any) -> ColumnElement[bool]:
    return and_(
        ev.c.period_start.is_not(None),
        ev.c.period_end.is_not(None),
        year_of(ev.c.period_start) == year_of(ev.c.period_end),
    )


def _approximate(qualifier: Any) -> Any:
    """1 for a figure the text gives as approximate ('khoảng', an average), else 0: a sum
    counts them, and a sum with one is approximate too."""
    return case((qualifier == "approximate", 1), else_=0)


def _times(b: Any, applies_to_each: Any) -> Any:
    """A group's figure "for each" of its members counts group_size times in a sum."""
    return case((applies_to_each, func.coalesce(b.c.group_size, 1)), else_=1)


def member_rows(where: BranchFilter) -> Select[Any]:
    """The latest dated count ('all' members) of each branch and year; `where(branch)`."""
    b = alias(Branch, "b")
    mc = alias(MembershipCount, "mc")
    year = year_of(mc.c.as_of)
    ranked = (
        select(
            mc.c.id,
            mc.c.branch_id,
            literal("members").label("measure"),
            year.label("year"),
            (lower_bound(mc.c.value, mc.c.qualifier) * _times(b, mc.c.applies_to_each)).label(
                "low"
            ),
            (
                upper_bound(mc.c.value, mc.c.value_max, mc.c.qualifier)
                * _times(b, mc.c.applies_to_each)
            ).label("high"),
            _approximate(mc.c.qualifier).label("approximate"),
            func.row_number()
            .over(partition_by=(mc.c.branch_id, year), order_by=(mc.c.as_of.desc(), mc.c.id.desc()))
            .label("n"),
        )
        .join(b, b.c.id == mc.c.branch_id)
        .where(where(b), mc.c.as_of.is_not(None), mc.c.status == "all")
        .subquery("ranked_counts")
    )
    return select(
        ranked.c.id,
        ranked.c.branch_id,
        ranked.c.measure,
        ranked.c.year,
        ranked.c.low,
        ranked.c.high,
        ranked.c.approximate,
    ).where(ranked.c.n == 1)


def event_rows(where: BranchFilter) -> Select[Any]:
    """Events whose period lies inside one calendar year, per kind; `where(branch)`."""
    b = alias(Branch, "b")
    ev = alias(MembershipEvent, "ev")
    return (
        select(
            ev.c.id,
            ev.c.branch_id,
            _measure_of_kind(ev.c.kind).label("measure"),
            year_of(ev.c.period_end).label("year"),
            (
                func.coalesce(lower_bound(ev.c.value, ev.c.qualifier), 1)
                * _times(b, ev.c.applies_to_each)
            ).label("low"),
            (
                upper_bound(ev.c.value, ev.c.value_max, ev.c.qualifier)
                * _times(b, ev.c.applies_to_each)
            ).label("high"),
            _approximate(ev.c.qualifier).label("approximate"),
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(where(b), single_year(ev), ~reported_again(ev))
    )


def _measure_of_kind(kind: Any) -> Any:
    return case(*((kind == k, literal(v)) for k, v in EVENT_MEASURES.items()))


def ancestors(query: Select[Any], b: Any, prefix: str) -> tuple[Select[Any], list[Any]]:
    """Outer-join a branch's MAX_DEPTH ancestors (aliases `<prefix>1`..); return them."""
    chain = []
    child = b
    for depth in range(1, MAX_DEPTH + 1):
        parent = alias(Branch, f"{prefix}{depth}")
        query = query.outerjoin(parent, parent.c.id == child.c.parent_id)
        chain.append(parent)
        child = parent
    return query, chain
