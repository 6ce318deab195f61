"""place yearly totals: the communes' totals summed per province and district (issue 7)

A province's stats read its communes' totals, some 6,500 rows at national scale (18 ms of
a 55 ms request on SQLite); summed per province and district they are a few dozen.
Filled by 0023 (see there), and kept on write with the communes' totals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_yearly_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("above1", sa.Integer(), nullable=True),
        sa.Column("above2", sa.Integer(), nullable=True),
        sa.Column("above3", sa.Integer(), nullable=True),
        sa.Column("above4", sa.Integer(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("high", sa.Integer(), nullable=True),
        sa.Column("bounded", sa.Integer(), nullable=False),
        sa.Column("min_id", sa.Integer(), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_yearly_totals")),
    )
    with op.batch_alter_table("place_yearly_totals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_place_yearly_totals_place_id"), ["place_id"], unique=False
        )
    # The sums are computed by 0023, the last migration to change their columns: the
    # service that keeps them (its SQL is the definition) names every column of the head.


def downgrade() -> None:
    with op.batch_alter_table("place_yearly_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_place_yearly_totals_place_id"))
    op.drop_table("place_yearly_totals")
