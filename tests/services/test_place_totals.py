"""place_yearly_totals: the communes' totals summed per province and district.

The seed's places have a few records a year; here a place has many communes with more
records than a sample holds, so that the sums' samples must be picked across communes.
"""

import random
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlmodel import Session

from app.models.localities import CommuneYearlyTotal, PlaceYearlyTotal
from app.services.place_totals import rebuild_places
from app.services.refs import table
from app.services.yearly_rows import SAMPLE_SIZE

# Ids no locality has: the totals are keyed by ids alone, without foreign keys.
PROVINCE, DISTRICT, OTHER_PROVINCE = 990_001, 990_002, 990_003
COMMITTEE = 990_004  # an organization above the communes, kept apart in the sums


def _commune_row(place: tuple[int, int | None, int], ids: list[int], **extra: Any) -> Any:
    province, district, commune = place
    highs = extra.pop("highs", len(ids))
    return {
        "province_id": province,
        "district_id": district,
        "commune_id": commune,
        "measure": "admissions",
        "year": 2024,
        "above1": None,
        "records": len(ids),
        "low": 2 * len(ids),
        "high": 3 * highs if highs else None,
        "bounded": highs,
        "min_id": min(ids),
        "sample": ",".join(map(str, sorted(ids)[:SAMPLE_SIZE])),
        **extra,
    }


def _sums(session: Session, place: int) -> dict[Any, Any]:
    p = table(PlaceYearlyTotal)
    rows = session.execute(select(p).where(p.c.place_id == place)).mappings()
    return {row["above1"]: row for row in rows}


def test_a_places_sums_keep_the_lowest_ids_of_all_its_communes(shared_engine: Engine) -> None:
    rng = random.Random(7)
    ids = rng.sample(range(1_000_000, 2_000_000), 60 * 40)
    rows, covered_ids = [], []
    for n in range(60):
        own = ids[40 * n : 40 * (n + 1)]
        # Half the communes sit in the district; some have an upper bound for only some
        # of their records, or for none; the last ten are under the committee above.
        district = DISTRICT if n % 2 else None
        highs = 0 if n % 7 == 0 else 10 if n % 3 == 0 else len(own)
        above = {"above1": COMMITTEE} if n >= 50 else {}
        rows.append(_commune_row((PROVINCE, district, 990_100 + n), own, highs=highs, **above))
        if n >= 50:
            covered_ids += own
    other = _commune_row((OTHER_PROVINCE, None, 990_200), [1, 2, 3])
    with Session(shared_engine) as session:
        session.execute(insert(table(CommuneYearlyTotal)), [*rows, other])
        rebuild_places(session, [PROVINCE, DISTRICT])
        free_ids = [i for i in ids if i not in set(covered_ids)]
        province = _sums(session, PROVINCE)
        assert set(province) == {None, COMMITTEE}
        for above, expected in ((None, free_ids), (COMMITTEE, covered_ids)):
            found = province[above]
            sample = [int(i) for i in found["sample"].split(",")]
            assert sorted(sample) == sorted(expected)[:SAMPLE_SIZE]
            assert found["min_id"] == min(expected)
            assert found["records"] == len(expected) and found["low"] == 2 * len(expected)
        summed = [r for r in rows if r["above1"] is None]
        assert province[None]["bounded"] == sum(r["bounded"] for r in summed)
        assert province[None]["high"] == sum(r["high"] or 0 for r in summed)
        district = _sums(session, DISTRICT)
        in_district = [i for n in range(1, 50, 2) for i in ids[40 * n : 40 * (n + 1)]]
        assert district[None]["records"] == len(in_district)
        assert (
            sorted(int(i) for i in district[None]["sample"].split(","))
            == sorted(in_district)[:SAMPLE_SIZE]
        )
        # Only the places asked for: the other province has no sums yet.
        assert _sums(session, OTHER_PROVINCE) == {}
        rebuild_places(session, None)
        assert _sums(session, OTHER_PROVINCE)[None]["sample"] == "1,2,3"
        session.rollback()
