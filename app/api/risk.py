"""/risk: the rule set, counts by province, and the evidence of the branches at risk."""

from dataclasses import asdict
from functools import partial
from typing import Annotated, Literal

from fastapi import Query, Request, Response

from app.api.common import (
    READ_ERRORS,
    AsOf,
    KindFilter,
    LocalityFilter,
    ProvinceFilter,
    api_router,
    engine_of,
    exports,
    kept_lists_of,
    kept_rankings_of,
    read_errors,
    rules_of,
)
from app.api.deps import ListParamsDep, secret_of
from app.api.responses import json_response, list_response
from app.reader import Reader
from app.schemas.branches import BranchRiskEvidence, RiskRulesOut, RiskSummary
from app.schemas.common import Page
from app.services.branches import BranchFilters
from app.services.risk_evidence import EVIDENCE_BATCH, EVIDENCE_CSV, evidence_page
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


@router.get(
    "/evidence",
    response_model=Page[BranchRiskEvidence],
    responses={
        **READ_ERRORS,
        **exports(
            EVIDENCE_CSV,
            "a row for each evidence record of each criterion of each branch (a criterion "
            "without any: one row, its record_ columns empty; a record that is evidence for "
            "two criteria: a row for each), criterion_ columns the criterion's and record_ "
            "columns the record's, record_path its own URL path",
        ),
    },
    summary="Evidence of the branches at risk",
)
def list_risk_evidence(
    request: Request,
    params: ListParamsDep,
    locality: LocalityFilter = None,
    province: ProvinceFilter = None,
    kind: KindFilter = None,
    risk_level: Annotated[
        Literal["watch", "high", "critical"],
        Query(description="The lowest level listed (as /branches?risk=true&risk_level=)."),
    ] = "watch",
    as_of: AsOf = None,
) -> Response:
    """The branches /branches?risk=true lists with these filters, in the order of their
    ids, each with why it is at risk: every criterion with its value, threshold and
    evidence (the records and their quotes), as /branches/{id}/risk explains one. A page
    holds `limit` branches; as CSV, each branch is a row for each record of each criterion."""
    filters = BranchFilters(
        locality=locality,
        province=province,
        kind=kind,
        risk="true",
        risk_level=risk_level,
        as_of=as_of,
    )
    listed = partial(
        evidence_page,
        filters=filters,
        secret=secret_of(request),
        rules=rules_of(request),
        kept=kept_lists_of(request),
    )
    return list_response(
        request,
        params,
        engine_of(request),
        lambda reader, page, total: listed(reader, page=page, with_total=total),
        EVIDENCE_CSV,
        "id",
        "risk-evidence",
        fetch_cells=lambda reader, page, total: listed(
            reader, page=page, with_total=total, cells=True
        ),
        references=filters.references,
        export_batch=EVIDENCE_BATCH,
    )
