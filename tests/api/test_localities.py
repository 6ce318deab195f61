"""/localities: the tree, the 2025 successors, summaries and yearly stats."""

from fastapi.testclient import TestClient

from app.schemas.common import Page
from app.schemas.localities import LocalityDetail, LocalityOut, LocalityStats
from tests.api.helpers import locality
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


def test_detail_summary_does_not_double_count(api: TestClient) -> None:
    luc_yen = locality(api, "135", current=False)
    detail = api.get(f"/localities/{luc_yen['id']}").json()
    LocalityDetail.model_validate(detail)
    assert [p["official_name"] for p in detail["parents"]] == ["Tỉnh Yên Bái"]
    members = detail["summary"]["members"]
    # 6,799 for the district committee already includes Khéo Lẹng's 38.
    assert (members["low"], members["high"], members["organizations_counted"]) == (6799, 6799, 1)


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


def test_successions_are_read_only_for_rows_that_have_them(unkept_api: TestClient) -> None:
    """A page asks for successors and predecessors only when one of its rows has some
    (app.services.localities._has_successions); each row still shows all of its own."""
    engine = unkept_api.app.state.engine  # type: ignore[attr-defined]

    def reads_successions(counter: StatementCounter) -> bool:
        # Only the successions' own statement reads their legal basis.
        return any("locality_successions.legal_basis" in sql for sql in counter.statements)

    with StatementCounter(engine) as villages_counter:
        villages = unkept_api.get("/localities", params={"kind": "village", "limit": 100})
    assert villages.status_code == 200 and villages.json()["items"]
    assert not reads_successions(villages_counter)

    with StatementCounter(engine) as places_counter:
        answer = unkept_api.get("/localities", params={"limit": 200})
    assert reads_successions(places_counter)
    places = answer.json()["items"]
    linked = [p for p in places if p["successors"] or p["predecessors"]]
    unlinked = [p for p in places if not (p["successors"] or p["predecessors"])]
    assert linked and unlinked  # the seed's merged provinces and communes; its villages
    for item in places:
        detail = unkept_api.get(f"/localities/{item['id']}").json()
        assert (item["successors"], item["predecessors"]) == (
            detail["successors"],
            detail["predecessors"],
        )
