"""locality words compared by their bytes on PostgreSQL

A search finds the words starting with what was typed as a range of the words' index:
from the prefix to the prefix with its last character raised ('thu' to 'thv',
app.services.localities._prefix_end). That holds in the order of bytes (SQLite's, and
PostgreSQL's C collation); in a linguistic collation such as en_US, punctuation sorts
apart ('9' raised is ':'; on a database of en_US.utf8 collation '95' >= '9' AND '95' <
':' is false, and so is 'zoo' >= 'z' AND 'zoo' < '{'), so a prefix ending in 9 or z found
nothing. The column is compared by its bytes on
PostgreSQL, whatever the database's collation, as the names' sort keys are (0019).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name == "postgresql":  # SQLite compares text by its bytes
        op.execute(
            f'ALTER TABLE locality_words ALTER COLUMN word TYPE VARCHAR(400) COLLATE "{collation}"'
        )


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
