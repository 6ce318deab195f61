"""Figures by id as the lists serve them, for the records of a place's stats.

A province's stats showed some 1,000 figures with their provenance. Built as dicts in
Python they took 44 of SQLite's 58 ms for one at national scale (issue 7); the database
renders the same documents (app.services.figures' shape of a figure) in a few, read as
the UTF-8 bytes that are sent. (PostgreSQL writes `"key" : value, ` with spaces, as in
every document it renders.)
"""

from typing import Any

import orjson
from sqlalchemy import Integer, Select, String, any_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.reader import Reader
from app.services.figures import figure_base, figure_shape
from app.services.json_sql import JsonSql, JsonText


def _by_ids(model: Any, dialect: str) -> Select[Any]:
    figure_query, t, _ = figure_base(model)
    # The ids as one parameter: an IN list of 1,000 took SQLAlchemy longer to expand
    # than the database to read the figures.
    if dialect == "sqlite":
        listed: Any = func.json_each(bindparam("ids", type_=String))
        chosen = t.c.id.in_(select(column("value")).select_from(listed))
    else:
        chosen = t.c.id == any_(bindparam("ids", type_=ARRAY(Integer)))
    json = JsonSql(dialect)
    document = json.utf8(json.text(json.render(figure_shape(model))))
    query: Select[Any] = figure_query.with_only_columns(t.c.id, document.label("document"))
    return query.where(chosen).order_by(t.c.evidence_date, t.c.id)


def figures_by_id(reader: Reader, model: Any, ids: list[int]) -> dict[int, Any]:
    """Some figures by id, oldest evidence first (as figures.figures_by_ids)."""
    if not ids:
        return {}
    dialect = reader.dialect.name
    # On SQLite the ids are one JSON text (json_each); on PostgreSQL, one array.
    listed = orjson.dumps(ids).decode() if dialect == "sqlite" else ids
    rows = reader.rows(_by_ids, model, dialect, params={"ids": listed})
    return {ident: JsonText(document) for ident, document in rows}
