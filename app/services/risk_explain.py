"""Why a branch is (or is not) at risk: each criterion with its value, threshold, evidence."""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Select, bindparam, select

from app.errors import not_found
from app.models import Fact, MembershipCount, MembershipEvent
from app.models.vocab import LEVEL_RANK
from app.reader import Reader
from app.services.answer_cache import Answer, AnswerCache, kept_answer
from app.services.event_reports import reported_again
from app.services.figures import figures_by_ids, record_path
from app.services.refs import table
from app.services.risk import RiskDay, admission_or_departure, risk_select, years_before
from app.services.risk_rules import RiskRules, describe_rules
from app.services.status import stored_status_day


def risk_answer(
    reader: Reader, answers: AnswerCache, branch_id: int, rules: RiskRules, as_of: date | None
) -> Answer:
    """explain_risk as sent: kept until the data changes, per rules and day. Evaluated
    per request it was 2.7 ms on PostgreSQL at scale 1.0 (368 requests a second under
    load), for the question a front end asks beside every branch at risk.

    Without a day, of the stored statuses' day, as the branch's list item and detail are
    (today's once the day's refresh has run: app.services.status_day). Of today's, it
    told another level than the item beside it from midnight until that refresh. The
    refresh is a write, which drops the kept answer."""
    return kept_answer(
        reader,
        answers,
        ("risk", branch_id, rules.version, as_of),
        lambda: explain_risk(reader, branch_id, rules, as_of or stored_status_day(reader)),
    )


def explain_risk(reader: Reader, branch_id: int, rules: RiskRules, as_of: date) -> dict[str, Any]:
    explained = explain_risks(reader, [branch_id], rules, as_of)
    if not explained:
        raise not_found("Branch", branch_id)
    return explained[0]


def explain_risks(
    reader: Reader, branch_ids: Sequence[int], rules: RiskRules, as_of: date
) -> list[dict[str, Any]]:
    """explain_risk of each of the branches that exists, in their order: five statements
    for all of them (a bulk export's batch: app.services.risk_evidence)."""
    rows = reader.mappings(
        _branches_risk,
        rules,
        params={**RiskDay.params(as_of, rules), "branch_ids": list(branch_ids)},
    )
    counts = _by_id(
        figures_by_ids(reader, MembershipCount, [r[k] for r in rows for k in COUNT_IDS])
    )
    facts = _by_id(figures_by_ids(reader, Fact, [r[k] for r in rows for k in FACT_IDS]))
    events: dict[int, list[dict[str, Any]]] = {}
    for event in _admission_departure_events(reader, [r["branch_id"] for r in rows], as_of):
        events.setdefault(event["branch"]["id"], []).append(event)
    by_branch = {row["branch_id"]: row for row in rows}
    return [
        _explained(by_branch[i], counts, facts, events.get(i, []), rules, as_of)
        for i in branch_ids
        if i in by_branch
    ]


# The evidence ids of a branch's risk row, by the table they are of.
COUNT_IDS = ("count_id", "full_count_id")
FACT_IDS = ("over_60_id", "stall_fact_id", "reported_fact_id")


def _by_id(documents: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {document["id"]: document for document in documents}


def _explained(
    row: dict[str, Any],
    counts: dict[int, dict[str, Any]],
    facts: dict[int, dict[str, Any]],
    events: list[dict[str, Any]],
    rules: RiskRules,
    as_of: date,
) -> dict[str, Any]:
    """A branch's explanation from its risk row and the documents of its evidence."""
    branch_id = row["branch_id"]
    anchor = row["attrition_anchor_year"]
    window = [
        e for e in events if anchor is not None and _event_year(e) > anchor - rules.attrition_years
    ]
    admissions = [e for e in events if e["kind"] == "admission"]
    last_admissions = [e for e in admissions if _event_end(e) == row["last_admission"]]

    def pick(ident: int | None, pool: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        return [pool[ident]] if ident in pool else []

    info = {r.id: r for r in describe_rules(rules)}
    members = _bounds(row, "members")
    each_admitted = [
        e
        for e in admissions
        if _event_end(e) == row["last_admission_each"] and e not in last_admissions
    ]
    possibly_later = [
        e
        for e in admissions
        if _latest_possible_day(e) == row["last_possible_admission"]
        and e not in last_admissions + each_admitted
    ]
    criteria = [
        _criterion(
            info["too_few_members"],
            row["too_few_members"],
            members,
            {"fewer_than": rules.min_members},
            pick(row["count_id"], counts),
        ),
        _criterion(
            info["ageing"],
            row["ageing"],
            # Bounds, as the rule reads them: "trên 2" is at least 3, with no most.
            _bounds(row, "over_60"),
            {"at_least": rules.ageing_members},
            pick(row["over_60_id"], facts),
        ),
        _criterion(
            info["stalled"],
            row["stalled"],
            {
                "stated_years_without_admission": _whole(row["stall_years"]),
                # "trên 5 năm" (more_than) proves a stall of more than 5 years;
                # "dưới 10 năm" none.
                "stated_qualifier": row["stall_qualifier"],
                "last_admission": row["last_admission"],
                # An unnamed group's newest admission "for each" of its organizations:
                # one of the whole group's may be a single organization's.
                "last_admission_of_each": row["last_admission_each"],
                # Where a stall is stated: the last day an admission can have happened on
                # (a period open to its end, "đến nay", up to its article's day).
                "last_possible_admission": row["last_possible_admission"],
            },
            {
                "more_than_years": rules.stall_years,
                "admission_since": years_before(as_of, rules.stall_years),
            },
            pick(row["stall_fact_id"], facts) + last_admissions + each_admitted + possibly_later,
        ),
        _criterion(
            info["below_charter_minimum"],
            row["below_charter_minimum"],
            # Both counts it reads: the full members', else all members' below the minimum.
            {
                "full_members": _bounds(row, "full"),
                "members": members,
            },
            {"fewer_than_full_members": rules.charter_min_full_members},
            # Both: it may be met through the count of all members.
            pick(row["full_count_id"], counts) + pick(row["count_id"], counts),
        ),
        _criterion(
            info["attrition"],
            row["attrition"],
            {
                "departures": {"low": row["departures_low"], "high": row["departures_high"]},
                "admissions": {"low": row["admissions_low"], "high": row["admissions_high"]},
                "window_years": [anchor - rules.attrition_years + 1, anchor] if anchor else None,
            },
            {"departures_exceed_admissions_over_years": rules.attrition_years},
            window,
        ),
        _criterion(
            info["reported"],
            row["reported"],
            _whole(facts.get(row["reported_fact_id"], {}).get("value")),
            {"reported": True},
            pick(row["reported_fact_id"], facts),
        ),
    ]
    newest = row["newest_evidence_date"]
    stated = _newest_stated(criteria)
    return {
        "branch_id": branch_id,
        "as_of": as_of,
        "level": row["level"],
        "at_risk": LEVEL_RANK[row["level"]] >= LEVEL_RANK["watch"],
        "rules_version": rules.version,
        "newest_evidence_date": newest,
        "evidence_age_days": (as_of - newest).days if newest else None,
        "newest_stated_date": stated,
        "stated_age_days": (as_of - stated).days if stated else None,
        "criteria": criteria,
    }


def _bounds(row: Any, name: str) -> dict[str, Any]:
    """The bounds a member rule read: each organization's (an unnamed group's figure of
    its whole puts each of them from 0 to its most: app.services.risk)."""
    return {"low": _whole(row[f"{name}_low"]), "high": _whole(row[f"{name}_high"])}


def _whole(number: Any) -> Any:
    """A fact's whole number of people or years as an integer: 3, not 3.0."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _newest_stated(criteria: list[dict[str, Any]]) -> date | None:
    """The newest date the texts themselves give for any evidence.

    An undated figure's evidence_date is only an upper bound (the day the article was
    published or registered); this shows how old the data really is known to be. A date
    worked out from the text (`derived`) is not one it gives; and none is later than the
    article that reports it (a year still running when it appeared counts to that day).
    """
    dates = [
        min(d, e["evidence_date"])
        for criterion in criteria
        for e in criterion["evidence"]
        if e["evidence_date_basis"] != "derived"
        for d in (e.get("as_of"), e.get("period_end"), e.get("period_start"))
        if d is not None
    ]
    return max(dates, default=None)


def _criterion(
    info: Any, status: str, value: Any, threshold: dict[str, Any], evidence: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "description": info.description,
        "status": status,
        "value": value,
        "threshold": threshold,
        # Counts, events and facts side by side: each says where it is served whole.
        "evidence": [{**record, "path": record_path(record)} for record in evidence],
    }


def _event_end(event: dict[str, Any]) -> date:
    """app.services.risk._event_end, for an event's document: its period's end, but not
    after its article (the evidence shown must be the evidence the rules read)."""
    end, known = event["period_end"], event["evidence_date"]
    if end is not None and end > known:
        return known
    return end or event["period_start"] or known


def _latest_possible_day(event: dict[str, Any]) -> date:
    """app.services.risk._latest_possible_day, for an event's document."""
    if event["period_end"] is None and event["period_start"] is not None:
        return event["evidence_date"]
    return _event_end(event)


def _event_year(event: dict[str, Any]) -> int:
    return _event_end(event).year


def _branches_risk(rules: RiskRules) -> Select[Any]:
    return risk_select(
        rules,
        RiskDay.bound(),
        scope=lambda b: b.c.id.in_(bindparam("branch_ids", expanding=True)),
        few_branches=True,
    )


def _admission_departure_events(
    reader: Reader, branch_ids: list[int], as_of: date
) -> list[dict[str, Any]]:
    if not branch_ids:
        return []
    params = {"branch_ids": branch_ids, "as_of": as_of}
    rows = reader.rows(_admissions_and_departures, params=params)
    return figures_by_ids(reader, MembershipEvent, [ident for (ident,) in rows])


def _admissions_and_departures() -> Select[Any]:
    ev = table(MembershipEvent)
    as_of = bindparam("as_of", type_=Date)
    return select(ev.c.id).where(
        ev.c.branch_id.in_(bindparam("branch_ids", expanding=True)),
        admission_or_departure(ev.c),
        ev.c.evidence_date <= as_of,
        ~reported_again(ev, as_of),
    )
