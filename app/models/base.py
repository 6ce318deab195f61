"""Shared metadata: a naming convention so one migration chain works on SQLite and PostgreSQL."""

from datetime import UTC, datetime

from sqlalchemy import String
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata

# A name's sort key (app.services.collation.name_order cuts a longer one): narrow enough
# for PostgreSQL's index rows (2,704 bytes) with a kind or province and an id beside it,
# and compared by its bytes there as on SQLite, whatever the database's collation.
NAME_ORDER_LENGTH = 2000
NAME_ORDER_TYPE = String(NAME_ORDER_LENGTH).with_variant(
    String(NAME_ORDER_LENGTH, collation="C"), "postgresql"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK constraint that a column holds one of a fixed set of strings."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
