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
    registered_on: date = Field(
        description="The day the dataset first held the text: the upper bound of its "
        "undated figures' days (evidence_date_basis registered)."
    )
    synthetic: bool


class NamedEntity(Schema):
    id: int
    key: str
    kind: str
    name: str | None
    quote: str | None
    group_size: int | None = None


class SourceTotals(Schema):
    """How many of each the source states, whether or not its lists hold them all."""

    localities: int
    branches: int
    counts: int = Field(description="Membership counts.")
    events: int
    facts: int
    officeholders: int


class SourceDetail(SourceOut):
    """Each list holds up to 1,000, oldest evidence first (places and organizations in
    the order they were added); `totals` says how many there are. The rest:
    `/membership-counts?source=`, `/admissions?source=&kind=`, `/facts?source=`."""

    localities: list[NamedEntity]
    branches: list[NamedEntity]
    counts: list[MembershipCountOut]
    events: list[MembershipEventOut]
    facts: list[FactOut]
    officeholders: list[OfficeholderOut]
    totals: SourceTotals = Field(
        description="How many of each the source states; a list longer than 1,000 is cut."
    )
