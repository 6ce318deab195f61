"""GET /: the index an integrator starts from lists reads that answer as it says."""

import re

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def _index(api: TestClient) -> dict[str, object]:
    response = api.get("/")
    assert response.status_code == 200
    return dict(response.json())


def test_every_listed_read_answers_in_the_media_types_it_lists(api: TestClient) -> None:
    resources = _index(api)["resources"]
    assert isinstance(resources, list)
    listed = {r["href"] for r in resources}
    assert {"/branches", "/branches/{branch_id}", "/localities/{locality_id}/stats"} <= listed
    # Writes are not reads: nothing only POSTed is listed, nor the index itself.
    assert not listed & {"/", "/imports"}
    for resource in resources:
        path = _filled(api, resource["href"])
        response = api.get(path)
        if resource["key_required"]:
            assert response.status_code == 401, path
            continue
        assert response.status_code == 200, (path, response.text[:200])
        first, *others = resource["media_types"]
        assert response.headers["content-type"].split(";")[0] == first, path
        page = {} if resource["templated"] else {"limit": 1}  # a list's, not a document's
        for media_type in others:
            exported = api.get(path, params=page, headers={"Accept": media_type})
            assert exported.headers["content-type"].split(";")[0] == media_type, path


def _filled(api: TestClient, href: str) -> str:
    """A templated path with the id of the first item of its collection."""
    match = re.fullmatch(r"(?P<collection>/[a-z-]+)/\{[a-z_]+\}(?P<under>/[a-z]+)?", href)
    if match is None:
        return href
    first = api.get(match["collection"], params={"limit": 1}).json()["items"][0]
    return f"{match['collection']}/{first['id']}{match['under'] or ''}"


def test_the_index_names_the_documentation_that_is_served(api: TestClient) -> None:
    index = _index(api)
    documentation = index["documentation"]
    assert isinstance(documentation, dict)
    assert api.get(documentation["openapi"]).json()["info"]["title"] == index["title"]
    for page in (documentation["interactive"], documentation["reference"]):
        assert api.get(page).headers["content-type"].startswith("text/html")
    links = api.get("/").headers["link"]
    relations = dict(
        (m["rel"], m["href"])
        for m in re.finditer(r'<(?P<href>[^>]+)>; rel="(?P<rel>[a-z-]+)"', links)
    )
    assert relations == {
        "service-desc": documentation["openapi"],
        "service-doc": documentation["interactive"],
        "status": "/health",
    }
    assert api.get(relations["status"]).json() == {"status": "ok"}


def test_the_documentation_pages_load_nothing_from_elsewhere(api: TestClient) -> None:
    """Served offline: every script, style and icon of the pages comes from this server."""
    documentation = _index(api)["documentation"]
    assert isinstance(documentation, dict)
    served_types = set()
    for page in (documentation["interactive"], documentation["reference"]):
        html = api.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) >= 2, html
        for asset in assets:
            assert asset.startswith("/docs/"), (page, asset)
            response = api.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset
            served_types.add(response.headers["content-type"].split(";")[0])
    assert served_types == {"text/javascript", "text/css", "image/png"}


def test_the_index_lists_a_read_added_later_and_no_documentation_hidden(
    shared_seeded_url: str,
) -> None:
    app = create_app(Settings(database_url=shared_seeded_url))

    @app.get("/added", summary="A read added later", operation_id="get_added")
    def added() -> dict[str, str]:
        return {}

    app.openapi_url = app.docs_url = None
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/")
    index = response.json()
    assert index["resources"][-1] == {
        "href": "/added",
        "templated": False,
        "operation_id": "get_added",
        "summary": "A read added later",
        "media_types": ["application/json"],
        "key_required": False,
    }
    assert index["documentation"] == {"openapi": None, "interactive": None, "reference": "/redoc"}
    assert response.headers["link"] == '</health>; rel="status"'


def test_the_index_is_cached_and_refuses_unknown_parameters(api: TestClient) -> None:
    etag = api.get("/").headers["etag"]
    assert api.get("/", headers={"If-None-Match": etag}).status_code == 304
    refused = api.get("/", params={"format": "csv"})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["query.format"]


def test_an_unknown_path_points_to_the_index(api: TestClient) -> None:
    response = api.get("/branch")
    assert response.status_code == 404
    assert response.json()["detail"] == "No resource at /branch; the API's reads are listed at /."
