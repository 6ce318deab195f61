"""Finding seed rows through the API by what a reader knows (names, codes), not ids."""

from typing import Any

from fastapi.testclient import TestClient


def locality(api: TestClient, code: str, *, current: bool) -> dict[str, Any]:
    items = api.get("/localities", params={"code": code, "current": str(current).lower()}).json()[
        "items"
    ]
    assert len(items) == 1, items
    return items[0]


def branch(api: TestClient, name: str) -> dict[str, Any]:
    items = api.get("/branches", params={"q": name, "limit": 5}).json()["items"]
    matches = [b for b in items if b["name"] == name]
    assert len(matches) == 1, items
    return matches[0]


def group(api: TestClient) -> dict[str, Any]:
    items = api.get("/branches", params={"q": "6 chi bộ thuộc 4 xã"}).json()["items"]
    assert [i["group_size"] for i in items] == [6]
    return items[0]


def walk(api: TestClient, url: str) -> list[dict[str, Any]]:
    """Every item of a list, page after page by its `next` links."""
    items: list[dict[str, Any]] = []
    page: str | None = url
    while page:
        body = api.get(page).json()
        items += body["items"]
        page = body["next"]
    return items
