from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from app.models.vocab import (
    BranchKind,
    CriterionStatus,
    DateBasis,
    Qualifier,
    RiskLevel,
    RuleId,
)
from app.schemas.common import LocalityRef, Schema, SourceRef, TodayUnits
from app.schemas.figures import FactOut, MembershipCountOut, MembershipEventOut, OfficeholderOut
from app.schemas.localities import OrganizationsByLevel, RiskLevels


class ParentRef(Schema):
    id: int
    name: str | None


class MemberBounds(Schema):
    """An organization's members as its latest count allows them; an unnamed group's, of
    each of its organizations (a count of the group's whole allows each 0 to all of it)."""

    low: int | None = Field(description="Least members the latest count allows.", examples=[0])
    high: int | None = Field(description="Most members; null when open-ended.", examples=[4])


class LatestCount(Schema):
    id: int
    value: int = Field(examples=[22])
    value_max: int | None
    qualifier: Qualifier
    status: Literal["all"] = Field(description="Always all: the latest count of all members.")
    as_of: date | None
    evidence_date: date
    evidence_date_basis: DateBasis
    applies_to_each: bool
    date_note: str | None
    source: SourceRef
    quote: str = Field(examples=["Chi bộ có 22 đảng viên"])
    figure: str | None


class LatestCountWithAlternatives(LatestCount):
    alternatives: list[MembershipCountOut] = Field(
        description="Counts from other sources for the same organization and day: the "
        "value above is shown first (newest evidence date, then the most recently added)."
    )


class RiskBrief(Schema):
    level: RiskLevel = Field(
        description="critical, high, watch, none, unknown or dissolved (as of as_of; "
        "GET /risk/rules describes each).",
        examples=["high"],
    )
    at_risk: bool = Field(description="Level watch or above.")
    criteria_met: list[RuleId] = Field(examples=[["too_few_members", "ageing", "reported"]])
    as_of: date
    rules_version: str = Field(examples=["2026.12"])


class BranchOut(Schema):
    """A party organization, or an unnamed group of them (group_size set, name null)."""

    id: int = Field(examples=[3])
    key: str = Field(examples=["org:vn2004:135"])
    kind: BranchKind = Field(examples=["district_committee"])
    name: str | None = Field(examples=["Đảng bộ huyện Lục Yên"])
    group_size: int | None = Field(
        description="For an unnamed group: how many organizations (null for one)."
    )
    description: str | None = Field(description="For a group: the words of the text.")
    founded_on: date | None = Field(
        description="When it was founded, as its source states (null: not reported)."
    )
    dissolved_on: date | None = Field(
        description="When it was dissolved or merged away, as its source states (null: not "
        "reported, or it still exists). From that day its risk level is dissolved."
    )
    parent: ParentRef | None
    locality: LocalityRef | None = Field(description="The unit it was reported under.")
    today: TodayUnits
    members: MemberBounds
    latest_count: LatestCount | None
    risk: RiskBrief
    source: SourceRef | None = Field(description="The article that names it.")
    quote: str | None
    note: str | None
    synthetic: bool


class ChildRef(Schema):
    id: int
    key: str
    kind: BranchKind
    name: str | None
    group_size: int | None


class BranchDetail(BranchOut):
    latest_count: LatestCountWithAlternatives | None
    counts: list[MembershipCountOut] = Field(description="Count history, oldest first.")
    events: list[MembershipEventOut]
    facts: list[FactOut]
    officeholders: list[OfficeholderOut]
    children: list[ChildRef]
    sources: list[SourceRef]


D_RULE_ID = "The rule's id: a word, the same in every version of the rules."
D_RULE_TITLE = "The rule's name."
D_RULE_DESCRIPTION = "What the rule checks, and on which figures."


D_RECORD_PATH = (
    "The figure's own path: its GET serves it whole, with its quote and source (a count's "
    "/membership-counts/{id}, an event's /admissions/{id}, a fact's /facts/{id})."
)


class CountEvidence(MembershipCountOut):
    path: str = Field(description=D_RECORD_PATH, examples=["/membership-counts/3"])


class EventEvidence(MembershipEventOut):
    path: str = Field(description=D_RECORD_PATH, examples=["/admissions/4"])


class FactEvidence(FactOut):
    path: str = Field(description=D_RECORD_PATH, examples=["/facts/5"])


class Bounds(Schema):
    """Least and most a rule reads; null where nothing is recorded (the bounds are each
    organization's: for an unnamed group, a figure of its whole, applies_to_each false,
    puts each between 0 and the figure's most)."""

    low: int | None
    high: int | None


class _Criterion(Schema):
    title: str = Field(description=D_RULE_TITLE)
    description: str = Field(description=D_RULE_DESCRIPTION)
    status: CriterionStatus = Field(description="met, not_met or unknown.", examples=["met"])


# Each rule's evidence is of the tables it reads, typed as such: a client reads a count
# as a count without telling the records apart (only a stall's are of two kinds).
D_EVIDENCE = "The figures the rule read, with source and quote, each with its path"


class FewerThan(Schema):
    fewer_than: int = Field(description="Members below which a branch is at risk.")


class TooFewMembers(_Criterion):
    id: Literal["too_few_members"] = Field(description=D_RULE_ID)
    value: Bounds = Field(description="The latest count's bounds.")
    threshold: FewerThan
    evidence: list[CountEvidence] = Field(description=f"{D_EVIDENCE}: the latest count.")


class AtLeast(Schema):
    at_least: int = Field(description="Members over 60 from which a branch is at risk.")


class Ageing(_Criterion):
    id: Literal["ageing"] = Field(description=D_RULE_ID)
    value: Bounds = Field(description='The members over 60 ("trên 2" is at least 3).')
    threshold: AtLeast
    evidence: list[FactEvidence] = Field(
        description=f"{D_EVIDENCE}: the members over 60 (metric members_over_60)."
    )


class StallValue(Schema):
    stated_years_without_admission: float | None = Field(
        description="The years a source says passed without an admission."
    )
    stated_qualifier: Qualifier | None = Field(
        description='That figure\'s qualifier: "trên 5 năm" (more_than) proves a stall of '
        'more than 5 years, "dưới 10 năm" none.'
    )
    last_admission: date | None = Field(description="The newest admission recorded.")
    last_admission_of_each: date | None = Field(
        description="For an unnamed group, its newest admission for each of its "
        "organizations (one of the whole group's may be a single organization's); for a "
        "branch, its last_admission."
    )
    last_possible_admission: date | None = Field(
        description="Where a stall is stated: the last day an admission can have happened "
        'on (a period open to its end, "đến nay", up to its article\'s day).'
    )


class StallThreshold(Schema):
    more_than_years: int = Field(description="Years without an admission that make a stall.")
    admission_since: date = Field(description="An admission since this day: no stall.")


class Stalled(_Criterion):
    id: Literal["stalled"] = Field(description=D_RULE_ID)
    value: StallValue
    threshold: StallThreshold
    evidence: list[FactEvidence | EventEvidence] = Field(
        description=f"{D_EVIDENCE}: the stated years without an admission (a fact, metric "
        "years_without_admission) first, then the newest admissions (events)."
    )


class CharterValue(Schema):
    full_members: Bounds = Field(description="The latest count of full members.")
    members: Bounds = Field(description="The latest count of all members.")


class CharterThreshold(Schema):
    fewer_than_full_members: int = Field(description="The charter's minimum of full members.")


class BelowCharterMinimum(_Criterion):
    id: Literal["below_charter_minimum"] = Field(description=D_RULE_ID)
    value: CharterValue = Field(
        description="Both counts it reads: the full members', else all members' below the minimum."
    )
    threshold: CharterThreshold
    evidence: list[CountEvidence] = Field(
        description=f"{D_EVIDENCE}: the latest count of full members, then of all members."
    )


class AttritionValue(Schema):
    departures: Bounds = Field(description="The departures of the window.")
    admissions: Bounds = Field(description="The admissions of the window.")
    window_years: list[int] | None = Field(
        description="[first, last] year of the window; null when no year is recorded.",
        min_length=2,
        max_length=2,
    )


class AttritionThreshold(Schema):
    departures_exceed_admissions_over_years: int = Field(
        description="The years of the window in which departures exceeding admissions put "
        "a branch at risk."
    )


class Attrition(_Criterion):
    id: Literal["attrition"] = Field(description=D_RULE_ID)
    value: AttritionValue
    threshold: AttritionThreshold
    evidence: list[EventEvidence] = Field(
        description=f"{D_EVIDENCE}: the admissions and departures of the window."
    )


class ReportedThreshold(Schema):
    reported: Literal[True] = Field(description="A source says the branch is at risk.")


class Reported(_Criterion):
    id: Literal["reported"] = Field(description=D_RULE_ID)
    value: float | None = Field(
        description="The flag's value (1: a source says it); null when no source says it."
    )
    threshold: ReportedThreshold
    evidence: list[FactEvidence] = Field(
        description=f"{D_EVIDENCE}: the source's flag (metric at_risk_reported)."
    )


# One schema a rule, told apart by its id: a typed client reads each value as it is.
Criterion = Annotated[
    TooFewMembers | Ageing | Stalled | BelowCharterMinimum | Attrition | Reported,
    Field(discriminator="id"),
]


class RiskExplanation(Schema):
    branch_id: int
    as_of: date
    level: RiskLevel
    at_risk: bool
    rules_version: str
    newest_evidence_date: date | None
    evidence_age_days: int | None = Field(
        description="Days between as_of and newest_evidence_date: how old the newest "
        "evidence is at least. A date not the figure's own (evidence_date_basis published, "
        "or registered: the day the service first held an undated article) is the latest "
        "it can be, so the figure may be much older (a registered date makes a figure of "
        "2019 a few days old here): stated_age_days counts from the dates the sources give."
    )
    newest_stated_date: date | None = Field(
        description="The newest date the sources themselves give for any evidence (not "
        "one worked out from the text: evidence_date_basis derived), none after the article "
        "that reports it."
    )
    stated_age_days: int | None = Field(
        description="Days between as_of and newest_stated_date: stale data shows here."
    )
    criteria: list[Criterion]


class BranchRiskEvidence(Schema):
    """A branch at risk as /branches lists it, and why, as /branches/{id}/risk explains it."""

    branch: BranchOut = Field(description="The branch, as /branches lists it.")
    risk: RiskExplanation = Field(
        description="Each criterion with its value, threshold and evidence, as of the "
        "list's day (as_of, default today)."
    )


class ProvinceRisk(Schema):
    province: LocalityRef | None
    levels: RiskLevels = Field(
        description="Named organizations and unnamed groups by risk level, a group counting once."
    )
    organizations_by_level: OrganizationsByLevel = Field(
        description="Organizations by risk level, an unnamed group counting as its size."
    )
    at_risk: int


class RiskSummary(Schema):
    as_of: date
    rules_version: str
    reported_provinces: list[ProvinceRisk] = Field(
        description="By the province the figures were reported under, that province alone "
        "(a 2025 province's row holds only what was reported under it, not what was under "
        "the provinces it replaced: no list filter gives that row; province= gives the "
        "row of today_provinces)."
    )
    today_provinces: list[ProvinceRisk] = Field(
        description="By today's province (after the 2025 reform), with the provinces it "
        "replaced: as /branches?province= lists them (at_risk: with risk=true)."
    )


class RuleOut(Schema):
    id: RuleId = Field(description=D_RULE_ID, examples=["too_few_members"])
    title: str = Field(description=D_RULE_TITLE)
    description: str = Field(description=D_RULE_DESCRIPTION)


class RiskRulesOut(Schema):
    version: str
    thresholds: dict[str, int]
    rules: list[RuleOut]
    levels: dict[str, str] = Field(description="What each risk level means.")
