"""Localities: lists, details with their place in the tree and in the 2025 reform, stats."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from app.errors import bad_request, not_found
from app.ingest.places import search_words
from app.models import Locality, LocalitySuccession
from app.models.localities import LocalityWord
from app.models.vocab import LEVEL_OF_KIND
from app.services.listing import Page, fetch_page
from app.services.pagination import PageRequest, SortKey
from app.services.refs import (
    alias,
    in_scope,
    locality_alias,
    locality_columns,
    locality_ref,
    search,
    source_ref,
    table,
    with_source,
)
from app.services.summary import locality_summary
from app.services.text import fold

# Counting a word's matches stops here: enough to pick the rarest word to start from.
WORD_PROBE = 20_000


@dataclass(frozen=True)
class LocalityFilters:
    kind: str | None = None
    parent: int | None = None
    code: str | None = None
    q: str | None = None
    current: bool | None = None
    within: int | None = None


LOCALITY_SORTS = ("id", "-id", "name", "-name", "relevance")
LOCALITY_CSV = [
    "id",
    "key",
    "kind",
    "name",
    "official_name",
    "code",
    "parent_id",
    "valid_from",
    "valid_to",
    "legal_basis",
    "is_current",
    "today.province.name",
    "today.province.code",
    "today.commune.name",
    "today.commune.code",
    "successors",
    "predecessors",
    "source.id",
    "source.publisher",
    "source.title",
    "source.published_on",
    "quote",
]


@dataclass(frozen=True)
class PlaceScope:
    """A unit's kind, and the units it covers (itself and all it replaced) by level."""

    kind: str
    units: dict[str, list[int]]


def place_scope(session: Session, locality_id: int) -> PlaceScope:
    """A unit and every unit it replaced (transitively), grouped by level; 404 if none.

    Today's Lào Cai province covers old Yên Bái and old Lào Cai: figures reported
    under either are "in" today's Lào Cai. One statement: lists filtered by place ask
    this on every request.
    """
    kind = None
    units: dict[str, list[int]] = defaultdict(list)
    for ident, unit_kind in session.connection().execute(
        _covered_units(), {"locality_id": locality_id}
    ):
        units[LEVEL_OF_KIND[unit_kind]].append(ident)
        if ident == locality_id:
            kind = unit_kind
    if kind is None:
        raise not_found("Locality", locality_id)
    return PlaceScope(kind, dict(units))


def scope_of(session: Session, locality_id: int) -> dict[str, list[int]]:
    return place_scope(session, locality_id).units


@cache
def _covered_units() -> Select[Any]:
    succession, loc = table(LocalitySuccession), table(Locality)
    covered = select(cast(bindparam("locality_id"), Integer).label("id")).cte(
        "covered", recursive=True
    )
    # UNION, not UNION ALL: a cycle of successions would otherwise never end.
    covered = covered.union(
        select(succession.c.predecessor_id).join(covered, succession.c.successor_id == covered.c.id)
    )
    # IN, not a join: SQLite then looks the few units up by key instead of scanning them all.
    covering = loc.c.id.in_(select(covered.c.id))
    return select(loc.c.id, loc.c.kind).where(covering).order_by(loc.c.id)


def require_locality(session: Session, locality_id: int) -> Locality:
    locality = session.get(Locality, locality_id)
    if locality is None:
        raise not_found("Locality", locality_id)
    return locality


def _base_query() -> tuple[Select[Any], Any]:
    loc = alias(Locality, "loc")
    tp, tc = locality_alias("tp"), locality_alias("tc")
    query = (
        select(loc)
        .outerjoin(tp, tp.c.id == loc.c.current_province_id)
        .outerjoin(tc, tc.c.id == loc.c.current_commune_id)
        .add_columns(*locality_columns(tp, "tp"), *locality_columns(tc, "tc"))
    )
    query = with_source(query, loc.c.source_id, "src")
    return query, loc


def list_localities(
    session: Session, filters: LocalityFilters, page: PageRequest, secret: bytes, with_total: bool
) -> Page:
    query, loc = _base_query()
    if filters.kind:
        query = query.where(loc.c.kind == filters.kind)
    if filters.parent is not None:
        query = query.where(loc.c.parent_id == filters.parent)
    if filters.code:
        query = query.where(loc.c.code == filters.code)
    if filters.current is not None:
        query = query.where(
            loc.c.valid_to.is_(None) if filters.current else loc.c.valid_to.is_not(None)
        )
    if filters.within is not None:
        query = query.where(
            in_scope(loc, scope_of(session, filters.within)), loc.c.id != filters.within
        )
    rank = None
    if filters.q:
        # Only the exact-diacritics rank of refs.search: matching is by word prefix.
        _, rank = search(loc.c.search_key, loc.c.name_lower, filters.q)
        matches = _word_matches(session, filters.q)
        if matches is not None:
            query = query.join(matches, matches.c.locality_id == loc.c.id)
    keys = _sort_keys(page.sort, loc, rank)
    return fetch_page(session, query, keys, page, secret, _render_rows, with_total=with_total)


def _prefix(w: Any, word: str) -> ColumnElement[bool]:
    """Words starting with `word`: a range of the word index ('thu' <= w < 'thv')."""
    after = word[:-1] + chr(ord(word[-1]) + 1)
    return and_(w.c.word >= word, w.c.word < after)


def _word_matches(session: Session, q: str) -> Any:
    """Ids of the localities where every word of q starts a word of the folded name
    (issue 7); None when q has no word (only invisible characters: no filter, as before).

    The candidates come from the rarest word's index range (counted up to WORD_PROBE);
    each other word is then an indexed lookup per candidate. A subquery joined to the
    localities, so that the plan starts from it rather than from every locality.
    """
    words = search_words(fold(q))
    w = table(LocalityWord)
    if not words:
        return None if not fold(q) else select(w.c.locality_id).where(literal(False)).subquery()
    if len(words) > 1:
        found = {
            word: session.execute(
                select(func.count()).select_from(
                    select(w.c.locality_id).where(_prefix(w, word)).limit(WORD_PROBE).subquery()
                )
            ).scalar_one()
            for word in words
        }
        words.sort(key=lambda word: (found[word], -len(word)))
    first, *others = words
    other = alias(LocalityWord, "lw")
    return (
        select(w.c.locality_id)
        .where(
            _prefix(w, first),
            *(
                select(other.c.locality_id)
                .where(other.c.locality_id == w.c.locality_id, _prefix(other, word))
                .exists()
                for word in others
            ),
        )
        .distinct()
        .subquery("matches")
    )


def _sort_keys(sort: str, loc: Any, rank: Any) -> list[SortKey]:
    if sort == "relevance":
        if rank is None:
            raise bad_request("query.sort", "relevance needs a search term q")
        return [SortKey(rank, int), SortKey(loc.c.name_lower, str), SortKey(loc.c.id, int)]
    descending = sort.startswith("-")
    if sort.lstrip("-") == "name":
        return [SortKey(loc.c.name_lower, str, descending), SortKey(loc.c.id, int, descending)]
    return [SortKey(loc.c.id, int, descending)]


def successions_for(session: Session, ids: list[int]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Successors and predecessors of many localities, in one query."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = {
        i: {"successors": [], "predecessors": []} for i in ids
    }
    if not ids:
        return out
    s = table(LocalitySuccession)
    pre, suc = locality_alias("pre"), locality_alias("suc")
    rows = session.execute(
        select(s, *locality_columns(pre, "pre"), *locality_columns(suc, "suc"))
        .join(pre, pre.c.id == s.c.predecessor_id)
        .join(suc, suc.c.id == s.c.successor_id)
        .where(or_(s.c.predecessor_id.in_(ids), s.c.successor_id.in_(ids)))
        .order_by(s.c.id)
    ).mappings()
    for row in rows:
        link = {
            "kind": row["kind"],
            "effective_on": row["effective_on"],
            "legal_basis": row["legal_basis"],
        }
        if row["predecessor_id"] in out:
            out[row["predecessor_id"]]["successors"].append(
                {"locality": locality_ref(row, "suc"), **link}
            )
        if row["successor_id"] in out:
            out[row["successor_id"]]["predecessors"].append(
                {"locality": locality_ref(row, "pre"), **link}
            )
    return out


def render_locality(
    row: RowMapping, links: dict[str, list[dict[str, Any]]], today: date
) -> dict[str, Any]:
    is_current = row["valid_to"] is None and (
        row["valid_from"] is None or row["valid_from"] <= today
    )
    return {
        "id": row["id"],
        "key": row["key"],
        "kind": row["kind"],
        "name": row["name"],
        "official_name": row["official_name"],
        "code": row["code"],
        "parent_id": row["parent_id"],
        "valid_from": row["valid_from"],
        "valid_to": row["valid_to"],
        "legal_basis": row["legal_basis"],
        "is_current": is_current,
        "today": {"province": locality_ref(row, "tp"), "commune": locality_ref(row, "tc")},
        "successors": links["successors"],
        "predecessors": links["predecessors"],
        "source": source_ref(row, "src"),
        "quote": row["quote"],
        "note": row["note"],
        "synthetic": row["is_synthetic"],
    }


def _render_rows(session: Session, rows: list[RowMapping]) -> list[dict[str, Any]]:
    links = successions_for(session, [r["id"] for r in rows])
    today = date.today()
    return [render_locality(r, links[r["id"]], today) for r in rows]


def locality_detail(session: Session, locality_id: int) -> dict[str, Any]:
    query, loc = _base_query()
    row = session.execute(query.where(loc.c.id == locality_id)).mappings().first()
    if row is None:
        raise not_found("Locality", locality_id)
    item = _render_rows(session, [row])[0]
    item["parents"] = _parent_chain(session, row["parent_id"])
    children = alias(Locality, "ch")
    item["children"] = [
        locality_ref(r, "ch")
        for r in session.execute(
            select(*locality_columns(children, "ch"))
            .where(children.c.parent_id == locality_id)
            .order_by(children.c.name_lower, children.c.id)
            .limit(1000)
        ).mappings()
    ]
    item["summary"] = locality_summary(session, scope_of(session, locality_id))
    return item


def _parent_chain(session: Session, parent_id: int | None) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = []
    p = locality_alias("p")
    while parent_id is not None and len(chain) < 10:
        row = (
            session.execute(
                select(*locality_columns(p, "p"), p.c.parent_id).where(p.c.id == parent_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            break
        chain.append(locality_ref(row, "p"))  # type: ignore[arg-type]
        parent_id = row["parent_id"]
    return chain
