"""risk computed again where two rules read a figure too widely

The attrition window (three calendar years up to the branch's latest admission or
departure) counted an event by the year its period ends: "từ năm 2010 đến năm 2017, 5
đảng viên xin ra khỏi Đảng", in a window of 2016 to 2018, counted as 5 departures in it,
though all may have left before 2016. An event of a period begun before the window now
counts from none to all of it.

Below the charter minimum read the full members' count before the count of all members,
whatever their days: 5 full members in 2015 made the rule not met against "chỉ còn 2 đảng
viên" in 2020. The newer of the two counts now decides.

The status rows of the branches with an admission or a departure whose period runs over
more than one calendar year (or past its article's day, which then ends it), and of the
branches with a count of full members, are marked as computed under other rules, so that
the server's refresher computes them again at its start (`branchstats refresh` does it at
once), as 0017, 0023 and 0024 did; no other branch's status changes.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No rule set has this version: the refresher takes every row for one to compute again.
BEFORE_0025 = "before-0025"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        start, end = "strftime('%Y', period_start)", "strftime('%Y', period_end)"
    else:
        start, end = "extract(year FROM period_start)", "extract(year FROM period_end)"
    op.execute(
        f"UPDATE branch_status SET rules_version = '{BEFORE_0025}' "
        "WHERE branch_id IN (SELECT branch_id FROM membership_events "
        "WHERE kind IN ('admission', 'departure') AND period_start IS NOT NULL "
        f"AND period_end IS NOT NULL AND ({start} <> {end} OR period_end > evidence_date)) "
        "OR branch_id IN (SELECT branch_id FROM membership_counts WHERE status = 'full')"
    )


def downgrade() -> None:
    """Nothing to undo: the rows were marked, and are computed again at the next start."""
