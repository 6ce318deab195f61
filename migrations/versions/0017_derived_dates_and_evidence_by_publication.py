"""a figure's date worked out from the text (`date_derived`), and no evidence_date after
the article that reports it

Two readers of the data found what `evidence_date_basis` said untrue. A date worked out
from the text ("2016-12-31 marks 'before those admissions'", its date_note says "Not
printed") read `stated`: `date_derived` marks it, and it reads `derived`. And a figure
of a year still running when the article appeared ("Năm 2023" in an article of 18
December 2023) had the year's end as its evidence_date: risk as of 20 December did not
see an admission already reported. A figure's evidence_date is now never after its
source's date (published_on, else registered_on).

The UPDATEs raise the data version (the triggers of migration 0008): answers kept before
them are built again. Every status row is marked as computed under other rules, so that
the server's refresher computes them all again at its start (`branchstats refresh` does
it at once): a branch's newest evidence date and its stored list item (which says how
its latest count was dated) follow the new dates.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURE_TABLES = ("membership_counts", "membership_events", "facts", "officeholders")
# The day a figure's source bounds it by (app.services.evidence_dates.evidence_day).
SOURCE_DAY = (
    "(SELECT COALESCE(sources.published_on, sources.registered_on) FROM sources "
    "WHERE sources.id = {table}.source_id)"
)
# No rule set has this version: the refresher takes every row for one to compute again.
BEFORE_0017 = "before-0017"


def upgrade() -> None:
    for name in FIGURE_TABLES:
        # Not in batch mode: on SQLite a batch may copy the table, which would drop its
        # data version triggers (0008). ADD COLUMN keeps them.
        op.add_column(
            name,
            sa.Column("date_derived", sa.Boolean(), nullable=False, server_default=sa.false()),
        )
        day = SOURCE_DAY.format(table=name)
        op.execute(f"UPDATE {name} SET evidence_date = {day} WHERE evidence_date > {day}")
    op.execute(f"UPDATE branch_status SET rules_version = '{BEFORE_0017}'")


def downgrade() -> None:
    # The evidence dates stay within their sources' days: 0016 read them as they are.
    for name in FIGURE_TABLES:
        # SQLite drops a column in place (3.35+), its triggers kept; a batch would copy it.
        op.drop_column(name, "date_derived")
