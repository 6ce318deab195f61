"""One event reported by two sources is summed once (app.services.event_reports).

From a data audit: a second article saying Lục Yên admitted 216 members in 2023 made the
year's admissions 432 in the stats of the district, its province and today's province.
"""

from fastapi.testclient import TestClient

from app.models import Branch
from tests.api.helpers import locality
from tests.api.test_locality_scale import assert_every_total_matches
from tests.api.test_writes import delete, editor, id_of, new_source

__all__ = ["editor"]  # a fixture, used by name

LUC_YEN = "org:vn2004:135"
TEXT = (
    "Năm 2023, Đảng bộ huyện Lục Yên kết nạp 216 đảng viên mới. Cũng trong năm 2023, "
    "huyện kết nạp thêm 4 đảng viên."
)


def test_an_event_two_sources_report_is_summed_once(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    place = locality(write_api, "135", current=False)["id"]
    branch = id_of(write_api, Branch, LUC_YEN)
    places = [place, *(p["id"] for p in write_api.get(f"/localities/{place}").json()["parents"])]

    def admissions_2023(locality_id: int) -> tuple[int, int, list[int]]:
        years = write_api.get(f"/localities/{locality_id}/stats").json()["years"]
        [found] = [y["admissions"] for y in years if y["year"] == 2023]
        return found["low"], found["records_total"], sorted(r["id"] for r in found["records"])

    def window() -> tuple[int, list[int]]:
        """The attrition window's admissions: their least sum, and the evidence listed."""
        risk = write_api.get(f"/branches/{branch}/risk").json()
        [attrition] = [c for c in risk["criteria"] if c["id"] == "attrition"]
        listed = [e["id"] for e in attrition["evidence"] if e["kind"] == "admission"]
        return attrition["value"]["admissions"]["low"], sorted(listed)

    seeded = admissions_2023(place)
    assert seeded[:2] == (216, 1)
    assert window() == (216, seeded[2])
    source = new_source(write_api, editor, key="test-luc-yen", text=TEXT, published_on="2024-01-10")

    def admission(value: int, quote: str) -> str:
        body = {"source_id": source["id"], "branch_id": branch, "kind": "admission",
                "value": value, "period_start": "2023-01-01", "period_end": "2023-12-31",
                "quote": quote, "figure": str(value)}  # fmt: skip
        made = write_api.post("/admissions", json=body, headers=editor)
        assert made.status_code == 201, made.text
        return str(made.headers["location"])

    # The same 216, by a newer article (evidence to 31 December, the first's to 18
    # December): its report is summed, the first's left out, at every level.
    again = admission(216, "Năm 2023, Đảng bộ huyện Lục Yên kết nạp 216 đảng viên mới")
    again_id = int(again.rsplit("/", 1)[1])
    for ident in places:
        assert admissions_2023(ident) == (216, 1, [again_id]), ident
    assert window() == (216, [again_id])
    # The same source's other admissions of the year add to its own.
    more = admission(4, "huyện kết nạp thêm 4 đảng viên")
    more_id = int(more.rsplit("/", 1)[1])
    assert admissions_2023(place) == (220, 2, sorted([again_id, more_id]))
    assert window() == (220, sorted([again_id, more_id]))
    # Every report stays listed.
    listed = write_api.get("/admissions", params={"branch": branch, "kind": "admission"})
    assert {seeded[2][0], again_id, more_id} <= {item["id"] for item in listed.json()["items"]}
    assert_every_total_matches(write_api)

    for path in (again, more):
        assert delete(write_api, path, editor).status_code == 204
    assert admissions_2023(place) == seeded
    assert window() == (216, seeded[2])
