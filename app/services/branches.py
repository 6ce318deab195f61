"""Branches: lists with filters and risk, and details with every figure and its source."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlmodel import Session

from app.errors import bad_request, not_found
from app.models import (
    Branch,
    BranchStatus,
    Fact,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.services.figures import distinct_sources, evidence_basis_sql, figures_of
from app.services.json_sql import Flag, JsonSql, JsonText, Names, Obj
from app.services.listing import Page, Render, fetch_page
from app.services.localities import require_locality, scope_of
from app.services.pagination import PageRequest, SortKey
from app.services.refs import (
    LOCALITY_FIELDS,
    SOURCE_FIELDS,
    alias,
    in_scope,
    locality_alias,
    search,
)
from app.services.risk import risk_select
from app.services.risk_rules import LEVEL_RANK, RiskRules

BRANCH_SORTS = ("id", "-id", "name", "-name", "members", "-members", "risk", "relevance")
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
    "today.province.name",
    "today.province.code",
    "today.commune.name",
    "today.commune.code",
    "members.low",
    "members.high",
    "latest_count.value",
    "latest_count.value_max",
    "latest_count.qualifier",
    "latest_count.as_of",
    "latest_count.evidence_date",
    "latest_count.applies_to_each",
    "latest_count.source.id",
    "latest_count.source.publisher",
    "latest_count.source.title",
    "latest_count.source.published_on",
    "latest_count.quote",
    "risk.level",
    "risk.at_risk",
    "risk.criteria_met",
    "risk.as_of",
    "risk.rules_version",
    "source.id",
    "source.title",
    "quote",
]


def _scope_condition(
    session: Session, filters: BranchFilters
) -> Callable[[Any], ColumnElement[bool]]:
    """The filters on the branches table, as a function of its alias (reused by risk)."""
    scopes = []
    for ident, must_be_province in ((filters.locality, False), (filters.province, True)):
        if ident is None:
            continue
        place = require_locality(session, ident)
        if must_be_province and place.kind not in ("province", "city_province"):
            raise bad_request(
                "query.province", f"locality {ident} is a {place.kind}, not a province", 422
            )
        scopes.append(scope_of(session, ident))

    def condition(b: Any) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = [in_scope(b, s) for s in scopes]
        if filters.kind:
            clauses.append(b.c.kind == filters.kind)
        if filters.parent is not None:
            clauses.append(b.c.parent_id == filters.parent)
        if filters.q:
            clauses.append(search(b.c.search_key, b.c.name_lower, filters.q)[0])
        return and_(True, *clauses)

    return condition


def _query(
    session: Session,
    filters: BranchFilters,
    rules: RiskRules,
    cells: tuple[str, ...] | None = None,
) -> tuple[Select[Any], Select[Any], Any, dict[str, Any]]:
    """The branches that match, each rendered by the database: as one JSON `item`, or
    as the CSV `cells` of those dotted paths."""
    b = _tables().b
    scope = _scope_condition(session, filters)
    dialect = session.get_bind().dialect
    if filters.as_of is None:
        risk, status_join = _status_columns()
        decorated = _decorated_from_status(dialect, rules, cells)
    else:
        r = risk_select(rules, filters.as_of, scope).subquery("r")
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
        shape = _shape(_tables(), risk, json.parameter(filters.as_of.isoformat()), rules)
        decorated = _decorated(_rendered(json, shape, cells), risk, status_join)
    on_status = _status_conditions(filters, risk)
    conditions = [scope(b), *on_status]
    # Counting needs only the rows, not the joins that decorate them; and without a
    # condition on the branch itself, not the branch either (every status row is one
    # branch's): at national scale that halved the count of a risk filter.
    if _filters_branch_table(filters):
        count_query = select(b.c.id).select_from(b).join(*status_join).where(*conditions)
    else:
        count_query = select(risk["branch_id"]).select_from(status_join[0]).where(*on_status)
    return decorated.where(*conditions), count_query, b, risk


def _filters_branch_table(filters: BranchFilters) -> bool:
    return any(
        value is not None
        for value in (filters.locality, filters.province, filters.kind, filters.parent, filters.q)
    )


def _rendered(json: JsonSql, shape: Obj, cells: tuple[str, ...] | None) -> list[ColumnElement[Any]]:
    if cells is None:
        return [json.text(json.render(shape)).label("item")]
    return [cell.label(f"c{i}") for i, cell in enumerate(json.cells(shape, cells))]


@cache
def _status_columns() -> tuple[dict[str, Any], tuple[Any, Any]]:
    """Risk and latest count as kept in branch_status (today's, under the served rules)."""
    st = alias(BranchStatus, "st")
    risk = {
        "count_id": st.c.latest_count_id,
        "members_low": st.c.members_low,
        "members_high": st.c.members_high,
        "members_sort": st.c.members_sort,
        "branch_id": st.c.branch_id,
        "level": st.c.risk_level,
        "rank": st.c.risk_rank,
        "criteria_met": st.c.criteria_met,
        "as_of": st.c.evaluated_on,
    }
    return risk, (st, st.c.branch_id == _tables().b.c.id)


@lru_cache(maxsize=32)
def _decorated_from_status(
    dialect: Dialect, rules: RiskRules, cells: tuple[str, ...] | None
) -> Select[Any]:
    """Built once per database, rules and CSV columns.

    The expression that renders a row is large: building it per request cost more than
    running the query, and so did SQLAlchemy's cache key, which walks the whole statement
    on every execution. Compiled once to SQL text (its only values are the rules version
    and SQL constants, inlined), each column is one opaque element to both.
    """
    risk, status_join = _status_columns()
    shape = _shape(_tables(), risk, risk["as_of"], rules)
    columns: list[ColumnElement[Any]] = [
        literal_column(_sql(column.element, dialect)).label(column.name)
        for column in _rendered(JsonSql(dialect.name), shape, cells)
    ]
    return _decorated(columns, risk, status_join)


def _sql(expression: ColumnElement[Any], dialect: Dialect) -> str:
    return str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _decorated(
    columns: list[ColumnElement[Any]], risk: dict[str, Any], status_join: tuple[Any, Any]
) -> Select[Any]:
    """Branches joined with their risk and everything their item shows, unfiltered."""
    t = _tables()
    return (
        select(*columns)
        .select_from(t.b)
        .join(*status_join)
        .outerjoin(t.parent, t.parent.c.id == t.b.c.parent_id)
        .outerjoin(t.loc, t.loc.c.id == t.b.c.locality_id)
        .outerjoin(t.tp, t.tp.c.id == t.loc.c.current_province_id)
        .outerjoin(t.tc, t.tc.c.id == t.loc.c.current_commune_id)
        .outerjoin(t.lc, t.lc.c.id == risk["count_id"])
        .outerjoin(t.lcsrc, t.lcsrc.c.id == t.lc.c.source_id)
        .outerjoin(t.src, t.src.c.id == t.b.c.source_id)
    )


@dataclass(frozen=True)
class _Tables:
    """The tables a branch is joined with to render it."""

    b: Any
    parent: Any
    loc: Any  # its place
    tp: Any  # today's province and commune of that place
    tc: Any
    lc: Any  # its latest count, and that count's source
    lcsrc: Any
    src: Any  # the source that names the branch


@cache
def _tables() -> _Tables:
    return _Tables(
        alias(Branch, "b"),
        alias(Branch, "parent"),
        locality_alias("loc"),
        locality_alias("tp"),
        locality_alias("tc"),
        alias(MembershipCount, "lc"),
        alias(Source, "lcsrc"),
        alias(Source, "src"),
    )


def _shape(t: _Tables, risk: dict[str, Any], as_of: ColumnElement[Any], rules: RiskRules) -> Obj:
    """One branch as the API serves it in lists (BranchOut and BRANCH_CSV)."""

    def locality(table: Any) -> Obj:
        return Obj({f: table.c[f] for f in LOCALITY_FIELDS}, present=table.c.id)

    def source(table: Any) -> Obj:
        return Obj({f: table.c[f] for f in SOURCE_FIELDS}, present=table.c.id)

    b, lc = t.b, t.lc
    latest_count = {
        "id": risk["count_id"],
        "value": lc.c.value,
        "value_max": lc.c.value_max,
        "qualifier": lc.c.qualifier,
        "status": lc.c.status,
        "as_of": lc.c.as_of,
        "evidence_date": lc.c.evidence_date,
        "evidence_date_basis": evidence_basis_sql(lc.c.as_of, t.lcsrc.c.published_on),
        "applies_to_each": Flag(lc.c.applies_to_each),
        "date_note": lc.c.date_note,
        "source": source(t.lcsrc),
        "quote": lc.c.quote,
        "figure": lc.c.figure,
    }
    return Obj(
        {
            "id": b.c.id,
            "key": b.c.key,
            "kind": b.c.kind,
            "name": b.c.name,
            "group_size": b.c.group_size,
            "description": b.c.description,
            "parent": Obj({"id": b.c.parent_id, "name": t.parent.c.name}, present=b.c.parent_id),
            "locality": locality(t.loc),
            "today": Obj({"province": locality(t.tp), "commune": locality(t.tc)}),
            "members": Obj({"low": risk["members_low"], "high": risk["members_high"]}),
            "latest_count": Obj(latest_count, present=lc.c.value),
            "risk": Obj(
                {
                    "level": risk["level"],
                    "at_risk": Flag(risk["rank"] >= LEVEL_RANK["watch"]),
                    "criteria_met": Names(risk["criteria_met"]),
                    "as_of": as_of,
                    "rules_version": literal_column(f"'{rules.version}'"),
                }
            ),
            "source": source(t.src),
            "quote": b.c.quote,
            "note": b.c.note,
            "synthetic": Flag(b.c.is_synthetic),
        }
    )


def _status_conditions(filters: BranchFilters, risk: dict[str, Any]) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.min_members is not None:
        conditions.append(risk["members_low"] >= filters.min_members)
    if filters.max_members is not None:
        conditions.append(risk["members_high"] <= filters.max_members)
    if filters.risk is not None:
        threshold = LEVEL_RANK[filters.risk_level]
        if filters.risk == "true":
            conditions.append(risk["rank"] >= threshold)
        elif filters.risk == "false":
            conditions += [risk["rank"] < threshold, risk["level"] != "unknown"]
        else:
            conditions.append(risk["level"] == "unknown")
    return conditions


def _sort_keys(sort: str, b: Any, risk: dict[str, Any], q: str | None) -> list[SortKey]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name == "relevance":
        if not q:
            raise bad_request("query.sort", "relevance needs a search term q")
        rank = search(b.c.search_key, b.c.name_lower, q)[1]
        return [SortKey(rank, int), SortKey(b.c.name_lower, str), SortKey(b.c.id, int)]
    if name == "name":
        return [SortKey(b.c.name_lower, str, descending), SortKey(b.c.id, int, descending)]
    # Orders on status columns end with the status table's own branch_id, so that its
    # (key, branch_id) index gives the order and a page reads ~limit rows.
    if name == "members":
        return [
            SortKey(risk["members_sort"], int, descending),
            SortKey(risk["branch_id"], int, descending),
        ]
    if name == "risk":  # most at risk first, newest first within a level
        return [SortKey(risk["rank"], int, True), SortKey(risk["branch_id"], int, True)]
    return [SortKey(b.c.id, int, descending)]


def list_branches(
    session: Session,
    filters: BranchFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    rules: RiskRules,
    cells: tuple[str, ...] | None = None,
) -> Page:
    """A page of branches: JSON items, or with `cells` the CSV cells of those paths."""
    query, count_query, b, risk = _query(session, filters, rules, cells)
    keys = _sort_keys(page.sort, b, risk, filters.q)
    render: Render | int = (
        len(cells) if cells is not None else lambda _s, rows: [JsonText(r["item"]) for r in rows]
    )
    return fetch_page(
        session,
        query,
        keys,
        page,
        secret,
        render,
        with_total=with_total,
        count_query=count_query,
    )


CHILD_FIELDS = ("id", "key", "kind", "name", "group_size")


@cache
def _children() -> Select[Any]:
    child = alias(Branch, "child")
    return (
        select(*(child.c[f] for f in CHILD_FIELDS))
        .where(child.c.parent_id == bindparam("parent_id"))
        .order_by(child.c.id)
        .limit(1000)
    )


def branch_detail(
    session: Session, branch_id: int, rules: RiskRules, as_of: date | None
) -> dict[str, Any]:
    query, _, b, _ = _query(session, BranchFilters(as_of=as_of), rules)
    row = session.execute(query.where(b.c.id == branch_id)).mappings().first()
    if row is None:
        raise not_found("Branch", branch_id)
    item: dict[str, Any] = orjson.loads(row["item"])
    item["counts"] = figures_of(session, MembershipCount, "branch_id", branch_id)
    latest = item["latest_count"]
    if latest is not None:
        # Other sources' counts for the same day: served beside the value shown first.
        latest["alternatives"] = [
            c
            for c in item["counts"]
            if c["id"] != latest["id"]
            # the item came from JSON: its dates are ISO strings, the counts' are dates
            and str(c["evidence_date"]) == latest["evidence_date"]
            and c["status"] == latest["status"]
        ]
    item["events"] = figures_of(session, MembershipEvent, "branch_id", branch_id)
    item["facts"] = figures_of(session, Fact, "branch_id", branch_id)
    item["officeholders"] = figures_of(session, Officeholder, "branch_id", branch_id)
    item["children"] = [
        # plain str keys: SQLAlchemy names a column `key` with a str subclass, which
        # orjson refuses as a key
        dict(zip(CHILD_FIELDS, row, strict=True))
        for row in session.execute(_children(), {"parent_id": branch_id})
    ]
    item["sources"] = distinct_sources(session, branch_id)
    return item
