"""Ids never given twice, on SQLite as on PostgreSQL.

PostgreSQL's sequences never go back. SQLite gives a new row the largest id of its table
plus one (these tables are not AUTOINCREMENT, which a table takes only when it is
created): once the row with the largest id was deleted, the next row took its id, and an
idempotent replay's Location, an audit entry's entity_id or a reader's link to
/admissions/11 named another record. Triggers (migration 0020) keep each table's largest
deleted id here; before a flush, the new rows of those tables are given ids above both.
A synthetic database emptied by `branchstats synth --replace` starts its ids again, as
PostgreSQL's TRUNCATE ... RESTART IDENTITY does there: nothing of it is kept to link to.
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session, attributes
from sqlmodel import Field, SQLModel

from app.models.branches import Branch
from app.models.figures import Fact, MembershipCount, MembershipEvent, Officeholder
from app.models.localities import Locality
from app.models.sources import Source

# The tables whose rows the API or an import deletes.
NEVER_REUSED: tuple[Any, ...] = (
    Source,
    Locality,
    Branch,
    MembershipCount,
    MembershipEvent,
    Fact,
    Officeholder,
)


class RetiredId(SQLModel, table=True):
    """The largest id deleted from a table (SQLite; written by triggers only)."""

    __tablename__ = "retired_ids"

    table_name: str = Field(primary_key=True, max_length=40)
    last_id: int


@event.listens_for(Session, "before_flush")
def _fresh_ids(session: Session, _context: Any, _instances: Any) -> None:
    if session.get_bind().dialect.name != "sqlite":
        return
    pending: dict[Any, list[Any]] = defaultdict(list)
    for row in session.new:
        if isinstance(row, NEVER_REUSED) and row.id is None:
            pending[type(row)].append(row)
    for model, rows in pending.items():
        name = model.__tablename__
        first = session.execute(
            text(
                f"SELECT max(coalesce((SELECT max(id) FROM {name}), 0), coalesce("
                "(SELECT last_id FROM retired_ids WHERE table_name = :name), 0)) + 1"
            ),
            {"name": name},
        ).scalar_one()
        # In the order they were added, as the rows' own ids would have been.
        rows.sort(key=lambda row: attributes.instance_state(row).insert_order or 0)
        for offset, row in enumerate(rows):
            row.id = first + offset
