"""One event reported by several sources: which report the sums take.

Two articles that both say Lục Yên admitted 216 members in 2023 report one event, not
two. An event's report is left out of every sum (a place's yearly stats, the attrition
window of risk) when another source reports the same organization's events of the same
kind over the same period with newer evidence (then: the source added later), as a
count of the same day gives way to the newer one. Records of one source are never left
out for each other: one article may report a year's admissions in parts.
"""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_

from app.models import MembershipEvent
from app.services.refs import alias


def reported_again(event: Any, as_of: ColumnElement[date] | None = None) -> ColumnElement[bool]:
    """Whether another source reports `event`'s events (same branch, kind and period)
    with newer evidence, or with evidence as new from a source added later; with
    `as_of`, a report known by that day (its evidence_date on or before it)."""
    other = alias(MembershipEvent, f"{event.name}_again")
    known = [other.c.evidence_date <= as_of] if as_of is not None else []
    return exists().where(
        other.c.branch_id == event.c.branch_id,
        other.c.kind == event.c.kind,
        other.c.period_start.is_not_distinct_from(event.c.period_start),
        other.c.period_end.is_not_distinct_from(event.c.period_end),
        other.c.source_id != event.c.source_id,
        # A bound the index on (branch_id, kind, evidence_date) reads a range by.
        other.c.evidence_date >= event.c.evidence_date,
        or_(
            other.c.evidence_date > event.c.evidence_date,
            and_(
                other.c.evidence_date == event.c.evidence_date,
                other.c.source_id > event.c.source_id,
            ),
        ),
        *known,
    )
