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
