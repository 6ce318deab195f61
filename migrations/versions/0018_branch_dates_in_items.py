"""a branch's founded_on and dissolved_on in its stored list item

Editors could write them (and the audit log kept them), but no answer showed them, and
no ETag changed with them. The item a list shows is stored with the branch's status
(0005): every status row is marked as computed under other rules, so that the next
refresh (`branchstats migrate` and `seed` do it at once, the server at its start)
renders every item again with the two dates.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No rule set has this version: the refresher takes every row for one to compute again.
BEFORE_0018 = "before-0018"


def upgrade() -> None:
    op.execute(f"UPDATE branch_status SET rules_version = '{BEFORE_0018}'")


def downgrade() -> None:
    # 0017's items have no dates: rendered again by the next refresh, as on upgrade.
    op.execute(f"UPDATE branch_status SET rules_version = '{BEFORE_0018}'")
