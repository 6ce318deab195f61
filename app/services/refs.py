"""Small shared pieces of rows: references to sources and localities, search."""

from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, literal, or_
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Select

from app.models import Locality, Source
from app.services.text import fold, lower_exact


def table(model: Any) -> Table:
    """A model's table, typed (SQLModel does not declare __table__)."""
    return cast(Table, model.__table__)


@cache
def alias(model: Any, name: str) -> Any:
    """A named alias of a model's table, built once.

    Aliasing copies every column: made per request it cost more than the query itself,
    and identical aliases let SQLAlchemy reuse its compiled SQL.
    """
    return model.__table__.alias(name)


SOURCE_FIELDS = ("id", "key", "publisher", "title", "published_on", "url")
LOCALITY_FIELDS = ("id", "key", "kind", "name", "official_name", "code")


def with_source(query: Select[Any], source_id: ColumnElement[Any], prefix: str) -> Select[Any]:
    """Join a source and select its reference columns as `<prefix>_<field>`."""
    src = alias(Source, prefix)
    return query.outerjoin(src, src.c.id == source_id).add_columns(
        *(src.c[f].label(f"{prefix}_{f}") for f in SOURCE_FIELDS)
    )


def source_ref(row: RowMapping, prefix: str) -> dict[str, Any] | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {f: row[f"{prefix}_{f}"] for f in SOURCE_FIELDS}


def locality_alias(name: str) -> Any:
    return alias(Locality, name)


def locality_columns(alias: Any, prefix: str) -> list[ColumnElement[Any]]:
    return [alias.c[f].label(f"{prefix}_{f}") for f in LOCALITY_FIELDS]


def locality_ref(row: RowMapping, prefix: str) -> dict[str, Any] | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {f: row[f"{prefix}_{f}"] for f in LOCALITY_FIELDS}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(
    search_key: ColumnElement[str], name_lower: ColumnElement[str], q: str
) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """Every folded word of q must appear; rows whose text has q's exact diacritics rank 0.

    'thao chu phin', 'THÀO CHƯ PHÌN' (or its NFD form) and 'dang bo luc yen' all match.
    """
    words = fold(q).split()
    exact_words = lower_exact(q).split()
    match = and_(*(search_key.like(f"%{_escape_like(w)}%", escape="\\") for w in words))
    exact = and_(*(name_lower.like(f"%{_escape_like(w)}%", escape="\\") for w in exact_words))
    rank = case((exact, literal(0)), else_=literal(1))
    return match, rank


def in_scope(table: Table | Any, scope: dict[str, list[int]]) -> ColumnElement[bool]:
    """Rows whose ancestor at some level is one of the scope's units."""
    clauses = [_level_column(table, level).in_(ids) for level, ids in scope.items() if ids]
    return or_(*clauses) if clauses else literal(False)


def scope_levels(scope: dict[str, list[int]]) -> tuple[str, ...]:
    """The levels a scope has units at: the shape of in_bound_scope's clause."""
    return tuple(sorted(level for level, ids in scope.items() if ids))


def in_bound_scope(table: Table | Any, levels: tuple[str, ...]) -> ColumnElement[bool]:
    """in_scope with the units bound at execution (`scope_params`), for statements
    built once per shape of scope."""
    clauses = [
        _level_column(table, level).in_(bindparam(f"scope_{level}", expanding=True))
        for level in levels
    ]
    return or_(*clauses) if clauses else literal(False)


def scope_params(scope: dict[str, list[int]]) -> dict[str, list[int]]:
    return {f"scope_{level}": ids for level, ids in scope.items() if ids}


def _level_column(table: Table | Any, level: str) -> Any:
    if level == "village":
        # Branches sit in a village through locality_id; a locality is its own id.
        return table.c.locality_id if "locality_id" in table.c else table.c.id
    return table.c[f"{level}_id"]
