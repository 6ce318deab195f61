"""A filter naming a record that does not exist is a 404 naming the filter, on every
list and in every format; a record that exists with nothing under it is an empty page.
A path naming one is a 404 naming the path's parameter."""

import re

import pytest
from fastapi.testclient import TestClient

from app.openapi import openapi_document
from tests.api.test_writes import make_key

MISSING = 987_654

# (list, filter, the record it names)
FILTERS = [
    ("/branches", "parent", "Branch"),
    ("/branches", "locality", "Locality"),
    ("/branches", "province", "Locality"),
    ("/localities", "parent", "Locality"),
    ("/localities", "within", "Locality"),
    *(
        (path, name, record)
        for path in ("/membership-counts", "/admissions", "/facts")
        for name, record in (("branch", "Branch"), ("source", "Source"), ("locality", "Locality"))
    ),
]
# A JSON page, a CSV page, and a whole export (no limit) that streams.
FORMATS = [{}, {"format": "csv", "limit": "10"}, {"format": "ndjson"}]


@pytest.mark.parametrize("extra", FORMATS, ids=["json", "csv-page", "ndjson-export"])
@pytest.mark.parametrize(("path", "name", "record"), FILTERS)
def test_a_missing_record_is_a_404_naming_its_filter(
    api: TestClient, path: str, name: str, record: str, extra: dict[str, str]
) -> None:
    response = api.get(path, params={name: MISSING, **extra})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"] == f"query.{name}: {record} {MISSING} does not exist."
    assert problem["errors"] == [
        {
            "field": f"query.{name}",
            "message": f"{record} {MISSING} does not exist.",
            "type": "not_found",
        }
    ]


def _paths_of_one_record() -> list[tuple[str, str, str]]:
    """(method, path template, its parameter) of every operation on one record."""
    return [
        (method, path, parameter)
        for path, operations in openapi_document()["paths"].items()
        for parameter in re.findall(r"\{([a-z_]+)\}", path)
        for method in operations
    ]


def test_a_missing_record_in_the_path_is_a_404_naming_the_parameter(
    write_api: TestClient,
) -> None:
    """As a filter's: an integrator's audit found the path's 404 the only one without
    `errors`. Reads and writes (a key, and If-Match: *, get past their own checks)."""
    headers = {**make_key(write_api), "If-Match": "*"}
    operations = _paths_of_one_record()
    assert {method for method, _, _ in operations} == {"get", "patch", "delete"}
    for method, path, parameter in operations:
        url = path.replace(f"{{{parameter}}}", str(MISSING))
        body = {"json": {}} if method == "patch" else {}
        response = write_api.request(method.upper(), url, headers=headers, **body)
        assert response.status_code == 404, (method, url, response.text)
        problem = response.json()
        field = f"path.{parameter}"
        assert problem["errors"] == [
            {"field": field, "message": problem["detail"][len(field) + 2 :], "type": "not_found"}
        ], (method, url)
        assert problem["detail"].startswith(f"{field}: ") and str(MISSING) in problem["detail"]


def _first_id(api: TestClient, path: str, **params: str) -> int:
    items = api.get(path, params={"limit": "1", **params}).json()["items"]
    assert items, (path, params)
    return int(items[0]["id"])


@pytest.mark.parametrize("extra", FORMATS, ids=["json", "csv-page", "ndjson-export"])
def test_a_record_with_nothing_under_it_is_an_empty_page(
    api: TestClient, extra: dict[str, str]
) -> None:
    village_branch = _first_id(api, "/branches", kind="village_branch")
    village = _first_id(api, "/localities", kind="village")
    source = _first_id(api, "/sources")
    # No figure is dated in 1900: each record exists, and nothing of it is listed.
    before = {"from": "1900-01-01", "to": "1900-12-31"}
    empty = [
        ("/branches", {"parent": village_branch}),
        ("/localities", {"parent": village}),
        ("/membership-counts", {"branch": village_branch, **before}),
        ("/admissions", {"source": source, **before}),
        ("/facts", {"source": source, "branch": village_branch, **before}),
    ]
    for path, params in empty:
        response = api.get(path, params={**params, **extra})
        assert response.status_code == 200, (path, response.text)
        if not extra:
            assert response.json()["items"] == []
        elif extra["format"] == "csv":
            assert len(response.text.splitlines()) == 1  # the header alone
        else:
            assert response.text == ""
