"""Descriptions of the response fields that mean the same everywhere.

Applied to every schema property the models leave undescribed, when the OpenAPI document
is built: one wording per field name, kept in one place. A test requires every property
of every schema to end up described.
"""

from typing import Any

FIELD_GLOSSARY: dict[str, str] = {
    "id": "Numeric id, stable for the life of the record, never given to another after it "
    "is deleted.",
    "key": "Stable text key (sources: a slug; places: vn2004:/vn2025:<code>; "
    "organizations: org:<place key>; figures: <source key>#<record id>).",
    "kind": "What sort of thing it is (see the enum).",
    "name": "Name as written in the source, with diacritics; null for an unnamed group. An "
    "organization the text names only by its committee ('Huyện ủy', 'Đảng ủy xã') is named "
    "from its place, and its note says so.",
    "official_name": "Name with its kind word, as written (Xã Mai Hạ, thôn Khéo Lẹng).",
    "code": "Official statistics code; villages have none.",
    "parent": "The parent organization.",
    "parent_id": "Id of the parent locality.",
    "group_size": "For an unnamed group: how many organizations it counts.",
    "description": "For an unnamed group: the words of the text that name it.",
    "today": "What the unit it was reported under is today (after the 2025 reform).",
    "province": "A province.",
    "locality": "A locality.",
    "members": "Least and most members the latest count allows (qualifiers kept); for an "
    "unnamed group whose count holds for each (latest_count.applies_to_each), those of each "
    "of its organizations.",
    "latest_count": "The count of all its members (status all) shown first: newest "
    "evidence date, then the most recently added; null when no such count is known (a "
    "count of its full or probationary members alone is listed with its counts).",
    "risk": "Risk level as of the evaluation day, with the criteria met.",
    "source": "Where the figure comes from.",
    "sources": "Every source that states anything about it.",
    "quote": "The sentence of the source that states it, verbatim.",
    "figure": "The characters of the quote that print the number; null when it prints none.",
    "note": "Anything a reader should know about this record.",
    "date_note": "How the date was read from the text.",
    "synthetic": "True for generated benchmark data, never for real figures.",
    "qualifier": "How the text qualifies the value: exact, approximate, at_least, more_than, "
    "at_most or less_than; empty when the value is (not reported: nothing to qualify).",
    "applies_to_each": "For an unnamed group: the figure holds for each of its organizations, "
    "not for the group as a whole.",
    "as_of": "The day the figure or evaluation holds.",
    "evidence_date": "The latest day the figure can describe (used by as_of).",
    "evidence_date_basis": "stated, derived, published or registered: how evidence_date was set.",
    "value": "The number as the text gives it (a bound for more/less than).",
    "value_max": "Upper end of a range ('24-25 triệu'); null otherwise.",
    "unit": "The unit of the value.",
    "metric": "What the figure measures.",
    "period_start": "First day of the period the figure covers; null when not stated.",
    "period_end": "Last day of the period the figure covers; null when open-ended.",
    "person": "The person's name as written.",
    "role": "The post.",
    "status": "Status (see the enum or the description of the resource).",
    "counts": "Membership counts, oldest evidence first.",
    "events": "Admissions, departures and transfers.",
    "facts": "Other figures (households, poverty rate, targets...).",
    "officeholders": "Who holds which post, as reported.",
    "children": "Direct children.",
    "branches": "Organizations.",
    "localities": "Places.",
    "summary": "Organizations, members and risk levels under the place.",
    "items": "The rows of this page.",
    "publisher": "Publisher as the text shows it; null when there is no masthead.",
    "title": "Title or headline.",
    "author": "Byline as printed; null when none.",
    "language": "ISO 639 language code of the text.",
    "url": "Where it was published, when known.",
    "text_path": "Where the text is kept in the repository, for seed articles.",
    "legal_basis": "The act that created, merged or abolished the unit.",
    "effective_on": "The day the succession took effect.",
    "level": "critical, high, watch, none, unknown or dissolved.",
    "levels": "Counts by risk level.",
    "organizations_by_level": "Organizations by risk level, an unnamed group counting as its size.",
    "at_risk": "Level watch or above (for a province: organizations at risk).",
    "criteria": "Each criterion: met, not met or unknown, with value, threshold, evidence.",
    "criteria_met": "Ids of the criteria met.",
    "threshold": "The threshold the rule compares with.",
    "thresholds": "The thresholds in force.",
    "rules": "The rules of the rule set.",
    "rules_version": (
        "Version of the rule set (with +custom-<5 hex digits of the thresholds> when they "
        "differ from the defaults)."
    ),
    "version": "Version of the rule set.",
    "newest_evidence_date": "The newest evidence_date among the evidence.",
    "branch_id": "Id of the organization.",
    "critical": "Organizations at level critical.",
    "high": "Most the sources allow; null when open-ended.",
    "low": "Least the sources allow.",
    "watch": "Organizations at level watch.",
    "none": "Organizations assessed and not at risk.",
    "unknown": "Organizations with too little evidence to assess.",
    "risk_levels": "Organizations by risk level.",
    "unnamed_groups": "Unnamed groups of organizations an article counts.",
    "organizations_in_unnamed_groups": "Organizations inside those groups.",
    "organizations_counted": "Counts that make up the sum: an unnamed group's is one, "
    "added once for each of its organizations when it applies to each.",
    "records_total": "How many figures make up the sum.",
    "year": "Calendar year.",
    "years": "One entry per year with dated figures.",
    "admissions": "Admissions that year.",
    "departures": "Departures that year.",
    "transfers_in": "Transfers in that year.",
    "transfers_out": "Transfers out that year.",
    "method": "How the sums were made.",
    "ready": "True when the database answers and is at the latest migration.",
    "detail": "Why not, when not ready.",
    "message": "What is wrong with the field.",
}


def describe_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Fill in glossary descriptions for undescribed schema properties (in place)."""
    for schema in document.get("components", {}).get("schemas", {}).values():
        for name, prop in (schema.get("properties") or {}).items():
            if not prop.get("description") and name in FIELD_GLOSSARY:
                prop["description"] = FIELD_GLOSSARY[name]
    return document
