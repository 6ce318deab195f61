"""Localities: lists, details with their place in the tree and in the 2025 reform, stats."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
)

from app.errors import bad_request, not_found
from app.ingest.places import search_words
from app.models import Locality, LocalitySuccession
from app.models.localities import LocalityWord
from app.reader import Reader, built_once
from app.services.data_version import version_column
from app.services.listing import KeptCounts, ListQuery, Page, fetch_page, mapped
from app.services.pagination import PageRequest, SortKey
from app.services.place_scopes import (
    PlaceScopes,
    ScopeLookup,
    reads_kept,
    scope_of,
    scoped_page,
)
from app.services.refs import (
    SearchTerms,
    alias,
    in_bound_scope,
    locality_alias,
    locality_columns,
    locality_ref,
    scope_levels,
    scope_params,
    search,
    source_ref,
    table,
    with_source,
)
from app.services.summary import locality_summary
from app.services.text import fold
from app.services.versioned_memo import VersionedMemo

# Counting the words of a search whose words are all common (see RARE_WORD) stops here:
# enough to pick the least common word to start from. (At
# 20,000, the two common words of "Thử Nghiệm 0001" took 0.5 ms each to count at national
# scale, four times the search itself; words that common read as many rows whichever
# starts, and are ordered by length.)
WORD_PROBE = 1_000
# A word that starts fewer names than this is rare: a search holding one counts no
# further, and takes its candidates from it alone (see _word_matches).
RARE_WORD = 100


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


def require_locality(reader: Reader, locality_id: int) -> dict[str, Any]:
    """A locality's own columns; 404 if there is none."""
    rows = reader.mappings(_locality_row, params={"locality_id": locality_id})
    if not rows:
        raise not_found("Locality", locality_id)
    return rows[0]


def _locality_row() -> Select[Any]:
    loc = table(Locality)
    return select(loc).where(loc.c.id == bindparam("locality_id"))


def _base_query() -> tuple[Select[Any], Any]:
    loc = alias(Locality, "loc")
    tp, tc = locality_alias("tp"), locality_alias("tc")
    query = (
        select(loc)
        .outerjoin(tp, tp.c.id == loc.c.current_province_id)
        .outerjoin(tc, tc.c.id == loc.c.current_commune_id)
        .add_columns(
            *locality_columns(tp, "tp"),
            *locality_columns(tc, "tc"),
            _has_successions(loc).label("has_successions"),
        )
    )
    query = with_source(query, loc.c.source_id, "src")
    return query, loc


def _has_successions(loc: Any) -> ColumnElement[bool]:
    """Whether a locality has a successor or a predecessor: a page whose rows have none
    (villages; places the 2025 reform left alone; every synthetic place) needs no second
    statement for them. On PostgreSQL that statement's round trip cost a search at
    national scale some 15% of its throughput (1,408-1,526 against 1,484-1,977 req/s)."""
    s = table(LocalitySuccession)
    return or_(
        exists().where(s.c.predecessor_id == loc.c.id),
        exists().where(s.c.successor_id == loc.c.id),
    )


@dataclass(frozen=True)
class LocalityListShape:
    """What the SQL of a locality list depends on: which filters are given (for
    `within`, the levels of its scope; for a search, how many words), not their values."""

    kind: bool
    parent: bool
    code: bool
    current: bool | None
    within: tuple[str, ...] | None
    search: tuple[int, int] | None
    words: int | None  # words of q that must each start a word of the name
    rare_first: bool  # the first of them is rare (RARE_WORD)
    sort: str


@dataclass(frozen=True)
class SearchWords:
    """The words of q that must each start a word of the folded name, rarest first, and
    whether the first is rare (starts fewer than RARE_WORD names)."""

    words: list[str]
    rare_first: bool


# The words of a search, and the data version their kept order was counted at.
KeptOrder = tuple[tuple[str, ...], int]
WordOrders = VersionedMemo[tuple[str, ...], SearchWords]


@dataclass(frozen=True)
class _KeptLookups:
    """What a page may take as kept rather than read: the places' scopes (a lookup),
    the order of a search's words, first pages' totals."""

    scopes: ScopeLookup | None
    word_orders: WordOrders | None
    counts: KeptCounts | None


def list_localities(
    reader: Reader,
    filters: LocalityFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    scopes: PlaceScopes | None = None,
    word_orders: WordOrders | None = None,
    counts: KeptCounts | None = None,
) -> Page:
    """A page of localities. With `scopes`, the scope of `within` may be a kept one,
    checked by the page's own statement (app.services.place_scopes); with `word_orders`,
    a search's order of words too (`_word_prefixes`); with `counts`, a first page's total
    (app.services.listing.fetch_page)."""
    terms = SearchTerms.of(filters.q) if filters.q else None
    if page.sort == "relevance" and terms is None:
        raise bad_request("query.sort", "relevance needs a search term q")

    def page_with(lookup: ScopeLookup | None) -> Page:
        kept = _KeptLookups(lookup, word_orders, counts)
        return _locality_page(reader, filters, terms, page, secret, with_total, kept)

    if filters.within is None:
        return page_with(None)
    return scoped_page(scopes, reader, page_with)


def _locality_page(
    reader: Reader,
    filters: LocalityFilters,
    terms: SearchTerms | None,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    kept: _KeptLookups,
) -> Page:
    lookup, word_orders = kept.scopes, kept.word_orders
    params: dict[str, Any] = {
        "kind": filters.kind,
        "parent": filters.parent,
        "code": filters.code,
        "within_id": filters.within,
        **(terms.params() if terms else {}),
    }
    within = None
    if filters.within is not None:
        scope = lookup(filters.within).units if lookup else scope_of(reader, filters.within)
        within = scope_levels(scope)
        params.update(scope_params(scope, "within"))
    words = None
    rare_first = False
    kept_order: KeptOrder | None = None
    if filters.q:
        prefixes, kept_order = _word_prefixes(reader, filters.q, word_orders)
        if prefixes is not None:
            words = len(prefixes.words)
            rare_first = prefixes.rare_first
            params.update({f"word{i}": p for i, p in enumerate(prefixes.words)})
            params.update({f"word{i}_end": _prefix_end(p) for i, p in enumerate(prefixes.words)})
    shape = LocalityListShape(
        kind=filters.kind is not None,
        parent=filters.parent is not None,
        code=filters.code is not None,
        current=filters.current,
        within=within,
        search=terms.shape if terms else None,
        words=words,
        rare_first=rare_first,
        sort=page.sort,
    )
    found = fetch_page(
        reader,
        _locality_list(shape),
        params,
        page,
        secret,
        mapped(_render_rows),
        with_total=with_total,
        versioned=reads_kept(lookup) or kept_order is not None,
        counts=kept.counts,
    )
    if word_orders is not None and kept_order is not None:
        key, version = kept_order
        if found.data_version != version:
            # The page stands (an order changes no result); the order is counted again
            # at the next search.
            word_orders.drop(key)
    return found


@built_once
def _locality_list(shape: LocalityListShape) -> ListQuery:
    query, loc = _base_query()
    conditions = []
    if shape.kind:
        conditions.append(loc.c.kind == bindparam("kind"))
    if shape.parent:
        conditions.append(loc.c.parent_id == bindparam("parent"))
    if shape.code:
        conditions.append(loc.c.code == bindparam("code"))
    if shape.current is not None:
        conditions.append(
            loc.c.valid_to.is_(None) if shape.current else loc.c.valid_to.is_not(None)
        )
    if shape.within is not None:
        conditions += [
            in_bound_scope(loc, shape.within, "within"),
            loc.c.id != bindparam("within_id"),
        ]
    rank = None
    if shape.search is not None:
        # Only the exact-diacritics rank of refs.search: matching is by word prefix.
        _, rank = search(loc.c.search_key, loc.c.name_lower, shape.search)
    # Counting needs neither today's units nor the source that decorate each row; with a
    # search, it counts the matches (joined to the localities only for other filters).
    count_query = select(loc.c.id).where(*conditions)
    if shape.words is not None:
        matches = _word_matches(shape.words, shape.rare_first)
        query = query.join(matches, matches.c.locality_id == loc.c.id)
        count_query = select(matches.c.locality_id)
        if conditions:
            count_query = count_query.join(loc, loc.c.id == matches.c.locality_id).where(
                *conditions
            )
    keys = _sort_keys(shape.sort, loc, rank)
    return ListQuery(query.where(*conditions), keys, count_query)


def _prefix_end(word: str) -> str:
    """The first string after every word starting with `word` ('thu' -> 'thv')."""
    return word[:-1] + chr(ord(word[-1]) + 1)


def _prefix(w: Any, name: str) -> ColumnElement[bool]:
    """Words starting with the bound word `name`: a range of the word index."""
    return and_(w.c.word >= bindparam(name), w.c.word < bindparam(f"{name}_end"))


def _word_prefixes(
    reader: Reader, q: str, word_orders: WordOrders | None = None
) -> tuple[SearchWords | None, KeptOrder | None]:
    """The words of q (issue 7), rarest first; None when q has no word (only invisible
    characters: no filter, as before), and no word at all (matching nothing) when q
    folds to something without words. With the order kept in `word_orders`, if any.

    The words are counted up to RARE_WORD: one rare word is enough to start from. Only
    when each is common are they counted on, up to WORD_PROBE, to start from the least
    common. (Counting "Thử Nghiệm 0001" up to WORD_PROBE read 2,000 index entries at
    national scale for its two common words, a third of the search.)

    The order changes which index the search starts from, never what it finds: a kept
    order is used as it is, and dropped by the caller when the page it served read
    another data version than the one it was counted at (the counts, a statement of its
    own, cost a PostgreSQL search a round trip).
    """
    words = search_words(fold(q))
    if not words:
        return (None if not fold(q) else SearchWords([], False)), None
    if len(words) == 1:
        return SearchWords(words, False), None
    key = tuple(words)
    kept = word_orders.get(key) if word_orders is not None else None
    if kept is not None:
        version, order = kept
        return order, (key, version)
    bounds = {f"word{i}": word for i, word in enumerate(words)}
    bounds.update({f"{name}_end": _prefix_end(word) for name, word in bounds.items()})
    [(*found, version)] = reader.rows(_word_counts, len(words), RARE_WORD, params=bounds)
    rare = min(found) < RARE_WORD
    if not rare:
        [(*found, version)] = reader.rows(_word_counts, len(words), WORD_PROBE, params=bounds)
    rank = dict(zip(words, found, strict=True))
    words.sort(key=lambda word: (rank[word], -len(word)))
    order = SearchWords(words, rare)
    if word_orders is not None and version is not None:
        word_orders.put(key, version, order)
    return order, None


def _word_counts(words: int, up_to: int) -> Select[Any]:
    """How many names each bound word starts (up to `up_to`), in one statement."""
    w = table(LocalityWord)
    return select(
        *(
            select(func.count())
            .select_from(
                select(w.c.locality_id).where(_prefix(w, f"word{i}")).limit(up_to).subquery()
            )
            .scalar_subquery()
            for i in range(words)
        ),
        version_column(),  # the version the counts are of (WordOrders)
    )


def _word_matches(words: int, rare_first: bool) -> Any:
    """Ids of the localities where every bound word (`word<i>`, rarest first) starts a
    word of the folded name; none when there are no words. A subquery joined to the
    localities, so that the plan starts from it rather than from every locality.

    When the first word is rare, its few names are read once (a materialized common
    table expression, which the page and its count share) and each is checked for the
    other words by index, one lookup each. PostgreSQL's plan made once for any words
    (app.db) otherwise hashed every name the second word starts (3,321 at national
    scale for "nghiem": 0.7 ms, twice a page, growing with the data), or read the whole
    word index in id order to leave out duplicates without sorting: OFFSET 0 keeps each
    EXISTS a subplan run per candidate, and the duplicates are left out after the read.
    When every word is common, the plan is the planner's choice.
    """
    w = table(LocalityWord)
    if not words:
        return select(w.c.locality_id).where(false()).subquery("matches")
    other = alias(LocalityWord, "lw")
    checks = []
    for i in range(1, words):
        check = select(other.c.locality_id).where(
            other.c.locality_id == w.c.locality_id, _prefix(other, f"word{i}")
        )
        checks.append((check.offset(0) if rare_first else check).exists())
    found = select(w.c.locality_id).where(_prefix(w, "word0"), *checks)
    if rare_first:
        candidates = found.cte("candidates").prefix_with("MATERIALIZED")
        found = select(candidates.c.locality_id)
    return found.distinct().subquery("matches")


def _sort_keys(sort: str, loc: Any, rank: Any) -> tuple[SortKey, ...]:
    if sort == "relevance":
        return (SortKey(rank, int), SortKey(loc.c.name_lower, str), SortKey(loc.c.id, int))
    descending = sort.startswith("-")
    if sort.lstrip("-") == "name":
        return (SortKey(loc.c.name_lower, str, descending), SortKey(loc.c.id, int, descending))
    return (SortKey(loc.c.id, int, descending),)


def successions_for(reader: Reader, ids: list[int]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Successors and predecessors of many localities, in one query."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = {
        i: {"successors": [], "predecessors": []} for i in ids
    }
    if not ids:
        return out
    for row in reader.mappings(_successions, params={"ids": ids}):
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


def _successions() -> Select[Any]:
    s = table(LocalitySuccession)
    pre, suc = locality_alias("pre"), locality_alias("suc")
    ids: Any = bindparam("ids", expanding=True)
    return (
        select(s, *locality_columns(pre, "pre"), *locality_columns(suc, "suc"))
        .join(pre, pre.c.id == s.c.predecessor_id)
        .join(suc, suc.c.id == s.c.successor_id)
        .where(or_(s.c.predecessor_id.in_(ids), s.c.successor_id.in_(ids)))
        .order_by(s.c.id)
    )


def render_locality(
    row: Mapping[str, Any], links: dict[str, list[dict[str, Any]]], today: date
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


def _render_rows(reader: Reader, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    links = successions_for(reader, [r["id"] for r in rows if r["has_successions"]])
    today = date.today()
    return [
        render_locality(r, links.get(r["id"]) or {"successors": [], "predecessors": []}, today)
        for r in rows
    ]


def locality_detail(reader: Reader, locality_id: int) -> dict[str, Any]:
    rows = reader.mappings(_one_locality, params={"locality_id": locality_id})
    if not rows:
        raise not_found("Locality", locality_id)
    row = rows[0]
    item = _render_rows(reader, [row])[0]
    item["parents"] = _parent_chain(reader, row["parent_id"])
    item["children"] = [
        locality_ref(r, "ch")
        for r in reader.mappings(_children, params={"locality_id": locality_id})
    ]
    item["summary"] = locality_summary(reader, scope_of(reader, locality_id))
    return item


def _one_locality() -> Select[Any]:
    query, loc = _base_query()
    return query.where(loc.c.id == bindparam("locality_id"))


def _children() -> Select[Any]:
    children = alias(Locality, "ch")
    return (
        select(*locality_columns(children, "ch"))
        .where(children.c.parent_id == bindparam("locality_id"))
        .order_by(children.c.name_lower, children.c.id)
        .limit(1000)
    )


def _parent_chain(reader: Reader, parent_id: int | None) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = []
    while parent_id is not None and len(chain) < 10:
        rows = reader.mappings(_parent, params={"parent_id": parent_id})
        if not rows:
            break
        chain.append(locality_ref(rows[0], "p"))  # type: ignore[arg-type]
        parent_id = rows[0]["parent_id"]
    return chain


def _parent() -> Select[Any]:
    p = locality_alias("p")
    return select(*locality_columns(p, "p"), p.c.parent_id).where(p.c.id == bindparam("parent_id"))
