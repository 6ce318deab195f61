"""How each figure is dated, checked against what its text prints (seed/FORMAT.md).

A date the text prints is `stated`; one worked out from it is `derived`; a figure dated
by its article (no day of its own, or the article's day or a later one) is `published`;
and no figure is evidence of a day after the article that reports it.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import branch, group

FIGURE_LISTS = (
    "/membership-counts",
    "/facts",
    *(f"/admissions?kind={kind}" for kind in ("admission", "departure")),
)


def _figures(api: TestClient) -> list[dict[str, Any]]:
    joiner = {path: "&" if "?" in path else "?" for path in FIGURE_LISTS}
    return [
        item
        for path in FIGURE_LISTS
        for item in api.get(f"{path}{joiner[path]}limit=500").json()["items"]
    ]


def _own_date(figure: dict[str, Any]) -> str | None:
    return figure.get("as_of") or figure.get("period_end")


def test_no_figure_is_evidence_of_a_day_after_its_article(api: TestClient) -> None:
    figures = _figures(api)
    assert len(figures) > 40
    for figure in figures:
        published = figure["source"]["published_on"]
        if published is not None:
            assert figure["evidence_date"] <= published, figure["key"]


def test_a_year_still_running_counts_up_to_its_articles_day(api: TestClient) -> None:
    """ "Năm 2023, Lục Yên kết nạp 216 đảng viên mới", in an article of 18/12/2023."""
    [admission] = [a for a in api.get("/admissions").json()["items"] if a["figure"] == "216"]
    assert (admission["period_start"], admission["period_end"]) == ("2023-01-01", "2023-12-31")
    assert admission["evidence_date"] == admission["source"]["published_on"] == "2023-12-18"
    assert admission["evidence_date_basis"] == "published"
    # Two days later, risk sees it, and the admission is not dated after the day asked.
    luc_yen = branch(api, "Đảng bộ huyện Lục Yên")
    explanation = api.get(f"/branches/{luc_yen['id']}/risk", params={"as_of": "2023-12-20"})
    stalled = _criterion(explanation.json(), "stalled")
    assert stalled["status"] == "not_met"
    assert stalled["value"]["last_admission"] == "2023-12-18"
    # ... and shows the admission it read, with its sentence.
    assert [e["figure"] for e in stalled["evidence"]] == ["216"]
    assert explanation.json()["newest_evidence_date"] == "2023-12-18"


@pytest.mark.parametrize(
    ("key", "basis"),
    [
        # "Derived, not printed": the count before an assignment of "ngày 7/9/2018".
        ("hbdt-tien-phong#tien-phong-members-before-transfer", "derived"),
        # "Not printed": 2016-12-31 marks "before those admissions".
        ("baonghean-2017-thanh-chuong#six-at-risk-members-under-5", "derived"),
        ("baonghean-2017-thanh-chuong#six-at-risk-reported", "derived"),
        # "hiện có", dated to the article's day: the article dates it.
        ("baoyenbai-2023-luc-yen#kheo-leng-members", "published"),
        # A printed period: "Trong 7 tháng đầu năm 2017".
        ("baonghean-2017-thanh-chuong#thanh-chuong-admissions-2017-jan-jul", "stated"),
    ],
)
def test_each_basis_says_how_the_text_dates_the_figure(
    api: TestClient, key: str, basis: str
) -> None:
    [figure] = [f for f in _figures(api) if f["key"] == key]
    assert figure["evidence_date_basis"] == basis, figure["date_note"]


def test_no_figure_dated_by_its_article_reads_stated(api: TestClient) -> None:
    for figure in _figures(api):
        own, published = _own_date(figure), figure["source"]["published_on"]
        if own is not None and published is not None and own >= published:
            assert figure["evidence_date_basis"] == "published", figure["key"]


def test_a_date_worked_out_is_not_a_date_the_texts_give(api: TestClient) -> None:
    """As of 2017-01-01 the six branches' evidence is all dated 2016-12-31 "before those
    admissions", worked out: no date the texts give, however critical they are."""
    six = group(api)
    explanation = api.get(f"/branches/{six['id']}/risk", params={"as_of": "2017-01-01"}).json()
    assert explanation["level"] == "critical"
    assert explanation["newest_evidence_date"] == "2016-12-31"
    assert explanation["newest_stated_date"] is None
    assert explanation["stated_age_days"] is None
    # Today their admissions of "7 tháng đầu năm 2017", printed, are the newest stated.
    today = api.get(f"/branches/{six['id']}/risk").json()
    assert today["newest_stated_date"] == "2017-07-31"


def _criterion(explanation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in explanation["criteria"] if c["id"] == name)
