"""/sources: the articles and everything drawn from each."""

from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator

from app.api.common import (
    READ_ERRORS,
    IdPath,
    api_router,
    as_stored,
    engine_of,
    exports,
    searchable,
)
from app.api.deps import ListParamsDep, secret_of
from app.api.responses import answer_response, json_response, list_response
from app.reader import Reader
from app.schemas.common import Page
from app.schemas.sources import SourceDetail, SourceOut
from app.services import sources as service
from app.services.answer_cache import Answer
from app.services.json_sql import etag_of

PLAIN_TEXT = "text/plain; charset=utf-8"

router = api_router(prefix="/sources", tags=["sources"])


@router.get(
    "",
    response_model=Page[SourceOut],
    responses={**READ_ERRORS, **exports(service.SOURCE_CSV)},
    summary="List sources",
)
def list_sources(
    request: Request,
    params: ListParamsDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Search title, publisher and author.",
            examples=["Lục Yên"],
        ),
        AfterValidator(searchable),
    ] = None,
    publisher: Annotated[
        str | None,
        Query(min_length=1, max_length=300, description="Exact publisher."),
        AfterValidator(as_stored),
    ] = None,
    sort: Annotated[Literal["id", "-id"], Query(description="Order.")] = "id",
) -> Response:
    """The articles the figures come from."""
    filters = service.SourceFilters(q=q, publisher=publisher)
    secret = secret_of(request)
    return list_response(
        request,
        params,
        engine_of(request),
        lambda reader, page, total: service.list_sources(reader, filters, page, secret, total),
        service.SOURCE_CSV,
        sort,
        "sources",
    )


@router.get(
    "/{source_id}", response_model=SourceDetail, responses=READ_ERRORS, summary="One source"
)
def get_source(request: Request, source_id: IdPath) -> Response:
    """A source's metadata and the figures, places and organizations drawn from it: up to
    1,000 of each, with how many there are (`totals`)."""
    with Reader.open(engine_of(request)) as reader:
        return json_response(request, service.source_detail(reader, source_id))


@router.get(
    "/{source_id}/text",
    response_class=PlainTextResponse,
    responses=READ_ERRORS,
    summary="The source text",
)
def get_source_text(request: Request, source_id: IdPath) -> Response:
    """The article's text exactly as stored: every quote is in it, after Unicode NFC and
    whitespace folding (a line break of the text may be a space in a quote)."""
    with Reader.open(engine_of(request)) as reader:
        body = service.source_text(reader, source_id).encode()
    # With an ETag, as every read: a newsroom checking its quotes asks again for a text
    # that does not change, and gets a 304.
    return answer_response(request, Answer(body, etag_of(body), media_type=PLAIN_TEXT))
