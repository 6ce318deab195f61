"""/risk/evidence: the branches at risk with every criterion's sentences, in bulk.

What a newsroom checks: the same branches as /branches?risk=true, each explained as
/branches/{id}/risk explains it, and as CSV a line a quote that can be held against the
article's text and against the record it names.
"""

import csv
import io
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from app.schemas.branches import BranchRiskEvidence
from app.services.text import normalize_quote_text
from tests.api.helpers import branch, group, locality, walk
from tests.api.test_writes import make_key, patch


def _csv(api: TestClient, **params: Any) -> list[dict[str, str]]:
    response = api.get("/risk/evidence", params={"format": "csv", **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def test_each_branch_at_risk_with_its_explanation(api: TestClient) -> None:
    listed = walk(api, "/branches?risk=true&sort=id&limit=1")
    explained = walk(api, "/risk/evidence?limit=1")
    assert [i["branch"]["id"] for i in explained] == [b["id"] for b in listed]
    assert len(explained) == 2  # Tiền Phong and Thanh Chương's six
    for item, listed_branch in zip(explained, listed, strict=True):
        BranchRiskEvidence.model_validate(item)
        assert item["branch"] == listed_branch
        assert item["risk"] == api.get(f"/branches/{listed_branch['id']}/risk").json()


def test_a_csv_line_for_each_record_of_each_criterion(api: TestClient) -> None:
    items = walk(api, "/risk/evidence")
    rows = _csv(api)
    expected = Counter(
        (i["branch"]["id"], c["id"]) for i in items for c in i["risk"]["criteria"]
        for _ in c["evidence"] or [None]
    )  # fmt: skip
    assert Counter((int(r["branch_id"]), r["criterion_id"]) for r in rows) == expected
    by_criterion = {(i["branch"]["id"], c["id"]): c for i in items for c in i["risk"]["criteria"]}
    for row in rows:
        criterion = by_criterion[(int(row["branch_id"]), row["criterion_id"])]
        assert row["criterion_status"] == criterion["status"]
        if not criterion["evidence"]:
            assert row["record_path"] == row["record_quote"] == row["record_source_id"] == ""
            continue
        # The record it names says what the line says, and so does its article's text.
        record = api.get(row["record_path"]).json()
        assert str(record["id"]) == row["record_id"]
        assert record["quote"] == row["record_quote"]
        assert (record["figure"] or "") == row["record_figure"]  # a flag prints none
        assert str(record["source"]["id"]) == row["record_source_id"]
        text = api.get(f"/sources/{row['record_source_id']}/text").text
        quote = normalize_quote_text(row["record_quote"])
        assert quote in normalize_quote_text(text)
        assert normalize_quote_text(row["record_figure"]) in quote


def test_tien_phong_attrition_is_its_departures_and_admission(api: TestClient) -> None:
    tien_phong = branch(api, "Chi bộ xóm Tiền Phong")
    rows = [r for r in _csv(api) if r["branch_id"] == str(tien_phong["id"])]
    assert {r["risk_level"] for r in rows} == {"watch"}
    attrition = [r for r in rows if r["criterion_id"] == "attrition"]
    assert {r["criterion_status"] for r in attrition} == {"met"}
    assert sorted(r["record_kind"] for r in attrition) == ["admission", "departure"]
    assert {r["record_path"].split("/")[1] for r in attrition} == {"admissions"}
    # Ageing: nothing recorded, unknown, one line without a record.
    [ageing] = [r for r in rows if r["criterion_id"] == "ageing"]
    assert ageing["criterion_status"] == "unknown" and ageing["record_path"] == ""
    assert ageing["branch_today_province_name"] == "Phú Thọ"
    # Its count of 15 is dated by the day the dataset first held the article: the note
    # says what the text does say of its day, and the ages say how old the evidence is.
    [count] = [r for r in rows if r["criterion_id"] == "too_few_members"]
    assert count["record_evidence_date_basis"] == "registered"
    assert "7/9/2018" in count["record_date_note"]
    assert int(count["risk_stated_age_days"]) > int(count["risk_evidence_age_days"]) > 0
    assert ageing["branch_today_commune_code"] == "05251"  # text: its zero kept


def test_the_filters_and_the_day_are_the_lists(api: TestClient) -> None:
    six = group(api)
    critical = api.get(
        "/risk/evidence", params={"as_of": "2017-01-01", "risk_level": "critical"}
    ).json()
    assert [i["branch"]["id"] for i in critical["items"]] == [six["id"]]
    [explained] = critical["items"]
    assert explained["risk"]["as_of"] == "2017-01-01"
    assert explained["risk"]["level"] == explained["branch"]["risk"]["level"] == "critical"
    assert {c["id"] for c in explained["risk"]["criteria"] if c["status"] == "met"} == {
        "too_few_members",
        "ageing",
        "stalled",
        "reported",
    }
    phu_tho = locality(api, "25", current=True)
    in_phu_tho = api.get("/risk/evidence", params={"province": phu_tho["id"]}).json()
    assert [i["branch"]["name"] for i in in_phu_tho["items"]] == ["Chi bộ xóm Tiền Phong"]
    high = api.get("/risk/evidence", params={"risk_level": "high"}).json()
    assert [i["branch"]["id"] for i in high["items"]] == [six["id"]]


def test_a_csv_page_holds_its_branches_lines(api: TestClient) -> None:
    first = api.get("/risk/evidence", params={"format": "csv", "limit": 1})
    rows = list(csv.DictReader(io.StringIO(first.text)))
    assert len({r["branch_id"] for r in rows}) == 1 and len(rows) > 1
    assert 'rel="next"' in first.headers["link"]
    assert first.headers["content-disposition"] == 'attachment; filename="risk-evidence.csv"'


def test_a_missing_province_is_named(api: TestClient) -> None:
    response = api.get("/risk/evidence", params={"province": 999_999})
    assert response.status_code == 404
    assert [e["field"] for e in response.json()["errors"]] == ["query.province"]


def test_a_write_is_seen_at_once(write_api: TestClient) -> None:
    editor = make_key(write_api)
    tien_phong = branch(write_api, "Chi bộ xóm Tiền Phong")
    # A page (a stream, without a limit, is built at each request and has no ETag).
    before = write_api.get("/risk/evidence", params={"format": "csv", "limit": 50})
    assert "Chi bộ xóm Tiền Phong" in before.text
    renamed = patch(
        write_api, f"/branches/{tien_phong['id']}", {"name": "Chi bộ Tiền Phong"}, editor
    )
    assert renamed.status_code == 200, renamed.text
    after = write_api.get("/risk/evidence", params={"format": "csv", "limit": 50})
    assert after.headers["etag"] != before.headers["etag"]
    names = {r["branch_name"] for r in csv.DictReader(io.StringIO(after.text))}
    assert "Chi bộ Tiền Phong" in names and "Chi bộ xóm Tiền Phong" not in names
