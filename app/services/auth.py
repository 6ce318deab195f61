"""API keys: made, listed, revoked (CLI) and checked on every write (API).

A token is `bs_` and 32 random bytes in url-safe base64. It is shown once, when made;
the database keeps its SHA-256 and its first characters (`prefix`) to find the row.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.db import begin_writing
from app.errors import AUTHORIZATION_FIELD, ApiError, FieldError
from app.models import ApiKey
from app.models.base import utcnow
from app.services.text import misleading_character

TOKEN_PREFIX = "bs_"
TOKEN_BYTES = 32
PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
TOKEN_LENGTH = len(TOKEN_PREFIX) + 43  # 32 bytes in base64 without padding
# RFC 6750: a 401 says how to authenticate; error= tells a client what went wrong.
REALM = 'Bearer realm="branchstats"'


@dataclass(frozen=True)
class Caller:
    """Who is writing: an API key, or the command line (key_id None)."""

    key_id: int | None
    name: str
    scope: str = "write"


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str


class KeyCommandError(ValueError):
    """A key command that cannot be done (name taken, no such key)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def create_key(session: Session, name: str, scope: str = "write") -> NewKey:
    """Make a key; the caller shows `token` once and commits."""
    name = name.strip()
    if not name or len(name) > 100:
        raise KeyCommandError("a key name is 1 to 100 characters")
    if found := misleading_character(name):
        # It is printed by `keys list` and the audit log, on a terminal.
        raise KeyCommandError(f"a key name holds no U+{ord(found):04X}: one line, no controls")
    if scope not in ("read", "write"):
        raise KeyCommandError("the scope is read or write")
    exists = KeyCommandError(f"a key named {name!r} exists; names are never reused")
    begin_writing(session)
    if session.execute(select(col(ApiKey.id)).where(col(ApiKey.name) == name)).first() is not None:
        # Revoked keys keep their name: the audit log shows who by name.
        raise exists
    token = new_token()
    key = ApiKey(
        name=name, prefix=token[:PREFIX_LENGTH], token_sha256=token_hash(token), scope=scope
    )
    session.add(key)
    try:
        session.flush()
    except IntegrityError:
        # Made at once by another command on PostgreSQL, where nothing serializes the
        # check above (begin_writing locks SQLite only): the name's unique index refused it.
        raise exists from None
    return NewKey(key, token)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(col(ApiKey.id))).scalars())


def find_key(session: Session, name_or_id: str) -> ApiKey:
    condition = col(ApiKey.name) == name_or_id
    if name_or_id.isascii() and name_or_id.isdigit():  # "２" and "²" are names
        condition = or_(condition, col(ApiKey.id) == int(name_or_id))
    rows = list(session.execute(select(ApiKey).where(condition)).scalars())
    if len(rows) > 1:  # a key named "1" and the key numbered 1
        named = next(row for row in rows if row.name == name_or_id)
        other = next(row for row in rows if row is not named)
        raise KeyCommandError(
            f"{name_or_id!r} is the name of key {named.id} and the number of key "
            f"{other.id} ({other.name!r}): give key {named.id}'s number, or key "
            f"{other.id}'s name"
        )
    if not rows:
        raise KeyCommandError(f"no key named or numbered {name_or_id!r}")
    return rows[0]


def revoke_key(session: Session, name_or_id: str, now: datetime | None = None) -> ApiKey:
    """Revoke a key (kept, not deleted: the audit log refers to it). Idempotent."""
    begin_writing(session)
    key = find_key(session, name_or_id)
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.add(key)
        session.flush()
    return key


def unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = REALM + (f', error="{error}"' if error else "")
    return ApiError(
        401,
        detail,
        errors=[FieldError(field=AUTHORIZATION_FIELD, message=detail, type=error or "missing")],
        headers={"WWW-Authenticate": challenge},
    )


def require_one_authorization(lines: int) -> None:
    """A 400 for a request with two Authorization headers: a proxy reading the one the app
    does not (the first) would take the request for another caller's (RFC 9110 5.3: the
    field is not a list)."""
    if lines > 1:
        detail = f"The request sends {lines} Authorization headers; send one."
        raise ApiError(
            400,
            detail,
            errors=[FieldError(field=AUTHORIZATION_FIELD, message=detail, type="invalid_request")],
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
        )


def authenticate(session: Session, token: str | None) -> Caller:
    """The caller a bearer token identifies; 401 when missing, unknown or revoked."""
    if not token:
        raise unauthorized(
            "This needs an API key (writes and the audit log): send `Authorization: Bearer "
            "<token>` (keys are made with `branchstats keys create`)."
        )
    invalid = unauthorized("The API key is not valid, or was revoked.", "invalid_token")
    if not token.startswith(TOKEN_PREFIX) or len(token) != TOKEN_LENGTH:
        raise invalid
    digest = token_hash(token)
    candidates = session.execute(
        select(ApiKey).where(
            col(ApiKey.prefix) == token[:PREFIX_LENGTH], col(ApiKey.revoked_at).is_(None)
        )
    ).scalars()
    for key in candidates:
        # A constant-time comparison, so response timing says nothing about the hash.
        if hmac.compare_digest(key.token_sha256, digest):
            assert key.id is not None
            return Caller(key.id, key.name, key.scope)
    raise invalid


def require_scope(caller: Caller, scope: str = "write") -> Caller:
    """403 for a read-only key asking to write."""
    if caller.scope != scope:
        detail = (
            f"The key {caller.name!r} is read-only; writes and the audit log need a key with "
            f"scope {scope}."
        )
        raise ApiError(
            403,
            detail,
            errors=[
                FieldError(field=AUTHORIZATION_FIELD, message=detail, type="insufficient_scope")
            ],
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
        )
    return caller
