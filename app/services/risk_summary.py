"""Organizations by risk level, per province: today's (stored) or as of a day."""

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Select, func, literal, select

from app.models import Branch, BranchStatus, Locality
from app.models.vocab import LEVEL_RANK, LEVELS
from app.reader import Reader
from app.services.branches import day_rows_as_of
from app.services.gathered import KeptRankings
from app.services.refs import LOCALITY_FIELDS, alias, locality_columns, locality_ref, table
from app.services.risk_rules import RiskRules
from app.services.sqlfuncs import bound_ids, in_bound_ids

# The branch's province as reported, and that place's province today.
GROUPINGS = ("reported_provinces", "today_provinces")


def risk_summary(
    reader: Reader, rules: RiskRules, as_of: date | None, kept: KeptRankings | None = None
) -> dict[str, Any]:
    """Organizations by risk level, per province as reported and per province today.

    As of a day, from every branch's level that day: the day rows the national lists of
    that day are sorted from (app.services.gathered), read a range of branch ids a
    statement, or kept in `kept` (in one statement at scale 1.0 the summary ran past the
    5 s a statement may take, a 503, on both databases).
    """
    out: dict[str, Any] = {"as_of": as_of or date.today(), "rules_version": rules.version}
    if as_of is None:
        for name in GROUPINGS:
            out[name] = _by_province(reader.mappings(_levels_today, name))
        return out
    summed: dict[tuple[str, int, int], list[int]] = {}
    for _, rank, _, _, reported, today, organizations in day_rows_as_of(reader, as_of, rules, kept):
        for grouping, province in zip(GROUPINGS, (reported, today), strict=True):
            counts = summed.setdefault((grouping, province, rank), [0, 0])
            counts[0] += 1
            counts[1] += organizations
    provinces = _provinces(reader, {province for _, province, _ in summed if province >= 0})
    rows = [
        {
            "grouping": grouping,
            **provinces.get(province, _NO_PROVINCE),
            "level": LEVELS[rank],
            "rows": counted,
            "organizations": organizations,
        }
        for (grouping, province, rank), (counted, organizations) in summed.items()
    ]
    for name in GROUPINGS:
        out[name] = _by_province(r for r in rows if r["grouping"] == name)
    return out


_NO_PROVINCE = {f"prov_{field}": None for field in LOCALITY_FIELDS}


def _provinces(reader: Reader, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The provinces' columns (locality_columns, prefix "prov") by id."""
    if not ids:
        return {}
    rows = reader.mappings(
        _provinces_by_id,
        reader.dialect.name,
        params={"ids": bound_ids(sorted(ids), reader.dialect.name)},
    )
    return {row["prov_id"]: dict(row) for row in rows}


def _provinces_by_id(dialect: str) -> Select[Any]:
    province = alias(Locality, "prov")
    return select(*locality_columns(province, "prov")).where(
        in_bound_ids(province.c.id, "ids", dialect)
    )


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
