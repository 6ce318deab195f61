"""partial indexes of the branches at risk at each level, in id order (issue 7)

`/branches?risk=true` lists the branches at risk by id. With only the (risk_rank,
branch_id) index, SQLite either read the branches in id order and skipped those not at
risk (some 450 rows and 450 random status reads for 50 at national scale, and more the
rarer the level), or read every branch at risk and sorted them (a page of 50 at the
cost of all 30,000). A partial index per level gives exactly the page's rows, in order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:31:48.722787
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Ranks of watch, high and critical (app.models.vocab.LEVEL_RANK), as of this revision.
RANKS = {"watch": 2, "high": 3, "critical": 4}


def upgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        for level, rank in RANKS.items():
            where = sa.text(f"risk_rank >= {rank}")
            batch_op.create_index(
                f"ix_branch_status_at_risk_{level}",
                ["branch_id"],
                unique=False,
                sqlite_where=where,
                postgresql_where=where,
            )


def downgrade() -> None:
    with op.batch_alter_table("branch_status", schema=None) as batch_op:
        for level in RANKS:
            batch_op.drop_index(f"ix_branch_status_at_risk_{level}")
