"""Lists filtered by a place, built each time: the place's scope is kept between requests
and checked by the data version that the page's own statement reads."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.reader import Reader
from app.services.data_version import data_version
from app.services.place_scopes import PlaceScopes, place_scope
from tests.api.helpers import locality
from tests.conftest import StatementCounter

# Today's Lào Cai covers old Yên Bái and old Lào Cai (code 15 both).
PATHS = (
    "/branches?province={lao_cai}",
    "/branches?locality={lao_cai}&format=csv&limit=100",
    "/membership-counts?locality={lao_cai}",
    "/admissions?locality={lao_cai}",
    "/localities?within={lao_cai}&limit=100",
)


def _paths(api: TestClient) -> list[str]:
    lao_cai = locality(api, "15", current=True)["id"]
    return [path.format(lao_cai=lao_cai) for path in PATHS]


def _app_state(api: TestClient) -> Any:
    return api.app.state  # type: ignore[attr-defined]


def _scope_reads(counter: StatementCounter) -> int:
    return sum("WITH RECURSIVE covered" in statement for statement in counter.statements)


@pytest.mark.parametrize("index", range(len(PATHS)))
def test_a_page_built_again_does_not_read_the_scope(unkept_api: TestClient, index: int) -> None:
    path = _paths(unkept_api)[index]
    first = unkept_api.get(path)
    assert first.status_code == 200, first.text
    with StatementCounter(_app_state(unkept_api).engine) as counter:
        again = unkept_api.get(path)
    assert again.content == first.content
    assert _scope_reads(counter) == 0 and "data_version" in counter.statements[0]


@pytest.mark.parametrize("index", range(len(PATHS)))
def test_a_scope_kept_from_before_a_write_is_not_used(unkept_api: TestClient, index: int) -> None:
    """Kept at an older version, today's Lào Cai as old Yên Bái alone: the page is read
    again with the scope as it is, and is the page a fresh server sends."""
    state = _app_state(unkept_api)
    path = _paths(unkept_api)[index]
    lao_cai = locality(unkept_api, "15", current=True)["id"]
    yen_bai = locality(unkept_api, "15", current=False)["id"]
    expected = unkept_api.get(path)
    with Reader.open(state.engine) as reader:
        version = data_version(reader)
        out_of_date = place_scope(reader, yen_bai)
    assert version is not None
    scopes: PlaceScopes = state.place_scopes
    scopes.put(lao_cai, version - 1, out_of_date)
    with StatementCounter(state.engine) as counter:
        found = unkept_api.get(path)
    assert found.content == expected.content
    assert _scope_reads(counter) == 1  # between the page and the page again
    kept = scopes.get(lao_cai)
    assert kept is not None and kept[0] == version


def test_a_commune_is_still_not_a_province(unkept_api: TestClient) -> None:
    commune = unkept_api.get("/localities", params={"kind": "commune", "limit": 1}).json()
    path = f"/branches?province={commune['items'][0]['id']}"
    for _ in range(2):  # its scope kept after the first
        response = unkept_api.get(path)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.province"
