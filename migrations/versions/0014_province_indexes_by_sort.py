"""indexes of a province's branches in each order a list may ask (issue 7)

`/branches?province=...&sort=members` (or `-members`, `risk`, `name`): a province's
branches in an order no index gave, so a page read every branch of the province and
sorted them (~8,000 at scale 1.0: 8-9.5 ms on SQLite, 69 req/s under load on PostgreSQL,
built each time). Ordered by the status's copy of the branch's province (migration 0009)
then the key, and for names by the branch's province then its name, a page reads its
own 51 rows, and a later page starts at its cursor.

SQLite plans with the statistics of its last ANALYZE, which knew nothing of these
indexes: taking one it knew nothing about as the most selective, it read a province's
default page (by id) from the index by name and sorted it (3,000 -> 100 req/s at scale
1.0). A database with statistics gets the new indexes', sampled as the rest are
(app.services.status.analyze: 1,000 rows an index); one without any keeps none.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 11:45:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INDEXES = {
    "ix_branch_status_province_members": (
        "branch_status",
        ["province_id", "members_sort", "branch_id"],
    ),
    "ix_branch_status_province_rank": ("branch_status", ["province_id", "risk_rank", "branch_id"]),
    "ix_branches_province_name_lower_id": ("branches", ["province_id", "name_lower", "id"]),
}
SAMPLED_ROWS = 1000


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL's statistics are of the columns, which it has
    analyzed = bind.execute(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).scalar()
    if analyzed:
        bind.execute(text(f"PRAGMA analysis_limit={SAMPLED_ROWS}"))
        for name in INDEXES:
            bind.execute(text(f"ANALYZE {name}"))
        bind.execute(text("PRAGMA analysis_limit=0"))


def downgrade() -> None:
    for name, (table, _) in reversed(INDEXES.items()):
        op.drop_index(name, table_name=table)
