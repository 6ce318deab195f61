"""Importing one article file (the seed record format), by API or command line.

All or nothing: the loader applies the file inside the caller's transaction, which
commits once, or rolls back on a refusal and for a dry run. The loader is idempotent:
a file already applied changes nothing, and then nothing is logged either.

An import does not silently undo an editor's API correction: a record whose newest
audit entry is a direct write (create, update, delete through the API) and that the
file would change is a conflict (an update's only where the file would set a field it
corrected otherwise). A dry run lists it; a real import is refused with 409 unless
`force` lets the file win. Fix the file, or force.
"""

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlmodel import Session, SQLModel, col

from app.errors import ApiError, FieldError, unreadable_body
from app.ingest.files import parse_article_yaml, validate_article
from app.ingest.loader import ImportRejected, ImportReport, RecordProblem, apply_article
from app.ingest.records import ArticleFile
from app.media_types import is_json, parse_content_type, utf_8_only
from app.models import (
    AuditEntry,
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.services import audit
from app.services.write_sources import quotes_lost
from app.services.writes import Outcome, WriteContext, refresh

FIGURE_SECTIONS: dict[str, type[SQLModel]] = {
    "counts": MembershipCount,
    "events": MembershipEvent,
    "facts": Fact,
    "roles": Officeholder,
}
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
BODY_LABEL = "request body"


@dataclass(frozen=True)
class Effect:
    """One stored record an import adds, changes or removes."""

    model: type[SQLModel]
    key: str
    label: str
    row_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def action(self) -> str:
        if self.before is None:
            return "import.create"
        return "import.delete" if self.after is None else "import.update"

    def branch_ids(self) -> set[int]:
        if self.model is Branch:
            return {self.row_id} if self.row_id is not None else set()
        found = {(s or {}).get("branch_id") for s in (self.before, self.after)}
        return {i for i in found if isinstance(i, int)}


# -- Parsing a request body --------------------------------------------------------
def _record_field(record: str) -> str:
    """`counts[2] some-id` -> `body.counts.2` (as a fault of the file's schema is named,
    and every field of the API); `source <key>` -> `body.source`."""
    first = record.split(" ", 1)[0]
    section, bracket, index = first.partition("[")
    if bracket and index.endswith("]"):
        return f"body.{section}.{index[:-1]}"
    return "body.source" if first == "source" else "body"


def _problem_field(problem: RecordProblem) -> str:
    """`counts[2] some-id` + `quote` -> `body.counts.2.quote`; paths stay paths."""
    return f"{_record_field(problem.record)}.{problem.field}"


FILE_REFUSED = "The file was refused; nothing was written: "


def rejected(exc: ImportRejected) -> ApiError:
    return ApiError(
        422,
        FILE_REFUSED + "; ".join(map(str, exc.problems[:5])),
        errors=[
            FieldError(field=_problem_field(p), message=f"{p.record}: {p.message}", type="refused")
            for p in exc.problems
        ],
    )


def _json(text: str) -> Any:
    """The body's JSON, its faults as every write's: a syntax error a 422 at its position,
    one nested past the parser's depth a 400 naming the body."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            raise unreadable_body() from None
        field = f"body.{exc.pos}"
        errors = [FieldError(field=field, message=exc.msg, type="json_invalid")]
        raise ApiError(422, f"{field}: {exc.msg}", errors=errors) from None


def parse_body(content: bytes, content_type: str) -> ArticleFile:
    """An article file sent as JSON or YAML; its text must be inline (source.text)."""
    media, charsets = parse_content_type(content_type)
    as_json = is_json(media)
    if not (as_json or media in YAML_TYPES) or not utf_8_only(charsets):
        message = "Send the article as application/json or application/yaml, in UTF-8"
        raise ApiError(
            415,
            f"{message} (the record format of seed/FORMAT.md).",
            errors=[FieldError(field="header.content-type", message=message, type="media_type")],
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise unreadable_body(
            "The body could not be read: it is not UTF-8.", "not UTF-8 text", "encoding"
        ) from None
    try:
        if as_json:
            article = validate_article(_json(text), BODY_LABEL)
        else:
            article = parse_article_yaml(text, BODY_LABEL)
    except ImportRejected as exc:
        raise rejected(exc) from None
    if article.source.text is None:
        raise ApiError(
            422,
            "An import through the API carries the article's text inline, in source.text.",
            errors=[
                FieldError(
                    field="body.source.text",
                    message="required here (text_file is for files on the server)",
                    type="missing",
                )
            ],
        )
    return article


# -- The state an import touches -----------------------------------------------------
def _labels(article: ArticleFile) -> dict[tuple[type[SQLModel], str], str]:
    labels: dict[tuple[type[SQLModel], str], str] = {
        (Source, article.source.key): f"source {article.source.key}"
    }
    for index, loc in enumerate(article.localities):
        labels[(Locality, loc.key)] = f"localities[{index}] {loc.key}"
    for index, branch in enumerate(article.branches):
        labels[(Branch, branch.key)] = f"branches[{index}] {branch.key}"
    prefix = f"{article.source.key}#"
    for section, model in FIGURE_SECTIONS.items():
        for index, rec in enumerate(getattr(article, section)):
            labels[(model, prefix + rec.id)] = f"{section}[{index}] {rec.id}"
    return labels


def _source_id(session: Session, key: str) -> int | None:
    found: int | None = session.execute(
        select(col(Source.id)).where(col(Source.key) == key)
    ).scalar_one_or_none()
    return found


def _state(
    session: Session, article: ArticleFile
) -> dict[tuple[type[SQLModel], str], tuple[int, dict[str, Any]]]:
    """Snapshots of every stored row the file names, and of the source's figures."""
    source_id = _source_id(session, article.source.key)
    wanted: dict[type[SQLModel], set[str]] = {}
    for model, key in _labels(article):
        wanted.setdefault(model, set()).add(key)
    state: dict[tuple[type[SQLModel], str], tuple[int, dict[str, Any]]] = {}
    models: list[type[SQLModel]] = [Source, Locality, Branch, *FIGURE_SECTIONS.values()]
    for model in models:
        table: Any = model
        condition = table.key.in_(sorted(wanted.get(model, set())))
        if source_id is not None and model in FIGURE_SECTIONS.values():
            condition = or_(condition, table.source_id == source_id)
        for row in session.execute(select(model).where(condition)).scalars():
            snap = audit.snapshot(row)
            if isinstance(row, Source):
                snap["text"] = row.text
            state[(model, snap["key"])] = (snap["id"], snap)
    return state


def _effects(
    before: dict[tuple[type[SQLModel], str], tuple[int, dict[str, Any]]],
    after: dict[tuple[type[SQLModel], str], tuple[int, dict[str, Any]]],
    labels: dict[tuple[type[SQLModel], str], str],
) -> list[Effect]:
    effects = []
    # In the file's order (source, localities, branches, figures), then removed figures.
    order = {ident: index for index, ident in enumerate(labels)}
    for ident in sorted(
        before.keys() | after.keys(), key=lambda k: (order.get(k, len(order)), k[1])
    ):
        old, new = before.get(ident), after.get(ident)
        old_snap, new_snap = (old[1] if old else None), (new[1] if new else None)
        if old_snap == new_snap:
            continue
        if old_snap and new_snap and old_snap.get("text") == new_snap.get("text"):
            # The text is logged only when it changes (see app.services.audit).
            old_snap = {k: v for k, v in old_snap.items() if k != "text"}
            new_snap = {k: v for k, v in new_snap.items() if k != "text"}
        row_id = (new or old or (None, None))[0]
        model, key = ident
        effects.append(Effect(model, key, labels.get(ident, key), row_id, old_snap, new_snap))
    return effects


def _conflicts(session: Session, effects: list[Effect]) -> list[dict[str, Any]]:
    conflicts = []
    by_entity: dict[str, list[Effect]] = {}
    for effect in effects:
        by_entity.setdefault(audit.ENTITY_OF[effect.model], []).append(effect)
    for entity, group in by_entity.items():
        edits = audit.last_direct_edits(session, entity, (e.key for e in group))
        for effect in group:
            entry = edits.get(effect.key)
            if entry is None:
                continue
            if entry.action == "update":
                fields = _undone(entry, effect)
                if not fields:  # the file agrees with the correction: its change is its own
                    continue
            else:
                fields = audit.changed_fields(effect.before, effect.after)
            undoing = {
                "delete": "would bring it back",
                "create": "would change or remove it",
            }.get(entry.action, "would undo it")
            conflicts.append(
                {
                    "record": effect.label,
                    "entity": entity,
                    "key": effect.key,
                    "audit_id": entry.id,
                    "message": f"{entity} {effect.key} was {entry.action}d through the API by "
                    f"{entry.key_name} (audit {entry.id}); the file {undoing}"
                    + (f" ({', '.join(fields)})" if fields else ""),
                }
            )
    return conflicts


# What every write stamps: no part of a correction.
BOOKKEEPING = frozenset({"created_at", "updated_at"})


def _undone(correction: AuditEntry, effect: Effect) -> list[str]:
    """The fields an API correction set that the file would set otherwise (all of them
    when the file removes the record). A file brought in line with the correction, and
    changed later elsewhere, undoes nothing: its next import is no conflict (it was one
    until the file was forced)."""
    corrected = set(audit.changed_fields(correction.before, correction.after)) - BOOKKEEPING
    if effect.after is None:
        return sorted(corrected)
    set_by_api = correction.after or {}
    return sorted(f for f in corrected if effect.after.get(f) != set_by_api.get(f))


def apply_unless_edited(
    session: Session, article: ArticleFile, text: str, *, text_path: str | None
) -> tuple[ImportReport, list[dict[str, Any]]]:
    """Apply a seed article in the caller's transaction, unless it would undo what was
    changed through the API since it was loaded: then nothing of it is applied, and the
    conflicts are returned beside what the file would have changed (a new release's own
    corrections to the file among them, held back too). The seed is loaded at every
    server start; re-applied as it was, it reverted editors' corrections, brought deleted
    records back and removed records added to its sources, with no audit entry (from an
    operations audit)."""
    before = _state(session, article)
    savepoint = session.begin_nested()
    report = apply_article(session, article, text, text_path=text_path)
    session.flush()
    conflicts = _conflicts(session, _effects(before, _state(session, article), _labels(article)))
    if conflicts:
        savepoint.rollback()
        return report, conflicts
    savepoint.commit()
    return report, []


def _report(
    report: ImportReport,
    source_id: int | None,
    conflicts: list[dict[str, Any]],
    request_id: str | None,
) -> dict[str, Any]:
    return {
        "source": report.source,
        "source_id": source_id,
        "dry_run": report.dry_run,
        "applied": not report.dry_run,
        "changes": report.changes,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "conflicts": conflicts,
        "conflicting_reports": report.conflicting_reports,
        "request_id": request_id,
    }


def import_article(
    session: Session,
    ctx: WriteContext,
    article: ArticleFile,
    text: str,
    *,
    text_path: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    force_option: str = "force=true",
) -> Outcome:
    """Apply one article in the caller's transaction; the outcome's data is the report.
    `force_option`: how the caller says `force`, named by a conflict's answer."""
    labels = _labels(article)
    before = _state(session, article)
    existed = (Source, article.source.key) in before
    try:
        report = apply_article(
            session, article, text, text_path=text_path, today=ctx.today, dry_run=dry_run
        )
    except ImportRejected as exc:
        raise rejected(exc) from None
    session.flush()
    stored_id = _source_id(session, article.source.key)
    if stored_id is not None:
        # A new text must keep the quotes of records the file does not carry (named by
        # an earlier version of the file, or added through the API).
        lost = quotes_lost(session, stored_id, text)
        if lost:
            raise ApiError(
                422,
                "The new text no longer contains the quotes of: " + "; ".join(lost[:10]),
                errors=[
                    FieldError(
                        field="body.source.text",
                        message=f"drops the quote of {len(lost)} stored record(s)",
                        type="quote_not_in_source",
                    )
                ],
            )
    after = _state(session, article)
    effects = _effects(before, after, labels)
    conflicts = _conflicts(session, effects)
    source_entry = after.get((Source, article.source.key))
    source_id = source_entry[0] if source_entry and (existed or not dry_run) else None
    if dry_run:
        return Outcome(200, _report(report, source_id, conflicts, None))
    if conflicts and not force:
        raise ApiError(
            409,
            f"{len(conflicts)} record(s) were changed through the API since they were "
            "imported, and the file would undo that; nothing was written. Bring the file in "
            f"line with the API (see GET /audit), or import with {force_option} to let the "
            "file win.",
            errors=[
                FieldError(
                    field=_record_field(c["record"]),
                    message=c["message"],
                    type="edited_through_api",
                )
                for c in conflicts
            ],
        )
    if not effects:
        return Outcome(200, _report(report, source_id, [], None))
    branch_ids: set[int] = set()
    for effect in effects:
        branch_ids |= effect.branch_ids()
    refresh(
        session,
        ctx,
        branch_ids,
        localities=[e.row_id for e in effects if e.model is Locality],
        sources=[e.row_id for e in effects if e.model is Source],
    )
    summary = _report(report, source_id, conflicts, ctx.request_id)
    audit.record(
        session,
        ctx.caller,
        ctx.request_id,
        "import",
        "source",
        entity_id=source_id,
        entity_key=article.source.key,
        after={k: v for k, v in summary.items() if k != "request_id"},
        note=f"from {text_path or BODY_LABEL}" + ("; forced over API edits" if conflicts else ""),
    )
    for effect in effects:
        audit.record(
            session,
            ctx.caller,
            ctx.request_id,
            effect.action,
            audit.ENTITY_OF[effect.model],
            entity_id=effect.row_id,
            entity_key=effect.key,
            before=effect.before,
            after=effect.after,
            note=effect.label,
        )
    return Outcome(200, summary)


def import_body(
    session: Session,
    ctx: WriteContext,
    article: ArticleFile,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> Outcome:
    """POST /imports: an article of the body (parse_body, before the transaction: a large
    file took seconds to parse, each of them holding the write lock), imported."""
    assert article.source.text is not None
    return import_article(session, ctx, article, article.source.text, dry_run=dry_run, force=force)
