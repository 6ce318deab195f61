"""Liveness and readiness."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.common import STRICT
from app.errors import Problem
from app.schemas.health import Health, Readiness
from app.services import health as health_service

router = APIRouter(tags=["health"], dependencies=STRICT)


@router.get("/health", response_model=Health, summary="Liveness")
def get_health() -> Health:
    """The process is up. Does not touch the database."""
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready"}},
    summary="Readiness",
)
def get_ready(request: Request) -> JSONResponse:
    """The database answers and its schema is at the latest migration."""
    readiness = health_service.readiness(request.app.state.engine)
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)


__all__ = ["Problem", "router"]
