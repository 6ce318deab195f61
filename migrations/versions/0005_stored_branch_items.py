"""stored branch items: each branch as lists serve it, rendered on write (issue 7)

branch_status.item holds the JSON document of the branch as of today. Rendering those
documents took most of a list request (SQLite's json_object over a page's joins, and
PostgreSQL's planning of json_build_object with sixty arguments); lists now read them as
they are. Filled for the existing rows after the migration (below), and kept on write.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 14:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item", sa.Text(), nullable=True))
    # The items came from the service that keeps them (its SQL is the definition). That
    # SQL is today's, which reads columns later revisions add (0017's date_derived), so
    # it is not run here: 0017 marks every status row for the refresher, which renders
    # the items, as any status it computes, right after the migration
    # (app.services.status_day.refresh_if_stale, run by every command that migrates).


def downgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        batch_op.drop_column("item")
