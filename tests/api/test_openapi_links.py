"""The OpenAPI's links, followed as a client would: an item's id and ETag, taken from the
response the link starts at, make the requests it names succeed."""

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.test_writes import NEW_TEXT, editor

__all__ = ["editor"]  # a fixture, used by name


def operations(client: TestClient) -> dict[str, tuple[str, str]]:
    """operationId -> (method, path template)."""
    document = client.get("/openapi.json").json()
    return {
        operation["operationId"]: (method, path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def links_of(client: TestClient, method: str, path: str, status: int) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    return document["paths"][path][method]["responses"][str(status)].get("links", {})  # type: ignore[no-any-return]


def follow(
    client: TestClient,
    link: dict[str, Any],
    response: httpx.Response,
    path_values: dict[str, str],
    headers: dict[str, str],
    body: Any = None,
) -> httpx.Response:
    """The request `link` names, its parameters taken from `response` (and its request)."""
    method, template = operations(client)[link["operationId"]]
    sent = dict(headers)
    path = template
    for name, expression in link["parameters"].items():
        if expression == "$response.body#/id":
            value = str(response.json()["id"])
        elif expression.startswith("$request.path."):
            value = path_values[expression.removeprefix("$request.path.")]
        elif expression == "$response.header.ETag":
            value = response.headers["etag"]
        else:
            raise AssertionError(f"an expression this test does not know: {expression}")
        where, _, param = name.rpartition(".")
        if where == "header":
            sent[param] = value
        else:
            path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, (link, path)
    return client.request(method.upper(), path, headers=sent, json=body)


def test_a_source_is_read_changed_and_deleted_by_the_links_of_its_creation(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    body = {"key": "test-thu-nghiem", "text": NEW_TEXT, "published_on": "2024-03-02"}
    created = write_api.post("/sources", json=body, headers=editor)
    assert created.status_code == 201, created.text
    links = links_of(write_api, "post", "/sources", 201)
    assert set(links) == {"get_source", "get_source_text", "update_source", "delete_source"}

    read = follow(write_api, links["get_source"], created, {}, {})
    assert read.status_code == 200 and read.json() == created.json()
    assert follow(write_api, links["get_source_text"], created, {}, {}).text == NEW_TEXT

    changed = follow(write_api, links["update_source"], created, {}, editor, {"title": "Bài thử"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Bài thử"
    # The creation's ETag is no longer the source's: its delete link is refused, that
    # of the change's answer is not.
    assert follow(write_api, links["delete_source"], created, {}, editor).status_code == 412
    after = links_of(write_api, "patch", "/sources/{source_id}", 200)
    ident = {"source_id": str(created.json()["id"])}
    assert follow(write_api, after["delete_source"], changed, ident, editor).status_code == 204
    assert write_api.get(created.headers["location"]).status_code == 404


# A page of each kind of item, starting with one the API may change (a village an article
# named, not an official unit from seed/reference).
FIRST_ITEMS = {
    "/sources": "/sources?limit=1",
    "/localities": "/localities?kind=village&limit=1",
    "/branches": "/branches?limit=1",
    "/membership-counts": "/membership-counts?limit=1",
    "/admissions": "/admissions?limit=1",
    "/facts": "/facts?limit=1",
}


@pytest.mark.parametrize("collection", FIRST_ITEMS)
def test_the_etag_of_an_item_s_get_is_the_if_match_its_links_send(
    write_api: TestClient, editor: dict[str, str], collection: str
) -> None:
    (template,) = [
        path for method, path in operations(write_api).values()
        if method == "patch" and path.startswith(f"{collection}/")
    ]  # fmt: skip
    param = template.removeprefix(f"{collection}/").strip("{}")
    (item,) = write_api.get(FIRST_ITEMS[collection]).json()["items"]
    ident = {param: str(item["id"])}
    read = write_api.get(f"{collection}/{item['id']}")
    links = links_of(write_api, "get", template, 200)
    update = links[operations_named(write_api, "patch", template)]
    delete = links[operations_named(write_api, "delete", template)]

    path = f"{collection}/{item['id']}"
    stale = {**editor, "If-Match": '"0"'}
    assert write_api.patch(path, json={}, headers=stale).status_code == 412
    unchanged = follow(write_api, update, read, ident, editor, {})
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json() == read.json()
    # An empty change keeps the item, and its ETag, as it was: the link still holds.
    assert unchanged.headers["etag"] == read.headers["etag"]
    deleted = follow(write_api, delete, read, ident, editor)
    # Past its precondition: deleted, or kept because something draws on it.
    assert deleted.status_code in (204, 409), deleted.text


def operations_named(client: TestClient, method: str, template: str) -> str:
    (operation_id,) = [
        name for name, (m, path) in operations(client).items() if (m, path) == (method, template)
    ]
    return operation_id
