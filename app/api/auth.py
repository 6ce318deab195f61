"""The writer dependency: `Authorization: Bearer <token>`, a key with scope write.

Reads stay public and never look at the header. The scheme is declared with
HTTPBearer(auto_error=False) so the docs show it, while the errors keep the API's one
shape (problem+json) instead of FastAPI's default 403.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.api.common import engine_of, problem
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


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """401 without a valid key, 403 with a read-only one, 429 over the key's rate; 400
    for two keys."""
    require_one_authorization(len(request.headers.getlist("authorization")))
    with Session(engine_of(request)) as session:
        caller = authenticate(session, credentials.credentials if credentials else None)
    require_scope(caller, "write")
    if request.method not in ("GET", "HEAD"):  # GET /audit is a read: never limited
        limit_writes(request, caller.key_id)
    return caller


Writer = Annotated[Caller, Depends(require_writer)]


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: problem("No API key, or one that is unknown or revoked (see WWW-Authenticate)."),
    403: problem("The API key is read-only."),
    414: problem(f"The query string is longer than {MAX_QUERY_BYTES} bytes."),
    429: problem("Too many writes with this API key (see Retry-After and the RateLimit headers)."),
    503: problem("The database is busy or unavailable; retry after Retry-After seconds."),
}
