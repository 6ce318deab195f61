"""Parameter types and response documentation shared by the routers."""

import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.routing import APIRoute
from pydantic_core import PydanticCustomError
from sqlalchemy import Engine

from app.api.deps import reject_unknown_params
from app.api.query_route import QueryModelRoute
from app.api.spellings import DIGITS_ONLY
from app.days import Day
from app.errors import PROBLEM_JSON, Problem
from app.formats import csv_header
from app.ingest.records import BLANK_MESSAGE
from app.middleware import MAX_QUERY_BYTES
from app.models.vocab import BranchKind
from app.services.answer_cache import AnswerCache
from app.services.branches import KeptLists
from app.services.gathered import KeptRankings
from app.services.listing import KeptCounts, KeptWalks
from app.services.localities import WordOrders
from app.services.place_scopes import PlaceScopes
from app.services.risk_rules import RiskRules
from app.services.text import fold, is_visible, search_words

MAX_ID = 2_147_483_647
# How sort=name orders (app.services.collation), in both lists' descriptions.
VIETNAMESE_ORDER = (
    "in Vietnamese alphabetical order (a ă â b c d đ e ê ... o ô ơ ... u ư ...; a word's "
    "tones decide only between names of the same letters: ma, mà, mả, mã, má, mạ; numbers "
    "as numbers: Thôn 2 before Thôn 10; case ignored)"
)
STRICT = [Depends(reject_unknown_params)]
# Any operation may answer a problem (errors.install_error_handlers).
PROBLEM_DEFAULT: dict[int | str, dict[str, Any]] = {
    "default": {
        "model": Problem,
        "description": "An RFC 9457 problem.",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


def operation_id(route: APIRoute) -> str:
    """Stable operationIds: the route function's name (e.g. `list_branches`)."""
    return route.name


def api_router(
    *,
    dependencies: Sequence[Any] = (),
    route_class: type[APIRoute] = QueryModelRoute,
    **settings: Any,
) -> APIRouter:
    """A router of this API's operations, with what every one of them has: its parameters
    read in one validation, unknown ones refused, a problem as its default answer and
    its function's name as its operationId. Its routes go on the app's own router
    (app.main.create_app), so they say it all themselves."""
    return APIRouter(
        route_class=route_class,
        dependencies=[*STRICT, *dependencies],
        responses=PROBLEM_DEFAULT,
        generate_unique_id_function=operation_id,
        **settings,
    )


IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id.", examples=[1]), DIGITS_ONLY]
AsOf = Annotated[
    Day | None,
    Query(
        description="Evaluate as of this day, using only evidence dated on or before it "
        "(default: today, the server's day: Vietnam's in the Docker image).",
        examples=["2017-08-01"],
    ),
]


def searchable(q: str | None) -> str | None:
    """A search must search for something: one of nothing but spaces, punctuation,
    combining marks or invisible characters would match every row (its words are its
    letters and digits), and a filter that filters nothing returns unfiltered data."""
    if q is not None and not search_words(fold(q)):
        raise PydanticCustomError(
            "nothing_to_search", "nothing to search for: no letter or digit in it"
        )
    return q


def as_stored(text: str | None) -> str | None:
    """An exact filter on a stored text: in NFC, as every text is stored (one typed in NFD
    matches), and showing something: a blank one matches no row, an empty page that
    reads as "none"."""
    if text is None:
        return None
    if not is_visible(text):
        raise PydanticCustomError("blank", BLANK_MESSAGE)
    return unicodedata.normalize("NFC", text)


def id_query(description: str, example: int) -> Any:
    return Query(ge=1, le=MAX_ID, description=description, examples=[example])


# The filters on a branch's place and kind, which /risk/evidence takes too.
LocalityFilter = Annotated[
    int | None,
    id_query("Everything reported under this locality, the units it replaced, and below.", 13),
    DIGITS_ONLY,
]
ProvinceFilter = Annotated[
    int | None,
    id_query(
        "A province id; today's provinces include the old ones they replaced "
        "(today's Lào Cai covers old Yên Bái and old Lào Cai).",
        4,
    ),
    DIGITS_ONLY,
]
KindFilter = Annotated[
    BranchKind | None, Query(description="Only this kind.", examples=["village_branch"])
]


def problem(description: str) -> dict[str, Any]:
    # Errors are sent as application/problem+json only. With `model=`, FastAPI would also
    # declare the route's own media type (application/json, text/plain) for them, and leave
    # problem+json without a schema. The Problem component comes from the app's `default`.
    schema = {"$ref": f"#/components/schemas/{Problem.__name__}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: problem(
        "Bad request: an unknown or repeated parameter, a value not percent-encoded UTF-8, "
        "a bad cursor or limit."
    ),
    404: problem("Not found: the record in the path, or one a filter names (`errors` names it)."),
    414: problem(f"The query string is longer than {MAX_QUERY_BYTES} bytes."),
    422: problem("A parameter is invalid; `errors` names it."),
    503: problem("The database is busy or unavailable; retry after Retry-After seconds."),
}


def read_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Those of READ_ERRORS an operation can answer (one with no record or parameter of
    its own has no 404 nor 422; one that reads no database, no 503)."""
    return {status: READ_ERRORS[status] for status in statuses}


def exports(
    csv_columns: Sequence[str], lines: str = "one line an item"
) -> dict[int | str, dict[str, Any]]:
    """A list's 200 in CSV and NDJSON beside its JSON page, the CSV's columns named: a
    journalist's script reads them before any row."""
    return {
        200: {
            "description": "JSON page; or CSV / NDJSON (format= or Accept), streamed in "
            "full when no limit is given.",
            "content": {
                "text/csv": _csv_content(csv_columns, lines, "the JSON item's"),
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "One JSON item a line, as in the page's items.",
                    }
                },
            },
        }
    }


def table_export(
    csv_columns: Sequence[str], lines: str, of: str
) -> dict[int | str, dict[str, Any]]:
    """A document's 200 in CSV beside its JSON (TableParams), the CSV's columns named,
    each the field of that name `of` an object of the JSON."""
    return {
        200: {
            "description": "JSON; or CSV (format= or Accept).",
            "content": {"text/csv": _csv_content(csv_columns, lines, of)},
        }
    }


def _csv_content(csv_columns: Sequence[str], lines: str, of: str) -> dict[str, Any]:
    return {
        "schema": {
            "type": "string",
            "description": f"A header line, then {lines}. Columns: "
            + ", ".join(csv_header(csv_columns))
            + f". Each is {of} field of that name (a_b: field b of "
            "object a): empty where null, booleans as true or false, lists "
            "of names joined by '; ', lists of objects (a locality's "
            "successors and predecessors) as their JSON array, days as "
            "YYYY-MM-DD, codes as text (keep their leading zeros: 04309), a figure as "
            "printed (6.799 is 6,799; 5/10 is five of ten, not a day: read every column "
            "as text); "
            "UTF-8, with a BOM when bom=true.",
        }
    }


# What the app factory built (app.main.create_app), as each route needs it.
def engine_of(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)


def answers_of(request: Request) -> AnswerCache:
    return cast(AnswerCache, request.app.state.answers)


def place_scopes_of(request: Request) -> PlaceScopes:
    return cast(PlaceScopes, request.app.state.place_scopes)


def word_orders_of(request: Request) -> WordOrders:
    return cast(WordOrders, request.app.state.word_orders)


def kept_counts_of(request: Request) -> KeptCounts:
    return cast(KeptCounts, request.app.state.kept_counts)


def kept_rankings_of(request: Request) -> KeptRankings:
    return cast(KeptRankings, request.app.state.kept_rankings)


def kept_walks_of(request: Request) -> KeptWalks:
    return cast(KeptWalks, request.app.state.kept_walks)


def kept_lists_of(request: Request) -> KeptLists:
    """Everything a list of branches may read kept (app.services.branches.list_branches)."""
    return KeptLists(
        scopes=place_scopes_of(request),
        counts=kept_counts_of(request),
        rankings=kept_rankings_of(request),
        walks=kept_walks_of(request),
    )


def rules_of(request: Request) -> RiskRules:
    return cast(RiskRules, request.app.state.settings.risk_rules)
