"""What a first page of branches as of a day found, kept for the later pages with the data
version it was read at; a page of another state of the data reads again.

Ordered on their risk or members nationally, the ranking of every branch, read a range of
ids at a time (app.services.gathered.gather): a later page reads only its own rows'
documents. Filtered on their risk, the rows a first page walked to count its total
(app.services.listing.KeptWalks): a later page within them is cut from them.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services import gathered
from app.services.gathered import KeptRankings
from tests.api.test_writes import count_body, make_key, new_source
from tests.plans import captured_statements

DAY = "2026-01-01"
RANKED = "_day_version"  # in the SQL of a range's rows (listing.day_rows_statement) only
WALKED = "page_ids"  # in the SQL of a walk's step (listing._late_page_statement)


def _state(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def _ranges_read(client: TestClient, path: str, marker: str = RANKED) -> tuple[dict[str, Any], int]:
    """The page at `path`, and how many ranges its request ranked (or with WALKED, how
    many steps it walked)."""
    with captured_statements(_state(client).engine) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json(), len([s for s in captured if marker in s.sql])


def _pages(client: TestClient, path: str) -> Iterator[dict[str, Any]]:
    while path:
        response = client.get(path)
        assert response.status_code == 200, response.text
        yield response.json()
        path = response.links.get("next", {}).get("url")


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(gathered, "GATHER_IDS", 4)
    return 4


@pytest.mark.parametrize("sort", ["risk", "-members"])
def test_later_pages_read_only_their_documents(
    unkept_api: TestClient, small_ranges: int, sort: str
) -> None:
    path = f"/branches?as_of={DAY}&sort={sort}&limit=3"
    _state(unkept_api).kept_rankings = KeptRankings()  # as a new server: nothing kept
    first, ranked = _ranges_read(unkept_api, path)
    assert ranked > 1  # the seed's branches span several ranges of 4 ids
    kept_pages = [first]
    cursor = first["next_cursor"]
    while cursor:
        page, ranked = _ranges_read(unkept_api, f"{path}&cursor={cursor}")
        assert ranked == 0
        kept_pages.append(page)
        cursor = page["next_cursor"]
    # The same pages when nothing is kept, each ranked again.
    _state(unkept_api).kept_rankings = KeptRankings(0, 0)
    assert list(_pages(unkept_api, path)) == kept_pages
    assert len(kept_pages) > 2


@pytest.mark.parametrize(
    "query", ["sort=-members", "sort=members&risk=true", "sort=risk&risk=false&min_members=5"]
)
def test_other_orders_and_filters_of_the_day_read_no_range(
    unkept_api: TestClient, small_ranges: int, query: str
) -> None:
    """The day's rows, kept, are sorted and filtered in Python for each order and filter
    of that day: the same page as when it reads its ranges."""
    path = f"/branches?as_of={DAY}&{query}&limit=4"
    _state(unkept_api).kept_rankings = KeptRankings()
    _, ranked = _ranges_read(unkept_api, f"/branches?as_of={DAY}&sort=risk&limit=3")
    assert ranked > 1  # the day's rows, kept
    from_the_day, ranked = _ranges_read(unkept_api, path)
    assert ranked == 0
    _state(unkept_api).kept_rankings = KeptRankings(0, 0)
    read_again, ranked = _ranges_read(unkept_api, path)
    assert ranked > 1
    assert read_again == from_the_day and from_the_day["items"]


def test_json_and_csv_of_one_order_share_its_ranking(unkept_api: TestClient) -> None:
    path = f"/branches?as_of={DAY}&sort=risk&limit=5"
    _state(unkept_api).kept_rankings = KeptRankings()
    page, ranked = _ranges_read(unkept_api, path)
    assert ranked > 0
    with captured_statements(_state(unkept_api).engine) as captured:
        csv = unkept_api.get(f"{path}&format=csv")
    assert csv.status_code == 200
    assert not [s for s in captured if RANKED in s.sql]
    ids = [int(line.split(",", 1)[0]) for line in csv.text.splitlines()[1:]]
    assert ids == [item["id"] for item in page["items"]]


def test_a_ranking_kept_before_a_write_is_ranked_again(unkept_write_api: TestClient) -> None:
    """The second branch by members as of the day gets a count above the first's: it
    moves before the first page's cursor, so the next page no longer shows it. From the
    ranking kept before the write, it would."""
    client = unkept_write_api
    path = f"/branches?as_of={DAY}&sort=-members&limit=1"
    first = client.get(path).json()
    later = f"{path}&cursor={first['next_cursor']}"
    second = client.get(later).json()
    third = client.get(f"{path}&cursor={second['next_cursor']}").json()
    moved = second["items"][0]["id"]
    members = first["items"][0]["members"]["low"] + 1_000
    editor = make_key(client)
    quote = f"hiện có {members} đảng viên"
    source = new_source(client, editor, text=f"Chi bộ xóm Thử Nghiệm {quote}.", published_on=DAY)
    body = count_body(
        source["id"], moved, value=members, quote=quote, figure=str(members), as_of=DAY
    )
    created = client.post("/membership-counts", json=body, headers=editor)
    assert created.status_code == 201, created.text

    after, ranked = _ranges_read(client, later)
    assert ranked > 0
    assert [item["id"] for item in after["items"]] == [third["items"][0]["id"]]
    top = client.get(path).json()["items"][0]
    assert top["id"] == moved and top["members"]["low"] == members


def test_rows_walked_before_a_write_are_walked_again(unkept_write_api: TestClient) -> None:
    client = unkept_write_api
    path = f"/branches?as_of={DAY}&risk=unknown&limit=1"
    first = client.get(path).json()
    assert first["total"] > 2
    later = f"{path}&cursor={first['next_cursor']}"
    kept, walked = _ranges_read(client, later, WALKED)
    assert walked == 0
    new_source(client, make_key(client))  # a write: another data version
    again, walked = _ranges_read(client, later, WALKED)
    assert walked > 0
    assert again == kept  # a new source changes no branch
