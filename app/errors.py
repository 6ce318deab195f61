"""One error shape for every failure: RFC 9457 problem details (application/problem+json)."""

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.db import said_by_the_database
from app.log_config import SERVICE_LOGGER
from app.services.api_index import INDEX_PATH

PROBLEM_JSON = "application/problem+json"
PAGING_FIELDS = frozenset({"query.limit", "query.cursor"})
IF_MATCH_FIELD = "header.if-match"
FASTAPI_UNREADABLE_BODY = "There was an error parsing the body"
log = logging.getLogger(SERVICE_LOGGER)


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    # Every error is sent with its type (a client tells errors apart by it): required in
    # the document, where its default made it optional (from an integrator's audit).
    model_config = ConfigDict(json_schema_extra={"required": ["field", "message", "type"]})

    field: str = Field(
        description="The parameter or body field, e.g. `query.limit` or `body.value`."
    )
    message: str
    type: str = Field(
        default="invalid",
        description="A machine-readable error code: `invalid` where no more precise one is "
        "given (the field and message say what).",
    )


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(
        default="about:blank", description="A URI reference identifying the problem type."
    )
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong in this occurrence.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(default=None, description="Invalid fields, if any.")


# Where the API key is read: named by the answers that refuse it (401, 403, 429).
AUTHORIZATION_FIELD = "header.authorization"


class ApiError(Exception):
    """Raised by services and routes; turned into problem+json by one handler."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        type_: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.type = type_


class DataChangedDuringExport(Exception):
    """The data changed after an export's first batch was read (app.api.responses): the
    stream is cut, since its rows would mix two states of the data. Its status is sent:
    the client sees an incomplete transfer (no last chunk), which it can ask again."""

    def __init__(self, path: str) -> None:
        super().__init__(f"the data changed during an export of {path}: its stream was cut")


def bad_request(field: str, message: str, status: int = 400) -> ApiError:
    """An error about one input field."""
    return ApiError(
        status, f"{field}: {message}", errors=[FieldError(field=field, message=message)]
    )


UNREADABLE_BODY = "The body could not be read as JSON: it is not UTF-8, or nests too deeply."


def unreadable_body(
    detail: str = UNREADABLE_BODY, message: str = "unreadable JSON", kind: str = "json_invalid"
) -> ApiError:
    """A 400 naming `body`: one that cannot be read at all, as opposed to a syntax error
    at a position of it (a 422 naming `body.<offset>`)."""
    errors = [FieldError(field="body", message=message, type=kind)]
    return ApiError(400, detail, errors=errors)


def not_found(what: str, ident: object, field: str | None = None) -> ApiError:
    """No such record; `field`, when given, is the input that named it (query.parent)."""
    message = f"{what} {ident} does not exist."
    if field is None:
        return ApiError(404, message)
    errors = [FieldError(field=field, message=message, type="not_found")]
    return ApiError(404, f"{field}: {message}", errors=errors)


def if_match_required(what: str) -> ApiError:
    """RFC 6585's 428: a change to `what` must name the ETag it was made against."""
    return ApiError(
        428,
        f"Send If-Match with the ETag of GET {what}, so that a change made meanwhile "
        "by someone else is not overwritten.",
        errors=[FieldError(field=IF_MATCH_FIELD, message="required", type="missing")],
    )


# RFC 9110's names where Python's http module (3.11) still has RFC 7231's: a problem's
# title is the status's phrase (RFC 9457 4.2.1).
RFC_9110_PHRASES = {413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}
# A problem describes one moment (a record missing now may be created the next): a cache
# keeps none. 404, 405 and 414 are cacheable by default (RFC 9110 15.1).
PROBLEM_CACHE_CONTROL = "no-store"
# The detail of every 500: what failed is for the server's log, never the client.
UNEXPECTED_ERROR = "An unexpected error occurred."


def status_title(status: int) -> str:
    return RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase


def instance_of(path: str) -> str:
    """The request's path as a URI reference (RFC 9457 3.1.5): the decoded path may hold
    spaces, "%" or any character, which a URI does not."""
    return quote(path, safe="/:@!$&'()*+,;=-._~")


def problem_body(
    status: int,
    detail: str | None,
    *,
    path: str | None,
    errors: list[FieldError] | None = None,
    type_: str = "about:blank",
) -> dict[str, Any]:
    """The one shape of every problem, as JSON: the handlers' and the middleware's."""
    return Problem(
        type=type_,
        title=status_title(status),
        status=status,
        detail=detail,
        instance=None if path is None else instance_of(path),
        errors=errors,
    ).model_dump(exclude_none=True)


# Where a step of the request keeps headers for whatever its answer turns out to be.
_ANSWER_HEADERS = "answer_headers"


def keep_for_the_answer(request: Request, headers: dict[str, str]) -> None:
    """Headers that every answer to this request carries from now on, a problem included:
    a write's RateLimit headers, whose token is spent whether the write succeeds or is
    refused (a client that only sees them on success cannot tell what it has left)."""
    setattr(request.state, _ANSWER_HEADERS, {**headers_for_the_answer(request), **headers})


def headers_for_the_answer(request: Request) -> dict[str, str]:
    """The headers kept by `keep_for_the_answer`, if any."""
    headers: dict[str, str] = getattr(request.state, _ANSWER_HEADERS, {})
    return headers


def problem_response(
    request: Request,
    status: int,
    detail: str | None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    # The scope's path: request.url.path escapes "?" already.
    body = problem_body(status, detail, path=request.scope["path"], errors=errors, type_=type_)
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={
            "Cache-Control": PROBLEM_CACHE_CONTROL,
            **headers_for_the_answer(request),
            **(headers or {}),
        },
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    if loc[:1] == ("header",):
        # Header names are case-insensitive; the ones the services name are lower case.
        loc = tuple(str(part).lower() for part in loc)
    return ".".join(str(part) for part in loc)


def _api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    detail, errors = exc.detail, exc.errors
    path_params = request.scope.get("path_params") or {}
    if exc.status == 404 and errors is None and len(path_params) == 1:
        # The record the path names (/branches/{branch_id}) is missing: the services say
        # which record, the route knows the parameter, named as a filter's 404 names its
        # own (query.parent).
        field = f"path.{next(iter(path_params))}"
        errors = [FieldError(field=field, message=detail, type="not_found")]
        detail = f"{field}: {detail}"
    return problem_response(
        request, exc.status, detail, errors=errors, headers=exc.headers, type_=exc.type
    )


def _methods_at(request: Request) -> list[str]:
    """Every method some route answers at this path. Starlette's 405 names only the first
    route that matched the path (`Allow: GET` on /branches/2, which PATCH and DELETE
    change too)."""
    methods: set[str] = set()
    scope = {**request.scope, "method": "GET"}
    for route in request.app.router.routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    if "GET" in methods:
        methods.add("HEAD")  # the guard answers HEAD as GET (app/middleware.py)
    if methods:
        methods.add("OPTIONS")  # answered with this list (and CORS preflights)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _api_error_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else status_title(exc.status_code)
        errors = None
        if exc.status_code == 404 and detail == "Not Found":
            path = request.url.path
            detail = f"No resource at {path}; the API's reads are listed at {INDEX_PATH}."
        elif exc.status_code == 413:
            errors = [FieldError(field="body", message=detail, type="too_large")]
        elif exc.status_code == 400 and detail == FASTAPI_UNREADABLE_BODY:
            # FastAPI's words for a body its JSON parser gave up on other than by a syntax
            # error (those are a 422 at their position): not UTF-8, or nested too deeply.
            return _api_error_response(request, unreadable_body())
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            # Starlette's own list where no route says its methods (the docs' assets).
            allowed = _methods_at(request) or [
                m.strip() for m in (headers or {}).get("Allow", "").split(",") if m.strip()
            ]
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            if request.method == "OPTIONS" and "OPTIONS" in allowed:
                # What the path allows (RFC 9110 9.3.7); a CORS preflight never gets here.
                return Response(status_code=204, headers=headers)
            detail = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}."
        return problem_response(request, exc.status_code, detail, errors=errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(
                field=_field_name(err["loc"]), message=err["msg"], type=err.get("type") or "invalid"
            )
            for err in exc.errors()
        ]
        if [(e.field, e.type) for e in errors] == [(IF_MATCH_FIELD, "missing")]:
            # A write's only fault is the precondition it did not send: 428, as when
            # it sends a blank one (`check_if_match`), not 422.
            return _api_error_response(request, if_match_required(request.url.path))
        names = ", ".join(e.field for e in errors)
        # Paging mistakes are a 400 (the page request is malformed); any other invalid
        # parameter is a 422 naming it.
        status = 400 if all(e.field in PAGING_FIELDS for e in errors) else 422
        return problem_response(request, status, f"Invalid input: {names}.", errors=errors)

    @app.exception_handler(OperationalError)
    async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        # A locked SQLite file, a cancelled statement or an unreachable PostgreSQL:
        # the client can retry; this is not a bug of the request.
        log.warning("database unavailable: %s", said_by_the_database(exc))
        return problem_response(
            request,
            503,
            "The database is busy or unavailable; retry shortly.",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(request, 500, UNEXPECTED_ERROR)
