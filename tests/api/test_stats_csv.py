"""A place's yearly stats as CSV: each sum beside each figure it adds, as the JSON says."""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.formats import UTF8_BOM
from app.models import Branch
from tests.api.helpers import locality
from tests.api.test_writes import editor, id_of, new_source

__all__ = ["editor"]  # a fixture, used by name

# Lục Yên (a district with a year), Thanh Chương (a group's "under 5" and an event),
# xã Mai Hạ (a year, events over two years and an open one), Thào Chư Phìn (an undated
# count only), Nghệ An (a province above a district's figures).
PLACES = [("135", False), ("428", False), ("05251", False), ("02803", False), ("40", False)]
EVENT_MEASURES = {"admission": "admissions", "departure": "departures",
                  "transfer_in": "transfers_in", "transfer_out": "transfers_out"}  # fmt: skip


def _csv(api: TestClient, path: str, **params: Any) -> list[dict[str, str]]:
    answer = api.get(path, params={"format": "csv", **params})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(answer.text)))


def _path(record: dict[str, Any]) -> str:
    return f"/{'admissions' if 'kind' in record else 'membership-counts'}/{record['id']}"


def _expected(stats: dict[str, Any]) -> list[tuple[str, ...]]:
    """The rows the JSON says the CSV has: (section, year, measure, sum low, high, total,
    record id, its value, qualifier, quote, path)."""
    rows = []
    for entry in stats["years"]:
        for measure in ("members", "admissions", "departures", "transfers_in", "transfers_out"):
            summed = entry[measure]
            if summed is None:
                continue
            bounds = tuple("" if summed[k] is None else str(summed[k])
                           for k in ("low", "high", "records_total"))  # fmt: skip
            for record in summed["records"] or [None]:
                figure = (
                    (str(record["id"]), str(record["value"]), record["qualifier"],
                     record["quote"], _path(record))
                    if record else ("", "", "", "", "")
                )  # fmt: skip
                rows.append(("year", str(entry["year"]), measure, *bounds, *figure))
    for record in stats["undated_counts"]:
        rows.append(
            (
                "undated_counts",
                "",
                "members",
                "",
                "",
                "",
                str(record["id"]),
                str(record["value"]),
                record["qualifier"],
                record["quote"],
                _path(record),
            )
        )
    for event in stats["not_in_a_single_year"]:
        value = "" if event["value"] is None else str(event["value"])
        rows.append(
            (
                "not_in_a_single_year",
                "",
                EVENT_MEASURES[event["kind"]],
                "",
                "",
                "",
                str(event["id"]),
                value,
                event["qualifier"],
                event["quote"],
                _path(event),
            )
        )
    return rows


def _served(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    columns = (
        "section",
        "year",
        "measure",
        "sum_low",
        "sum_high",
        "sum_records_total",
        "record_id",
        "record_value",
        "record_qualifier",
        "record_quote",
        "record_path",
    )
    return [tuple(row[c] for c in columns) for row in rows]


@pytest.mark.parametrize("records", [0, 1, 25])
@pytest.mark.parametrize(("code", "current"), PLACES)
def test_the_csv_is_the_jsons_sums_beside_their_figures(
    api: TestClient, code: str, current: bool, records: int
) -> None:
    place = locality(api, code, current=current)
    path = f"/localities/{place['id']}/stats"
    stats = api.get(path, params={"records": records}).json()
    rows = _csv(api, path, records=records)
    assert _served(rows) == _expected(stats)
    # The place as the JSON names it, with its official code to join other statistics on.
    named = {tuple(r[f"place_{f}"] for f in ("id", "kind", "name", "code")) for r in rows}
    asked = stats["locality"]
    assert named == {(str(place["id"]), asked["kind"], asked["name"], asked["code"] or "")}
    for row in rows:
        if row["record_id"]:  # each figure is where its path says, with its source
            figure = api.get(row["record_path"]).json()
            assert (figure["quote"], figure["source"]["key"]) == (
                row["record_quote"],
                row["record_source_key"],
            )


@pytest.mark.parametrize(("code", "current"), [("135", False), ("15", True), ("40", True)])
def test_each_row_names_the_units_the_sums_cover(api: TestClient, code: str, current: bool) -> None:
    """A merged place's sums add up the units it replaced: the CSV names them, as the
    JSON's covers does (Lào Cai and Nghệ An of 2025; Lục Yên, a unit of its own)."""
    place = locality(api, code, current=current)
    path = f"/localities/{place['id']}/stats"
    covers = api.get(path).json()["covers"]
    assert place["id"] in covers and (len(covers) > 1) == current
    rows = _csv(api, path)
    assert rows and {r["place_covers"] for r in rows} == {"; ".join(map(str, covers))}


def test_a_measure_not_reported_in_a_year_has_no_row(api: TestClient) -> None:
    """Thanh Chương's 2016 is its group's count alone: no admissions row reading 0, and
    the group's "under 5" each: 0 to 24, its qualifier beside it."""
    thanh_chuong = locality(api, "428", current=False)
    rows = _csv(api, f"/localities/{thanh_chuong['id']}/stats")
    in_2016 = [r for r in rows if r["year"] == "2016"]
    assert [(r["measure"], r["sum_low"], r["sum_high"], r["record_qualifier"], r["record_figure"])
            for r in in_2016] == [("members", "0", "24", "less_than", "dưới 5")]  # fmt: skip


def test_a_figure_with_no_upper_bound_leaves_the_sums_high_empty(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A "trên 100" count keeps its qualifier: the sum has a floor and no ceiling, not
    100 to 100 (an article written here: the seed has no such count in a year)."""
    text = "Năm 2024, Đảng bộ xã Mai Hạ có trên 100 đảng viên."
    source = new_source(
        write_api, editor, key="test-tren-100", text=text, published_on="2025-01-15"
    )
    mai_ha = id_of(write_api, Branch, "org:vn2004:05251")
    body = {"source_id": source["id"], "branch_id": mai_ha, "value": 100,
            "qualifier": "more_than", "as_of": "2024-12-31", "quote": text,
            "figure": "trên 100"}  # fmt: skip
    made = write_api.post("/membership-counts", json=body, headers=editor)
    assert made.status_code == 201, made.text
    place = locality(write_api, "05251", current=False)
    rows = _csv(write_api, f"/localities/{place['id']}/stats")
    [row] = [r for r in rows if (r["year"], r["measure"]) == ("2024", "members")]
    # More than 100: 101 at least.
    assert (row["sum_low"], row["sum_high"], row["record_qualifier"]) == ("101", "", "more_than")


def test_the_csv_is_asked_by_accept_too_and_kept_apart(api: TestClient) -> None:
    luc_yen = locality(api, "135", current=False)
    path = f"/localities/{luc_yen['id']}/stats"
    by_accept = api.get(path, headers={"Accept": "text/csv"})
    assert by_accept.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_accept.content == api.get(path, params={"format": "csv"}).content
    assert "Accept" in by_accept.headers["vary"]
    assert by_accept.headers["content-disposition"].endswith('stats.csv"')
    # Not offered as NDJSON: JSON, as for a client that accepts nothing offered.
    ndjson = api.get(path, headers={"Accept": "application/x-ndjson"})
    assert ndjson.headers["content-type"] == "application/json"
    assert by_accept.headers["etag"] != ndjson.headers["etag"]
    again = api.get(path, headers={"Accept": "text/csv",
                                   "If-None-Match": by_accept.headers["etag"]})  # fmt: skip
    assert again.status_code == 304
    with_bom = api.get(path, params={"format": "csv", "bom": "true"})
    assert with_bom.text.startswith(UTF8_BOM) and with_bom.text[1:] == by_accept.text


@pytest.mark.parametrize("query", ["format=ndjson", "format=CSV", "bom=yes"])
def test_a_format_not_offered_is_refused_naming_it(api: TestClient, query: str) -> None:
    luc_yen = locality(api, "135", current=False)
    answer = api.get(f"/localities/{luc_yen['id']}/stats?{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [f"query.{query.split('=')[0]}"]
