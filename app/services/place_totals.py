"""place_yearly_totals: the communes' totals summed per province and per district.

A province's stats read its communes' totals: some 6,500 rows at national scale, 18 ms of
SQLite's time per request (issue 7). Summed per province (and district), measure, year
and ancestors outside the commune, they are some 50 rows. The ancestors stay apart, as in
the communes' totals: whether one covers a row depends on the place asked for.

A sum's sample is the SAMPLE_SIZE lowest ids of its communes' samples. Only the
SAMPLE_SIZE communes' rows with the lowest `min_id` can hold them: any other row has that
many rows with a lower id before its own lowest.
"""

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, select
from sqlmodel import Session

from app.models.localities import CommuneYearlyTotal, PlaceYearlyTotal
from app.services.commune_totals import ABOVE
from app.services.refs import table
from app.services.yearly_rows import SAMPLE_SIZE

LEVELS = ("province", "district")
_COPIED = ["measure", "year", *ABOVE, "records", "low", "high", "bounded", "approximate", "min_id"]


def _sums(level: str, places: list[int] | None) -> Select[Any]:
    """Per place of a level, measure, year and ancestors outside: the communes' sums, and
    the samples of the SAMPLE_SIZE first communes (by lowest id), comma-joined."""
    t = table(CommuneYearlyTotal)
    place = t.c[f"{level}_id"]
    key = [place, t.c.measure, t.c.year, *(t.c[n] for n in ABOVE)]
    position = func.row_number().over(partition_by=key, order_by=t.c.min_id).label("position")
    chosen: ColumnElement[bool] = place.in_(places) if places is not None else place.is_not(None)
    summed = [
        t.c[n] for n in ("records", "low", "high", "bounded", "approximate", "min_id", "sample")
    ]
    numbered = select(*key, *summed, position).where(chosen).subquery("numbered")
    nkey = [numbered.c[c.name] for c in key]
    return select(
        *nkey,
        func.sum(numbered.c.records).label("records"),
        func.sum(numbered.c.low).label("low"),
        func.sum(numbered.c.high).label("high"),
        func.sum(numbered.c.bounded).label("bounded"),
        func.sum(numbered.c.approximate).label("approximate"),
        func.min(numbered.c.min_id).label("min_id"),
        func.aggregate_strings(
            case((numbered.c.position <= SAMPLE_SIZE, numbered.c.sample)), ","
        ).label("sample"),
    ).group_by(*nkey)


def _lowest(samples: str | None) -> list[int]:
    """The SAMPLE_SIZE lowest of some comma-joined ids (empty ones skipped)."""
    return sorted(int(i) for i in (samples or "").split(",") if i)[:SAMPLE_SIZE]


def places_of(session: Session, communes: Iterable[int]) -> set[int]:
    """The provinces and districts that some communes' totals rows are in."""
    t = table(CommuneYearlyTotal)
    rows = session.execute(
        select(t.c.province_id, t.c.district_id)
        .where(t.c.commune_id.in_(sorted(communes)))
        .distinct()
    )
    return {i for row in rows for i in row if i is not None}


def place_sums(session: Session, places: list[int] | None) -> list[dict[str, Any]]:
    """The rows of place_yearly_totals for some provinces and districts (None: all), as
    their communes' stored totals give them."""
    return [
        {
            "place_id": row[0],
            **{name: getattr(row, name) for name in _COPIED},
            "sample": ",".join(map(str, _lowest(row.sample))),
        }
        for level in LEVELS
        for row in session.execute(_sums(level, places))
    ]


def stale_places(session: Session) -> list[int]:
    """The provinces and districts whose stored sums are not their communes' stored
    totals summed (should be none)."""
    t = table(PlaceYearlyTotal)
    columns = ["place_id", *_COPIED, "sample"]
    stored = Counter(tuple(row) for row in session.execute(select(*(t.c[n] for n in columns))))
    summed = Counter(tuple(row[n] for n in columns) for row in place_sums(session, None))
    return sorted({row[0] for row in (stored - summed) + (summed - stored)})


def rebuild_places(session: Session, places: Iterable[int] | None) -> None:
    """Replace the sums of some provinces and districts (None: of all), from the
    communes' totals (which must be current)."""
    target = table(PlaceYearlyTotal)
    chosen = sorted(places) if places is not None else None
    if chosen == []:
        return
    session.execute(
        delete(target).where(target.c.place_id.in_(chosen)) if chosen else delete(target)
    )
    rows = place_sums(session, chosen)
    if rows:
        session.execute(insert(target), rows)
