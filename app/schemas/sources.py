from datetime import date

from pydantic import Field

from app.schemas.common import Schema
from app.schemas.figures import FactOut, MembershipCountOut, MembershipEventOut, OfficeholderOut


class SourceOut(Schema):
    """An article, with its text kept as evidence."""

    id: int
    key: str = Field(examples=["muong-bang-2020"])
    publisher: str | None
    title: str | None
    published_on: date | None = Field(
        description="Only when the text prints a date.", examples=["2020-01-21"]
    )
    date_note: str | None
    author: str | None = Field(examples=["Anh Dũng"])
    language: str = Field(examples=["vi"])
    url: str | None
    text_sha256: str = Field(description="SHA-256 of the stored text (GET /sources/{id}/text).")
    text_path: str | None
    registered_on: date = Field(description="The day the service first held the text.")
    synthetic: bool


class NamedEntity(Schema):
    id: int
    key: str
    kind: str
    name: str | None
    quote: str | None
    group_size: int | None = None


class SourceDetail(SourceOut):
    localities: list[NamedEntity]
    branches: list[NamedEntity]
    counts: list[MembershipCountOut]
    events: list[MembershipEventOut]
    facts: list[FactOut]
    officeholders: list[OfficeholderOut]
