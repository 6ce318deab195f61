"""Branches: lists with filters and risk, and details with every figure and its source."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any, TypedDict

import orjson
from sqlalchemy import (
    ColumnElement,
    Date,
    Dialect,
    Select,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.types import NullType

from app.errors import bad_request, not_found
from app.models import Branch, Fact, Locality, MembershipCount, MembershipEvent, Officeholder
from app.models.vocab import LEVEL_RANK
from app.reader import Reader, built_once
from app.services.answer_cache import Answer, AnswerCache, kept_answer
from app.services.branch_items import (
    decorated,
    decorated_from_status,
    item_shape,
    item_tables,
    rendered_columns,
    status_columns,
    stored_item,
)
from app.services.figures import figure_base, figure_shape, stated_sources
from app.services.gathered import DayRows, GatheredRows, KeptRankings, day_rows
from app.services.json_sql import JsonSql, JsonText, Obj
from app.services.line_pages import fetch_lines
from app.services.listing import (
    KeptCounts,
    KeptWalks,
    LateRows,
    ListQuery,
    Page,
    documents,
    fetch_page,
)
from app.services.pagination import PageRequest, SortKey
from app.services.place_scopes import (
    PlaceScope,
    PlaceScopes,
    ScopeLookup,
    place_scope,
    reads_kept,
    scoped_page,
)
from app.services.references import Reference
from app.services.refs import (
    SOURCE_FIELDS,
    SearchTerms,
    alias,
    in_bound_scope,
    scope_levels,
    scope_params,
    search,
    source_columns,
    table,
)
from app.services.risk import RiskDay, risk_select
from app.services.risk_rules import RiskRules
from app.services.sqlfuncs import in_bound_ids
from app.services.text import committees_as_organizations

RiskFilter = str  # "true" | "false" | "unknown"


@dataclass(frozen=True)
class BranchFilters:
    locality: int | None = None
    province: int | None = None
    kind: str | None = None
    parent: int | None = None
    q: str | None = None
    min_members: int | None = None
    max_members: int | None = None
    risk: RiskFilter | None = None
    risk_level: str = "watch"
    as_of: date | None = None

    def references(self) -> list[Reference]:
        """The record a filter names, which an empty page checks exists."""
        return [Reference("query.parent", Branch, self.parent)]


BRANCH_CSV = [
    "id",
    "key",
    "kind",
    "name",
    "group_size",
    "description",
    "parent.id",
    "parent.name",
    "locality.id",
    "locality.kind",
    "locality.name",
    "locality.code",
    # The keys say the period: a code alone is not a unit (the reform reused codes).
    "locality.key",
    "today.province.name",
    "today.province.code",
    "today.province.key",
    "today.commune.name",
    "today.commune.code",
    "today.commune.key",
    "members.low",
    "members.high",
    "latest_count.id",
    "latest_count.value",
    "latest_count.value_max",
    "latest_count.qualifier",
    "latest_count.status",
    "latest_count.as_of",
    "latest_count.evidence_date",
    "latest_count.evidence_date_basis",
    "latest_count.date_note",
    "latest_count.applies_to_each",
    *source_columns("latest_count.source"),
    "latest_count.quote",
    "latest_count.figure",
    "risk.level",
    "risk.at_risk",
    "risk.criteria_met",
    "risk.as_of",
    "risk.rules_version",
    *source_columns(),
    "quote",
    "note",
    # Added after the rest (2026-12-06): a reader of columns by position keeps reading.
    "founded_on",
    "dissolved_on",
]


@dataclass(frozen=True)
class BranchListShape:
    """What the SQL of a branch list depends on: which filters are given (and for a place,
    the levels it has units at; for a search, how many words), never their values."""

    locality: tuple[str, ...] | None
    province: tuple[str, ...] | None
    kind: bool
    parent: bool
    search: tuple[int, int] | None
    min_members: bool
    max_members: bool
    risk: RiskFilter | None
    risk_level: str  # the lowest level risk=true takes; in the SQL, for its index
    as_of: bool
    sort: str
    cells: tuple[str, ...] | None
    rules: RiskRules
    # One branch (`branch_id`): a detail's as of a day, whose risk is then evaluated for
    # it alone, not for every branch before one is kept (scale 1.0: 3.8 s, or cut at 5).
    one: bool = False


def _places(
    filters: BranchFilters, scope_of: Callable[[int, str], PlaceScope]
) -> dict[str, dict[str, list[int]]]:
    """The units each place filter covers (itself and all it replaced), by level."""
    places = {}
    for name, ident in (("locality", filters.locality), ("province", filters.province)):
        if ident is None:
            continue
        place = scope_of(ident, f"query.{name}")
        if name == "province" and place.kind not in ("province", "city_province"):
            raise bad_request(
                "query.province", f"locality {ident} is a {place.kind}, not a province", 422
            )
        places[name] = place.units
    return places


def _list_parameters(
    reader: Reader,
    filters: BranchFilters,
    sort: str,
    rules: RiskRules,
    cells: tuple[str, ...] | None,
    scope_of: Callable[[int, str], PlaceScope] | None = None,
) -> tuple[BranchListShape, dict[str, Any]]:
    """A branch list's shape, and the values its statement binds; places' scopes from
    `scope_of`, or read now."""
    places = _places(filters, scope_of or partial(place_scope, reader))
    terms = SearchTerms.of(committees_as_organizations(filters.q)) if filters.q else None
    if sort == "relevance" and terms is None:
        raise bad_request("query.sort", "relevance needs a search term q", 422)
    shape = BranchListShape(
        locality=scope_levels(places["locality"]) if "locality" in places else None,
        province=scope_levels(places["province"]) if "province" in places else None,
        kind=filters.kind is not None,
        parent=filters.parent is not None,
        search=terms.shape if terms else None,
        min_members=filters.min_members is not None,
        max_members=filters.max_members is not None,
        risk=filters.risk,
        risk_level=filters.risk_level if filters.risk in ("true", "false") else "watch",
        as_of=filters.as_of is not None,
        sort=sort,
        cells=cells,
        rules=rules,
    )
    params: dict[str, Any] = {
        "kind": filters.kind,
        "parent": filters.parent,
        "min_members": filters.min_members,
        "max_members": filters.max_members,
        **(terms.params() if terms else {}),
    }
    for name, units in places.items():
        params.update(scope_params(units, name))
    if filters.as_of is not None:
        params.update(RiskDay.params(filters.as_of, rules))
        params["as_of_text"] = filters.as_of.isoformat()
    return shape, params


@built_once
def _branch_list(shape: BranchListShape, dialect: Dialect) -> ListQuery:
    """The branches that match, each rendered by the database: as one JSON `item`, or
    as the CSV `line` of the dotted paths `cells`; their order; what to count."""
    b = item_tables().b
    on_branch = partial(_on_branch, shape)
    if not shape.as_of:
        risk, status_join = status_columns()
        # Today's items are stored (branch_items); CSV lines are rendered from the shape.
        if shape.cells is None:
            query = stored_item()
        else:
            query = decorated_from_status(dialect, shape.rules, shape.cells)
    else:
        query, risk, status_join = _as_of(shape, dialect, on_branch, few_branches=shape.one)
    on_status = _status_conditions(shape, risk)
    if _province_on_status(shape):
        on_status.append(in_bound_scope(status_join[0], ("province",), "province"))
    conditions = [on_branch(b), *on_status]
    # Counting needs only the rows, not the joins that decorate them: without a condition
    # on the status, not the status (every branch has one status row; at national scale
    # reading them to count a province's branches was most of its page), and without one
    # on the branch itself, not the branch (every status row is one branch's).
    if not on_status:
        count_query = select(b.c.id).where(on_branch(b))
    elif _filters_branch_table(shape):
        count_query = select(b.c.id).select_from(b).join(*status_join).where(*conditions)
    else:
        count_query = select(risk["branch_id"]).select_from(status_join[0]).where(*on_status)
    query = _as_sent(query, shape, dialect)
    keys = _sort_keys(shape, b, risk)
    late = None
    if shape.sort == "relevance" and not shape.as_of:
        # Every match is ranked and sorted: by id and keys, each page's items read after.
        late = LateRows(count_query, b.c.id, documents=query)
    elif shape.as_of and not shape.one and _sorts_on_branch(shape):
        # The risk as of the day only of the page's branches, once chosen; with a
        # condition on it, of the branches walked until a page of them meets it.
        walked = bool(on_status)

        def documents_of(ids: Select[Any]) -> Select[Any]:
            # A page's 51 branches are few; a walk's steps, of up to 16,384, are not
            # (risk_select: evaluated a branch at a time, a first page at risk at scale
            # 1.0 took 1.4 s, as a set 0.4 s).
            scope = partial(_in_page, ids, dialect)
            page, risk, _ = _as_of(shape, dialect, scope, few_branches=not walked)
            return _as_sent(page.where(*_status_conditions(shape, risk)), shape, dialect)

        branches = select(b.c.id).where(_on_branch(shape, b))
        late = LateRows(branches, b.c.id, documents_of=documents_of, walked=walked)
    if late is not None and (not on_status or late.walked):
        # The ids are the branches' alone: the keys' bounds on the status go.
        keys = tuple(replace(key, same_as=None) for key in keys)
    gathered = None
    if _gathered(shape) or (late is not None and late.walked and _on_day_rows(shape)):
        gathered = _gathered_rows(shape, dialect, when_kept=late is not None)
    return ListQuery(query.where(*conditions), keys, count_query, late, gathered)


def _gathered_rows(shape: BranchListShape, dialect: Dialect, when_kept: bool) -> GatheredRows:
    """A list of branches ordered or filtered on their risk as of a day, nationally, read
    from the day's rows (gathered.GatheredRows): evaluated a range of ids at a time."""
    b = item_tables().b

    def in_range(branches: Any) -> ColumnElement[bool]:
        in_range = and_(branches.c.id >= bindparam("_from_id"), branches.c.id < bindparam("_to_id"))
        return and_(_on_branch(shape, branches), in_range)

    _, risk, _ = _as_of(shape, dialect, in_range, few_branches=False, id_range=True)
    page, page_risk, _ = _as_of(shape, dialect, partial(_in_bound_page, dialect), few_branches=True)
    return GatheredRows(
        span=select(func.min(b.c.id), func.max(b.c.id)),
        day_rows=_day_rows(risk),
        keys_of=partial(_day_keys, shape),
        documents=_as_sent(page, shape, dialect).add_columns(page_risk["branch_id"]),
        ranking_key=replace(shape, cells=None),
        day_key=replace(
            shape,
            cells=None,
            sort="risk",
            risk=None,
            risk_level="watch",
            min_members=False,
            max_members=False,
        ),
        when_kept=when_kept,
    )


def _as_of(
    shape: BranchListShape,
    dialect: Dialect,
    scope: Callable[[Any], ColumnElement[bool]],
    few_branches: bool,
    id_range: bool = False,
) -> tuple[Select[Any], dict[str, Any], tuple[Any, Any]]:
    """The branches decorated with their risk as of the bound day, evaluated for the
    branches of `scope` (of the risk's own alias of the branches; `few_branches`: a
    page's or one; `id_range`: a range of ids; see risk_select); the risk's columns; the
    join to it."""
    b = item_tables().b
    rows = risk_select(
        shape.rules, RiskDay.bound(), scope, few_branches=few_branches, id_range=id_range
    )
    r = rows.subquery("r")
    risk = {
        "count_id": r.c.count_id,
        "members_low": r.c.members_low,
        "members_high": r.c.members_high,
        "members_sort": func.coalesce(r.c.members_low, -1),
        "branch_id": r.c.branch_id,
        "level": r.c.level,
        "rank": r.c.rank,
        "criteria_met": r.c.criteria_met,
    }
    status_join = (r, r.c.branch_id == b.c.id)
    json = JsonSql(dialect.name)
    shape_of_item = item_shape(item_tables(), risk, json.bound_text("as_of_text"), shape.rules)
    columns = rendered_columns(dialect.name, shape_of_item, shape.cells)
    return decorated(columns, risk, status_join), risk, status_join


def _in_page(ids: Select[Any], dialect: Dialect, b: Any) -> ColumnElement[bool]:
    """The branches of a page or of a walk's step (`ids`). On PostgreSQL an array,
    computed once: its generic plan, not knowing how few a page holds, read every branch
    to find them (tests/api/test_query_plans.py: all 2,727 for a page of 51)."""
    if dialect.name == "postgresql":
        return b.c.id == any_(func.array(ids.scalar_subquery()))
    return b.c.id.in_(ids)


# A day row's columns (_day_rows), ints: -1 for no members known, or no province.
DAY_COLUMNS = (
    "id",
    "rank",
    "members_low",
    "members_high",
    "province_id",  # as reported
    "today_province_id",  # of the branch's place today
    "organizations",  # its group size, or 1
)


def _day_rows(risk: dict[str, Any]) -> Select[Any]:
    """A gathered list's day rows (gathered.GatheredRows): each branch's DAY_COLUMNS as
    of the day. The risk is evaluated for the branches of the list's filters on the
    branch alone (and the range's)."""
    r = risk["branch_id"].table
    branches, places = table(Branch), table(Locality)
    return (
        select(
            risk["branch_id"],
            risk["rank"],
            func.coalesce(risk["members_low"], -1),
            func.coalesce(risk["members_high"], -1),
            func.coalesce(branches.c.province_id, -1),
            func.coalesce(places.c.current_province_id, -1),
            func.coalesce(branches.c.group_size, 1),
        )
        .select_from(r)
        .join(branches, branches.c.id == risk["branch_id"])
        .outerjoin(places, places.c.id == branches.c.locality_id)
    )


def day_rows_as_of(
    reader: Reader, as_of: date, rules: RiskRules, kept: KeptRankings | None
) -> DayRows:
    """Every branch's DAY_COLUMNS as of a day: the day rows of the national list of
    that day (gathered.day_rows), which its orders and filters share."""
    shape, params = _list_parameters(reader, BranchFilters(as_of=as_of), "risk", rules, None)
    return day_rows(reader, _branch_list(shape, reader.dialect), params, kept)[1]


def _day_keys(
    shape: BranchListShape, values: Mapping[str, Any]
) -> Callable[[Sequence[int]], tuple[int, ...] | None]:
    """A day row's keys in the list's order (_sort_keys), or None when the filters on
    the day's risk and members leave it out: _status_conditions, in Python."""
    threshold = LEVEL_RANK[shape.risk_level]
    unknown = LEVEL_RANK["unknown"]
    least = values["min_members"] if shape.min_members else None
    most = values["max_members"] if shape.max_members else None
    order = shape.sort.lstrip("-")

    def keys(row: Sequence[int]) -> tuple[int, ...] | None:
        ident, rank, low, high = row[:4]
        if least is not None and low < least:  # none known (-1) is below any least
            return None
        if most is not None and (high < 0 or high > most):
            return None
        if shape.risk == "true" and rank < threshold:
            return None
        if shape.risk == "false" and (rank >= threshold or rank == unknown):
            return None
        if shape.risk == "unknown" and rank != unknown:
            return None
        if order == "members":
            return (low, ident)
        return (rank, ident) if order == "risk" else (ident,)

    return keys


def _in_bound_page(dialect: Dialect, b: Any) -> ColumnElement[bool]:
    """The branches of a gathered page, bound as `_ids` (gathered.gather)."""
    return in_bound_ids(b.c.id, "_ids", dialect.name)


def _as_sent(query: Select[Any], shape: BranchListShape, dialect: Dialect) -> Select[Any]:
    """An item's JSON as bytes, sent as they are (a CSV line as it is)."""
    if shape.cells is not None:
        return query
    item = query.selected_columns.item
    return query.with_only_columns(JsonSql(dialect.name).utf8(item).label("item"))


def _gathered(shape: BranchListShape) -> bool:
    """Whether the list is ordered on every branch's risk as of a day (its level or its
    members), evaluated a range of ids at a time (ListQuery.gathered). Within a place or
    a parent, one statement evaluates its branches (0.15-0.2 s a province at scale 1.0)."""
    return (
        shape.as_of
        and not shape.one
        and not _sorts_on_branch(shape)
        and not any((shape.locality, shape.province, shape.parent))
    )


def _on_day_rows(shape: BranchListShape) -> bool:
    """Whether a walked list (as of a day, filtered on the risk or members) may be read
    from the day's rows when they are kept (GatheredRows.when_kept): nationally, in the
    order of the ids, which are ints."""
    return shape.sort in ("id", "-id") and not any((shape.locality, shape.province, shape.parent))


def _sorts_on_branch(shape: BranchListShape) -> bool:
    """Whether the order is the branches' own (not a status column's)."""
    return shape.sort.lstrip("-") in ("id", "name", "relevance")


def _province_on_status(shape: BranchListShape) -> bool:
    """A province's branches found by the status's copy of the branch's province, with no
    other filter on the branches: those at risk (watch or above), whose partial index
    holds exactly them in id order, and any of them in the order of their members or
    their risk, which the status's (province, key, branch) indexes give (BranchStatus).
    A province that replaced others has units at the province level only, so the same
    copy finds theirs."""
    at_risk = shape.risk == "true" and shape.risk_level == "watch"
    return (
        shape.province == ("province",)
        and (at_risk or shape.sort.lstrip("-") in ("members", "risk"))
        and not shape.as_of
        and not _filters_branch_table(replace(shape, province=None))
    )


def _on_branch(shape: BranchListShape, b: Any) -> ColumnElement[bool]:
    """The filters on the branches table, for its alias `b` (reused by risk)."""
    clauses: list[ColumnElement[bool]] = [
        in_bound_scope(b, levels, name)
        for name, levels in (("locality", shape.locality), ("province", shape.province))
        if levels is not None and not (name == "province" and _province_on_status(shape))
    ]
    if shape.kind:
        clauses.append(b.c.kind == bindparam("kind"))
    if shape.parent:
        clauses.append(b.c.parent_id == bindparam("parent"))
    if shape.search:
        clauses.append(search(b.c.search_key, b.c.name_lower, shape.search)[0])
    if shape.one:
        clauses.append(b.c.id == bindparam("branch_id"))
    return and_(true(), *clauses)


def _filters_branch_table(shape: BranchListShape) -> bool:
    if _province_on_status(shape):
        return False
    return any(
        (
            shape.locality is not None,
            shape.province is not None,
            shape.kind,
            shape.parent,
            shape.search is not None,
        )
    )


def _status_conditions(shape: BranchListShape, risk: dict[str, Any]) -> list[ColumnElement[bool]]:
    conditions = []
    if shape.min_members:
        conditions.append(risk["members_low"] >= bindparam("min_members"))
    if shape.max_members:
        conditions.append(risk["members_high"] <= bindparam("max_members"))
    if shape.risk is not None:
        # A constant, not a parameter: the database then uses the partial index of the
        # branches at risk at that level (BranchStatus).
        threshold: Any = literal_column(str(LEVEL_RANK[shape.risk_level]))
        if shape.risk == "true":
            conditions.append(risk["rank"] >= threshold)
        elif shape.risk == "false":
            conditions += [risk["rank"] < threshold, risk["level"] != "unknown"]
        else:
            conditions.append(risk["level"] == "unknown")
    return conditions


def _sort_keys(shape: BranchListShape, b: Any, risk: dict[str, Any]) -> tuple[SortKey, ...]:
    descending = shape.sort.startswith("-")
    name = shape.sort.lstrip("-")
    # The branch's id is also its status row's: a page after a cursor bounds both.
    branch_id = SortKey(b.c.id, int, descending, same_as=risk["branch_id"])
    if name == "relevance":
        assert shape.search is not None  # checked with the parameters
        rank = search(b.c.search_key, b.c.name_lower, shape.search)[1]
        ascending_id = SortKey(b.c.id, int, same_as=risk["branch_id"])
        return (SortKey(rank, int), SortKey(b.c.name_lower, str), ascending_id)
    if name == "name":
        return (SortKey(b.c.name_order, str, descending), branch_id)
    # Orders on status columns end with the status table's own branch_id, so that its
    # (key, branch_id) index gives the order and a page reads ~limit rows; a province's,
    # found on the status (_province_on_status), its (province, key, branch_id) index
    # (scale 1.0, its 51 largest branches: 8-9.5 ms on SQLite reading and sorting its
    # ~8,000 rows, 0.3 ms by index). Not within a smaller place, its sub-organizations
    # or a search: walking every status in that order finds their rows only as often as
    # they hold them. PostgreSQL walked all 28,711 branches at risk for a province's 51
    # most at risk, which its ids put last (scale 1.0: 190 ms). There the key is an
    # expression no index orders (`+ 0`), so the place's own rows are read and the page
    # is sorted from them.
    by_province = shape.province is not None and not _province_on_status(shape)
    within = by_province or any((shape.locality, shape.parent, shape.search))
    if name == "members":
        members = risk["members_sort"] + literal_column("0") if within else risk["members_sort"]
        return (
            SortKey(members, int, descending),
            SortKey(risk["branch_id"], int, descending, same_as=b.c.id),
        )
    if name == "risk":  # most at risk first, newest first within a level
        rank = risk["rank"] + literal_column("0") if within else risk["rank"]
        return (
            SortKey(rank, int, True),
            SortKey(risk["branch_id"], int, True, same_as=b.c.id),
        )
    if shape.risk == "true" and not _filters_branch_table(shape) and not shape.as_of:
        # The status's own branch_id: the index of the level's branches (or of a
        # province's, _province_on_status) gives that order. (As of a day, the branches
        # are walked in their own: LateRows.)
        return (SortKey(risk["branch_id"], int, descending, same_as=b.c.id),)
    return (branch_id,)


class KeptLists(TypedDict, total=False):
    """What a list of branches may read kept rather than read again (list_branches'
    arguments of those names)."""

    scopes: PlaceScopes
    counts: KeptCounts
    rankings: KeptRankings
    walks: KeptWalks


def list_branches(
    reader: Reader,
    filters: BranchFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    rules: RiskRules,
    cells: tuple[str, ...] | None = None,
    scopes: PlaceScopes | None = None,
    counts: KeptCounts | None = None,
    rankings: KeptRankings | None = None,
    walks: KeptWalks | None = None,
) -> Page:
    """A page of branches: JSON items, or with `cells` the CSV lines of those paths,
    written by the database (app.services.line_pages: not counted, CSV shows no total).

    With `scopes`, a place filter's scope may be a kept one, checked by the page's own
    statement (app.services.place_scopes): one statement instead of two. With `counts`,
    a first page's total may be a kept one too, with `rankings` the order of every
    branch's risk as of a day, and with `walks` the branches a first page walked as of a
    day (app.services.listing.fetch_page).
    """

    def page_with(lookup: ScopeLookup | None) -> Page:
        """The page, with the places' scopes of `lookup`, or read now."""
        shape, params = _list_parameters(reader, filters, page.sort, rules, cells, lookup)
        listing = _branch_list(shape, reader.dialect)
        kept = reads_kept(lookup)
        if cells is not None:
            return fetch_lines(
                reader, listing, params, page, secret, versioned=kept, rankings=rankings
            )
        return fetch_page(
            reader, listing, params, page, secret, documents,
            with_total=with_total, versioned=kept,
            counts=counts, rankings=rankings, walks=walks,
        )  # fmt: skip

    if filters.locality is None and filters.province is None:
        return page_with(None)
    return scoped_page(scopes, reader, page_with)


CHILD_FIELDS = ("id", "key", "kind", "name", "group_size")
# The lists of a branch's detail, in the order they follow its item.
FIGURE_SECTIONS = {
    "counts": MembershipCount,
    "events": MembershipEvent,
    "facts": Fact,
    "officeholders": Officeholder,
}
DETAIL_SECTIONS = ("item", *FIGURE_SECTIONS, "children", "sources")
COUNTS_SECTION = DETAIL_SECTIONS.index("counts")


def branch_answer(
    reader: Reader, answers: AnswerCache, branch_id: int, rules: RiskRules, as_of: date | None
) -> Answer:
    """branch_detail as sent: kept until the data changes. Its risk "as of today" is the
    stored status, whose refresh when the day turns is a write like any other."""
    return kept_answer(
        reader,
        answers,
        ("branch", branch_id, rules.version, as_of),
        lambda: branch_detail(reader, branch_id, rules, as_of),
    )


def branch_detail(
    reader: Reader, branch_id: int, rules: RiskRules, as_of: date | None
) -> dict[str, Any]:
    """A branch's item with every figure, its sub-organizations and its sources.

    One statement: each part is a row of a union (its section, and the JSON document the
    database renders), in the order the detail lists them.
    """
    shape, params = _list_parameters(reader, BranchFilters(as_of=as_of), "id", rules, None)
    # As of a day, the risk is evaluated for this branch alone (today's is stored).
    listing = _branch_list(replace(shape, one=as_of is not None), reader.dialect)
    rows = reader.rows(
        _branch_document, listing, reader.dialect.name, params={**params, "branch_id": branch_id}
    )
    if not rows or rows[0][0] != 0:
        raise not_found("Branch", branch_id)
    item: dict[str, Any] = orjson.loads(rows[0][1])
    sections: dict[str, list[Any]] = {name: [] for name in DETAIL_SECTIONS[1:]}
    latest = item["latest_count"]
    alternatives = []
    for section, document, ident, day, status in rows[1:]:
        sections[DETAIL_SECTIONS[section]].append(JsonText(document))
        # Other sources' counts for the same day: served beside the value shown first.
        # Told by the row's columns: parsing each count to compare them cost a
        # twentieth of the detail.
        if (
            section == COUNTS_SECTION
            and latest is not None
            and ident != latest["id"]
            and _iso_day(day) == latest["evidence_date"]
            and status == latest["status"]
        ):
            alternatives.append(JsonText(document))
    if latest is not None:
        latest["alternatives"] = alternatives
    item.update(sections)
    return item


def _iso_day(day: date | str | None) -> str | None:
    return day.isoformat() if isinstance(day, date) else day


def _branch_document(listing: ListQuery, dialect_name: str) -> Select[Any]:
    """The rows of a branch's detail: its item, then each of its lists (`section`, the
    number of DETAIL_SECTIONS), one JSON document a row, with its id, day and (a count)
    status."""
    json = JsonSql(dialect_name)
    branch_id: Any = bindparam("branch_id")
    b = item_tables().b
    item = listing.query.where(b.c.id == branch_id).subquery("item")
    no_day = cast(null(), Date).label("day")
    no_status = cast(null(), String).label("status")
    parts = [
        select(
            literal(0).label("section"),
            literal(0).label("id"),
            no_day,
            no_status,
            item.c.item.label("document"),
        )
    ]
    for number, model in enumerate(FIGURE_SECTIONS.values(), start=1):
        query, t, _ = figure_base(model)
        document = json.utf8(json.text(json.render(figure_shape(model))))
        status = t.c.status if number == COUNTS_SECTION else no_status
        parts.append(
            query.with_only_columns(
                literal(number), t.c.id, t.c.evidence_date, status, document
            ).where(t.c.branch_id == branch_id)
        )
    child = alias(Branch, "child")
    children = Obj({f: child.c[f] for f in CHILD_FIELDS})
    parts.append(
        select(
            literal(5), child.c.id, no_day, no_status, json.utf8(json.text(json.render(children)))
        )
        .where(child.c.parent_id == branch_id)
        .limit(1000)
        .subquery("children")
        .select()
    )
    sources = stated_sources(branch_id).subquery("sources")
    source = Obj({f: sources.c[f] for f in SOURCE_FIELDS})
    document = json.utf8(json.text(json.render(source)))
    parts.append(select(literal(6), sources.c.id, no_day, no_status, document))
    union = union_all(*parts).subquery("detail")
    # Figures oldest evidence first; children and sources by id.
    # The day as the driver gives it (SQLite's text, psycopg's date): SQLAlchemy's
    # parsing of SQLite's dates cost more than the comparison it serves.
    day = type_coerce(union.c.day, NullType())
    return select(union.c.section, union.c.document, union.c.id, day, union.c.status).order_by(
        union.c.section, union.c.day, union.c.id
    )
