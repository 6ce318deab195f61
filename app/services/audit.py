"""The audit log: every write says who (which key), when, what, and before and after.

Direct writes log one entry per row they change (actions create, update, delete). An
import logs one `import` entry with its report, plus one entry per record it changed
(actions import.create, import.update, import.delete), all with the same request_id:
the summary says what the editor did, the record entries say exactly what changed, in
the same shape as a direct edit of that record.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlmodel import Session, SQLModel, col

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
from app.reader import Reader, built_once
from app.services.auth import Caller
from app.services.listing import ListQuery, Page, fetch_page, mapped
from app.services.pagination import PageRequest, SortKey
from app.services.refs import table

ENTITY_OF: dict[type[SQLModel], str] = {
    Source: "source",
    Locality: "locality",
    Branch: "branch",
    MembershipCount: "membership_count",
    MembershipEvent: "membership_event",
    Fact: "fact",
    Officeholder: "officeholder",
}
DIRECT_ACTIONS = ("create", "update", "delete")
IMPORT_ACTIONS = ("import", "import.create", "import.update", "import.delete")
ACTIONS = DIRECT_ACTIONS + IMPORT_ACTIONS
# Columns derived from others (search folding, sort keys) or too large to copy on every entry
# (a source's text: its SHA-256 is in the snapshot; the texts themselves are logged
# only when they change, see write_sources).
NOT_SNAPSHOTTED = frozenset({"search_key", "name_lower", "name_order", "text"})


def snapshot(row: SQLModel) -> dict[str, Any]:
    """A row as JSON-ready data (dates as ISO strings), for before and after."""
    return row.model_dump(mode="json", exclude=set(NOT_SNAPSHOTTED))


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    if before is None or after is None:
        return []
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def record(
    session: Session,
    caller: Caller,
    request_id: str,
    action: str,
    entity: str,
    *,
    entity_id: int | None,
    entity_key: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        request_id=request_id,
        api_key_id=caller.key_id,
        key_name=caller.name,
        action=action,
        entity=entity,
        entity_id=entity_id,
        entity_key=entity_key,
        before=before,
        after=after,
        note=note,
    )
    session.add(entry)
    return entry


def last_direct_edits(session: Session, entity: str, keys: Iterable[str]) -> dict[str, AuditEntry]:
    """For each key, its newest audit entry, if that entry is a direct (API) write.

    An import compares against these: a record an editor changed through the API
    since it was last imported is not silently overwritten by a file.
    """
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    newest = (
        select(func.max(col(AuditEntry.id)))
        .where(col(AuditEntry.entity) == entity, col(AuditEntry.entity_key).in_(wanted))
        .group_by(col(AuditEntry.entity_key))
    )
    rows = session.execute(
        select(AuditEntry).where(
            col(AuditEntry.id).in_(newest),
            col(AuditEntry.action).in_(DIRECT_ACTIONS),
        )
    ).scalars()
    return {row.entity_key: row for row in rows if row.entity_key is not None}


@dataclass(frozen=True)
class AuditFilters:
    entity: str | None = None
    entity_id: int | None = None
    key: str | None = None
    action: str | None = None
    request_id: str | None = None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def render_entry(row: Mapping[str, Any] | AuditEntry) -> dict[str, Any]:
    get = row.__getitem__ if isinstance(row, Mapping) else (lambda k: getattr(row, k))
    return {
        "id": get("id"),
        "at": _aware(get("at")),
        "request_id": get("request_id"),
        "key": {"id": get("api_key_id"), "name": get("key_name")},
        "action": get("action"),
        "entity": get("entity"),
        "entity_id": get("entity_id"),
        "entity_key": get("entity_key"),
        "changed": changed_fields(get("before"), get("after")),
        "before": get("before"),
        "after": get("after"),
        "note": get("note"),
    }


def list_audit(reader: Reader, filters: AuditFilters, page: PageRequest, secret: bytes) -> Page:
    """Entries, newest first (ids grow with time), in keyset pages."""
    given = tuple(name for name in AUDIT_FILTERS if getattr(filters, name) is not None)
    return fetch_page(
        reader,
        _audit_list(given),
        {name: getattr(filters, name) for name in given},
        page,
        secret,
        mapped(lambda _reader, rows: [render_entry(r) for r in rows]),
        with_total=True,
    )


# Each filter and its column.
AUDIT_FILTERS = {
    "entity": "entity",
    "entity_id": "entity_id",
    "key": "key_name",
    "action": "action",
    "request_id": "request_id",
}


@built_once
def _audit_list(given: tuple[str, ...]) -> ListQuery:
    a = table(AuditEntry)
    query = select(a).where(*(a.c[AUDIT_FILTERS[name]] == bindparam(name) for name in given))
    return ListQuery(query, (SortKey(a.c.id, int, descending=True),))


def recent(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The newest entries, for the command line."""
    rows = session.execute(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    ).scalars()
    return [render_entry(r) for r in rows]
