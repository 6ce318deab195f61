"""Every text a write or an import takes fits its column: a wider one was a 500 on
PostgreSQL, and stored whole on SQLite, which checks no width (from a write audit)."""

import re
from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import SQLModel

from app.ingest import records
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.models.vocab import DIMENSIONS, METRIC_UNITS
from app.schemas import writes
from app.services.refs import table

# Each body or record, the table it writes, and its fields named otherwise there.
WRITTEN: list[tuple[type[BaseModel], type[SQLModel], dict[str, str]]] = [
    (writes.SourceCreate, Source, {}),
    (writes.SourceUpdate, Source, {}),
    (writes.LocalityCreate, Locality, {}),
    (writes.LocalityUpdate, Locality, {}),
    (writes.BranchCreate, Branch, {}),
    (writes.BranchUpdate, Branch, {}),
    (writes.CountCreate, MembershipCount, {}),
    (writes.CountUpdate, MembershipCount, {}),
    (writes.EventCreate, MembershipEvent, {}),
    (writes.EventUpdate, MembershipEvent, {}),
    (writes.FactCreate, Fact, {}),
    (writes.FactUpdate, Fact, {}),
    (records.SourceRecord, Source, {}),
    (records.LocalityRecord, Locality, {"title": "official_name"}),
    (records.BranchRecord, Branch, {}),
    (records.CountRecord, MembershipCount, {}),
    (records.EventRecord, MembershipEvent, {}),
    (records.FactRecord, Fact, {}),
    (records.RoleRecord, Officeholder, {}),
]


# An import's fact names these by words of a list, which its validator checks.
IN_A_VOCABULARY = {(records.FactRecord, name) for name in ("metric", "unit", "dimension")}


def test_the_words_of_a_facts_vocabulary_fit_their_columns() -> None:
    columns = table(Fact).c
    widths = {
        name: getattr(columns[name].type, "length", 0) for name in ("metric", "unit", "dimension")
    }
    assert max(map(len, METRIC_UNITS)) <= widths["metric"]
    assert max(map(len, METRIC_UNITS.values())) <= widths["unit"]
    assert max(map(len, DIMENSIONS)) <= widths["dimension"]


def _max_length(schema: dict[str, Any], defs: dict[str, Any]) -> int | None:
    """The longest text a property takes: its maxLength, its longest word of a list, its
    `null` alternative aside; None when unbounded."""
    lengths = []
    for option in [schema, *schema.get("anyOf", []), *schema.get("allOf", [])]:
        if "$ref" in option:
            option = defs[option["$ref"].rsplit("/", 1)[1]]
        if "maxLength" in option:
            lengths.append(option["maxLength"])
        elif "enum" in option:
            lengths.append(max(len(str(word)) for word in option["enum"]))
        elif "const" in option:
            lengths.append(len(str(option["const"])))
        elif bounded := re.fullmatch(r"\^\[[^]]+\]\{\d+,(\d+)\}\$", option.get("pattern", "")):
            lengths.append(int(bounded.group(1)))  # "^[0-9]{2,5}$"
        elif option.get("type") == "string":
            return None
    return max(lengths) if lengths else None


@pytest.mark.parametrize(
    ("body", "model", "renamed"), WRITTEN, ids=lambda x: getattr(x, "__name__", "")
)
def test_every_text_taken_fits_its_column(
    body: type[BaseModel], model: type[SQLModel], renamed: dict[str, str]
) -> None:
    columns = table(model).c
    too_wide = []
    compared = 0
    document = body.model_json_schema()
    for name, schema in document["properties"].items():
        if (body, name) in IN_A_VOCABULARY:
            continue
        column = columns.get(renamed.get(name, name))
        width = getattr(column.type, "length", None) if column is not None else None
        if width is None:
            continue
        compared += 1
        taken = _max_length(schema, document.get("$defs", {}))
        if taken is None or taken > width:
            too_wide.append(f"{name}: takes {taken}, holds {width}")
    assert compared and not too_wide
