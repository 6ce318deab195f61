"""/membership-counts, /admissions, /facts and /sources: every figure with its sentence."""

import csv
import hashlib
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.schemas.common import Page
from app.schemas.figures import FactOut, MembershipCountOut, MembershipEventOut
from app.schemas.sources import SourceDetail
from app.services import sources as sources_service
from tests.api.helpers import group, locality


def test_counts_under_a_place_with_quotes(api: TestClient) -> None:
    muong_bang = locality(api, "04111", current=False)
    body = api.get("/membership-counts", params={"locality": muong_bang["id"]}).json()
    Page[MembershipCountOut].model_validate(body)
    assert sorted(c["value"] for c in body["items"]) == [22, 316]
    assert all(c["source"]["published_on"] == "2020-01-21" for c in body["items"])


def test_admissions_per_period_and_kind(api: TestClient) -> None:
    body = api.get("/admissions", params={"from": "2017-01-01", "to": "2017-12-31"}).json()
    Page[MembershipEventOut].model_validate(body)
    assert (252, "exact", "252") in [
        (e["value"], e["qualifier"], e["figure"]) for e in body["items"]
    ]
    # "ở 6 chi bộ ... đều phát triển được đảng viên mới": each admitted, no number printed,
    # so nothing to qualify (it was served as exactly nothing before migration 0027).
    unnumbered = [e for e in body["items"] if e["value"] is None]
    assert [(e["figure"], e["qualifier"], e["applies_to_each"]) for e in unnumbered] == [
        (None, None, True)
    ]
    assert "đều phát triển được đảng viên mới" in unnumbered[0]["quote"]
    detail = api.get(f"/admissions/{unnumbered[0]['id']}").json()
    assert (detail["value"], detail["qualifier"]) == (None, None)
    text = api.get("/admissions", params={"format": "csv", "kind": "admission"}).text
    cells = {r["key"]: (r["value"], r["qualifier"]) for r in csv.DictReader(io.StringIO(text))}
    assert cells[unnumbered[0]["key"]] == ("", "")
    assert cells[next(e["key"] for e in body["items"] if e["value"] == 252)] == ("252", "exact")
    departures = api.get("/admissions", params={"kind": "departure"}).json()["items"]
    # "trung bình mỗi năm có một": an average over 2016 and 2017, so about 2.
    assert [
        (d["value"], d["qualifier"], d["figure"], d["period_start"], d["period_end"])
        for d in departures
    ] == [(2, "approximate", "một", "2016-01-01", "2017-12-31")]


def test_a_reversed_range_is_refused(api: TestClient) -> None:
    response = api.get("/admissions", params={"from": "2020-01-01", "to": "2019-01-01"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.from"


def test_impossible_date_is_a_422_naming_it(api: TestClient) -> None:
    response = api.get("/admissions", params={"from": "2023-02-30"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.from"


def test_facts_keep_their_qualifiers(api: TestClient) -> None:
    body = api.get("/facts", params={"metric": "poverty_rate"}).json()
    Page[FactOut].model_validate(body)
    rates = {(f["locality"]["name"], f["value"], f["qualifier"]) for f in body["items"]}
    assert ("Tiền Phong", 1.0, "more_than") in rates and ("Mường Bằng", 12.0, "exact") in rates


def test_counts_export_as_csv_with_source_columns(api: TestClient) -> None:
    text = api.get("/membership-counts", params={"format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {"value", "qualifier", "source_title", "source_published_on", "quote"} <= set(rows[0])
    assert any(r["value"] == "6799" and "6.799" in r["quote"] for r in rows)
    # The official code of the place, to join with other statistics by unit.
    luc_yen = next(r for r in rows if r["value"] == "6799")
    assert (luc_yen["locality_name"], luc_yen["locality_code"]) == ("Lục Yên", "135")


@pytest.mark.parametrize("path", ["/membership-counts", "/admissions", "/facts"])
def test_an_unnamed_groups_figures_say_which_group(api: TestClient, path: str) -> None:
    """From an audit: a group's figure named its organization by id, kind and size only
    (its name is null), a blank organization in a spreadsheet; its description is what
    stands for its name, in JSON, CSV, and the figures of its detail."""
    six = group(api)
    params = {"branch": six["id"]}
    items = api.get(path, params=params).json()["items"]
    assert items and {i["branch"]["description"] for i in items} == {six["description"]}
    rows = list(csv.DictReader(io.StringIO(api.get(path, params={**params, "format": "csv"}).text)))
    assert [r["branch_description"] for r in rows] == [six["description"]] * len(items)
    section = {"/membership-counts": "counts", "/admissions": "events", "/facts": "facts"}[path]
    detail = api.get(f"/branches/{six['id']}").json()[section]
    assert {f["branch"]["description"] for f in detail} == {six["description"]}
    named = api.get(path, params={"limit": 500}).json()["items"]
    assert {i["branch"]["description"] for i in named if (i["branch"] or {}).get("name")} == {None}


def test_source_detail_lists_everything_drawn_from_it(api: TestClient) -> None:
    sources = api.get("/sources", params={"q": "Luc Yen"}).json()["items"]
    assert [s["key"] for s in sources] == ["baoyenbai-2023-luc-yen"]
    detail = api.get(f"/sources/{sources[0]['id']}").json()
    SourceDetail.model_validate(detail)
    assert {c["value"] for c in detail["counts"]} == {6799, 38}
    assert {b["name"] for b in detail["branches"]} >= {
        "Chi bộ thôn Thâm Pất",
        "Chi bộ thôn Khéo Lẹng",
    }
    response = api.get(f"/sources/{sources[0]['id']}/text")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "6.799" in response.text and len(response.text) > 1000
    assert detail["text_sha256"] == hashlib.sha256(response.content).hexdigest()
    # A text that does not change is not sent again.
    again = {"If-None-Match": response.headers["etag"]}
    assert api.get(f"/sources/{sources[0]['id']}/text", headers=again).status_code == 304


def test_a_source_detail_says_how_many_and_lists_up_to_its_cap(
    unkept_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each list of a source's detail is cut at DETAIL_LIST_CAP (oldest evidence first);
    `totals` counts them all."""
    [source] = unkept_api.get("/sources", params={"q": "Luc Yen"}).json()["items"]
    whole = unkept_api.get(f"/sources/{source['id']}").json()
    lists = ("localities", "branches", "counts", "events", "facts", "officeholders")
    assert whole["totals"] == {name: len(whole[name]) for name in lists}
    assert whole["totals"]["counts"] == 2 and whole["totals"]["branches"] >= 2

    monkeypatch.setattr(sources_service, "DETAIL_LIST_CAP", 1)
    cut = unkept_api.get(f"/sources/{source['id']}").json()
    SourceDetail.model_validate(cut)
    assert cut["totals"] == whole["totals"]
    for name in lists:
        assert cut[name] == whole[name][:1], name


def _tien_phong(api: TestClient, path: str, **params: str) -> list[dict[str, Any]]:
    items = api.get(path, params={"limit": "200", **params}).json()["items"]
    return [i for i in items if i["branch"] and i["branch"]["name"] == "Chi bộ xóm Tiền Phong"]


@pytest.mark.parametrize(
    ("path", "params", "value"),
    [
        ("/membership-counts", {}, 15),  # "nâng tổng số đảng viên ... lên 15"
        ("/admissions", {"kind": "transfer_in"}, 2),  # after the letter of 7/9/2018
    ],
)
def test_from_does_not_match_a_date_only_bounded_by_registration(
    api: TestClient, path: str, params: dict[str, str], value: float
) -> None:
    """An undated article's figures are dated by the day the service first held it, an
    upper bound: Tiền Phong's article is of 2019 or later, held since 2026-11-21."""
    (figure,) = [f for f in _tien_phong(api, path, **params) if f["value"] == value]
    assert figure["evidence_date_basis"] == "registered"
    day = figure["evidence_date"]
    assert figure not in _tien_phong(api, path, **params, **{"from": day})
    assert figure in _tien_phong(api, path, **params, to=day)  # the bound holds


def test_from_matches_a_period_starting_on_or_after_it(api: TestClient) -> None:
    """The transfer's period starts on 2018-09-07; its end no text gives."""
    transfer = {"kind": "transfer_in"}
    assert [
        e["value"] for e in _tien_phong(api, "/admissions", **transfer, **{"from": "2018-09-07"})
    ] == [2]
    assert _tien_phong(api, "/admissions", **transfer, **{"from": "2018-09-08"}) == []


def test_from_matches_dates_the_text_or_its_article_gives(api: TestClient) -> None:
    counts = _tien_phong(api, "/membership-counts", **{"from": "2018-09-07"})
    assert [(c["value"], c["evidence_date_basis"]) for c in counts] == [(13, "derived")]
    published = api.get("/membership-counts", params={"from": "2023-12-18"}).json()["items"]
    assert {(c["value"], c["evidence_date_basis"]) for c in published} == {
        (6799, "published"),
        (38, "published"),
    }
