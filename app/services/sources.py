"""Sources: the articles, and every figure drawn from each."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select

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
from app.reader import Reader, built_once
from app.services.figures import figures_of
from app.services.listing import ListQuery, Page, fetch_page, mapped
from app.services.pagination import PageRequest, SortKey
from app.services.refs import table
from app.services.text import fold, search_words

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


def _render(row: Mapping[str, Any]) -> dict[str, Any]:
    get = row.__getitem__
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
    reader: Reader, filters: SourceFilters, page: PageRequest, secret: bytes, with_total: bool
) -> Page:
    params: dict[str, Any] = {"publisher": filters.publisher}
    if filters.q:
        # Sources are few: folding title and publisher in Python keeps SQL portable.
        words = search_words(fold(filters.q))
        params["ids"] = [
            ident
            for ident, *texts in reader.rows(_searched)
            if all(w in fold(" ".join(filter(None, texts))) for w in words)
        ]
    listing = _source_list(filters.publisher is not None, filters.q is not None, page.sort)
    return fetch_page(
        reader,
        listing,
        params,
        page,
        secret,
        mapped(lambda _reader, rows: [_render(r) for r in rows]),
        with_total=with_total,
    )


def _searched() -> Select[Any]:
    s = table(Source)
    return select(s.c.id, s.c.title, s.c.publisher, s.c.author)


@built_once
def _source_list(publisher: bool, searched: bool, sort: str) -> ListQuery:
    s = table(Source)
    query = select(*(c for c in s.c if c.name != "text"))  # lists leave the text out
    if publisher:
        query = query.where(s.c.publisher == bindparam("publisher"))
    if searched:
        query = query.where(s.c.id.in_(bindparam("ids", expanding=True)))
    return ListQuery(query, (SortKey(s.c.id, int, sort.startswith("-")),))


# A source's detail lists this many of each kind at most. An article states a handful;
# a synthetic source states a province's figures, and listing them all was a 130 MB
# answer built in memory at national scale (3.4-4.1 s). The figure lists filter by
# source and page through the rest.
DETAIL_LIST_CAP = 1_000
# Each list of a source's detail, and the table it is drawn from.
DETAIL_LISTS = {
    "localities": Locality,
    "branches": Branch,
    "counts": MembershipCount,
    "events": MembershipEvent,
    "facts": Fact,
    "officeholders": Officeholder,
}


def source_detail(reader: Reader, source_id: int) -> dict[str, Any]:
    rows = reader.mappings(_one_source, params={"source_id": source_id})
    if not rows:
        raise not_found("Source", source_id)
    item = _render(rows[0])
    named = {"source_id": source_id, "up_to": DETAIL_LIST_CAP}
    item["localities"] = reader.mappings(_named_by, Locality, LOCALITY_NAMED, params=named)
    item["branches"] = reader.mappings(_named_by, Branch, BRANCH_NAMED, params=named)
    for name in ("counts", "events", "facts", "officeholders"):
        model = DETAIL_LISTS[name]
        item[name] = figures_of(reader, model, "source_id", source_id, DETAIL_LIST_CAP)
    [totals] = reader.mappings(_totals, params={"source_id": source_id})
    item["totals"] = totals
    return item


def _totals() -> Select[Any]:
    """How many of each list the source states (one statement, each counted by its
    table's index of sources)."""
    counted = {
        name: select(func.count())
        .select_from(table(model))
        .where(table(model).c.source_id == bindparam("source_id"))
        .scalar_subquery()
        for name, model in DETAIL_LISTS.items()
    }
    return select(*(count.label(name) for name, count in counted.items()))


LOCALITY_NAMED = ("id", "key", "kind", "name", "quote")
BRANCH_NAMED = ("id", "key", "kind", "name", "group_size", "quote")


def _one_source() -> Select[Any]:
    s = table(Source)
    return select(*(c for c in s.c if c.name != "text")).where(s.c.id == bindparam("source_id"))


def _named_by(model: Any, fields: tuple[str, ...]) -> Select[Any]:
    """The places or organizations a source names, in the order they were added."""
    t = table(model)
    return (
        select(*(t.c[f] for f in fields))
        .where(t.c.source_id == bindparam("source_id"))
        .order_by(t.c.id)
        .limit(bindparam("up_to"))
    )


def source_text(reader: Reader, source_id: int) -> str:
    text = reader.scalar(_text, params={"source_id": source_id})
    if text is None:
        raise not_found("Source", source_id)
    return str(text)


def _text() -> Select[Any]:
    s = table(Source)
    return select(s.c.text).where(s.c.id == bindparam("source_id"))
