"""Small SQL constructs that differ between SQLite and PostgreSQL."""

from typing import Any

from sqlalchemy import Date
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
