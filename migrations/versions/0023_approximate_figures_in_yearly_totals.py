"""yearly totals count their approximate figures (`approximate`); an event several
sources report is summed once

A year's sum that adds a figure the text gives as approximate ("khoảng 20 đảng viên", an
average) read as exact: its low and high were the figure's value, and nothing said
otherwise. Each totals row now counts the approximate figures it adds, which the stats
serve as `approximate_records`.

The totals come from the service that keeps them (its SQL is the definition): every
commune's and place's are computed again here, as 0004 and 0006 once did. A later
migration that changes these tables' columns must move this rebuild to itself (the
service's statements name every column of the head).

The sums also take one report of an event that several sources report (the newest:
app.services.event_reports), the yearly totals (computed here) and the attrition window
of risk alike: every status row is marked as computed under other rules, so that the
server's refresher computes them all again at its start (`branchstats refresh` does it at
once), as 0017 did.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOTALS = ("commune_yearly_totals", "place_yearly_totals")
# No rule set has this version: the refresher takes every row for one to compute again.
BEFORE_0023 = "before-0023"


def upgrade() -> None:
    for name in TOTALS:
        # Not in batch mode: on SQLite a batch may copy the table, which would drop its
        # data version triggers (0008). ADD COLUMN keeps them.
        op.add_column(
            name, sa.Column("approximate", sa.Integer(), nullable=False, server_default="0")
        )
    from sqlmodel import Session

    from app.services.yearly import refresh_totals

    refresh_totals(Session(bind=op.get_bind()))
    op.execute(f"UPDATE branch_status SET rules_version = '{BEFORE_0023}'")


def downgrade() -> None:
    for name in TOTALS:
        # SQLite drops a column in place (3.35+), its triggers kept; a batch would copy it.
        op.drop_column(name, "approximate")
