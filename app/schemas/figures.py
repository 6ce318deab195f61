from datetime import date

from pydantic import Field

from app.models.vocab import EventKind, MemberStatus, Role
from app.schemas.common import BranchMini, LocalityRef, Provenance


class Subject(Provenance):
    branch: BranchMini | None = Field(description="The organization the figure is about.")
    locality: LocalityRef | None = Field(
        description="Where it was reported: the figure's place, or its organization's."
    )


class MembershipCountOut(Subject):
    """A membership count as of a date."""

    id: int
    key: str = Field(
        description="<source key>#<record id>",
        examples=["baoyenbai-2023-luc-yen#luc-yen-members-2023"],
    )
    value: int = Field(
        description="Members (for less_than, the bound: 'dưới 5' is 5).", examples=[6799]
    )
    value_max: int | None = Field(description="Upper end of a range.")
    status: MemberStatus = Field(description="all, full or probationary members.")
    as_of: date | None = Field(
        description="The date the count holds, when the text gives it.", examples=["2023-12-18"]
    )


class MembershipEventOut(Subject):
    """Admissions, departures or transfers over a period."""

    id: int
    key: str
    kind: EventKind = Field(examples=["admission"])
    value: int | None = Field(
        description="How many; null when the text says it happened without a number.",
        examples=[216],
    )
    value_max: int | None = Field(description="Upper end of a range ('3-5'); null otherwise.")
    period_start: date | None = Field(examples=["2023-01-01"])
    period_end: date | None = Field(examples=["2023-12-31"])
    reason: str | None = Field(description="For departures, the reason the text gives.")


class FactOut(Subject):
    """Any other figure: households, poverty rate, targets, ratings..."""

    id: int
    key: str
    metric: str = Field(examples=["poverty_rate"])
    dimension: str | None = Field(description="Breakdown of subordinate organizations, when given.")
    value: float = Field(examples=[12])
    value_max: float | None = Field(description="Upper end of a range ('24-25 triệu').")
    out_of: float | None = Field(
        description="The whole the value is a part of ('5/10 chi bộ': 10); not a range's end.",
        examples=[10],
    )
    unit: str = Field(examples=["percent"])
    period_start: date | None
    period_end: date | None


class OfficeholderOut(Subject):
    """Who holds a post, as a source reports it."""

    id: int
    key: str
    person: str = Field(examples=["Hoàng Văn Thận"])
    role: Role = Field(examples=["secretary"])
    as_of: date | None
