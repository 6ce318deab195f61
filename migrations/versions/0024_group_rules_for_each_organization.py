"""an unnamed group's status computed again: its member rules read each organization

A count or fact of an unnamed group's whole ("tổng cộng 12 đảng viên" of three branches,
applies_to_each false) was read by the member rules (too few members, ageing, below the
charter minimum) as each organization's, an admission of the whole group as one of each
(no stall), and the attrition window summed at the group's scale. The rules now read
each organization: a figure of the whole puts each between none and all of it, only an
admission for each ends each one's stall (app.services.risk); the members' bounds kept
for lists (their filters and order) are each organization's likewise.

A stated stall ("trên 5 năm không phát triển được đảng viên") was read as met when the
admissions recorded after it were dated, by a period open to its end ("từ năm 2019 đến
nay"), to its start: the rule now reads the last day they can have happened on.

The status rows of the groups and of the branches with a stated stall are marked as
computed under other rules, so that the server's refresher computes them again at its
start (`branchstats refresh` does it at once), as 0017 and 0023 did; no other branch's
status changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No rule set has this version: the refresher takes every row for one to compute again.
BEFORE_0024 = "before-0024"


def upgrade() -> None:
    op.execute(
        f"UPDATE branch_status SET rules_version = '{BEFORE_0024}' "
        "WHERE branch_id IN (SELECT id FROM branches WHERE group_size > 1) "
        "OR branch_id IN (SELECT branch_id FROM facts WHERE metric = 'years_without_admission')"
    )


def downgrade() -> None:
    """Nothing to undo: the rows were marked, and are computed again at the next start."""
