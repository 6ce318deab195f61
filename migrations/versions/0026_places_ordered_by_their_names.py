"""places ordered by their names, then by their kind words

`/localities?sort=name` ordered a place by its official name, kind word first: "bản
Bó", "Huyện Lục Yên", "thôn Khéo Lẹng", "Xã Bích Hào", "xóm Tiền Phong", so that the
names a list shows ran A to Z once for each kind word, and the villages by the word
each article used. A place's name_order is now of its name, then its official name
(app.ingest.places.locality_search_fields); its search fields are as they were. Cursors
of sort=name from before are refused (app.services.pagination.SORT_VALUES).

Written as 0019 wrote the keys: computed here, then one UPDATE from a temporary table
(one UPDATE a row raised the data version once a statement on PostgreSQL).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from app.services.collation import name_order

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = sa.table("name_order_keys", sa.column("row_id", sa.Integer), sa.column("name_key"))


def _ordered_by_name(name: str, official_name: str | None) -> str:
    return f"{name} {official_name}" if official_name else name


def _ordered_by_official_name(name: str, official_name: str | None) -> str:
    return official_name or name


def _write_keys(label: Callable[[str, str | None], str]) -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "CREATE TEMPORARY TABLE name_order_keys "
            "(row_id INTEGER PRIMARY KEY, name_key VARCHAR(2000) NOT NULL)"
        )
    )
    rows = bind.execute(sa.text("SELECT id, name, official_name FROM localities")).all()
    if rows:
        keys = [{"row_id": i, "name_key": name_order(label(n, o))} for i, n, o in rows]
        bind.execute(sa.insert(KEYS), keys)
        if bind.dialect.name == "postgresql":
            statement = (
                "UPDATE localities SET name_order = k.name_key FROM name_order_keys k "
                "WHERE k.row_id = localities.id AND localities.name_order <> k.name_key"
            )
        else:  # UPDATE ... FROM is SQLite's from 3.33 only
            statement = (
                "UPDATE localities SET name_order = (SELECT k.name_key FROM name_order_keys k "
                "WHERE k.row_id = localities.id)"
            )
        bind.execute(sa.text(statement))
    bind.execute(sa.text("DROP TABLE name_order_keys"))


def upgrade() -> None:
    _write_keys(_ordered_by_name)


def downgrade() -> None:
    _write_keys(_ordered_by_official_name)
