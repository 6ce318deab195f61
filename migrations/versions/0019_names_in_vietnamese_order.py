"""names in Vietnamese alphabetical order: a sort key stored beside each name

`sort=name` ordered names by their lower-cased code points: "Đ" after "Z", and "Ă",
"Â", "Ê", "Ô", "Ơ", "Ư" after every Latin letter; "Thôn 10" before "Thôn 2"; and on a
PostgreSQL database of another collation than C, in that collation's order. Each
branch and locality now keeps `name_order` (app.services.collation.name_order: letters
in the Vietnamese alphabet's order, then tones, numbers as numbers, in [0-9a-z] only),
and the indexes by name are by it, compared by their bytes on PostgreSQL too (the C
collation). name_lower stays: a search matches exact diacritics in it, and ranks ties
by it (its index, 0011, is left as it is).

The new indexes get statistics where the database has some, as 0014's did: SQLite plans
with its last ANALYZE, and takes an index it knows nothing of as the most selective.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 12:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.services.collation import name_order

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.models.base.NAME_ORDER_TYPE when this was written: compared by its bytes on both.
WIDTH = 2000
NAME_ORDER_TYPE = sa.String(WIDTH).with_variant(sa.String(WIDTH, collation="C"), "postgresql")
# What each table's name is ordered by, as app.ingest.places labels it: a locality by
# its official name (with its kind word), else its name; a branch by its name and the
# words that describe an unnamed group.
LABELS = {
    "localities": ("official_name", "name"),
    "branches": ("name", "description"),
}
NEW = {
    "ix_localities_name_order_id": ("localities", ["name_order", "id"]),
    "ix_localities_kind_name_order_id": ("localities", ["kind", "name_order", "id"]),
    "ix_branches_name_order_id": ("branches", ["name_order", "id"]),
    "ix_branches_province_name_order_id": ("branches", ["province_id", "name_order", "id"]),
}
OLD = {
    "ix_localities_name_lower_id": ("localities", ["name_lower", "id"]),
    "ix_localities_kind_name_lower_id": ("localities", ["kind", "name_lower", "id"]),
    "ix_branches_name_lower_id": ("branches", ["name_lower", "id"]),
    "ix_branches_province_name_lower_id": ("branches", ["province_id", "name_lower", "id"]),
}
SAMPLED_ROWS = 1000
# The keys computed here, written to the table in one UPDATE: an UPDATE a row raised the
# data version once a statement on PostgreSQL (0008's trigger, and 0013's NOTIFY), the
# same row some 380,000 times in one transaction at scale 1.0, each slower than the last
# (stopped after 10 minutes; SQLite, whose triggers are of rows, took 5 s).
KEYS = sa.table("name_order_keys", sa.column("row_id", sa.Integer), sa.column("name_key"))


def _label(table: str, first: str | None, second: str | None) -> str:
    if table == "localities":
        return first or second or ""
    return " ".join(part for part in (first, second) if part)


def _set_keys(bind: Any, table: str) -> None:
    """Each row's key, from the keys table, in one statement."""
    if bind.dialect.name == "postgresql":
        statement = (
            f"UPDATE {table} SET name_order = k.name_key FROM name_order_keys k "
            f"WHERE k.row_id = {table}.id"
        )
    else:  # UPDATE ... FROM is SQLite's from 3.33 only
        statement = (
            f"UPDATE {table} SET name_order = "
            f"(SELECT k.name_key FROM name_order_keys k WHERE k.row_id = {table}.id)"
        )
    bind.execute(sa.text(statement))


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "CREATE TEMPORARY TABLE name_order_keys "
            f"(row_id INTEGER PRIMARY KEY, name_key VARCHAR({WIDTH}) NOT NULL)"
        )
    )
    for table, columns in LABELS.items():
        # Not in batch mode: on SQLite a batch may copy the table, which would drop its
        # data version triggers (0008). ADD COLUMN keeps them.
        op.add_column(
            table,
            sa.Column("name_order", NAME_ORDER_TYPE, nullable=False, server_default=""),
        )
        rows = bind.execute(sa.text(f"SELECT id, {', '.join(columns)} FROM {table}")).all()
        bind.execute(sa.delete(KEYS))
        if rows:
            keys = [{"row_id": i, "name_key": name_order(_label(table, a, b))} for i, a, b in rows]
            bind.execute(sa.insert(KEYS), keys)
            _set_keys(bind, table)
    bind.execute(sa.text("DROP TABLE name_order_keys"))
    for name, (table, _) in OLD.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in NEW.items():
        op.create_index(name, table, columns)
    _analyze(bind, NEW)


def downgrade() -> None:
    bind = op.get_bind()
    for name, (table, _) in NEW.items():
        op.drop_index(name, table_name=table)
    for name, (table, columns) in OLD.items():
        op.create_index(name, table, columns)
    for table in LABELS:
        # SQLite drops a column in place (3.35+), its triggers kept; a batch would copy it.
        op.drop_column(table, "name_order")
    _analyze(bind, OLD)


def _analyze(bind: Any, indexes: dict[str, Any]) -> None:
    """Statistics for these indexes, where SQLite has statistics (see 0014)."""
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL's statistics are of the columns, which it has
    analyzed = bind.execute(
        sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).scalar()
    if analyzed:
        bind.execute(sa.text(f"PRAGMA analysis_limit={SAMPLED_ROWS}"))
        for name in indexes:
            bind.execute(sa.text(f"ANALYZE {name}"))
        bind.execute(sa.text("PRAGMA analysis_limit=0"))
