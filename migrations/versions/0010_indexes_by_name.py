"""indexes of the localities and the branches by name, and of figures by date (issue 7)

`/localities?sort=name` (or `-name`), of every kind or of one: with no index in that
order, a page of villages at scale 1.0 read and sorted all 102,572 of them (100-120 ms
on PostgreSQL, 50 ms on SQLite; with these, 2.8 and 1.4 ms). In name order, a page reads
its 51 rows, and a later page starts at its cursor (app.services.pagination.after).
`/branches?sort=name` likewise read all 274,473 branches (700-950 ms).

`/membership-counts?sort=-date`: the index of the counts by day alone gave their days'
order, not the id's within a day, and the 269,058 counts of the latest day were read and
sorted on PostgreSQL (1.1 s; SQLite's index holds the rowid, the id). Each figure table's
index by day now holds the id.

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


FIGURE_TABLES = ("membership_counts", "membership_events", "facts", "officeholders")


def upgrade() -> None:
    op.create_index("ix_localities_name_lower_id", "localities", ["name_lower", "id"])
    op.create_index("ix_localities_kind_name_lower_id", "localities", ["kind", "name_lower", "id"])
    op.create_index("ix_branches_name_lower_id", "branches", ["name_lower", "id"])
    for table in FIGURE_TABLES:
        op.create_index(f"ix_{table}_evidence_date_id", table, ["evidence_date", "id"])
        op.drop_index(f"ix_{table}_evidence_date", table_name=table)


def downgrade() -> None:
    for table in FIGURE_TABLES:
        op.create_index(f"ix_{table}_evidence_date", table, ["evidence_date"])
        op.drop_index(f"ix_{table}_evidence_date_id", table_name=table)
    op.drop_index("ix_localities_kind_name_lower_id", table_name="localities")
    op.drop_index("ix_localities_name_lower_id", table_name="localities")
    op.drop_index("ix_branches_name_lower_id", table_name="branches")
