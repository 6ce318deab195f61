"""/membership-counts, /admissions and /facts: every figure, with its source and quote."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response

from app.api.common import (
    READ_ERRORS,
    api_router,
    engine_of,
    exports,
    id_query,
    kept_counts_of,
    place_scopes_of,
)
from app.api.deps import ListParamsDep, secret_of
from app.api.responses import list_response
from app.api.spellings import DIGITS_ONLY
from app.days import Day
from app.errors import bad_request
from app.models import Fact, MembershipCount, MembershipEvent
from app.models.vocab import METRIC_UNITS, EventKind, MemberStatus
from app.schemas.common import Page
from app.schemas.figures import FactOut, MembershipCountOut, MembershipEventOut
from app.services.figures import (
    COUNT_CSV,
    EVENT_CSV,
    FACT_CSV,
    FigureFilters,
    list_figure_lines,
    list_figures,
)

router = api_router(tags=["figures"])

Branch = Annotated[int | None, id_query("Only figures about this organization.", 3), DIGITS_ONLY]
Locality = Annotated[
    int | None,
    id_query("Only figures under this locality (and the units it replaced).", 13),
    DIGITS_ONLY,
]
SourceId = Annotated[int | None, id_query("Only figures from this source.", 2), DIGITS_ONLY]
From = Annotated[
    Day | None,
    Query(
        alias="from",
        description="Figures dated (or periods ending) on or after this day. Not a figure "
        "whose date is only bounded by the day the service first held its undated article "
        "(evidence_date_basis registered), unless its period starts on or after the day.",
        examples=["2017-01-01"],
    ),
]
To = Annotated[
    Day | None,
    Query(
        alias="to",
        description="Figures dated (or periods starting) on or before this day.",
        examples=["2023-12-31"],
    ),
]
Sort = Annotated[
    Literal["id", "-id", "date", "-date"], Query(description="Order by id or by evidence date.")
]


def _filters(
    date_from: date | None, date_to: date | None, locality: int | None, **kw: Any
) -> FigureFilters:
    if date_from and date_to and date_from > date_to:
        raise bad_request("query.from", "the range ends before it starts", 422)
    return FigureFilters(date_from=date_from, date_to=date_to, locality=locality, **kw)


def _list(
    request: Request,
    params: ListParamsDep,
    model: Any,
    filters: FigureFilters,
    columns: list[str],
    sort: str,
    name: str,
) -> Response:
    secret, scopes, counts = secret_of(request), place_scopes_of(request), kept_counts_of(request)
    return list_response(
        request,
        params,
        engine_of(request),
        lambda reader, page, total: list_figures(
            model, reader, filters, page, secret, total, scopes, counts
        ),
        columns,
        sort,
        name,
        fetch_cells=lambda reader, page, total: list_figure_lines(
            model, reader, filters, page, secret, total, tuple(columns)
        ),
        references=filters.references,
    )


@router.get(
    "/membership-counts",
    response_model=Page[MembershipCountOut],
    responses={**READ_ERRORS, **exports(COUNT_CSV)},
    summary="Membership counts",
)
def list_membership_counts(
    request: Request,
    params: ListParamsDep,
    branch: Branch = None,
    locality: Locality = None,
    source: SourceId = None,
    date_from: From = None,
    date_to: To = None,
    status: Annotated[MemberStatus | None, Query(description="all, full or probationary.")] = None,
    sort: Sort = "id",
) -> Response:
    """How many members an organization had, as of a date, each with its sentence."""
    filters = _filters(date_from, date_to, locality, branch=branch, source=source, status=status)
    return _list(request, params, MembershipCount, filters, COUNT_CSV, sort, "membership-counts")


@router.get(
    "/admissions",
    response_model=Page[MembershipEventOut],
    responses={**READ_ERRORS, **exports(EVENT_CSV)},
    summary="Admissions, departures and transfers",
)
def list_admissions(
    request: Request,
    params: ListParamsDep,
    kind: Annotated[
        EventKind,
        Query(description="admission (default), departure, transfer_in or transfer_out."),
    ] = "admission",
    branch: Branch = None,
    locality: Locality = None,
    source: SourceId = None,
    date_from: From = None,
    date_to: To = None,
    sort: Sort = "id",
) -> Response:
    """Admission events (kết nạp), and departures and transfers through `kind`."""
    filters = _filters(date_from, date_to, locality, branch=branch, source=source, kind=kind)
    return _list(request, params, MembershipEvent, filters, EVENT_CSV, sort, "admissions")


@router.get(
    "/facts",
    response_model=Page[FactOut],
    responses={**READ_ERRORS, **exports(FACT_CSV)},
    summary="Other figures",
)
def list_facts(
    request: Request,
    params: ListParamsDep,
    metric: Annotated[
        Literal[tuple(METRIC_UNITS)] | None,  # type: ignore[valid-type]
        Query(
            description="Only this metric (households, poverty_rate, ...).",
            examples=["poverty_rate"],
        ),
    ] = None,
    branch: Branch = None,
    locality: Locality = None,
    source: SourceId = None,
    date_from: From = None,
    date_to: To = None,
    sort: Sort = "id",
) -> Response:
    """Households, poverty rates, incomes, targets, ratings and other figures the articles give."""
    filters = _filters(date_from, date_to, locality, branch=branch, source=source, metric=metric)
    return _list(request, params, Fact, filters, FACT_CSV, sort, "facts")
