"""/branches: party organizations, their figures, and their risk."""

from functools import partial
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import AfterValidator

from app.api.common import (
    READ_ERRORS,
    VIETNAMESE_ORDER,
    AsOf,
    IdPath,
    KindFilter,
    LocalityFilter,
    ProvinceFilter,
    answers_of,
    api_router,
    engine_of,
    exports,
    id_query,
    kept_lists_of,
    rules_of,
    searchable,
)
from app.api.deps import ListParamsDep, secret_of
from app.api.responses import answer_response, list_response
from app.api.spellings import DIGITS_ONLY
from app.days import Day
from app.errors import bad_request
from app.reader import Reader
from app.schemas.branches import BranchDetail, BranchOut, RiskExplanation
from app.schemas.common import Page
from app.services import branches as service
from app.services.risk_explain import risk_answer
from app.services.risk_rules import RISK_LEVELS_IN_BRIEF

router = api_router(prefix="/branches", tags=["branches"])
# A branch's history is whole at any as_of: the day picks its state, not its records.
BranchAsOf = Annotated[
    Day | None,
    Query(
        description="Its members, latest count and risk as of this day, from evidence dated "
        "on or before it (default: today, the server's day: Vietnam's in the Docker image). "
        "Its counts, events and facts are listed whole, "
        "each with its evidence_date.",
        examples=["2017-08-01"],
    ),
]


@router.get(
    "",
    response_model=Page[BranchOut],
    responses={**READ_ERRORS, **exports(service.BRANCH_CSV)},
    summary="List branches",
)
def list_branches(
    request: Request,
    params: ListParamsDep,
    locality: LocalityFilter = None,
    province: ProvinceFilter = None,
    kind: KindFilter = None,
    parent: Annotated[
        int | None,
        id_query("Only the organizations directly under this one (its children, not theirs).", 3),
        DIGITS_ONLY,
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Search names and descriptions, with or without diacritics ('dang bo "
            "luc yen'): each word anywhere. By relevance, whole words with their diacritics "
            "rank first, then whole words without them, then parts of words. A "
            "committee's name finds its organization, as news prints it ('Đảng ủy xã Mai "
            "Hạ', 'Huyện ủy Lục Yên', 'huyen uy').",
            examples=["Khéo Lẹng"],
        ),
        AfterValidator(searchable),
    ] = None,
    min_members: Annotated[
        int | None,
        Query(
            ge=0,
            le=10_000_000,
            description="Latest count is at least this (its lower bound: members.low).",
        ),
        DIGITS_ONLY,
    ] = None,
    max_members: Annotated[
        int | None,
        Query(
            ge=0,
            le=10_000_000,
            description="Latest count is at most this (its upper bound: members.high).",
        ),
        DIGITS_ONLY,
    ] = None,
    risk: Annotated[
        Literal["true", "false", "unknown"] | None,
        Query(
            description="true: level risk_level or above; false: assessed and below it "
            "(dissolved included); unknown: too little evidence to assess. " + RISK_LEVELS_IN_BRIEF,
        ),
    ] = None,
    risk_level: Annotated[
        Literal["watch", "high", "critical"],
        Query(
            description="With risk=true or risk=false: the level that splits them. Refused "
            "without either, where it would filter nothing."
        ),
    ] = "watch",
    as_of: AsOf = None,
    sort: Annotated[
        Literal["id", "-id", "name", "-name", "members", "-members", "risk", "relevance"] | None,
        Query(
            description="Order, ties by id. name: by the name (and a group's description), "
            f"{VIETNAMESE_ORDER}; members: by the latest count's least, unknown counts "
            "below every count; risk: the most at risk first, dissolved branches last, ties by "
            "the highest id. A "
            "leading - reverses the whole order, ties included (id, name and members). "
            "Default relevance with q, which relevance needs."
        ),
    ] = None,
) -> Response:
    """Party organizations and unnamed groups, each with its latest count and risk level."""
    if min_members is not None and max_members is not None and min_members > max_members:
        raise bad_request("query.min_members", "the range ends before it starts", 422)
    if "risk_level" in request.query_params and risk not in ("true", "false"):
        raise bad_request("query.risk_level", "needs risk=true or risk=false", 422)
    filters = service.BranchFilters(
        locality=locality,
        province=province,
        kind=kind,
        parent=parent,
        q=q,
        min_members=min_members,
        max_members=max_members,
        risk=risk,
        risk_level=risk_level,
        as_of=as_of,
    )
    order = sort or ("relevance" if q else "id")
    listed = partial(
        service.list_branches,
        filters=filters,
        secret=secret_of(request),
        rules=rules_of(request),
        **kept_lists_of(request),
    )
    return list_response(
        request,
        params,
        engine_of(request),
        lambda reader, page, total: listed(reader, page=page, with_total=total),
        service.BRANCH_CSV,
        order,
        "branches",
        fetch_cells=lambda reader, page, total: listed(
            reader, page=page, with_total=total, cells=tuple(service.BRANCH_CSV)
        ),
        references=filters.references,
    )


@router.get(
    "/{branch_id}", response_model=BranchDetail, responses=READ_ERRORS, summary="One branch"
)
def get_branch(request: Request, branch_id: IdPath, as_of: BranchAsOf = None) -> Response:
    """A branch with its count history, events, facts, officeholders, children and sources."""
    with Reader.open(engine_of(request)) as reader:
        answer = service.branch_answer(
            reader, answers_of(request), branch_id, rules_of(request), as_of
        )
    return answer_response(request, answer)


@router.get(
    "/{branch_id}/risk",
    response_model=RiskExplanation,
    responses=READ_ERRORS,
    summary="Why at risk",
)
def get_branch_risk(request: Request, branch_id: IdPath, as_of: AsOf = None) -> Response:
    """Each risk criterion: met, not met or unknown, with its value, threshold and evidence."""
    with Reader.open(engine_of(request)) as reader:
        answer = risk_answer(reader, answers_of(request), branch_id, rules_of(request), as_of)
    return answer_response(request, answer)
