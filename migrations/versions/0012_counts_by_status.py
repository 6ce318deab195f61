"""indexes of the membership counts of one status, other than "all" (issue 7)

`/membership-counts?status=full` (or probationary): most counts are of all members, and
a list of the others walked the counts by id or by date and tested each. At national
scale, with none of those, 0.33-0.48 s to find none; by date, latest first, 1.9-2.9 s.
Partial indexes hold only the counts of the other statuses: as small as what they hold.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_ALL = sa.text("status <> 'all'")
INDEXES = {
    "ix_membership_counts_status_id": ["status", "id"],
    "ix_membership_counts_status_date_id": ["status", "evidence_date", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(
            name, "membership_counts", columns, sqlite_where=NOT_ALL, postgresql_where=NOT_ALL
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="membership_counts")
