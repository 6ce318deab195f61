"""Each risk rule on small hand-built cases: met, not met, unknown, exactly at threshold."""

from collections.abc import Iterator
from datetime import date
from typing import Any, get_args

import pytest
from sqlalchemy import Engine, bindparam
from sqlmodel import Session, select

from app.db import make_engine
from app.ingest.files import validate_article
from app.ingest.loader import apply_article
from app.models import Branch, BranchStatus
from app.models.vocab import LEVELS, RuleId
from app.reader import Reader
from app.services.risk import RiskDay, risk_select, years_before
from app.services.risk_explain import explain_risk
from app.services.risk_rules import LEVEL_DESCRIPTIONS, RiskRules, describe_rules
from app.services.status import refresh_status
from tests.conftest import DatabaseFactory

RULES = RiskRules()
TODAY = date(2026, 1, 1)
_counter = iter(range(1_000_000))


@pytest.fixture(scope="module")
def engine(databases: DatabaseFactory) -> Iterator[Engine]:
    # Every case loads its own branch under a fresh key: one database serves them all.
    eng = make_engine(databases.copy("migrated"))
    yield eng
    eng.dispose()


def assess(
    engine: Engine,
    *,
    as_of: date = TODAY,
    branch: dict[str, Any] | None = None,
    **sections: list[dict[str, Any]],
) -> dict[str, Any]:
    """Load one branch (`branch`: more of its fields) with the given figures (quotes made
    up to be in the text), explain it."""
    n = next(_counter)
    # Parametrized records are shared between the two database runs: work on copies.
    sections = {name: [dict(r) for r in records] for name, records in sections.items()}
    quotes: list[str] = []
    for records in sections.values():
        for i, record in enumerate(records):
            record.setdefault("id", f"r{i}-{len(quotes)}")
            record.setdefault("branch", f"org:test-{n}")
            record["quote"] = f"figure number {len(quotes)} of case {n}"
            if record.get("value") is not None and "figure" not in record:
                # A value needs the figure that prints it (seed/FORMAT.md).
                record["figure"] = _printed(record["value"], record.get("value_max"))
                record["quote"] += f": {record['figure']}"
            quotes.append(record["quote"])
    article = validate_article(
        {
            "format": "branchstats/article-v1",
            "source": {"key": f"case-{n}", "text": " ".join(["Chi bộ thử.", *quotes])},
            "branches": [
                {
                    "key": f"org:test-{n}",
                    "kind": "village_branch",
                    "name": f"Chi bộ thử {n}",
                    "quote": "Chi bộ thử.",
                    **(branch or {}),
                }
            ],
            **sections,
        },
        "case",
    )
    with Session(engine) as session:
        apply_article(session, article, article.source.text or "", today=TODAY)
        session.commit()
        branch_id = session.exec(select(Branch.id).where(Branch.key == f"org:test-{n}")).one()
        return explain_risk(Reader.on(session), branch_id, RULES, as_of)


def _printed(value: float, value_max: float | None) -> str:
    def plain(n: float) -> str:
        return str(int(n)) if float(n).is_integer() else str(n)

    return plain(value) + (f"-{plain(value_max)}" if value_max is not None else "")


def status(result: dict[str, Any], rule: str) -> str:
    return next(c["status"] for c in result["criteria"] if c["id"] == rule)


def count(
    value: int, qualifier: str = "exact", as_of: str = "2025-01-01", status: str = "all"
) -> dict[str, Any]:
    return {"value": value, "qualifier": qualifier, "as_of": as_of, "status": status}


def fact(
    metric: str, value: float, qualifier: str = "exact", as_of: str = "2025-01-01"
) -> dict[str, Any]:
    return {"metric": metric, "value": value, "qualifier": qualifier, "as_of": as_of}


def event(kind: str, value: int | None, period: str) -> dict[str, Any]:
    return {"kind": kind, "value": value, "period": period}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([count(4)], "met"),
        ([count(5)], "not_met"),  # exactly at the threshold: "fewer than 5" is not met
        ([count(5, "less_than")], "met"),  # "dưới 5"
        ([count(3, "more_than")], "unknown"),  # 4 or 40
        ([count(3, "at_least")], "unknown"),  # "3 trở lên": 3 or 30
        ([count(8, "at_most")], "unknown"),  # "nhiều nhất 8": 0 to 8
        ([count(8, "approximate")], "not_met"),
        # "4-6 đảng viên": as many as 6, so not proved fewer than 5 (a mutation audit
        # found a range read as its lower end unnoticed).
        ([count(4) | {"value_max": 6}], "unknown"),
        ([count(3) | {"value_max": 4}], "met"),
        ([], "unknown"),  # no count is not zero
        # The newest count is read, whatever the order they were written in.
        ([count(10, as_of="2020-01-01"), count(4)], "met"),
        ([count(4, as_of="2020-01-01"), count(10)], "not_met"),
        # Two of one day: the one written last (README: the highest id).
        ([count(10), count(4)], "met"),
        ([count(4), count(10)], "not_met"),
    ],
)
def test_too_few_members(engine: Engine, counts: list[dict[str, Any]], expected: str) -> None:
    assert status(assess(engine, counts=counts), "too_few_members") == expected


def test_a_count_of_a_later_day_is_not_read_before_it(engine: Engine) -> None:
    counts = [count(10, as_of="2020-01-01"), count(4, as_of="2025-01-01")]
    assert status(assess(engine, counts=counts), "too_few_members") == "met"
    before = assess(engine, counts=counts, as_of=date(2024, 12, 31))
    assert status(before, "too_few_members") == "not_met"
    # The day itself is in: a figure as of a day describes that day.
    on_the_day = assess(engine, counts=counts, as_of=date(2025, 1, 1))
    assert status(on_the_day, "too_few_members") == "met"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ([fact("members_over_60", 3)], "met"),
        ([fact("members_over_60", 2)], "not_met"),
        ([fact("members_over_60", 3, "at_most")], "unknown"),  # 0 to 3
        ([], "unknown"),
    ],
)
def test_ageing(engine: Engine, facts: list[dict[str, Any]], expected: str) -> None:
    assert status(assess(engine, facts=facts), "ageing") == expected


@pytest.mark.parametrize(
    ("facts", "events", "expected"),
    [
        ([fact("years_without_admission", 5, "more_than")], [], "met"),  # "trên 5 năm"
        ([fact("years_without_admission", 5)], [], "unknown"),  # exactly 5 is not "more than 5"
        ([fact("years_without_admission", 6)], [], "met"),
        # "dưới 10 năm", "nhiều nhất 10 năm": 0 to 9 or 10 years, no stall proved
        ([fact("years_without_admission", 10, "less_than")], [], "unknown"),
        ([fact("years_without_admission", 10, "at_most")], [], "unknown"),
        ([fact("years_without_admission", 6, "at_least")], [], "met"),
        ([fact("years_without_admission", 6)], [event("admission", 1, "2025")], "not_met"),
        ([], [event("admission", 1, "2022")], "not_met"),  # within 5 years of as_of
        ([], [event("admission", 1, "2019")], "unknown"),  # old, and absence is not evidence
        ([], [event("admission", 0, "2024")], "unknown"),  # a stated zero is not an admission
        ([], [event("admission", 0, "2024") | {"qualifier": "more_than"}], "not_met"),  # "hơn 0"
        ([], [], "unknown"),
    ],
)
def test_stalled(
    engine: Engine, facts: list[dict[str, Any]], events: list[dict[str, Any]], expected: str
) -> None:
    assert status(assess(engine, facts=facts, events=events), "stalled") == expected


@pytest.mark.parametrize(
    ("admitted", "expected"),
    [
        ("2021-06-15", "not_met"),  # 5 years to the day before as_of: within them
        ("2021-06-14", "unknown"),  # a day earlier: outside, and absence proves nothing
    ],
)
def test_the_stall_window_is_five_years_to_the_day(
    engine: Engine, admitted: str, expected: str
) -> None:
    """README: not met when an admission is recorded within 5 years before as_of."""
    events = [event("admission", 1, admitted)]
    result = assess(engine, events=events, as_of=date(2026, 6, 15))
    assert status(result, "stalled") == expected


def test_an_admission_of_a_year_is_no_later_than_its_article(engine: Engine) -> None:
    """An admission "in 2026" from an article of 2026-01-01 (TODAY here) happened by that
    day, not on 2026-12-31, after the day asked about."""
    result = assess(engine, events=[event("admission", 1, "2026")])
    criterion = next(c for c in result["criteria"] if c["id"] == "stalled")
    assert criterion["value"]["last_admission"] == TODAY


def test_five_years_before_a_29_february_is_the_28th() -> None:
    assert years_before(date(2028, 2, 29), 5) == date(2023, 2, 28)
    assert years_before(date(2028, 2, 29), 4) == date(2024, 2, 29)


def test_a_stall_stated_after_an_admission_still_holds(engine: Engine) -> None:
    """ "Trên 5 năm không kết nạp" stated at the end of 2023: an admission earlier that
    year (before the statement) does not undo it."""
    stall = fact("years_without_admission", 5, "more_than", as_of="2023-12-31")
    result = assess(
        engine, facts=[stall], events=[event("admission", 1, "2023")], as_of=date(2024, 1, 1)
    )
    assert status(result, "stalled") == "met"


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2019-01-01/", "unknown"),  # "từ năm 2019 đến nay": up to the article, after 2020
        ("2019-01-01/2019-12-31", "met"),  # all of it before the statement
        ("2021-01-01/", "not_met"),  # from within the 5 years before as_of
    ],
)
def test_an_admission_open_to_its_end_may_be_after_a_stated_stall(
    engine: Engine, period: str, expected: str
) -> None:
    """From an audit: "trên 5 năm" stated in 2020, and admissions "từ năm 2019 đến nay"
    in an article of 2026 (undated, registered on 2026-01-01): they may be of 2025, so
    the stall is not proved; dated by the period's start they read as before it, met."""
    stall = fact("years_without_admission", 5, "more_than", as_of="2020-06-30")
    result = assess(engine, facts=[stall], events=[event("admission", 3, period)])
    criterion = next(c for c in result["criteria"] if c["id"] == "stalled")
    assert criterion["status"] == expected
    start = date.fromisoformat(period[:10])
    if period.endswith("/"):
        assert criterion["value"]["last_possible_admission"] == TODAY  # the article's day
        assert criterion["value"]["last_admission"] == start  # known from then
    else:
        assert criterion["value"]["last_possible_admission"] == date(2019, 12, 31)
    assert [e["period_start"] for e in criterion["evidence"] if "kind" in e] == [start]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([count(2)], "met"),
        ([count(3, status="full"), count(10)], "not_met"),
        ([count(2, status="full"), count(10)], "met"),
        ([count(10)], "unknown"),  # 10 members, but how many full members?
        ([count(3)], "unknown"),  # 3 members: 0 to 3 of them full
        # "Hơn 1 đảng viên chính thức" and 2 members on the same day: at most 2 full.
        ([count(1, "more_than", status="full"), count(2)], "met"),
        ([], "unknown"),
        # The newer count decides: "chỉ còn 2 đảng viên" in 2020 after 5 full in 2015.
        ([count(5, status="full", as_of="2015-12-31"), count(2, as_of="2020-12-31")], "met"),
        ([count(2, as_of="2015-12-31"), count(5, status="full", as_of="2020-12-31")], "not_met"),
        # 2 full in 2015, 10 members in 2020: how many of them full is not known.
        ([count(2, status="full", as_of="2015-12-31"), count(10, as_of="2020-12-31")], "unknown"),
        ([count(9, status="full", as_of="2015-12-31"), count(10, as_of="2020-12-31")], "unknown"),
    ],
)
def test_below_charter_minimum(engine: Engine, counts: list[dict[str, Any]], expected: str) -> None:
    assert status(assess(engine, counts=counts), "below_charter_minimum") == expected


def test_below_charter_minimum_shows_the_full_members_it_read(engine: Engine) -> None:
    """A front end shows the value beside the threshold: "fewer than 3 full members" met
    must show the full members' count ("dưới 3": 0 to 2), not all members' 4."""
    result = assess(engine, counts=[count(4), count(3, "less_than", status="full")])
    criterion = next(c for c in result["criteria"] if c["id"] == "below_charter_minimum")
    assert criterion["status"] == "met"
    assert criterion["value"] == {
        "full_members": {"low": 0, "high": 2},
        "members": {"low": 4, "high": 4},
    }
    assert [e["status"] for e in criterion["evidence"]] == ["full", "all"]


GROUP_OF_3 = {"name": None, "group_size": 3}


def whole(record: dict[str, Any]) -> dict[str, Any]:
    """The figure of an unnamed group's whole ("tổng cộng 12 đảng viên" of its three)."""
    return record | {"applies_to_each": False}


def each(record: dict[str, Any]) -> dict[str, Any]:
    """The figure of each of an unnamed group's organizations ("mỗi chi bộ dưới 5")."""
    return record | {"applies_to_each": True}


@pytest.mark.parametrize(
    ("rule", "sections", "expected"),
    [
        # 12 over three organizations: 4 each, or 12 in one; 4 in all: each has fewer than 5.
        ("too_few_members", {"counts": [whole(count(12))]}, "unknown"),
        ("too_few_members", {"counts": [whole(count(4))]}, "met"),
        ("too_few_members", {"counts": [each(count(12))]}, "not_met"),
        ("too_few_members", {"counts": [each(count(4))]}, "met"),
        # 3 over 60 in the group: 1 in each, or 3 in one; 2 in all: none has 3.
        ("ageing", {"facts": [whole(fact("members_over_60", 3))]}, "unknown"),
        ("ageing", {"facts": [whole(fact("members_over_60", 2))]}, "not_met"),
        ("ageing", {"facts": [each(fact("members_over_60", 3))]}, "met"),
        ("below_charter_minimum", {"counts": [whole(count(9, status="full"))]}, "unknown"),
        ("below_charter_minimum", {"counts": [whole(count(2, status="full"))]}, "met"),
        ("below_charter_minimum", {"counts": [each(count(3, status="full"))]}, "not_met"),
        ("below_charter_minimum", {"counts": [whole(count(2))]}, "met"),
        # An admission of the whole group may be one organization's: the others may
        # have stalled; one "for each" ends each one's stall.
        ("stalled", {"events": [whole(event("admission", 2, "2024"))]}, "unknown"),
        ("stalled", {"events": [each(event("admission", 1, "2024"))]}, "not_met"),
        (
            "stalled",
            {
                "facts": [fact("years_without_admission", 5, "more_than", as_of="2020-01-01")],
                "events": [whole(event("admission", 2, "2024"))],
            },
            "unknown",
        ),
        (
            "stalled",
            {"facts": [whole(fact("years_without_admission", 5, "more_than"))]},
            "met",
        ),
        # 2 departures of the whole group against 1 admission in each: one organization
        # may have lost both (2 against 1), another none; 2 of each against 1 of each: met.
        (
            "attrition",
            {"events": [whole(event("departure", 2, "2023")), each(event("admission", 1, "2023"))]},
            "unknown",
        ),
        (
            "attrition",
            {"events": [each(event("departure", 2, "2023")), each(event("admission", 1, "2023"))]},
            "met",
        ),
        (
            "attrition",
            {
                "events": [
                    whole(event("departure", 5, "2023")),
                    whole(event("admission", 2, "2023")),
                ]
            },
            "unknown",
        ),
        (
            "attrition",
            {"events": [whole(event("departure", 2, "2023")), each(event("admission", 3, "2023"))]},
            "not_met",
        ),
    ],
)
def test_a_group_is_read_for_each_of_its_organizations(
    engine: Engine, rule: str, sections: dict[str, list[dict[str, Any]]], expected: str
) -> None:
    """README: the member rules read each of an unnamed group's organizations; a figure of
    the whole group is no organization's own (12 of three is not "12 each")."""
    assert status(assess(engine, branch=GROUP_OF_3, **sections), rule) == expected


@pytest.mark.parametrize(
    ("rule", "sections", "expected"),
    [
        ("too_few_members", {"counts": [whole(count(12))]}, "unknown"),
        ("stalled", {"events": [whole(event("admission", 2, "2024"))]}, "unknown"),
        ("stalled", {"events": [each(event("admission", 1, "2024"))]}, "not_met"),
    ],
)
def test_a_group_of_two_is_a_group(
    engine: Engine, rule: str, sections: dict[str, list[dict[str, Any]]], expected: str
) -> None:
    """The smallest group: 12 of two is not 12 each, an admission of the two may be one's
    (from a mutation audit: every group case had three, and "more than two" passed)."""
    group_of_2 = {"name": None, "group_size": 2}
    assert status(assess(engine, branch=group_of_2, **sections), rule) == expected


def test_a_branchs_figure_is_its_own_whatever_applies_to_each_says(engine: Engine) -> None:
    """Not a group: its count and its admission are its own (applies_to_each is a group's)."""
    named = assess(
        engine,
        counts=[whole(count(12))],
        events=[whole(event("admission", 1, "2024"))],
    )
    assert status(named, "too_few_members") == "not_met"
    assert status(named, "stalled") == "not_met"


def test_a_groups_explanation_shows_each_organizations_bounds(engine: Engine) -> None:
    """What the rule read, beside the figure it read: 12 of the whole group, so each of
    its three has 0 to 12; its admission of the whole is its last, none for each."""
    result = assess(
        engine,
        branch=GROUP_OF_3,
        counts=[whole(count(12))],
        events=[whole(event("admission", 2, "2024"))],
    )
    criteria = {c["id"]: c for c in result["criteria"]}
    assert criteria["too_few_members"]["value"] == {"low": 0, "high": 12}
    assert [e["value"] for e in criteria["too_few_members"]["evidence"]] == [12]
    assert criteria["below_charter_minimum"]["value"]["members"] == {"low": 0, "high": 12}
    assert criteria["attrition"]["value"]["admissions"] == {"low": 0, "high": 2}
    stalled = criteria["stalled"]["value"]
    assert stalled["last_admission"] == date(2024, 12, 31)
    assert stalled["last_admission_of_each"] is None
    assert result["level"] == "unknown"


def test_a_groups_stall_shows_the_admission_for_each_it_read(engine: Engine) -> None:
    """Its newest admission of the whole (2025) and its newest for each (2023), both shown."""
    result = assess(
        engine,
        branch=GROUP_OF_3,
        events=[each(event("admission", 1, "2023")), whole(event("admission", 2, "2025"))],
    )
    criterion = next(c for c in result["criteria"] if c["id"] == "stalled")
    assert criterion["status"] == "not_met"
    assert criterion["value"]["last_admission"] == date(2025, 12, 31)
    assert criterion["value"]["last_admission_of_each"] == date(2023, 12, 31)
    shown = [(e["period_start"].year, e["applies_to_each"]) for e in criterion["evidence"]]
    assert shown == [(2025, False), (2023, True)]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([event("departure", 2, "2016/2017"), event("admission", 1, "2018")], "met"),  # Tiền Phong
        ([event("departure", 1, "2018"), event("admission", 1, "2018")], "not_met"),  # equal
        ([event("departure", 3, "2018")], "unknown"),  # admissions not reported
        (
            [event("departure", 3, "2012"), event("admission", 1, "2018")],
            "unknown",
        ),  # out of window
        # The window is 3 calendar years up to the latest, 2016 to 2018: 2015 is outside.
        ([event("departure", 3, "2015"), event("admission", 1, "2018")], "unknown"),
        ([event("departure", 3, "2016"), event("admission", 1, "2018")], "met"),
        # 2015's 5 departures left out: 1 against 3 in the window (not "unknown" with
        # 2015 read as a fourth year of it).
        (
            [
                event("departure", 5, "2015"),
                event("departure", 1, "2018"),
                event("admission", 3, "2018"),
            ],
            "not_met",
        ),
        # Begun before the window (2016 to 2018), an event may lie wholly before it.
        ([event("departure", 5, "2010/2017"), event("admission", 1, "2018")], "unknown"),
        ([event("departure", 5, "2016/2017"), event("admission", 1, "2018")], "met"),
        # Begun the year just before the window: it too may lie before it (all in 2015).
        ([event("departure", 5, "2015/2017"), event("admission", 1, "2018")], "unknown"),
        ([event("departure", 1, "2018"), event("admission", 3, "2010/2017")], "unknown"),
        ([event("departure", 1, "2018"), event("admission", 3, "2016/2017")], "not_met"),
        # A number not reported may be any: more, or fewer.
        ([event("departure", 2, "2018"), event("admission", None, "2018")], "unknown"),
        ([event("departure", None, "2018"), event("admission", 1, "2018")], "unknown"),
        ([], "unknown"),
    ],
)
def test_attrition(engine: Engine, events: list[dict[str, Any]], expected: str) -> None:
    assert status(assess(engine, events=events), "attrition") == expected


def test_the_attritions_evidence_is_its_window(engine: Engine) -> None:
    """The events shown are those the rule read: 2016 to 2018, not 2015's."""
    events = [
        event("departure", 3, "2015"),
        event("departure", 1, "2016"),
        event("admission", 1, "2018"),
    ]
    criterion = next(c for c in assess(engine, events=events)["criteria"] if c["id"] == "attrition")
    shown = sorted((e["kind"], e["period_start"].year) for e in criterion["evidence"])
    assert shown == [("admission", 2018), ("departure", 2016)]


def test_an_event_begun_before_the_window_counts_from_none_to_all_of_it(
    engine: Engine,
) -> None:
    """5 departures of 2010 to 2017 in a window of 2016 to 2018: 0 to 5 in it, shown as
    the rule read them, with the event among the window's evidence."""
    events = [event("departure", 5, "2010/2017"), event("admission", 1, "2018")]
    criterion = next(c for c in assess(engine, events=events)["criteria"] if c["id"] == "attrition")
    assert criterion["value"]["departures"] == {"low": 0, "high": 5}
    assert criterion["value"]["admissions"] == {"low": 1, "high": 1}
    assert criterion["value"]["window_years"] == [2016, 2018]
    assert sorted(e["kind"] for e in criterion["evidence"]) == ["admission", "departure"]


def test_reported(engine: Engine) -> None:
    assert status(assess(engine, facts=[fact("at_risk_reported", 1)]), "reported") == "met"
    assert status(assess(engine), "reported") == "not_met"


def test_no_data_at_all_is_unknown_not_safe(engine: Engine) -> None:
    result = assess(engine)
    assert result["level"] == "unknown" and result["at_risk"] is False
    assert result["newest_evidence_date"] is None


def test_levels(engine: Engine) -> None:
    assert assess(engine, counts=[count(10)])["level"] == "none"
    assert (
        assess(engine, counts=[count(10)], facts=[fact("members_over_60", 4)])["level"] == "watch"
    )
    watch = assess(engine, counts=[count(10)], facts=[fact("members_over_60", 4)])
    assert watch["at_risk"] is True  # watch is at risk: /branches?risk=true lists it
    assert assess(engine, counts=[count(4)])["level"] == "high"
    assert assess(engine, counts=[count(3)])["level"] == "high"  # full members unknown
    # Reported at risk, alone; two of ageing, stalled and attrition: high.
    assert (
        assess(engine, counts=[count(10)], facts=[fact("at_risk_reported", 1)])["level"] == "high"
    )
    two = [fact("members_over_60", 3), fact("years_without_admission", 5, "more_than")]
    assert assess(engine, counts=[count(10)], facts=two)["level"] == "high"
    assert assess(engine, counts=[count(2)])["level"] == "critical"
    critical = assess(
        engine,
        counts=[count(4)],
        facts=[fact("members_over_60", 3), fact("years_without_admission", 5, "more_than")],
    )
    assert critical["level"] == "critical"


def test_as_of_uses_only_earlier_evidence(engine: Engine) -> None:
    events = [event("admission", 1, "2024")]
    facts = [fact("years_without_admission", 5, "more_than", as_of="2023-12-31")]
    assert (
        status(assess(engine, facts=facts, events=events, as_of=date(2024, 1, 1)), "stalled")
        == "met"
    )
    facts = [fact("years_without_admission", 5, "more_than", as_of="2023-12-31")]
    events = [event("admission", 1, "2024")]
    assert (
        status(assess(engine, facts=facts, events=events, as_of=date(2025, 1, 1)), "stalled")
        == "not_met"
    )


def test_each_value_shows_what_its_rule_read_with_its_qualifier(engine: Engine) -> None:
    """From a front end's audit: ageing showed "3.0" and stalled "10.0" for "dưới 10 năm"
    (read as no stall), the qualifier only inside the evidence."""
    over_60 = fact("members_over_60", 2, "more_than")  # "trên 2": at least 3
    stall = fact("years_without_admission", 10, "less_than")  # "dưới 10 năm"
    result = assess(engine, facts=[over_60, stall])
    values = {c["id"]: c["value"] for c in result["criteria"]}
    assert values["ageing"] == {"low": 3, "high": None}
    assert status(result, "ageing") == "met"
    assert values["stalled"] == {
        "stated_years_without_admission": 10,
        "stated_qualifier": "less_than",
        "last_admission": None,
        "last_admission_of_each": None,
        "last_possible_admission": None,
    }
    assert status(result, "stalled") == "unknown"
    nothing = {c["id"]: c["value"] for c in assess(engine)["criteria"]}
    assert nothing["ageing"] == {"low": None, "high": None}  # none over 60 recorded


def test_a_dissolved_branch_is_not_at_risk_of_ceasing_to_exist(engine: Engine) -> None:
    """Its criteria are still read from the evidence; its level says it has ceased to
    exist, from its dissolution on (as of the day before, it was at risk)."""
    dissolved = {"dissolved_on": "2025-07-01"}
    result = assess(engine, branch=dissolved, counts=[count(2)])
    assert (result["level"], result["at_risk"]) == ("dissolved", False)
    assert status(result, "too_few_members") == "met"
    with Session(engine) as session:
        before = explain_risk(Reader.on(session), result["branch_id"], RULES, date(2025, 6, 30))
        on_the_day = explain_risk(Reader.on(session), result["branch_id"], RULES, date(2025, 7, 1))
    assert (before["level"], before["at_risk"]) == ("critical", True)
    assert on_the_day["level"] == "dissolved"


def test_the_rules_published_are_the_rules_evaluated(engine: Engine) -> None:
    """The ids the OpenAPI lists (RuleId) are those of the rule set and of an explanation."""
    published = [rule.id for rule in describe_rules(RULES)]
    assert published == list(get_args(RuleId))
    assert [c["id"] for c in assess(engine)["criteria"]] == published
    assert set(LEVEL_DESCRIPTIONS) == set(LEVELS)


def test_thresholds_are_configurable(engine: Engine) -> None:
    strict = RiskRules(min_members=10)
    assert strict.version.startswith("2026.12+custom-") and RULES.version == "2026.12"
    # Each set of thresholds its own: rows stored under one are stale under another.
    assert len({strict.version, RiskRules(min_members=11).version, RULES.version}) == 3
    assert (
        max(
            len(RiskRules(**{f: 10**6 for f in ("min_members", "stall_years")}).version),
            len(strict.version),
        )
        <= 20
    )
    result = assess(engine, counts=[count(8)])
    with Session(engine) as session:
        assert (
            explain_risk(Reader.on(session), result["branch_id"], strict, TODAY)["level"] == "high"
        )


def test_status_table_follows_the_rules(engine: Engine) -> None:
    result = assess(engine, counts=[count(4)])
    with Session(engine) as session:
        refresh_status(session, RULES, today=TODAY)
        session.commit()
        row = session.get(BranchStatus, result["branch_id"])
    assert row is not None and row.risk_level == "high" and row.criteria_met == "too_few_members,"


def test_a_few_branches_and_every_branch_are_evaluated_alike(engine: Engine) -> None:
    """The attrition window summed per branch (`few_branches`, a write's and an
    explanation's) and grouped over all (a bulk refresh) give the same rows."""
    cases = [
        [event("departure", 2, "2016/2017"), event("admission", 1, "2018")],
        [event("departure", 1, "2018"), event("admission", None, "2018")],
        [event("departure", 3, "2012"), event("admission", 1, "2018")],
        [event("transfer_in", 2, "2018"), event("departure", 1, "2017")],
        [],
    ]
    ids = [assess(engine, events=events)["branch_id"] for events in cases]
    params = RiskDay.params(TODAY, RULES) | {"ids": ids}
    one_by_one = risk_select(
        RULES,
        RiskDay.bound(),
        scope=lambda b: b.c.id.in_(bindparam("ids", expanding=True)),
        few_branches=True,
    )
    all_at_once = risk_select(RULES, RiskDay.bound())
    with engine.connect() as conn:
        few = {r.branch_id: r for r in conn.execute(one_by_one, params).mappings()}
        every = {r.branch_id: r for r in conn.execute(all_at_once, params).mappings()}
    assert sorted(few) == sorted(ids)
    assert {i: dict(every[i]) for i in ids} == {i: dict(few[i]) for i in ids}
    # The window's sums are in the rows compared: one case met, one has no events.
    assert few[ids[0]]["attrition"] == "met" and few[ids[0]]["departures_low"] == 2
    assert few[ids[-1]]["departures_low"] is None


# sqlite_stat1 of the events' (branch_id, kind, evidence_date) index at scale 1.0: a few
# events a branch and kind. With it SQLite (3.40) searched `kind IN (...)` with its
# IN early-out, which skipped the bound on the day for the next kind's first event.
NATIONAL_EVENT_STATS = "2323200 13 4 1"


def test_as_of_a_day_leaves_out_later_departures_as_planned_at_national_scale(
    databases: DatabaseFactory,
) -> None:
    engine = make_engine(databases.copy("migrated"))
    events = [
        event("admission", 1, "2016"),
        event("admission", 1, "2020"),
        event("admission", 1, "2022"),
        event("departure", 1, "2025"),
        event("transfer_in", 1, "2025"),
    ]
    branch_id = assess(engine, events=events)["branch_id"]
    url = engine.url
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql(
                "UPDATE sqlite_stat1 SET stat = ? WHERE idx = ?",
                (NATIONAL_EVENT_STATS, "ix_membership_events_branch_kind_evidence"),
            )
    engine.dispose()  # the statistics are read as a connection opens
    engine = make_engine(url.render_as_string(hide_password=False))
    day = date(2024, 1, 1)
    with Session(engine) as session:
        explained = explain_risk(Reader.on(session), branch_id, RULES, day)
        rows = session.execute(
            risk_select(RULES, RiskDay.bound(), scope=lambda b: b.c.id == branch_id),
            RiskDay.params(day, RULES),
        ).mappings()
        evaluated = next(iter(rows))
    engine.dispose()
    attrition = next(c for c in explained["criteria"] if c["id"] == "attrition")
    assert attrition["value"]["window_years"] == [2020, 2022]
    assert attrition["value"]["departures"] == {"low": None, "high": None}
    assert [e["evidence_date"] for e in attrition["evidence"]] == [
        date(2020, 12, 31),
        date(2022, 12, 31),
    ]
    assert evaluated["attrition_anchor_year"] == 2022 and evaluated["departures_low"] is None
    assert evaluated["admissions_low"] == 2
