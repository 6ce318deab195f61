"""an index of the status rows by the day and rules they were computed under

The day's refresh asked whether the status was stale by reading one row, the lowest
branch id's, taken as current only once all were (the refresh stores from the highest
ids down). But a write stores the rows of the branches it changes for its own day: one
to that branch on a new day, before the refresh, left every other row a day old until
the next day. Now any row of another day or rule set makes the status stale, found by
a seek on this index (app.services.status_day.is_stale), not a scan of the table.
It gets statistics where SQLite has some, as 0014's indexes did (SQLite takes an index
it knows nothing of for the most selective).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_branch_status_evaluated_on_rules_version"
SAMPLED_ROWS = 1000


def upgrade() -> None:
    op.create_index(NAME, "branch_status", ["evaluated_on", "rules_version"])
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL's statistics are of the columns, which it has
    analyzed = bind.execute(
        sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).scalar()
    if analyzed:
        bind.execute(sa.text(f"PRAGMA analysis_limit={SAMPLED_ROWS}"))
        bind.execute(sa.text(f"ANALYZE {NAME}"))
        bind.execute(sa.text("PRAGMA analysis_limit=0"))


def downgrade() -> None:
    op.drop_index(NAME, table_name="branch_status")
