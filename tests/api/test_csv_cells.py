"""CSV rendered by the database says exactly what the JSON says.

CSV pages and exports of branches and figures are cells computed in SQL
(app/services/json_sql.py); the JSON items are rendered separately. Flattening the JSON
items with app.formats.csv_lines must give the same text, byte for byte, on both
databases: nulls, booleans, dates, qualifiers, nested sources and all.
"""

import pytest
from fastapi.testclient import TestClient

from app.formats import csv_lines
from app.services.branches import BRANCH_CSV
from app.services.figures import COUNT_CSV, EVENT_CSV, FACT_CSV

LISTS = [
    ("/membership-counts", COUNT_CSV, ["", "sort=-date", "status=all"]),
    ("/admissions", EVENT_CSV, ["", "sort=-date", "kind=admission"]),
    ("/facts", FACT_CSV, ["", "sort=date"]),
    ("/branches", BRANCH_CSV, ["", "sort=name", "risk=true", "as_of=2017-01-01", "sort=risk"]),
]
CASES = [(path, columns, query) for path, columns, queries in LISTS for query in queries]


def _all_items(api: TestClient, path: str, query: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    url: str | None = f"{path}?{query}&limit=5"
    while url:
        page = api.get(url)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        url = page.json()["next"]
    return items


@pytest.mark.parametrize(("path", "columns", "query"), CASES)
def test_csv_cells_equal_the_json_flattened(
    api: TestClient, path: str, columns: list[str], query: str
) -> None:
    items = _all_items(api, path, query)
    assert items, "the seed has rows for every case"
    expected = "".join(csv_lines(items, columns))
    export = api.get(f"{path}?{query}&format=csv")
    page = api.get(f"{path}?{query}&format=csv&limit=500")
    assert export.status_code == page.status_code == 200
    assert export.text == expected
    assert page.text == expected


def test_csv_pages_follow_the_same_cursor_as_json(api: TestClient) -> None:
    first = api.get("/membership-counts?format=csv&limit=3")
    assert first.status_code == 200
    next_link = first.headers["link"].split(";")[0].strip("<>")
    second = api.get(next_link)
    ids = [line.split(",")[0] for line in (first.text + second.text).splitlines()]
    json_ids = [str(item["id"]) for item in api.get("/membership-counts?limit=6").json()["items"]]
    assert [i for i in ids if i != "id"] == json_ids
