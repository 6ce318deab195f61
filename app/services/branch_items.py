"""One branch as lists and details show it: its shape, rendered by the database, and
the copy of it that branch_status keeps.

Rendering a page's items was most of a list request: at national scale 0.6-0.9 ms of
SQLite's json_object over a page's joins, and on PostgreSQL some 8 ms of planning
json_build_object's sixty arguments plus 4 ms of running them. So each branch's item as
of today is rendered on write, beside the status it shows (branch_status.item), and lists
read it as it is. Lists as of another day, and CSV lines, still render per request, from
the same shape.

Whatever an item shows comes from the branch, its parent's name, its place and today's
units of that place, its status and latest count, and two sources. A write that changes
any of them re-renders the items that show it (`branches_showing`); the test suite checks
after every write test that no stored item differs from a fresh rendering (`stale_items`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Select, literal_column, or_, select, update
from sqlalchemy.types import NullType
from sqlmodel import Session

from app.models import Branch, BranchStatus, Locality, MembershipCount, Source
from app.models.vocab import LEVEL_RANK
from app.reader import session_dialect, shared
from app.services.csv_sql import CsvSql
from app.services.evidence_dates import evidence_basis_sql
from app.services.json_sql import Flag, JsonSql, Names, Obj
from app.services.refs import LOCALITY_FIELDS, SOURCE_FIELDS, alias, locality_alias, table
from app.services.risk_rules import RiskRules

# Ids per UPDATE: well under SQLite's limit on a statement's parameters.
REFRESH_CHUNK = 5000


def rendered_columns(
    dialect_name: str, shape: Obj, paths: tuple[str, ...] | None
) -> list[ColumnElement[Any]]:
    """The item's JSON text; or with `paths`, its CSV line of those dotted paths, as the
    UTF-8 bytes that are sent (app.services.csv_sql: csv.writer's line, CRLF included)."""
    json = JsonSql(dialect_name)
    if paths is None:
        return [json.text(json.render(shape)).label("item")]
    return [json.utf8(CsvSql(dialect_name).line(shape, paths)).label("line")]


@shared()
def status_columns() -> tuple[dict[str, Any], tuple[Any, Any]]:
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
        "item": st.c.item,
    }
    return risk, (st, st.c.branch_id == item_tables().b.c.id)


@shared(maxsize=32)
def decorated_from_status(
    dialect: Dialect, rules: RiskRules, cells: tuple[str, ...] | None
) -> Select[Any]:
    """Built once per database, rules and CSV columns (`cells`: the paths of a line).

    The expression that renders a row is large: building it per request cost more than
    running the query, and so did SQLAlchemy's cache key, which walks the whole statement
    on every execution. Compiled once to SQL text (its only values are the rules version
    and SQL constants, inlined), each column is one opaque element to both.
    """
    risk, status_join = status_columns()
    shape = item_shape(item_tables(), risk, risk["as_of"], rules)
    # A line's bytes go out as the driver gives them: no result processing.
    columns: list[ColumnElement[Any]] = [
        literal_column(_sql(column.element, dialect), None if cells is None else NullType()).label(
            column.name
        )
        for column in rendered_columns(dialect.name, shape, cells)
    ]
    return decorated(columns, risk, status_join)


def _sql(expression: ColumnElement[Any], dialect: Dialect) -> str:
    return str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def decorated(
    columns: list[ColumnElement[Any]], risk: dict[str, Any], status_join: tuple[Any, Any]
) -> Select[Any]:
    """Branches joined with their risk and everything their item shows, unfiltered."""
    t = item_tables()
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
class ItemTables:
    """The tables a branch is joined with to render it."""

    b: Any
    parent: Any
    loc: Any  # its place
    tp: Any  # today's province and commune of that place
    tc: Any
    lc: Any  # its latest count, and that count's source
    lcsrc: Any
    src: Any  # the source that names the branch


@shared()
def item_tables() -> ItemTables:
    return ItemTables(
        alias(Branch, "b"),
        alias(Branch, "parent"),
        locality_alias("loc"),
        locality_alias("tp"),
        locality_alias("tc"),
        alias(MembershipCount, "lc"),
        alias(Source, "lcsrc"),
        alias(Source, "src"),
    )


def item_shape(
    t: ItemTables, risk: dict[str, Any], as_of: ColumnElement[Any], rules: RiskRules
) -> Obj:
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
        "evidence_date_basis": evidence_basis_sql(
            lc.c.as_of, lc.c.date_derived, t.lcsrc.c.published_on
        ),
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
            "founded_on": b.c.founded_on,
            "dissolved_on": b.c.dissolved_on,
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


def stored_item() -> Select[Any]:
    """The branches joined with their status, selecting the stored item (unfiltered)."""
    risk, status_join = status_columns()
    return select(risk["item"].label("item")).select_from(item_tables().b).join(*status_join)


def with_items(status_rows: Select[Any], dialect: Dialect, rules: RiskRules) -> Select[Any]:
    """Status rows about to be stored (branch_status's columns but the province and the
    item), each with its branch's province and its item rendered from them.

    A refresh writes each status row whole, rather than inserting it and then rewriting
    it to add its item: at scale 1.0 the second pass cost SQLite 11 s and PostgreSQL 37 s
    (and PostgreSQL a table of dead rows). The rendering is the stored items' own: its
    SQL names the status row `st`, as the rows are named here.
    """
    _, (st, _) = status_columns()
    # Materialized: else SQLite substitutes a status column's whole expression (the risk
    # level's cases) wherever the item reads it.
    rows = status_rows.cte(st.name).prefix_with("MATERIALIZED")
    item = decorated_from_status(dialect, rules, None).selected_columns.item
    return decorated(
        [*rows.c, item_tables().b.c.province_id, item],
        {"count_id": rows.c.latest_count_id},
        (rows, rows.c.branch_id == item_tables().b.c.id),
    )


def refresh_items(
    session: Session, rules: RiskRules, branch_ids: Iterable[int] | None = None
) -> None:
    """Render the stored items of those branches (None: of all) from their status rows."""
    if branch_ids is None:
        _render_into_status(session, rules, None)
        return
    ids = sorted(set(branch_ids))
    for start in range(0, len(ids), REFRESH_CHUNK):
        _render_into_status(session, rules, ids[start : start + REFRESH_CHUNK])


def _render_into_status(session: Session, rules: RiskRules, ids: list[int] | None) -> None:
    b = item_tables().b
    fresh = decorated_from_status(session_dialect(session), rules, None).add_columns(
        b.c.id.label("branch_id")
    )
    if ids is not None:
        fresh = fresh.where(b.c.id.in_(ids))
    rendered = fresh.subquery("rendered")
    target = table(BranchStatus)
    session.execute(
        update(target)
        .where(target.c.branch_id == rendered.c.branch_id)
        .values(item=rendered.c.item)
    )


def stale_items(session: Session, rules: RiskRules) -> list[int]:
    """The branches whose stored item is not what rendering it now gives (should be none)."""
    risk, _ = status_columns()
    b = item_tables().b
    both = (
        decorated_from_status(session_dialect(session), rules, None)
        .add_columns(b.c.id.label("branch_id"), risk["item"].label("stored"))
        .subquery("both")
    )
    query = (
        select(both.c.branch_id)
        .where(both.c.stored.is_distinct_from(both.c.item))
        .order_by(both.c.branch_id)
    )
    return list(session.execute(query).scalars())


def branches_showing(
    session: Session,
    *,
    branches: Sequence[int] = (),
    localities: Sequence[int] = (),
    sources: Sequence[int] = (),
) -> set[int]:
    """The branches whose items show any of these rows.

    A branch shows itself and its parent's name; its place, and today's province and
    commune of that place; its source, and its latest count's source. A changed place
    also changes what the places below it are today (their units follow it).
    """
    b = table(Branch)
    conditions: list[ColumnElement[bool]] = []
    if branches:
        conditions += [b.c.id.in_(branches), b.c.parent_id.in_(branches)]
    if localities:
        loc = table(Locality)
        conditions += [
            b.c[place].in_(localities)
            for place in ("locality_id", "province_id", "district_id", "commune_id")
        ]
        conditions.append(
            b.c.locality_id.in_(
                select(loc.c.id).where(
                    or_(
                        loc.c.current_province_id.in_(localities),
                        loc.c.current_commune_id.in_(localities),
                    )
                )
            )
        )
    if sources:
        st, count = table(BranchStatus), table(MembershipCount)
        conditions.append(b.c.source_id.in_(sources))
        conditions.append(
            b.c.id.in_(
                select(st.c.branch_id)
                .join(count, count.c.id == st.c.latest_count_id)
                .where(count.c.source_id.in_(sources))
            )
        )
    if not conditions:
        return set()
    return set(session.execute(select(b.c.id).where(or_(*conditions))).scalars())
