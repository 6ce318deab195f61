"""no qualifier on an event whose number is not reported

An admission, departure or transfer the text reports without a number ("đều phát triển
được đảng viên mới": each admitted new members) has `value` NULL, and was stored and
served with the default qualifier, `exact`, beside it: a figure of nothing, exactly. Its
qualifier is now NULL too, and a CHECK holds the two together (a number has a
qualifier, no number has none).

SQLite cannot drop a NOT NULL in place: the table is built again (Alembic's batch
mode), twice (the CHECK cannot hold before the UPDATE, nor the UPDATE run before the
column takes NULL). Building a table again drops its triggers (the data version's, the
retired ids') and its indexes' statistics: the triggers are read before and created
again after each build, and the table analyzed again where the database has statistics
(SQLite plans by them, app.migrate). The UPDATE runs with the triggers in place, so the
data version moves and no client keeps an answer with the old qualifier.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "membership_events"
CHECK = "ck_membership_events_qualifier_of_value"


def _sqlite_triggers() -> list[str]:
    """The CREATE TRIGGER statements of the table (none to keep on PostgreSQL, where
    ALTER TABLE changes it in place)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    query = sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t ORDER BY name"
    )
    return [row[0] for row in bind.execute(query, {"t": TABLE})]


def _rebuilt(triggers: list[str]) -> None:
    """After a build of the table: its triggers again, and its statistics."""
    bind = op.get_bind()
    for statement in triggers:
        op.execute(statement)
    if triggers:
        stats = sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if bind.execute(stats).scalar():
            bind.execute(sa.text(f"ANALYZE {TABLE}"))


def upgrade() -> None:
    triggers = _sqlite_triggers()
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("qualifier", existing_type=sa.String(length=20), nullable=True)
    _rebuilt(triggers)
    op.execute(f"UPDATE {TABLE} SET qualifier = NULL WHERE value IS NULL")
    with op.batch_alter_table(TABLE) as batch:
        batch.create_check_constraint(op.f(CHECK), "(value IS NULL) = (qualifier IS NULL)")
    _rebuilt(triggers)


def downgrade() -> None:
    """Back to the default the rows had: `exact` beside a NULL value."""
    triggers = _sqlite_triggers()
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
    _rebuilt(triggers)
    op.execute(f"UPDATE {TABLE} SET qualifier = 'exact' WHERE qualifier IS NULL")
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("qualifier", existing_type=sa.String(length=20), nullable=False)
    _rebuilt(triggers)
