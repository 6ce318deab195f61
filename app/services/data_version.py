"""The data version: one number that the database raises in every writing transaction
(migration 0008), read to tell whether something derived from the data is still current
(app.services.answer_cache, app.services.place_scopes)."""

from typing import Any

from sqlalchemy import ScalarSelect, select

from app.models import DataVersion
from app.reader import Reader
from app.services.refs import table


def _version() -> Any:
    t = table(DataVersion)
    return select(t.c.version).where(t.c.id == 1)


def data_version(reader: Reader) -> int | None:
    """None when the row is gone (deleted by hand): nothing can be kept then."""
    version: int | None = reader.scalar(_version)
    return version


def version_column() -> ScalarSelect[Any]:
    """The version as a column of another statement, which then says which state of the
    data it read: the database reads it once (it does not depend on the row)."""
    return _version().scalar_subquery()
