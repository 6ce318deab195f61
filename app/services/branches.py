"""Branches: lists with filters and risk, and details with every figure and its source."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select
from sqlmodel import Session

from app.errors import bad_request, not_found
from app.models import Branch, Fact, MembershipCount, MembershipEvent, Officeholder
from app.services.branch_items import (
    decorated,
    decorated_from_status,
    item_shape,
    item_tables,
    rendered_columns,
    status_columns,
    stored_item,
)
from app.services.figures import distinct_sources, figures_of
from app.services.json_sql import JsonSql, JsonText
from app.services.listing import Page, Render, fetch_page
from app.services.localities import place_scope
from app.services.pagination import PageRequest, SortKey
from app.services.refs import alias, in_scope, search
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
        place = place_scope(session, ident)
        if must_be_province and place.kind not in ("province", "city_province"):
            raise bad_request(
                "query.province", f"locality {ident} is a {place.kind}, not a province", 422
            )
        scopes.append(place.units)

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
    b = item_tables().b
    scope = _scope_condition(session, filters)
    dialect = session.get_bind().dialect
    if filters.as_of is None:
        risk, status_join = status_columns()
        # Today's items are stored (branch_items); CSV cells are rendered from the shape.
        query = stored_item() if cells is None else decorated_from_status(dialect, rules, cells)
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
        shape = item_shape(item_tables(), risk, json.parameter(filters.as_of.isoformat()), rules)
        query = decorated(rendered_columns(json, shape, cells), risk, status_join)
    on_status = _status_conditions(filters, risk)
    conditions = [scope(b), *on_status]
    # Counting needs only the rows, not the joins that decorate them; and without a
    # condition on the branch itself, not the branch either (every status row is one
    # branch's): at national scale that halved the count of a risk filter.
    if _filters_branch_table(filters):
        count_query = select(b.c.id).select_from(b).join(*status_join).where(*conditions)
    else:
        count_query = select(risk["branch_id"]).select_from(status_join[0]).where(*on_status)
    return query.where(*conditions), count_query, b, risk


def _filters_branch_table(filters: BranchFilters) -> bool:
    return any(
        value is not None
        for value in (filters.locality, filters.province, filters.kind, filters.parent, filters.q)
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
