"""Every `next` a list gives is one it takes, however long the names it is sorted by.

From an integrator's audit: a name page's cursor holds the last row's name_order, some
two characters a letter, and an unnamed group's 500 characters of description (or a
place's name and official name) made one of 1,571 characters, which the list refused
past its 1,000 ("String should have at most 1000 characters").
"""

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.middleware import MAX_QUERY_BYTES
from app.models import Locality
from app.models.base import NAME_ORDER_LENGTH
from app.services.pagination import CURSOR_MAX_LENGTH, PageRequest, encode_cursor
from tests.api.test_writes import id_of, make_key, new_source

# Digits and spaces: each character three of the sort key's, which the longest fills.
LONG_WORDS = ("1234567890 " * 46)[:500].strip()


def _walk(client: TestClient, url: str) -> list[dict[str, Any]]:
    """Every item, a page at a time by `next`; each page must be a 200."""
    items: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, (len(url), response.text)
        page = response.json()
        items.extend(page["items"])
        url = page["next"]
    return items


@pytest.mark.parametrize("sort", ["name", "-name"])
def test_a_long_named_group_and_place_are_walked_past(write_api: TestClient, sort: str) -> None:
    editor = make_key(write_api)
    source = new_source(write_api, editor)
    group = write_api.post(
        "/branches",
        json={
            "key": "test:long-group", "kind": "village_branch", "group_size": 2,
            "description": LONG_WORDS, "source_id": source["id"],
            "quote": "Chi bộ xóm Thử Nghiệm",
        },
        headers=editor,
    )  # fmt: skip
    assert group.status_code == 201, group.text
    place = write_api.post(
        "/localities",
        json={
            "key": "test:long-place", "kind": "village", "name": LONG_WORDS[:200].strip(),
            "official_name": "Thôn " + LONG_WORDS[:240].strip(),
            "parent_id": id_of(write_api, Locality, "vn2004:05251"),
            "source_id": source["id"], "quote": "xóm Thử Nghiệm",
        },
        headers=editor,
    )  # fmt: skip
    assert place.status_code == 201, place.text
    branches = _walk(write_api, f"/branches?sort={sort}&limit=1")
    assert group.json()["id"] in [b["id"] for b in branches]
    assert len(branches) == write_api.get("/branches").json()["total"]
    localities = _walk(write_api, f"/localities?sort={sort}&limit=1")
    assert place.json()["id"] in [p["id"] for p in localities]


def test_the_longest_cursor_and_its_link_are_taken() -> None:
    """The longest values a sort puts in a cursor: a name page's name_order, whole; a
    relevance page's name_lower (600 characters, here of 4 bytes each), with the longest
    q beside it in the `next` link (200 such letters, percent-encoded)."""
    largest_id = 2**63 - 1
    digest = "0" * 16
    longest = max(
        len(encode_cursor(values, PageRequest(500, None, sort, digest), b"secret"))
        for values, sort in (
            (["z" * NAME_ORDER_LENGTH, largest_id], "-name"),
            ([3, "\U0001d538" * 600, largest_id], "relevance"),
        )
    )
    assert longest <= CURSOR_MAX_LENGTH
    other_filters = "&province=999999999&kind=village_branch&risk=true&as_of=2026-12-07"
    link = f"q={quote(chr(0x1D538) * 200)}{other_filters}&sort=relevance&limit=500"
    assert len(f"{link}&cursor=") + CURSOR_MAX_LENGTH <= MAX_QUERY_BYTES
