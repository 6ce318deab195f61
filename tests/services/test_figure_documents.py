"""A figure is served in two renderings: built in Python (app.services.figures.RENDERERS,
for figure lists and sources) and rendered by the database (figure_shape, for a branch's
detail and a place's stats). They must say the same thing, field for field."""

from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, Select

from app.models import Fact, MembershipCount, MembershipEvent, Officeholder
from app.reader import Reader
from app.services.figures import figure_base, figure_shape, figures_by_ids
from app.services.json_sql import JsonSql

MODELS = (MembershipCount, MembershipEvent, Fact, Officeholder)


def _documents(model: Any, dialect: str) -> Select[Any]:
    query, t, _ = figure_base(model)
    json = JsonSql(dialect)
    return query.with_only_columns(t.c.id, json.text(json.render(figure_shape(model))))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_database_renders_figures_as_python_does(shared_engine: Engine, model: Any) -> None:
    with Reader.open(shared_engine) as reader:
        rendered = dict(reader.rows(_documents, model, shared_engine.dialect.name))
        built = figures_by_ids(reader, model, list(rendered))
    if model is not Officeholder:
        assert rendered, "the seed has figures of every kind but officeholders"
    assert len(built) == len(rendered)
    for figure in built:
        from_database = orjson.loads(rendered[figure["id"]])
        # Through JSON, as the API serves both: days become ISO text either way.
        assert from_database == orjson.loads(orjson.dumps(figure)), figure["key"]
        assert list(from_database) == list(figure), "the fields in the same order"
