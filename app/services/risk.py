"""Risk evaluation, set-wise in SQL: one query evaluates every rule for many branches.

`risk_select(rules, day)` yields one row per branch with each criterion's status
('met', 'not_met', 'unknown'), the inputs it used, and the level. Lists use it through
the materialized branch_status (as of today, kept on write) or directly for another
`as_of`; the explanation endpoint runs it for one branch and fetches the evidence.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement as Col

from app.models import Branch, Fact, MembershipCount, MembershipEvent
from app.models.vocab import LEVEL_RANK
from app.services.event_reports import reported_again
from app.services.refs import alias, table
from app.services.risk_rules import RiskRules
from app.services.sqlfuncs import greatest, not_indexed

MET, NOT_MET, UNKNOWN = literal("met"), literal("not_met"), literal("unknown")


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def lower_bound(value: Col[Any], qualifier: Col[Any]) -> Col[Any]:
    """The least the figure can be: 'more than 5' is at least 6, 'fewer than 5' at least 0."""
    return case(
        (qualifier == "more_than", value + 1),
        (qualifier.in_(("less_than", "at_most")), literal(0)),
        else_=value,
    )


def upper_bound(value: Col[Any], value_max: Col[Any], qualifier: Col[Any]) -> Col[Any]:
    """The most the figure can be; NULL when unbounded ('at least', 'more than')."""
    return case(
        (qualifier.in_(("at_least", "more_than")), literal(None)),
        (qualifier == "less_than", value - 1),
        else_=func.coalesce(value_max, value),
    )


@dataclass(frozen=True)
class RiskDay:
    """The day risk is evaluated on, and the day from which an admission ends a stall
    (`stall_years` before it), as SQL values: literal, or bound by name (`params`)."""

    as_of: Col[date]
    stall_since: Col[date]

    @classmethod
    def on(cls, day: date, rules: RiskRules) -> "RiskDay":
        return cls(literal(day, Date), literal(years_before(day, rules.stall_years), Date))

    @classmethod
    def bound(cls) -> "RiskDay":
        return cls(bindparam("as_of", type_=Date), bindparam("stall_since", type_=Date))

    @staticmethod
    def params(day: date, rules: RiskRules) -> dict[str, date]:
        return {"as_of": day, "stall_since": years_before(day, rules.stall_years)}


def _latest(model: Any, branch_id: Col[Any], as_of: Col[date], *conditions: Any) -> Any:
    """The id of a branch's newest row of a figure table, dated on or before as_of."""
    return (
        select(model.id)
        .where(model.branch_id == branch_id, model.evidence_date <= as_of, *conditions)
        .order_by(model.evidence_date.desc(), model.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _event_end(event: Any) -> Col[Any]:
    """The day an event is dated to: its period's end, but not after the article ("Năm
    2023" reported on 18 December is known up to that day: as of 20 December its last
    admission is not in the future); a period open to its end ("từ đầu năm 2017 đến
    nay", "2017-01-01/") its start, the day it is known to have happened from (not the
    article's, which would read it as recent: _latest_possible_day is that bound)."""
    return case(
        (event.period_end > event.evidence_date, event.evidence_date),
        else_=func.coalesce(event.period_end, event.period_start, event.evidence_date),
    )


def _event_start(event: Any) -> Col[Any]:
    """The first day an event can have happened on: its period's start, else the day it
    is dated to."""
    return func.coalesce(event.period_start, _event_end(event))


def _latest_possible_day(event: Any) -> Col[Any]:
    """The last day an event can have happened on, as far as its article knows: the day
    it is dated to, but a period open to its end up to the article's day."""
    return case(
        (and_(event.period_end.is_(None), event.period_start.is_not(None)), event.evidence_date),
        else_=_event_end(event),
    )


def admission_or_departure(event: Any) -> Col[bool]:
    """The event is an admission or a departure: the kinds of the attrition window.

    The kind is kept out of SQLite's index search: on (branch_id, kind, evidence_date),
    with the day's upper bound, SQLite 3.40's IN early-out (OP_SeekScan) took the first
    departure of a branch without checking the bound, so a departure after `as_of`
    counted as of a day before it (planned so once ANALYZE saw a few events a branch and
    kind, as at national scale). The branch's events are read by branch_id instead: a
    few rows, the index still covering them.
    """
    return not_indexed(event.kind).in_(("admission", "departure"))


def _admitted(event: Any) -> Col[Any]:
    """An admission happened: a positive count, or an unreported count (value NULL)."""
    return or_(event.value.is_(None), event.value > 0, event.qualifier == "more_than")


BranchScope = Callable[[Any], ColumnElement[bool]]


def risk_select(
    rules: RiskRules,
    day: RiskDay,
    scope: BranchScope | None = None,
    *,
    few_branches: bool = False,
    id_range: bool = False,
) -> Select[Any]:
    """Per branch: criteria statuses, their inputs and the level, as of `day`.

    `scope(branches_alias)` limits the branches evaluated; it is applied first, so
    only those branches' evidence is read. Two materialized CTEs keep every
    correlated lookup to one evaluation per branch on both databases. `few_branches`:
    the scope selects a handful (a write's, one branch's explanation); see the
    attrition window below. `id_range`: the scope is a range of ids (a page ordered on
    the risk nationally, app.services.gathered.gather); the window reads only the events
    of branches in that range.
    """
    as_of = day.as_of
    b = alias(Branch, "b")
    mc, fact = table(MembershipCount), table(Fact)
    ev = alias(MembershipEvent, "ev")

    # 1. Which rows are the evidence: ids of the newest counts and facts, and the
    #    dates that anchor the admission rules.
    ids = select(
        b.c.id.label("branch_id"),
        b.c.dissolved_on,
        b.c.group_size,
        _latest(mc.c, b.c.id, as_of, mc.c.status == "all").label("count_id"),
        _latest(mc.c, b.c.id, as_of, mc.c.status == "full").label("full_count_id"),
        _latest(fact.c, b.c.id, as_of, fact.c.metric == "members_over_60").label("over_60_id"),
        _latest(fact.c, b.c.id, as_of, fact.c.metric == "years_without_admission").label(
            "stall_fact_id"
        ),
        _latest(fact.c, b.c.id, as_of, fact.c.metric == "at_risk_reported").label(
            "reported_fact_id"
        ),
        _last_admission(b.c.id, as_of).label("last_admission"),
        select(func.max(cast(extract("year", _event_end(ev.c)), Integer)))
        .where(
            ev.c.branch_id == b.c.id,
            admission_or_departure(ev.c),
            ev.c.evidence_date <= as_of,
        )
        .scalar_subquery()
        .label("attrition_anchor_year"),
    )
    if scope is not None:
        ids = ids.where(scope(b))
    ids_cte = ids.cte("risk_ids").prefix_with("MATERIALIZED")

    # 2. The inputs: bounds of each figure (qualifiers kept) and the attrition sums.
    lc = alias(MembershipCount, "lc")
    fc = alias(MembershipCount, "fc")
    o60 = alias(Fact, "o60")
    stall = alias(Fact, "stall")
    rep = alias(Fact, "rep")
    w = alias(MembershipEvent, "w")

    # The admissions and departures of the attrition window, summed per branch in one
    # pass over its events (six correlated sums each read them again: some 23 s of a
    # national refresh on PostgreSQL). Joined from the branches evaluated, so that one
    # branch reads only its own events.
    # An unnamed group's window is each of its organizations', as its member rules: an
    # event "for each" is each one's, an event of the whole group may be any one's, from
    # none to all of it (two departures of the group against one admission in each of
    # its branches: one branch may have lost both, another none; not known either way).
    # An event of a period begun before the window ("từ năm 2010 đến năm 2017, 5 đảng
    # viên", a window of 2016 to 2018) may have fallen wholly before it: from none to all
    # of it is in the window, as a whole group's for each of its organizations.
    window_start = ids_cte.c.attrition_anchor_year - rules.attrition_years + 1
    begun_before = cast(extract("year", _event_start(w.c)), Integer) < window_start
    low = case(
        (_of_whole_group(w, ids_cte.c.group_size), literal(0)),
        (begun_before, literal(0)),
        else_=func.coalesce(lower_bound(w.c.value, w.c.qualifier), 1),
    )
    high = upper_bound(w.c.value, w.c.value_max, w.c.qualifier)
    unbounded = case((high.is_(None), 1), else_=0)

    def of_kind(kind: str, expr: Col[Any]) -> Any:
        return func.sum(case((w.c.kind == kind, expr)))

    sums = {
        "departures_low": of_kind("departure", low),
        "departures_high": of_kind("departure", func.coalesce(high, 0)),
        "departures_unbounded": of_kind("departure", unbounded),
        "admissions_low": of_kind("admission", low),
        "admissions_high": of_kind("admission", func.coalesce(high, 0)),
        "admissions_unbounded": of_kind("admission", unbounded),
        # Evidence like the counts and facts: a departure is the newest of it at times.
        "window_evidence_date": func.max(w.c.evidence_date),
    }
    in_window = and_(
        w.c.branch_id == ids_cte.c.branch_id,
        admission_or_departure(w.c),
        w.c.evidence_date <= as_of,
        cast(extract("year", _event_end(w.c)), Integer)
        > ids_cte.c.attrition_anchor_year - rules.attrition_years,
        ~reported_again(w, as_of),
    )
    window_joins: list[tuple[Any, Any]] = []
    window_columns: list[ColumnElement[Any]]
    if few_branches:
        # Each sum looked up per branch. Joined and grouped instead, SQLite (3.40) guessed
        # the branches' CTE at a million rows and built a Bloom filter over every event
        # first: 100 ms of a write's 210 ms at scale 0.1 (282,000 events; at 1.0 the
        # table outgrows the guess and the filter is not built).
        window_columns = [
            select(expr).where(in_window).scalar_subquery().label(name)
            for name, expr in sums.items()
        ]
    else:
        window_events = in_window
        if id_range:
            # Only the events of the range's span of branch ids: PostgreSQL otherwise
            # hashed every event of the table for each range, 0.7 s of its 0.8 s at scale
            # 1.0 (with it, an index scan of the range's: 0.1 s).
            first, last = (
                select(f(ids_cte.c.branch_id)).scalar_subquery() for f in (func.min, func.max)
            )
            window_events = and_(in_window, w.c.branch_id >= first, w.c.branch_id <= last)
        window = (
            select(ids_cte.c.branch_id, *(expr.label(name) for name, expr in sums.items()))
            .select_from(ids_cte)
            .join(w, window_events)
            .group_by(ids_cte.c.branch_id)
            .subquery("attrition_window")
        )
        window_columns = [window.c[name] for name in sums]
        window_joins.append((window, window.c.branch_id == ids_cte.c.branch_id))
    input_rows = (
        select(
            ids_cte,
            # Each organization's bounds, which the member rules read: an unnamed group's
            # count or fact of its whole ("tổng cộng 12 đảng viên" of three branches) puts
            # each of its organizations between none and the whole (not "12 each").
            _each_low(lc, ids_cte.c.group_size).label("members_low"),
            upper_bound(lc.c.value, lc.c.value_max, lc.c.qualifier).label("members_high"),
            lc.c.evidence_date.label("count_date"),
            fc.c.evidence_date.label("full_count_date"),
            _each_low(fc, ids_cte.c.group_size).label("full_low"),
            upper_bound(fc.c.value, fc.c.value_max, fc.c.qualifier).label("full_high"),
            _each_low(o60, ids_cte.c.group_size).label("over_60_low"),
            upper_bound(o60.c.value, o60.c.value_max, o60.c.qualifier).label("over_60_high"),
            stall.c.value.label("stall_years"),
            stall.c.qualifier.label("stall_qualifier"),
            stall.c.evidence_date.label("stall_date"),
            rep.c.value.label("reported_value"),
            _last_admission_of_each(ids_cte, as_of).label("last_admission_each"),
            _last_possible_admission(ids_cte, as_of, stall).label("last_possible_admission"),
            *window_columns,
            greatest(
                lc.c.evidence_date,
                fc.c.evidence_date,
                o60.c.evidence_date,
                stall.c.evidence_date,
                rep.c.evidence_date,
                ids_cte.c.last_admission,
                dict(zip(sums, window_columns, strict=True))["window_evidence_date"],
            ).label("newest_evidence_date"),
        )
        .select_from(ids_cte)
        .outerjoin(lc, lc.c.id == ids_cte.c.count_id)
        .outerjoin(fc, fc.c.id == ids_cte.c.full_count_id)
        .outerjoin(o60, o60.c.id == ids_cte.c.over_60_id)
        .outerjoin(stall, stall.c.id == ids_cte.c.stall_fact_id)
        .outerjoin(rep, rep.c.id == ids_cte.c.reported_fact_id)
    )
    for joined, on in window_joins:
        input_rows = input_rows.outerjoin(joined, on)
    inputs = input_rows.cte("risk_inputs").prefix_with("MATERIALIZED")
    i = inputs.c

    # 3. The rules: each criterion met, not met or unknown; then the level.
    too_few = case(
        (and_(i.members_high.is_not(None), i.members_high < rules.min_members), MET),
        (i.members_low >= rules.min_members, NOT_MET),
        else_=UNKNOWN,
    )
    # The newer of the two counts decides: 5 full members in 2015 say nothing against
    # "chỉ còn 2 đảng viên" in 2020, nor 2 members in 2015 against 5 full in 2020. Of
    # one day, the full members' count is read first, as the more precise.
    full_not_older = or_(i.count_date.is_(None), i.full_count_date >= i.count_date)
    all_not_older = or_(i.full_count_date.is_(None), i.count_date >= i.full_count_date)
    charter = case(
        (
            and_(
                full_not_older,
                i.full_high.is_not(None),
                i.full_high < rules.charter_min_full_members,
            ),
            MET,
        ),
        (and_(full_not_older, i.full_low >= rules.charter_min_full_members), NOT_MET),
        (
            and_(
                all_not_older,
                i.members_high.is_not(None),
                i.members_high < rules.charter_min_full_members,
            ),
            MET,
        ),
        else_=UNKNOWN,
    )
    ageing = case(
        (i.over_60_low >= rules.ageing_members, MET),
        (and_(i.over_60_high.is_not(None), i.over_60_high < rules.ageing_members), NOT_MET),
        else_=UNKNOWN,
    )
    # "trên 5 năm" is more than 5; "dưới 10 năm" (less than 10, at most 10) proves no
    # stall of any length, however large its number. Not lower_bound's "+ 1", which
    # holds for whole counts: "trên 4,5 năm" proves no stall of more than 5 years.
    stated_stall = or_(
        and_(i.stall_qualifier == "more_than", i.stall_years >= rules.stall_years),
        and_(
            i.stall_qualifier.not_in(("less_than", "at_most")),
            i.stall_years > rules.stall_years,
        ),
    )
    stalled = case(
        (
            and_(
                stated_stall,
                # No admission can have happened after the statement: "từ năm 2019
                # đến nay" in an article of 2024 may be of 2023, after a stall stated
                # in 2020.
                or_(
                    i.last_possible_admission.is_(None),
                    i.last_possible_admission <= i.stall_date,
                ),
            ),
            MET,
        ),
        # An admission of a group's whole may be one organization's: each of the others
        # may have stalled. Only an admission of each ends each one's stall.
        (i.last_admission_each >= day.stall_since, NOT_MET),
        else_=UNKNOWN,
    )
    attrition = case(
        (
            and_(
                i.departures_low.is_not(None),
                i.admissions_high.is_not(None),
                i.admissions_unbounded == 0,
                i.departures_low > i.admissions_high,
            ),
            MET,
        ),
        (
            and_(
                i.departures_high.is_not(None),
                i.departures_unbounded == 0,
                i.admissions_low.is_not(None),
                i.admissions_low >= i.departures_high,
            ),
            NOT_MET,
        ),
        else_=UNKNOWN,
    )
    reported = case((i.reported_value >= 1, MET), else_=NOT_MET)

    def met(status: ColumnElement[Any]) -> ColumnElement[bool]:
        return status == "met"

    def one(status: ColumnElement[Any]) -> ColumnElement[Any]:
        return case((status == "met", 1), else_=0)

    level = case(
        (i.dissolved_on <= as_of, literal("dissolved")),
        (or_(met(charter), and_(met(too_few), met(ageing), met(stalled))), literal("critical")),
        (
            or_(met(reported), met(too_few), (one(ageing) + one(stalled) + one(attrition)) >= 2),
            literal("high"),
        ),
        (or_(met(ageing), met(stalled), met(attrition)), literal("watch")),
        (too_few == "not_met", literal("none")),
        else_=literal("unknown"),
    )
    criteria_met = (
        case((met(too_few), "too_few_members,"), else_="")
        + case((met(ageing), "ageing,"), else_="")
        + case((met(stalled), "stalled,"), else_="")
        + case((met(charter), "below_charter_minimum,"), else_="")
        + case((met(attrition), "attrition,"), else_="")
        + case((met(reported), "reported,"), else_="")
    )
    statuses = select(
        i.branch_id,
        level.label("level"),
        criteria_met.label("criteria_met"),
        too_few.label("too_few_members"),
        ageing.label("ageing"),
        stalled.label("stalled"),
        charter.label("below_charter_minimum"),
        attrition.label("attrition"),
        reported.label("reported"),
        *(_shown(inputs, name) for name in INPUT_COLUMNS),
        i.last_admission_each,
        i.last_possible_admission,
    ).subquery("risk")
    rank = case(*((statuses.c.level == name, rank) for name, rank in LEVEL_RANK.items()))
    return select(statuses, rank.label("rank"))


def _of_whole_group(figure: Any, group_size: Col[Any]) -> ColumnElement[bool]:
    """The figure is of an unnamed group's whole, not of each of its organizations."""
    return and_(group_size > 1, figure.c.applies_to_each == false())


def _each_low(figure: Any, group_size: Col[Any]) -> ColumnElement[Any]:
    """The least the figure allows each organization: its lower bound, or 0 when it is
    of an unnamed group's whole."""
    return case(
        (_of_whole_group(figure, group_size), literal(0)),
        else_=lower_bound(figure.c.value, figure.c.qualifier),
    )


def _last_admission_of_each(ids: Any, as_of: Col[date]) -> ColumnElement[Any]:
    """The last day of the newest admission made by each of the branch's organizations:
    its last admission, but of an unnamed group only its admissions "for each" (looked up
    for groups only, which are few)."""
    of_each = _last_admission(ids.c.branch_id, as_of, of_each=True)
    return case((ids.c.group_size > 1, of_each), else_=ids.c.last_admission)


def _last_possible_admission(ids: Any, as_of: Col[date], stall: Any) -> ColumnElement[Any]:
    """The last day any of the branch's admissions can have happened on (_latest_possible_day),
    looked up where a stall is stated: the only rule that reads it, and a few branches."""
    latest = _last_admission(ids.c.branch_id, as_of, day=_latest_possible_day)
    return case((stall.c.id.is_not(None), latest), else_=null())


def _last_admission(
    branch_id: Col[Any],
    as_of: Col[date],
    *,
    day: Callable[[Any], Col[Any]] = _event_end,
    of_each: bool = False,
) -> ColumnElement[Any]:
    """The last `day` of a branch's admissions (a count above 0, or not reported) known as
    of as_of; `of_each`: only those "for each" of a group's organizations."""
    ev = alias(MembershipEvent, "admitted")
    conditions = [
        ev.c.branch_id == branch_id,
        ev.c.kind == "admission",
        ev.c.evidence_date <= as_of,
        _admitted(ev.c),
    ]
    if of_each:
        conditions.append(ev.c.applies_to_each == true())
    return select(func.max(day(ev.c))).where(*conditions).scalar_subquery()


def _shown(inputs: Any, name: str) -> ColumnElement[Any]:
    """An input as a risk explanation shows it. A window's sum with an unbounded figure
    in it ("at least", or an admission whose number is not printed) has no most: NULL,
    not the sum of its bounded figures that the rules compare only when there is none
    (shown, an admission reported without a number read 1 to 0)."""
    kind = name.removesuffix("_high")
    if name.endswith("_high") and kind in ("admissions", "departures"):
        unbounded = inputs.c[f"{kind}_unbounded"]
        return case((unbounded > 0, null()), else_=inputs.c[name]).label(name)
    column: ColumnElement[Any] = inputs.c[name]
    return column


INPUT_COLUMNS = (
    "count_id",
    "full_count_id",
    "over_60_id",
    "stall_fact_id",
    "reported_fact_id",
    "last_admission",
    "attrition_anchor_year",
    "dissolved_on",
    "members_low",
    "members_high",
    "full_low",
    "full_high",
    "over_60_low",
    "over_60_high",
    "stall_years",
    "stall_qualifier",
    "departures_low",
    "departures_high",
    "admissions_low",
    "admissions_high",
    "newest_evidence_date",
)
