"""Shapes shared by every resource: references, provenance, pages."""

from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app.models.vocab import BranchKind, DateBasis, LocalityKind, Qualifier

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


def examples_of(**record: object) -> ConfigDict:
    """A schema's examples, field by field, from one record of the seed (a test checks
    them against it). Set on the fields of a shared base class, they combined records:
    a count of 6,799 shown with an admission's quote that prints 216."""

    def set_examples(schema: dict[str, Any]) -> None:
        for name, value in record.items():
            schema["properties"][name]["examples"] = [value]

    return ConfigDict(extra="forbid", json_schema_extra=set_examples)


class SourceRef(Schema):
    """Where a figure comes from."""

    id: int = Field(description="Source id (see /sources/{id}).", examples=[2])
    key: str = Field(description="Stable slug of the source.", examples=["baoyenbai-2023-luc-yen"])
    publisher: str | None = Field(
        description="Publisher as the text shows it.", examples=["YênBái (Báo Yên Bái)"]
    )
    title: str | None = Field(
        description="Headline as printed; null when none is printed.",
        examples=["Giải pháp phát triển đảng viên mới ở Lục Yên"],
    )
    published_on: date | None = Field(
        description="Publication date, only when the text prints one.", examples=["2023-12-18"]
    )
    url: str | None = Field(description="Where the article was published, when known.")


class LocalityRef(Schema):
    id: int = Field(examples=[11])
    key: str = Field(
        description="vn2004:<code> before the 2025 reform, vn2025:<code> after; "
        "villages: their commune's key/slug.",
        examples=["vn2004:135"],
    )
    kind: LocalityKind = Field(examples=["district"])
    name: str = Field(description="Proper name as written, with diacritics.", examples=["Lục Yên"])
    official_name: str | None = Field(
        description="Name with its kind word.", examples=["Huyện Lục Yên"]
    )
    code: str | None = Field(
        description="Official statistics code; villages have none.", examples=["135"]
    )


class TodayUnits(Schema):
    """What the unit is today, after the 2025 reform (districts abolished, units merged)."""

    province: LocalityRef | None = Field(description="Today's province.")
    commune: LocalityRef | None = Field(
        description="Today's commune; null for a district or province."
    )


class Provenance(Schema):
    """Every figure says where it comes from and how sure it is."""

    qualifier: Qualifier = Field(
        description="exact, approximate, at_least, more_than, at_most or less_than, "
        "as the text says.",
    )
    applies_to_each: bool = Field(
        description="For an unnamed group: the figure holds for each of its organizations, "
        "not for the group as a whole."
    )
    evidence_date: date = Field(
        description="The latest day the figure can describe (used by as_of).",
    )
    evidence_date_basis: DateBasis = Field(
        description="stated (the text prints the figure's date), derived (worked out from "
        "the text, not printed: date_note says how), published (the article's date: the "
        "figure has no date of its own, or one on or after the article's, as a year still "
        "running when it appeared) or registered (the day the service first held an undated "
        "article: an upper bound).",
    )
    date_note: str | None = Field(description="How the date was read from the text.")
    note: str | None = Field(description="Anything a reader should know about this figure.")
    source: SourceRef  # a figure's source is required: never null
    quote: str = Field(
        description="The sentence that states the figure, verbatim.",
    )
    figure: str | None = Field(description="The characters of the quote that print the number.")
    synthetic: bool = Field(
        description="True for generated benchmark data, never for real figures."
    )


class BranchMini(Schema):
    id: int
    name: str | None
    kind: BranchKind
    group_size: int | None
    description: str | None = Field(
        description="For an unnamed group: the words of the text, which stand for its name."
    )


class Page(Schema, Generic[T]):
    items: list[T]
    next: str | None = Field(
        description="URL of the next page, relative to the API's origin (resolve it against "
        "the request's URL; the Link header carries the same); null on the last page."
    )
    next_cursor: str | None = Field(description="Cursor for the next page.")
    total: int | None = Field(
        description="Number of matching rows, on the first page; null above 1,000 "
        "(not counted) and on later pages."
    )
    limit: int = Field(description="Page size.", examples=[50])
