"""the branches' search index holds their names and ids (issue 7)

A search by word (`/branches?q=...`) tests every branch's folded name, and ranks each
match by its name as written (exact diacritics first, then by name). SQLite read the
folded names from their index and looked each match up in the table for its name: for
a word 253,000 of 274,473 branches hold ("chi bộ", scale 1.0), 250 ms of random reads
against 48 ms with the names in the index (the table read whole: 62 ms). PostgreSQL
needs the id too to read the index alone (SQLite's index entries hold the rowid).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_branches_search_key_name_lower_id", "branches", ["search_key", "name_lower", "id"]
    )
    op.drop_index("ix_branches_search_key", table_name="branches")


def downgrade() -> None:
    op.create_index("ix_branches_search_key", "branches", ["search_key"])
    op.drop_index("ix_branches_search_key_name_lower_id", table_name="branches")
