"""an index of the membership counts whose day no text states

A place's yearly stats list the counts they place in no year (`undated_counts`): most
counts are dated, so the index holds only the undated ones, and a province's stats find
them at once rather than through each of its branches' counts.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDATED = sa.text("as_of IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_membership_counts_undated_id",
        "membership_counts",
        ["id"],
        sqlite_where=UNDATED,
        postgresql_where=UNDATED,
    )


def downgrade() -> None:
    op.drop_index("ix_membership_counts_undated_id", table_name="membership_counts")
