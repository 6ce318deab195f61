"""indexes of the localities and the branches by name (issue 7)

`/localities?sort=name` (or `-name`), of every kind or of one: with no index in that
order, a page of villages at scale 1.0 read and sorted all 102,572 of them (100-120 ms
on PostgreSQL, 50 ms on SQLite; with these, 2.8 and 1.4 ms). In name order, a page reads
its 51 rows, and a later page starts at its cursor (app.services.pagination.after).
`/branches?sort=name` likewise read all 274,473 branches (700-950 ms).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 21:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_localities_name_lower_id", "localities", ["name_lower", "id"])
    op.create_index("ix_branches_name_lower_id", "branches", ["name_lower", "id"])
    op.create_index("ix_localities_kind_name_lower_id", "localities", ["kind", "name_lower", "id"])


def downgrade() -> None:
    op.drop_index("ix_localities_kind_name_lower_id", table_name="localities")
    op.drop_index("ix_localities_name_lower_id", table_name="localities")
    op.drop_index("ix_branches_name_lower_id", table_name="branches")
