"""/audit: who changed what, when, before and after. For writers only."""

from typing import Annotated

import orjson
from fastapi import Query, Request, Response

from app.api.auth import AUTH_ERRORS, Writer
from app.api.common import api_router, engine_of, id_query, problem
from app.api.deps import secret_of
from app.api.responses import link_to_next, page_body
from app.api.spellings import DIGITS_ONLY
from app.reader import Reader
from app.schemas.audit import AuditEntryOut
from app.schemas.common import Page
from app.services.audit import ACTIONS, ENTITY_OF, AuditFilters, list_audit
from app.services.pagination import CURSOR_MAX_LENGTH, PageRequest, filters_digest

router = api_router(tags=["audit"])
Entity = Annotated[
    str | None,
    Query(
        pattern="^(" + "|".join(sorted(ENTITY_OF.values())) + ")$",
        description="Only entries about this kind of record.",
        examples=["membership_count"],
    ),
]
Action = Annotated[
    str | None,
    Query(
        pattern="^(" + "|".join(a.replace(".", r"\.") for a in ACTIONS) + ")$",
        description="Only this action (create, update, delete, import, import.create, ...).",
        examples=["update"],
    ),
]


@router.get(
    "/audit",
    response_model=Page[AuditEntryOut],
    responses={
        # Reading the log spends none of a key's writes: never a 429.
        **{status: error for status, error in AUTH_ERRORS.items() if status != 429},
        400: problem(
            "An unknown or repeated parameter, a value not percent-encoded UTF-8, a bad cursor; "
            "or two Authorization headers."
        ),
        422: problem("A parameter is invalid; `errors` names it."),
    },
    summary="The audit log",
)
def get_audit(
    request: Request,
    caller: Writer,
    entity: Entity = None,
    entity_id: Annotated[
        int | None, id_query("Only entries about this record id.", 3), DIGITS_ONLY
    ] = None,
    key: Annotated[
        str | None, Query(max_length=120, description="Only entries by this key (its name).")
    ] = None,
    action: Action = None,
    request_id: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-f]{32}$",
            description="Only the entries of one request (an import and its records).",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=500, description="Page size, 1 to 500."), DIGITS_ONLY
    ] = 50,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=CURSOR_MAX_LENGTH,
            description="Opaque cursor from the previous page's next_cursor.",
        ),
    ] = None,
) -> Response:
    """Every write, newest first: which key, when, what, and the record before and after."""
    filters = AuditFilters(
        entity=entity, entity_id=entity_id, key=key, action=action, request_id=request_id
    )
    page = PageRequest(
        limit, cursor, "-id", filters_digest(list(request.query_params.multi_items()))
    )
    with Reader.open(engine_of(request)) as reader:
        result = list_audit(reader, filters, page, secret_of(request))
    document = page_body(request, result)
    # Private: the log is for writers, so no shared cache may keep it.
    return Response(
        orjson.dumps(document),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store", **link_to_next(document["next"])},
    )
