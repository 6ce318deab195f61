"""Writes of sources, localities and branches (POST, PATCH, DELETE), and what every
write route shares: the request's context, If-Match, Idempotency-Key, the response."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlmodel import Session

from app.api.auth import AUTH_ERRORS, KeyFirstRoute, Writer, problem
from app.api.common import IdPath, api_router, engine_of, rules_of
from app.api.deps import refuse_repeated_names
from app.errors import headers_for_the_answer
from app.middleware import MAX_BODY_BYTES
from app.schemas.branches import BranchDetail
from app.schemas.localities import LocalityDetail
from app.schemas.sources import SourceDetail
from app.schemas.writes import (
    BranchCreate,
    BranchUpdate,
    LocalityCreate,
    LocalityUpdate,
    SourceCreate,
    SourceUpdate,
)
from app.services import write_places, write_sources
from app.services.auth import Caller
from app.services.writes import (
    IdempotencyRequest,
    Outcome,
    WriteContext,
    WriteResult,
    request_fingerprint,
    transact,
)

IfMatch = Annotated[
    str,
    Header(
        alias="If-Match",
        max_length=200,
        description="The ETag of the item as GET returned it, or `*`. 412 when it changed "
        "meanwhile, 428 when missing.",
        examples=['"3f1c0a9b2d4e5f60718293a4b5c6d7e8"'],
    ),
]


async def idempotency_of(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Optional: a unique string per request (a UUID). A retry with the "
            "same key and body gets the first response and inserts nothing; the same key "
            "with another body is a 422. Kept 24 hours.",
            examples=["5f0c1e9e-8a0b-4d55-9a56-1c3d2b7e4a10"],
        ),
    ] = None,
) -> IdempotencyRequest | None:
    if key is None:
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    body = await request.body()  # cached by Starlette: the route's body model read it first
    content_type = request.headers.get("content-type", "")
    return IdempotencyRequest(key, request_fingerprint(request.method, target, content_type, body))


Idempotency = Annotated[IdempotencyRequest | None, Depends(idempotency_of)]

CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: problem(
        "An unknown query parameter, or a body that cannot be read as JSON (bytes that are "
        "not UTF-8, nesting too deep); or two Authorization headers."
    ),
    409: problem(
        "The key exists already, or the write conflicts with stored data: a figure that "
        "another record already is (the same source, subject, words and reading, whatever "
        "the notes; `errors` names it); or the database holds synthetic data (`branchstats "
        "synth`), which takes no writes (`errors` names `database`)."
    ),
    413: problem(f"The body is larger than {MAX_BODY_BYTES} bytes."),
    415: problem(
        "The Content-Type is not JSON, or declares a charset other than UTF-8; or the body "
        "has a Content-Encoding (none is read: the answer says Accept-Encoding: identity)."
    ),
    422: problem(
        "A field is invalid (a quote not in its source, a missing source...): "
        "`errors` names it. Nothing was written."
    ),
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **CREATE_ERRORS,
    404: problem("Not found."),
    409: problem(
        "The item is in use, or is managed elsewhere, or the change would make a figure "
        "the same as another record, or the database holds synthetic data; nothing was "
        "written."
    ),
    412: problem(
        "If-Match is not the item's current ETag: someone changed it meanwhile (or the tag "
        "was sent weak, W/, which never matches)."
    ),
    428: problem("If-Match is missing."),
}
# A DELETE takes no body to be JSON.
DELETED: dict[int | str, dict[str, Any]] = {
    204: {"description": "Deleted."},
    **{status: answer for status, answer in CHANGE_ERRORS.items() if status != 415},
}


def run(
    request: Request,
    caller: Caller,
    service: Callable[..., Outcome],
    *args: Any,
    idempotency: IdempotencyRequest | None = None,
    dry_run: bool = False,
) -> Response:
    """Call `service(session, ctx, *args)` in one transaction and answer with its result."""
    ctx = WriteContext(caller=caller, rules=rules_of(request))

    def action(session: Session) -> Outcome:
        return service(session, ctx, *args)

    response = respond(
        transact(engine_of(request), ctx, action, idempotency=idempotency, dry_run=dry_run)
    )
    response.headers.update(headers_for_the_answer(request))
    return response


def respond(result: WriteResult) -> Response:
    if result.status == 204:
        return Response(status_code=204)
    headers = {"Cache-Control": "no-store"}
    if result.etag:
        headers["ETag"] = result.etag
    if result.location and result.status == 201:
        headers["Location"] = result.location
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        result.content, status_code=result.status, media_type="application/json", headers=headers
    )


def write_router() -> APIRouter:
    """A router of writes: their keys asked for first, their JSON bodies naming each
    field once."""
    return api_router(
        tags=["writes"], dependencies=[Depends(refuse_repeated_names)], route_class=KeyFirstRoute
    )


router = write_router()


# -- Sources --------------------------------------------------------------------------
@router.post(
    "/sources",
    status_code=201,
    response_model=SourceDetail,
    responses=CREATE_ERRORS,
    summary="Add a source",
)
def create_source(
    request: Request, body: SourceCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add an article with its full text; every quote drawn from it must be in that text."""
    return run(request, caller, write_sources.create_source, body, idempotency=idempotency)


@router.patch(
    "/sources/{source_id}",
    response_model=SourceDetail,
    responses=CHANGE_ERRORS,
    summary="Change a source",
)
def update_source(
    request: Request,
    source_id: IdPath,
    body: SourceUpdate,
    caller: Writer,
    if_match: IfMatch,
) -> Response:
    """Change a source's details or text; a new text must keep every quote drawn from it."""
    return run(request, caller, write_sources.update_source, source_id, body, if_match)


@router.delete(
    "/sources/{source_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete a source",
)
def delete_source(
    request: Request, source_id: IdPath, caller: Writer, if_match: IfMatch
) -> Response:
    """Delete a source that nothing is drawn from any more."""
    return run(request, caller, write_sources.delete_source, source_id, if_match)


# -- Localities -----------------------------------------------------------------------
@router.post(
    "/localities",
    status_code=201,
    response_model=LocalityDetail,
    responses=CREATE_ERRORS,
    summary="Add a locality",
)
def create_locality(
    request: Request, body: LocalityCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add a place an article names (a village, usually), with the quote that names it."""
    return run(request, caller, write_places.create_locality, body, idempotency=idempotency)


@router.patch(
    "/localities/{locality_id}",
    response_model=LocalityDetail,
    responses=CHANGE_ERRORS,
    summary="Change a locality",
)
def update_locality(
    request: Request,
    locality_id: IdPath,
    body: LocalityUpdate,
    caller: Writer,
    if_match: IfMatch,
) -> Response:
    """Change a locality an article named; what lies under it follows a move."""
    return run(request, caller, write_places.update_locality, locality_id, body, if_match)


@router.delete(
    "/localities/{locality_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete a locality",
)
def delete_locality(
    request: Request, locality_id: IdPath, caller: Writer, if_match: IfMatch
) -> Response:
    """Delete a locality an article named, once nothing lies under it or refers to it."""
    return run(request, caller, write_places.delete_locality, locality_id, if_match)


# -- Branches -------------------------------------------------------------------------
@router.post(
    "/branches",
    status_code=201,
    response_model=BranchDetail,
    responses=CREATE_ERRORS,
    summary="Add a branch",
)
def create_branch(
    request: Request, body: BranchCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add a party organization, or an unnamed group, with the quote that names it."""
    return run(request, caller, write_places.create_branch, body, idempotency=idempotency)


@router.patch(
    "/branches/{branch_id}",
    response_model=BranchDetail,
    responses=CHANGE_ERRORS,
    summary="Change a branch",
)
def update_branch(
    request: Request,
    branch_id: IdPath,
    body: BranchUpdate,
    caller: Writer,
    if_match: IfMatch,
) -> Response:
    """Change an organization; its status and risk are recomputed at once."""
    return run(request, caller, write_places.update_branch, branch_id, body, if_match)


@router.delete(
    "/branches/{branch_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete a branch",
)
def delete_branch(
    request: Request, branch_id: IdPath, caller: Writer, if_match: IfMatch
) -> Response:
    """Delete an organization that has no figures and no organizations under it."""
    return run(request, caller, write_places.delete_branch, branch_id, if_match)
