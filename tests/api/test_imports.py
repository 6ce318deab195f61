"""POST /imports: a whole article, all or nothing, dry run, idempotent, safe for API edits."""

import copy
import hashlib
from typing import Any

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from app.api import imports as imports_api
from app.config import REPO_ROOT
from app.ingest.seed import load_seed
from app.models import Branch, Fact, Locality, Source
from app.reader import Reader
from app.services import writes as writes_service
from app.services.data_check import check_stored
from app.services.data_version import data_version
from app.services.risk_rules import RiskRules
from tests.api.test_writes import (  # shared helpers and fixtures
    TIEN_PHONG,
    delete,
    fields,
    id_of,
    make_key,
    patch,
    row_counts,
    tien_phong_count_path,
)

ARTICLE_YAML = """\
format: branchstats/article-v1

source:
  key: test-2024-thu-nghiem
  text: |
    Chi bộ xóm Thử Nghiệm, xã Mai Hạ (Mai Châu) hiện có 9 đảng viên, trong đó
    có 3 đảng viên trên 60 tuổi. Năm 2023, chi bộ kết nạp 2 đảng viên mới.
    Tỷ lệ hộ nghèo của xóm còn 12%.
  publisher: Báo Thử Nghiệm
  title: Chi bộ xóm Thử Nghiệm
  published_on: 2024-03-02
  author: T.N
  language: vi

localities:
  - key: vn2004:05251/xom-thu-nghiem
    kind: village
    name: Thử Nghiệm
    title: xóm Thử Nghiệm
    parent: vn2004:05251
    quote: "xóm Thử Nghiệm, xã Mai Hạ (Mai Châu)"

branches:
  - key: org:vn2004:05251/xom-thu-nghiem
    kind: village_branch
    name: Chi bộ xóm Thử Nghiệm
    locality: vn2004:05251/xom-thu-nghiem
    parent: org:vn2004:05251
    quote: "Chi bộ xóm Thử Nghiệm"

counts:
  - id: members-2024
    branch: org:vn2004:05251/xom-thu-nghiem
    value: 9
    status: all
    quote: "hiện có 9 đảng viên"
    figure: "9"

events:
  - id: admissions-2023
    kind: admission
    branch: org:vn2004:05251/xom-thu-nghiem
    value: 2
    period: "2023"
    quote: "Năm 2023, chi bộ kết nạp 2 đảng viên mới"
    figure: "2"

facts:
  - id: poverty-2023
    metric: poverty_rate
    locality: vn2004:05251/xom-thu-nghiem
    value: 12
    period: "2023"
    quote: "Tỷ lệ hộ nghèo của xóm còn 12%"
    figure: "12%"
"""
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
def editor(write_api: TestClient) -> dict[str, str]:
    return make_key(write_api)


def article() -> dict[str, Any]:
    return yaml.safe_load(ARTICLE_YAML)  # type: ignore[no-any-return]


def as_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_an_editor_adds_an_article_and_corrects_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The issue's "Done when", as a new user would do it."""
    start = row_counts(write_api)

    # 1. A dry run says what would happen, and writes nothing.
    dry = write_api.post(
        "/imports", params={"dry_run": "true"}, content=ARTICLE_YAML, headers={**editor, **YAML}
    )
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["dry_run"] is True and report["applied"] is False
    assert report["changes"] == 6 and report["source_id"] is None
    assert report["added"] == [
        "source test-2024-thu-nghiem",
        "localities[0] vn2004:05251/xom-thu-nghiem",
        "branches[0] org:vn2004:05251/xom-thu-nghiem",
        "counts[0] members-2024",
        "events[0] admissions-2023",
        "facts[0] poverty-2023",
    ]
    assert report["conflicts"] == [] and report["request_id"] is None
    assert row_counts(write_api) == start

    # 2. The import, for real.
    done = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML})
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True and done.json()["changes"] == 6
    source_id = done.json()["source_id"]

    # 3. The three figures are in the API, each with its quote and source.
    counts = write_api.get("/membership-counts", params={"source": source_id}).json()["items"]
    events = write_api.get("/admissions", params={"source": source_id}).json()["items"]
    facts = write_api.get("/facts", params={"source": source_id}).json()["items"]
    assert [(c["value"], c["quote"]) for c in counts] == [(9, "hiện có 9 đảng viên")]
    assert [(e["value"], e["period_end"]) for e in events] == [(2, "2023-12-31")]
    assert [(f["metric"], f["value"], f["unit"]) for f in facts] == [
        ("poverty_rate", 12, "percent")
    ]
    assert counts[0]["source"]["key"] == "test-2024-thu-nghiem"
    branch = write_api.get(f"/branches/{counts[0]['branch']['id']}").json()
    assert branch["latest_count"]["value"] == 9 and branch["risk"]["level"] != "unknown"

    # 4. The same file again changes nothing, and logs nothing.
    middle = row_counts(write_api)
    again = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML})
    assert again.status_code == 200
    assert again.json()["changes"] == 0 and again.json()["unchanged"] == 6
    assert row_counts(write_api) == middle

    # 5. A correction through the API, with If-Match.
    fixed = patch(
        write_api, f"/membership-counts/{counts[0]['id']}", {"qualifier": "approximate"}, editor
    )
    assert fixed.status_code == 200 and fixed.json()["qualifier"] == "approximate"

    # 6. The audit log shows both steps: who, what, before and after.
    log = write_api.get("/audit", headers=editor).json()["items"]
    update, *imported = log
    assert (update["action"], update["entity"], update["entity_id"]) == (
        "update",
        "membership_count",
        counts[0]["id"],
    )
    assert (
        update["before"]["qualifier"] == "exact" and update["after"]["qualifier"] == "approximate"
    )
    assert update["key"]["name"] == "editor"
    assert [e["action"] for e in imported] == ["import.create"] * 6 + ["import"]
    assert len({e["request_id"] for e in imported}) == 1
    summary = imported[-1]
    assert (
        summary["after"]["added"] == report["added"]
        and summary["entity_key"] == "test-2024-thu-nghiem"
    )

    # 7. Sending the same import again still changes nothing: it would undo the
    #    correction, so it is refused, and the dry run says why.
    after_fix = row_counts(write_api)
    refused = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML})
    assert refused.status_code == 409
    assert fields(refused) == ["body.counts.0"]
    assert "qualifier" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == after_fix
    dry_again = write_api.post(
        "/imports", params={"dry_run": "true"}, content=ARTICLE_YAML, headers={**editor, **YAML}
    ).json()
    assert [c["record"] for c in dry_again["conflicts"]] == ["counts[0] members-2024"]
    assert dry_again["conflicts"][0]["audit_id"] == update["id"]
    assert (
        write_api.get(f"/membership-counts/{counts[0]['id']}").json()["qualifier"] == "approximate"
    )


def test_a_seed_file_sent_with_its_text_inline_changes_nothing(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From an integrator's audit: a dry run of a file the seed loaded, its text sent
    inline (as the API takes it), reported the source changed (where its text was read
    from), so it could not confirm the database is in step with the file."""
    path = REPO_ROOT / "seed" / "articles" / "003_muong_bang.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    text_file = data["source"].pop("text_file")
    data["source"]["text"] = (path.parent / text_file).read_text(encoding="utf-8")
    for dry_run in ("true", "false"):
        sent = write_api.post(
            "/imports",
            params={"dry_run": dry_run},
            content=as_yaml(data),
            headers={**editor, **YAML},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["changes"] == 0 and sent.json()["changed"] == [], sent.json()


def test_a_seed_file_sent_with_another_text_no_longer_names_its_file(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The file the seed read a text from is kept as where it is only while the text
    sent is that file's: a text changed inline is no longer in it."""
    path = REPO_ROOT / "seed" / "articles" / "003_muong_bang.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    text_file = data["source"].pop("text_file")
    data["source"]["text"] = (path.parent / text_file).read_text(encoding="utf-8") + "\nThêm."
    source = id_of(write_api, Source, data["source"]["key"])
    assert write_api.get(f"/sources/{source}").json()["text_path"] is not None
    sent = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert sent.status_code == 200, sent.text
    assert sent.json()["changed"] == [f"source {data['source']['key']}"]
    stored = write_api.get(f"/sources/{source}").json()
    assert stored["text_path"] is None
    assert stored["text_sha256"] == hashlib.sha256(data["source"]["text"].encode()).hexdigest()


def test_force_lets_the_file_win_and_says_so(write_api: TestClient, editor: dict[str, str]) -> None:
    done = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML}).json()
    source = {"source": done["source_id"]}
    count = write_api.get("/membership-counts", params=source).json()["items"][0]
    patch(write_api, f"/membership-counts/{count['id']}", {"note": "seen"}, editor)
    forced = write_api.post(
        "/imports", params={"force": "true"}, content=ARTICLE_YAML, headers={**editor, **YAML}
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["changed"] == ["counts[0] members-2024"]
    assert len(forced.json()["conflicts"]) == 1
    assert write_api.get(f"/membership-counts/{count['id']}").json()["note"] is None
    entry = write_api.get("/audit", params={"action": "import"}, headers=editor).json()["items"][0]
    assert "forced" in entry["note"]


def test_a_file_brought_in_line_with_a_correction_changes_again_freely(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From an editor's audit: once a record was corrected through the API, every later
    change of the file to it was a conflict, the file brought in line or not (the
    correction stays the record's newest audit entry: an import that changes nothing
    logs nothing). Only the fields the correction set are the file's to keep."""
    done = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML}).json()
    count = write_api.get("/membership-counts", params={"source": done["source_id"]})
    path = f"/membership-counts/{count.json()['items'][0]['id']}"
    assert patch(write_api, path, {"qualifier": "approximate"}, editor).status_code == 200
    in_line = article()
    in_line["counts"][0]["qualifier"] = "approximate"
    same = write_api.post("/imports", content=as_yaml(in_line), headers={**editor, **YAML})
    assert same.status_code == 200 and same.json()["changes"] == 0, same.text
    in_line["counts"][0]["note"] = "the desk checked it"  # a later change of the file's own
    # With the corrected field set otherwise, it still undoes the correction.
    undoing = {**in_line, "counts": [{**in_line["counts"][0], "qualifier": "exact"}]}
    refused = write_api.post("/imports", content=as_yaml(undoing), headers={**editor, **YAML})
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["message"].endswith("would undo it (qualifier)")
    later = write_api.post("/imports", content=as_yaml(in_line), headers={**editor, **YAML})
    assert later.status_code == 200, later.text
    assert later.json()["changed"] == ["counts[0] members-2024"]
    assert write_api.get(path).json()["note"] == "the desk checked it"
    assert write_api.get(path).json()["qualifier"] == "approximate"


def test_json_and_yaml_are_the_same_import(write_api: TestClient, editor: dict[str, str]) -> None:
    as_json = write_api.post(
        "/imports",
        params={"dry_run": "true"},
        content=orjson.dumps(article()),
        headers={**editor, "Content-Type": "application/json"},
    )
    as_yaml_ = write_api.post(
        "/imports", params={"dry_run": "true"}, content=ARTICLE_YAML, headers={**editor, **YAML}
    )
    assert as_json.status_code == as_yaml_.status_code == 200
    assert as_json.json() == as_yaml_.json()
    # As a write's JSON (from a write audit): a type built on JSON is JSON, and a body in
    # another charset is refused, not read as UTF-8.
    merge = {**editor, "Content-Type": "application/merge-patch+json"}
    as_plus_json = write_api.post(
        "/imports", params={"dry_run": "true"}, content=orjson.dumps(article()), headers=merge
    )
    assert as_plus_json.status_code == 200 and as_plus_json.json() == as_json.json()
    for odd_type in (
        "text/plain",
        "application/json; charset=latin-1",
        "text/yaml; charset=cp1258",
    ):
        odd = write_api.post("/imports", content=b"x", headers={**editor, "Content-Type": odd_type})
        assert odd.status_code == 415 and odd.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in odd.json()["errors"]] == ["header.content-type"]


def test_one_bad_record_refuses_the_whole_file(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    before = row_counts(write_api)
    data = article()
    data["facts"][0]["quote"] = "Tỷ lệ hộ nghèo của xóm còn 15%"
    bad_quote = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert bad_quote.status_code == 422
    # The quote is not in the text, and the figure ("12%") is not in the quote.
    assert fields(bad_quote) == ["body.facts.0.quote", "body.facts.0.figure"]

    data = article()
    data["counts"][0]["value"] = 8  # the quote says 9
    unprinted = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert unprinted.status_code == 422 and fields(unprinted) == ["body.counts.0.value"]

    data = article()
    data["source"]["text"] = data["source"]["text"].replace("có 9", "có dưới 10")
    data["counts"][0] |= {"value": 10, "quote": "hiện có dưới 10 đảng viên", "figure": "dưới 10"}
    exact = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert exact.status_code == 422 and fields(exact) == ["body.counts.0.qualifier"]
    data["counts"][0]["qualifier"] = "less_than"
    dry = {"dry_run": "true"}
    less = write_api.post("/imports", params=dry, content=as_yaml(data), headers={**editor, **YAML})
    assert less.status_code == 200, less.text

    data = article()
    data["counts"][0]["as_of"] = "2024-03-03"  # the article is of 2024-03-02
    too_late = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert too_late.status_code == 422 and fields(too_late) == ["body.counts.0.as_of"]

    data = article()
    data["counts"][0]["branch"] = "org:nowhere"
    unknown = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert unknown.status_code == 422 and fields(unknown) == ["body.counts.0.branch"]

    data = article()
    data["counts"][0]["colour"] = "red"
    typo = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert typo.status_code == 422 and fields(typo) == ["body.counts.0.colour"]

    data = article()
    data["source"]["text_file"] = "../sources/x.txt"
    del data["source"]["text"]
    no_text = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert no_text.status_code == 422 and fields(no_text) == ["body.source.text"]

    broken = write_api.post("/imports", content="format: [", headers={**editor, **YAML})
    assert broken.status_code == 422 and fields(broken) == ["body.yaml"]
    deep = write_api.post("/imports", content="[" * 50_000, headers={**editor, **YAML})
    assert deep.status_code == 422 and fields(deep) == ["body.yaml"]  # it was a 500

    # YAML writes NUL as "\0"; PostgreSQL cannot store it: refused on both databases.
    data = article()
    data["source"]["text"] += "\x00"
    data["counts"][0]["note"] = "a\x00b"
    nul = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert "\\0" in as_yaml(data)
    assert nul.status_code == 422, nul.text
    assert fields(nul) == ["body.source.text", "body.counts.0.note"]
    assert all("NUL character" in e["message"] for e in nul.json()["errors"])
    # Nor a lone surrogate (YAML's "\uD800"), which UTF-8 cannot encode: it was a 500.
    data = article()
    data["source"]["text"] += "\ud800"
    assert "\\uD800" in as_yaml(data)
    lone = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert lone.status_code == 422, lone.text
    assert fields(lone) == ["body.source.text"]
    assert "lone surrogate" in lone.json()["errors"][0]["message"]
    # A text of spaces and invisible marks, as no name or note may be.
    data = article()
    data["source"]["text"] = " \u200b\n "
    blank = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert blank.status_code == 422 and fields(blank)[0] == "body.source.text", blank.text
    assert "shows nothing" in blank.json()["errors"][0]["message"]
    assert row_counts(write_api) == before


def test_an_imports_figures_are_of_their_organizations_lifetime(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A figure dated by its own date (the admissions of 2023) is not of a day before its
    organization was founded, nor after it was dissolved; nor is a figure another article
    stated of it, when the file re-dates the organization."""
    before = row_counts(write_api)
    for dates, problem in (
        ({"founded_on": "2024-01-01"}, "2023-12-31 is before the organization was founded"),
        ({"dissolved_on": "2022-12-31"}, "2023-01-01 is after the organization was dissolved"),
    ):
        data = article()
        data["branches"][0] |= dates
        refused = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
        assert refused.status_code == 422 and fields(refused) == ["body.events.0.period"]
        assert problem in refused.json()["errors"][0]["message"]
    data = article()
    data["branches"][0] |= {"founded_on": "2020-01-01", "dissolved_on": "2019-01-01"}
    reversed_dates = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert reversed_dates.status_code == 422, reversed_dates.text
    assert fields(reversed_dates)[0].startswith("body.branches.0")
    assert row_counts(write_api) == before

    assert (
        write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML}).status_code
        == 200
    )
    other = article()
    other["source"]["key"] = "test-2024-thu-nghiem-2"
    other |= {"localities": [], "branches": [], "events": [], "facts": []}
    other["counts"][0] |= {"as_of": "2023-06-01"}
    assert (
        write_api.post("/imports", content=as_yaml(other), headers={**editor, **YAML}).status_code
        == 200
    )
    redated = article()
    redated["branches"][0]["dissolved_on"] = "2023-01-31"
    refused = write_api.post("/imports", content=as_yaml(redated), headers={**editor, **YAML})
    assert refused.status_code == 422 and fields(refused) == ["body.branches.0.dissolved_on"]
    assert "test-2024-thu-nghiem-2#members-2024" in refused.json()["errors"][0]["message"]


def test_an_import_needs_a_write_key(write_api: TestClient) -> None:
    before = row_counts(write_api)
    assert write_api.post("/imports", content=ARTICLE_YAML, headers=YAML).status_code == 401
    reader = make_key(write_api, "reader", "read")
    assert (
        write_api.post("/imports", content=ARTICLE_YAML, headers={**reader, **YAML}).status_code
        == 403
    )
    assert row_counts(write_api)["sources"] == before["sources"]


def test_a_retried_import_returns_the_first_report(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    headers = {**editor, **YAML, "Idempotency-Key": "import-1"}
    first = write_api.post("/imports", content=ARTICLE_YAML, headers=headers)
    retry = write_api.post("/imports", content=ARTICLE_YAML, headers=headers)
    assert retry.json() == first.json() and retry.json()["changes"] == 6
    assert retry.headers["idempotent-replayed"] == "true"
    changed = ARTICLE_YAML.replace("title: Chi bộ xóm Thử Nghiệm", "title: Khác")
    assert write_api.post("/imports", content=changed, headers=headers).status_code == 422


def _tien_phong_in_2018(members: int) -> dict[str, Any]:
    """A later article of one figure: Tiền Phong's members on 7 September 2018, the day
    the seed's article counts 13."""
    data = copy.deepcopy(article())
    data["source"]["key"] = "test-2019-tien-phong"
    data["source"]["text"] = (
        f"Tính đến ngày 7/9/2018, chi bộ xóm Tiền Phong có {members} đảng viên."
    )
    data["source"]["published_on"] = "2019-01-05"
    data["localities"], data["branches"], data["events"], data["facts"] = [], [], [], []
    data["counts"] = [
        {
            "id": "tien-phong-2018",
            "branch": TIEN_PHONG,
            "value": members,
            "as_of": "2018-09-07",
            "quote": f"chi bộ xóm Tiền Phong có {members} đảng viên",
            "figure": str(members),
        }
    ]
    return data


def test_a_later_article_may_disagree(write_api: TestClient, editor: dict[str, str]) -> None:
    """Conflicting reports: both kept and served; the import report names them."""
    data = _tien_phong_in_2018(14)
    report = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML}).json()
    assert report["conflicting_reports"] == [
        "test-2019-tien-phong#tien-phong-2018 says 14; "
        "hbdt-tien-phong#tien-phong-members-before-transfer says 13"
    ]
    branch = id_of(write_api, Branch, TIEN_PHONG)
    served = write_api.get("/membership-counts", params={"branch": branch}).json()["items"]
    assert sorted(c["value"] for c in served if c["as_of"] == "2018-09-07") == [13, 14]
    detail = write_api.get(f"/branches/{branch}").json()
    assert sorted(c["value"] for c in detail["counts"] if c["as_of"] == "2018-09-07") == [13, 14]


def test_a_later_article_that_agrees_is_no_conflict(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Only another value is a conflicting report: a second source of the same count of
    the same day confirms it."""
    report = _imported(write_api, _tien_phong_in_2018(13), editor)
    assert report.status_code == 200, report.text
    assert report.json()["added"][-1] == "counts[0] tien-phong-2018"
    assert report.json()["conflicting_reports"] == []


def test_a_new_text_must_keep_the_quotes_of_records_left_out(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    assert (
        write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML}).status_code
        == 200
    )
    before = row_counts(write_api)
    data = article()
    data["branches"] = []  # stored by the first import; its quote is no longer in the text
    data["source"]["text"] = data["source"]["text"].replace(
        "Chi bộ xóm Thử Nghiệm, xã Mai Hạ (Mai Châu) hiện có",
        "Tại xóm Thử Nghiệm, xã Mai Hạ (Mai Châu), chi bộ hiện có",
    )
    refused = write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML})
    assert refused.status_code == 422 and fields(refused) == ["body.source.text"]
    assert "branch" in refused.json()["detail"]
    assert row_counts(write_api) == before


def test_the_value_shown_first_names_its_alternatives(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Two sources, same branch, same day: the newer record is shown, the other beside it."""
    data = copy.deepcopy(article())
    data["source"]["key"] = "test-2020-ban-bo"
    data["source"]["text"] = "Ngày 21/01/2020, Chi bộ bản Bó có 23 đảng viên."
    data["source"]["published_on"] = "2020-01-25"
    data["localities"], data["branches"], data["events"], data["facts"] = [], [], [], []
    data["counts"] = [
        {
            "id": "ban-bo-2020",
            "branch": "org:vn2004:04111/ban-bo",
            "value": 23,
            "as_of": "2020-01-21",
            "quote": "Chi bộ bản Bó có 23 đảng viên",
            "figure": "23",
        }
    ]
    assert (
        write_api.post("/imports", content=as_yaml(data), headers={**editor, **YAML}).status_code
        == 200
    )
    branch = id_of(write_api, Branch, "org:vn2004:04111/ban-bo")
    latest = write_api.get(f"/branches/{branch}").json()["latest_count"]
    assert latest["value"] == 23  # same day: the one added last is shown first
    assert [(a["value"], a["source"]["key"]) for a in latest["alternatives"]] == [
        (22, "muong-bang-2020")
    ]


def test_a_file_may_drop_a_branchs_latest_count(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The count a branch's status names as its latest went with a foreign key error
    (409 on both databases, dry run included): a file could not take back a wrong figure
    that the API could delete."""
    done = write_api.post("/imports", content=ARTICLE_YAML, headers={**editor, **YAML})
    assert done.status_code == 200, done.text
    branch = id_of(write_api, Branch, "org:vn2004:05251/xom-thu-nghiem")
    assert write_api.get(f"/branches/{branch}").json()["latest_count"]["value"] == 9
    without = article() | {"counts": []}
    for dry_run in ("true", "false"):
        dropped = write_api.post(
            "/imports",
            params={"dry_run": dry_run},
            content=as_yaml(without),
            headers={**editor, **YAML},
        )
        assert dropped.status_code == 200, dropped.text
        assert dropped.json()["removed"] == ["test-2024-thu-nghiem#members-2024"]
    detail = write_api.get(f"/branches/{branch}").json()
    assert detail["latest_count"] is None and detail["counts"] == []
    assert detail["risk"]["level"] == "unknown"


def _imported(client: TestClient, data: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post("/imports", content=as_yaml(data), headers={**headers, **YAML})


def test_an_import_does_not_redefine_an_official_unit(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Mai Hạ comes from seed/reference: an article names it as a parent, nothing more."""
    data = article()
    data["localities"].insert(
        0,
        {"key": "vn2004:05251", "kind": "village", "name": "Thử Nghiệm",
         "parent": "vn2004:125", "quote": "xóm Thử Nghiệm"},
    )  # fmt: skip
    before = row_counts(write_api)
    refused = _imported(write_api, data, editor)
    assert refused.status_code == 422
    assert fields(refused) == ["body.localities.0.key"]
    assert "official unit" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    mai_ha = write_api.get(f"/localities/{id_of(write_api, Locality, 'vn2004:05251')}").json()
    assert (mai_ha["kind"], mai_ha["name"], mai_ha["source"]) == ("commune", "Mai Hạ", None)


def test_a_later_article_that_lists_an_earlier_ones_place_alike_is_told_to_name_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From the mutation audit: a second article listing the first one's village and
    chi bộ just as defined was told they were "defined differently" (by their source
    and quote, which only say where a definition comes from). It is told to name them by
    their keys; named so, without listing them, its figures are taken."""
    assert _imported(write_api, article(), editor).status_code == 200
    before = row_counts(write_api)
    later = article()
    later["source"]["key"] = "test-2024-thu-nghiem-2"
    refused = _imported(write_api, later, editor)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["body.localities.0.key", "body.branches.0.key"]
    messages = [e["message"] for e in refused.json()["errors"]]
    assert all("already defined, alike, by another source" in m for m in messages), messages
    assert all("name it by its key" in m for m in messages)
    assert row_counts(write_api) == before
    named = later | {"localities": [], "branches": []}
    taken = _imported(write_api, named, editor)
    assert taken.status_code == 200, taken.text
    assert taken.json()["added"][0] == "source test-2024-thu-nghiem-2"


def test_an_import_does_not_redefine_another_sources_place_or_organization(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A village and its chi bộ one article added are that article's: another naming
    them otherwise is refused, each by its key and the fields it would change, and the
    rows stay as the first defined them."""
    assert _imported(write_api, article(), editor).status_code == 200
    before = row_counts(write_api)
    other = article()
    other["source"]["key"] = "test-2024-thu-nghiem-2"
    other |= {"counts": [], "events": [], "facts": []}
    other["localities"][0]["code"] = "99999"
    other["branches"][0]["name"] = "Chi bộ Thử Nghiệm"
    refused = _imported(write_api, other, editor)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["body.localities.0.key", "body.branches.0.key"]
    messages = [e["message"] for e in refused.json()["errors"]]
    assert all("is defined differently by another source" in m for m in messages), messages
    assert "code" in messages[0] and "name" in messages[1]
    assert row_counts(write_api) == before
    village = write_api.get(
        f"/localities/{id_of(write_api, Locality, 'vn2004:05251/xom-thu-nghiem')}"
    )
    branch = write_api.get(
        f"/branches/{id_of(write_api, Branch, 'org:vn2004:05251/xom-thu-nghiem')}"
    )
    assert village.json()["code"] is None
    assert branch.json()["name"] == "Chi bộ xóm Thử Nghiệm"


def test_an_organization_an_import_moves_leaves_its_old_communes_totals(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Chi bộ xóm Thử Nghiệm moved by its file from Mai Hạ to Mường Bang: Mai Hạ's stored
    yearly totals are built again without its 9 members, as Mường Bang's with them, so
    every stored figure is what the data gives (`branchstats check`)."""
    assert _imported(write_api, article(), editor).status_code == 200
    moved = article()
    moved["branches"][0]["locality"] = "vn2004:04111"
    done = _imported(write_api, moved, editor)
    assert done.status_code == 200 and done.json()["changed"] == [
        "branches[0] org:vn2004:05251/xom-thu-nghiem"
    ], done.text
    engine = write_api.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert check_stored(conn, RiskRules()).findings == []


def test_an_import_keeps_each_tree_in_order(write_api: TestClient, editor: dict[str, str]) -> None:
    data = article()
    assert _imported(write_api, data, editor).status_code == 200
    before = row_counts(write_api)
    # The branch under itself: in the second import of its file.
    itself = copy.deepcopy(data)
    itself["branches"][0]["parent"] = itself["branches"][0]["key"]
    refused = _imported(write_api, itself, editor)
    assert refused.status_code == 422 and fields(refused) == ["body.branches.0.parent"]
    assert "under itself" in refused.json()["errors"][0]["message"]
    # A commune under the village; the village's chi bộ become a province's đảng bộ.
    misplaced = copy.deepcopy(data)
    misplaced["localities"].append(
        {"key": "test:under-village", "kind": "commune", "name": "Thử Nghiệm",
         "parent": data["localities"][0]["key"], "quote": "xóm Thử Nghiệm"}
    )  # fmt: skip
    misplaced["branches"][0]["kind"] = "province_committee"
    refused = _imported(write_api, misplaced, editor)
    assert refused.status_code == 422
    assert fields(refused) == ["body.localities.1.parent", "body.branches.0.parent"]
    assert row_counts(write_api) == before
    branch = write_api.get(f"/branches/{id_of(write_api, Branch, data['branches'][0]['key'])}")
    assert branch.json()["parent"]["id"] == id_of(write_api, Branch, "org:vn2004:05251")


def test_an_import_puts_no_organization_deeper_than_the_sums_look(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Four organizations each under the one before, below Chi bộ xóm Thử Nghiệm (1
    below Mai Hạ's committee): the fourth would stand 5 below, deeper than the sums look
    for a count that includes its own (app.services.place_tree)."""
    data = article()
    parent = data["branches"][0]["key"]
    for n in range(1, 5):
        data["branches"].append(
            {"key": f"test:depth-{n}", "kind": "other", "name": "Chi bộ xóm Thử Nghiệm",
             "parent": parent, "quote": "Chi bộ xóm Thử Nghiệm"}
        )  # fmt: skip
        parent = f"test:depth-{n}"
    before = row_counts(write_api)
    refused = _imported(write_api, data, editor)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["body.branches.4.parent"]
    assert "more than 4 organizations below" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    data["branches"].pop()
    assert _imported(write_api, data, editor).status_code == 200


def test_an_unreadable_period_is_named_by_its_field(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    data = article()
    data["events"][0]["period"] = "mùa xuân năm ngoái"  # "last spring": no period read
    refused = _imported(write_api, data, editor)
    assert refused.status_code == 422 and fields(refused) == ["body.events.0.period"]


def test_a_body_is_read_before_the_write_lock_is_taken(
    write_api: TestClient, editor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a security review: the YAML was parsed in the transaction, holding the write
    lock (SQLite's, or the data version's row on PostgreSQL) while a large file was read:
    every other key's writes waited, then got 503s."""
    steps: list[str] = []
    parse, begin = imports_api.parse_body, writes_service._begin

    def parsed(*args: Any) -> Any:
        steps.append("parse")
        return parse(*args)

    def began(*args: Any) -> None:
        steps.append("begin")
        begin(*args)

    monkeypatch.setattr(imports_api, "parse_body", parsed)
    monkeypatch.setattr(writes_service, "_begin", began)
    dry = {"dry_run": "true"}
    assert (
        write_api.post(
            "/imports", params=dry, content=ARTICLE_YAML, headers={**editor, **YAML}
        ).status_code
        == 200
    )
    assert steps == ["parse", "begin"]
    steps.clear()
    unreadable = write_api.post("/imports", content="format: [", headers={**editor, **YAML})
    assert unreadable.status_code == 422 and steps == ["parse"]


def test_loading_the_seed_again_keeps_what_editors_changed(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """`branchstats serve` loads the seed at every start. From an operations audit: it
    applied each file as it was, reverting a corrected note and bringing a deleted fact
    back, with no audit entry. An article edited through the API is left as edited (an
    import with force lets the file win); the others load as before, changing nothing."""
    engine = write_api.app.state.engine  # type: ignore[attr-defined]
    count = tien_phong_count_path(write_api)
    assert patch(write_api, count, {"note": "checked by the desk"}, editor).status_code == 200
    fact = f"/facts/{id_of(write_api, Fact, 'hbdt-tien-phong#tien-phong-income-2018')}"
    assert delete(write_api, fact, editor).status_code == 204
    before = row_counts(write_api)

    report = load_seed(engine, REPO_ROOT / "seed", RiskRules())

    assert list(report.left_as_edited) == ["hbdt-tien-phong"]
    assert len(report.left_as_edited["hbdt-tien-phong"]) == 2
    assert "left as edited through the API" in report.summary()
    # What the file would change, none of it made: here the two undoings.
    held = report.held_back["hbdt-tien-phong"]
    assert sorted(held) == [
        "add facts[0] tien-phong-income-2018",
        "change counts[0] tien-phong-members-before-transfer",
    ], held
    assert "held back with them, every change the file makes (2)" in report.summary()
    assert report.changes == 0 and len(report.articles) == 4
    assert write_api.get(count).json()["note"] == "checked by the desk"
    assert write_api.get(fact).status_code == 404
    assert row_counts(write_api) == before


def _data_version(client: TestClient) -> int | None:
    with Reader.open(client.app.state.engine) as reader:  # type: ignore[attr-defined]
        return data_version(reader)


def test_a_file_already_imported_writes_nothing(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From a write audit: each import of an unchanged file rewrote its places' search
    words, which raised the data version and dropped every kept answer of every server."""
    first = _imported(write_api, article(), editor)
    assert first.status_code == 200, first.text
    version = _data_version(write_api)
    again = _imported(write_api, article(), editor)
    assert again.status_code == 200 and again.json()["changes"] == 0, again.text
    assert _data_version(write_api) == version
    # A name that changes still changes the words it is found by.
    renamed = article()
    renamed["localities"][0]["title"] = "xóm Thử Nghiệm Mới"
    assert _imported(write_api, renamed, editor).status_code == 200
    assert _data_version(write_api) != version
    found = write_api.get("/localities", params={"q": "thu nghiem moi"}).json()["items"]
    assert [item["official_name"] for item in found] == ["xóm Thử Nghiệm Mới"]


@pytest.mark.parametrize(
    ("section", "changes", "field"),
    [
        # Wider than its column: a 500 on PostgreSQL, stored whole on SQLite.
        ("localities", {"name": "N" * 201}, "body.localities.0.name"),
        ("localities", {"title": "xóm " + "T" * 247}, "body.localities.0.title"),
        # Within its own limit, but folded for search with the name, over 600.
        ("branches", {"description": "ß" * 300}, "body.branches.0.description"),
        # Stored, and shown so by the audit log: an escape sequence, a text-direction override.
        ("branches", {"name": "Chi bộ\x1b[31m"}, "body.branches.0.name"),
        ("branches", {"name": "Chi bộ\u202e"}, "body.branches.0.name"),
        # Read laxly: "21" stored as 21, true as 1.
        ("counts", {"value": "9"}, "body.counts.0.value"),
        ("counts", {"value": 9.0}, "body.counts.0.value"),
        ("counts", {"applies_to_each": "true"}, "body.counts.0.applies_to_each"),
        ("events", {"value": True}, "body.events.0.value"),
        ("facts", {"value": "12"}, "body.facts.0.value"),
    ],
)
@pytest.mark.parametrize("as_json", [True, False])
def test_an_import_refuses_what_a_write_refuses(
    write_api: TestClient,
    editor: dict[str, str],
    section: str,
    changes: dict[str, Any],
    field: str,
    as_json: bool,
) -> None:
    """From a write audit: an import, in JSON or YAML, took what a write of the same
    record refuses, each case noted above; now the same 422 names the field, and
    nothing is written."""
    data = article()
    data[section][0] |= changes
    before = row_counts(write_api)
    if as_json:
        body, content_type = orjson.dumps(data, default=str), "application/json"
    else:
        body, content_type = as_yaml(data).encode(), "application/yaml"
    refused = write_api.post(
        "/imports", content=body, headers={**editor, "Content-Type": content_type}
    )
    assert refused.status_code == 422 and fields(refused) == [field], refused.text
    assert row_counts(write_api) == before
