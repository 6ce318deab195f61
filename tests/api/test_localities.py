"""/localities: the tree, the 2025 successors, summaries and yearly stats."""

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.schemas.common import Page
from app.schemas.localities import LocalityDetail, LocalityOut, LocalityStats
from app.services.collation import name_order
from tests.api.helpers import locality, walk
from tests.conftest import StatementCounter


def test_thao_chu_phin_became_sin_cheng(api: TestClient) -> None:
    old = locality(api, "02803", current=False)
    assert old["valid_to"] == "2025-06-30" and old["is_current"] is False
    [link] = old["successors"]
    assert link["locality"]["official_name"] == "Xã Sín Chéng"
    assert (link["kind"], link["legal_basis"], link["effective_on"]) == (
        "merged_into",
        "1673/NQ-UBTVQH15",
        "2025-07-01",
    )


def test_a_commune_others_merged_into_did_not_continue(api: TestClient) -> None:
    """From a reform audit: the new xã Hạnh Lâm (17722) took in Thanh Đức; the old Hạnh
    Lâm, of the same code and name, was said to have continued. A unit that others merged
    into is a new unit; one that no other joined, of the same code and name, continued."""
    kinds = {
        p["locality"]["official_name"]: p["kind"]
        for p in locality(api, "17722", current=True)["predecessors"]
    }
    assert kinds == {"Xã Hạnh Lâm": "merged_into", "Xã Thanh Đức": "merged_into"}
    [son_la] = locality(api, "14", current=True)["predecessors"]
    assert (son_la["locality"]["official_name"], son_la["kind"]) == ("Tỉnh Sơn La", "continued")


def test_todays_lao_cai_lists_both_old_provinces(api: TestClient) -> None:
    lao_cai = locality(api, "15", current=True)
    before = {p["locality"]["official_name"] for p in lao_cai["predecessors"]}
    assert before == {"Tỉnh Yên Bái", "Tỉnh Lào Cai"}


def test_search_and_kinds(api: TestClient) -> None:
    body = api.get("/localities", params={"q": "kheo leng"}).json()
    Page[LocalityOut].model_validate(body)
    assert [i["official_name"] for i in body["items"]] == ["thôn Khéo Lẹng"]
    villages = api.get("/localities", params={"kind": "village", "limit": 100}).json()["items"]
    assert all(v["code"] is None for v in villages) and len(villages) >= 5


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Whole words with their diacritics, whole words folded, parts of words with
        # their diacritics, the rest; then by name.
        ("Hà", ["Thanh Hà", "Mai Hạ", "Mai Hạ", "Bích Hào", "Hạnh Lâm", "Hạnh Lâm"]),
        ("ha", ["Mai Hạ", "Mai Hạ", "Thanh Hà", "Bích Hào", "Hạnh Lâm", "Hạnh Lâm"]),
        ("xã Hạ", ["Mai Hạ", "Mai Hạ", "Thanh Hà", "Hạnh Lâm", "Hạnh Lâm", "Bích Hào"]),
    ],
)
def test_whole_words_rank_before_parts_of_words(
    api: TestClient, q: str, expected: list[str]
) -> None:
    """ "Hà" ranked Bích Hào with Thanh Hà: both have "hà" with its diacritics somewhere."""
    found = api.get("/localities", params={"q": q, "sort": "relevance", "kind": "commune"})
    assert found.status_code == 200, found.text
    assert [item["name"] for item in found.json()["items"]] == expected


def test_detail_summary_does_not_double_count(api: TestClient) -> None:
    luc_yen = locality(api, "135", current=False)
    detail = api.get(f"/localities/{luc_yen['id']}").json()
    LocalityDetail.model_validate(detail)
    assert [p["official_name"] for p in detail["parents"]] == ["Tỉnh Yên Bái"]
    members = detail["summary"]["members"]
    # 6,799 for the district committee already includes Khéo Lẹng's 38.
    assert (members["low"], members["high"], members["organizations_counted"]) == (6799, 6799, 1)


def test_a_sum_of_counts_of_different_days_says_so(api: TestClient) -> None:
    """Today's Lào Cai: Lục Yên's 6,799 of 18/12/2023 and Thào Chư Phìn's 101, which no
    text dates (its article is undated: the day the dataset first held it bounds it)."""
    lao_cai = locality(api, "15", current=True)
    members = api.get(f"/localities/{lao_cai['id']}").json()["summary"]["members"]
    assert (members["low"], members["organizations_counted"]) == (6799 + 101, 2)
    assert members["earliest_evidence_date"] == "2023-12-18"
    assert members["latest_evidence_date"] == "2026-11-21"
    assert members["counts_without_a_day"] == 1
    assert "not the place's whole membership" in members["note"]


def test_group_members_count_for_each_of_the_six(api: TestClient) -> None:
    thanh_chuong = locality(api, "428", current=False)
    members = api.get(f"/localities/{thanh_chuong['id']}").json()["summary"]["members"]
    assert (members["low"], members["high"]) == (0, 24)  # six branches of fewer than 5


def test_yearly_stats_for_lam_thuong_and_luc_yen(api: TestClient) -> None:
    luc_yen = locality(api, "135", current=False)
    stats = api.get(f"/localities/{luc_yen['id']}/stats").json()
    LocalityStats.model_validate(stats)
    [year] = stats["years"]
    assert year["year"] == 2023
    assert year["members"]["low"] == 6799
    assert year["admissions"]["low"] == 216  # Khéo Lẹng's 1 is inside the 216
    assert year["admissions"]["records"][0]["quote"].startswith("Năm 2023, Lục Yên kết nạp 216")


def test_stats_list_the_counts_no_text_dates(api: TestClient) -> None:
    """Thào Chư Phìn's 101 members are dated by no text: in no year, but not left out."""
    thao_chu_phin = locality(api, "02803", current=False)
    stats = api.get(f"/localities/{thao_chu_phin['id']}/stats").json()
    LocalityStats.model_validate(stats)
    assert stats["years"] == []
    [undated] = stats["undated_counts"]
    assert (undated["value"], undated["as_of"], undated["figure"]) == (101, None, "101")
    assert "101" in undated["quote"]
    # Above it, the province's stats list it too, beside Tiền Phong's undated 15 in theirs.
    province = api.get(f"/localities/{thao_chu_phin['id']}").json()["parents"][-1]
    above = api.get(f"/localities/{province['id']}/stats").json()["undated_counts"]
    assert [c["value"] for c in above] == [101]


def test_stats_set_multi_year_periods_apart(api: TestClient) -> None:
    mai_ha = locality(api, "05251", current=False)
    stats = api.get(f"/localities/{mai_ha['id']}/stats").json()
    spanning = {
        (e["kind"], e["period_start"], e["period_end"]) for e in stats["not_in_a_single_year"]
    }
    assert ("departure", "2016-01-01", "2017-12-31") in spanning
    assert ("transfer_in", "2018-09-07", None) in spanning
    assert [y["year"] for y in stats["years"]] == [2018]


def test_a_search_asked_again_does_not_count_its_words(unkept_api: TestClient) -> None:
    """Its order of words is kept (app.services.localities._word_prefixes): one
    statement fewer, the same answer."""
    path = "/localities?q=th%C6%B0%E1%BB%A3ng%20l%C3%A2m"  # "thượng lâm": two words
    engine = unkept_api.app.state.engine  # type: ignore[attr-defined]
    with StatementCounter(engine) as first_counter:
        first = unkept_api.get(path)
    with StatementCounter(engine) as again_counter:
        again = unkept_api.get(path)
    assert first.status_code == 200 and first.json()["items"]
    assert again.content == first.content
    assert again_counter.count == first_counter.count - 1


def test_a_page_shows_each_rows_links_as_recorded(unkept_api: TestClient) -> None:
    """Successors and predecessors come with the page, in its own statement
    (app.services.localities._links; test_branches counts the statements): each row's
    all of its own, in the order they were recorded, as the table holds them."""
    engine = unkept_api.app.state.engine  # type: ignore[attr-defined]
    answer = unkept_api.get("/localities", params={"limit": 200})
    assert answer.status_code == 200
    places = answer.json()["items"]
    linked = [p for p in places if p["successors"] or p["predecessors"]]
    unlinked = [p for p in places if not (p["successors"] or p["predecessors"])]
    assert linked and unlinked  # the seed's merged provinces and communes; its villages
    assert any(len(p["successors"]) + len(p["predecessors"]) > 1 for p in linked)

    recorded = """
        SELECT s.predecessor_id, s.successor_id, pre.key, suc.key, s.kind,
               s.effective_on, s.legal_basis
        FROM locality_successions s
        JOIN localities pre ON pre.id = s.predecessor_id
        JOIN localities suc ON suc.id = s.successor_id
        ORDER BY s.id
    """
    with engine.connect() as connection:
        links = connection.execute(text(recorded)).all()
    for place in places:
        successors = [
            (suc_key, kind, str(day), basis)
            for pre_id, _, _, suc_key, kind, day, basis in links
            if pre_id == place["id"]
        ]
        predecessors = [
            (pre_key, kind, str(day), basis)
            for _, suc_id, pre_key, _, kind, day, basis in links
            if suc_id == place["id"]
        ]
        served = [
            [
                (link["locality"]["key"], link["kind"], link["effective_on"], link["legal_basis"])
                for link in place[side]
            ]
            for side in ("successors", "predecessors")
        ]
        assert served == [successors, predecessors], place["key"]


def test_a_place_is_current_from_the_day_it_comes_into_force(write_api: TestClient) -> None:
    """is_current: not replaced, and in force by today (the database compares the day)."""
    [place] = write_api.get(
        "/localities", params={"kind": "commune", "current": "true", "limit": 1}
    ).json()["items"]
    engine = write_api.app.state.engine  # type: ignore[attr-defined]

    def in_force_from(day: date) -> tuple[bool, bool]:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE localities SET valid_from = :day WHERE id = :id"),
                {"day": day, "id": place["id"]},
            )
        listed = write_api.get(
            "/localities", params={"code": place["code"], "current": "true"}
        ).json()["items"]
        detail = write_api.get(f"/localities/{place['id']}").json()
        assert [i["valid_from"] for i in listed] == [day.isoformat()]
        return listed[0]["is_current"], detail["is_current"]

    today = date.today()
    assert in_force_from(today + timedelta(days=1)) == (False, False)
    assert in_force_from(today) == (True, True)
    assert in_force_from(today - timedelta(days=400)) == (True, True)


def test_names_are_listed_in_vietnamese_alphabetical_order(api: TestClient) -> None:
    """Đ after D, Hạnh before Hoa (code points put them after Z and after Hoa), the same
    on both databases, page by page and reversed."""
    whole = api.get("/localities", params={"kind": "commune", "sort": "name", "limit": 500})
    names = [item["official_name"] for item in whole.json()["items"]]
    for earlier, later in [
        ("Xã Chiềng Mung", "Xã Đại Đồng"),
        ("Xã Đồng Văn", "Xã Hạnh Lâm"),
        ("Xã Hạnh Lâm", "Xã Hoa Quân"),
        ("Xã Thanh An", "Xã Thanh Đức"),
        ("Xã Thanh Đức", "Xã Thanh Hà"),
    ]:
        assert names.index(earlier) < names.index(later), (earlier, later)
    for sort, expected in (("name", names), ("-name", names[::-1])):
        walked = walk(api, f"/localities?kind=commune&sort={sort}&limit=7")
        assert [item["official_name"] for item in walked] == expected, sort


def test_places_are_listed_by_their_names_whatever_their_kind_word(api: TestClient) -> None:
    """From a README audit: ordered by the official name, kind word first, a list ran A
    to Z once for "bản", "Huyện", "thôn", "Tỉnh", "Xã" and "xóm", so that "Tiền Phong"
    (xóm) came after "Xuân Lâm" (Xã). The names shown are in order now, page by page."""
    walked = walk(api, "/localities?sort=name&limit=9")
    names = [item["name"] for item in walked]
    assert len(names) == len(set(item["id"] for item in walked)) > 50
    keys = [name_order(name) for name in names]
    assert keys == sorted(keys)
    for earlier, later in [
        ("Bó", "Cát Ngạn"),
        ("Khéo Lẹng", "Lục Yên"),
        ("Tiền Phong", "Xuân Lâm"),
    ]:
        assert names.index(earlier) < names.index(later), (earlier, later)
    reversed_walk = walk(api, "/localities?sort=-name&limit=9")
    assert [item["name"] for item in reversed_walk] == names[::-1]


# A year's measure, and the kind of event it adds.
EVENT_MEASURES = {
    "admissions": "admission",
    "departures": "departure",
    "transfers_in": "transfer_in",
    "transfers_out": "transfer_out",
}


def test_each_measures_records_are_of_that_measure(api: TestClient) -> None:
    """The document types a year's records by its measure (members: counts; the others:
    events of their kind): every seed place's stats hold to it, and some year of some
    place shows records of members and of admissions."""
    shown = set()
    for place in walk(api, "/localities?limit=200"):
        stats = api.get(f"/localities/{place['id']}/stats", params={"records": 25}).json()
        LocalityStats.model_validate(stats)
        for year in stats["years"]:
            for measure in ("members", *EVENT_MEASURES):
                for record in (year[measure] or {}).get("records", []):
                    if measure == "members":
                        assert "status" in record and "kind" not in record, record
                    else:
                        assert record["kind"] == EVENT_MEASURES[measure], (measure, record)
                    shown.add(measure)
    assert {"members", "admissions"} <= shown
