"""What every write shares: one transaction, preconditions, idempotent POSTs, refusals.

A write service takes a Session inside `transact()` and returns an `Outcome`; it never
commits. `transact()` commits once at the end, so a refused or failed request writes
nothing, and stores the response of a POST sent with an Idempotency-Key in the same
transaction as the rows it created: a retry either finds both or neither.
"""

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col

from app.db import said_by_the_database
from app.errors import IF_MATCH_FIELD, ApiError, FieldError, if_match_required
from app.log_config import SERVICE_LOGGER
from app.models import IdempotencyRecord, Source
from app.models.base import utcnow
from app.services.auth import Caller
from app.services.branch_items import branches_showing, refresh_items
from app.services.json_sql import encode_json, etag_of, gzip_etag
from app.services.risk_rules import RiskRules
from app.services.status import (
    behind_the_day,
    lock_data_version,
    refresh_current_units,
    refresh_status,
)
from app.services.text import normalize_quote_text
from app.services.yearly import refresh_totals

log = logging.getLogger(SERVICE_LOGGER)
Row = TypeVar("Row", bound=SQLModel)
Body = TypeVar("Body", bound=BaseModel)
# A retry comes within minutes; a day is generous and keeps the table small.
IDEMPOTENCY_TTL = timedelta(hours=24)
SYNTHETIC_REFUSED = (
    "This database holds synthetic data (branchstats synth), which takes no writes: real "
    "articles and their figures go in a database of their own, where no generated figure "
    "can pass for theirs."
)


@dataclass(frozen=True)
class WriteContext:
    """Who writes, with which risk rules (to refresh status), in which request."""

    caller: Caller
    rules: RiskRules
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    today: date | None = None
    # Writes into a database of synthetic data, which refuses every other writer: only
    # the write benchmark's copies of one (bench/writes.py --copy-of).
    into_synthetic: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a write service returns: a status and the data of the response."""

    status: int
    data: Any = None
    location: str | None = None
    # The data is the item's representation (what GET of `location` returns): the
    # response carries its ETag, so a client can PATCH again without a GET.
    is_item: bool = False


@dataclass(frozen=True)
class WriteResult:
    status: int
    content: bytes | None
    location: str | None = None
    etag: str | None = None
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    request_sha256: str


def request_fingerprint(method: str, target: str, content_type: str, body: bytes) -> str:
    """What a retry must repeat exactly: method, path and query, content type, body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), target.encode(), content_type.encode()):
        digest.update(part + b"\n")
    digest.update(body)
    return digest.hexdigest()


def check_if_match(if_match: str | None, current_etag: str, what: str) -> None:
    """428 without If-Match; 412 unless it names the current ETag (strong comparison)."""
    tags = {tag.strip() for tag in (if_match or "").split(",")} - {""}
    if not tags:
        raise if_match_required(what)
    # The tag of either encoding: a client that read the item in gzip holds that one.
    current = {current_etag, gzip_etag(current_etag)}
    if "*" in tags or tags & current:
        return
    if {tag.removeprefix("W/") for tag in tags} & current:
        # The current tag sent weak, which never matches If-Match (strong comparison,
        # RFC 9110 13.1.1): saying the item changed would send the client round GETs.
        message = "a weak ETag (W/) never matches: send the ETag as GET gave it"
        detail = f"If-Match: {message}."
    else:
        message = "not the current ETag"
        detail = (
            f"{what} changed since you read it: GET it again, reapply your change, and "
            "send the new ETag in If-Match."
        )
    raise ApiError(
        412,
        detail,
        errors=[FieldError(field=IF_MATCH_FIELD, message=message, type="precondition_failed")],
        headers={"ETag": current_etag},
    )


def invalid(errors: list[FieldError], detail: str | None = None) -> ApiError:
    names = ", ".join(e.field for e in errors)
    return ApiError(422, detail or f"Invalid input: {names}.", errors=errors)


def from_validation(exc: ValidationError, prefix: str = "body") -> ApiError:
    """Pydantic errors as the API's 422, fields named like FastAPI names them."""
    errors = [
        FieldError(
            field=".".join([prefix, *(str(p) for p in err["loc"])]),
            message=err["msg"],
            type=err.get("type") or "invalid",
        )
        for err in exc.errors()
    ]
    return invalid(errors)


def merge(schema: type[Body], current: dict[str, Any], patch: BaseModel) -> Body:
    """The stored values with the PATCH applied, validated as a whole by the create
    body's rules (422 naming the field)."""
    data = {name: value for name, value in current.items() if name in schema.model_fields}
    data.update(patch.model_dump(exclude_unset=True))
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def assign(row: SQLModel, values: dict[str, Any]) -> bool:
    """Set the values that differ; True when any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    if changed and hasattr(row, "updated_at"):
        row.updated_at = utcnow()
    return changed


def taken(session: Session, model: type[SQLModel], key: str, field_name: str) -> None:
    """409 naming the field when a row already has this key."""
    exists = session.execute(
        select(model.id).where(model.key == key)  # type: ignore[attr-defined]
    ).first()
    if exists is not None:
        raise ApiError(
            409,
            f"{key!r} exists already (id {exists[0]}); change it with PATCH.",
            errors=[FieldError(field=field_name, message="already exists", type="duplicate")],
        )


def get_for_update(session: Session, model: type[Row], ident: int, what: str) -> Row:
    """The row, locked until commit on PostgreSQL (SQLite: the transaction already holds
    the write lock, see _begin); 404 when it does not exist."""
    row = session.execute(
        select(model).where(model.id == ident).with_for_update()  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, f"{what} {ident} does not exist.")
    return row


def referenced(
    session: Session, model: type[Row], ident: int | None, field_name: str, what: str
) -> Row | None:
    """A row the body refers to; a 422 naming the field when it does not exist."""
    if ident is None:
        return None
    row = session.get(model, ident)
    if row is None:
        raise invalid([FieldError(field=field_name, message=f"no {what} {ident}", type="missing")])
    return row


def quote_errors(
    source: Source | None,
    quote: str | None,
    figure: str | None = None,
    *,
    prefix: str = "body",
) -> list[FieldError]:
    """Provenance: the quote is in the source's stored text, the figure in the quote
    (both after NFC and whitespace folding, as the record format says)."""
    errors: list[FieldError] = []
    if source is None:
        errors.append(
            FieldError(
                field=f"{prefix}.source_id",
                message="every record needs the source that states it",
                type="missing",
            )
        )
        return errors
    if not quote or normalize_quote_text(quote) not in normalize_quote_text(source.text):
        errors.append(
            FieldError(
                field=f"{prefix}.quote",
                message=f"not found in the text of source {source.id} ({source.key}); "
                "quote it verbatim (GET /sources/{id}/text)",
                type="quote_not_in_source",
            )
        )
    elif figure is not None and normalize_quote_text(figure) not in normalize_quote_text(quote):
        errors.append(
            FieldError(
                field=f"{prefix}.figure",
                message="not found in the quote",
                type="figure_not_in_quote",
            )
        )
    return errors


def refresh(
    session: Session,
    ctx: WriteContext,
    branch_ids: Iterable[int | None],
    *,
    localities: Iterable[int | None] = (),
    sources: Iterable[int | None] = (),
) -> None:
    """Keep derived state in step inside the write's transaction: stats, risk and the
    stored list items reflect the write as soon as it commits.

    `branch_ids` are the branches whose own rows or figures the write changed;
    `localities` and `sources`, the places and sources it changed (their names show in
    the items of other branches, and a place's changes reach the places below it).
    """
    session.flush()
    places = [i for i in localities if i is not None]
    if places:
        refresh_current_units(session)
    ids = [i for i in branch_ids if i is not None]
    today = ctx.today or date.today()
    refresh_status(session, ctx.rules, branch_ids=ids, today=today)
    showing = branches_showing(
        session,
        branches=ids,
        localities=places,
        sources=[i for i in sources if i is not None],
    )
    others = showing - set(ids)
    # Rows the day's refresh has yet to store are brought to the day, which it then
    # leaves as they are: re-rendered only, they would be overwritten by its older rows.
    behind = behind_the_day(session, others, ctx.rules, today)
    refresh_status(session, ctx.rules, branch_ids=behind, today=today)
    refresh_items(session, ctx.rules, others - behind)  # refresh_status rendered the rest
    refresh_totals(session, ids)


def _begin(session: Session, ctx: WriteContext) -> None:
    """Start the transaction with a write: drop idempotency records past their time.

    On SQLite this also takes the database's write lock before anything is read, so
    two writers queue (busy_timeout) instead of the second failing when it upgrades a
    read snapshot that the first made stale. On PostgreSQL it takes the data version's
    row first, as every writer does (`lock_data_version`).
    """
    lock_data_version(session)
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.created_at) < utcnow() - IDEMPOTENCY_TTL
        )
    )
    if not ctx.into_synthetic:
        _refuse_synthetic_data(session)


def _refuse_synthetic_data(session: Session) -> None:
    """409 in a database of `branchstats synth`: an article written there, or a figure
    quoting a generated text, would sit beside generated figures as a real one (the API
    took both, from an audit of the synthetic data; imports were refused already)."""
    synthetic = select(col(Source.id)).where(col(Source.is_synthetic)).limit(1)
    if session.execute(synthetic).first() is not None:
        raise ApiError(
            409,
            SYNTHETIC_REFUSED,
            errors=[FieldError(field="database", message=SYNTHETIC_REFUSED, type="synthetic")],
        )


def _stored(session: Session, caller: Caller, request: IdempotencyRequest) -> WriteResult | None:
    record = session.execute(
        select(IdempotencyRecord).where(
            col(IdempotencyRecord.api_key_id) == caller.key_id,
            col(IdempotencyRecord.key) == request.key,
        )
    ).scalar_one_or_none()
    if record is None:
        return None
    if record.request_sha256 != request.request_sha256:
        raise ApiError(
            422,
            "This Idempotency-Key was used for another request (another method, path or "
            "body). Use a new key for a new request.",
            errors=[
                FieldError(
                    field="header.idempotency-key",
                    message="already used for a different request",
                    type="idempotency_key_reused",
                )
            ],
        )
    etag = etag_of(record.body) if record.status == 201 else None
    return WriteResult(record.status, record.body, record.location, etag, replayed=True)


def transact(
    engine: Engine,
    ctx: WriteContext,
    action: Callable[[Session], Outcome],
    *,
    idempotency: IdempotencyRequest | None = None,
    dry_run: bool = False,
) -> WriteResult:
    """Run one write in one transaction; roll back on any error, or for a dry run."""
    if idempotency is not None and ctx.caller.key_id is None:
        idempotency = None  # the command line has no key to scope the record by
    try:
        with Session(engine) as session:
            _begin(session, ctx)
            if idempotency is not None and not dry_run:
                stored = _stored(session, ctx.caller, idempotency)
                if stored is not None:
                    return stored
            outcome = action(session)
            content = None if outcome.data is None else encode_json(outcome.data)
            etag = etag_of(content) if outcome.is_item and content is not None else None
            result = WriteResult(outcome.status, content, outcome.location, etag)
            if dry_run:
                session.rollback()
                return result
            if idempotency is not None:
                assert ctx.caller.key_id is not None
                session.add(
                    IdempotencyRecord(
                        api_key_id=ctx.caller.key_id,
                        key=idempotency.key,
                        request_sha256=idempotency.request_sha256,
                        status=result.status,
                        location=result.location,
                        body=content or b"",
                    )
                )
            session.commit()
            return result
    except IntegrityError as exc:
        # A concurrent request with the same Idempotency-Key committed first: its
        # stored response is the answer to this one too.
        if idempotency is not None:
            with Session(engine) as session:
                stored = _stored(session, ctx.caller, idempotency)
            if stored is not None:
                return stored
        log.warning("write refused by a constraint: %s", said_by_the_database(exc))
        raise ApiError(
            409,
            "The write conflicts with the stored data (a uniqueness or consistency rule); "
            "nothing was written.",
        ) from None
