"""Localities: lists, details with their place in the tree and in the 2025 reform, stats."""

from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    over,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from app.errors import bad_request, not_found
from app.models import Locality, LocalitySuccession, Source
from app.models.localities import LocalityWord
from app.reader import Reader, built_once
from app.services.answer_cache import Answer, AnswerCache, kept_answer
from app.services.data_version import version_column
from app.services.json_sql import Flag, JsonSql, Obj
from app.services.listing import KeptCounts, LateRows, ListQuery, Page, documents, fetch_page
from app.services.pagination import PageRequest, SortKey
from app.services.place_scopes import (
    PlaceScopes,
    ScopeLookup,
    reads_kept,
    scope_of,
    scoped_page,
)
from app.services.references import Reference
from app.services.refs import (
    LOCALITY_FIELDS,
    SOURCE_FIELDS,
    SearchTerms,
    alias,
    in_bound_scope,
    locality_alias,
    locality_columns,
    locality_ref,
    scope_levels,
    scope_params,
    search,
    source_columns,
    table,
)
from app.services.summary import locality_summary
from app.services.text import fold, search_words
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

    def references(self) -> list[Reference]:
        """The record a filter names, which an empty page checks exists."""
        return [Reference("query.parent", Locality, self.parent)]


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
    "today.province.key",
    "today.commune.name",
    "today.commune.code",
    "today.commune.key",
    "successors",
    "predecessors",
    *source_columns(),
    "quote",
    "note",
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


def _base_query(dialect_name: str) -> tuple[Select[Any], Any]:
    """Localities, each rendered by the database as its JSON `item` (LocalityOut), with
    its parent's id beside it; and the localities' table they are selected from.

    Built as dicts in Python, a 50-row page spent more in Python than in SQLite: at
    national scale a page of villages served 915-955 req/s built that way, 1,283-1,598
    rendered by SQLite. (PostgreSQL renders JSON slower than SQLite, about what Python
    saves: 777-806 against 870-956 req/s, with the links' statement gone.)"""
    loc = alias(Locality, "loc")
    tp, tc = locality_alias("tp"), locality_alias("tc")
    src = alias(Source, "src")
    json = JsonSql(dialect_name)
    item = json.utf8(json.text(json.render(_locality_shape(json, loc, tp, tc, src))))
    query = (
        select(item.label("item"), loc.c.parent_id)
        .select_from(loc)
        .outerjoin(tp, tp.c.id == loc.c.current_province_id)
        .outerjoin(tc, tc.c.id == loc.c.current_commune_id)
        .outerjoin(src, src.c.id == loc.c.source_id)
    )
    return query, loc


def _locality_shape(json: JsonSql, loc: Any, tp: Any, tc: Any, src: Any) -> Obj:
    """One locality as the API serves it. Current: not replaced, and in force by the
    day bound as `today`."""
    today: Any = bindparam("today", type_=Date)
    is_current = and_(
        loc.c.valid_to.is_(None), or_(loc.c.valid_from.is_(None), loc.c.valid_from <= today)
    )
    own = ("id", "key", "kind", "name", "official_name", "code", "parent_id")
    dated = ("valid_from", "valid_to", "legal_basis")
    return Obj(
        {
            **{f: loc.c[f] for f in own + dated},
            "is_current": Flag(is_current),
            "today": Obj({"province": _place_ref(tp), "commune": _place_ref(tc)}),
            "successors": _links(json, loc, "successors"),
            "predecessors": _links(json, loc, "predecessors"),
            "source": Obj({f: src.c[f] for f in SOURCE_FIELDS}, present=src.c.id),
            "quote": loc.c.quote,
            "note": loc.c.note,
            "synthetic": Flag(loc.c.is_synthetic),
        }
    )


def _place_ref(place: Any) -> Obj:
    return Obj({f: place.c[f] for f in LOCALITY_FIELDS}, present=place.c.id)


def _links(json: JsonSql, loc: Any, direction: str) -> ColumnElement[Any]:
    """A locality's successors (or predecessors) as a JSON array, in the order they were
    recorded: in the page's own statement, not a second one (on PostgreSQL that
    statement's round trip cost a search at national scale some 15% of its throughput:
    1,408-1,526 against 1,484-1,977 req/s)."""
    s = alias(LocalitySuccession, f"link_{direction}")
    successors = direction == "successors"
    other = locality_alias("suc" if successors else "pre")
    own_side, other_side = (
        (s.c.predecessor_id, s.c.successor_id)
        if successors
        else (s.c.successor_id, s.c.predecessor_id)
    )
    link = Obj(
        {
            "locality": _place_ref(other),
            "kind": s.c.kind,
            "effective_on": s.c.effective_on,
            "legal_basis": s.c.legal_basis,
        }
    )
    document = json.render(link)
    if json.sqlite:
        # SQLite 3.40 orders no aggregate's input but a window's: the whole window's
        # array, once. A JSON value loses its type between queries: json() gives it back,
        # so that the item holds an array of objects, not a string.
        window = over(
            func.json_group_array(func.json(document)),
            order_by=s.c.id,
            rows=(None, None),
        )
        listed: Any = select(window).limit(1)
    else:
        listed = select(func.json_agg(aggregate_order_by(document, s.c.id)))
    listed = (
        listed.select_from(s)
        .join(other, other.c.id == other_side)
        .where(own_side == loc.c.id)
        .scalar_subquery()
    )
    if json.sqlite:
        return func.json(func.coalesce(listed, literal_column("'[]'")))
    return func.coalesce(listed, literal_column("'[]'::json"))


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
        raise bad_request("query.sort", "relevance needs a search term q", 422)

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
        "today": date.today(),
        **(terms.params() if terms else {}),
    }
    within = None
    if filters.within is not None:
        place, field = filters.within, "query.within"
        scope = lookup(place, field).units if lookup else scope_of(reader, place, field)
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
        _locality_list(shape, reader.dialect.name),
        params,
        page,
        secret,
        documents,
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
def _locality_list(shape: LocalityListShape, dialect_name: str) -> ListQuery:
    query, loc = _base_query(dialect_name)
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
        # Only the rank of refs.search: matching is by word prefix.
        _, rank = search(loc.c.search_key, loc.c.name_lower, shape.search)
    # Counting needs neither today's units nor the source that decorate each row; with a
    # search, it counts the matches (joined to the localities only for other filters).
    count_query = select(loc.c.id).where(*conditions)
    late = None
    if shape.words is not None:
        # A page's items only (the detail's statement reads the parent's id too).
        items = query.with_only_columns(query.selected_columns.item)
        matches = _word_matches(shape.words, shape.rare_first)
        query = query.join(matches, matches.c.locality_id == loc.c.id)
        count_query = select(matches.c.locality_id)
        if conditions:
            count_query = count_query.join(loc, loc.c.id == matches.c.locality_id).where(
                *conditions
            )
        if not shape.rare_first:
            # The matches sorted by their keys, and a page's items rendered after: the
            # word "thôn" starts 100,000 villages' names at national scale, and
            # PostgreSQL rendered each one's JSON before sorting them (0.34-0.36 s a
            # page). Not from a rare word: its few matches are sorted whole, a level of
            # statement fewer (PostgreSQL: 8-10% more searches a second).
            ids = select(loc.c.id).select_from(matches).join(loc, loc.c.id == matches.c.locality_id)
            late = LateRows(ids.where(*conditions), loc.c.id, documents=items)
    keys = _sort_keys(shape.sort, loc, rank)
    return ListQuery(query.where(*conditions), keys, count_query, late)


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
        return (SortKey(loc.c.name_order, str, descending), SortKey(loc.c.id, int, descending))
    return (SortKey(loc.c.id, int, descending),)


def locality_answer(reader: Reader, answers: AnswerCache, locality_id: int) -> Answer:
    """locality_detail as sent: kept until the data changes, per day (whether a place is
    in force, and its successors in force, are the day's). A province's summary adds up
    its branches, some 8,000 at national scale: 35 ms a request on SQLite, built each
    time (18 requests a second on PostgreSQL under load)."""
    today = date.today()
    return kept_answer(
        reader,
        answers,
        ("locality", locality_id, today),
        lambda: locality_detail(reader, locality_id, today),
    )


def locality_detail(reader: Reader, locality_id: int, today: date | None = None) -> dict[str, Any]:
    rows = reader.mappings(
        _one_locality,
        reader.dialect.name,
        params={"locality_id": locality_id, "today": today or date.today()},
    )
    if not rows:
        raise not_found("Locality", locality_id)
    row = rows[0]
    item: dict[str, Any] = orjson.loads(row["item"])
    item["parents"] = _parent_chain(reader, row["parent_id"])
    item["children"] = [
        locality_ref(r, "ch")
        for r in reader.mappings(_children, params={"locality_id": locality_id})
    ]
    item["summary"] = locality_summary(reader, scope_of(reader, locality_id))
    return item


def _one_locality(dialect_name: str) -> Select[Any]:
    query, loc = _base_query(dialect_name)
    return query.where(loc.c.id == bindparam("locality_id"))


def _children() -> Select[Any]:
    children = alias(Locality, "ch")
    return (
        select(*locality_columns(children, "ch"))
        .where(children.c.parent_id == bindparam("locality_id"))
        .order_by(children.c.name_order, children.c.id)
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
