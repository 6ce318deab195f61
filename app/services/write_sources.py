"""Writing sources: the articles, with their full text kept as evidence."""

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.errors import ApiError, FieldError
from app.ingest.loader import text_sha256
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.reader import Reader
from app.schemas.writes import SourceCreate, SourceUpdate
from app.services import audit
from app.services.dependants import figures_using
from app.services.evidence_dates import evidence_day
from app.services.json_sql import representation_etag
from app.services.sources import source_detail
from app.services.text import normalize_quote_text
from app.services.writes import (
    Outcome,
    WriteContext,
    assign,
    check_if_match,
    get_for_update,
    invalid,
    merge,
    refresh,
    taken,
)

ENTITY = "source"
FIGURE_MODELS: tuple[Any, ...] = (MembershipCount, MembershipEvent, Fact, Officeholder)
PROVENANCED: tuple[Any, ...] = (Locality, Branch, *FIGURE_MODELS)


def own_date(row: Any) -> date | None:
    """The date a figure states itself (its evidence_date when it has one)."""
    if isinstance(row, MembershipEvent | Fact):
        return row.period_end
    as_of: date | None = row.as_of
    return as_of


def _path(source_id: int) -> str:
    return f"/sources/{source_id}"


def _published_errors(published_on: date | None, held: date) -> list[FieldError]:
    """An article is not published after the day the dataset first holds it (its
    registered_on: today, for a new one)."""
    if published_on is None or published_on <= held:
        return []
    return [
        FieldError(
            field="body.published_on",
            message=f"{published_on} is after the day the dataset first held the article "
            f"({held}): it was not published yet",
            type="after_registration",
        )
    ]


def create_source(session: Session, ctx: WriteContext, body: SourceCreate) -> Outcome:
    taken(session, Source, body.key, "body.key")
    if errors := _published_errors(body.published_on, ctx.today or date.today()):
        raise invalid(errors)
    source = Source.model_validate(
        body.model_dump()
        | {"text_sha256": text_sha256(body.text), "registered_on": ctx.today or date.today()}
    )
    session.add(source)
    session.flush()
    assert source.id is not None
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "create",
        ENTITY,
        entity_id=source.id,
        entity_key=source.key,
        after=audit.snapshot(source) | {"text": source.text},
    )
    return Outcome(
        201, source_detail(Reader.on(session), source.id), _path(source.id), is_item=True
    )


def quotes_lost(session: Session, source_id: int, text: str) -> list[str]:
    """Records drawn from the source whose quote the new text no longer contains."""
    lost = []
    haystack = normalize_quote_text(text)  # once, not per record: a text may carry thousands
    for model in PROVENANCED:
        rows = session.execute(
            select(model.id, model.key, model.quote).where(model.source_id == source_id)
        )
        for row in rows:
            if row.quote and normalize_quote_text(row.quote) not in haystack:
                lost.append(f"{audit.ENTITY_OF[model]} {row.id} ({row.key})")
    return lost


def reported_later(session: Session, source_id: int, published: date) -> list[str]:
    """Figures drawn from the source that begin after `published`: a count as of a later
    day, a period begun later (as the writes of figures refuse)."""
    later = []
    for model in FIGURE_MODELS:
        first = model.as_of if "as_of" in model.__table__.c else model.period_start
        rows = session.execute(
            select(model.id, model.key, first.label("first"))
            .where(model.source_id == source_id, first > published)
            .order_by(model.id)
        )
        later += [f"{audit.ENTITY_OF[model]} {row.id} ({row.key}, {row.first})" for row in rows]
    return later


def _shown(items: list[str]) -> str:
    return "; ".join(items[:10]) + (f"; and {len(items) - 10} more" if len(items) > 10 else "")


def _redate_figures(session: Session, source: Source) -> set[int]:
    """A figure without a date of its own is dated by its source: follow a new date."""
    touched: set[int] = set()
    for model in FIGURE_MODELS:
        for row in session.execute(select(model).where(model.source_id == source.id)).scalars():
            wanted = evidence_day(own_date(row), source.published_on, source.registered_on)
            if row.evidence_date != wanted:
                row.evidence_date = wanted
                session.add(row)
                if row.branch_id is not None:
                    touched.add(row.branch_id)
    return touched


def update_source(
    session: Session, ctx: WriteContext, source_id: int, patch: SourceUpdate, if_match: str | None
) -> Outcome:
    source = get_for_update(session, Source, source_id, "Source")
    check_if_match(
        if_match,
        representation_etag(source_detail(Reader.on(session), source_id)),
        _path(source_id),
    )
    merged = merge(SourceCreate, source.model_dump(), patch)
    old_text = source.text
    if merged.text != old_text:
        lost = quotes_lost(session, source_id, merged.text)
        if lost:
            raise invalid(
                [
                    FieldError(
                        field="body.text",
                        message=f"the new text does not contain the quotes of: {_shown(lost)}",
                        type="quote_not_in_source",
                    )
                ]
            )
    if merged.published_on != source.published_on and (
        errors := _published_errors(merged.published_on, source.registered_on)
    ):
        raise invalid(errors)
    if merged.published_on is not None and merged.published_on != source.published_on:
        later = reported_later(session, source_id, merged.published_on)
        if later:
            raise invalid(
                [
                    FieldError(
                        field="body.published_on",
                        message=f"an article of {merged.published_on} cannot report what "
                        f"began after it: {_shown(later)}",
                        type="after_publication",
                    )
                ]
            )
    before = audit.snapshot(source)
    values = merged.model_dump(exclude={"key"}) | {"text_sha256": text_sha256(merged.text)}
    if not assign(source, values):
        return Outcome(
            200, source_detail(Reader.on(session), source_id), _path(source_id), is_item=True
        )
    session.add(source)
    session.flush()
    touched = _redate_figures(session, source)
    after = audit.snapshot(source)
    if source.text != old_text:
        # The old text is evidence too: keep both when it changes.
        before, after = before | {"text": old_text}, after | {"text": source.text}
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "update",
        ENTITY,
        entity_id=source_id,
        entity_key=source.key,
        before=before,
        after=after,
    )
    refresh(session, ctx, touched, sources=[source.id])
    return Outcome(
        200, source_detail(Reader.on(session), source_id), _path(source_id), is_item=True
    )


def delete_source(
    session: Session, ctx: WriteContext, source_id: int, if_match: str | None
) -> Outcome:
    """Only a source nothing is drawn from: delete or move its records first."""
    source = get_for_update(session, Source, source_id, "Source")
    check_if_match(
        if_match,
        representation_etag(source_detail(Reader.on(session), source_id)),
        _path(source_id),
    )
    using = []
    unlisted: tuple[Any, ...] = (Locality, Branch, Officeholder)  # no list filters by source
    for model in unlisted:
        n = session.execute(
            select(func.count()).select_from(model).where(model.source_id == source_id)
        ).scalar_one()
        if n:
            using.append(f"{n} {audit.ENTITY_OF[model]}")
    using += figures_using(session, "source", source_id)
    if using:
        detail = (
            f"Source {source_id} is the evidence of {', '.join(using)}; delete those first "
            "(an import of the article's file without its figures and officeholders removes "
            "those; places and organizations go only by their own DELETE)."
        )
        raise ApiError(
            409,
            detail,
            errors=[FieldError(field="path.source_id", message=detail, type="in_use")],
        )
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "delete",
        ENTITY,
        entity_id=source_id,
        entity_key=source.key,
        before=audit.snapshot(source) | {"text": source.text},
    )
    session.delete(source)
    session.flush()
    return Outcome(204)
