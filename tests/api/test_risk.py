"""/branches?risk=true on the seed: every flag with reasons a reader can check."""

import sys
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models import Branch
from app.schemas.branches import RiskExplanation, RiskSummary
from tests.api.helpers import branch, group, locality, walk
from tests.api.test_writes import count_body, id_of, make_key, new_source


def test_risk_true_returns_the_flagged_branch_and_group(api: TestClient) -> None:
    items = api.get("/branches", params={"risk": "true"}).json()["items"]
    flagged = {(b["name"] or b["description"]): b["risk"] for b in items}
    assert set(flagged) == {
        "Chi bộ xóm Tiền Phong",
        "6 chi bộ thuộc 4 xã có nguy cơ không còn chi bộ",
    }
    assert flagged["Chi bộ xóm Tiền Phong"]["criteria_met"] == ["attrition"]
    six = flagged["6 chi bộ thuộc 4 xã có nguy cơ không còn chi bộ"]
    assert six["level"] == "high"
    assert six["criteria_met"] == ["too_few_members", "ageing", "reported"]


def test_risk_level_threshold_and_the_rest(api: TestClient) -> None:
    high = api.get("/branches", params={"risk": "true", "risk_level": "high"}).json()["items"]
    assert [b["group_size"] for b in high] == [6]
    rest = api.get("/branches", params={"risk": "false"}).json()["items"]
    assert {b["risk"]["level"] for b in rest} == {"none"}
    assert "Chi bộ bản Bó" in {b["name"] for b in rest}
    unknown = api.get("/branches", params={"risk": "unknown"}).json()["items"]
    assert "Chi bộ thôn Thâm Pất" in {b["name"] for b in unknown}  # named, no figures


def test_a_risk_level_without_risk_true_or_false_is_refused(api: TestClient) -> None:
    """Alone (or with risk=unknown) it filtered nothing: every branch came back."""
    below_high = api.get("/branches", params={"risk": "false", "risk_level": "high"}).json()
    assert "Chi bộ xóm Tiền Phong" in {b["name"] for b in below_high["items"]}  # watch
    for params in (
        {"risk_level": "critical"},
        {"risk_level": "watch"},  # its default, written out: still a filter of nothing
        {"risk": "unknown", "risk_level": "high"},
    ):
        response = api.get("/branches", params=params)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == ["query.risk_level"]


def test_thanh_chuong_six_before_and_after_their_2017_admissions(api: TestClient) -> None:
    six = group(api)
    before = api.get(f"/branches/{six['id']}/risk", params={"as_of": "2017-01-01"}).json()
    after = api.get(f"/branches/{six['id']}/risk", params={"as_of": "2017-08-01"}).json()
    RiskExplanation.model_validate(before)
    statuses = lambda r: {c["id"]: c["status"] for c in r["criteria"]}  # noqa: E731
    assert before["level"] == "critical"
    assert statuses(before)["stalled"] == "met"
    assert after["level"] == "high"
    assert statuses(after)["stalled"] == "not_met"
    stalled_after = next(c for c in after["criteria"] if c["id"] == "stalled")
    quotes = [e["quote"] for e in stalled_after["evidence"]]
    assert any("đều phát triển được đảng viên mới" in q for q in quotes)
    stalled_before = next(c for c in before["criteria"] if c["id"] == "stalled")
    assert any("trên 5 năm không phát triển" in e["quote"] for e in stalled_before["evidence"])


def test_the_list_agrees_with_the_explanation_as_of(api: TestClient) -> None:
    at_start = api.get("/branches", params={"risk": "true", "as_of": "2017-01-01"}).json()["items"]
    assert [(b["group_size"], b["risk"]["level"]) for b in at_start] == [(6, "critical")]


@pytest.mark.parametrize("sort", ["id", "-id", "name"])
def test_pages_as_of_a_day_agree_with_each_branch(api: TestClient, sort: str) -> None:
    """A page as of a day evaluates the risk of its own branches only (chosen first):
    three at a time, the pages list what one page lists, and each branch's level is
    its detail's and its explanation's as of that day."""
    day = "2017-08-01"
    whole = api.get("/branches", params={"as_of": day, "sort": sort, "limit": 500}).json()
    assert len(whole["items"]) > 3
    walked, cursor = [], None
    while True:
        params = {"as_of": day, "sort": sort, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/branches", params=params).json()
        walked += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == whole["items"]
    # The six, high after their 2017 admissions; the branches without figures yet.
    assert {b["risk"]["level"] for b in walked} == {"high", "unknown"}
    for item in walked:
        detail = api.get(f"/branches/{item['id']}", params={"as_of": day}).json()
        explained = api.get(f"/branches/{item['id']}/risk", params={"as_of": day}).json()
        assert detail["risk"] == item["risk"]
        assert explained["level"] == item["risk"]["level"]


def test_before_any_evidence_nothing_is_known(api: TestClient) -> None:
    six = group(api)
    early = api.get(f"/branches/{six['id']}/risk", params={"as_of": "2010-01-01"}).json()
    assert early["level"] == "unknown" and early["newest_evidence_date"] is None


def test_a_departure_can_be_the_newest_evidence(api: TestClient) -> None:
    """Before its 2018 figures, Tiền Phong's newest evidence is its departures of
    2016-2017 (shown under attrition): the explanation had said it had none."""
    tien_phong = branch(api, "Chi bộ xóm Tiền Phong")
    early = api.get(f"/branches/{tien_phong['id']}/risk", params={"as_of": "2018-06-01"}).json()
    attrition = next(c for c in early["criteria"] if c["id"] == "attrition")
    assert [e["kind"] for e in attrition["evidence"]] == ["departure"]
    assert early["newest_evidence_date"] == attrition["evidence"][0]["evidence_date"]
    assert early["newest_evidence_date"] == "2017-12-31"
    assert early["evidence_age_days"] == 152


def test_tien_phong_attrition_shows_its_departures_and_admission(api: TestClient) -> None:
    tien_phong = branch(api, "Chi bộ xóm Tiền Phong")
    explanation = api.get(f"/branches/{tien_phong['id']}/risk").json()
    attrition = next(c for c in explanation["criteria"] if c["id"] == "attrition")
    assert attrition["status"] == "met"
    assert attrition["value"]["departures"]["low"] == 2
    assert attrition["value"]["admissions"]["high"] == 1
    assert {e["kind"] for e in attrition["evidence"]} == {"departure", "admission"}
    # The "15 members" count is undated (its evidence date is the day the service got the
    # article); the newest date the text states is the 2018 admission: stale, and visible.
    assert explanation["newest_stated_date"] == "2018-12-31"
    assert explanation["stated_age_days"] > 365 * 5


def test_summary_by_province_reported_and_today(api: TestClient) -> None:
    body = api.get("/risk/summary").json()
    RiskSummary.model_validate(body)
    today = {p["province"]["official_name"]: p for p in body["today_provinces"] if p["province"]}
    assert today["Tỉnh Nghệ An"]["organizations_by_level"]["high"] == 6  # the group, counted as 6
    assert today["Tỉnh Phú Thọ"]["at_risk"] == 1  # Tiền Phong, reported under Hoà Bình
    reported = {p["province"]["official_name"] for p in body["reported_provinces"] if p["province"]}
    assert "Tỉnh Hoà Bình" in reported and "Tỉnh Phú Thọ" not in reported


def test_rules_are_published_with_thresholds(api: TestClient) -> None:
    rules = api.get("/risk/rules").json()
    assert rules["thresholds"]["min_members"] == 5
    assert [r["id"] for r in rules["rules"]] == [
        "too_few_members",
        "ageing",
        "stalled",
        "below_charter_minimum",
        "attrition",
        "reported",
    ]


def test_branch_lists_in_a_province_carry_risk(api: TestClient) -> None:
    nghe_an = locality(api, "40", current=True)
    items = api.get("/branches", params={"province": nghe_an["id"], "risk": "true"}).json()["items"]
    assert [b["group_size"] for b in items] == [6]


def test_an_admission_without_a_number_leaves_the_window_without_a_most(
    api: TestClient,
) -> None:
    """ "đều phát triển được đảng viên mới": each of the six admitted, no number printed.
    Each one's window's admissions are at least 1, with no most (the rules compare a most
    only when there is one), never "1 to 0"; and no bound anywhere exceeds its most."""
    attrition = _criterion(api, group(api)["id"], "attrition")
    assert attrition["value"]["admissions"] == {"low": 1, "high": None}
    assert attrition["status"] == "unknown"
    for item in api.get("/branches", params={"limit": "500"}).json()["items"]:
        value = _criterion(api, item["id"], "attrition")["value"]
        for bounds in (value["admissions"], value["departures"]):
            low, high = bounds["low"], bounds["high"]
            assert low is None or high is None or low <= high, (item["id"], bounds)


def _criterion(api: TestClient, branch_id: int, name: str) -> dict[str, Any]:
    explanation = api.get(f"/branches/{branch_id}/risk").json()
    return next(c for c in explanation["criteria"] if c["id"] == name)


GROUP_TEXT = (
    "Năm 2023, 2 đảng viên của sáu chi bộ xin ra khỏi Đảng. Mỗi chi bộ kết nạp 1 đảng "
    "viên. Cũng năm đó, mỗi chi bộ có thêm 2 đảng viên xin ra khỏi Đảng."
)


def test_a_groups_window_is_each_of_its_organizations(write_api: TestClient) -> None:
    """Thanh Chương's six branches: 2 departures of the whole group against 1 admission
    in each is not known to be attrition for any one of them (one branch may have lost
    both, another none): each one's departures 0 to 2 against 1. Read as one
    organization's it was 2 against 1, met; at the group's scale 2 against 6, not met. 2
    more departures in each make each one's 2 to 4 against 1: met."""
    editor = make_key(write_api)
    source = new_source(
        write_api, editor, key="test-six", text=GROUP_TEXT, published_on="2024-01-10"
    )
    six = id_of(write_api, Branch, "org:vn2004:428/six-branches-at-risk")

    def event(kind: str, value: int, each: bool, quote: str) -> None:
        body = {"source_id": source["id"], "branch_id": six, "kind": kind, "value": value,
                "applies_to_each": each, "period_start": "2023-01-01",
                "period_end": "2023-12-31", "quote": quote, "figure": str(value)}  # fmt: skip
        made = write_api.post("/admissions", json=body, headers=editor)
        assert made.status_code == 201, made.text

    event("departure", 2, False, "2 đảng viên của sáu chi bộ xin ra khỏi Đảng")
    event("admission", 1, True, "Mỗi chi bộ kết nạp 1 đảng")
    attrition = _criterion(write_api, six, "attrition")
    assert attrition["value"]["departures"] == {"low": 0, "high": 2}
    assert attrition["value"]["admissions"] == {"low": 1, "high": 1}
    assert attrition["status"] == "unknown"
    event("departure", 2, True, "mỗi chi bộ có thêm 2 đảng viên xin ra khỏi Đảng")
    attrition = _criterion(write_api, six, "attrition")
    assert attrition["value"]["departures"] == {"low": 2, "high": 4}
    assert attrition["status"] == "met"


WHOLE_GROUP_TEXT = "Đến tháng 5/2024, sáu chi bộ có tổng cộng 20 đảng viên."


def test_a_groups_members_are_each_organizations_and_its_place_sums_the_whole(
    write_api: TestClient,
) -> None:
    """A count of the six branches' whole (20) is no one branch's: each has 0 to 20, in
    the list, its filters and its order, as its risk reads it; the place's summary adds
    the 20 once, where "dưới 5" of each added 0 to 4 six times (from an audit: the list
    showed 20 beside another group's 8 of each)."""
    editor = make_key(write_api)
    district = locality(write_api, "428", current=False)
    source = new_source(
        write_api, editor, key="test-whole", text=WHOLE_GROUP_TEXT, published_on="2024-06-01"
    )
    six = id_of(write_api, Branch, "org:vn2004:428/six-branches-at-risk")
    before = _members_under(write_api, district["id"])
    body = count_body(source["id"], six, value=20, figure="20", applies_to_each=False,
                      as_of="2024-05-31", quote="sáu chi bộ có tổng cộng 20 đảng viên")  # fmt: skip
    made = write_api.post("/membership-counts", json=body, headers=editor)
    assert made.status_code == 201, made.text
    item = write_api.get(f"/branches/{six}").json()
    assert item["members"] == {"low": 0, "high": 20}
    assert item["latest_count"]["value"] == 20
    assert _criterion(write_api, six, "too_few_members")["status"] == "unknown"
    listed = write_api.get("/branches", params={"min_members": 1, "limit": 500}).json()
    assert six not in [b["id"] for b in listed["items"]]
    after = _members_under(write_api, district["id"])
    assert (after["low"] - before["low"], after["high"] - before["high"]) == (20 - 0, 20 - 24)


def _members_under(client: TestClient, locality_id: int) -> dict[str, Any]:
    members: dict[str, Any] = client.get(f"/localities/{locality_id}").json()["summary"]["members"]
    return members


def test_each_evidence_record_names_its_own_path(api: TestClient) -> None:
    """A criterion's evidence mixes counts, events and facts: each says where it is
    served, and that is the same record, its quote and source (the CSV's record_path)."""
    seen = set()
    for item in api.get("/branches", params={"limit": 200}).json()["items"]:
        explained = api.get(f"/branches/{item['id']}/risk").json()
        for criterion in explained["criteria"]:
            for record in criterion["evidence"]:
                served = api.get(record["path"])
                assert served.status_code == 200, record["path"]
                assert served.json() == {k: v for k, v in record.items() if k != "path"}
                seen.add(record["path"].split("/")[1])
    # The seed's risk reads all three: counts, events and facts.
    assert seen == {"membership-counts", "admissions", "facts"}


class _Tomorrow(date):
    """The clock a day on: what the service reads as today after midnight."""

    @classmethod
    def today(cls) -> date:  # a date, as the real one gives (JSON writes no subclass)
        return date.today() + timedelta(days=1)


def test_before_the_days_refresh_todays_answers_are_of_the_stored_day(
    write_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From an audit of the day's turn: between midnight and the day's refresh the
    summary counted the stored statuses (the day before's) and labelled them today, and
    the evidence explained the list's branches (the day before's levels) as of today."""
    stored_day = date.today().isoformat()
    for name, module in list(sys.modules.items()):
        if name.startswith("app.") and getattr(module, "date", None) is date:
            monkeypatch.setattr(module, "date", _Tomorrow)
    summary = write_api.get("/risk/summary")
    assert summary.status_code == 200, summary.text
    assert summary.json()["as_of"] == stored_day
    evidence = write_api.get("/risk/evidence", params={"limit": 100}).json()["items"]
    listed = write_api.get("/branches", params={"risk": "true", "limit": 100}).json()["items"]
    assert evidence and len(evidence) == len(listed)
    for item, branch_at_risk in zip(evidence, listed, strict=True):
        assert item["risk"]["as_of"] == branch_at_risk["risk"]["as_of"] == stored_day
        assert item["risk"]["level"] == branch_at_risk["risk"]["level"]
    # Asked of the new day, it is the new day's.
    tomorrow = _Tomorrow.today().isoformat()
    assert write_api.get("/risk/summary", params={"as_of": tomorrow}).json()["as_of"] == tomorrow


def test_a_branchs_why_is_of_the_day_its_item_is_of(write_api: TestClient) -> None:
    """From midnight until the day's refresh has run, the stored statuses are the day
    before's: the list's item, the detail and the evidence said that day, and the "why"
    beside them today's (of another level, for a branch dissolved that day)."""
    from app.services.risk_rules import RiskRules
    from app.services.status_day import refresh_for_day

    yesterday = date.today() - timedelta(days=1)
    engine = write_api.app.state.engine  # type: ignore[attr-defined]
    assert refresh_for_day(engine, RiskRules(), yesterday)  # as before the day's refresh
    try:
        khe = branch(write_api, "Chi bộ thôn Khéo Lẹng")
        detail = write_api.get(f"/branches/{khe['id']}").json()
        why = write_api.get(f"/branches/{khe['id']}/risk").json()
        assert khe["risk"]["as_of"] == detail["risk"]["as_of"] == yesterday.isoformat()
        assert why["as_of"] == yesterday.isoformat() and why["level"] == khe["risk"]["level"]
        asked = write_api.get(f"/branches/{khe['id']}/risk", params={"as_of": str(date.today())})
        assert asked.json()["as_of"] == date.today().isoformat()  # a day asked is that day
    finally:
        assert refresh_for_day(engine, RiskRules(), date.today())


# Each rule's evidence, by the path of the records it reads.
EVIDENCE_OF = {
    "too_few_members": ("/membership-counts/",),
    "ageing": ("/facts/",),
    "stalled": ("/facts/", "/admissions/"),
    "below_charter_minimum": ("/membership-counts/",),
    "attrition": ("/admissions/",),
    "reported": ("/facts/",),
}


def test_each_rules_evidence_is_of_the_records_it_reads(api: TestClient) -> None:
    """The document types each rule's evidence by the tables it reads (a count for too
    few members, facts for ageing, ...): every seed branch's explanation, today and
    before its articles' figures, holds to it, and each rule shows evidence somewhere."""
    shown: dict[str, set[str]] = {rule: set() for rule in EVIDENCE_OF}
    for item in walk(api, "/branches?limit=200"):
        for as_of in (None, "2017-01-01", "2019-06-30"):
            params = {"as_of": as_of} if as_of else {}
            body = api.get(f"/branches/{item['id']}/risk", params=params).json()
            RiskExplanation.model_validate(body)
            for criterion in body["criteria"]:
                for record in criterion["evidence"]:
                    prefix = record["path"].rsplit("/", 1)[0] + "/"
                    assert prefix in EVIDENCE_OF[criterion["id"]], (criterion["id"], record)
                    shown[criterion["id"]].add(prefix)
    assert shown == {rule: set(prefixes) for rule, prefixes in EVIDENCE_OF.items()}
