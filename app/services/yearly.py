"""Per-year figures of a place's organizations: the rows, and their sums per commune.

`member_rows` and `event_rows` are what a place's stats add up: a branch's latest count
of each year, and its events whose period lies inside one calendar year. A province
holds ~150,000 of them at national scale, too many to add up per request (issue 7), so
`commune_yearly_totals` keeps their sums per commune, measure and year, refreshed inside
every write's transaction (`refresh_totals`) and in bulk after loads.

Within a year an organization whose parent (up to MAX_DEPTH levels) reports the same
measure is left out of a sum. An ancestor in the same commune is in every place that
covers the row, so those rows are left out of the totals; an ancestor outside the commune
(a province committee) may or may not be in the place asked for, so the totals keep it
in `above1`..`above4` and app.services.stats decides when reading.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlmodel import Session, col

from app.models import Branch, Locality, MembershipCount, MembershipEvent
from app.models.localities import CommuneYearlyTotal
from app.services.refs import alias, table
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
# Communes whose totals a write made stale before its refresh runs (a branch moved away).
_STALE = "stale_commune_totals"
_BATCH = 200  # communes per statement when rebuilding everything

BranchFilter = Callable[[Any], ColumnElement[bool]]


def year_of(column: Any) -> Any:
    return cast(extract("year", column), Integer)


def single_year(ev: Any) -> ColumnElement[bool]:
    return and_(
        ev.c.period_start.is_not(None),
        ev.c.period_end.is_not(None),
        year_of(ev.c.period_start) == year_of(ev.c.period_end),
    )


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
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(where(b), single_year(ev))
    )


def _measure_of_kind(kind: Any) -> Any:
    return case(*((kind == k, literal(v)) for k, v in EVENT_MEASURES.items()))


def _kind_of_measure(measure: Any) -> Any:
    return case(*((measure == v, literal(k)) for k, v in EVENT_MEASURES.items()))


def has_row(branch_id: Any, measure: Any, year: Any) -> ColumnElement[bool]:
    """The branch has a row of `measure` in `year` (see member_rows and event_rows)."""
    mc = alias(MembershipCount, "hmc")
    ev = alias(MembershipEvent, "hev")
    counted = (
        select(mc.c.id)
        .where(
            mc.c.branch_id == branch_id,
            mc.c.status == "all",
            mc.c.as_of.is_not(None),
            year_of(mc.c.as_of) == year,
        )
        .exists()
    )
    happened = (
        select(ev.c.id)
        .where(
            ev.c.branch_id == branch_id,
            ev.c.kind == _kind_of_measure(measure),
            single_year(ev),
            year_of(ev.c.period_end) == year,
        )
        .exists()
    )
    return or_(and_(measure == "members", counted), happened)


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


def _same_place(a: Any, b: Any) -> ColumnElement[bool]:
    return and_(
        a.c.id.is_not(None),
        *(
            a.c[c].is_not_distinct_from(b.c[c])
            for c in ("province_id", "district_id", "commune_id")
        ),
    )


def places_of(rows: Any) -> list[Any]:
    return [rows.c.province_id, rows.c.district_id, rows.c.commune_id]


def _nth_present(values: list[Any], n: int) -> Any:
    """The n-th non-null of some columns (NULL if fewer), as SQL."""
    if not values:
        return cast(null(), Integer)  # typed: PostgreSQL reads a bare NULL as text
    if n == 1:
        return func.coalesce(*values) if len(values) > 1 else values[0]
    first, rest = values[0], values[1:]
    return case((first.is_not(None), _nth_present(rest, n - 1)), else_=_nth_present(rest, n))


def _totals_select(communes: list[int]) -> Select[Any]:
    """Rows of commune_yearly_totals for some communes, from the figures."""

    def where(b: Any) -> ColumnElement[bool]:
        return b.c.commune_id.in_(communes)

    data = (
        union_all(member_rows(where), event_rows(where))
        .cte("commune_rows")
        .prefix_with("MATERIALIZED")
    )
    mb = alias(Branch, "tb")
    query = select(data).select_from(data).join(mb, mb.c.id == data.c.branch_id)
    query, chain = ancestors(query, mb, "ta")
    covered = []
    above = []
    for depth, ancestor in enumerate(chain, start=1):
        inside = _same_place(ancestor, mb)
        other = data.alias(f"inside{depth}")
        query = query.outerjoin(
            other,
            and_(
                inside,
                other.c.branch_id == ancestor.c.id,
                other.c.measure == data.c.measure,
                other.c.year == data.c.year,
            ),
        )
        covered.append(other.c.id.is_(None))
        above.append(
            case((and_(ancestor.c.id.is_not(None), not_(inside)), ancestor.c.id)).label(
                f"above{depth}"
            )
        )
    places = [mb.c.province_id, mb.c.district_id, mb.c.commune_id]
    top = (
        query.with_only_columns(*(c for c in data.c), *places, *above)
        .where(*covered)
        .subquery("top")
    )
    # The ancestors outside, without the gaps of those inside: a village branch under the
    # commune committee under the province committee and the committee itself both have
    # (province committee), and share one row.
    positional = [top.c[f"above{d}"] for d in range(1, MAX_DEPTH + 1)]
    outside = [_nth_present(positional, n).label(f"above{n}") for n in range(1, MAX_DEPTH + 1)]
    packed = (
        select(top.c.id, top.c.low, top.c.high, *places_of(top), top.c.measure)
        .add_columns(top.c.year, *outside)
        .subquery("packed")
    )
    key = [
        *places_of(packed),
        packed.c.measure,
        packed.c.year,
        *(packed.c[f"above{d}"] for d in range(1, MAX_DEPTH + 1)),
    ]
    position = func.row_number().over(partition_by=key, order_by=packed.c.id).label("position")
    numbered = select(packed, position).subquery("numbered")
    nkey = [numbered.c[c.name] for c in key]
    return select(
        *nkey,
        func.count().label("records"),
        func.sum(numbered.c.low).label("low"),
        func.sum(numbered.c.high).label("high"),
        func.count(numbered.c.high).label("bounded"),
        func.min(numbered.c.id).label("min_id"),
        func.aggregate_strings(
            case((numbered.c.position <= SAMPLE_SIZE, cast(numbered.c.id, String))), ","
        ).label("sample"),
    ).group_by(*nkey)


def _spanning_select(communes: list[int]) -> Select[Any]:
    """One row per commune place with events that do not lie inside one year."""
    b = alias(Branch, "sb")
    ev = alias(MembershipEvent, "sev")
    return (
        select(
            b.c.province_id,
            b.c.district_id,
            b.c.commune_id,
            literal(SPANNING).label("measure"),
            literal(0).label("year"),
            func.count().label("records"),
            literal(0).label("low"),
            literal(0).label("bounded"),
            func.min(ev.c.id).label("min_id"),
            literal("").label("sample"),
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(b.c.commune_id.in_(communes), not_(single_year(ev)))
        .group_by(b.c.province_id, b.c.district_id, b.c.commune_id)
    )


_TOTAL_KEY = ["province_id", "district_id", "commune_id", "measure", "year"]
TOTAL_COLUMNS = [
    *_TOTAL_KEY,
    *(f"above{d}" for d in range(1, MAX_DEPTH + 1)),
    *("records", "low", "high", "bounded", "min_id", "sample"),
]
# Spanning rows have no ancestors outside and no upper bound.
SPANNING_COLUMNS = [*_TOTAL_KEY, "records", "low", "bounded", "min_id", "sample"]


def _rebuild(session: Session, communes: list[int]) -> None:
    target = table(CommuneYearlyTotal)
    for start in range(0, len(communes), _BATCH):
        batch = communes[start : start + _BATCH]
        session.execute(delete(target).where(target.c.commune_id.in_(batch)))
        session.execute(insert(target).from_select(TOTAL_COLUMNS, _totals_select(batch)))
        session.execute(insert(target).from_select(SPANNING_COLUMNS, _spanning_select(batch)))


def note_stale(session: Session, commune_ids: Iterable[int | None]) -> None:
    """A write is moving branches out of these communes: refresh them too."""
    session.info.setdefault(_STALE, set()).update(i for i in commune_ids if i is not None)


def affected_communes(session: Session, branch_ids: Iterable[int]) -> set[int]:
    """The communes of some branches and of their descendants (whose ancestors they are)."""
    b = table(Branch)
    communes: set[int] = set()
    frontier = sorted(set(branch_ids))
    for _ in range(MAX_DEPTH + 1):
        if not frontier:
            break
        rows = session.execute(
            select(b.c.commune_id).where(b.c.id.in_(frontier), b.c.commune_id.is_not(None))
        ).scalars()
        communes.update(rows)
        frontier = list(
            session.execute(select(b.c.id).where(b.c.parent_id.in_(frontier))).scalars()
        )
    return communes


@contextmanager
def _without_nested_loops(session: Session) -> Iterator[None]:
    """PostgreSQL, for the statements of a bulk rebuild: 200 communes' rows joined to
    themselves four times made the planner pick nested loops over the materialized rows,
    and one batch ran for over 10 minutes at scale 0.1 (hash joins: 4 s)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SET LOCAL enable_nestloop = off"))
    yield
    # Not in a `finally`: after an error the transaction is rolled back, setting and all.
    if postgres:
        session.execute(text("RESET enable_nestloop"))


def refresh_totals(session: Session, branch_ids: Iterable[int] | None = None) -> None:
    """Recompute the totals of the communes some branches' writes touched (None: all).

    Call after the write is flushed, inside its transaction. On PostgreSQL the communes'
    rows are locked first, in id order, so that two writes in one commune queue rather
    than both deleting and both inserting its totals.
    """
    session.flush()
    stale: set[int] = session.info.pop(_STALE, set())
    if branch_ids is None:
        communes = sorted(
            session.execute(
                select(col(Branch.commune_id)).where(col(Branch.commune_id).is_not(None)).distinct()
            ).scalars()
        )
        session.execute(delete(table(CommuneYearlyTotal)))
        with _without_nested_loops(session):
            _rebuild(session, communes)
        return
    communes = sorted(affected_communes(session, branch_ids) | stale)
    if not communes:
        return
    if session.get_bind().dialect.name != "sqlite":
        lock = select(col(Locality.id)).order_by(col(Locality.id)).with_for_update(key_share=True)
        session.execute(lock.where(col(Locality.id).in_(communes))).all()
    _rebuild(session, communes)
