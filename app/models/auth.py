"""Writers' tables: API keys, idempotent POSTs and the audit log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, LargeBinary, Text
from sqlmodel import Field, SQLModel

from app.models.base import in_list, utcnow

KEY_SCOPES: tuple[str, ...] = ("read", "write")


class ApiKey(SQLModel, table=True):
    """A key that identifies a writer. Only a SHA-256 hash of the token is kept.

    Tokens are 32 random bytes, so a fast hash is enough: there is no password to
    guess. `prefix` (the token's first characters) finds the row without scanning and
    lets an operator recognise a key in `branchstats keys list`.
    """

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(in_list("scope", KEY_SCOPES), name="scope"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    prefix: str = Field(max_length=16, index=True)
    token_sha256: str = Field(max_length=64, unique=True)
    scope: str = Field(default="write", max_length=10)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class IdempotencyRecord(SQLModel, table=True):
    """The response to a POST sent with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("uq_idempotency_keys_key_id_key", "api_key_id", "key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_keys.id")
    key: str = Field(max_length=200)
    request_sha256: str = Field(max_length=64)
    status: int
    location: str | None = Field(default=None, max_length=300)
    body: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class AuditEntry(SQLModel, table=True):
    """One change: who (which key), when, what, and the row before and after.

    `key_name` is copied so an entry still says who after a key is revoked; entries of
    one request (an import and the records it changed) share `request_id`.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_key_id", "entity", "entity_key", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    request_id: str = Field(max_length=32, index=True)
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id", index=True)
    key_name: str = Field(max_length=120)
    action: str = Field(max_length=20)
    entity: str = Field(max_length=30)
    entity_id: int | None = None
    entity_key: str | None = Field(default=None, max_length=300)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    note: str | None = Field(default=None, sa_type=Text)
