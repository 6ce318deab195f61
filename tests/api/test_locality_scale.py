"""Issue 7: locality search through the word index, stats through the communes' totals.

The totals are derived data: every test here checks them against the figures they come
from (the slow way, which stats still uses for villages), after loads and after writes.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlmodel import Session, col

from app.models import Branch, Locality
from app.reader import Reader
from app.services import localities as localities_service
from app.services.commune_totals import (
    TEMPORARIES,
    TOTAL_COLUMNS,
    rebuild_communes,
    replace_with_staged,
    stage_every_commune,
)
from app.services.json_sql import as_plain
from app.services.localities import LocalityFilters, list_localities
from app.services.pagination import PageRequest
from app.services.place_scopes import scope_of
from app.services.place_totals import places_of, rebuild_places
from app.services.stats import _spanning_event_ids, _sums_from_figures, _sums_from_totals
from tests.api.helpers import locality
from tests.api.test_writes import (
    _village_and_branch,
    count_body,
    editor,
    id_of,
    new_source,
    patch,
)
from tests.plans import captured_statements, query_plan

__all__ = ["editor"]  # a fixture, used by name

TIEN_PHONG = "org:vn2004:05251/xom-tien-phong"
TOTALS = ("commune_yearly_totals", "place_yearly_totals")
# Where the lists serve the figures of each measure of the stats.
MEASURES: dict[str, tuple[str, dict[str, str]]] = {
    "members": ("/membership-counts", {}),
    "admissions": ("/admissions", {"kind": "admission"}),
    "departures": ("/admissions", {"kind": "departure"}),
    "transfers_in": ("/admissions", {"kind": "transfer_in"}),
    "transfers_out": ("/admissions", {"kind": "transfer_out"}),
}


def _engine(client: TestClient) -> Any:
    return client.app.state.engine  # type: ignore[attr-defined]


def _sums(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Comparable sums: the sample ids as a sorted list of the first 25."""
    return [
        (
            r.measure,
            r.year,
            r.records,
            r.low,
            r.high if r.bounded == r.records else None,
            r.approximate,
            sorted(int(i) for i in r.sample.split(",") if i)[:25],
        )
        for r in rows
    ]


def _assert_totals_match_figures(session: Session, locality_ids: list[int]) -> int:
    """Stats from the totals (through the provinces' and districts' sums where they cover
    the place, and through the communes' alone) equal stats from the figures; returns how
    many had figures."""
    reader = Reader.on(session)
    with_figures = 0
    for ident in locality_ids:
        scope = scope_of(reader, ident)
        if "village" in scope:
            continue
        from_figures = _sums(_sums_from_figures(reader, scope))
        assert _sums(_sums_from_totals(reader, scope)) == from_figures, ident
        assert _sums(_sums_from_totals(reader, scope, places=False)) == from_figures, ident
        spanning = _spanning_event_ids(reader, scope, False)
        assert _spanning_event_ids(reader, scope, True) == spanning, ident
        assert _spanning_event_ids(reader, scope, True, places=False) == spanning, ident
        with_figures += bool(from_figures)
    return with_figures


def assert_every_total_matches(client: TestClient) -> None:
    """Every place's stats from the totals equal its stats from the figures (after a
    write: the totals it refreshed, and those it left)."""
    with Session(_engine(client)) as session:
        ids = list(session.execute(select(col(Locality.id))).scalars())
        _assert_totals_match_figures(session, [i for i in ids if i is not None])


def test_totals_after_the_seed_load_match_the_figures(api: TestClient) -> None:
    with Session(_engine(api)) as session:
        ids = list(session.execute(select(col(Locality.id)).order_by(col(Locality.id))).scalars())
        # Provinces, old districts, communes (with their predecessors): all of them.
        assert _assert_totals_match_figures(session, [i for i in ids if i is not None]) >= 5


def _rows(session: Session, name: str) -> list[tuple[Any, ...]]:
    """A totals table's rows without their ids, the samples as sorted id lists."""
    columns = [c for c in TOTAL_COLUMNS if c not in ("province_id", "district_id", "commune_id")]
    place = "place_id" if name == "place_yearly_totals" else "province_id, district_id, commune_id"
    found = session.execute(text(f"SELECT {place}, {', '.join(columns)} FROM {name}"))
    return sorted(
        (*row[:-1], sorted(int(i) for i in row[-1].split(",") if i)) for row in found.all()
    )


def test_bulk_and_per_commune_rebuilds_agree(api: TestClient) -> None:
    """The load's rebuild (every commune) and a write's (some communes, their ids a
    parameter of the same statements) give the same rows, one after the other in one
    transaction over the same temporary tables."""
    with Session(_engine(api)) as session:
        bulk = {name: _rows(session, name) for name in TOTALS}
        assert all(bulk.values())
        communes = sorted(
            session.execute(
                select(col(Branch.commune_id)).where(col(Branch.commune_id).is_not(None))
            )
            .scalars()
            .unique()
        )
        for commune in communes:
            rebuild_communes(session, [commune])
        rebuild_places(session, places_of(session, communes))
        assert {name: _rows(session, name) for name in TOTALS} == bulk
        session.rollback()


def test_a_rebuild_leaves_its_temporary_tables_empty(api: TestClient) -> None:
    """The connection keeps them for the next write: emptied at the end on SQLite, at
    commit on PostgreSQL; never holding a former write's rows."""
    with _engine(api).connect() as connection:
        with Session(bind=connection) as session:
            commune = session.execute(select(func.min(col(Branch.commune_id)))).scalar_one()
            rebuild_communes(session, [commune])
            session.commit()
        for temporary in TEMPORARIES:
            assert connection.execute(select(func.count()).select_from(temporary)).scalar() == 0
        connection.rollback()


def test_totals_are_staged_while_another_connection_writes(api: TestClient) -> None:
    """A bulk build computes every commune's totals while it writes the status rows, and
    SQLite lets one connection write at a time: the staging writes nothing to the
    database, and the staged rows, stored, are the rows a rebuild gives."""
    engine = _engine(api)
    with Session(engine) as session:
        rebuilt = {name: _rows(session, name) for name in TOTALS}
    with engine.connect() as writer, engine.connect() as connection:
        # Holds the database's write lock on SQLite (a row lock on PostgreSQL) until its
        # rollback: a staging that wrote to the database would wait, then fail.
        writer.execute(text("UPDATE branch_status SET members_sort = members_sort"))
        with Session(bind=connection) as session:
            stage_every_commune(session)
            session.commit()
            writer.rollback()
            replace_with_staged(session)
            rebuild_places(session, None)
            assert {name: _rows(session, name) for name in TOTALS} == rebuilt
            session.rollback()


def test_lục_yên_stats_read_the_totals(api: TestClient) -> None:
    """The figures of the district are in commune_yearly_totals, and summed for the whole
    district in place_yearly_totals, not summed per request: the district's row of 2023
    admissions is what the stats serve."""
    luc_yen = locality(api, "135", current=False)["id"]
    with Session(_engine(api)) as session:
        communes, district = (
            session.execute(
                text(
                    f"SELECT sum(records) FROM {name} WHERE {column} = :d "
                    "AND measure = 'admissions' AND year = 2023"
                ),
                {"d": luc_yen},
            ).scalar_one()
            for name, column in (
                ("commune_yearly_totals", "district_id"),
                ("place_yearly_totals", "place_id"),
            )
        )
    assert communes is not None and communes >= 1 and district == communes
    stats = api.get(f"/localities/{luc_yen}/stats").json()
    [year] = stats["years"]
    assert year["admissions"]["low"] == 216


def test_stats_records_read_as_the_lists_serve_them(api: TestClient) -> None:
    """The records are rendered by the database; each is the same document, field for
    field, as the list of its kind serves for that figure."""
    luc_yen = locality(api, "135", current=False)["id"]
    stats = api.get(f"/localities/{luc_yen}/stats").json()
    records = {
        (measure, r["id"]): r
        for year in stats["years"]
        for measure in MEASURES
        if year[measure]
        for r in year[measure]["records"]
    }
    assert {m for m, _ in records} >= {"members", "admissions"}
    for (measure, ident), record in records.items():
        path, params = MEASURES[measure]
        listed = api.get(path, params={**params, "branch": record["branch"]["id"], "limit": 500})
        [served] = [i for i in listed.json()["items"] if i["id"] == ident]
        assert record == served


def test_stats_show_as_many_records_as_asked(write_api: TestClient, editor: dict[str, str]) -> None:
    """Every sum keeps its records_total; `records` says how many of its figures (lowest
    ids first) are shown with their sources: 5 unless asked, at most 25."""
    source, _, branch = _village_and_branch(write_api, editor)
    mai_ha = id_of(write_api, Locality, "vn2004:05251")
    ids = []
    for branch_id in (branch["id"], id_of(write_api, Branch, TIEN_PHONG)):
        body = count_body(source["id"], branch_id, as_of="2024-01-01")
        count = write_api.post("/membership-counts", json=body, headers=editor)
        assert count.status_code == 201, count.text
        ids.append(count.json()["id"])

    def members_2024(**params: int) -> Any:
        stats = write_api.get(f"/localities/{mai_ha}/stats", params=params)
        assert stats.status_code == 200, stats.text
        [members] = [y["members"] for y in stats.json()["years"] if y["year"] == 2024]
        return members["records_total"], [r["id"] for r in members["records"]]

    assert members_2024() == (2, sorted(ids))
    assert members_2024(records=25) == (2, sorted(ids))
    assert members_2024(records=1) == (2, [min(ids)])
    assert members_2024(records=0) == (2, [])
    refused = write_api.get(f"/localities/{mai_ha}/stats", params={"records": 26})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["query.records"]


def test_a_count_and_a_move_update_the_totals(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, village, branch = _village_and_branch(write_api, editor)
    mai_ha = id_of(write_api, Locality, "vn2004:05251")

    def members_2024(locality: int) -> Any:
        years = write_api.get(f"/localities/{locality}/stats").json()["years"]
        found = [y["members"] for y in years if y["year"] == 2024]
        return found[0] if found else None

    assert members_2024(mai_ha) is None
    count = write_api.post(
        "/membership-counts",
        json=count_body(source["id"], branch["id"], as_of="2024-01-01"),
        headers=editor,
    )
    assert count.status_code == 201, count.text
    served = members_2024(mai_ha)
    assert served["low"] == 9 and [r["id"] for r in served["records"]] == [count.json()["id"]]

    # The village moves to another commune: its branch's count goes with it.
    target = write_api.get("/localities", params={"kind": "commune", "q": "Thào Chư Phìn"})
    other = target.json()["items"][0]["id"]
    moved = patch(write_api, f"/localities/{village['id']}", {"parent_id": other}, editor)
    assert moved.status_code == 200, moved.text
    assert members_2024(mai_ha) is None
    assert members_2024(other)["low"] == 9

    # Back under Mai Hạ, below the commune's party committee: still counted once.
    moved = patch(write_api, f"/localities/{village['id']}", {"parent_id": mai_ha}, editor)
    assert moved.status_code == 200, moved.text
    assert members_2024(mai_ha)["low"] == 9
    assert_every_total_matches(write_api)


APPROXIMATE_TEXT = (
    "Chi bộ xóm Thử Nghiệm hiện có khoảng 20 đảng viên. Năm 2023, chi bộ kết nạp "
    "khoảng 3 đảng viên mới. Theo danh sách, chi bộ có 20 đảng viên."
)


def test_sums_count_their_approximate_figures_at_every_level(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """ "khoảng 20" added to an exact 9 gives 29, said to be approximate: by the village's
    figures, the commune's totals and the district's and province's sums alike; and no
    longer once the figure is corrected to exact."""
    exact_source, village, branch = _village_and_branch(write_api, editor)
    source = new_source(write_api, editor, key="test-khoang", text=APPROXIMATE_TEXT)
    mai_ha = id_of(write_api, Locality, "vn2004:05251")
    tien_phong = id_of(write_api, Branch, TIEN_PHONG)
    about = {"qualifier": "approximate", "as_of": "2024-01-01"}
    counts = [
        write_api.post("/membership-counts", json=body, headers=editor)
        for body in (
            count_body(source["id"], branch["id"], value=20, quote="khoảng 20 đảng viên",
                       figure="20", **about),
            count_body(exact_source["id"], tien_phong, as_of="2024-01-01"),
        )
    ]  # fmt: skip
    assert [c.status_code for c in counts] == [201, 201], [c.text for c in counts]
    admission = write_api.post(
        "/admissions",
        json={
            "source_id": source["id"], "branch_id": branch["id"], "kind": "admission",
            "value": 3, "qualifier": "approximate", "period_start": "2023-01-01",
            "period_end": "2023-12-31", "quote": "kết nạp khoảng 3 đảng viên", "figure": "3",
        },
        headers=editor,
    )  # fmt: skip
    assert admission.status_code == 201, admission.text
    parents = write_api.get(f"/localities/{mai_ha}").json()["parents"]
    places = [mai_ha, *(p["id"] for p in parents)]
    assert len(places) == 3  # the commune, its district and its province

    def measure(locality: int, year: int, name: str) -> Any:
        stats = write_api.get(f"/localities/{locality}/stats")
        assert stats.status_code == 200, stats.text
        [found] = [y[name] for y in stats.json()["years"] if y["year"] == year]
        return found

    members = measure(village["id"], 2024, "members")
    assert (members["low"], members["high"], members["approximate_records"]) == (20, 20, 1)
    assert measure(village["id"], 2023, "admissions")["approximate_records"] == 1
    for place in places:
        members = measure(place, 2024, "members")
        assert members["approximate_records"] == 1, place
        assert members["records_total"] >= 2 and members["low"] >= 29, place
        admissions = measure(place, 2023, "admissions")
        assert admissions["approximate_records"] == 1, place
    summary = write_api.get(f"/localities/{village['id']}").json()["summary"]["members"]
    assert (summary["low"], summary["approximate_counts"]) == (20, 1)

    # Corrected to the list's exact 20 ("khoảng 20" with exact is refused).
    exact = {"qualifier": "exact", "quote": "Theo danh sách, chi bộ có 20 đảng viên"}
    corrected = patch(write_api, counts[0].headers["location"], exact, editor)
    assert corrected.status_code == 200, corrected.text
    for place in (village["id"], *places):
        assert measure(place, 2024, "members")["approximate_records"] == 0, place
        assert measure(place, 2023, "admissions")["approximate_records"] == 1, place
    summary = write_api.get(f"/localities/{village['id']}").json()["summary"]["members"]
    assert summary["approximate_counts"] == 0
    assert_every_total_matches(write_api)


def test_a_parent_count_covers_its_branches_after_a_write(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A count of the commune committee for a year leaves its branches' counts out."""
    source, _, branch = _village_and_branch(write_api, editor)
    mai_ha = id_of(write_api, Locality, "vn2004:05251")
    committee = id_of(write_api, Branch, "org:vn2004:05251")
    for branch_id in (branch["id"], committee):
        response = write_api.post(
            "/membership-counts",
            json=count_body(source["id"], branch_id, as_of="2024-03-01"),
            headers=editor,
        )
        assert response.status_code == 201, response.text
    years = write_api.get(f"/localities/{mai_ha}/stats").json()["years"]
    [members] = [y["members"] for y in years if y["year"] == 2024]
    assert members["records_total"] == 1 and members["records"][0]["branch"]["id"] == committee
    with Session(_engine(write_api)) as session:
        _assert_totals_match_figures(session, [mai_ha])


def test_a_commune_moving_to_another_district_leaves_the_old_districts_sums(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The sums of the district a commune left lose its figures; the new one's gain them."""
    text_ = "Đảng bộ xã Thử Nghiệm hiện có 9 đảng viên."
    source = new_source(write_api, editor, key="test-xa-thu-nghiem", text=text_)
    old_district = locality(write_api, "05251", current=False)["parent_id"]
    luc_yen = locality(write_api, "135", current=False)["id"]
    commune = write_api.post(
        "/localities",
        json={
            "key": "vn2004:xa-thu-nghiem",
            "kind": "commune",
            "name": "Thử Nghiệm",
            "official_name": "xã Thử Nghiệm",
            "parent_id": old_district,
            "source_id": source["id"],
            "quote": "xã Thử Nghiệm",
        },
        headers=editor,
    )
    assert commune.status_code == 201, commune.text
    committee = write_api.post(
        "/branches",
        json={
            "key": "org:vn2004:xa-thu-nghiem",
            "kind": "commune_committee",
            "name": "Đảng bộ xã Thử Nghiệm",
            "locality_id": commune.json()["id"],
            "source_id": source["id"],
            "quote": "Đảng bộ xã Thử Nghiệm",
        },
        headers=editor,
    )
    assert committee.status_code == 201, committee.text
    count = write_api.post(
        "/membership-counts",
        json=count_body(source["id"], committee.json()["id"], as_of="2024-03-01"),
        headers=editor,
    )
    assert count.status_code == 201, count.text

    def counted_2024(place: int) -> list[int]:
        years = write_api.get(f"/localities/{place}/stats").json()["years"]
        return [r["id"] for y in years if y["year"] == 2024 for r in y["members"]["records"]]

    assert count.json()["id"] in counted_2024(old_district)
    path = f"/localities/{commune.json()['id']}"
    moved = patch(write_api, path, {"parent_id": luc_yen}, editor)
    assert moved.status_code == 200, moved.text
    assert count.json()["id"] not in counted_2024(old_district)
    assert count.json()["id"] in counted_2024(luc_yen)
    assert_every_total_matches(write_api)


# -- Search ---------------------------------------------------------------------------------
def _names(client: TestClient, q: str, **params: Any) -> list[str]:
    response = client.get("/localities", params={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.text
    return [i["official_name"] for i in response.json()["items"]]


def test_search_matches_word_prefixes_in_any_order(api: TestClient) -> None:
    assert _names(api, "kheo leng") == ["thôn Khéo Lẹng"]
    assert _names(api, "LẸNG khé") == ["thôn Khéo Lẹng"]
    # Word prefixes, not any substring: "heo" starts no word of "Khéo Lẹng".
    assert "thôn Khéo Lẹng" not in _names(api, "heo leng")
    assert _names(api, "kheo lengx") == []


@pytest.mark.parametrize(
    "q", ["kheo leng", "xa thanh", "th th", "thanh son", "mai xa", "lam xa th"]
)
def test_a_search_finds_the_same_names_from_a_rare_word_or_common_ones(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    """Whether its first word counts as rare (candidates from it, each checked by index)
    or every word as common (the planner's join) changes the statement, not the names."""
    found = {}
    for rare_word in (0, 10**9):  # no word is rare; every word is
        monkeypatch.setattr(localities_service, "RARE_WORD", rare_word)
        found[rare_word] = _names(api, q)
    assert found[0] and found[0] == found[10**9]


def test_search_pages_keep_their_order(api: TestClient) -> None:
    everything = _names(api, "xa")
    assert len(everything) >= 3
    first = api.get("/localities", params={"q": "xa", "limit": 2}).json()
    second = api.get("/localities", params={"q": "xa", "limit": 2, "cursor": first["next_cursor"]})
    names = [i["official_name"] for i in first["items"] + second.json()["items"]]
    assert names == everything[:4]


def test_renaming_a_locality_renames_its_search_words(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    _, village, _ = _village_and_branch(write_api, editor)
    assert _names(write_api, "thu nghiem", kind="village") == ["xóm Thử Nghiệm"]
    path = f"/localities/{village['id']}"
    renamed = patch(write_api, path, {"official_name": "xóm Đồng Tâm"}, editor)
    assert renamed.status_code == 200, renamed.text
    assert _names(write_api, "thu nghiem", kind="village") == []
    assert _names(write_api, "dong tam", kind="village") == ["xóm Đồng Tâm"]


def test_search_reads_the_word_index(api: TestClient) -> None:
    """The words come from an index range, not a scan of every locality's search_key."""
    with Session(_engine(api)) as session, captured_statements(session) as captured:
        filters = LocalityFilters(q="khéo lẹng")
        page = PageRequest(limit=10, cursor=None, sort="relevance", filters_digest="x")
        listed = list_localities(Reader.on(session), filters, page, b"secret", with_total=False)
        assert [as_plain(i)["official_name"] for i in listed.items] == ["thôn Khéo Lẹng"]
        [search] = [s for s in captured if "locality_words" in s.sql and "_k0" in s.sql]
        if session.get_bind().dialect.name == "sqlite":
            plan = query_plan(session, search)
            assert "SEARCH locality_words USING" in plan and "SCAN loc" not in plan, plan
        else:
            # A few hundred rows: PostgreSQL would rightly scan them. Can it use the index?
            session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = query_plan(session, search)
            assert "locality_words" in plan and "Seq Scan" not in plan, plan
