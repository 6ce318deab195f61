"""/localities: the administrative tree, its 2025 successors, and what lies under a place."""

from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import AfterValidator

from app.api.common import (
    READ_ERRORS,
    VIETNAMESE_ORDER,
    IdPath,
    answers_of,
    api_router,
    engine_of,
    exports,
    id_query,
    kept_counts_of,
    place_scopes_of,
    searchable,
    table_export,
    word_orders_of,
)
from app.api.deps import ListParamsDep, TableParamsDep, secret_of
from app.api.responses import NEGOTIATED, answer_response, list_response
from app.api.spellings import DIGITS_ONLY, TRUE_OR_FALSE
from app.models.vocab import LocalityKind
from app.reader import Reader
from app.schemas.common import Page
from app.schemas.localities import LocalityDetail, LocalityOut, LocalityStats
from app.services import localities as service
from app.services.stats import DEFAULT_RECORDS, RECORDS_PER_YEAR, stats_answer
from app.services.stats_csv import STATS_CSV, stats_csv_answer

router = api_router(prefix="/localities", tags=["localities"])


@router.get(
    "",
    response_model=Page[LocalityOut],
    responses={**READ_ERRORS, **exports(service.LOCALITY_CSV)},
    summary="List localities",
)
def list_localities(
    request: Request,
    params: ListParamsDep,
    kind: Annotated[
        LocalityKind | None, Query(description="Only this kind.", examples=["commune"])
    ] = None,
    parent: Annotated[
        int | None, id_query("Only the children of this locality.", 4), DIGITS_ONLY
    ] = None,
    code: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{2,5}$", description="Official statistics code.", examples=["04309"]),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description=(
                "Search the name, with or without diacritics ('lam thuong', 'Lâm Thượng'): "
                "every word must start a word of the name, in any order ('thuong lam', "
                "'lam th'). By relevance, whole words with their diacritics rank first ('Hà': "
                "Thanh Hà), then whole words without them, then parts of words."
            ),
            examples=["Lâm Thượng"],
        ),
        AfterValidator(searchable),
    ] = None,
    current: Annotated[
        bool | None,
        Query(
            description="true: units that exist today; false: replaced units. With q, a "
            "filter like any other: an old name (q=yen bai) finds its unit of today "
            "without it, in each result's `today` and `successors`."
        ),
        TRUE_OR_FALSE,
    ] = None,
    within: Annotated[
        int | None,
        id_query("Everything under this locality and the units it replaced.", 13),
        DIGITS_ONLY,
    ] = None,
    sort: Annotated[
        Literal["id", "-id", "name", "-name", "relevance"] | None,
        Query(
            description="Order, ties by id. name: by the name (Tiền Phong among the T's, "
            "whatever its kind word), then the name with its kind word (official_name: "
            f"'Huyện Mai Châu' before 'Xã Mai Châu'), {VIETNAMESE_ORDER}. Default "
            "relevance when q is given, else id."
        ),
    ] = None,
) -> Response:
    """Localities: provinces, districts, communes and villages, with their successors."""
    filters = service.LocalityFilters(
        kind=kind, parent=parent, code=code, q=q, current=current, within=within
    )
    order = sort or ("relevance" if q else "id")
    secret, scopes, orders = secret_of(request), place_scopes_of(request), word_orders_of(request)
    counts = kept_counts_of(request)
    return list_response(
        request,
        params,
        engine_of(request),
        lambda reader, page, total: service.list_localities(
            reader, filters, page, secret, total, scopes, orders, counts
        ),
        service.LOCALITY_CSV,
        order,
        "localities",
        references=filters.references,
    )


@router.get(
    "/{locality_id}", response_model=LocalityDetail, responses=READ_ERRORS, summary="One locality"
)
def get_locality(request: Request, locality_id: IdPath) -> Response:
    """A locality with its parents, children, successors and a summary of what lies under it."""
    with Reader.open(engine_of(request)) as reader:
        answer = service.locality_answer(reader, answers_of(request), locality_id)
    return answer_response(request, answer)


@router.get(
    "/{locality_id}/stats",
    response_model=LocalityStats,
    responses={
        **READ_ERRORS,
        **table_export(
            STATS_CSV,
            "a row for each figure shown of each yearly sum (section year: sum_ columns "
            "the year's measure, record_ columns the figure, record_path its URL path; a "
            "sum shown without figures, records=0, is one row with empty record_ "
            "columns), then the figures no year holds (section undated_counts or "
            "not_in_a_single_year, sum_ columns empty). A measure not reported in a "
            "year has no row: not reported is not zero; sum_high is empty where a "
            "figure has no upper bound (more than)",
            "the JSON's (place_: its locality's; place_covers: covers, the units the "
            "sums add up, their ids joined by '; ')",
        ),
    },
    summary="Yearly stats",
)
def get_locality_stats(
    request: Request,
    locality_id: IdPath,
    table: TableParamsDep,
    records: Annotated[
        int,
        Query(
            ge=0,
            le=RECORDS_PER_YEAR,
            description=(
                "How many contributing figures to show per year and measure, with source "
                f"and quote (the lowest ids; at most {RECORDS_PER_YEAR}). Every sum says how "
                "many figures it adds up (`records_total`)."
            ),
        ),
        DIGITS_ONLY,
    ] = DEFAULT_RECORDS,
) -> Response:
    """Per year: members and admissions, departures and transfers under the place, with sources."""
    with Reader.open(engine_of(request)) as reader:
        if table.format == "csv":
            answer = stats_csv_answer(reader, answers_of(request), locality_id, records, table.bom)
        else:
            answer = stats_answer(reader, answers_of(request), locality_id, records)
    return answer_response(request, answer, headers=NEGOTIATED)
