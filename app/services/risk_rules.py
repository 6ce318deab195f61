"""The risk rule set: ids, thresholds, version. Documented in the README and the OpenAPI.

The Nghệ An definition (article 004: "tổng số đảng viên dưới 5, trong đó có 3 đảng viên
trên 60 tuổi và trên 5 năm không phát triển được đảng viên") gives the first three rules;
the Party Charter's minimum of 3 full members for a branch gives the fourth; the Tiền
Phong case (article 000: more members leaving than joining) the fifth; a source saying a
branch is at risk ("có nguy cơ không còn chi bộ") the sixth.
"""

import hashlib
from dataclasses import dataclass, fields
from functools import cached_property

RULES_VERSION = "2026.12"


@dataclass(frozen=True)
class RiskRules:
    """Thresholds; each can be set from the environment (see app.config.Settings)."""

    min_members: int = 5
    ageing_members: int = 3
    stall_years: int = 5
    charter_min_full_members: int = 3
    attrition_years: int = 3

    @cached_property
    def version(self) -> str:
        """The rule set's version; with other thresholds, `+custom-` and five hex digits
        of them: the status rows stored under one set of thresholds are then seen as
        stale under another (app.services.status_day.is_stale), a custom set included.
        20 characters at most (branch_status.rules_version)."""
        thresholds = tuple(getattr(self, f.name) for f in fields(self))
        if all(value == f.default for value, f in zip(thresholds, fields(self), strict=True)):
            return RULES_VERSION
        digest = hashlib.sha256(repr(thresholds).encode()).hexdigest()[:5]
        return f"{RULES_VERSION}+custom-{digest}"


# The member rules read each of an unnamed group's organizations (app.services.risk).
OF_EACH = (
    "For an unnamed group, each of its organizations: a figure of the whole group "
    "(applies_to_each false) puts each between 0 and the figure's most."
)


@dataclass(frozen=True)
class RuleInfo:
    id: str
    title: str
    description: str


def describe_rules(rules: RiskRules) -> list[RuleInfo]:
    return [
        RuleInfo(
            "too_few_members",
            "Too few members",
            f"The latest count is below {rules.min_members} members (Nghệ An, article 004). "
            "Read as its text gives it: admissions recorded after it are not added to it. "
            + OF_EACH,
        ),
        RuleInfo(
            "ageing",
            "Ageing membership",
            f"{rules.ageing_members} or more members are over 60 (Nghệ An, article 004). "
            + OF_EACH,
        ),
        RuleInfo(
            "stalled",
            "No admissions",
            f"A source states more than {rules.stall_years} years without an admission, and "
            "no admission is recorded after that statement (Nghệ An, article 004; one of a "
            "period open to its end, 'từ năm 2019 đến nay', may be as late as its article). "
            "Not met "
            f"when an admission is recorded within {rules.stall_years} years before as_of; "
            "unknown otherwise (an admission after the statement, older than that: the "
            "branch may have stalled again since). For an unnamed group, only an admission "
            "for each of its organizations makes it not met (one of the whole group's may "
            "be a single organization's).",
        ),
        RuleInfo(
            "below_charter_minimum",
            "Below the charter minimum",
            f"Fewer than {rules.charter_min_full_members} full members, the Party Charter's "
            "minimum for a branch (a count of all members below it is enough; the newer "
            "of the two counts decides, the full members' of one day first). " + OF_EACH,
        ),
        RuleInfo(
            "attrition",
            "Attrition",
            "More departures than admissions over the "
            f"{rules.attrition_years} calendar years up to the branch's latest reported "
            "admission or departure (the Tiền Phong case, article 000); an event of a "
            "period begun before the window counts from 0 to its most. For an unnamed "
            "group, each of its organizations: an event of the whole group (applies_to_each "
            "false) counts from 0 to its most.",
        ),
        RuleInfo(
            "reported",
            "Reported at risk",
            "A source says the branch, or the group, is at risk of ceasing to exist; not "
            "met otherwise (never unknown: the rule is whether a source says it).",
        ),
    ]


LEVEL_DESCRIPTIONS = {
    "critical": "Below the charter minimum, or all three Nghệ An criteria met.",
    "high": "Reported at risk, too few members, or two of ageing, stalled and attrition.",
    "watch": "One of ageing, stalled or attrition.",
    "none": "No criterion met, and the members are known not to be too few.",
    "unknown": "No criterion met, and whether the members are too few is not known: no "
    "count, or one that allows both ('at most 8', 'more than 3', an unnamed group's count "
    "of its whole).",
    "dissolved": "Dissolved or merged away on or before as_of (its dissolved_on): it has "
    "ceased to exist, so it is not at risk of it. Its criteria are still evaluated.",
}


def _in_brief(rules: RiskRules) -> str:
    levels = "; ".join(
        f"{level}: {LEVEL_DESCRIPTIONS[level].rstrip('.')}"
        for level in ("critical", "high", "watch")
    )
    return (
        f"Levels: {levels}. The criteria, by default (GET /risk/rules gives those in force): "
        f"too few members, under {rules.min_members}; ageing, {rules.ageing_members} or more "
        f"over 60; stalled, more than {rules.stall_years} years stated without an admission; "
        f"below the charter minimum, under {rules.charter_min_full_members} full members; "
        f"attrition, more departures than admissions over {rules.attrition_years} years; "
        "reported, a source says so."
    )


# For the risk filter's description: the levels and the default thresholds.
RISK_LEVELS_IN_BRIEF = _in_brief(RiskRules())
