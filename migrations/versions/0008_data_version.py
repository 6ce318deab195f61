"""data version: a counter that every write to the data tables raises (issue 7)

A province's stats at national scale are a 176 KB answer that took 4 ms a request on
SQLite (10 on PostgreSQL) to build, the same bytes each time until the data changes.
A server process keeps such answers with the data version they were built at and reads
the version (one row) to know whether they are still current.

Triggers raise it, in the writing transaction, so that every writer is seen: the API,
imports, loads, the command line, and SQL typed by hand. PostgreSQL raises it once per
statement; SQLite, which has only row triggers, once per row: 27 s of a 90 s synthetic
load at national scale, so that loader sets them aside and raises the version once.

SQLite's batch mode re-creates a table to alter it, and a re-created table has lost its
triggers: a later migration that alters one of these tables in batch mode must create
them again (`create_triggers`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table of the data, as of this revision. Not the keys, the audit log or the
# idempotency records: the data does not change with them.
DATA_TABLES = (
    "sources",
    "localities",
    "locality_successions",
    "locality_words",
    "branches",
    "membership_counts",
    "membership_events",
    "facts",
    "officeholders",
    "branch_status",
    "commune_yearly_totals",
    "place_yearly_totals",
)
RAISE = "UPDATE data_version SET version = version + 1 WHERE id = 1"
SQLITE_EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_data_version_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_version")),
    )
    op.execute("INSERT INTO data_version (id, version) VALUES (1, 1)")
    create_triggers(DATA_TABLES)


def downgrade() -> None:
    drop_triggers(DATA_TABLES)
    op.drop_table("data_version")


def create_triggers(tables: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION raise_data_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {RAISE}; RETURN NULL; END $$"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_data_version "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION raise_data_version()"
            )
        return
    for table in tables:
        for event in SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_data_version_{event} AFTER {event.upper()} ON {table} "
                f"BEGIN {RAISE}; END"
            )


def drop_triggers(tables: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER {table}_data_version ON {table}")
        op.execute("DROP FUNCTION raise_data_version()")
        return
    for table in tables:
        for event in SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER {table}_data_version_{event}")
