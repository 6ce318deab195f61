"""/audit: who changed what and when, with before and after; for writers only."""

import pytest
from fastapi.testclient import TestClient

from app.models import MembershipCount
from tests.api.test_writes import TIEN_PHONG_SOURCE, delete, id_of, make_key, patch, row_counts

COUNT_KEY = f"{TIEN_PHONG_SOURCE}#tien-phong-members-before-transfer"


@pytest.fixture
def editor(write_api: TestClient) -> dict[str, str]:
    return make_key(write_api, "editor-lan")


def test_the_log_is_for_writers(write_api: TestClient) -> None:
    anonymous = write_api.get("/audit")
    assert anonymous.status_code == 401
    # A read of the log, not a write: the problem says what needs a key.
    assert "the audit log" in anonymous.json()["detail"]
    reader = make_key(write_api, "reader", "read")
    read_only = write_api.get("/audit", headers=reader)
    assert read_only.status_code == 403 and "the audit log" in read_only.json()["detail"]
    writer = make_key(write_api, "writer")
    response = write_api.get("/audit", headers=writer)
    assert response.status_code == 200
    assert response.json()["items"] == [] and response.json()["total"] == 0
    assert response.headers["cache-control"] == "private, no-store"


def test_every_write_is_logged_with_who_and_before_and_after(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    path = f"/membership-counts/{id_of(write_api, MembershipCount, COUNT_KEY)}"
    original = write_api.get(path).json()
    # "từ 13 lên 15": the other number its quote prints.
    assert patch(write_api, path, {"value": 15, "figure": "15"}, editor).status_code == 200
    colleague = make_key(write_api, "editor-minh")
    assert delete(write_api, path, colleague).status_code == 204

    items = write_api.get("/audit", headers=editor).json()["items"]
    deleted, updated = items
    assert (deleted["action"], deleted["key"]["name"], deleted["after"]) == (
        "delete",
        "editor-minh",
        None,
    )
    assert deleted["before"]["value"] == 15 and deleted["entity_key"] == COUNT_KEY
    assert updated["action"] == "update" and updated["key"]["name"] == "editor-lan"
    assert updated["before"]["value"] == original["value"] == 13
    assert updated["after"]["value"] == 15
    assert {"value", "figure"} <= set(updated["changed"])
    assert updated["before"]["quote"] == original["quote"]
    assert deleted["id"] > updated["id"] and deleted["at"] >= updated["at"]


def test_a_refused_write_logs_nothing(write_api: TestClient, editor: dict[str, str]) -> None:
    path = f"/membership-counts/{id_of(write_api, MembershipCount, COUNT_KEY)}"
    before = row_counts(write_api)
    assert patch(write_api, path, {"quote": "không có trong bài"}, editor).status_code == 422
    assert write_api.patch(path, json={"note": "x"}, headers=editor).status_code == 428
    assert row_counts(write_api) == before


def test_pages_newest_first_and_filters(write_api: TestClient, editor: dict[str, str]) -> None:
    path = f"/membership-counts/{id_of(write_api, MembershipCount, COUNT_KEY)}"
    for note in ("a", "b", "c"):
        assert patch(write_api, path, {"note": note}, editor).status_code == 200
    page = write_api.get("/audit", params={"limit": 2}, headers=editor)
    first = page.json()
    assert [e["after"]["note"] for e in first["items"]] == ["c", "b"] and first["total"] == 3
    assert page.headers["link"] == f'<{first["next"]}>; rel="next"'  # as every list says it
    last = write_api.get(first["next"], headers=editor)
    second = last.json()
    assert [e["after"]["note"] for e in second["items"]] == ["a"] and second["next"] is None
    assert "link" not in last.headers

    assert write_api.get("/audit", params={"entity": "branch"}, headers=editor).json()["total"] == 0
    by_key = write_api.get("/audit", params={"key": "editor-lan"}, headers=editor).json()
    assert by_key["total"] == 3
    assert write_api.get("/audit", params={"entity": "planet"}, headers=editor).status_code == 422
    assert write_api.get("/audit", params={"sort": "id"}, headers=editor).status_code == 400
