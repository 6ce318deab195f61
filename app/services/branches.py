"""Branches: lists with filters and risk, and details with every figure and its source."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from app.errors import bad_request, not_found
from app.models import Branch, BranchStatus, Fact, MembershipCount, MembershipEvent, Officeholder
from app.services.figures import distinct_sources, evidence_basis, figures_of
from app.services.listing import Page, fetch_page
from app.services.localities import require_locality, scope_of
from app.services.pagination import PageRequest, SortKey
from app.services.refs import (
    alias,
    in_scope,
    locality_alias,
    locality_columns,
    locality_ref,
    search,
    source_ref,
    with_source,
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
    session: Session, filters: BranchFilters, rules: RiskRules
) -> tuple[Select[Any], Select[Any], Any, dict[str, Any]]:
    b = alias(Branch, "b")
    loc, tp, tc = locality_alias("loc"), locality_alias("tp"), locality_alias("tc")
    parent = alias(Branch, "parent")
    lc = alias(MembershipCount, "lc")
    scope = _scope_condition(session, filters)
    if filters.as_of is None:
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
        status_join = (st, st.c.branch_id == b.c.id)
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
            "as_of": None,  # the requested as_of, filled in when rendering
        }
        status_join = (r, r.c.branch_id == b.c.id)
    query: Select[Any] = (
        select(
            b,
            parent.c.name.label("parent_name"),
            *locality_columns(loc, "loc"),
            *locality_columns(tp, "tp"),
            *locality_columns(tc, "tc"),
            *(
                col.label(f"risk_{name}")
                for name, col in risk.items()
                if col is not None and name != "branch_id"
            ),
            lc.c.value.label("lc_value"),
            lc.c.value_max.label("lc_value_max"),
            lc.c.qualifier.label("lc_qualifier"),
            lc.c.status.label("lc_status"),
            lc.c.as_of.label("lc_as_of"),
            lc.c.evidence_date.label("lc_evidence_date"),
            lc.c.applies_to_each.label("lc_applies_to_each"),
            lc.c.date_note.label("lc_date_note"),
            lc.c.quote.label("lc_quote"),
            lc.c.figure.label("lc_figure"),
        )
        .select_from(b)
        .join(status_join[0], status_join[1])
        .outerjoin(parent, parent.c.id == b.c.parent_id)
        .outerjoin(loc, loc.c.id == b.c.locality_id)
        .outerjoin(tp, tp.c.id == loc.c.current_province_id)
        .outerjoin(tc, tc.c.id == loc.c.current_commune_id)
        .outerjoin(lc, lc.c.id == risk["count_id"])
    )
    query = with_source(query, lc.c.source_id, "lcsrc")
    query = with_source(query, b.c.source_id, "src")
    conditions = [scope(b), *_status_conditions(filters, risk)]
    # Counting needs only the rows, not the joins that decorate them.
    count_query = select(b.c.id).select_from(b).join(*status_join).where(*conditions)
    return query.where(*conditions), count_query, b, risk


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


def render_branch(row: RowMapping, rules: RiskRules, as_of: date) -> dict[str, Any]:
    latest = None
    if row["lc_value"] is not None:
        latest = {
            "id": row["risk_count_id"],
            "value": row["lc_value"],
            "value_max": row["lc_value_max"],
            "qualifier": row["lc_qualifier"],
            "status": row["lc_status"],
            "as_of": row["lc_as_of"],
            "evidence_date": row["lc_evidence_date"],
            "evidence_date_basis": evidence_basis(row["lc_as_of"], _prefixed(row, "lcsrc")),
            "applies_to_each": row["lc_applies_to_each"],
            "date_note": row["lc_date_note"],
            "source": source_ref(row, "lcsrc"),
            "quote": row["lc_quote"],
            "figure": row["lc_figure"],
        }
    level = row["risk_level"]
    return {
        "id": row["id"],
        "key": row["key"],
        "kind": row["kind"],
        "name": row["name"],
        "group_size": row["group_size"],
        "description": row["description"],
        "parent": {"id": row["parent_id"], "name": row["parent_name"]}
        if row["parent_id"]
        else None,
        "locality": locality_ref(row, "loc"),
        "today": {"province": locality_ref(row, "tp"), "commune": locality_ref(row, "tc")},
        "members": {"low": row["risk_members_low"], "high": row["risk_members_high"]},
        "latest_count": latest,
        "risk": {
            "level": level,
            "at_risk": LEVEL_RANK[level] >= LEVEL_RANK["watch"],
            "criteria_met": [c for c in (row["risk_criteria_met"] or "").split(",") if c],
            "as_of": row.get("risk_as_of") or as_of,
            "rules_version": rules.version,
        },
        "source": source_ref(row, "src"),
        "quote": row["quote"],
        "note": row["note"],
        "synthetic": row["is_synthetic"],
    }


def _prefixed(row: RowMapping, prefix: str) -> Any:
    """The source columns of one join, under the 'src_' names evidence_basis() reads."""
    return {"src_published_on": row[f"{prefix}_published_on"]}


def list_branches(
    session: Session,
    filters: BranchFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    rules: RiskRules,
) -> Page:
    query, count_query, b, risk = _query(session, filters, rules)
    keys = _sort_keys(page.sort, b, risk, filters.q)
    as_of = filters.as_of or date.today()
    return fetch_page(
        session,
        query,
        keys,
        page,
        secret,
        lambda _s, rows: [render_branch(r, rules, as_of) for r in rows],
        with_total=with_total,
        count_query=count_query,
    )


def branch_detail(
    session: Session, branch_id: int, rules: RiskRules, as_of: date | None
) -> dict[str, Any]:
    query, _, b, _ = _query(session, BranchFilters(as_of=as_of), rules)
    row = session.execute(query.where(b.c.id == branch_id)).mappings().first()
    if row is None:
        raise not_found("Branch", branch_id)
    item = render_branch(row, rules, as_of or date.today())
    item["counts"] = figures_of(session, MembershipCount, "branch_id", branch_id)
    latest = item["latest_count"]
    if latest is not None:
        # Other sources' counts for the same day: served beside the value shown first.
        latest["alternatives"] = [
            c
            for c in item["counts"]
            if c["id"] != latest["id"]
            and c["evidence_date"] == latest["evidence_date"]
            and c["status"] == latest["status"]
        ]
    item["events"] = figures_of(session, MembershipEvent, "branch_id", branch_id)
    item["facts"] = figures_of(session, Fact, "branch_id", branch_id)
    item["officeholders"] = figures_of(session, Officeholder, "branch_id", branch_id)
    child = alias(Branch, "child")
    item["children"] = [
        {"id": r.id, "key": r.key, "kind": r.kind, "name": r.name, "group_size": r.group_size}
        for r in session.execute(
            select(child.c.id, child.c.key, child.c.kind, child.c.name, child.c.group_size)
            .where(child.c.parent_id == branch_id)
            .order_by(child.c.id)
            .limit(1000)
        )
    ]
    item["sources"] = distinct_sources(session, branch_id)
    return item
