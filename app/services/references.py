"""Filters that name a record by its id: `?parent=`, `?branch=`, `?source=`.

A list filtered by a record that does not exist answers 404 naming the filter, as a
place filter does, rather than an empty page a client would read as "none reported".
Asked only when a page comes back empty: a row proves the record exists, so the pages
that have rows, the ones read most, cost no statement more.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Select

from app.errors import not_found
from app.reader import Reader
from app.services.refs import table


@dataclass(frozen=True)
class Reference:
    """A filter's record: the input that named it, the record's model and its id."""

    field: str
    model: Any
    ident: int | None


def require_references(reader: Reader, references: Iterable[Reference]) -> None:
    """404 naming the first filter whose record does not exist."""
    for reference in references:
        if reference.ident is None:
            continue
        params = {"ident": reference.ident}
        if reader.scalar(_record_id, reference.model, params=params) is None:
            raise not_found(reference.model.__name__, reference.ident, reference.field)


def _record_id(model: Any) -> Select[Any]:
    records = table(model)
    return select(records.c.id).where(records.c.id == bindparam("ident"))
