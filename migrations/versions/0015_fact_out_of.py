"""a fact's whole apart from its range: `out_of` ("5/10 chi bộ": 5 out of 10)

Two metrics kept the whole a value is part of in `value_max` (seed/FORMAT.md:
`branches_with_committee`, `new_rural_criteria_met`), which everywhere else, and in the
API's own description of it, is the upper end of a range. A reader of "Đến nay xã đã có
5/10 chi bộ có ban chi ủy" served `value: 5, value_max: 10` read "5 to 10 branches". The
whole moves to its own column; those metrics' `value_max` held nothing else.

The UPDATE raises the data version (the triggers of migration 0008): answers kept
before it are built again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The metrics whose value_max was "of how many" (seed/FORMAT.md as of revision 0014).
PART_OF_WHOLE = "('branches_with_committee', 'new_rural_criteria_met')"


def upgrade() -> None:
    # Not in batch mode: on SQLite a batch may copy the table, which would drop its data
    # version triggers (0008). ADD COLUMN keeps them.
    op.add_column("facts", sa.Column("out_of", sa.Float(), nullable=True))
    op.execute(
        "UPDATE facts SET out_of = value_max, value_max = NULL "
        f"WHERE metric IN {PART_OF_WHOLE} AND value_max IS NOT NULL"
    )


def downgrade() -> None:
    # Where a range and a whole are both given, the range's end is kept: 0014 has room
    # for one of them.
    op.execute(
        "UPDATE facts SET value_max = out_of "
        f"WHERE metric IN {PART_OF_WHOLE} AND out_of IS NOT NULL AND value_max IS NULL"
    )
    # SQLite drops a column in place (3.35+), its triggers kept; a batch would copy it.
    op.drop_column("facts", "out_of")
