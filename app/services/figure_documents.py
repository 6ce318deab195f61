"""Figures by id as the lists serve them, for the records of a place's stats.

A province's stats show some 1,000 figures with their provenance. Built as dicts in
Python they took 44 of SQLite's 58 ms for one at national scale (issue 7); SQLite renders
the same documents (app.services.figures' shape of a figure, through json_object) in a
few. PostgreSQL's json_build_object was no faster than Python (19 against 22 ms) and
writes `"key" : value, ` with spaces, a response 12% larger: there figures.py's
renderers build them, as before.
"""

from typing import Any

import orjson
from sqlalchemy import Integer, Select, String, any_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.reader import Reader
from app.services.figures import RENDERERS, figure_base, figure_shape
from app.services.json_sql import JsonSql, JsonText


def _by_ids(model: Any, dialect: str) -> Select[Any]:
    query, t, _ = figure_base(model)
    # The ids as one parameter: an IN list of 1,000 took SQLAlchemy longer to expand
    # than the database to read the figures.
    if dialect == "sqlite":
        listed: Any = func.json_each(bindparam("ids", type_=String))
        chosen = t.c.id.in_(select(column("value")).select_from(listed))
        json = JsonSql(dialect)
        query = query.with_only_columns(t.c.id, json.render(figure_shape(model)).label("document"))
    else:
        chosen = t.c.id == any_(bindparam("ids", type_=ARRAY(Integer)))
    return query.where(chosen).order_by(t.c.evidence_date, t.c.id)


def figures_by_id(reader: Reader, model: Any, ids: list[int]) -> dict[int, Any]:
    """Some figures by id, oldest evidence first (as figures.figures_by_ids)."""
    if not ids:
        return {}
    dialect = reader.dialect.name
    if dialect == "sqlite":
        rows = reader.rows(_by_ids, model, dialect, params={"ids": orjson.dumps(ids).decode()})
        return {ident: JsonText(document) for ident, document in rows}
    render = RENDERERS[model]
    mappings = reader.mappings(_by_ids, model, dialect, params={"ids": ids})
    return {row["id"]: render(row) for row in mappings}
