"""Small SQL constructs that differ between SQLite and PostgreSQL."""

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Date, Integer, String, any_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction


class greatest(GenericFunction[Any]):
    """The largest non-null argument (NULL when all are NULL), on both databases."""

    type = Date()
    inherit_cache = True


@compiles(greatest, "postgresql")
def _greatest_pg(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    # SQLite's scalar max() returns NULL if any argument is NULL; ISO dates sort as text.
    args = ", ".join(f"COALESCE({compiler.process(c, **kw)}, '')" for c in element.clauses)
    return f"NULLIF(MAX({args}), '')"


class not_indexed(GenericFunction[Any]):
    """A column SQLite must not search its indexes on (its value unchanged); the column
    itself on PostgreSQL. SQLite's unary plus is the documented way to keep a term out of
    the index choice."""

    inherit_cache = True

    def __init__(self, column: Any, **kwargs: Any) -> None:
        kwargs.setdefault("type_", column.type)
        super().__init__(column, **kwargs)


@compiles(not_indexed)
def _not_indexed(element: not_indexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(not_indexed, "sqlite")
def _not_indexed_sqlite(element: not_indexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


def in_bound_ids(ids: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`ids` is one of the ids bound as `name` (bound_ids): on SQLite one JSON text, read
    by json_each; on PostgreSQL one array. An IN list of 1,000 took SQLAlchemy longer to
    expand than the database to read the rows, and each length is a statement of its own."""
    if dialect == "sqlite":
        listed: Any = func.json_each(bindparam(name, type_=String))
        return ids.in_(select(column("value")).select_from(listed))
    return ids == any_(bindparam(name, type_=ARRAY(Integer)))


def bound_ids(ids: Sequence[int], dialect: str) -> Any:
    """The value of in_bound_ids' parameter."""
    return orjson.dumps(list(ids)).decode() if dialect == "sqlite" else list(ids)
