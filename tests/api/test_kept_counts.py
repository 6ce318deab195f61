"""A first page's total, kept with the data version it was counted at: a page built again
takes it instead of counting, and a page of another state of the data counts again."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models import Branch
from app.services.listing import KeptCounts
from tests.api.helpers import locality
from tests.api.test_writes import TIEN_PHONG, count_body, id_of, make_key, new_source
from tests.conftest import StatementCounter

# Today's Lào Cai (code 15) covers old Yên Bái and old Lào Cai.
PATHS = (
    "/branches?risk=true",
    "/branches?province={lao_cai}",
    "/localities?q=mai",
    "/localities?within={lao_cai}",
    "/membership-counts",
    "/admissions?locality={lao_cai}",
)
COUNTING = "count(*)"


def _state(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def _counted(counter: StatementCounter) -> bool:
    return any(COUNTING in statement for statement in counter.statements)


@pytest.mark.parametrize("path", PATHS)
def test_a_first_page_built_again_does_not_count(unkept_api: TestClient, path: str) -> None:
    lao_cai = locality(unkept_api, "15", current=True)["id"]
    path = path.format(lao_cai=lao_cai)
    _state(unkept_api).kept_counts = KeptCounts()  # as a new server: nothing kept yet
    with StatementCounter(_state(unkept_api).engine) as counter:
        first = unkept_api.get(path)
    assert first.status_code == 200, first.text
    assert _counted(counter)
    with StatementCounter(_state(unkept_api).engine) as counter:
        again = unkept_api.get(path)
    assert not _counted(counter), counter.statements
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]


def test_a_csv_page_does_not_count(unkept_api: TestClient) -> None:
    """CSV shows no total: its lines are read, not counted (app.services.line_pages)."""
    lao_cai = locality(unkept_api, "15", current=True)["id"]
    _state(unkept_api).kept_counts = KeptCounts()
    with StatementCounter(_state(unkept_api).engine) as counter:
        page = unkept_api.get(f"/branches?province={lao_cai}&format=csv&limit=100")
    assert page.status_code == 200 and page.text.count("\r\n") > 1
    assert not _counted(counter), counter.statements


def test_a_later_page_neither_counts_nor_shows_a_total(unkept_api: TestClient) -> None:
    first = unkept_api.get("/membership-counts?limit=2")
    later = unkept_api.get(first.links["next"]["url"])
    assert first.json()["total"] > 2 and later.json()["total"] is None


def test_a_total_kept_before_a_write_is_counted_again(unkept_write_api: TestClient) -> None:
    client = unkept_write_api
    editor = make_key(client)
    tien_phong = id_of(client, Branch, TIEN_PHONG)
    path = f"/membership-counts?branch={tien_phong}"
    before = client.get(path).json()["total"]
    assert client.get(path).json()["total"] == before  # kept now
    source = new_source(client, editor)
    body = count_body(source["id"], tien_phong, as_of="2024-01-01")
    created = client.post("/membership-counts", json=body, headers=editor)
    assert created.status_code == 201, created.text
    with StatementCounter(_state(client).engine) as counter:
        after = client.get(path).json()
    assert _counted(counter)
    assert after["total"] == before + 1 == len(after["items"])
    deleted = client.delete(
        f"/membership-counts/{created.json()['id']}",
        headers={**editor, "If-Match": created.headers["etag"]},
    )
    assert deleted.status_code == 204, deleted.text
    assert client.get(path).json()["total"] == before


def test_a_list_emptied_since_its_total_was_kept_shows_none(unkept_write_api: TestClient) -> None:
    """The kept total was counted at an older version; the page now has no row (so it
    read no version): nothing matches, whatever was kept."""
    client = unkept_write_api
    editor = make_key(client)
    source = new_source(client, editor)
    tien_phong = id_of(client, Branch, TIEN_PHONG)
    body = count_body(source["id"], tien_phong, as_of="2024-01-01")
    created = client.post("/membership-counts", json=body, headers=editor)
    assert created.status_code == 201, created.text
    path = f"/membership-counts?source={source['id']}"
    assert client.get(path).json()["total"] == 1
    deleted = client.delete(
        f"/membership-counts/{created.json()['id']}",
        headers={**editor, "If-Match": created.headers["etag"]},
    )
    assert deleted.status_code == 204, deleted.text
    page = client.get(path).json()
    assert page["items"] == [] and page["total"] == 0
