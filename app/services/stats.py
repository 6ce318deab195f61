"""Per-year members and admissions under a place, computed in SQL.

Only figures with a date of their own are placed in a year (printed, worked out from
the text, or the article's day for a count in the present tense: each record's
evidence_date_basis and date_note say which); the others are listed apart (counts
without a day; events over several years or with an open end). Within a
year, an organization whose parent (under the same place) reports the same measure is
left out of the sum, because the parent's figure already includes it. The parent is the
one recorded (where an article names it): an organization recorded without one adds
beside a committee of its place; each sum's records say what it adds.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    union_all,
)

from app.models import Branch, MembershipCount, MembershipEvent
from app.models.localities import CommuneYearlyTotal, PlaceYearlyTotal
from app.reader import Reader
from app.services.answer_cache import Answer, AnswerCache, kept_answer
from app.services.figure_documents import figures_by_id
from app.services.localities import require_locality
from app.services.place_scopes import scope_of
from app.services.refs import alias, in_bound_scope, scope_levels, scope_params, table
from app.services.sqlfuncs import not_indexed
from app.services.summary import MAX_DEPTH, with_ancestors
from app.services.yearly_rows import (
    SAMPLE_SIZE,
    SPANNING,
    ancestors,
    event_rows,
    member_rows,
    single_year,
)

RECORDS_PER_YEAR = SAMPLE_SIZE
# Shown unless asked for more: a province's 25 figures a year and measure were some 1,000
# figures with their quotes, 850 KB, most of the time and size of the answer.
DEFAULT_RECORDS = 5
SPANNING_LISTED = 200
_ABOVE = [f"above{d}" for d in range(1, MAX_DEPTH + 1)]


@dataclass
class _Sum:
    measure: str
    year: int
    records: int = 0
    low: int = 0
    high: int | None = 0
    bounded: int = 0
    approximate: int = 0
    sample: str | None = ""


def stats_answer(reader: Reader, answers: AnswerCache, locality_id: int, records: int) -> Answer:
    """locality_stats as sent: kept until the data changes."""
    return kept_answer(
        reader,
        answers,
        ("stats", locality_id, records),
        lambda: locality_stats(reader, locality_id, records),
    )


def locality_stats(
    reader: Reader, locality_id: int, records: int = DEFAULT_RECORDS
) -> dict[str, Any]:
    """The yearly sums under a place, each with up to `records` of its figures."""
    place = require_locality(reader, locality_id)
    scope = scope_of(reader, locality_id)
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

    # A village's figures are few: add them up. Above, read the communes' totals.
    by_commune = "village" not in scope
    sums = _sums_from_totals(reader, scope) if by_commune else _sums_from_figures(reader, scope)
    for name, per_year in _measures(reader, sums, min(records, RECORDS_PER_YEAR)).items():
        for year, measure in per_year:
            year_entry(year)[name] = measure
    spanning = _spanning_event_ids(reader, scope, by_commune)
    undated = [
        row[0]
        for row in reader.rows(_undated_count_ids, scope_levels(scope), params=scope_params(scope))
    ]
    return {
        "locality": {
            field: place[field] for field in ("id", "key", "kind", "name", "official_name", "code")
        },
        "covers": sorted(i for ids in scope.values() for i in ids),
        "years": [years[y] for y in sorted(years)],
        "undated_counts": list(figures_by_id(reader, MembershipCount, undated).values()),
        "not_in_a_single_year": list(figures_by_id(reader, MembershipEvent, spanning).values()),
        "method": __doc__.strip() if __doc__ else "",
    }


def _sum_by_year(rows: Any) -> Any:
    """Per measure and year: records, low and high sums, how many are bounded and how
    many approximate, and the ids of up to RECORDS_PER_YEAR records (comma-separated;
    `position` ranks them)."""
    sample = case((rows.c.position <= RECORDS_PER_YEAR, rows.c.sample))
    return (
        select(
            rows.c.measure,
            rows.c.year,
            func.sum(rows.c.records).label("records"),
            func.sum(rows.c.low).label("low"),
            func.sum(rows.c.high).label("high"),
            func.sum(rows.c.bounded).label("bounded"),
            func.sum(rows.c.approximate).label("approximate"),
            func.aggregate_strings(sample, ",").label("sample"),
        )
        .group_by(rows.c.measure, rows.c.year)
        .order_by(rows.c.measure, rows.c.year)
    )


def _one_each(rows: Any) -> Any:
    """Single figure rows in the shape of totals rows."""
    return select(
        rows.c.measure,
        rows.c.year,
        literal(1).label("records"),
        rows.c.low,
        rows.c.high,
        case((rows.c.high.is_not(None), 1), else_=0).label("bounded"),
        rows.c.approximate,
        rows.c.id.label("min_id"),
        cast(rows.c.id, String).label("sample"),
    )


def _numbered(parts: Any) -> Any:
    position = func.row_number().over(
        partition_by=(parts.c.measure, parts.c.year), order_by=parts.c.min_id
    )
    return select(parts, position.label("position")).subquery("numbered")


def _sums_from_figures(reader: Reader, scope: dict[str, list[int]]) -> list[_Sum]:
    """Sum, per measure and year, the rows no ancestor under the place also reports.

    One statement: the rows are materialized once; "an ancestor reports the same measure
    that year" is a left join on (branch_id, measure, year) per ancestor level, for which
    both databases build a hash or automatic index.
    """
    rows = reader.mappings(_summed_figures, scope_levels(scope), params=scope_params(scope))
    return [_Sum(**row) for row in rows]


def _summed_figures(levels: tuple[str, ...]) -> Any:
    def where(b: Any) -> Any:
        return in_bound_scope(b, levels)

    data = (
        union_all(member_rows(where), event_rows(where)).cte("measured").prefix_with("MATERIALIZED")
    )
    b = alias(Branch, "mb")
    query = select(data).select_from(data).join(b, b.c.id == data.c.branch_id)
    query, ancestor_ids = with_ancestors(query, b)
    covered = []
    for level, ancestor in enumerate(ancestor_ids):
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
    parts = _one_each(top).subquery("parts")
    return _sum_by_year(_numbered(parts))


def _totals_source(levels: tuple[str, ...], places: bool) -> tuple[Any, Any]:
    """The totals that cover a scope of these levels, and the rows of them in it. The
    provinces' and districts' sums when the scope is provinces only or districts only
    (two of those never share a commune; a province and a district might), else the
    communes'."""
    if places and levels in (("province",), ("district",)):
        p = table(PlaceYearlyTotal)
        return p, p.c.place_id.in_(bindparam(f"scope_{levels[0]}", expanding=True))
    t = table(CommuneYearlyTotal)
    return t, in_bound_scope(t, levels)


def _above_ids(levels: tuple[str, ...], places: bool) -> Any:
    """The organizations above communes that some totals in the place leave apart."""
    source, in_place = _totals_source(levels, places)
    aboves = [source.c[n] for n in _ABOVE]
    return select(*aboves).where(in_place, source.c.measure != SPANNING).distinct()


def _own_rows(levels: tuple[str, ...]) -> Any:
    """The rows of the organizations above any commune, with their ancestors' ids."""

    def above_communes(b: Any) -> Any:
        return and_(in_bound_scope(b, levels), b.c.commune_id.is_(None))

    own = union_all(member_rows(above_communes), event_rows(above_communes)).subquery("own")
    rb = alias(Branch, "rb")
    query, chain = ancestors(select(own).join(rb, rb.c.id == own.c.branch_id), rb, "ra")
    return query.add_columns(*(a.c.id.label(a.name) for a in chain))


def _reported(levels: tuple[str, ...]) -> Any:
    """The (branch, measure, year) some organizations in the place report."""

    def reporters(b: Any) -> Any:
        return and_(b.c.id.in_(bindparam("reporting", expanding=True)), in_bound_scope(b, levels))

    rows = union_all(member_rows(reporters), event_rows(reporters)).subquery("reported")
    return select(rows.c.branch_id, rows.c.measure, rows.c.year)


def _summed_totals(levels: tuple[str, ...], places: bool, with_covered: bool) -> Any:
    """The totals in the place summed per measure and year; `covered`: the
    (above, measure, year) of organizations above communes whose rows cover others."""
    source, in_place = _totals_source(levels, places)
    uncovered = [
        or_(
            source.c[n].is_(None),
            ~tuple_(source.c[n], source.c.measure, source.c.year).in_(
                bindparam("covered", expanding=True)
            ),
        )
        for n in (_ABOVE if with_covered else [])
    ]
    parts = (
        select(source.c.measure, source.c.year, source.c.records, source.c.low, source.c.high)
        .add_columns(source.c.bounded, source.c.approximate, source.c.min_id, source.c.sample)
        .where(in_place, source.c.measure != SPANNING, *uncovered)
        .subquery("parts")
    )
    return _sum_by_year(_numbered(parts))


def _sums_from_totals(
    reader: Reader, scope: dict[str, list[int]], places: bool = True
) -> list[_Sum]:
    """The same sums, from the totals (app.services.commune_totals, summed per province
    and district by app.services.place_totals) and, for the organizations above any
    commune (a province committee), from their figures. `places`: read the provinces'
    and districts' sums when they cover the scope (else the communes' totals).

    A commune's total is left out when an organization above the commune, within the
    place, reports the same measure that year. Such organizations are few (the distinct
    `above` ids): their rows are read once, and the totals they cover are named to the
    summing statement, which reads each total once.
    """
    levels = scope_levels(scope)
    params: dict[str, Any] = scope_params(scope)
    aboves = reader.rows(_above_ids, levels, places, params=params)
    above_ids = {i for row in aboves for i in row if i is not None}
    own_rows = reader.mappings(_own_rows, levels, params=params)
    chain = [f"ra{d}" for d in range(1, MAX_DEPTH + 1)]
    chains = {row["id"]: [row[a] for a in chain] for row in own_rows}
    reporting = above_ids | {i for ids in chains.values() for i in ids if i is not None}
    reported: set[tuple[int, str, int]] = set()
    if reporting:
        rows = reader.rows(_reported, levels, params={**params, "reporting": sorted(reporting)})
        reported = {(branch_id, measure, year) for branch_id, measure, year in rows}
    covered = sorted(r for r in reported if r[0] in above_ids)
    summed = reader.mappings(
        _summed_totals,
        levels,
        places,
        bool(covered),
        params={**params, "covered": covered} if covered else params,
    )
    sums = {(row["measure"], row["year"]): _Sum(**row) for row in summed}
    for entry in sums.values():
        entry.high = entry.high or 0
        entry.sample = entry.sample or ""
    for row in own_rows:
        if any((i, row["measure"], row["year"]) in reported for i in chains[row["id"]]):
            continue
        entry = sums.setdefault((row["measure"], row["year"]), _Sum(row["measure"], row["year"]))
        entry.records += 1
        entry.low += row["low"]
        entry.high = (entry.high or 0) + (row["high"] or 0)
        entry.bounded += row["high"] is not None
        entry.approximate += row["approximate"]
        entry.sample = f"{entry.sample},{row['id']}" if entry.sample else str(row["id"])
    return [sums[k] for k in sorted(sums)]


def _measures(
    reader: Reader, result: list[_Sum], records: int
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Render the sums, with up to `records` records (lowest ids) per year."""
    samples = {
        (row.measure, row.year): sorted(int(i) for i in row.sample.split(",") if i)[:records]
        if row.sample
        else []
        for row in result
    }
    member_ids = [i for (m, _), ids in samples.items() if m == "members" for i in ids]
    event_ids = [i for (m, _), ids in samples.items() if m != "members" for i in ids]
    counts = figures_by_id(reader, MembershipCount, member_ids)
    events = figures_by_id(reader, MembershipEvent, event_ids)
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row in result:
        found = counts if row.measure == "members" else events
        out.setdefault(row.measure, []).append(
            (
                row.year,
                {
                    "low": row.low,
                    "high": row.high if row.bounded == row.records else None,
                    "records_total": row.records,
                    "approximate_records": row.approximate,
                    "records": [found[i] for i in samples[(row.measure, row.year)] if i in found],
                },
            )
        )
    return out


def _spanning_totals(levels: tuple[str, ...], places: bool) -> Any:
    """Whether the place's totals count events that span years (most places have none)."""
    source, in_place = _totals_source(levels, places)
    return select(source.c.id).where(in_place, source.c.measure == SPANNING).limit(1)


def _spanning_communes(levels: tuple[str, ...]) -> Any:
    """The communes of the place whose totals count events that span years."""
    t = table(CommuneYearlyTotal)
    where = and_(in_bound_scope(t, levels), t.c.measure == SPANNING)
    return select(t.c.commune_id).where(where).distinct()


def _spanning_ids(levels: tuple[str, ...], in_communes: bool | None) -> Any:
    """The first spanning events under the place; `in_communes`: None, all of them;
    else those above any commune and (True) in some communes."""
    b = table(Branch)
    ev = table(MembershipEvent)
    where = in_bound_scope(b, levels)
    if in_communes is not None:
        # Each way into the branches (no commune; one of those communes) by the index on
        # commune_id, rather than through every branch of the province.
        ways = [b.c.commune_id.is_(None)]
        if in_communes:
            ways.append(b.c.commune_id.in_(bindparam("communes", expanding=True)))
        where = or_(*(and_(way, where) for way in ways))
    return (
        select(ev.c.id)
        .join(b, b.c.id == ev.c.branch_id)
        .where(where, not_(single_year(ev)))
        .order_by(ev.c.id)
        .limit(SPANNING_LISTED)
    )


def _undated_count_ids(levels: tuple[str, ...]) -> Any:
    """The first counts under the place whose day no text states (in no year)."""
    b = table(Branch)
    mc = table(MembershipCount)
    # From the index of the undated counts, each then looked up in its branch. SQLite
    # (3.40) went the other way, through every branch of the province and its counts, and
    # sorted: 17 ms a province at scale 1.0 (its statistics hold no row for an empty
    # index), against 0.04 ms this way.
    return (
        select(mc.c.id)
        .join(b, b.c.id == not_indexed(mc.c.branch_id))
        .where(mc.c.as_of.is_(None), in_bound_scope(b, levels))
        .order_by(mc.c.id)
        .limit(SPANNING_LISTED)
    )


def _spanning_event_ids(
    reader: Reader, scope: dict[str, list[int]], by_commune: bool, places: bool = True
) -> list[int]:
    """Events whose period is not inside one calendar year (or has an open end).

    Looked for only in the communes whose totals count some, and above the communes.
    """
    levels = scope_levels(scope)
    params: dict[str, Any] = scope_params(scope)
    in_communes = None
    if by_commune:
        communes: list[int] = []
        if reader.rows(_spanning_totals, levels, places, params=params):
            communes = [row[0] for row in reader.rows(_spanning_communes, levels, params=params)]
        in_communes = bool(communes)
        if in_communes:
            params["communes"] = communes
    return [row[0] for row in reader.rows(_spanning_ids, levels, in_communes, params=params)]
