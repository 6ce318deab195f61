"""Writing figures (membership counts, events, facts), each with its source and quote.

Conflicting reports: two sources may give different counts for the same organization
and date. Both are stored and both are served (the branch's `counts`, and
/membership-counts?branch=). The value shown first, as the branch's `latest_count`
and in its risk, is picked by one rule (app.services.risk `_latest`): the count with
the newest evidence_date, and on a tie the one with the highest id, i.e. the one added
last. A write never hides the other value; it only refreshes which one is first.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.errors import ApiError, FieldError
from app.ingest.figure_numbers import (
    UNREPORTED_UNQUALIFIED,
    flag_fault,
    misqualified_in_quote,
    outside_metric_range,
    part_exceeds_whole,
    unprinted,
)
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Source,
)
from app.models.vocab import METRIC_UNITS
from app.reader import Reader
from app.schemas.writes import (
    CountCreate,
    EventCreate,
    FactCreate,
    FigureCreate,
    FigureUpdate,
)
from app.services import audit
from app.services.evidence_dates import evidence_day
from app.services.figures import figures_by_ids
from app.services.json_sql import representation_etag
from app.services.lifetimes import DAYS, after_dissolution, before_founding
from app.services.status import release_counts
from app.services.writes import (
    Outcome,
    WriteContext,
    assign,
    check_if_match,
    get_for_update,
    invalid,
    merge,
    quote_errors,
    referenced,
    refresh,
    taken,
)


@dataclass(frozen=True)
class FigureKind:
    """What differs between the figure tables: names, body, and the figure's own date."""

    model: Any
    entity: str
    what: str
    path: str
    create: type[FigureCreate]
    own_date: Callable[[FigureCreate], date | None]
    first_day: str  # the body's field with the first day the figure covers


COUNTS = FigureKind(
    MembershipCount,
    "membership_count",
    "Membership count",
    "/membership-counts",
    CountCreate,
    lambda body: body.as_of,  # type: ignore[attr-defined]
    "as_of",
)
EVENTS = FigureKind(
    MembershipEvent,
    "membership_event",
    "Event",
    "/admissions",
    EventCreate,
    lambda body: body.period_end,  # type: ignore[attr-defined]
    "period_start",
)
FACTS = FigureKind(
    Fact,
    "fact",
    "Fact",
    "/facts",
    FactCreate,
    lambda body: body.period_end,  # type: ignore[attr-defined]
    "period_start",
)


def figure_item(session: Session, kind: FigureKind, ident: int) -> dict[str, Any]:
    """One figure, in the shape its list returns (what GET {path}/{id} answers)."""
    found = figures_by_ids(Reader.on(session), kind.model, [ident])
    if not found:
        raise ApiError(404, f"{kind.what} {ident} does not exist.")
    return found[0]


def _range_errors(body: Any) -> list[FieldError]:
    errors = []
    if body.value_max is not None and (body.value is None or body.value_max < body.value):
        errors.append(FieldError(field="body.value_max", message="needs a value at or below it"))
    if body.value is None and body.qualifier is not None:
        # Not reported: nothing for a qualifier to qualify ("about" no number).
        errors.append(FieldError(field="body.qualifier", message=UNREPORTED_UNQUALIFIED))
    if part_exceeds_whole(body.value, body.value_max, getattr(body, "out_of", None)):
        message = "is below the value: a part is not more than its whole"
        errors.append(FieldError(field="body.out_of", message=message))
    start, end = getattr(body, "period_start", None), getattr(body, "period_end", None)
    if start and end and start > end:
        errors.append(
            FieldError(field="body.period_end", message="the period ends before it starts")
        )
    return errors


def _reported_later_errors(kind: FigureKind, body: Any, source: Source | None) -> list[FieldError]:
    """An article cannot report a count as of a later day, nor a period that began after
    it was published (a period may end later: a year still running, a term); an undated
    one, after the day the dataset first held it (it existed by then)."""
    first = getattr(body, kind.first_day)
    if first is None or source is None:
        return []
    bound = source.published_on or source.registered_on
    if first <= bound:
        return []
    held = "publication" if source.published_on else "first day in the dataset"
    return [
        FieldError(
            field=f"body.{kind.first_day}",
            message=f"{first} is after the source's {held} ({bound}), which cannot report it",
            type="after_publication",
        )
    ]


def _derived_date_errors(kind: FigureKind, body: Any) -> list[FieldError]:
    """A date worked out from the text must be there, and say how it was worked out."""
    if not body.date_derived:
        return []
    if kind.own_date(body) is None:
        why, kind_of = "needs a date of its own (as_of, or a period's end)", "missing_date"
    elif body.date_note is None:
        why, kind_of = "needs a date_note saying how the date was worked out", "missing_note"
    else:
        return []
    return [FieldError(field="body.date_derived", message=why, type=kind_of)]


def _printed_errors(body: Any) -> list[FieldError]:
    """The value (the top of a range, the whole it is out of) must be numbers the figure
    prints, qualified as its words qualify them."""
    flag = METRIC_UNITS.get(getattr(body, "metric", None) or "") == "flag"
    out_of = getattr(body, "out_of", None)
    if fault := unprinted(body.figure, body.value, body.value_max, out_of, figure_optional=flag):
        name, why = fault
        return [FieldError(field=f"body.{name}", message=why, type="value_not_in_figure")]
    if words := misqualified_in_quote(body.quote, body.figure, body.value, body.qualifier):
        return [FieldError(field="body.qualifier", message=words, type="qualifier_not_in_figure")]
    return []


def _subject_errors(session: Session, kind: FigureKind, body: Any) -> list[FieldError]:
    if kind is not FACTS:
        referenced(session, Branch, body.branch_id, "body.branch_id", "organization")
        return []
    if (body.branch_id is None) == (body.locality_id is None):
        return [
            FieldError(
                field="body.branch_id",
                message="a fact is about exactly one organization (branch_id) or one place "
                "(locality_id)",
            )
        ]
    referenced(session, Branch, body.branch_id, "body.branch_id", "organization")
    referenced(session, Locality, body.locality_id, "body.locality_id", "locality")
    if body.unit is not None and body.unit != METRIC_UNITS[body.metric]:
        return [
            FieldError(
                field="body.unit",
                message=f"{body.metric} is measured in {METRIC_UNITS[body.metric]}",
            )
        ]
    if why := outside_metric_range(body.metric, body.value, body.value_max):
        own_fault = outside_metric_range(body.metric, body.value, None)  # or its range's top
        field = "body.value" if own_fault else "body.value_max"
        return [FieldError(field=field, message=why, type="outside_metric_range")]
    if fault := flag_fault(body.metric, body.value_max, body.out_of, body.qualifier):
        return [FieldError(field=f"body.{fault[0]}", message=fault[1], type="not_a_flag")]
    return []


def _lifetime_errors(session: Session, kind: FigureKind, body: Any) -> list[FieldError]:
    """A figure dated before its organization was founded, or after it was dissolved."""
    branch = session.get(Branch, body.branch_id) if body.branch_id is not None else None
    if branch is None:
        return []
    first_field, last_field = DAYS[kind.model]
    first, last = getattr(body, first_field), getattr(body, last_field)
    if why := before_founding(branch.founded_on, last):
        return [FieldError(field=f"body.{last_field}", message=why, type="outside_lifetime")]
    if why := after_dissolution(branch.dissolved_on, first):
        return [FieldError(field=f"body.{first_field}", message=why, type="outside_lifetime")]
    return []


def _checked_values(session: Session, kind: FigureKind, body: FigureCreate) -> dict[str, Any]:
    """The row's values, after every check the record format makes (422 naming fields)."""
    source = referenced(session, Source, body.source_id, "body.source_id", "source")
    errors = quote_errors(source, body.quote, body.figure)
    errors += _subject_errors(session, kind, body)
    errors += _range_errors(body) or _printed_errors(body)
    errors += _reported_later_errors(kind, body, source)
    errors += _derived_date_errors(kind, body)
    errors += _lifetime_errors(session, kind, body)
    if errors:
        raise invalid(errors)
    assert source is not None
    values = body.model_dump(exclude={"record_id"})
    own = kind.own_date(body)
    values["evidence_date"] = evidence_day(own, source.published_on, source.registered_on)
    if kind is FACTS:
        values["unit"] = METRIC_UNITS[values["metric"]]
    return values


# What a figure is not: its notes. The same words of the same source, read the same way,
# are one figure whatever the notes say (a write sent twice, without an Idempotency-Key).
NOT_THE_FIGURE = frozenset({"note", "date_note"})


def _refuse_a_second_copy(
    session: Session, kind: FigureKind, values: dict[str, Any], ident: int | None = None
) -> None:
    """409 when another record is this figure: its events' sums counted it twice (two
    records of "Năm 2023, ... kết nạp 216 đảng viên mới" were 432 admissions)."""
    t = kind.model.__table__
    same = [
        t.c[name] == value if value is not None else t.c[name].is_(None)
        for name, value in values.items()
        if name not in NOT_THE_FIGURE and name in t.c
    ]
    if ident is not None:
        same.append(t.c.id != ident)
    other = session.execute(select(t.c.id).where(*same).limit(1)).scalar()
    if other is not None:
        raise ApiError(
            409,
            f"{kind.what} {other} is this figure already: the same source, subject, words "
            f"and reading ({kind.path}/{other}). Change that one, or send what differs.",
            errors=[
                FieldError(
                    field="body", message=f"the same as {kind.path}/{other}", type="duplicate"
                )
            ],
        )


def create_figure(
    session: Session, ctx: WriteContext, kind: FigureKind, body: FigureCreate
) -> Outcome:
    values = _checked_values(session, kind, body)
    _refuse_a_second_copy(session, kind, values)
    source = session.get(Source, body.source_id)
    assert source is not None
    key = f"{source.key}#{body.record_id or 'api-' + uuid.uuid4().hex[:12]}"
    taken(session, kind.model, key, "body.record_id")
    row = kind.model.model_validate(values | {"key": key})
    session.add(row)
    session.flush()
    refresh(session, ctx, [row.branch_id])
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "create",
        kind.entity,
        entity_id=row.id,
        entity_key=key,
        after=audit.snapshot(row),
    )
    return Outcome(201, figure_item(session, kind, row.id), f"{kind.path}/{row.id}", is_item=True)


def _locked(session: Session, kind: FigureKind, ident: int, if_match: str | None) -> Any:
    row = get_for_update(session, kind.model, ident, kind.what)
    check_if_match(
        if_match, representation_etag(figure_item(session, kind, ident)), f"{kind.path}/{ident}"
    )
    return row


def update_figure(
    session: Session,
    ctx: WriteContext,
    kind: FigureKind,
    ident: int,
    patch: FigureUpdate,
    if_match: str | None,
) -> Outcome:
    row = _locked(session, kind, ident, if_match)
    # The unit follows the metric: a new metric brings its own unit.
    current = row.model_dump(exclude={"unit"})
    merged = merge(kind.create, current, patch)
    values = _checked_values(session, kind, merged)
    _refuse_a_second_copy(session, kind, values, ident)
    before = audit.snapshot(row)
    old_branch = row.branch_id
    if assign(row, values):
        session.add(row)
        refresh(session, ctx, [old_branch, row.branch_id])
        audit.record(
            session,
            ctx.caller,
            ctx.request_id,
            "update",
            kind.entity,
            entity_id=ident,
            entity_key=row.key,
            before=before,
            after=audit.snapshot(row),
        )
    return Outcome(200, figure_item(session, kind, ident), f"{kind.path}/{ident}", is_item=True)


def delete_figure(
    session: Session, ctx: WriteContext, kind: FigureKind, ident: int, if_match: str | None
) -> Outcome:
    row = _locked(session, kind, ident, if_match)
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "delete",
        kind.entity,
        entity_id=ident,
        entity_key=row.key,
        before=audit.snapshot(row),
    )
    if kind is COUNTS:
        release_counts(session, [ident])
    branch_id = row.branch_id
    session.delete(row)
    refresh(session, ctx, [branch_id])
    return Outcome(204)
