from datetime import date
from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from app.models.vocab import LocalityKind, SuccessionKind
from app.schemas.common import LocalityRef, Schema, SourceRef, TodayUnits
from app.schemas.figures import MembershipCountOut, MembershipEventOut


class SuccessionLink(Schema):
    """A unit that replaced, or was replaced by, another in the 2025 reform."""

    locality: LocalityRef
    kind: SuccessionKind = Field(
        description="continued (the same code and name, and no other unit of the "
        "reference merged into it; the reference lists only the units the articles name, so "
        "this does not say that no unit outside it merged in: its territory may be new) or "
        "merged_into.",
        examples=["merged_into"],
    )
    effective_on: date = Field(examples=["2025-07-01"])
    legal_basis: str = Field(examples=["1673/NQ-UBTVQH15"])


class LocalityOut(Schema):
    """A province, district, commune or village, valid over a period."""

    id: int = Field(examples=[19])
    key: str = Field(examples=["vn2004:02803"])
    kind: LocalityKind = Field(examples=["commune"])
    name: str = Field(
        description="Proper name as written, with diacritics.", examples=["Thào Chư Phìn"]
    )
    official_name: str | None = Field(examples=["Xã Thào Chư Phìn"])
    code: str | None = Field(examples=["02803"])
    parent_id: int | None
    valid_from: date | None = Field(description="First day the unit existed, when known.")
    valid_to: date | None = Field(
        description="Last day, for a unit the 2025 reform replaced.", examples=["2025-06-30"]
    )
    legal_basis: str | None = Field(description="The act that created, merged or abolished it.")
    is_current: bool = Field(description="The unit exists today.")
    today: TodayUnits = Field(
        description="What the unit is today, after the 2025 reform: itself if current."
    )
    successors: list[SuccessionLink] = Field(description="Units that replaced it.")
    predecessors: list[SuccessionLink] = Field(
        description="Units it replaced, of those the reference holds: the units the "
        "articles name, not every constituent."
    )
    source: SourceRef | None = Field(description="The article that names it (villages).")
    quote: str | None
    note: str | None
    synthetic: bool


# What each level counts, said once for both ways of counting (a group once, or as its
# size); each class of counts says its way (`counting`), filled into every description.
LEVEL_WORDS = {
    "critical": "At level critical",
    "high": "At level high",
    "watch": "At level watch",
    "none": "Assessed and not at risk",
    "unknown": "Too little evidence to assess",
    "dissolved": "Dissolved or merged away by the day evaluated",
}


def _describe_levels(schema: dict[str, Any], model: type[Any]) -> None:
    for level, words in LEVEL_WORDS.items():
        schema["properties"][level]["description"] = f"{words} {model.counting}."


class _ByLevel(Schema):
    """A count for each risk level."""

    counting: ClassVar[str]
    model_config = ConfigDict(json_schema_extra=_describe_levels)

    critical: int
    high: int
    watch: int
    none: int
    unknown: int
    dissolved: int


class RiskLevels(_ByLevel):
    """Named organizations and unnamed groups by risk level, a group counting once."""

    counting = "(a group counts once)"


class OrganizationsByLevel(_ByLevel):
    """Organizations by risk level, an unnamed group counting as its size."""

    counting = "(an unnamed group counts as its size)"


class MembersSum(Schema):
    low: int | None = Field(description="Least total the sources allow.")
    high: int | None = Field(description="Most total; null when a figure is open-ended.")
    organizations_counted: int
    earliest_evidence_date: date | None = Field(
        description="The oldest of the counts added: a sum of counts of different days."
    )
    latest_evidence_date: date | None = Field(description="The newest of the counts added.")
    counts_without_a_day: int = Field(
        description="Counts added that no text dates (dated by their article, an upper bound)."
    )
    approximate_counts: int = Field(
        description="Counts added that the sources give as approximate ('khoảng'): when not "
        "0, low and high are approximate too."
    )
    note: str


class LocalitySummary(Schema):
    organizations: int = Field(
        description="Named organizations under the place and the places it replaced."
    )
    unnamed_groups: int
    organizations_in_unnamed_groups: int
    members: MembersSum = Field(
        description="A sum over the place: each organization's latest count, an unnamed "
        "group's counting once for each of its organizations, and none counted twice (an "
        "organization whose count a counted one above it includes adds nothing)."
    )
    risk_levels: RiskLevels = Field(
        description="Named organizations and unnamed groups by risk level, a group counting "
        "once (its organizations: organizations_in_unnamed_groups)."
    )


class LocalityDetail(LocalityOut):
    parents: list[LocalityRef] = Field(description="Parent chain, nearest first.")
    children: list[LocalityRef]
    summary: LocalitySummary


D_RECORDS = (
    "Contributing figures with source and quote: the first `records` (5 unless asked, at "
    "most 25) of the records_total"
)


class _YearSum(Schema):
    low: int | None
    high: int | None
    records_total: int
    approximate_records: int = Field(
        description="How many of the figures summed the sources give as approximate "
        "('khoảng', an average; each record's qualifier): when not 0, low and high are "
        "approximate too."
    )


class YearMembers(_YearSum):
    """The members' sum of a year, and the counts it adds."""

    records: list[MembershipCountOut] = Field(description=f"{D_RECORDS}: membership counts.")


class YearEvents(_YearSum):
    """An event kind's sum of a year, and the events it adds."""

    records: list[MembershipEventOut] = Field(
        description=f"{D_RECORDS}: events of the measure's kind."
    )


class YearStats(Schema):
    year: int
    members: YearMembers | None = Field(
        description="A sum over the place: each organization's latest count dated in the "
        "year (all members), an unnamed group's once for each of its organizations, none "
        "counted twice (see method); null when no count is dated in the year."
    )
    admissions: YearEvents | None
    departures: YearEvents | None
    transfers_in: YearEvents | None
    transfers_out: YearEvents | None


class LocalityStats(Schema):
    locality: LocalityRef
    covers: list[int] = Field(description="Ids of the unit and the units it replaced.")
    years: list[YearStats]
    undated_counts: list[MembershipCountOut] = Field(
        description="Membership counts whose day no text states, so in no year (the first 200)."
    )
    not_in_a_single_year: list[MembershipEventOut] = Field(
        description="Events over several years or with an open end (the first 200)."
    )
    method: str
