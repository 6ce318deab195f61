"""Figures: membership counts, membership events, other facts and roles.

Every figure row carries its source and the verbatim quote that states it, and an
`evidence_date`: the latest day the figure can describe (its own date, else its
source's publication date, else the day the service first held the source). Risk and
`as_of` queries use only figures whose evidence_date is on or before the day asked.
"""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Float, Index, Text, false, text
from sqlmodel import Field, SQLModel

from app.models.base import in_list, utcnow
from app.models.vocab import EVENT_KINDS, MEMBER_STATUSES, QUALIFIERS, ROLES


class FigureBase(SQLModel):
    """Columns every figure has: identity, provenance, qualifier, dating."""

    key: str = Field(max_length=300, unique=True)
    qualifier: str = Field(default="exact", max_length=20)
    applies_to_each: bool = Field(
        default=False, description="For a group: the figure holds for each member."
    )
    # Indexed with the id by each table (ix_<table>_evidence_date_id): lists by date.
    evidence_date: date
    # The own date (as_of, period) is worked out from the text, not printed (date_note
    # says how): evidence_date_basis `derived`, not `stated`.
    date_derived: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    date_note: str | None = Field(default=None, sa_type=Text)
    source_id: int = Field(foreign_key="sources.id", index=True)
    quote: str = Field(sa_type=Text)
    figure: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_type=Text)
    is_synthetic: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# The counts that the status indexes hold (the condition services name, app.services.figures).
NOT_ALL = "status <> 'all'"
# The counts whose day no text states, which a place's yearly stats list apart.
UNDATED = "as_of IS NULL"


class MembershipCount(FigureBase, table=True):
    """How many members a branch (or each branch of a group) had, as of a date."""

    __tablename__ = "membership_counts"
    __table_args__ = (
        CheckConstraint(in_list("qualifier", QUALIFIERS), name="qualifier"),
        CheckConstraint(in_list("status", MEMBER_STATUSES), name="status"),
        CheckConstraint("value >= 0 AND (value_max IS NULL OR value_max >= value)", name="value"),
        Index("ix_membership_counts_branch_evidence", "branch_id", "evidence_date", "id"),
        Index("ix_membership_counts_evidence_date_id", "evidence_date", "id"),
        # Counts of one status, by id or by date (migration 0012). Only of the statuses
        # other than "all", which most counts have: a list of those walks the indexes
        # above and finds them at once, and these stay as small as the counts they hold.
        Index(
            "ix_membership_counts_status_id",
            "status",
            "id",
            sqlite_where=text(NOT_ALL),
            postgresql_where=text(NOT_ALL),
        ),
        Index(
            "ix_membership_counts_status_date_id",
            "status",
            "evidence_date",
            "id",
            sqlite_where=text(NOT_ALL),
            postgresql_where=text(NOT_ALL),
        ),
        # Those in no year (migration 0016): few, and a province's stats find them here
        # rather than through each of its branches' counts.
        Index(
            "ix_membership_counts_undated_id",
            "id",
            sqlite_where=text(UNDATED),
            postgresql_where=text(UNDATED),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id")
    value: int
    value_max: int | None = None
    status: str = Field(default="all", max_length=20)
    as_of: date | None = None


class MembershipEvent(FigureBase, table=True):
    """Admissions, departures and transfers of a branch over a period."""

    __tablename__ = "membership_events"
    __table_args__ = (
        CheckConstraint(in_list("qualifier", QUALIFIERS), name="qualifier"),
        CheckConstraint(in_list("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(
            "value IS NULL OR (value >= 0 AND (value_max IS NULL OR value_max >= value))",
            name="value",
        ),
        # A qualifier qualifies a number: none where no number is reported (migration 0027).
        CheckConstraint("(value IS NULL) = (qualifier IS NULL)", name="qualifier_of_value"),
        CheckConstraint(
            "period_start IS NULL OR period_end IS NULL OR period_start <= period_end",
            name="period",
        ),
        Index("ix_membership_events_branch_kind_evidence", "branch_id", "kind", "evidence_date"),
        Index("ix_membership_events_evidence_date_id", "evidence_date", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id")
    kind: str = Field(max_length=20)
    value: int | None = Field(default=None, description="Null: it happened, count not reported.")
    # Null with the value, and only then: nothing to qualify. No default here (a default
    # would fill a NULL written on purpose): every writer names it.
    qualifier: str | None = Field(default=None, max_length=20)  # type: ignore[assignment]
    value_max: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    reason: str | None = Field(default=None, sa_type=Text)


class Fact(FigureBase, table=True):
    """Any other figure (households, poverty rate, targets, ...), one metric per row."""

    __tablename__ = "facts"
    __table_args__ = (
        CheckConstraint(in_list("qualifier", QUALIFIERS), name="qualifier"),
        CheckConstraint("(branch_id IS NULL) <> (locality_id IS NULL)", name="one_subject"),
        CheckConstraint(
            "period_start IS NULL OR period_end IS NULL OR period_start <= period_end",
            name="period",
        ),
        Index("ix_facts_branch_metric", "branch_id", "metric", "evidence_date"),
        Index("ix_facts_locality_metric", "locality_id", "metric", "evidence_date"),
        Index("ix_facts_evidence_date_id", "evidence_date", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    metric: str = Field(max_length=60, index=True)
    branch_id: int | None = Field(default=None, foreign_key="branches.id")
    locality_id: int | None = Field(default=None, foreign_key="localities.id")
    value: float
    value_max: float | None = Field(default=None, sa_type=Float)
    # The whole the value is a part of, as the text prints it ("5/10 chi bộ": 10). Not
    # value_max, which ends a range: 5 of 10 is not "5 to 10".
    out_of: float | None = Field(default=None, sa_type=Float)
    unit: str = Field(max_length=40)
    dimension: str | None = Field(default=None, max_length=60)
    period_start: date | None = None
    period_end: date | None = None


class Officeholder(FigureBase, table=True):
    """Who holds a post in an organization, as a source reports it."""

    __tablename__ = "officeholders"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role"),
        Index("ix_officeholders_evidence_date_id", "evidence_date", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    person: str = Field(max_length=200)
    role: str = Field(max_length=40)
    as_of: date | None = None
