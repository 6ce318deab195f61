"""stored branch items: each branch as lists serve it, rendered on write (issue 7)

branch_status.item holds the JSON document of the branch as of today. Rendering those
documents took most of a list request (SQLite's json_object over a page's joins, and
PostgreSQL's planning of json_build_object with sixty arguments); lists now read them as
they are. Filled here for the existing rows, and kept on write.

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
    # The items come from the service that keeps them (its SQL is the definition), under
    # the default rules; a server with other rules recomputes the status, items included,
    # when it starts (app.services.status.refresh_if_stale).
    from sqlmodel import Session

    from app.services.branch_items import refresh_items
    from app.services.risk_rules import RiskRules

    refresh_items(Session(bind=op.get_bind()), RiskRules())


def downgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        batch_op.drop_column("item")
