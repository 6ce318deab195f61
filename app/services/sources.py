"""Sources: the articles, and every figure drawn from each."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlmodel import Session, col

from app.errors import not_found
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.services.figures import figures_of
from app.services.listing import Page, fetch_page
from app.services.pagination import PageRequest, SortKey
from app.services.refs import table
from app.services.text import fold

SOURCE_CSV = [
    "id",
    "key",
    "publisher",
    "title",
    "published_on",
    "date_note",
    "author",
    "language",
    "url",
    "text_sha256",
    "text_path",
    "registered_on",
]


@dataclass(frozen=True)
class SourceFilters:
    q: str | None = None
    publisher: str | None = None


def _render(row: RowMapping | Source) -> dict[str, Any]:
    get = (lambda k: row[k]) if isinstance(row, RowMapping) else (lambda k: getattr(row, k))
    return {
        "id": get("id"),
        "key": get("key"),
        "publisher": get("publisher"),
        "title": get("title"),
        "published_on": get("published_on"),
        "date_note": get("date_note"),
        "author": get("author"),
        "language": get("language"),
        "url": get("url"),
        "text_sha256": get("text_sha256"),
        "text_path": get("text_path"),
        "registered_on": get("registered_on"),
        "synthetic": get("is_synthetic"),
    }


def list_sources(
    session: Session, filters: SourceFilters, page: PageRequest, secret: bytes, with_total: bool
) -> Page:
    s = table(Source)
    query = select(*(c for c in s.c if c.name != "text"))  # lists leave the text out
    if filters.publisher:
        query = query.where(s.c.publisher == filters.publisher)
    if filters.q:
        # Sources are few: folding title and publisher in Python keeps SQL portable.
        words = fold(filters.q).split()
        candidates = session.execute(select(s.c.id, s.c.title, s.c.publisher, s.c.author)).all()
        ids = [
            r.id
            for r in candidates
            if all(
                w in fold(" ".join(filter(None, (r.title, r.publisher, r.author)))) for w in words
            )
        ]
        query = query.where(s.c.id.in_(ids))
    descending = page.sort.startswith("-")
    keys = [SortKey(s.c.id, int, descending)]
    return fetch_page(
        session,
        query,
        keys,
        page,
        secret,
        lambda _s, rows: [_render(r) for r in rows],
        with_total=with_total,
    )


def source_detail(session: Session, source_id: int) -> dict[str, Any]:
    source = session.get(Source, source_id)
    if source is None:
        raise not_found("Source", source_id)
    item = _render(source)
    item["localities"] = [
        {"id": loc.id, "key": loc.key, "kind": loc.kind, "name": loc.name, "quote": loc.quote}
        for loc in session.execute(
            select(Locality).where(col(Locality.source_id) == source_id).order_by(col(Locality.id))
        ).scalars()
    ]
    item["branches"] = [
        {
            "id": b.id,
            "key": b.key,
            "kind": b.kind,
            "name": b.name,
            "group_size": b.group_size,
            "quote": b.quote,
        }
        for b in session.execute(
            select(Branch).where(col(Branch.source_id) == source_id).order_by(col(Branch.id))
        ).scalars()
    ]
    item["counts"] = figures_of(session, MembershipCount, "source_id", source_id)
    item["events"] = figures_of(session, MembershipEvent, "source_id", source_id)
    item["facts"] = figures_of(session, Fact, "source_id", source_id)
    item["officeholders"] = figures_of(session, Officeholder, "source_id", source_id)
    return item


def source_text(session: Session, source_id: int) -> str:
    text = session.execute(select(col(Source.text)).where(col(Source.id) == source_id)).scalar()
    if text is None:
        raise not_found("Source", source_id)
    return text
