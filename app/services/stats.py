"""Per-year members and admissions under a place, computed in SQL.

Only figures whose date the text states are placed in a year; the others are listed
apart. Within a year, an organization whose parent (under the same place) reports the
same measure is left out of the sum, because the parent's figure already includes it.
"""

from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, extract, func, literal, select
from sqlmodel import Session

from app.models import Branch, MembershipCount, MembershipEvent
from app.services.figures import figures_by_ids
from app.services.localities import require_locality, scope_of
from app.services.refs import in_scope
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
    for kind, name in (
        ("admission", "admissions"),
        ("departure", "departures"),
        ("transfer_in", "transfers_in"),
        ("transfer_out", "transfers_out"),
    ):
        for year, measure in _yearly_events(session, scope, kind):
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


def _aggregate(session: Session, ranked: Any, model: Any) -> list[tuple[int, dict[str, Any]]]:
    """Sum the top-most rows per year and attach up to RECORDS_PER_YEAR of them."""
    agg = session.execute(
        select(
            ranked.c.year,
            func.count().label("records"),
            func.sum(ranked.c.low).label("low"),
            func.sum(ranked.c.high).label("high"),
            func.count(ranked.c.high).label("bounded"),
        )
        .where(ranked.c.top)
        .group_by(ranked.c.year)
        .order_by(ranked.c.year)
    ).all()
    ids = (
        session.execute(
            select(ranked.c.id).where(ranked.c.top, ranked.c.position <= RECORDS_PER_YEAR)
        )
        .scalars()
        .all()
    )
    records: dict[int, list[dict[str, Any]]] = {}
    for figure in figures_by_ids(session, model, list(ids)):
        year = (figure.get("as_of") or figure.get("period_end")).year
        records.setdefault(year, []).append(figure)
    return [
        (
            row.year,
            {
                "low": row.low,
                "high": row.high if row.bounded == row.records else None,
                "records_total": row.records,
                "records": records.get(row.year, []),
            },
        )
        for row in agg
    ]


def _yearly_members(
    session: Session, scope: dict[str, list[int]]
) -> list[tuple[int, dict[str, Any]]]:
    b = Branch.__table__.alias("b")
    mc = MembershipCount.__table__.alias("mc")
    year = _year(mc.c.as_of)
    latest = (
        select(
            mc.c.id,
            mc.c.branch_id,
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
        .cte("yearly_counts")
    )
    return _aggregate(session, _top_most(latest, latest.c.n == 1), MembershipCount)


def _yearly_events(
    session: Session, scope: dict[str, list[int]], kind: str
) -> list[tuple[int, dict[str, Any]]]:
    b = Branch.__table__.alias("b")
    ev = MembershipEvent.__table__.alias("ev")
    rows = (
        select(
            ev.c.id,
            ev.c.branch_id,
            _year(ev.c.period_end).label("year"),
            (
                func.coalesce(lower_bound(ev.c.value, ev.c.qualifier), 1)
                * _times(b, ev.c.applies_to_each)
            ).label("low"),
            (
                upper_bound(ev.c.value, ev.c.value_max, ev.c.qualifier)
                * _times(b, ev.c.applies_to_each)
            ).label("high"),
            literal(1).label("n"),
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(
            in_scope(b, scope),
            ev.c.kind == kind,
            ev.c.period_start.is_not(None),
            ev.c.period_end.is_not(None),
            _year(ev.c.period_start) == _year(ev.c.period_end),
        )
        .cte(f"yearly_{kind}")
    )
    return _aggregate(session, _top_most(rows, rows.c.n == 1), MembershipEvent)


def _top_most(rows: Any, keep: Any) -> Any:
    """Mark rows with no ancestor organization reporting in the same year (`top`)."""
    b = Branch.__table__.alias("tb")
    query = select(rows, b.c.id.label("b_id")).select_from(rows).join(b, b.c.id == rows.c.branch_id)
    query, ancestors = with_ancestors(query, b)
    other = rows.alias("other")
    covered = exists().where(
        other.c.year == rows.c.year, other.c.branch_id.in_(ancestors), other.c.n == 1
    )
    top = and_(keep, ~covered)
    flagged = query.add_columns(top.label("top")).where(keep).subquery()
    position = func.row_number().over(partition_by=flagged.c.year, order_by=flagged.c.id)
    return select(flagged, position.label("position")).subquery("ranked")


def _spanning_events(session: Session, scope: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Events whose period is not inside one calendar year (or has an open end)."""
    b = Branch.__table__
    ev = MembershipEvent.__table__
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
