"""Organizations by risk level, per province: today's (stored) or as of a day."""

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, literal, select, union_all

from app.models import Branch, BranchStatus, Locality
from app.models.vocab import LEVEL_RANK, LEVELS
from app.reader import Reader
from app.services import gathered
from app.services.refs import alias, locality_columns, locality_ref, table
from app.services.risk import RiskDay, risk_select
from app.services.risk_rules import RiskRules

# The branch's province as reported, and that place's province today.
GROUPINGS = ("reported_provinces", "today_provinces")


def risk_summary(reader: Reader, rules: RiskRules, as_of: date | None) -> dict[str, Any]:
    """Organizations by risk level, per province as reported and per province today.

    As of a day every branch's risk is evaluated, a range of branch ids a statement
    (gathered.GATHER_IDS), and the ranges' counts summed: in one statement at scale 1.0
    it ran past the 5 s a statement may take (a 503) on both databases.
    """
    out: dict[str, Any] = {"as_of": as_of or date.today(), "rules_version": rules.version}
    if as_of is None:
        for name in GROUPINGS:
            out[name] = _by_province(reader.mappings(_levels_today, name))
        return out
    params = RiskDay.params(as_of, rules)
    low, high = reader.rows(_id_span)[0]
    summed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for start in range(low, high + 1, gathered.GATHER_IDS) if low is not None else ():
        bounds = {"_from_id": start, "_to_id": start + gathered.GATHER_IDS}
        for row in reader.mappings(_levels_in_range, rules, params={**params, **bounds}):
            key = (row["grouping"], row["prov_id"], row["level"])
            entry = summed.setdefault(key, {**row, "rows": 0, "organizations": 0})
            entry["rows"] += row["rows"]
            entry["organizations"] += row["organizations"]
    for name in GROUPINGS:
        out[name] = _by_province(r for r in summed.values() if r["grouping"] == name)
    return out


def _by_province(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each province's levels from its rows (one a level), provinces by id, the rows of
    no province last."""
    grouped: dict[Any, dict[str, Any]] = {}
    for r in rows:
        entry = grouped.setdefault(
            r["prov_id"],
            {
                "province": locality_ref(r, "prov"),
                "levels": {level: 0 for level in reversed(LEVELS)},
                "organizations_by_level": {level: 0 for level in reversed(LEVELS)},
                "at_risk": 0,
            },
        )
        entry["levels"][r["level"]] = r["rows"]
        entry["organizations_by_level"][r["level"]] = r["organizations"]
        if LEVEL_RANK[r["level"]] >= LEVEL_RANK["watch"]:
            entry["at_risk"] += r["organizations"]
    return [grouped[p] for p in sorted(grouped, key=lambda p: (p is None, p or 0))]


def _levels_today(grouping: str) -> Select[Any]:
    st = table(BranchStatus)
    levels = select(st.c.branch_id, st.c.risk_level.label("level")).subquery()
    return _levels_by_province(levels, grouping)


def _levels_in_range(rules: RiskRules) -> Select[Any]:
    """Both groupings (`grouping`) of the branches of one range of ids (`_from_id` <= id
    < `_to_id`), their risk as of the bound day evaluated once."""

    def in_range(b: Any) -> ColumnElement[bool]:
        return (b.c.id >= bindparam("_from_id")) & (b.c.id < bindparam("_to_id"))

    evaluated = risk_select(rules, RiskDay.bound(), in_range, id_range=True)
    risk = evaluated.cte("levels").prefix_with("MATERIALIZED")
    levels = select(risk.c.branch_id, risk.c.level).subquery()
    parts = [_levels_by_province(levels, name).order_by(None) for name in GROUPINGS]
    return select(union_all(*parts).subquery("grouped"))


def _levels_by_province(levels: Any, grouping: str) -> Select[Any]:
    """Rows and organizations per risk level (of `levels`: branch_id, level) and
    province (`reported_provinces`: the province the branch was reported under;
    `today_provinces`: that place's today)."""
    b = table(Branch)
    loc = table(Locality)
    column = b.c.province_id if grouping == "reported_provinces" else loc.c.current_province_id
    province = alias(Locality, "prov")
    province_columns = locality_columns(province, "prov")
    return (
        select(
            literal(grouping).label("grouping"),
            *province_columns,
            levels.c.level,
            func.count().label("rows"),
            func.sum(func.coalesce(b.c.group_size, 1)).label("organizations"),
        )
        .select_from(b)
        .join(levels, levels.c.branch_id == b.c.id)
        .outerjoin(loc, loc.c.id == b.c.locality_id)
        .outerjoin(province, province.c.id == column)
        .group_by(*province_columns, levels.c.level)
        .order_by(province.c.id)
    )


def _id_span() -> Select[Any]:
    b = table(Branch)
    return select(func.min(b.c.id), func.max(b.c.id))
