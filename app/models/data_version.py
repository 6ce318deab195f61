"""The data's version: one row, raised by database triggers on every write to the data."""

from sqlalchemy import BigInteger, CheckConstraint, Column
from sqlmodel import Field, SQLModel


class DataVersion(SQLModel, table=True):
    """Never written by the app: triggers on the data tables raise `version` in each
    writing transaction (migration 0008), so that answers built from the data can be kept
    until it changes (app.services.answer_cache)."""

    __tablename__ = "data_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: int = Field(primary_key=True)
    version: int = Field(sa_column=Column(BigInteger(), nullable=False))


# What the triggers run; a loader that sets them aside runs it once itself.
RAISE_DATA_VERSION = "UPDATE data_version SET version = version + 1 WHERE id = 1"
