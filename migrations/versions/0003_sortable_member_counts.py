"""Sortable member counts: an indexed, non-null sort key on branch_status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 08:30:23.538035
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get their sort key from members_low (-1: unknown).
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("members_sort", sa.Integer(), nullable=False, server_default="-1")
        )
        batch_op.drop_index(batch_op.f("ix_branch_status_members_branch"))
        batch_op.create_index(
            "ix_branch_status_members_sort_branch", ["members_sort", "branch_id"], unique=False
        )
    op.execute("UPDATE branch_status SET members_sort = COALESCE(members_low, -1)")


def downgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        batch_op.drop_index("ix_branch_status_members_sort_branch")
        batch_op.create_index(
            batch_op.f("ix_branch_status_members_branch"),
            ["members_low", "branch_id"],
            unique=False,
        )
        batch_op.drop_column("members_sort")
