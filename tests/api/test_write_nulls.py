"""A PATCH's `null`: the schema offers it only for fields it clears.

A client generated from the OpenAPI types a field the schema makes nullable as "omit,
give a value or null"; sending the null must then not be refused for being null. And a
field whose null the server refuses must not offer it. Each field of each update body
is sent as `null` to a seed record, and the answer is held against the served schema.
"""

from typing import Any

from fastapi.testclient import TestClient

from app.models import Branch, Fact, Locality, MembershipCount, MembershipEvent, Source
from tests.api.test_writes import (
    TIEN_PHONG,
    TIEN_PHONG_SOURCE,
    fields,
    id_of,
    make_key,
    patch,
)

# Each update body, and a seed record it changes: its table, its key, its path.
RECORDS: list[tuple[str, Any, str, str]] = [
    ("SourceUpdate", Source, TIEN_PHONG_SOURCE, "/sources/{}"),
    ("LocalityUpdate", Locality, "vn2004:05251/xom-tien-phong", "/localities/{}"),
    ("BranchUpdate", Branch, TIEN_PHONG, "/branches/{}"),
    (
        "CountUpdate",
        MembershipCount,
        f"{TIEN_PHONG_SOURCE}#tien-phong-members-before-transfer",
        "/membership-counts/{}",
    ),
    (
        "EventUpdate",
        MembershipEvent,
        "baonghean-2017-thanh-chuong#six-at-risk-admissions-2017-jan-jul",
        "/admissions/{}",
    ),
    ("FactUpdate", Fact, f"{TIEN_PHONG_SOURCE}#tien-phong-poverty-rate-2018", "/facts/{}"),
]


def offers_null(field: dict[str, Any]) -> bool:
    return field.get("type") == "null" or {"type": "null"} in field.get("anyOf", [])


def test_a_null_is_offered_where_it_clears_and_refused_elsewhere(write_api: TestClient) -> None:
    schemas = write_api.get("/openapi.json").json()["components"]["schemas"]
    for schema, model, key, path in RECORDS:
        editor = make_key(write_api, name=schema)  # one each: a key may write 60 a minute
        record = path.format(id_of(write_api, model, key))
        refused, offered = [], []
        for name, field in schemas[schema]["properties"].items():
            response = patch(write_api, record, {name: None}, editor)
            assert response.status_code != 500, response.text
            if not offers_null(field):
                assert response.status_code == 422, (schema, name, response.text)
                assert fields(response) == [f"body.{name}"], (schema, name, response.text)
                refused.append(name)
                continue
            # Offered: taken (200), or refused by a rule that holds between fields (a
            # named organization's name), never as a value of the wrong type.
            assert response.status_code in (200, 422), (schema, name, response.text)
            if response.status_code == 422:
                types = {e.get("type") or "" for e in response.json()["errors"]}
                wrong_type = any(t.endswith("_type") or t == "literal_error" for t in types)
                assert not wrong_type, (schema, name, response.text)
            offered.append(name)
        # Both kinds exist in every body: the check above ran on each.
        assert refused and offered, (schema, refused, offered)
