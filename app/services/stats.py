"""Per-year members and admissions under a place, computed in SQL.

Only figures whose date the text states are placed in a year; the others are listed
apart. Within a year, an organization whose parent (under the same place) reports the
same measure is left out of the sum, because the parent's figure already includes it.
"""

from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, extract, func, literal, select
from sqlmodel import Session

from app.models import Branch, MembershipCount, MembershipEvent
from app.services.figures import figures_by_ids
from app.services.localities import require_locality, scope_of
from app.services.refs import alias, in_scope, table
from app.services.risk import lower_bound, upper_bound
from app.services.summary import with_ancestors

RECORDS_PER_YEAR = 25


def _year(column: Any) -> Any:
    return cast(extract("year", column), Integer)


def locality_stats(session: Session, locality_id: int) -> dict[str, Any]:
    place = require_locality(session, locality_id)
    scope = scope_of(session, locality_id)
    years: dict[int, dict[str, Any]] = {}

    def year_entry(year: int) -> dict[str, Any]:
        return years.setdefault(
            year,
            {
                "year": year,
                "members": None,
                "admissions": None,
                "departures": None,
                "transfers_in": None,
                "transfers_out": None,
            },
        )

    for year, measure in _yearly_members(session, scope):
        year_entry(year)["members"] = measure
    for name, per_year in _yearly_events(session, scope).items():
        for year, measure in per_year:
            year_entry(year)[name] = measure
    return {
        "locality": {
            "id": place.id,
            "key": place.key,
            "kind": place.kind,
            "name": place.name,
            "official_name": place.official_name,
            "code": place.code,
        },
        "covers": sorted(i for ids in scope.values() for i in ids),
        "years": [years[y] for y in sorted(years)],
        "not_in_a_single_year": _spanning_events(session, scope),
        "method": __doc__.strip() if __doc__ else "",
    }


def _times(b: Any, applies_to_each: Any) -> Any:
    return case((applies_to_each, func.coalesce(b.c.group_size, 1)), else_=1)


def _yearly_members(
    session: Session, scope: dict[str, list[int]]
) -> list[tuple[int, dict[str, Any]]]:
    b = alias(Branch, "b")
    mc = alias(MembershipCount, "mc")
    year = _year(mc.c.as_of)
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
            func.row_number()
            .over(partition_by=(mc.c.branch_id, year), order_by=(mc.c.as_of.desc(), mc.c.id.desc()))
            .label("n"),
        )
        .join(b, b.c.id == mc.c.branch_id)
        .where(in_scope(b, scope), mc.c.as_of.is_not(None), mc.c.status == "all")
        .subquery("ranked_counts")
    )
    latest = select(ranked).where(ranked.c.n == 1)
    return _measures(session, latest, MembershipCount)["members"]


EVENT_MEASURES = {
    "admission": "admissions",
    "departure": "departures",
    "transfer_in": "transfers_in",
    "transfer_out": "transfers_out",
}


def _yearly_events(
    session: Session, scope: dict[str, list[int]]
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Events whose period lies inside one calendar year, per kind and year."""
    b = alias(Branch, "b")
    ev = alias(MembershipEvent, "ev")
    rows = (
        select(
            ev.c.id,
            ev.c.branch_id,
            case(*((ev.c.kind == k, literal(v)) for k, v in EVENT_MEASURES.items())).label(
                "measure"
            ),
            _year(ev.c.period_end).label("year"),
            (
                func.coalesce(lower_bound(ev.c.value, ev.c.qualifier), 1)
                * _times(b, ev.c.applies_to_each)
            ).label("low"),
            (
                upper_bound(ev.c.value, ev.c.value_max, ev.c.qualifier)
                * _times(b, ev.c.applies_to_each)
            ).label("high"),
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(
            in_scope(b, scope),
            ev.c.period_start.is_not(None),
            ev.c.period_end.is_not(None),
            _year(ev.c.period_start) == _year(ev.c.period_end),
        )
    )
    return _measures(session, rows, MembershipEvent)


def _measures(
    session: Session, rows: Any, model: Any
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Sum, per measure and year, the rows no ancestor under the place also reports.

    One statement: the rows are materialized once; "an ancestor reports the same measure
    that year" is a left join on (branch_id, measure, year) per ancestor level, for which
    both databases build a hash or automatic index. Up to RECORDS_PER_YEAR contributing
    ids per year come back with the sums, and are then loaded with their sources.
    """
    data = rows.cte("measured").prefix_with("MATERIALIZED")
    b = alias(Branch, "mb")
    query = select(data).select_from(data).join(b, b.c.id == data.c.branch_id)
    query, ancestors = with_ancestors(query, b)
    covered = []
    for level, ancestor in enumerate(ancestors):
        other = data.alias(f"covering{level}")
        query = query.outerjoin(
            other,
            and_(
                other.c.branch_id == ancestor,
                other.c.measure == data.c.measure,
                other.c.year == data.c.year,
            ),
        )
        covered.append(other.c.id.is_(None))
    top = query.where(*covered).subquery("top")
    position = func.row_number().over(partition_by=(top.c.measure, top.c.year), order_by=top.c.id)
    numbered = select(top, position.label("position")).subquery("numbered")
    sample = case((numbered.c.position <= RECORDS_PER_YEAR, cast(numbered.c.id, String)))
    result = session.execute(
        select(
            numbered.c.measure,
            numbered.c.year,
            func.count().label("records"),
            func.sum(numbered.c.low).label("low"),
            func.sum(numbered.c.high).label("high"),
            func.count(numbered.c.high).label("bounded"),
            func.aggregate_strings(sample, ",").label("sample"),
        )
        .group_by(numbered.c.measure, numbered.c.year)
        .order_by(numbered.c.measure, numbered.c.year)
    ).all()
    ids = [int(i) for row in result if row.sample for i in row.sample.split(",")]
    figures = {f["id"]: f for f in figures_by_ids(session, model, ids)}
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row in result:
        sample_ids = sorted(int(i) for i in row.sample.split(",")) if row.sample else []
        out.setdefault(row.measure, []).append(
            (
                row.year,
                {
                    "low": row.low,
                    "high": row.high if row.bounded == row.records else None,
                    "records_total": row.records,
                    "records": [figures[i] for i in sample_ids if i in figures],
                },
            )
        )
    out.setdefault("members", [])
    return out


def _spanning_events(session: Session, scope: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Events whose period is not inside one calendar year (or has an open end)."""
    b = table(Branch)
    ev = table(MembershipEvent)
    ids = (
        session.execute(
            select(ev.c.id)
            .join(b, b.c.id == ev.c.branch_id)
            .where(
                in_scope(b, scope),
                ~and_(
                    ev.c.period_start.is_not(None),
                    ev.c.period_end.is_not(None),
                    _year(ev.c.period_start) == _year(ev.c.period_end),
                ),
            )
            .limit(200)
        )
        .scalars()
        .all()
    )
    return figures_by_ids(session, MembershipEvent, list(ids))
