from datetime import date

from pydantic import Field

from app.models.vocab import EventKind, MemberStatus, Qualifier, Role
from app.schemas.common import BranchMini, LocalityRef, Provenance, examples_of


class Subject(Provenance):
    branch: BranchMini | None = Field(description="The organization the figure is about.")
    locality: LocalityRef | None = Field(
        description="Where it was reported: the figure's place, or its organization's."
    )


class MembershipCountOut(Subject):
    """A membership count as of a date."""

    model_config = examples_of(
        id=3,
        key="baoyenbai-2023-luc-yen#luc-yen-members-2023",
        value=6799,
        status="all",
        as_of="2023-12-18",
        qualifier="exact",
        evidence_date="2023-12-18",
        evidence_date_basis="published",
        quote="nâng tổng số đảng viên trong toàn Đảng bộ lên 6.799 đồng chí",
        figure="6.799",
    )

    id: int
    key: str = Field(
        description="<source key>#<record id>",
    )
    value: int = Field(description="Members (for less_than, the bound: 'dưới 5' is 5).")
    value_max: int | None = Field(description="Upper end of a range.")
    status: MemberStatus = Field(description="all, full or probationary members.")
    as_of: date | None = Field(description="The date the count holds, when the text gives it.")


class MembershipEventOut(Subject):
    """Admissions, departures or transfers over a period."""

    model_config = examples_of(
        id=4,
        key="baoyenbai-2023-luc-yen#luc-yen-admissions-2023",
        kind="admission",
        value=216,
        period_start="2023-01-01",
        period_end="2023-12-31",
        qualifier="exact",
        evidence_date="2023-12-18",
        evidence_date_basis="published",
        quote="Năm 2023, Lục Yên kết nạp 216 đảng viên mới",
        figure="216",
    )

    id: int
    key: str
    kind: EventKind
    value: int | None = Field(
        description="How many; null when the text says it happened without a number."
    )
    value_max: int | None = Field(description="Upper end of a range ('3-5'); null otherwise.")
    period_start: date | None
    period_end: date | None
    reason: str | None = Field(description="For departures, the reason the text gives.")
    qualifier: Qualifier | None = Field(  # type: ignore[assignment]
        description="exact, approximate, at_least, more_than, at_most or less_than, as the "
        "text says; null when the value is (no number to qualify).",
    )


class FactOut(Subject):
    """Any other figure: households, poverty rate, targets, ratings..."""

    model_config = examples_of(
        id=5,
        key="baoyenbai-2023-luc-yen#luc-yen-plan-completion-2023",
        metric="plan_completion",
        value=100.0,
        unit="percent",
        period_start="2023-01-01",
        period_end="2023-12-31",
        qualifier="exact",
        evidence_date="2023-12-18",
        evidence_date_basis="published",
        quote="Năm 2023, Lục Yên kết nạp 216 đảng viên mới, đạt 100% kế hoạch",
        figure="100%",
    )

    id: int
    key: str
    metric: str
    dimension: str | None = Field(description="Breakdown of subordinate organizations, when given.")
    value: float
    value_max: float | None = Field(description="Upper end of a range ('24-25 triệu').")
    out_of: float | None = Field(
        description="The whole the value is a part of ('5/10 chi bộ': 10); not a range's end."
    )
    unit: str
    period_start: date | None
    period_end: date | None


class OfficeholderOut(Subject):
    """Who holds a post, as a source reports it."""

    id: int
    key: str
    person: str = Field(examples=["Hoàng Văn Thận"])
    role: Role = Field(examples=["secretary"])
    as_of: date | None
