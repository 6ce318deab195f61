"""/risk: the rule set and counts by province."""

from dataclasses import asdict

from fastapi import Request, Response

from app.api.common import (
    READ_ERRORS,
    AsOf,
    api_router,
    engine_of,
    kept_rankings_of,
    read_errors,
    rules_of,
)
from app.api.responses import json_response
from app.reader import Reader
from app.schemas.branches import RiskRulesOut, RiskSummary
from app.services.risk_rules import LEVEL_DESCRIPTIONS, describe_rules
from app.services.risk_summary import risk_summary

router = api_router(prefix="/risk", tags=["risk"])


@router.get(
    "/summary", response_model=RiskSummary, responses=READ_ERRORS, summary="Risk by province"
)
def get_risk_summary(request: Request, as_of: AsOf = None) -> Response:
    """Organizations by risk level, per province as reported and per province today."""
    kept = kept_rankings_of(request)
    with Reader.open(engine_of(request)) as reader:
        return json_response(request, risk_summary(reader, rules_of(request), as_of, kept))


@router.get(
    "/rules",
    response_model=RiskRulesOut,
    # No record, no parameter of its own, no database read.
    responses=read_errors(400, 414),
    summary="The risk rules",
)
def get_risk_rules(request: Request) -> Response:
    """The rule set: each rule's id and meaning, the thresholds in force, the version."""
    rules = rules_of(request)
    return json_response(
        request,
        {
            "version": rules.version,
            "thresholds": asdict(rules),
            "rules": [asdict(r) for r in describe_rules(rules)],
            "levels": LEVEL_DESCRIPTIONS,
        },
    )
