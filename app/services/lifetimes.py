"""An organization's figures are of its lifetime.

A figure dated by its own date (a count's or an officeholder's as_of, an event's or a
fact's period) is not of a day before its organization was founded, nor after it was
dissolved: a count of 2023 beside a dissolution in 2000 contradicts itself, and read as
of a day it showed a dissolved branch with 38 members. A figure with no date of its own,
dated by its article, may be of any day before that one: never outside. A period overlaps
the lifetime (one open at its end may run on past its founding).

Writes (app.services.write_places, write_figures), imports (app.ingest.loader) and
`branchstats check` read the rule here.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    String,
    and_,
    cast,
    false,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.models import Branch, Fact, MembershipCount, MembershipEvent, Officeholder
from app.services.audit import ENTITY_OF
from app.services.refs import table

# Each dated table: the columns of the first and the last day its figure is of.
DAYS: dict[Any, tuple[str, str]] = {
    MembershipCount: ("as_of", "as_of"),
    MembershipEvent: ("period_start", "period_end"),
    Fact: ("period_start", "period_end"),
    Officeholder: ("as_of", "as_of"),
}


def before_founding(founded: date | None, last: date | None) -> str | None:
    if founded is not None and last is not None and last < founded:
        return f"{last} is before the organization was founded ({founded})"
    return None


def after_dissolution(dissolved: date | None, first: date | None) -> str | None:
    if dissolved is not None and first is not None and first > dissolved:
        return f"{first} is after the organization was dissolved ({dissolved})"
    return None


@dataclass(frozen=True)
class OutsideLifetime:
    """A figure dated outside its organization's lifetime, and on which side."""

    entity: str
    id: int
    key: str
    branch_id: int
    field: str  # the figure's column whose day is outside
    day: date
    before_founding: bool
    bound: date  # founded_on or dissolved_on

    @property
    def message(self) -> str:
        fault = (
            before_founding(self.bound, self.day)
            if self.before_founding
            else after_dissolution(self.bound, self.day)
        )
        assert fault is not None
        return fault

    @property
    def branch_field(self) -> str:
        return "founded_on" if self.before_founding else "dissolved_on"

    def of_the_branch(self) -> str:
        """What the branch's date contradicts, said from the branch's side."""
        side = "after" if self.before_founding else "before"
        return f"{side} {self.entity} {self.key}, dated {self.day} ({self.field})"


def _outside(
    model: Any, founded: ColumnElement[Any], dissolved: ColumnElement[Any], branch_id: Any
) -> Any:
    """The table's figures outside the lifetime `founded`..`dissolved`, one row each per
    side (a figure cannot be on both: its period would be longer than the lifetime)."""
    t = table(model)
    first, last = DAYS[model]
    entity = ENTITY_OF[model]

    def side(is_before: bool) -> Any:
        day, bound = (t.c[last], founded) if is_before else (t.c[first], dissolved)
        outside = day < bound if is_before else day > bound
        return select(
            cast(literal(entity), String).label("entity"),
            t.c.id,
            t.c.key,
            t.c.branch_id,
            cast(literal(last if is_before else first), String).label("field"),
            day.label("day"),
            cast(literal(is_before), Boolean).label("before_founding"),
            bound.label("bound"),
        ).where(t.c.branch_id == branch_id, bound.is_not(None), day.is_not(None), outside)

    return [side(True), side(False)]


def figures_outside_lifetimes(
    connection: Connection | Session, branch_ids: Collection[int] | None = None
) -> list[OutsideLifetime]:
    """The figures outside their organization's lifetime as stored: of `branch_ids`, or
    of every organization with a founding or a dissolution."""
    b = table(Branch)
    dated = or_(b.c.founded_on.is_not(None), b.c.dissolved_on.is_not(None))
    if branch_ids is not None:
        dated = and_(dated, b.c.id.in_(list(branch_ids))) if branch_ids else false()
    branches = select(b.c.id, b.c.founded_on, b.c.dissolved_on).where(dated).subquery("b")
    parts = [
        part
        for model in DAYS
        for part in _outside(model, branches.c.founded_on, branches.c.dissolved_on, branches.c.id)
    ]
    rows = connection.execute(union_all(*parts)).all()
    return sorted((_found(row) for row in rows), key=lambda o: (o.entity, o.id))


def figures_outside(
    session: Session, branch_id: int, founded: date | None, dissolved: date | None
) -> list[OutsideLifetime]:
    """A branch's stored figures outside the lifetime it is about to have."""
    parts = [
        part
        for model in DAYS
        for part in _outside(
            model, literal(founded, type_=Date()), literal(dissolved, type_=Date()), branch_id
        )
    ]
    rows = session.execute(union_all(*parts)).all()
    return sorted((_found(row) for row in rows), key=lambda o: (o.entity, o.id))


def _found(row: Any) -> OutsideLifetime:
    return OutsideLifetime(
        row.entity,
        row.id,
        row.key,
        row.branch_id,
        row.field,
        _day(row.day),
        bool(row.before_founding),
        _day(row.bound),
    )


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
