"""The audit log as the API shows it."""

from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import Schema


class KeyRef(Schema):
    """The API key that wrote (its name is kept after it is revoked)."""

    id: int | None = Field(description="The API key's id; null for the command line.")
    name: str = Field(description="The key's name, or `cli:<user>`.", examples=["editor-lan"])


class AuditEntryOut(Schema):
    """One change: who, when, what, before and after."""

    id: int = Field(description="Entries are numbered in the order they were written.")
    at: datetime = Field(description="When (UTC).")
    request_id: str = Field(description="Entries written by the same request share it.")
    key: KeyRef = Field(description="Who: the key that wrote.")
    action: str = Field(
        description="create, update or delete (a direct write); import (the summary of an "
        "import, `after` is its report); import.create, import.update or import.delete "
        "(a record an import changed).",
        examples=["update"],
    )
    entity: str = Field(
        description="source, locality, branch, membership_count, membership_event, fact "
        "or officeholder.",
        examples=["membership_count"],
    )
    entity_id: int | None = Field(description="The row's id.")
    entity_key: str | None = Field(description="The row's stable key.")
    changed: list[str] = Field(description="Fields that differ between before and after.")
    before: dict[str, Any] | None = Field(description="The row before; null for a create.")
    after: dict[str, Any] | None = Field(description="The row after; null for a delete.")
    note: str | None = Field(description="Anything else the write recorded.")
