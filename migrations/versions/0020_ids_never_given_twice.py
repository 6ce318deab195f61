"""ids never given twice: each table's largest deleted id kept (SQLite)

SQLite gave a new row the largest id of its table plus one: once the row with the
largest id was deleted, the next row took its id (PostgreSQL's sequences never go back).
A trigger on each table that the API or an import deletes from keeps its largest deleted
id in `retired_ids`, and new rows are given ids above it (app.models.retired_ids). The
ids deleted before this revision are read from the audit log, which names every record
created or deleted through the service.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.models.retired_ids.NEVER_REUSED's tables, and their entity in the audit log.
TABLES = {
    "sources": "source",
    "localities": "locality",
    "branches": "branch",
    "membership_counts": "membership_count",
    "membership_events": "membership_event",
    "facts": "fact",
    "officeholders": "officeholder",
}


def upgrade() -> None:
    op.create_table(
        "retired_ids",
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_retired_ids")),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, entity in TABLES.items():
        # Only when the row deleted had the largest id: a bulk delete asks once a row.
        op.execute(
            f"CREATE TRIGGER {table}_retired_id AFTER DELETE ON {table} "
            f"WHEN OLD.id > coalesce((SELECT max(id) FROM {table}), 0) "
            f"BEGIN INSERT INTO retired_ids (table_name, last_id) VALUES ('{table}', OLD.id) "
            "ON CONFLICT (table_name) DO UPDATE SET last_id = max(last_id, excluded.last_id); "
            "END"
        )
        op.execute(
            "INSERT INTO retired_ids (table_name, last_id) "
            f"SELECT '{table}', max(entity_id) FROM audit_log WHERE entity = '{entity}' "
            "HAVING max(entity_id) IS NOT NULL"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_retired_id")
    op.drop_table("retired_ids")
