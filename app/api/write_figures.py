"""/membership-counts, /admissions and /facts: one item (GET), and writes of figures.

The single-item GETs sit here, beside the writes, because their ETag is what PATCH and
DELETE take in If-Match; they answer the same item shape as the lists.
"""

from fastapi import Request, Response
from sqlmodel import Session

from app.api.auth import Writer
from app.api.common import READ_ERRORS, IdPath, api_router, engine_of
from app.api.responses import json_response
from app.api.writes import (
    CHANGE_ERRORS,
    CREATE_ERRORS,
    DELETED,
    Idempotency,
    IfMatch,
    run,
    write_router,
)
from app.schemas.figures import FactOut, MembershipCountOut, MembershipEventOut
from app.schemas.writes import (
    CountCreate,
    CountUpdate,
    EventCreate,
    EventUpdate,
    FactCreate,
    FactUpdate,
)
from app.services.write_figures import (
    COUNTS,
    EVENTS,
    FACTS,
    create_figure,
    delete_figure,
    figure_item,
    update_figure,
)

reads = api_router(tags=["figures"])
router = write_router()


# -- One item -------------------------------------------------------------------------
@reads.get(
    "/membership-counts/{count_id}",
    response_model=MembershipCountOut,
    responses=READ_ERRORS,
    summary="One membership count",
)
def get_membership_count(request: Request, count_id: IdPath) -> Response:
    """One membership count with its source and quote; its ETag is what PATCH takes."""
    with Session(engine_of(request)) as session:
        return json_response(request, figure_item(session, COUNTS, count_id))


@reads.get(
    "/admissions/{event_id}",
    response_model=MembershipEventOut,
    responses=READ_ERRORS,
    summary="One admission, departure or transfer",
)
def get_admission(request: Request, event_id: IdPath) -> Response:
    """One event of any kind, with its source and quote; its ETag is what PATCH takes."""
    with Session(engine_of(request)) as session:
        return json_response(request, figure_item(session, EVENTS, event_id))


@reads.get("/facts/{fact_id}", response_model=FactOut, responses=READ_ERRORS, summary="One fact")
def get_fact(request: Request, fact_id: IdPath) -> Response:
    """One other figure, with its source and quote; its ETag is what PATCH takes."""
    with Session(engine_of(request)) as session:
        return json_response(request, figure_item(session, FACTS, fact_id))


# -- Membership counts ----------------------------------------------------------------
@router.post(
    "/membership-counts",
    status_code=201,
    response_model=MembershipCountOut,
    responses=CREATE_ERRORS,
    summary="Add a membership count",
)
def create_membership_count(
    request: Request, body: CountCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add a count; its quote must be in its source's text. Status and risk follow at once."""
    return run(request, caller, create_figure, COUNTS, body, idempotency=idempotency)


@router.patch(
    "/membership-counts/{count_id}",
    response_model=MembershipCountOut,
    responses=CHANGE_ERRORS,
    summary="Change a membership count",
)
def update_membership_count(
    request: Request, count_id: IdPath, body: CountUpdate, caller: Writer, if_match: IfMatch
) -> Response:
    """Correct a count (If-Match: its ETag); status and risk follow at once."""
    return run(request, caller, update_figure, COUNTS, count_id, body, if_match)


@router.delete(
    "/membership-counts/{count_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete a membership count",
)
def delete_membership_count(
    request: Request, count_id: IdPath, caller: Writer, if_match: IfMatch
) -> Response:
    """Delete a count (If-Match: its ETag); status and risk follow at once."""
    return run(request, caller, delete_figure, COUNTS, count_id, if_match)


# -- Events ---------------------------------------------------------------------------
@router.post(
    "/admissions",
    status_code=201,
    response_model=MembershipEventOut,
    responses=CREATE_ERRORS,
    summary="Add an admission, departure or transfer",
)
def create_admission(
    request: Request, body: EventCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add an event (`kind` says which); its quote must be in its source's text."""
    return run(request, caller, create_figure, EVENTS, body, idempotency=idempotency)


@router.patch(
    "/admissions/{event_id}",
    response_model=MembershipEventOut,
    responses=CHANGE_ERRORS,
    summary="Change an event",
)
def update_admission(
    request: Request, event_id: IdPath, body: EventUpdate, caller: Writer, if_match: IfMatch
) -> Response:
    """Correct an event (If-Match: its ETag); status and risk follow at once."""
    return run(request, caller, update_figure, EVENTS, event_id, body, if_match)


@router.delete(
    "/admissions/{event_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete an event",
)
def delete_admission(
    request: Request, event_id: IdPath, caller: Writer, if_match: IfMatch
) -> Response:
    """Delete an event (If-Match: its ETag); status and risk follow at once."""
    return run(request, caller, delete_figure, EVENTS, event_id, if_match)


# -- Facts ----------------------------------------------------------------------------
@router.post(
    "/facts",
    status_code=201,
    response_model=FactOut,
    responses=CREATE_ERRORS,
    summary="Add a fact",
)
def create_fact(
    request: Request, body: FactCreate, caller: Writer, idempotency: Idempotency
) -> Response:
    """Add another figure about one organization or one place, with its quote."""
    return run(request, caller, create_figure, FACTS, body, idempotency=idempotency)


@router.patch(
    "/facts/{fact_id}", response_model=FactOut, responses=CHANGE_ERRORS, summary="Change a fact"
)
def update_fact(
    request: Request, fact_id: IdPath, body: FactUpdate, caller: Writer, if_match: IfMatch
) -> Response:
    """Correct a fact (If-Match: its ETag)."""
    return run(request, caller, update_figure, FACTS, fact_id, body, if_match)


@router.delete(
    "/facts/{fact_id}",
    status_code=204,
    response_class=Response,
    responses=DELETED,
    summary="Delete a fact",
)
def delete_fact(request: Request, fact_id: IdPath, caller: Writer, if_match: IfMatch) -> Response:
    """Delete a fact (If-Match: its ETag)."""
    return run(request, caller, delete_figure, FACTS, fact_id, if_match)
