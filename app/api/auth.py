"""The writer dependency: `Authorization: Bearer <token>`, a key with scope write.

Reads stay public and never look at the header. The scheme is declared with
HTTPBearer(auto_error=False) so the docs show it, while the errors keep the API's one
shape (problem+json) instead of FastAPI's default 403.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.common import engine_of, problem
from app.api.query_route import QueryModelRoute
from app.middleware import MAX_QUERY_BYTES
from app.ratelimit import limit_writes
from app.services.auth import (
    Caller,
    authenticate,
    require_one_authorization,
    require_scope,
)

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key made with `branchstats keys create NAME`; writes need scope "
    "`write`. Send it as `Authorization: Bearer bs_...`.",
)


def _writer(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
    """The caller, once a request (kept on its state): 400 for two keys, 401 without a
    valid key, 403 with a read-only one."""
    known: Caller | None = getattr(request.state, "writer", None)
    if known is not None:
        return known
    require_one_authorization(len(request.headers.getlist("authorization")))
    with Session(engine_of(request)) as session:
        caller = authenticate(session, credentials.credentials if credentials else None)
    require_scope(caller, "write")
    request.state.writer = caller
    return caller


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """401 without a valid key, 403 with a read-only one, 429 over the key's rate; 400
    for two keys."""
    caller = _writer(request, credentials)
    if request.method not in ("GET", "HEAD"):  # GET /audit is a read: never limited
        limit_writes(request, caller.key_id)
    return caller


Writer = Annotated[Caller, Depends(require_writer)]


def _needs_a_writer(dependant: Dependant) -> bool:
    return dependant.call is require_writer or any(
        _needs_a_writer(sub) for sub in dependant.dependencies
    )


class KeyFirstRoute(QueryModelRoute):
    """A write that asks for its key before it reads its body.

    FastAPI reads and parses a body before it solves any dependency, so a caller without
    a key was told what its JSON lacked (a 422 for a body that is no JSON, or names a
    field twice) and made the server read and parse it: now it is a 401 (a read-only
    key's a 403) whatever it sent. The key is checked once: the dependency finds the
    caller on the request. Its bucket is still counted by the dependency, after the
    body is read, so that a body that is no JSON spends no write (app.ratelimit).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _needs_a_writer(self.dependant):
            return handler

        async def key_first(request: Request) -> Response:
            credentials = await bearer(request)
            await run_in_threadpool(_writer, request, credentials)
            return await handler(request)

        return key_first


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: problem("No API key, or one that is unknown or revoked (see WWW-Authenticate)."),
    403: problem("The API key is read-only."),
    414: problem(f"The query string is longer than {MAX_QUERY_BYTES} bytes."),
    429: problem("Too many writes with this API key (see Retry-After and the RateLimit headers)."),
    503: problem("The database is busy or unavailable; retry after Retry-After seconds."),
}
