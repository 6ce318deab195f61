"""GET /: where an integrator starts, the API's reads and its documentation."""

from fastapi import FastAPI, Request, Response

from app.api.common import api_router, read_errors
from app.api.responses import json_response
from app.schemas.index import ApiIndex
from app.services.api_index import INDEX_PATH, read_operations

router = api_router(tags=["index"])


@router.get(
    INDEX_PATH,
    response_model=ApiIndex,
    responses=read_errors(400, 414),
    summary="The API's index",
)
def get_index(request: Request) -> Response:
    """Every read the API offers, with its media types and whether it needs a key, and
    where its documentation is. The `Link` header names them too (RFC 8631)."""
    app = request.app
    index = {
        "title": app.title,
        "version": app.version,
        "documentation": {
            "openapi": app.openapi_url,
            "interactive": app.docs_url,
            "reference": app.redoc_url,
        },
        "resources": read_operations(app.openapi()),
    }
    return json_response(request, index, headers={"Link": _service_links(app)})


def _service_links(app: FastAPI) -> str:
    """RFC 8631's relations: the machine-readable description, the human one, the status."""
    links = [
        (app.openapi_url, 'rel="service-desc"; type="application/json"'),
        (app.docs_url, 'rel="service-doc"; type="text/html"'),
        ("/health", 'rel="status"'),
    ]
    return ", ".join(f"<{href}>; {params}" for href, params in links if href)
