"""Controlled vocabularies shared by the table models, the API schemas and the importer."""

from typing import Literal, get_args

LocalityKind = Literal[
    "province",
    "city_province",
    "district",
    "town",
    "city",
    "commune",
    "ward",
    "township",
    "special_zone",
    "village",
]
BranchKind = Literal[
    "province_committee",
    "district_committee",
    "commune_committee",
    "agency_committee",
    "grassroots_branch",
    "village_branch",
    "school_branch",
    "health_station_branch",
    "agency_branch",
    "enterprise_branch",
    "party_cell",
    "other",
]
Qualifier = Literal["exact", "approximate", "at_least", "more_than", "at_most", "less_than"]
EventKind = Literal["admission", "departure", "transfer_in", "transfer_out"]
MemberStatus = Literal["all", "full", "probationary"]
# Where a figure's evidence_date comes from (app.services.evidence_dates).
DateBasis = Literal["stated", "derived", "published", "registered"]
SuccessionKind = Literal["continued", "merged_into"]
Role = Literal["secretary", "deputy_secretary", "head_of_organization_board"]

LOCALITY_KINDS: tuple[str, ...] = get_args(LocalityKind)
BRANCH_KINDS: tuple[str, ...] = get_args(BranchKind)
QUALIFIERS: tuple[str, ...] = get_args(Qualifier)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
MEMBER_STATUSES: tuple[str, ...] = get_args(MemberStatus)
SUCCESSION_KINDS: tuple[str, ...] = get_args(SuccessionKind)
ROLES: tuple[str, ...] = get_args(Role)

# Risk levels, lowest first; a branch is at risk at `watch` or above. Ranks are their
# positions counted from -1, kept in branch_status (risk_rank) for lists to filter and
# sort on: `dissolved` (a branch that has ceased to exist is not at risk of it) came
# after the others, below them, so that their ranks and the indexes on them held.
RiskLevel = Literal["dissolved", "unknown", "none", "watch", "high", "critical"]
# The risk rules' ids (app.services.risk_rules), the same in every version of the rules.
RuleId = Literal[
    "too_few_members", "ageing", "stalled", "below_charter_minimum", "attrition", "reported"
]
# What a rule found for a branch: met, not met, or too little evidence to say.
CriterionStatus = Literal["met", "not_met", "unknown"]
LEVELS: tuple[str, ...] = get_args(RiskLevel)
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS, start=-1)}
RANK_LEVEL = {rank: level for level, rank in LEVEL_RANK.items()}
AT_RISK_LEVELS: tuple[str, ...] = tuple(
    level for level in LEVELS if LEVEL_RANK[level] >= LEVEL_RANK["watch"]
)

# Which ancestor column a locality kind fills: a subtree query on a unit of this kind
# filters on that column (see Locality.province_id and friends).
LEVEL_OF_KIND: dict[str, str] = {
    "province": "province",
    "city_province": "province",
    "district": "district",
    "town": "district",
    "city": "district",
    "commune": "commune",
    "ward": "commune",
    "township": "commune",
    "special_zone": "commune",
    "village": "village",
}

# Fact metrics and their units (documented in seed/FORMAT.md).
METRIC_UNITS: dict[str, str] = {
    "households": "households",
    "poor_households": "households",
    "poverty_rate": "percent",
    "income_per_capita": "VND_per_person_year",
    "youth_participation_rate": "percent",
    "meeting_attendance_rate": "percent",
    "branches_rated_excellent": "percent",
    "branches_rated_good": "percent",
    "cultural_family_rate": "percent",
    "new_rural_criteria_met": "criteria",
    "admission_target": "members_per_year",
    "plan_completion": "percent",
    "subordinate_organizations": "organizations",
    "branches_with_committee": "organizations",
    "admission_candidates": "persons",
    "members_over_60": "members",
    "years_without_admission": "years",
    "at_risk_reported": "flag",
    "years_rated_clean_strong": "years",
    "admissions_in_one_branch": "members",
    "meeting_day_of_month": "day",
}
# What a metric's value can be, least and most (None: no most): every metric counts or
# measures something, none below 0; a share of a whole is at most all of it (a plan's
# completion is not a share: 130% of a plan is done); a day of the month is 1 to 31.
METRIC_RANGE_DEFAULT: tuple[float, float | None] = (0, None)
METRIC_RANGES: dict[str, tuple[float, float | None]] = {
    "poverty_rate": (0, 100),
    "youth_participation_rate": (0, 100),
    "meeting_attendance_rate": (0, 100),
    "branches_rated_excellent": (0, 100),
    "branches_rated_good": (0, 100),
    "cultural_family_rate": (0, 100),
    "meeting_day_of_month": (1, 31),
    # A flag: a source says so (1). "Not said" is no row, never a 0.
    "at_risk_reported": (1, 1),
}
DIMENSIONS: tuple[str, ...] = (
    "all",
    "grassroots_organizations",
    "commune_committees",
    "agency_committees",
    "grassroots_branches",
    "subordinate_branches",
    "village_branches",
    "school_and_health_station_branches",
)
