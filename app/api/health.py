"""Liveness and readiness."""

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from app.api.common import api_router, read_errors
from app.schemas.health import Health, Readiness
from app.services import health as health_service

router = api_router(tags=["health"])


HEALTHY = Health(status="ok").model_dump_json().encode()
# A probe asks the server, never a cache on the way.
NOT_STORED = {"Cache-Control": "no-store"}


# Their parameters are refused as any operation's are (none is taken).
PARAMETER_ERRORS = read_errors(400, 414)


@router.get("/health", response_model=Health, responses=PARAMETER_ERRORS, summary="Liveness")
async def get_health() -> Response:
    """The process is up. Does not touch the database."""
    # async and pre-encoded: probes are frequent, and this answer never changes.
    return Response(HEALTHY, media_type="application/json", headers=NOT_STORED)


@router.get(
    "/ready",
    response_model=Readiness,
    responses={**PARAMETER_ERRORS, 503: {"model": Readiness, "description": "Not ready"}},
    summary="Readiness",
)
def get_ready(request: Request) -> JSONResponse:
    """The database answers and its schema is at the latest migration."""
    readiness = health_service.readiness(request.app.state.engine)
    if readiness.ready:
        return JSONResponse(readiness.model_dump(mode="json"), headers=NOT_STORED)
    # As every 503 here says (and the OpenAPI documents): try again shortly.
    headers = {**NOT_STORED, "Retry-After": "1"}
    return JSONResponse(readiness.model_dump(mode="json"), status_code=503, headers=headers)
