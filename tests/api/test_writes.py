"""Writes: keys, one transaction per request, provenance checks, If-Match, idempotent POSTs.

Every test runs on SQLite and PostgreSQL over a fresh seeded database (`write_api`).
The helpers at the top are shared with the import and audit tests.
"""

import csv
import gzip
import io
import re
import threading
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.api import auth as auth_dependency
from app.models import Branch, Locality, MembershipCount, Source, metadata
from app.openapi import openapi_document
from app.services.auth import create_key, revoke_key
from app.services.json_sql import gzip_etag, representation_etag
from tests.api.helpers import walk

TIEN_PHONG = "org:vn2004:05251/xom-tien-phong"
TIEN_PHONG_SOURCE = "hbdt-tien-phong"
TIEN_PHONG_QUOTE = "nâng tổng số đảng viên của chi bộ từ 13 lên 15 đồng chí"
NEW_TEXT = (
    "Chi bộ xóm Thử Nghiệm, xã Mai Hạ hiện có 9 đảng viên. Năm 2023, chi bộ kết nạp "
    "2 đảng viên mới. Tỷ lệ hộ nghèo của xóm còn 12%."
)


# -- Shared helpers ---------------------------------------------------------------------
def make_key(client: TestClient, name: str = "editor", scope: str = "write") -> dict[str, str]:
    """Authorization headers for a new key in the client's database."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        made = create_key(session, name, scope)
        session.commit()
    return {"Authorization": f"Bearer {made.token}"}


def tien_phong_count_path(client: TestClient) -> str:
    """The path of the seed's count of xóm Tiến Phong's members before the transfer."""
    count_id = id_of(
        client, MembershipCount, f"{TIEN_PHONG_SOURCE}#tien-phong-members-before-transfer"
    )
    return f"/membership-counts/{count_id}"


@pytest.fixture
def editor(write_api: TestClient) -> dict[str, str]:
    return make_key(write_api)


def row_counts(client: TestClient) -> dict[str, int]:
    """Rows in every table: a refused request must leave all of them as they were."""
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def id_of(client: TestClient, model: Any, key: str) -> int:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        found = session.execute(select(model.id).where(model.key == key)).scalar_one()
    return int(found)


def etag_of(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def patch(
    client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """PATCH with the item's current ETag, as a careful client does."""
    return client.patch(path, json=body, headers={**headers, "If-Match": etag_of(client, path)})


def delete(client: TestClient, path: str, headers: dict[str, str]) -> httpx.Response:
    return client.delete(path, headers={**headers, "If-Match": etag_of(client, path)})


def fields(response: httpx.Response) -> list[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return [e["field"] for e in response.json().get("errors", [])]


def post_source(client: TestClient, headers: dict[str, str], **extra: Any) -> httpx.Response:
    """POST /sources of a test article (NEW_TEXT, published 2024-03-02), or as `extra` says."""
    body = {
        "key": "test-thu-nghiem",
        "text": NEW_TEXT,
        "publisher": "Báo Thử Nghiệm",
        "published_on": "2024-03-02",
    } | extra
    return client.post("/sources", json=body, headers=headers)


def new_source(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = post_source(client, headers, **extra)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def admissions_body(source_id: int, branch_id: int) -> dict[str, Any]:
    """The admissions of 2023 that NEW_TEXT states, without their period."""
    return {
        "source_id": source_id, "branch_id": branch_id, "kind": "admission", "value": 2,
        "quote": "Năm 2023, chi bộ kết nạp 2 đảng viên mới", "figure": "2",
    }  # fmt: skip


def count_body(source_id: int, branch_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "branch_id": branch_id,
        "value": 9,
        "quote": "hiện có 9 đảng viên",
        "figure": "9",
    } | extra


# -- Keys -------------------------------------------------------------------------------
def test_reads_stay_public_and_writes_need_a_write_key(write_api: TestClient) -> None:
    reader = make_key(write_api, "reader", "read")
    before = row_counts(write_api)
    assert write_api.get("/branches").status_code == 200
    body = {"key": "x-source", "text": "some text"}

    missing = write_api.post("/sources", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="branchstats"'
    assert missing.json()["title"] == "Unauthorized"
    assert fields(missing) == ["header.authorization"]

    for header in ("Bearer bs_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer"):
        bad = write_api.post("/sources", json=body, headers={"Authorization": header})
        assert bad.status_code == 401, header
        assert bad.headers["www-authenticate"].startswith("Bearer")
        assert fields(bad) == ["header.authorization"]

    read_only = write_api.post("/sources", json=body, headers=reader)
    assert read_only.status_code == 403
    assert 'error="insufficient_scope"' in read_only.headers["www-authenticate"]
    assert fields(read_only) == ["header.authorization"]
    assert read_only.headers["content-type"] == "application/problem+json"
    assert row_counts(write_api) == before


# Bodies a writer is told about (422), each naming what is wrong with it.
TOLD_ABOUT = {
    '{"key": "x-source", "text": ': "body",  # no JSON
    '{"key": "x-source", "key": "y-source", "text": "t"}': "body.key",  # a name twice
    '{"key": "x-source"}': "body.text",  # a field missing
}


@pytest.mark.parametrize("body", TOLD_ABOUT)
def test_a_write_asks_for_its_key_before_it_reads_its_body(
    write_api: TestClient, editor: dict[str, str], body: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From an earlier audit: the body was read and parsed first, so a caller without a
    key was told what its JSON lacked (a 422 for one that is no JSON, or names a field
    twice), and made the server parse it. A 401 without a key, a 403 with a read-only
    one, whatever the body; a writer is told about the body, its key checked once."""
    reader = make_key(write_api, "reader", "read")
    checked: list[str] = []
    authenticate = auth_dependency.authenticate
    monkeypatch.setattr(
        auth_dependency,
        "authenticate",
        lambda session, token: checked.append(token) or authenticate(session, token),
    )
    before = row_counts(write_api)
    json_type = {"Content-Type": "application/json"}
    for headers, status in (({}, 401), (reader, 403), (editor, 422)):
        checked.clear()
        answer = write_api.post("/sources", content=body, headers=json_type | headers)
        assert answer.status_code == status, (headers, answer.text)
        told = "header.authorization" if status != 422 else TOLD_ABOUT[body]
        assert [f.split(".")[0] if told == "body" else f for f in fields(answer)] == [told]
        assert len(checked) == 1
    anonymous = write_api.post("/imports", content=body, headers=json_type)
    assert anonymous.status_code == 401 and fields(anonymous) == ["header.authorization"]
    assert row_counts(write_api) == before


def test_two_authorization_headers_are_a_400_in_either_order(write_api: TestClient) -> None:
    """From a security audit: the first was read and the second ignored, so a valid key
    then a bad one wrote, while a proxy reading the last line saw another caller."""
    (token,) = make_key(write_api, "editor").values()
    before = row_counts(write_api)
    for lines in ([token, "Bearer bad"], ["Bearer bad", token], [token, token]):
        headers = [("Authorization", line) for line in lines]
        for method, path in (("POST", "/sources"), ("GET", "/audit")):
            body = {"key": "two-keys", "text": "t"} if method == "POST" else None
            refused = write_api.request(method, path, json=body, headers=headers)
            assert refused.status_code == 400, (lines, path, refused.text)
            assert fields(refused) == ["header.authorization"]
            assert 'error="invalid_request"' in refused.headers["www-authenticate"]
    assert row_counts(write_api) == before


def test_a_revoked_key_is_refused(write_api: TestClient) -> None:
    headers = make_key(write_api, "leaving")
    assert (
        write_api.post("/sources", json={"key": "a-b", "text": "t"}, headers=headers).status_code
        == 201
    )
    with Session(write_api.app.state.engine) as session:  # type: ignore[attr-defined]
        revoke_key(session, "leaving")
        session.commit()
    refused = write_api.post("/sources", json={"key": "c-d", "text": "t"}, headers=headers)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


# -- Sources ----------------------------------------------------------------------------
def test_a_new_source_is_served_with_its_etag_and_location(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    created = post_source(write_api, editor)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location == f"/sources/{created.json()['id']}"
    assert created.headers["etag"] == etag_of(write_api, location)
    assert created.headers["cache-control"] == "no-store"
    assert write_api.get(f"{location}/text").text == NEW_TEXT

    again = write_api.post("/sources", json={"key": "test-thu-nghiem", "text": "x"}, headers=editor)
    assert again.status_code == 409 and fields(again) == ["body.key"]
    unknown = write_api.post(
        "/sources", json={"key": "k", "text": "x", "colour": 1}, headers=editor
    )
    assert unknown.status_code == 422 and fields(unknown) == ["body.colour"]


def test_a_new_text_must_keep_every_quote(write_api: TestClient, editor: dict[str, str]) -> None:
    source_id = id_of(write_api, Source, TIEN_PHONG_SOURCE)
    path = f"/sources/{source_id}"
    old_text = write_api.get(f"{path}/text").text
    before = row_counts(write_api)

    cut = patch(write_api, path, {"text": old_text.replace("13 lên 15", "13 lên 16")}, editor)
    assert cut.status_code == 422
    assert fields(cut) == ["body.text"]
    assert "membership_count" in cut.json()["errors"][0]["message"]
    assert write_api.get(f"{path}/text").text == old_text
    assert row_counts(write_api) == before

    longer = patch(write_api, path, {"text": old_text + "\n\nĐính chính: không có."}, editor)
    assert longer.status_code == 200, longer.text
    assert write_api.get(f"{path}/text").text.endswith("không có.")
    entry = write_api.get("/audit", params={"entity": "source"}, headers=editor).json()["items"][0]
    assert entry["before"]["text"] == old_text and entry["after"]["text"].endswith("không có.")


def test_dating_a_source_redates_its_undated_figures(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source_id = id_of(write_api, Source, TIEN_PHONG_SOURCE)
    counts = write_api.get("/membership-counts", params={"source": source_id}).json()["items"]
    undated = next(c for c in counts if c["as_of"] is None)
    dated = next(c for c in counts if c["as_of"] is not None)

    assert (
        patch(
            write_api, f"/sources/{source_id}", {"published_on": "2019-05-01"}, editor
        ).status_code
        == 200
    )

    after = {
        c["id"]: c
        for c in write_api.get("/membership-counts", params={"source": source_id}).json()["items"]
    }
    assert after[undated["id"]]["evidence_date"] == "2019-05-01"
    assert after[undated["id"]]["evidence_date_basis"] == "published"
    assert after[dated["id"]]["evidence_date"] == dated["evidence_date"]


def test_a_source_in_use_is_not_deleted(write_api: TestClient, editor: dict[str, str]) -> None:
    used = f"/sources/{id_of(write_api, Source, TIEN_PHONG_SOURCE)}"
    refused = delete(write_api, used, editor)
    assert refused.status_code == 409
    assert fields(refused) == ["path.source_id"]
    assert_each_list_holds_what_it_is_said_to(write_api, refused.json()["detail"], 3)

    lonely = new_source(write_api, editor)
    assert delete(write_api, f"/sources/{lonely['id']}", editor).status_code == 204
    assert write_api.get(f"/sources/{lonely['id']}").status_code == 404


def assert_each_list_holds_what_it_is_said_to(
    client: TestClient, detail: str, at_least: int
) -> None:
    """A refusal to delete names each kind of record in the way with the list that shows
    it ("2 departures (/admissions?branch=13&kind=departure)"): each list holds that many.
    An editor's audit: "2 events" was four lists to try."""
    said = re.findall(r"(\d+) [^,;(]+ \((/[^)]+)\)", detail)
    assert len(said) >= at_least, detail
    for number, path in said:
        listed = client.get(f"{path}&limit=500")  # each path has its query
        assert listed.status_code == 200, (path, listed.text)
        assert len(listed.json()["items"]) == int(number), (path, detail)


# -- Localities and branches -------------------------------------------------------------
def _village_and_branch(
    client: TestClient, headers: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    source = new_source(client, headers)
    village = client.post(
        "/localities",
        json={
            "key": "vn2004:05251/xom-thu-nghiem",
            "kind": "village",
            "name": "Thử Nghiệm",
            "official_name": "xóm Thử Nghiệm",
            "parent_id": id_of(client, Locality, "vn2004:05251"),
            "source_id": source["id"],
            "quote": "xóm Thử Nghiệm, xã Mai Hạ",
        },
        headers=headers,
    )
    assert village.status_code == 201, village.text
    branch = client.post(
        "/branches",
        json={
            "key": "org:vn2004:05251/xom-thu-nghiem",
            "kind": "village_branch",
            "name": "Chi bộ xóm Thử Nghiệm",
            "locality_id": village.json()["id"],
            "parent_id": id_of(client, Branch, "org:vn2004:05251"),
            "source_id": source["id"],
            "quote": "Chi bộ xóm Thử Nghiệm",
        },
        headers=headers,
    )
    assert branch.status_code == 201, branch.text
    return source, village.json(), branch.json()


def test_a_new_village_and_branch_are_listed_and_risk_follows_a_count(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, village, branch = _village_and_branch(write_api, editor)
    assert [p["official_name"] for p in village["parents"]][:1] == ["Xã Mai Hạ"]
    assert village["today"]["province"]["official_name"] == "Tỉnh Phú Thọ"
    assert branch["risk"]["level"] == "unknown" and branch["latest_count"] is None
    mai_ha = id_of(write_api, Locality, "vn2004:05251")
    listed = write_api.get("/branches", params={"locality": mai_ha, "q": "Thử Nghiệm"}).json()
    assert [b["id"] for b in listed["items"]] == [branch["id"]]

    count = write_api.post(
        "/membership-counts",
        json=count_body(source["id"], branch["id"], value=3, quote="9 đảng viên", figure="3"),
        headers=editor,
    )
    # The figure must be printed in the quote: 3 is not.
    assert count.status_code == 422 and fields(count) == ["body.figure"]
    # Nor may the value differ from the figure: the sentence says 9.
    count = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch["id"], value=3), headers=editor
    )
    assert count.status_code == 422 and fields(count) == ["body.value"]
    assert count.json()["errors"][0]["message"] == ("3 is not a number the figure '9' prints (9)")
    later = write_api.post(
        "/sources",
        json={
            "key": "test-thu-nghiem-2",
            "text": "Chi bộ xóm Thử Nghiệm nay chỉ còn 3 đảng viên.",
            "published_on": "2024-06-01",
        },
        headers=editor,
    ).json()
    body = count_body(later["id"], branch["id"], value=3, quote="chỉ còn 3 đảng viên", figure="3")
    count = write_api.post("/membership-counts", json=body, headers=editor)
    assert count.status_code == 201, count.text
    assert count.json()["evidence_date"] == "2024-06-01"

    # Stats and risk reflect the write at once: the list reads the refreshed status.
    detail = write_api.get(f"/branches/{branch['id']}").json()
    assert detail["latest_count"]["value"] == 3 and detail["members"] == {"low": 3, "high": 3}
    assert "too_few_members" in detail["risk"]["criteria_met"]
    at_risk = write_api.get("/branches", params={"risk": "true", "q": "Thử Nghiệm"}).json()
    assert [b["id"] for b in at_risk["items"]] == [branch["id"]]
    summary = write_api.get(f"/localities/{mai_ha}").json()["summary"]
    assert summary["members"]["low"] >= 3


def test_organizations_need_a_name_or_a_group_size(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)
    before = row_counts(write_api)
    response = write_api.post(
        "/branches",
        json={"key": "org:x", "kind": "other", "source_id": source["id"], "quote": "Chi bộ xóm"},
        headers=editor,
    )
    assert response.status_code == 422 and fields(response) == ["body.name"]
    no_source = write_api.post(
        "/branches", json={"key": "org:y", "kind": "other", "name": "Chi bộ"}, headers=editor
    )
    assert no_source.status_code == 422
    assert set(fields(no_source)) == {"body.source_id", "body.quote"}
    assert row_counts(write_api) == before


def test_a_named_organization_is_not_a_group(write_api: TestClient, editor: dict[str, str]) -> None:
    """From a write audit: "Chi bộ thôn Khéo Lẹng" given a group_size of 4 had its count of
    38 read as a group's whole (risk unknown). Named, or an unnamed group: not both."""
    source = new_source(write_api, editor)
    khe_leng = f"/branches/{id_of(write_api, Branch, 'org:vn2004:04309/thon-kheo-leng')}"
    six = f"/branches/{id_of(write_api, Branch, 'org:vn2004:428/six-branches-at-risk')}"
    body = {"key": "org:x", "kind": "other", "source_id": source["id"], "quote": "Chi bộ xóm",
            "name": "Chi bộ xóm Thử Nghiệm", "group_size": 3}  # fmt: skip
    before = row_counts(write_api)
    made = write_api.post("/branches", json=body, headers=editor)
    assert made.status_code == 422 and fields(made) == ["body.group_size"], made.text
    assert "not both" in made.json()["errors"][0]["message"]
    grouped = patch(write_api, khe_leng, {"group_size": 4}, editor)
    assert grouped.status_code == 422 and fields(grouped) == ["body.group_size"]
    named = patch(write_api, six, {"name": "Sáu chi bộ"}, editor)
    assert named.status_code == 422 and fields(named) == ["body.name"]
    assert row_counts(write_api) == before
    # Both at once: a group named, its size cleared, is one organization.
    renamed = patch(write_api, six, {"name": "Chi bộ Thử", "group_size": None}, editor)
    assert renamed.status_code == 200, renamed.text


def test_a_name_with_a_digit_of_another_script_is_stored(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From a parity audit: "Thôn ²" and "Thôn ①" (digits to Unicode, not to int()) made
    every write of such a name a 500, its alphabetical key unbuilt."""
    source = new_source(write_api, editor)
    body = {"key": "org:x", "kind": "other", "source_id": source["id"], "name": "Chi bộ xóm ²",
            "quote": "Chi bộ xóm"}  # fmt: skip
    made = write_api.post("/branches", json=body, headers=editor)
    assert made.status_code == 201, made.text
    renamed = patch(write_api, f"/branches/{made.json()['id']}", {"name": "Chi bộ ①"}, editor)
    assert renamed.status_code == 200, renamed.text
    # Ordered by name as a sign of another script: after every "Chi bộ <letters>".
    listed = write_api.get("/branches", params={"sort": "name", "limit": 200}).json()["items"]
    names = [item["name"] or "" for item in listed]
    after = names[names.index("Chi bộ ①") + 1 :]
    assert not [name for name in after if name.startswith("Chi bộ ")], names


@pytest.mark.parametrize(
    ("path", "changes", "field"),
    [
        ("village", {"name": "N" * 201}, "body.name"),  # the column holds 200
        ("village", {"official_name": "xóm " + "T" * 247}, "body.official_name"),  # 250
        ("village", {"name": "Thử\nNghiệm"}, "body.name"),  # a name is one line
        ("branch", {"description": "D" * 501}, "body.description"),
        # Within its limit, but searched with the name as "ss" each: over 600.
        ("branch", {"description": "ß" * 300}, "body.description"),
        ("branch", {"name": "Chi bộ \x1b[31mThử"}, "body.name"),  # paints a terminal red
        ("branch", {"name": "Chi bộ \u202eỆHT"}, "body.name"),  # shown right to left
        ("branch", {"note": "a\x07b"}, "body.note"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_name_its_column_cannot_hold_is_refused(
    write_api: TestClient,
    editor: dict[str, str],
    method: str,
    path: str,
    changes: dict[str, str],
    field: str,
) -> None:
    """From a write audit: a place's name of 201 to 300 characters, or an organization's
    description longer than its search column, was a 500 on PostgreSQL (and on SQLite
    for a POST) and stored whole by a PATCH on SQLite, which checks no width; control
    and text-direction characters were stored, and shown so by exports and the audit
    log."""
    source, village, branch = _village_and_branch(write_api, editor)
    made = {"village": village, "branch": branch}[path]
    collection = {"village": "/localities", "branch": "/branches"}[path]
    before = row_counts(write_api)
    stored = write_api.get(f"{collection}/{made['id']}").json()
    if method == "PATCH":
        refused = patch(write_api, f"{collection}/{made['id']}", changes, editor)
    else:
        body = {k: v for k, v in made.items() if k in CREATE_FIELDS[path]}
        body |= {"key": made["key"] + "-2", "source_id": source["id"]} | changes
        refused = write_api.post(collection, json=body, headers=editor)
    assert refused.status_code == 422 and fields(refused) == [field], refused.text
    assert row_counts(write_api) == before
    assert write_api.get(f"{collection}/{made['id']}").json() == stored


CREATE_FIELDS = {
    "village": {"kind", "name", "official_name", "quote"},
    "branch": {"kind", "name", "quote"},
}


def test_a_figure_cut_from_its_qualifying_word_is_refused(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From a write audit: "5" of "dưới 5 đảng viên", sent as exactly 5, became the
    branch's latest count, where "dưới 5" with `exact` is refused."""
    text = "Chi bộ có dưới 5 đảng viên."
    source = new_source(write_api, editor, key="test-duoi", text=text)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    cut = count_body(source["id"], branch, value=5, quote=text, figure="5")
    before = row_counts(write_api)
    refused = write_api.post("/membership-counts", json=cut, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.qualifier"], refused.text
    assert "'dưới 5'" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    qualified = cut | {"qualifier": "less_than"}
    assert write_api.post("/membership-counts", json=qualified, headers=editor).status_code == 201


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("quote", "   ", "quote_not_a_clause"),  # folds to "", which every text contains
        ("quote", "\u00a0\u00a0\n", "quote_not_a_clause"),
        ("quote", " . ", "quote_not_a_clause"),
        ("quote", "ệ  ", "quote_not_a_clause"),  # one letter: found in most texts
        # From a mutation audit: three characters, no letter or digit (in any article),
        # and two once the spaces are folded, passed as clauses (then refused only for
        # not being in this source's text).
        ("quote", "...", "quote_not_a_clause"),
        ("quote", "- -", "quote_not_a_clause"),
        ("quote", "ab\u00a0", "quote_not_a_clause"),
        ("name", "   ", "blank"),
        ("name", "\u200b\u200b", "blank"),  # prints nothing
    ],
)
def test_a_blank_quote_or_name_is_refused(
    write_api: TestClient, editor: dict[str, str], field: str, value: str, why: str
) -> None:
    """From a write audit: a quote of whitespace passed the "found in the source" check
    (its folded form, "", is in every text), and stood as a branch's proof."""
    source = new_source(write_api, editor)
    body = {"key": "org:x", "kind": "other", "source_id": source["id"], "name": "Chi bộ xóm",
            "quote": "Chi bộ xóm"} | {field: value}  # fmt: skip
    before = row_counts(write_api)
    refused = write_api.post("/branches", json=body, headers=editor)
    assert refused.status_code == 422 and fields(refused) == [f"body.{field}"], refused.text
    assert refused.json()["errors"][0]["type"] == why
    assert row_counts(write_api) == before


@pytest.mark.parametrize("text", ["   ", " \u200b\u200b ", "\n\t"])
def test_a_blank_source_text_is_refused(
    write_api: TestClient, editor: dict[str, str], text: str
) -> None:
    """From an API audit: a text of spaces or invisible marks was stored as an article,
    where every name and note is refused so."""
    before = row_counts(write_api)
    refused = post_source(write_api, editor, text=text)
    assert refused.status_code == 422 and fields(refused) == ["body.text"], refused.text
    path = f"/sources/{new_source(write_api, editor)['id']}"
    changed = patch(write_api, path, {"text": text}, editor)
    assert changed.status_code == 422 and fields(changed) == ["body.text"], changed.text
    after = row_counts(write_api)
    assert after == before | {"sources": after["sources"], "audit_log": after["audit_log"]}
    assert (after["sources"], after["audit_log"]) == (
        before["sources"] + 1,
        before["audit_log"] + 1,
    )


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("PATCH", rb'{"name": "Chi b\u1ed9 A", "name": "Chi b\u1ed9 B"}', "body.name"),
        ("PATCH", b'{"note": null, "founded_on": "2001-01-01", "note": "x"}', "body.note"),
        (
            "POST",
            b'{"key": "a-b", "text": "M\\u1ed9t v\\u0103n b\\u1ea3n.", "key": "c-d"}',
            "body.key",
        ),
    ],
)
def test_a_field_sent_twice_is_refused(
    write_api: TestClient, editor: dict[str, str], method: str, body: bytes, field: str
) -> None:
    """From an API audit: {"name": "x", "name": "y"} renamed the branch "y", the first
    value dropped unseen, where an unknown field is refused so that no typo is."""
    path = "/sources" if method == "POST" else f"/branches/{id_of(write_api, Branch, TIEN_PHONG)}"
    headers = {**editor, "content-type": "application/json"}
    if method == "PATCH":
        headers["If-Match"] = etag_of(write_api, path)
    before, item = row_counts(write_api), write_api.get(path).json()
    refused = write_api.request(method, path, content=body, headers=headers)
    assert refused.status_code == 422 and fields(refused) == [field], refused.text
    assert row_counts(write_api) == before
    if method == "PATCH":
        assert write_api.get(path).json() == item


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"value": 0.5}, "body.value"),
        ({"value": 0}, "body.value"),
        ({"value": 5}, "body.value"),
        ({"value": 1, "value_max": 3}, "body.value_max"),
        ({"value": 1, "qualifier": "less_than"}, "body.qualifier"),
        ({"value": 1, "out_of": 2}, "body.out_of"),
    ],
)
def test_a_flag_is_one(
    write_api: TestClient, editor: dict[str, str], extra: dict[str, Any], field: str
) -> None:
    """From a write audit: at_risk_reported of 0.5 or 0 was stored and read as not
    reported, of 5 as reported. A flag is 1, exact: a source says it."""
    text = "Chi bộ xóm Thử Nghiệm có nguy cơ không còn chi bộ."
    source = new_source(write_api, editor, key="test-flag", text=text)
    branch = id_of(write_api, Branch, "org:vn2004:05251/xom-tien-phong")
    fact = {"source_id": source["id"], "branch_id": branch, "metric": "at_risk_reported",
            "quote": "có nguy cơ không còn chi bộ"}  # fmt: skip
    before = row_counts(write_api)
    refused = write_api.post("/facts", json=fact | extra, headers=editor)
    assert refused.status_code == 422 and fields(refused) == [field], refused.text
    assert row_counts(write_api) == before
    made = write_api.post("/facts", json=fact | {"value": 1}, headers=editor)
    assert made.status_code == 201, made.text


def test_reference_units_are_not_edited_through_the_api(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    path = f"/localities/{id_of(write_api, Locality, 'vn2004:05251')}"
    for refused in (patch(write_api, path, {"name": "Mai Hạ Mới"}, editor),
                    delete(write_api, path, editor)):  # fmt: skip
        assert refused.status_code == 409 and fields(refused) == ["path.locality_id"]


def test_no_loops_in_the_trees(write_api: TestClient, editor: dict[str, str]) -> None:
    commune = id_of(write_api, Branch, "org:vn2004:05251")
    village = id_of(write_api, Branch, TIEN_PHONG)
    response = patch(write_api, f"/branches/{commune}", {"parent_id": village}, editor)
    assert response.status_code == 422 and fields(response) == ["body.parent_id"]
    itself = patch(write_api, f"/branches/{village}", {"parent_id": village}, editor)
    assert itself.status_code == 422
    # Kinds that sit anywhere pass the levels' rule, and meet the loops' own: Thanh
    # Chương's group ("other") is under its district committee, which may not go under it.
    group = id_of(write_api, Branch, "org:vn2004:428/six-branches-at-risk")
    district = write_api.get(f"/branches/{group}").json()["parent"]["id"]
    looped = patch(write_api, f"/branches/{district}", {"parent_id": group}, editor)
    assert looped.status_code == 422 and fields(looped) == ["body.parent_id"], looped.text
    assert "itself" in looped.json()["errors"][0]["message"]


def test_no_organization_stands_deeper_than_the_sums_look(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The sums over places look 4 organizations up for a count that includes one's: a
    party cell 5 below Lục Yên's district committee had its count added beside the
    district's, which includes it (from a data audit). Such a place in the tree is
    refused, to a new organization or a move, and nothing is written."""
    source = new_source(write_api, editor)
    lam_thuong = id_of(write_api, Branch, "org:vn2004:04309")  # 1 below the district's

    def organization(key: str, kind: str, parent_id: int | None) -> httpx.Response:
        body = {"key": key, "kind": kind, "name": "Chi bộ xóm Thử Nghiệm",
                "parent_id": parent_id, "source_id": source["id"],
                "quote": "Chi bộ xóm Thử Nghiệm"}  # fmt: skip
        return write_api.post("/branches", json=body, headers=editor)

    def made(key: str, kind: str, parent_id: int | None) -> int:
        response = organization(key, kind, parent_id)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    deepest = lam_thuong
    for depth, kind in enumerate(("agency_committee", "other", "grassroots_branch"), start=2):
        deepest = made(f"test:depth-{depth}", kind, deepest)  # 4 below at the end
    top = made("test:moved", "other", None)
    made("test:moved-child", "party_cell", top)
    before = row_counts(write_api)
    refused = organization("test:depth-5", "party_cell", deepest)
    assert refused.status_code == 422 and fields(refused) == ["body.parent_id"], refused.text
    assert "more than 4 organizations below the top" in refused.json()["errors"][0]["message"]
    # A tree of two moved: under the grassroots branch (its top 5 below), under the one
    # above (its child 5 below); under the agency's committee it fits (3 and 4 below).
    path = f"/branches/{top}"
    for key, why in (
        ("test:depth-4", "would put it"),
        ("test:depth-3", "an organization under it"),
    ):
        refused = patch(write_api, path, {"parent_id": id_of(write_api, Branch, key)}, editor)
        assert refused.status_code == 422 and fields(refused) == ["body.parent_id"], key
        assert why in refused.json()["errors"][0]["message"], key
    assert row_counts(write_api) == before
    agency = id_of(write_api, Branch, "test:depth-2")
    assert patch(write_api, path, {"parent_id": agency}, editor).status_code == 200


def test_a_place_sits_under_a_place_of_a_higher_level(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, village, _ = _village_and_branch(write_api, editor)
    before = row_counts(write_api)

    def place(key: str, kind: str, parent_id: int) -> httpx.Response:
        body = {"key": key, "kind": kind, "name": "Thử Nghiệm", "parent_id": parent_id,
                "source_id": source["id"], "quote": "xóm Thử Nghiệm"}  # fmt: skip
        return write_api.post("/localities", json=body, headers=editor)

    for kind in ("province", "commune", "village"):  # under a village
        refused = place(f"test:under-village-{kind}", kind, village["id"])
        assert refused.status_code == 422 and fields(refused) == ["body.parent_id"], kind
        assert "cannot sit under one of kind village" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    # A change of kind alone is named by its kind: a commune under the commune of Mai Hạ.
    path = f"/localities/{village['id']}"
    renamed = patch(write_api, path, {"kind": "commune"}, editor)
    assert renamed.status_code == 422 and fields(renamed) == ["body.kind"]
    # A town (a district's level) under the province, a commune under it: the town may not
    # become a village above its commune.
    province = write_api.get("/localities/" + str(village["parent_id"])).json()["parents"][-1]
    town = place("test:town", "town", province["id"])
    assert town.status_code == 201, town.text
    commune = place("test:town/commune", "commune", town.json()["id"])
    assert commune.status_code == 201, commune.text
    lowered = patch(write_api, f"/localities/{town.json()['id']}", {"kind": "village"}, editor)
    assert lowered.status_code == 422 and fields(lowered) == ["body.kind"]
    assert "its child" in lowered.json()["errors"][0]["message"]


def test_an_organization_sits_under_one_of_a_higher_level(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, _, branch = _village_and_branch(write_api, editor)
    path = f"/branches/{branch['id']}"
    raised = patch(write_api, path, {"kind": "province_committee"}, editor)
    assert raised.status_code == 422 and fields(raised) == ["body.kind"]
    body = {"key": "test:committee-under-branch", "kind": "commune_committee",
            "name": "Đảng bộ Thử Nghiệm", "parent_id": branch["id"],
            "source_id": source["id"], "quote": "Chi bộ xóm Thử Nghiệm"}  # fmt: skip
    under = write_api.post("/branches", json=body, headers=editor)
    assert under.status_code == 422 and fields(under) == ["body.parent_id"]
    # A kind that says no level (an unnamed group's `other`) sits anywhere.
    cell = write_api.post("/branches", json=body | {"kind": "other"}, headers=editor)
    assert cell.status_code == 201, cell.text


def test_moving_a_village_moves_its_branches(write_api: TestClient, editor: dict[str, str]) -> None:
    _, village, branch = _village_and_branch(write_api, editor)
    other_commune = write_api.get("/localities", params={"kind": "commune", "q": "Thào Chư Phìn"})
    target = other_commune.json()["items"][0]
    moved = patch(write_api, f"/localities/{village['id']}", {"parent_id": target["id"]}, editor)
    assert moved.status_code == 200, moved.text
    listed = write_api.get("/branches", params={"locality": target["id"]}).json()["items"]
    assert branch["id"] in [b["id"] for b in listed]
    detail = write_api.get(f"/branches/{branch['id']}").json()
    assert detail["today"]["province"]["official_name"] == "Tỉnh Lào Cai"


def _listed(client: TestClient, branch_id: int) -> dict[str, Any]:
    """The branch as a list serves it (the stored item) and as its detail does."""
    items = {i["id"]: i for i in client.get("/branches", params={"limit": 500}).json()["items"]}
    detail = client.get(f"/branches/{branch_id}").json()
    if detail["latest_count"] is not None:
        del detail["latest_count"]["alternatives"]  # the detail's own addition
    assert {k: detail[k] for k in items[branch_id]} == items[branch_id]
    return items[branch_id]


# The list items are stored (app.services.branch_items): a write must re-render every item
# that shows what it changed, not only the branch it names.
def test_a_renamed_place_is_renamed_in_the_items_of_its_branches(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    _, village, branch = _village_and_branch(write_api, editor)
    renamed = patch(write_api, f"/localities/{village['id']}", {"name": "Thử Nghiệm Mới"}, editor)
    assert renamed.status_code == 200, renamed.text
    assert _listed(write_api, branch["id"])["locality"]["name"] == "Thử Nghiệm Mới"


def test_a_renamed_branch_is_renamed_in_the_items_of_its_children(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, village, parent = _village_and_branch(write_api, editor)
    child = write_api.post(
        "/branches",
        json={
            "key": "org:vn2004:05251/xom-thu-nghiem/to-1",
            "kind": "party_cell",
            "name": "Tổ đảng xóm Thử Nghiệm",
            "locality_id": village["id"],
            "parent_id": parent["id"],
            "source_id": source["id"],
            "quote": "xóm Thử Nghiệm",
        },
        headers=editor,
    )
    assert child.status_code == 201, child.text
    assert _listed(write_api, child.json()["id"])["parent"]["name"] == "Chi bộ xóm Thử Nghiệm"
    renamed = patch(write_api, f"/branches/{parent['id']}", {"name": "Chi bộ Thử Nghiệm"}, editor)
    assert renamed.status_code == 200, renamed.text
    assert _listed(write_api, child.json()["id"])["parent"]["name"] == "Chi bộ Thử Nghiệm"


def test_a_branchs_founding_and_dissolution_are_shown_where_it_is(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From an editor's audit: the two dates were written and audited, but shown nowhere,
    and the branch's ETag did not change with them."""
    _, _, branch = _village_and_branch(write_api, editor)
    path = f"/branches/{branch['id']}"
    assert _listed(write_api, branch["id"])["founded_on"] is None
    before = etag_of(write_api, path)
    dated = patch(
        write_api, path, {"founded_on": "1975-05-01", "dissolved_on": "2025-07-01"}, editor
    )
    assert dated.status_code == 200, dated.text
    assert (dated.json()["founded_on"], dated.json()["dissolved_on"]) == (
        "1975-05-01",
        "2025-07-01",
    )
    listed = _listed(write_api, branch["id"])
    assert (listed["founded_on"], listed["dissolved_on"]) == ("1975-05-01", "2025-07-01")
    assert etag_of(write_api, path) != before
    rows = csv.DictReader(io.StringIO(write_api.get("/branches", params={"format": "csv"}).text))
    [line] = [row for row in rows if row["id"] == str(branch["id"])]
    assert (line["founded_on"], line["dissolved_on"]) == ("1975-05-01", "2025-07-01")


def test_a_dissolved_branch_leaves_the_branches_at_risk(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From a journalist's audit: a branch merged away was still served as at risk of
    ceasing to exist. From its dissolution on it is `dissolved`, in every answer."""
    branch = id_of(write_api, Branch, TIEN_PHONG)
    path = f"/branches/{branch}"

    def at_risk(**params: str) -> list[int]:
        items = write_api.get("/branches", params={"risk": "true", **params}).json()["items"]
        return [b["id"] for b in items]

    assert branch in at_risk()
    assert patch(write_api, path, {"dissolved_on": "2025-07-01"}, editor).status_code == 200
    assert branch not in at_risk()
    assert branch in at_risk(as_of="2025-06-30")  # at risk until then
    assert write_api.get(path).json()["risk"]["level"] == "dissolved"
    explained = write_api.get(f"{path}/risk").json()
    assert (explained["level"], explained["at_risk"]) == ("dissolved", False)
    assert [c["status"] for c in explained["criteria"] if c["id"] == "attrition"] == ["met"]
    last = write_api.get("/branches", params={"sort": "risk", "limit": 500}).json()["items"][-1]
    assert last["id"] == branch  # the least at risk of all
    rows = csv.DictReader(io.StringIO(write_api.get("/branches", params={"format": "csv"}).text))
    assert [r["risk_level"] for r in rows if r["id"] == str(branch)] == ["dissolved"]
    [hoa_binh] = [
        p
        for p in write_api.get("/risk/summary").json()["reported_provinces"]
        if p["province"]["key"] == "vn2004:17"
    ]
    assert (hoa_binh["levels"]["dissolved"], hoa_binh["levels"]["watch"]) == (1, 0)
    assert hoa_binh["at_risk"] == 0


def test_dates_out_of_order_are_named_by_the_one_sent(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    _, _, branch = _village_and_branch(write_api, editor)
    path = f"/branches/{branch['id']}"
    assert patch(write_api, path, {"dissolved_on": "2010-01-01"}, editor).status_code == 200
    founded = patch(write_api, path, {"founded_on": "2020-01-01"}, editor)
    assert founded.status_code == 422 and fields(founded) == ["body.founded_on"]
    reversed_dates = {"founded_on": "2020-01-01", "dissolved_on": "2019-01-01"}
    both = patch(write_api, path, reversed_dates, editor)
    assert both.status_code == 422 and fields(both) == ["body.dissolved_on"]


def test_a_figure_is_of_its_organizations_lifetime(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From an API audit: Khéo Lẹng could be dissolved in 2000, or founded in 2030,
    beside its count of 2023-12-18 (served then as a dissolved branch with 38 members).
    A figure dated by its own date is of its organization's lifetime; one dated by its
    article alone may be of any day before that one."""
    kheo_leng = f"/branches/{id_of(write_api, Branch, 'org:vn2004:04309/thon-kheo-leng')}"
    before, item = row_counts(write_api), write_api.get(kheo_leng).json()
    for dates, field in (
        ({"dissolved_on": "2000-01-01"}, "body.dissolved_on"),
        ({"founded_on": "2030-01-01"}, "body.founded_on"),
    ):
        refused = patch(write_api, kheo_leng, dates, editor)
        assert refused.status_code == 422 and set(fields(refused)) == {field}, refused.text
        assert "2023-12-18" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before and write_api.get(kheo_leng).json() == item
    lifetime = {"founded_on": "2023-12-18", "dissolved_on": "2024-01-31"}
    assert patch(write_api, kheo_leng, lifetime, editor).status_code == 200

    source, _, made = _village_and_branch(write_api, editor)
    branch = made["id"]
    lifetime = {"founded_on": "2020-01-01", "dissolved_on": "2023-06-30"}
    assert patch(write_api, f"/branches/{branch}", lifetime, editor).status_code == 200
    early = count_body(source["id"], branch, as_of="2019-12-31")
    refused = write_api.post("/membership-counts", json=early, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.as_of"], refused.text
    admissions = admissions_body(source["id"], branch)
    late = admissions | {"period_start": "2023-07-01", "period_end": "2023-12-31"}
    refused = write_api.post("/admissions", json=late, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.period_start"], refused.text
    year = admissions | {"period_start": "2023-01-01", "period_end": "2023-12-31"}
    assert write_api.post("/admissions", json=year, headers=editor).status_code == 201
    undated = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch), headers=editor
    )
    assert undated.status_code == 201, undated.text  # of 2024-03-02 at the latest: any day


def test_a_retitled_source_is_retitled_in_the_items_that_cite_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source, _, branch = _village_and_branch(write_api, editor)
    counted = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch["id"]), headers=editor
    )
    assert counted.status_code == 201, counted.text
    retitled = patch(write_api, f"/sources/{source['id']}", {"title": "Xóm Thử Nghiệm"}, editor)
    assert retitled.status_code == 200, retitled.text
    item = _listed(write_api, branch["id"])
    assert item["source"]["title"] == "Xóm Thử Nghiệm"
    assert item["latest_count"]["source"]["title"] == "Xóm Thử Nghiệm"


def test_a_branch_with_figures_is_not_deleted(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    used = f"/branches/{id_of(write_api, Branch, TIEN_PHONG)}"
    refused = delete(write_api, used, editor)
    assert refused.status_code == 409 and fields(refused) == ["path.branch_id"]
    assert_each_list_holds_what_it_is_said_to(write_api, refused.json()["detail"], 3)
    mai_ha = f"/branches/{id_of(write_api, Branch, 'org:vn2004:05251')}"
    parent = delete(write_api, mai_ha, editor).json()["detail"]
    assert "1 organizations under it (/branches?parent=" in parent
    assert_each_list_holds_what_it_is_said_to(write_api, parent, 1)
    _, _, branch = _village_and_branch(write_api, editor)
    assert delete(write_api, f"/branches/{branch['id']}", editor).status_code == 204
    assert write_api.get(f"/branches/{branch['id']}").status_code == 404


# -- Figures ----------------------------------------------------------------------------
def test_a_figure_needs_a_source_that_states_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    before = row_counts(write_api)
    cases = [
        (
            {k: v for k, v in count_body(source["id"], branch).items() if k != "source_id"},
            ["body.source_id"],
        ),
        (count_body(source["id"], branch, quote="có 10 đảng viên"), ["body.quote"]),
        (count_body(99_999, branch), ["body.source_id"]),
        (count_body(source["id"], 99_999), ["body.branch_id"]),
        (count_body(source["id"], branch, value_max=1), ["body.value_max"]),
        (count_body(source["id"], branch, value=-1), ["body.value"]),
        (count_body(source["id"], branch, status="retired"), ["body.status"]),
    ]
    for body, expected in cases:
        response = write_api.post("/membership-counts", json=body, headers=editor)
        assert response.status_code == 422, (body, response.text)
        assert fields(response) == expected, body
    # Whitespace and Unicode normalization do not matter (NFD, non-breaking space).
    import unicodedata

    loose = unicodedata.normalize("NFD", "hiện\u00a0có   9 đảng viên")
    ok = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch, quote=loose), headers=editor
    )
    assert ok.status_code == 201, ok.text
    assert row_counts(write_api)["membership_counts"] == before["membership_counts"] + 1
    # Stored as one spelling (NFC), the spaces as sent: a quote is verbatim.
    assert ok.json()["quote"] == unicodedata.normalize("NFC", loose) != loose


@pytest.mark.parametrize(
    "quote",
    [
        "hien co 9 dang vien",  # without its diacritics
        "HIỆN CÓ 9 ĐẢNG VIÊN",  # in capitals
    ],
)
def test_a_quote_is_found_as_written_not_as_searched(
    write_api: TestClient, editor: dict[str, str], quote: str
) -> None:
    """A quote is the source's words verbatim (only Unicode and whitespace normalized):
    a search folds case and diacritics, provenance does not, or "có 9" and "cơ 9" would
    prove one another. From a mutation audit: the check compared folded texts unnoticed."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    before = row_counts(write_api)
    refused = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch, quote=quote), headers=editor
    )
    assert refused.status_code == 422 and fields(refused) == ["body.quote"], refused.text
    assert refused.json()["errors"][0]["type"] == "quote_not_in_source"
    assert row_counts(write_api) == before


def test_a_figure_is_found_in_its_quote_whatever_its_spaces(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """The figure is compared with its quote as the quote with its source: both with their
    whitespace folded, so a figure pasted with a non-breaking space is in a quote typed
    with a plain one (from a mutation audit: compared raw, unnoticed)."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    body = count_body(source["id"], branch, quote="9 đảng viên", figure="9\u00a0đảng viên")
    created = write_api.post("/membership-counts", json=body, headers=editor)
    assert created.status_code == 201, created.text
    assert created.json()["figure"] == "9\u00a0đảng viên"


def test_text_is_stored_in_nfc(write_api: TestClient, editor: dict[str, str]) -> None:
    """A name or note typed with combining marks is served, and exported, precomposed."""
    import unicodedata

    branch = f"/branches/{id_of(write_api, Branch, TIEN_PHONG)}"
    typed = "Chi bộ xóm Tiền Phong (Mai Hạ), ghi chú: đã kiểm tra"
    decomposed = unicodedata.normalize("NFD", typed)
    assert decomposed != typed
    response = patch(write_api, branch, {"note": decomposed}, editor)
    assert response.status_code == 200, response.text
    assert response.json()["note"] == typed
    assert write_api.get(branch).json()["note"] == typed
    exported = write_api.get("/branches", params={"format": "csv", "q": "Tiền Phong"}).text
    assert typed in exported and decomposed not in exported
    # The length checked is the stored one: U+FB2C is three characters in NFC, so 150 of
    # them are a name of 450, over the 300 a name may have (a 500 when checked before).
    grown = patch(write_api, branch, {"name": "\ufb2c" * 150}, editor)
    assert grown.status_code == 422 and fields(grown) == ["body.name"], grown.text
    assert len(unicodedata.normalize("NFC", "\ufb2c" * 100)) == 300
    fits = patch(write_api, branch, {"name": "\ufb2c" * 100}, editor)
    assert fits.status_code == 200, fits.text


def test_a_day_is_yyyy_mm_dd_from_1900_to_2100(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """As in the filters: a year 9999 count would be the latest for ever, and a number
    was read as a Unix time."""
    before = row_counts(write_api)
    far = write_api.post(
        "/sources", json={"key": "d-far", "text": "t", "published_on": "9999-12-31"}, headers=editor
    )
    assert far.status_code == 422 and fields(far) == ["body.published_on"]
    assert "expected a day from 1900-01-01 to 2100-12-31" in far.json()["errors"][0]["message"]
    path = tien_phong_count_path(write_api)
    unix = patch(write_api, path, {"as_of": 1_700_000_000}, editor)
    assert unix.status_code == 422 and fields(unix) == ["body.as_of"]
    assert "expected a day as YYYY-MM-DD" in unix.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    first = patch(write_api, path, {"as_of": "1900-01-01"}, editor)
    assert first.status_code == 200 and first.json()["as_of"] == "1900-01-01"


def test_a_source_cannot_report_what_began_after_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)  # published 2024-03-02
    branch = id_of(write_api, Branch, TIEN_PHONG)
    before = row_counts(write_api)
    later = count_body(source["id"], branch, as_of="2024-03-03")
    refused = write_api.post("/membership-counts", json=later, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.as_of"]
    assert refused.json()["errors"][0]["message"].startswith(
        "2024-03-03 is after the source's publication (2024-03-02)"
    )
    admissions = admissions_body(source["id"], branch)
    begun_later = admissions | {"period_start": "2024-04-01", "period_end": "2024-12-31"}
    refused = write_api.post("/admissions", json=begun_later, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.period_start"]
    assert row_counts(write_api) == before
    # A period may end after the article (a year still running); a count may be of its day.
    running = admissions | {"period_start": "2024-01-01", "period_end": "2024-12-31"}
    year = write_api.post("/admissions", json=running, headers=editor)
    assert year.status_code == 201
    # ... evidence up to the article's day, not the year's end.
    assert (year.json()["evidence_date"], year.json()["evidence_date_basis"]) == (
        "2024-03-02",
        "published",
    )
    same_day = count_body(source["id"], branch, as_of="2024-03-02")
    count = write_api.post("/membership-counts", json=same_day, headers=editor).json()

    # Nor may the source be re-dated before what it reports.
    path = f"/sources/{source['id']}"
    earlier = patch(write_api, path, {"published_on": "2024-03-01"}, editor)
    assert earlier.status_code == 422 and fields(earlier) == ["body.published_on"]
    message = earlier.json()["errors"][0]["message"]
    assert f"membership_count {count['id']} ({count['key']}, 2024-03-02)" in message
    assert "membership_event" not in message  # the running year began before 2024-03-01
    assert patch(write_api, path, {"published_on": "2024-03-05"}, editor).status_code == 200
    # The running year follows its article's new day.
    year_path = f"/admissions/{year.json()['id']}"
    assert write_api.get(year_path).json()["evidence_date"] == "2024-03-05"


def test_a_date_worked_out_from_the_text_is_written_as_derived(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)  # published 2024-03-02
    branch = id_of(write_api, Branch, TIEN_PHONG)
    before = row_counts(write_api)
    for missing, why in (({}, "missing_date"), ({"as_of": "2023-12-31"}, "missing_note")):
        body = count_body(source["id"], branch, date_derived=True) | missing
        refused = write_api.post("/membership-counts", json=body, headers=editor)
        assert refused.status_code == 422 and fields(refused) == ["body.date_derived"]
        assert refused.json()["errors"][0]["type"] == why
    assert row_counts(write_api) == before
    body = count_body(
        source["id"], branch, as_of="2023-12-31", date_derived=True, date_note="before 2024"
    )
    count = write_api.post("/membership-counts", json=body, headers=editor)
    assert count.status_code == 201, count.text
    assert count.json()["evidence_date_basis"] == "derived"
    path = f"/membership-counts/{count.json()['id']}"
    printed = patch(write_api, path, {"date_derived": False}, editor)
    assert printed.status_code == 200 and printed.json()["evidence_date_basis"] == "stated"


def test_no_text_may_hold_a_nul_character(write_api: TestClient, editor: dict[str, str]) -> None:
    """PostgreSQL cannot store U+0000 (it was a 500 there); SQLite could: both refuse it."""
    before = row_counts(write_api)
    body = {"key": "test-nul", "text": "Chi bộ\x00 có 9 đảng viên.", "title": "Tiêu đề\x00"}
    created = write_api.post("/sources", json=body, headers=editor)
    assert created.status_code == 422, created.text
    assert fields(created) == ["body.text", "body.title"]
    assert {e["type"] for e in created.json()["errors"]} == {"nul"}

    path = tien_phong_count_path(write_api)
    changed = patch(write_api, path, {"note": "ghi chú\x00"}, editor)
    assert changed.status_code == 422 and fields(changed) == ["body.note"]
    assert row_counts(write_api) == before
    clean = body | {"text": "Chi bộ có 9 đảng viên.", "title": "Tiêu đề"}
    assert write_api.post("/sources", json=clean, headers=editor).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"key": "a", "text": "\xff"}',
        # From a security review: Python's JSON reader took these, and a source was made.
        '{"key": "utf-16", "text": "văn bản"}'.encode("utf-16"),
        '{"key": "utf-16", "text": "văn bản"}'.encode("utf-16-le"),
        '{"key": "utf-32", "text": "văn bản"}'.encode("utf-32-be"),
    ],
    ids=["nested too deeply", "not UTF-8", "UTF-16", "UTF-16 without its mark", "UTF-32"],
)
@pytest.mark.parametrize("path", ["/sources", "/imports"])
def test_an_unreadable_body_is_a_400_naming_the_body(
    write_api: TestClient, editor: dict[str, str], body: bytes, path: str
) -> None:
    before = row_counts(write_api)
    headers = {**editor, "Content-Type": "application/json"}
    refused = write_api.post(path, content=body, headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert fields(refused) == ["body"]
    assert refused.json()["detail"].startswith("The body could not be read")
    assert row_counts(write_api) == before


@pytest.mark.parametrize("path", ["/sources", "/imports"])
def test_a_json_syntax_error_is_a_422_at_its_position(
    write_api: TestClient, editor: dict[str, str], path: str
) -> None:
    headers = {**editor, "Content-Type": "application/json"}
    refused = write_api.post(path, content=b'{"key": 1,,}', headers=headers)
    assert refused.status_code == 422, refused.text
    assert fields(refused) == ["body.10"]


@pytest.mark.parametrize("path", ["/sources", "/imports"])
def test_a_body_too_large_sent_in_chunks_is_a_413(
    write_api: TestClient, editor: dict[str, str], path: str
) -> None:
    """Without a Content-Length the size is known only as the body is read: past the
    limit, the same 413 as a declared length gets, not a 400 for an unreadable body."""
    before = row_counts(write_api)
    text = "x" * 2_100_000
    body = orjson.dumps({"key": "test-large", "text": text})
    chunks = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    content_type = "application/json" if path == "/sources" else "application/yaml"
    refused = write_api.post(path, content=chunks, headers={**editor, "Content-Type": content_type})
    assert refused.status_code == 413, refused.text
    assert fields(refused) == ["body"]
    assert refused.json()["instance"] == path
    assert row_counts(write_api) == before


def test_a_writes_answers_send_the_headers_the_openapi_documents(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """From an integrator's audit: Location, ETag and the rate limit were sent, and named
    nowhere in the document a client is generated from."""
    operations = openapi_document()["paths"]

    def documented(path: str, method: str, status: int) -> set[str]:
        headers = operations[path][method]["responses"][str(status)].get("headers", {})
        return {name.lower() for name in headers} - {"idempotent-replayed"}  # on a replay

    created = post_source(write_api, editor)
    assert created.status_code == 201
    assert documented("/sources", "post", 201) >= {"location", "etag", "ratelimit-limit"}
    assert documented("/sources", "post", 201) <= set(created.headers)
    path = created.headers["location"]
    changed = patch(write_api, path, {"title": "Thử"}, editor)
    assert changed.status_code == 200
    assert documented("/sources/{source_id}", "patch", 200) <= set(changed.headers)
    stale = write_api.patch(path, json={"title": "x"}, headers={**editor, "If-Match": '"old"'})
    assert stale.status_code == 412
    assert documented("/sources/{source_id}", "patch", 412) <= set(stale.headers)
    deleted = delete(write_api, path, editor)
    assert deleted.status_code == 204
    assert documented("/sources/{source_id}", "delete", 204) <= set(deleted.headers)
    anonymous = write_api.get("/audit")
    assert anonymous.status_code == 401
    expected = {"www-authenticate", "cache-control"}  # cache-control: no problem is stored
    assert documented("/audit", "get", 401) == expected <= set(anonymous.headers)


def test_updates_take_if_match(write_api: TestClient, editor: dict[str, str]) -> None:
    path = tien_phong_count_path(write_api)
    first = etag_of(write_api, path)

    missing = write_api.patch(path, json={"note": "x"}, headers=editor)
    assert missing.status_code == 428 and fields(missing) == ["header.if-match"]
    weak = write_api.patch(path, json={"note": "x"}, headers={**editor, "If-Match": f"W/{first}"})
    # Not "it changed since you read it": a weak tag never matches (strong comparison).
    assert weak.status_code == 412 and fields(weak) == ["header.if-match"]
    assert "weak" in weak.json()["detail"] and "changed" not in weak.json()["detail"]
    no_tags = write_api.patch(path, json={"note": "x"}, headers={**editor, "If-Match": " , "})
    assert no_tags.status_code == 428

    other_value = patch(write_api, path, {"value": 12}, editor)  # its figure prints 13
    assert other_value.status_code == 422 and fields(other_value) == ["body.value"]

    done = write_api.patch(path, json={"note": "checked"}, headers={**editor, "If-Match": first})
    assert done.status_code == 200, done.text
    assert done.json()["note"] == "checked"
    assert done.headers["etag"] == etag_of(write_api, path) != first

    stale = write_api.patch(
        path, json={"note": "lost update"}, headers={**editor, "If-Match": first}
    )
    assert stale.status_code == 412 and fields(stale) == ["header.if-match"]
    assert "changed since you read it" in stale.json()["detail"]
    # Stale and weak: stale is what to fix, sending it strong would fail again.
    stale_weak = write_api.patch(
        path, json={"note": "x"}, headers={**editor, "If-Match": f"W/{first}"}
    )
    assert stale_weak.status_code == 412
    assert "changed since you read it" in stale_weak.json()["detail"]
    # The current item's tag (the problem itself is not gzipped): either is taken.
    assert stale.headers["etag"] == representation_etag(done.json())
    assert done.headers["etag"] == gzip_etag(stale.headers["etag"])
    assert write_api.get(path).json()["note"] == "checked"

    gone = write_api.delete(path, headers={**editor, "If-Match": first})
    assert gone.status_code == 412
    assert write_api.delete(path, headers=editor).status_code == 428
    assert write_api.get(path).status_code == 200

    star = write_api.patch(path, json={"note": None}, headers={**editor, "If-Match": "*"})
    assert star.status_code == 200 and star.json()["note"] is None

    # Two lines of If-Match are one list (RFC 9110 5.3): the current tag is in it.
    current = star.headers["etag"]
    lines = [*editor.items(), ("If-Match", '"other"'), ("If-Match", current)]
    assert write_api.patch(path, json={"note": "two lines"}, headers=lines).status_code == 200


def test_a_missing_if_match_alone_is_428_and_among_other_faults_422(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    path = tien_phong_count_path(write_api)
    before = row_counts(write_api)

    alone = write_api.delete(path, headers=editor)
    assert alone.status_code == 428
    assert alone.headers["content-type"] == "application/problem+json"
    assert alone.json()["detail"].startswith(f"Send If-Match with the ETag of GET {path},")
    assert fields(alone) == ["header.if-match"]

    with_bad_body = write_api.patch(path, json={"value": -1}, headers=editor)
    assert with_bad_body.status_code == 422
    assert set(fields(with_bad_body)) == {"header.if-match", "body.value"}

    too_long = write_api.patch(path, json={"note": "x"}, headers={**editor, "If-Match": "x" * 201})
    assert too_long.status_code == 422 and fields(too_long) == ["header.if-match"]

    blank = write_api.patch(path, json={"note": "x"}, headers={**editor, "If-Match": " "})
    assert blank.status_code == 428 and blank.json()["detail"] == alone.json()["detail"]
    assert row_counts(write_api) == before


def test_the_etag_of_get_is_the_one_writes_compute(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """app.api.responses.json_response and representation_etag must agree."""
    path = tien_phong_count_path(write_api)
    response = write_api.get(path, headers={"accept-encoding": "identity"})
    assert response.headers["etag"] == representation_etag(response.json())
    zipped = write_api.get(path, headers={"accept-encoding": "gzip"})
    assert zipped.headers["etag"] == gzip_etag(representation_etag(response.json()))
    branch = id_of(write_api, Branch, TIEN_PHONG)
    same = patch(write_api, f"/branches/{branch}", {}, editor)
    assert same.status_code == 200
    assert same.headers["etag"] == etag_of(write_api, f"/branches/{branch}")


def test_one_item_has_the_shape_of_the_list(write_api: TestClient) -> None:
    for path, kind in (
        ("/membership-counts", {}),
        ("/admissions", {"kind": "departure"}),
        ("/facts", {}),
    ):
        listed = write_api.get(path, params={"limit": 1, **kind}).json()["items"][0]
        assert write_api.get(f"{path}/{listed['id']}").json() == listed
        missing = write_api.get(f"{path}/99999")
        assert (
            missing.status_code == 404
            and missing.headers["content-type"] == "application/problem+json"
        )


def test_a_correction_changes_status_and_risk_at_once(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    branch = id_of(write_api, Branch, TIEN_PHONG)
    latest = write_api.get(f"/branches/{branch}").json()["latest_count"]
    assert latest["value"] == 15
    response = patch(
        write_api, f"/membership-counts/{latest['id']}", {"value": 4, "figure": "4"}, editor
    )
    # The quote ("từ 13 lên 15") does not print a 4; and a value no figure prints is
    # not reported, never a number.
    assert response.status_code == 422 and fields(response) == ["body.figure"]
    unprinted = patch(
        write_api, f"/membership-counts/{latest['id']}", {"value": 4, "figure": None}, editor
    )
    assert unprinted.status_code == 422 and fields(unprinted) == ["body.figure"]
    # A later article that prints it (undated: held from today, after the seed's day).
    later = new_source(
        write_api, editor, key="test-con-4", text="Chi bộ nay chỉ còn 4 đảng viên.",
        published_on=None,
    )  # fmt: skip
    body = count_body(later["id"], branch, value=4, quote="chỉ còn 4 đảng viên", figure="4")
    four = write_api.post("/membership-counts", json=body, headers=editor)
    assert four.status_code == 201, four.text
    detail = write_api.get(f"/branches/{branch}").json()
    assert detail["members"] == {"low": 4, "high": 4}
    assert "too_few_members" in detail["risk"]["criteria_met"]

    assert delete(write_api, f"/membership-counts/{four.json()['id']}", editor).status_code == 204
    after = write_api.get(f"/branches/{branch}").json()
    assert after["latest_count"]["value"] == 15  # the one before is the latest again
    assert four.json()["id"] not in [c["id"] for c in after["counts"]]


def test_events_and_facts(write_api: TestClient, editor: dict[str, str]) -> None:
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    village = id_of(write_api, Locality, "vn2004:05251/xom-tien-phong")
    event = {
        "source_id": source["id"],
        "branch_id": branch,
        "value": 2,
        "period_start": "2023-01-01",
        "period_end": "2023-12-31",
        "quote": "Năm 2023, chi bộ kết nạp 2 đảng viên mới",
        "figure": "2",
    }
    no_kind = write_api.post("/admissions", json=event, headers=editor)
    assert no_kind.status_code == 422 and fields(no_kind) == ["body.kind"]
    backwards = write_api.post(
        "/admissions",
        json=event | {"kind": "admission", "period_start": "2024-01-01"},
        headers=editor,
    )
    assert backwards.status_code == 422 and fields(backwards) == ["body.period_end"]
    # A range's top needs its bottom: not reported (null) below a stated 5 is no range.
    topless = event | {"kind": "admission", "value": None, "value_max": 5, "figure": None}
    unreported = write_api.post("/admissions", json=topless, headers=editor)
    assert unreported.status_code == 422 and fields(unreported) == ["body.value_max"]
    created = write_api.post("/admissions", json=event | {"kind": "admission"}, headers=editor)
    assert created.status_code == 201, created.text
    assert created.json()["evidence_date"] == "2023-12-31"
    listed = write_api.get("/admissions", params={"branch": branch}).json()["items"]
    assert created.json() in listed
    changed = patch(write_api, created.headers["location"], {"kind": "transfer_in"}, editor)
    assert changed.status_code == 200 and changed.json()["kind"] == "transfer_in"

    fact = {
        "source_id": source["id"],
        "metric": "poverty_rate",
        "value": 12,
        "period_start": "2023-01-01",
        "period_end": "2023-12-31",
        "quote": "Tỷ lệ hộ nghèo của xóm còn 12%",
        "figure": "12%",
    }
    both = write_api.post(
        "/facts", json=fact | {"branch_id": branch, "locality_id": village}, headers=editor
    )
    assert both.status_code == 422 and fields(both) == ["body.branch_id"]
    wrong_unit = write_api.post(
        "/facts", json=fact | {"locality_id": village, "unit": "households"}, headers=editor
    )
    assert wrong_unit.status_code == 422 and fields(wrong_unit) == ["body.unit"]
    made = write_api.post("/facts", json=fact | {"locality_id": village}, headers=editor)
    assert made.status_code == 201, made.text
    assert made.json()["unit"] == "percent" and made.json()["locality"]["id"] == village
    assert delete(write_api, made.headers["location"], editor).status_code == 204
    assert write_api.get(made.headers["location"]).status_code == 404


def test_a_facts_whole_is_its_own_field(write_api: TestClient, editor: dict[str, str]) -> None:
    """A part of a whole ("5/10 chi bộ": 5 out of 10) is served with `out_of`, not as a
    range; a whole below its part, or one the figure does not print, is refused naming
    `out_of`."""
    text = "Đến nay xã đã có 5/10 chi bộ có ban chi ủy."
    source = new_source(write_api, editor, key="test-whole", text=text)
    commune = id_of(write_api, Branch, "org:vn2004:05251")
    fact = {
        "source_id": source["id"],
        "branch_id": commune,
        "metric": "branches_with_committee",
        "value": 5,
        "quote": text,
        "figure": "5/10",
    }
    before = row_counts(write_api)
    for whole, why in [(4, "a part more than its whole"), (12, "not printed"), (0, "none")]:
        refused = write_api.post("/facts", json=fact | {"out_of": whole}, headers=editor)
        assert refused.status_code == 422, (why, refused.text)
        assert fields(refused) == ["body.out_of"], why
    assert row_counts(write_api) == before
    made = write_api.post("/facts", json=fact | {"out_of": 10}, headers=editor)
    assert made.status_code == 201, made.text
    served = write_api.get(made.headers["location"]).json()
    assert (served["value"], served["value_max"], served["out_of"]) == (5, None, 10)
    exported = write_api.get("/facts", params={"source": source["id"], "format": "csv"}).text
    [row] = csv.DictReader(io.StringIO(exported))
    assert (row["value"], row["value_max"], row["out_of"]) == ("5", "", "10")
    lowered = patch(write_api, made.headers["location"], {"value": 11}, editor)
    assert lowered.status_code == 422 and fields(lowered) == ["body.out_of"]


@pytest.mark.parametrize(
    ("text", "refused", "said", "accepted"),
    [
        # A poverty rate of 120% is a mistake wherever it is printed; a plan done to 130%
        # is not (no share of a whole).
        (
            "Tỷ lệ hộ nghèo của xóm là 120%, đạt 130% kế hoạch.",
            {"metric": "poverty_rate", "value": 120, "figure": "120%"},
            "poverty_rate is at most 100 (percent), not 120",
            [{"metric": "plan_completion", "value": 130, "figure": "130%"}],
        ),
        # From a write audit: "6.799 hộ" was stored as 6.799 households, where the dot
        # groups thousands; a share may have decimals.
        (
            "Xã có 6.799 hộ, tỷ lệ hộ nghèo 6,5%.",
            {"metric": "households", "value": 6.799, "figure": "6.799"},
            "households counts whole households, not 6.799",
            [
                {"metric": "households", "value": 6799, "figure": "6.799"},
                {"metric": "poverty_rate", "value": 6.5, "figure": "6,5%"},
            ],
        ),
    ],
)
def test_a_facts_value_is_one_its_metric_can_be(
    write_api: TestClient,
    editor: dict[str, str],
    text: str,
    refused: dict[str, Any],
    said: str,
    accepted: list[dict[str, Any]],
) -> None:
    source = new_source(write_api, editor, key=f"test-{refused['metric']}", text=text)
    village = id_of(write_api, Locality, "vn2004:05251/xom-tien-phong")
    fact = {"source_id": source["id"], "locality_id": village, "quote": text}
    before = row_counts(write_api)
    answer = write_api.post("/facts", json=fact | refused, headers=editor)
    assert answer.status_code == 422 and fields(answer) == ["body.value"], answer.text
    assert answer.json()["errors"][0]["message"] == said
    assert row_counts(write_api) == before
    for made in accepted:
        assert write_api.post("/facts", json=fact | made, headers=editor).status_code == 201


def test_counts_are_listed_by_status(write_api: TestClient, editor: dict[str, str]) -> None:
    """Counts of full or probationary members only: read from their own indexes
    (migration 0012), by id or by date, and never among the counts of all members."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    made = {}
    for status, day in (
        ("full", "2024-01-01"),
        ("probationary", "2023-06-01"),
        ("full", "2022-01-01"),
    ):
        body = count_body(source["id"], branch, status=status, as_of=day)
        response = write_api.post("/membership-counts", json=body, headers=editor)
        assert response.status_code == 201, response.text
        made[response.json()["id"]] = (status, day)

    def listed(**params: str) -> list[int]:
        response = write_api.get("/membership-counts", params={"limit": 100, **params})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    full = sorted(i for i, (status, _) in made.items() if status == "full")
    assert listed(status="full") == full
    assert listed(status="full", sort="-id") == full[::-1]
    by_day = sorted(full, key=lambda i: made[i][1], reverse=True)
    assert listed(status="full", sort="-date") == by_day
    assert listed(status="probationary", sort="date") == [
        i for i, (status, _) in made.items() if status == "probationary"
    ]
    everyone = listed(status="all")
    assert everyone and not set(everyone) & set(made)


def test_a_retried_post_does_not_insert_twice(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    body = count_body(source["id"], branch)
    key = {**editor, "Idempotency-Key": "7b0c2f4e-retry"}
    first = write_api.post("/membership-counts", json=body, headers=key)
    before = row_counts(write_api)
    retry = write_api.post("/membership-counts", json=body, headers=key)
    assert retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert row_counts(write_api) == before

    other_body = write_api.post("/membership-counts", json=body | {"note": "x"}, headers=key)
    assert other_body.status_code == 422 and fields(other_body) == ["header.idempotency-key"]
    other_path = write_api.post("/sources", json={"key": "k-1", "text": "t"}, headers=key)
    assert other_path.status_code == 422
    assert row_counts(write_api) == before

    # Keys are per API key: another writer's identical Idempotency-Key is another request
    # (of another figure: the same one would be refused as a second copy).
    colleague = {**make_key(write_api, "colleague"), "Idempotency-Key": "7b0c2f4e-retry"}
    mai_ha = id_of(write_api, Branch, "org:vn2004:05251")
    theirs = write_api.post("/membership-counts", json=body | {"branch_id": mai_ha},
                            headers=colleague)  # fmt: skip
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert row_counts(write_api)["membership_counts"] == before["membership_counts"] + 1


@pytest.mark.parametrize(
    ("path", "make_body"),
    [("/membership-counts", count_body), ("/admissions", admissions_body)],
)
def test_a_figure_sent_twice_is_one_record(
    write_api: TestClient, editor: dict[str, str], path: str, make_body: Any
) -> None:
    """From an editor's audit: an admission posted twice (no Idempotency-Key) was two
    records of one sentence, and the place's yearly admissions counted it twice."""
    source = new_source(write_api, editor)
    body = make_body(source["id"], id_of(write_api, Branch, TIEN_PHONG))
    body |= {"period_start": "2023-01-01", "period_end": "2023-12-31"} if "kind" in body else {}
    first = write_api.post(path, json=body, headers=editor)
    assert first.status_code == 201, first.text
    before = row_counts(write_api)
    again = write_api.post(path, json=body | {"note": "sent again"}, headers=editor)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["errors"] == [
        {"field": "body", "message": f"the same as {first.headers['location']}",
         "type": "duplicate"}
    ]  # fmt: skip
    assert row_counts(write_api) == before
    # Read another way, it is another figure; made the same by a change, it is refused.
    other = write_api.post(path, json=body | {"qualifier": "approximate"}, headers=editor)
    assert other.status_code == 201, other.text
    location = other.headers["location"]
    same = patch(write_api, location, {"qualifier": "exact"}, editor)
    assert same.status_code == 409 and same.json()["errors"][0]["type"] == "duplicate"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": True}, "body.value"),
        ({"value": "9"}, "body.value"),
        ({"value": 9.0}, "body.value"),
        ({"branch_id": "5"}, "body.branch_id"),
        ({"applies_to_each": 1}, "body.applies_to_each"),
        ({"applies_to_each": "true"}, "body.applies_to_each"),
    ],
)
def test_numbers_and_flags_are_taken_as_json_types_them(
    write_api: TestClient, editor: dict[str, str], change: dict[str, Any], field: str
) -> None:
    """`true` is not 1 and "9" is not nine: a client's mistake, refused, not stored."""
    source = new_source(write_api, editor)
    body = count_body(source["id"], id_of(write_api, Branch, TIEN_PHONG)) | change
    before = row_counts(write_api)
    refused = write_api.post("/membership-counts", json=body, headers=editor)
    assert refused.status_code == 422 and fields(refused) == [field]
    assert row_counts(write_api) == before


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16"],
)
def test_a_write_of_another_media_type_is_a_415(
    write_api: TestClient, editor: dict[str, str], content_type: str | None
) -> None:
    """What `curl -d` and a browser's fetch() send by default: said, not a 422 about a
    body that is "not a valid dictionary"."""
    body = orjson.dumps({"key": "test-media", "text": "Chi bộ có 9 đảng viên."})
    before = row_counts(write_api)
    typed = {"Content-Type": content_type} if content_type else {}
    refused = write_api.post("/sources", content=body, headers={**editor, **typed})
    assert refused.status_code == 415 and fields(refused) == ["header.content-type"]
    assert row_counts(write_api) == before


@pytest.mark.parametrize("zipped", [True, False])
@pytest.mark.parametrize("path", ["/sources", "/imports"])
def test_a_write_with_a_content_encoding_is_a_415(
    write_api: TestClient, editor: dict[str, str], zipped: bool, path: str
) -> None:
    """None is decoded: a gzipped body was a 400 about its bytes, and a plain one sent
    under the header was taken as it came (RFC 9110 15.5.16: 415, with Accept-Encoding)."""
    body = orjson.dumps({"key": "test-coding", "text": "Chi bộ có 9 đảng viên."})
    before = row_counts(write_api)
    headers = {**editor, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    refused = write_api.post(path, content=gzip.compress(body) if zipped else body, headers=headers)
    assert refused.status_code == 415 and fields(refused) == ["header.content-encoding"]
    assert refused.headers["accept-encoding"] == "identity"
    assert row_counts(write_api) == before
    # In two lines, one list (RFC 9110 5.3): the last line alone said identity.
    lines = [*headers.items(), ("Content-Encoding", "identity")]
    assert write_api.post(path, content=body, headers=lines).status_code == 415
    assert row_counts(write_api) == before
    identity = {**headers, "Content-Encoding": "identity"}
    assert write_api.post("/sources", content=body, headers=identity).status_code == 201
    # Elsewhere what would be answered anyway: no route, no such method.
    assert write_api.post("/nowhere", content=body, headers=headers).status_code == 404
    assert write_api.post("/health", content=body, headers=headers).status_code == 405


@pytest.mark.parametrize("content_type", ["application/json; charset=UTF-8", "application/x+json"])
def test_a_json_write_reads_json(
    write_api: TestClient, editor: dict[str, str], content_type: str
) -> None:
    body = orjson.dumps({"key": "test-media", "text": "Chi bộ có 9 đảng viên."})
    typed = {"Content-Type": content_type}
    created = write_api.post("/sources", content=body, headers={**editor, **typed})
    assert created.status_code == 201, created.text


def test_an_id_is_never_given_twice(write_api: TestClient, editor: dict[str, str]) -> None:
    """The newest count deleted, the next one created: its id is another, so that a
    replay's Location, the audit log and a reader's link still name the deleted one."""
    source = new_source(write_api, editor)
    body = count_body(source["id"], id_of(write_api, Branch, TIEN_PHONG))
    key = {**editor, "Idempotency-Key": "count-then-deleted"}
    first = write_api.post("/membership-counts", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert delete(write_api, first.headers["location"], editor).status_code == 204
    second = write_api.post("/membership-counts", json=body, headers=editor)
    assert second.status_code == 201, second.text
    assert second.json()["id"] > first.json()["id"]
    assert write_api.get(first.headers["location"]).status_code == 404
    replayed = write_api.post("/membership-counts", json=body, headers=key)
    assert replayed.headers["location"] == first.headers["location"]
    audit = write_api.get(
        "/audit",
        params={"entity": "membership_count", "entity_id": first.json()["id"]},
        headers=editor,
    ).json()["items"]
    assert [e["action"] for e in audit] == ["delete", "create"]


def test_two_sources_disagreeing_are_both_served(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Conflicting reports side by side; the first shown is the newest evidence date,
    then the highest id (the one added last)."""
    branch = id_of(write_api, Branch, TIEN_PHONG)
    source = new_source(
        write_api, editor, text="Ngày 7/9/2018, chi bộ xóm Tiền Phong có 14 đảng viên."
    )
    seeded = next(
        c for c in write_api.get(f"/branches/{branch}").json()["counts"] if c["value"] == 13
    )
    other = write_api.post(
        "/membership-counts",
        json=count_body(
            source["id"],
            branch,
            value=14,
            as_of=seeded["as_of"],
            quote="có 14 đảng viên",
            figure="14",
        ),
        headers=editor,
    )
    assert other.status_code == 201, other.text
    same_day = [
        (c["value"], c["source"]["key"])
        for c in write_api.get(f"/branches/{branch}").json()["counts"]
        if c["as_of"] == seeded["as_of"]
    ]
    assert sorted(same_day) == [(13, TIEN_PHONG_SOURCE), (14, "test-thu-nghiem")]
    listed = write_api.get("/membership-counts", params={"branch": branch}).json()["items"]
    assert {13, 14} <= {c["value"] for c in listed}

    # Once the newer count (15) is gone, the tie on 2018-09-07 goes to the one added last.
    latest = write_api.get(f"/branches/{branch}").json()["latest_count"]
    assert delete(write_api, f"/membership-counts/{latest['id']}", editor).status_code == 204
    assert write_api.get(f"/branches/{branch}").json()["latest_count"]["value"] == 14


def test_concurrent_updates_one_wins_one_is_told(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    path = tien_phong_count_path(write_api)
    tag = etag_of(write_api, path)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt(note: str) -> None:
        barrier.wait()
        response = write_api.patch(path, json={"note": note}, headers={**editor, "If-Match": tag})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]
    assert write_api.get(path).json()["note"] in ("first", "second")


def test_a_value_the_text_does_not_print_is_refused(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """ "Not reported" is a null value, never 0 or a number the quote does not print; a
    part of a whole ("11/19") is out_of, not the top of a range. From an editor's audit:
    each was stored."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    before = row_counts(write_api)
    unprinted = count_body(source["id"], branch, value=0) | {"figure": None}
    refused = write_api.post("/membership-counts", json=unprinted, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.figure"]
    assert row_counts(write_api) == before
    text = "Đến nay xã đã có 11/19 tiêu chí nông thôn mới."
    whole = new_source(write_api, editor, key="test-tieu-chi", text=text)
    criteria = {
        "source_id": whole["id"], "metric": "new_rural_criteria_met", "value": 11,
        "value_max": 19, "quote": "11/19 tiêu chí", "figure": "11/19",
        "locality_id": id_of(write_api, Locality, "vn2004:05251"),
    }  # fmt: skip
    before = row_counts(write_api)
    refused = write_api.post("/facts", json=criteria, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.value_max"]
    assert "out_of" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    as_whole = criteria | {"value_max": None, "out_of": 19}
    assert write_api.post("/facts", json=as_whole, headers=editor).status_code == 201


def test_a_qualifier_is_one_its_figures_words_give(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Thanh Chương's six branches have "dưới 5" members: read as exactly 5, none of them
    would be a branch under five. From an editor's audit: `exact` was stored."""
    path = "/membership-counts/" + str(
        id_of(write_api, MembershipCount, "baonghean-2017-thanh-chuong#six-at-risk-members-under-5")
    )
    before = row_counts(write_api)
    refused = patch(write_api, path, {"qualifier": "exact"}, editor)
    assert refused.status_code == 422 and fields(refused) == ["body.qualifier"]
    assert refused.json()["errors"][0]["message"] == (
        "the figure 'dưới 5' qualifies its value ('dưới': less_than or at_most), not exact"
    )
    assert row_counts(write_api) == before
    assert write_api.get(path).json()["qualifier"] == "less_than"
    # "At most 5" is what "dưới" may mean too.
    accepted = patch(write_api, path, {"qualifier": "at_most"}, editor)
    assert accepted.status_code == 200 and accepted.json()["qualifier"] == "at_most"

    text = "Chi bộ có trên 20 đảng viên, trong đó 3 đảng viên trên 60 tuổi."
    source = new_source(write_api, editor, key="test-tren", text=text)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    over_20 = count_body(source["id"], branch, value=20, quote=text, figure="trên 20")
    refused = write_api.post("/membership-counts", json=over_20, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.qualifier"]
    more_than = over_20 | {"qualifier": "more_than"}
    assert write_api.post("/membership-counts", json=more_than, headers=editor).status_code == 201
    # "trên" there qualifies the age, not the 3: exactly 3 members are over 60.
    over_60 = {
        "source_id": source["id"], "branch_id": branch, "metric": "members_over_60",
        "value": 3, "quote": text, "figure": "3 đảng viên trên 60 tuổi",
    }  # fmt: skip
    assert write_api.post("/facts", json=over_60, headers=editor).status_code == 201


def test_no_article_is_published_or_reports_after_the_dataset_holds_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    future = post_source(write_api, editor, key="test-future", published_on="2099-01-01")
    assert future.status_code == 422 and fields(future) == ["body.published_on"]
    undated = new_source(write_api, editor, published_on=None)  # held from today
    branch = id_of(write_api, Branch, TIEN_PHONG)
    later = count_body(undated["id"], branch, as_of="2099-01-01")
    refused = write_api.post("/membership-counts", json=later, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.as_of"]
    assert "first day in the dataset" in refused.json()["errors"][0]["message"]
    dated = new_source(write_api, editor, key="test-dated")  # published 2024-03-02
    moved = patch(write_api, f"/sources/{dated['id']}", {"published_on": "2099-01-01"}, editor)
    assert moved.status_code == 422 and fields(moved) == ["body.published_on"]


def test_an_unreported_value_takes_no_qualifier(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    source = new_source(write_api, editor)
    admissions = {
        "source_id": source["id"], "branch_id": id_of(write_api, Branch, TIEN_PHONG),
        "kind": "admission", "value": None, "quote": "Năm 2023, chi bộ kết nạp 2 đảng viên mới",
        "period_start": "2023-01-01", "period_end": "2023-12-31",
    }  # fmt: skip
    before = row_counts(write_api)
    for qualifier in ("approximate", "exact"):  # "exact" was stored beside the null before
        refused = write_api.post(
            "/admissions", json=admissions | {"qualifier": qualifier}, headers=editor
        )
        assert refused.status_code == 422 and fields(refused) == ["body.qualifier"]
        assert "takes no qualifier" in refused.json()["errors"][0]["message"]
    assert row_counts(write_api) == before
    created = write_api.post("/admissions", json=admissions, headers=editor)
    assert created.status_code == 201 and created.json()["qualifier"] is None
    path = f"/admissions/{created.json()['id']}"
    assert write_api.get(path).json()["qualifier"] is None
    # A number given later is read as printed (exact) unless qualified; taken away
    # again, its qualifier goes with it, said in the same PATCH.
    two = patch(write_api, path, {"value": 2, "figure": "2"}, editor)
    assert two.status_code == 200 and two.json()["qualifier"] == "exact", two.text
    alone = patch(write_api, path, {"value": None, "figure": None}, editor)
    assert alone.status_code == 422 and fields(alone) == ["body.qualifier"]
    cleared = patch(write_api, path, {"value": None, "figure": None, "qualifier": None}, editor)
    assert cleared.status_code == 200 and cleared.json()["qualifier"] is None, cleared.text


# -- From a mutation audit of the figure writes, the status and the stats: edges no test
# held (each of these fails with its rule changed).


def test_a_range_whose_top_is_its_value_is_taken(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A range's top is at or above its value: a top equal to the value is taken."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    below = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch, value_max=8), headers=editor
    )
    assert below.status_code == 422 and fields(below) == ["body.value_max"]
    same = write_api.post(
        "/membership-counts", json=count_body(source["id"], branch, value_max=9), headers=editor
    )
    assert same.status_code == 201, same.text
    assert same.json()["value"] == 9 and same.json()["value_max"] == 9


def test_a_period_of_one_day_is_taken_and_one_ending_the_day_before_is_not(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A period ends before it starts only when its end is earlier: a day's is taken."""
    source = new_source(write_api, editor)
    branch = id_of(write_api, Branch, TIEN_PHONG)
    body = admissions_body(source["id"], branch)
    before = row_counts(write_api)
    backwards = body | {"period_start": "2023-12-31", "period_end": "2023-12-30"}
    refused = write_api.post("/admissions", json=backwards, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.period_end"]
    assert row_counts(write_api) == before
    one_day = body | {"period_start": "2023-12-31", "period_end": "2023-12-31"}
    made = write_api.post("/admissions", json=one_day, headers=editor)
    assert made.status_code == 201, made.text
    assert (made.json()["period_start"], made.json()["period_end"]) == ("2023-12-31", "2023-12-31")


def test_a_period_begun_before_the_founding_is_of_the_lifetime_if_it_ends_in_it(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """Before the founding is a period that ended before it, not one that began before
    it: the year of a branch founded in June is its year too."""
    source, _, made = _village_and_branch(write_api, editor)
    branch = made["id"]
    founded = patch(write_api, f"/branches/{branch}", {"founded_on": "2023-06-01"}, editor)
    assert founded.status_code == 200
    admissions = admissions_body(source["id"], branch)
    early = admissions | {"period_start": "2022-01-01", "period_end": "2022-12-31"}
    refused = write_api.post("/admissions", json=early, headers=editor)
    assert refused.status_code == 422 and fields(refused) == ["body.period_end"], refused.text
    year = admissions | {"period_start": "2023-01-01", "period_end": "2023-12-31"}
    made_year = write_api.post("/admissions", json=year, headers=editor)
    assert made_year.status_code == 201, made_year.text


def test_a_figure_of_the_founding_or_the_dissolution_day_is_of_the_lifetime(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A lifetime holds its first and its last day: a count as of the founding day, a
    period begun on the dissolution day, whether the figure or the branch's date is
    written last."""
    source, _, made = _village_and_branch(write_api, editor)
    branch = made["id"]
    admissions = admissions_body(source["id"], branch)
    ends_on_founding = admissions | {"period_start": "2019-01-01", "period_end": "2020-01-01"}
    made_early = write_api.post("/admissions", json=ends_on_founding, headers=editor)
    assert made_early.status_code == 201, made_early.text
    begins_on_dissolution = {"period_start": "2023-06-30", "period_end": "2023-12-31"}
    made_late = write_api.post(
        "/admissions", json=admissions | begins_on_dissolution, headers=editor
    )
    assert made_late.status_code == 201, made_late.text
    lifetime = {"founded_on": "2020-01-01", "dissolved_on": "2023-06-30"}
    dated = patch(write_api, f"/branches/{branch}", lifetime, editor)
    assert dated.status_code == 200, dated.text
    counts: dict[str, str] = {}
    for day in ("2020-01-01", "2023-06-30"):
        body = count_body(source["id"], branch, as_of=day)
        counted = write_api.post("/membership-counts", json=body, headers=editor)
        assert counted.status_code == 201, (day, counted.text)
        counts[day] = counted.json()["key"]

    # A day further in, and the branch's date is said against each figure it contradicts.
    early, late = made_early.json()["key"], made_late.json()["key"]
    for dates, expected in (
        (
            {"founded_on": "2020-01-02"},
            {
                ("body.founded_on", f"after membership_count {counts['2020-01-01']}, "
                 "dated 2020-01-01 (as_of)"),
                ("body.founded_on", f"after membership_event {early}, "
                 "dated 2020-01-01 (period_end)"),
            },
        ),
        (
            {"dissolved_on": "2023-06-29"},
            {
                ("body.dissolved_on", f"before membership_count {counts['2023-06-30']}, "
                 "dated 2023-06-30 (as_of)"),
                ("body.dissolved_on", f"before membership_event {late}, "
                 "dated 2023-06-30 (period_start)"),
            },
        ),
    ):  # fmt: skip
        refused = patch(write_api, f"/branches/{branch}", dates, editor)
        assert refused.status_code == 422, refused.text
        errors = refused.json()["errors"]
        assert {(e["field"], e["message"]) for e in errors} == expected, errors


def test_a_count_moved_to_another_branch_leaves_the_first_ones_status(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A count moved away is no longer its first branch's latest."""
    source, _, made = _village_and_branch(write_api, editor)
    branch = f"/branches/{made['id']}"
    count = write_api.post(
        "/membership-counts", json=count_body(source["id"], made["id"]), headers=editor
    )
    assert count.status_code == 201, count.text
    assert write_api.get(branch).json()["latest_count"]["id"] == count.json()["id"]
    path = f"/membership-counts/{count.json()['id']}"
    moved = patch(write_api, path, {"branch_id": id_of(write_api, Branch, TIEN_PHONG)}, editor)
    assert moved.status_code == 200, moved.text
    item = write_api.get(branch).json()
    assert item["latest_count"] is None and item["risk"]["level"] == "unknown"
    listed = write_api.get("/branches", params={"q": "Thử Nghiệm"}).json()["items"]
    assert [b["latest_count"] for b in listed if b["id"] == made["id"]] == [None]


def test_a_count_of_its_articles_day_is_dated_by_the_article(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """An own date on or after the article's is the article's: "published", in the
    count and in the branch's latest count (rendered by SQL: app.services.evidence_dates)."""
    source, _, made = _village_and_branch(write_api, editor)  # published 2024-03-02
    body = count_body(source["id"], made["id"], as_of="2024-03-02")
    count = write_api.post("/membership-counts", json=body, headers=editor)
    assert count.status_code == 201, count.text
    assert count.json()["evidence_date_basis"] == "published"
    latest = write_api.get(f"/branches/{made['id']}").json()["latest_count"]
    assert (latest["id"], latest["evidence_date_basis"]) == (count.json()["id"], "published")
    listed = write_api.get("/branches", params={"q": "Thử Nghiệm"}).json()["items"]
    [item] = [b for b in listed if b["id"] == made["id"]]
    assert item["latest_count"]["evidence_date_basis"] == "published"


def test_a_new_branch_without_a_count_sorts_before_those_counted_none(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """ "Not reported" is not zero: sorted by members, a branch without a count (the
    newest, its id the highest) comes before those whose count's low end is 0 (a group
    of branches of fewer than 5)."""
    _, _, made = _village_and_branch(write_api, editor)
    whole = walk(write_api, "/branches?sort=members&limit=500")
    lows = [-1 if b["members"]["low"] is None else b["members"]["low"] for b in whole]
    assert -1 in lows and 0 in lows
    assert lows == sorted(lows)
    assert lows[[b["id"] for b in whole].index(made["id"])] == -1


def test_a_villages_sum_with_an_unbounded_count_has_no_top(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A village's figures are added up one by one: an unbounded one ("trên 20") is not
    bounded, and the year's sum has no top."""
    source, village, made = _village_and_branch(write_api, editor)
    exact = count_body(source["id"], made["id"], as_of="2023-12-31")
    assert write_api.post("/membership-counts", json=exact, headers=editor).status_code == 201
    text = "Chi bộ Đoàn Kết có trên 20 đảng viên."
    other_source = new_source(write_api, editor, key="test-doan-ket", text=text)
    other = write_api.post(
        "/branches",
        json={
            "key": "org:vn2004:05251/xom-thu-nghiem/doan-ket", "kind": "village_branch",
            "name": "Chi bộ Đoàn Kết", "locality_id": village["id"],
            "parent_id": id_of(write_api, Branch, "org:vn2004:05251"),
            "source_id": other_source["id"], "quote": "Chi bộ Đoàn Kết",
        },
        headers=editor,
    )  # fmt: skip
    assert other.status_code == 201, other.text
    more_than = count_body(
        other_source["id"], other.json()["id"], value=20, quote=text, figure="trên 20",
        qualifier="more_than", as_of="2023-12-31",
    )  # fmt: skip
    made_count = write_api.post("/membership-counts", json=more_than, headers=editor)
    assert made_count.status_code == 201, made_count.text
    [year] = write_api.get(f"/localities/{village['id']}/stats").json()["years"]
    members = year["members"]
    assert (year["year"], members["records_total"], members["low"]) == (2023, 2, 30)
    assert members["high"] is None
