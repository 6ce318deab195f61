"""Figures by id as the lists serve them, for the records of a place's stats.

A province's stats showed some 1,000 figures with their provenance. Built as dicts in
Python they took 44 of SQLite's 58 ms for one at national scale (issue 7); the database
renders the same documents (app.services.figures' shape of a figure) in a few, read as
the UTF-8 bytes that are sent. (PostgreSQL writes `"key" : value, ` with spaces, as in
every document it renders.)
"""

from typing import Any

from sqlalchemy import Select

from app.reader import Reader
from app.services.figures import figure_base, figure_shape
from app.services.json_sql import JsonSql, JsonText
from app.services.sqlfuncs import bound_ids, in_bound_ids


def _by_ids(model: Any, dialect: str) -> Select[Any]:
    figure_query, t, _ = figure_base(model)
    chosen = in_bound_ids(t.c.id, "ids", dialect)
    json = JsonSql(dialect)
    document = json.utf8(json.text(json.render(figure_shape(model))))
    query: Select[Any] = figure_query.with_only_columns(t.c.id, document.label("document"))
    return query.where(chosen).order_by(t.c.evidence_date, t.c.id)


def figures_by_id(reader: Reader, model: Any, ids: list[int]) -> dict[int, Any]:
    """Some figures by id, oldest evidence first (as figures.figures_by_ids)."""
    if not ids:
        return {}
    dialect = reader.dialect.name
    rows = reader.rows(_by_ids, model, dialect, params={"ids": bound_ids(ids, dialect)})
    return {ident: JsonText(document) for ident, document in rows}
