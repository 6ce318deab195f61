"""Organizations by risk level, per province: today's (stored) or as of a day."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from app.models import Branch, BranchStatus, Locality
from app.models.vocab import LEVEL_RANK, LEVELS, RANK_LEVEL
from app.reader import Reader
from app.services.branches import day_rows_as_of
from app.services.gathered import KeptRankings
from app.services.refs import LOCALITY_FIELDS, alias, locality_columns, locality_ref, table
from app.services.risk_rules import RiskRules
from app.services.sqlfuncs import bound_ids, in_bound_ids
from app.services.status import stored_status_day

# The branch's province as reported, and that place's province today.
GROUPINGS = ("reported_provinces", "today_provinces")


def risk_summary(
    reader: Reader, rules: RiskRules, as_of: date | None, kept: KeptRankings | None = None
) -> dict[str, Any]:
    """Organizations by risk level, per province as reported and per province today.

    Today's from the stored statuses, in one statement. As of a day, from every branch's
    level that day: the day rows the national lists of that day are sorted from
    (app.services.gathered), read a range of branch ids a statement, or kept in `kept`
    (in one statement at scale 1.0 the summary ran past the 5 s a statement may take, a
    503, on both databases).
    """
    # Without a day, the stored statuses' day: today's but between midnight and the day's
    # refresh, when the counts are still the day before's (they were labelled today).
    day = as_of or stored_status_day(reader)
    out: dict[str, Any] = {"as_of": day, "rules_version": rules.version}
    counted: Iterable[Sequence[int]]
    if as_of is None:
        counted = reader.rows(_counted_today)
    else:
        counted = (
            (reported, today, rank, 1, organizations)
            for _, rank, _, _, reported, today, organizations in day_rows_as_of(
                reader, as_of, rules, kept
            )
        )
    summed: dict[tuple[str, int, int], list[int]] = {}
    for reported, today, rank, rows, organizations in counted:
        for grouping, province in zip(GROUPINGS, (reported, today), strict=True):
            counts = summed.setdefault((grouping, province, rank), [0, 0])
            counts[0] += rows
            counts[1] += organizations
    provinces = _provinces(reader, {province for _, province, _ in summed if province >= 0})
    by_level = [
        {
            "grouping": grouping,
            **provinces.get(province, _NO_PROVINCE),
            "level": RANK_LEVEL[rank],
            "rows": rows,
            "organizations": organizations,
        }
        for (grouping, province, rank), (rows, organizations) in summed.items()
    ]
    for name in GROUPINGS:
        out[name] = _by_province(r for r in by_level if r["grouping"] == name)
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


def _counted_today() -> Select[Any]:
    """Branches and organizations today per province as reported, province today (-1
    for none, as in the day rows) and risk rank.

    One statement grouped on ids, the provinces' columns read after for the few found:
    grouped on those columns, once per grouping, it took 0.96-1.35 s at scale 1.0 on
    either database, where this takes 0.25-0.45 s. The rank is read from its index
    with the branch's id, not from the statuses' rows, which hold each list item.
    """
    st, b, place = table(BranchStatus), table(Branch), table(Locality)
    reported = func.coalesce(b.c.province_id, -1)
    today = func.coalesce(place.c.current_province_id, -1)
    return (
        select(
            reported,
            today,
            st.c.risk_rank,
            func.count(),
            func.sum(func.coalesce(b.c.group_size, 1)),
        )
        .select_from(st)
        .join(b, b.c.id == st.c.branch_id)
        .outerjoin(place, place.c.id == b.c.locality_id)
        .group_by(reported, today, st.c.risk_rank)
    )
