"""Request bodies of the writes, and the import report.

Create bodies list every field; update bodies (PATCH) list the fields that may change,
all optional: only the fields sent change, and `null` clears a field that may be empty.
The merged result is validated again as a whole, with the create body's rules. Unknown
fields are refused (a typo must not be dropped silently). Constraints follow the record
format (seed/FORMAT.md and app.ingest.records).
"""

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from app.days import Day
from app.ingest.records import (
    VISIBLE,
    Description,
    Key,
    LongText,
    OfficialName,
    PlaceName,
    Quote,
    RecordId,
    ShortText,
    in_nfc,
    refuse_unstorable,
)
from app.models.vocab import (
    DIMENSIONS,
    METRIC_UNITS,
    BranchKind,
    EventKind,
    LocalityKind,
    MemberStatus,
    Qualifier,
)

Metric = Literal[tuple(METRIC_UNITS)]  # type: ignore[valid-type]
Dimension = Literal[DIMENSIONS]  # type: ignore[valid-type]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")]
Code = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1_500_000), VISIBLE]
# Numbers and flags as JSON types them (Strict): `true` is not 1, nor "9" nine.
Count = Annotated[int, Strict(), Field(ge=0, le=10_000_000)]
Amount = Annotated[float, Strict(), Field(ge=-1e15, le=1e15, allow_inf_nan=False)]
Whole = Annotated[float, Strict(), Field(gt=0, le=1e15, allow_inf_nan=False)]
Id = Annotated[int, Strict(), Field(ge=1, le=2_147_483_647)]
GroupSize = Annotated[int, Strict(), Field(gt=1, le=100_000)]
Flag = Annotated[bool, Strict()]
FigureText = Annotated[str, StringConstraints(min_length=1, max_length=200)]

D_KEY = "Stable slug, unique across the dataset (seed/FORMAT.md, Keys)."
D_SOURCE_ID = "The source (article) that states this: GET /sources."
D_QUOTE = (
    "A verbatim substring of the source's stored text (after Unicode NFC and whitespace "
    "folding): the clause that proves the record."
)
D_FIGURE = "The exact characters of the quote that print the number."
D_NOTE = "Anything a reader should know about this record."
D_DESCRIPTION = (
    "For a group: the words of the text. Searched with the name: the two together, "
    "folded for search, at most 600 characters."
)
D_DATE_NOTE = "How the date was read from the text, when it is not printed as such."
D_QUALIFIER = "exact, approximate, at_least, more_than, at_most or less_than, as the text says."
D_EACH = (
    "For an unnamed group: the figure holds for each of its organizations, not for the group "
    "as a whole."
)
D_PARENT_PLACE = (
    "The locality it lies in, of a higher level (a village in a commune, a commune in a "
    "district or a province)."
)
D_PARENT_ORGANIZATION = (
    "The parent organization, of a higher level where both kinds say one (a village_branch "
    "under a commune_committee); agency_committee and other sit anywhere."
)
D_DATE_DERIVED = (
    "true: the figure's own date (as_of, period) is worked out from the text, not printed; "
    "date_note says how. Its evidence_date_basis then reads `derived`, not `stated`."
)
D_RECORD_ID = (
    "The record id within its source; the figure's key is `<source key>#<record_id>`. "
    "Default: a generated one."
)
D_BRANCH_ID = "The organization the figure is about: GET /branches."
D_VALUE_MAX = "Upper end of a range ('24-25 triệu')."
D_OUT_OF = "The whole the value is a part of ('5/10 chi bộ': 10); not a range's end."
D_UNIT = "The metric's unit, set from the metric (another is refused): " + "; ".join(
    f"{metric}: {unit}" for metric, unit in METRIC_UNITS.items()
)
D_PERIOD_START = "First day of the period the figure covers, when the text gives it."
D_PERIOD_END = "Last day of the period the figure covers, when the text gives it."


class WriteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _nfc = field_validator("*", mode="before")(in_nfc)
    _storable = field_validator("*", mode="after")(refuse_unstorable)


def _takes_null(body: type[BaseModel], name: str) -> bool:
    annotation = body.model_fields[name].annotation
    return annotation is None or type(None) in get_args(annotation)


def _null_only_where_it_clears(schema: JsonDict, update: type[Any]) -> None:
    """Drop `null` from the schema of every field the create body requires a value for."""
    properties = schema.get("properties")
    assert isinstance(properties, dict)
    for name, field in properties.items():
        assert isinstance(field, dict)
        options = field.get("anyOf")
        if not isinstance(options, list) or _takes_null(update.creates, name):
            continue
        values = [option for option in options if option != {"type": "null"}]
        if len(values) == 1 and isinstance(values[0], dict):
            del field["anyOf"]
            field.update(values[0])
        else:
            field["anyOf"] = values


class UpdateBody(WriteBody):
    """A PATCH body. Its fields are optional (none sent, none changed), but `null` clears a
    field only where the create body takes one (a note, a range's end); elsewhere the
    merged validation refuses it, 422 naming the field. So the schema offers `null` only
    there, and a client generated from it types the others as "omit, or give a value"."""

    model_config = ConfigDict(json_schema_extra=_null_only_where_it_clears)

    creates: ClassVar[type[WriteBody]]


# -- Sources ------------------------------------------------------------------------
class SourceCreate(WriteBody):
    """A new article, with its full text: every quote must be found in it."""

    key: Key = Field(description=D_KEY, examples=["baoyenbai-2024-khanh-hoa"])
    text: Text = Field(description="The article's full text, kept as evidence.")
    publisher: ShortText | None = Field(
        default=None, description="The publisher as the text shows it.", examples=["Báo Yên Bái"]
    )
    title: LongText | None = Field(default=None, description="The headline as printed.")
    published_on: Day | None = Field(
        default=None, description="Only when the text prints a date.", examples=["2024-03-02"]
    )
    date_note: LongText | None = Field(default=None, description=D_DATE_NOTE)
    author: ShortText | None = Field(default=None, description="The byline as printed.")
    language: Language = Field(default="vi", description="ISO 639 code of the text.")
    url: Url | None = Field(default=None, description="Where the article was published.")


class SourceUpdate(UpdateBody):
    """Changes to a source. A new text must still contain every quote drawn from it."""

    creates: ClassVar[type[WriteBody]] = SourceCreate

    text: Text | None = Field(default=None, description="The article's full text.")
    publisher: ShortText | None = Field(default=None, description="The publisher.")
    title: LongText | None = Field(default=None, description="The headline as printed.")
    published_on: Day | None = Field(default=None, description="Only when the text prints a date.")
    date_note: LongText | None = Field(default=None, description=D_DATE_NOTE)
    author: ShortText | None = Field(default=None, description="The byline as printed.")
    language: Language | None = Field(default=None, description="ISO 639 code of the text.")
    url: Url | None = Field(default=None, description="Where the article was published.")


# -- Localities -----------------------------------------------------------------------
class LocalityCreate(WriteBody):
    """A place an article names that is not already known (a village, usually)."""

    key: Key = Field(description=D_KEY, examples=["vn2004:04309/thon-kheo-leng"])
    kind: LocalityKind = Field(description="The kind of unit.", examples=["village"])
    name: PlaceName = Field(
        description="The proper name, exactly as written, with diacritics.",
        examples=["Khéo Lẹng"],
    )
    official_name: OfficialName | None = Field(
        default=None, description="The name with its kind word.", examples=["thôn Khéo Lẹng"]
    )
    code: Code | None = Field(default=None, description="Official statistics code, if any.")
    parent_id: Id | None = Field(default=None, description=D_PARENT_PLACE)
    source_id: Id = Field(description=D_SOURCE_ID)
    quote: Quote = Field(description=D_QUOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


class LocalityUpdate(UpdateBody):
    """Changes to a locality named by an article (reference units come from the CSV)."""

    creates: ClassVar[type[WriteBody]] = LocalityCreate

    kind: LocalityKind | None = Field(default=None, description="The kind of unit.")
    name: PlaceName | None = Field(default=None, description="The proper name, as written.")
    official_name: OfficialName | None = Field(
        default=None, description="The name with its kind word."
    )
    code: Code | None = Field(default=None, description="Official statistics code, if any.")
    parent_id: Id | None = Field(default=None, description=D_PARENT_PLACE)
    source_id: Id | None = Field(default=None, description=D_SOURCE_ID)
    quote: Quote | None = Field(default=None, description=D_QUOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


# -- Branches -------------------------------------------------------------------------
class BranchCreate(WriteBody):
    """A party organization an article names, or an unnamed group it counts."""

    key: Key = Field(description=D_KEY, examples=["org:vn2004:04309/thon-kheo-leng"])
    kind: BranchKind = Field(description="The kind of organization.", examples=["village_branch"])
    name: ShortText | None = Field(
        default=None,
        description="The name as written; omit for an unnamed group.",
        examples=["Chi bộ thôn Khéo Lẹng"],
    )
    group_size: GroupSize | None = Field(
        default=None, description="For an unnamed group: how many organizations."
    )
    description: Description | None = Field(default=None, description=D_DESCRIPTION)
    locality_id: Id | None = Field(
        default=None, description="The most precise place the text gives."
    )
    parent_id: Id | None = Field(default=None, description=D_PARENT_ORGANIZATION)
    founded_on: Day | None = Field(default=None, description="When it was founded, if stated.")
    dissolved_on: Day | None = Field(default=None, description="When it was dissolved, if stated.")
    source_id: Id = Field(description=D_SOURCE_ID)
    quote: Quote = Field(description=D_QUOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


class BranchUpdate(UpdateBody):
    """Changes to an organization."""

    creates: ClassVar[type[WriteBody]] = BranchCreate

    kind: BranchKind | None = Field(default=None, description="The kind of organization.")
    name: ShortText | None = Field(default=None, description="The name as written.")
    group_size: GroupSize | None = Field(
        default=None, description="For an unnamed group: how many organizations."
    )
    description: Description | None = Field(default=None, description=D_DESCRIPTION)
    locality_id: Id | None = Field(default=None, description="The place it was reported under.")
    parent_id: Id | None = Field(default=None, description=D_PARENT_ORGANIZATION)
    founded_on: Day | None = Field(default=None, description="When it was founded.")
    dissolved_on: Day | None = Field(default=None, description="When it was dissolved.")
    source_id: Id | None = Field(default=None, description=D_SOURCE_ID)
    quote: Quote | None = Field(default=None, description=D_QUOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


# -- Figures --------------------------------------------------------------------------
class FigureCreate(WriteBody):
    """Provenance and qualifiers every figure has."""

    source_id: Id = Field(description=D_SOURCE_ID, examples=[2])
    record_id: RecordId | None = Field(default=None, description=D_RECORD_ID)
    quote: Quote = Field(description=D_QUOTE)
    figure: FigureText | None = Field(default=None, description=D_FIGURE)
    qualifier: Qualifier = Field(default="exact", description=D_QUALIFIER)
    applies_to_each: Flag = Field(default=False, description=D_EACH)
    date_derived: Flag = Field(default=False, description=D_DATE_DERIVED)
    date_note: LongText | None = Field(default=None, description=D_DATE_NOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


class FigureUpdate(UpdateBody):
    """Changes to a figure. Its source and key do not change: delete and create to
    attribute a figure to another source."""

    creates: ClassVar[type[WriteBody]] = FigureCreate

    quote: Quote | None = Field(default=None, description=D_QUOTE)
    figure: FigureText | None = Field(default=None, description=D_FIGURE)
    qualifier: Qualifier | None = Field(default=None, description=D_QUALIFIER)
    applies_to_each: Flag | None = Field(default=None, description=D_EACH)
    date_derived: Flag | None = Field(default=None, description=D_DATE_DERIVED)
    date_note: LongText | None = Field(default=None, description=D_DATE_NOTE)
    note: LongText | None = Field(default=None, description=D_NOTE)


class CountCreate(FigureCreate):
    """How many members an organization had, as of a date."""

    branch_id: Id = Field(description=D_BRANCH_ID, examples=[3])
    value: Count = Field(description="Members (for less_than, the bound).", examples=[22])
    value_max: Count | None = Field(default=None, description=D_VALUE_MAX)
    status: MemberStatus = Field(default="all", description="all, full or probationary members.")
    as_of: Day | None = Field(
        default=None, description="The day the count holds, when the text gives it."
    )


class CountUpdate(FigureUpdate):
    """Changes to a membership count."""

    creates: ClassVar[type[WriteBody]] = CountCreate

    branch_id: Id | None = Field(default=None, description=D_BRANCH_ID)
    value: Count | None = Field(default=None, description="Members.")
    value_max: Count | None = Field(default=None, description=D_VALUE_MAX)
    status: MemberStatus | None = Field(
        default=None, description="all, full or probationary members."
    )
    as_of: Day | None = Field(default=None, description="The day the count holds.")


class EventCreate(FigureCreate):
    """Admissions, departures or transfers of an organization over a period."""

    kind: EventKind = Field(
        description="admission, departure, transfer_in or transfer_out.", examples=["admission"]
    )
    branch_id: Id = Field(description=D_BRANCH_ID, examples=[3])
    value: Count | None = Field(
        default=None, description="How many; null when the text says it happened without a number."
    )
    value_max: Count | None = Field(default=None, description=D_VALUE_MAX)
    qualifier: Qualifier | None = Field(  # type: ignore[assignment]
        default=None,
        description=f"{D_QUALIFIER} None for an unreported value (null): leave it out. "
        "Left out beside a value, exact.",
    )
    period_start: Day | None = Field(default=None, description=D_PERIOD_START)
    period_end: Day | None = Field(default=None, description=D_PERIOD_END)
    reason: LongText | None = Field(
        default=None, description="For departures: what the text gives."
    )

    @model_validator(mode="after")
    def _exact_unless_qualified(self) -> "EventCreate":
        """A value given without a qualifier is read as printed: exact. An unreported
        value keeps none (a qualifier sent with it is refused by the figure checks, 422
        naming it with the body's other faults)."""
        if self.value is not None and self.qualifier is None:
            self.qualifier = "exact"
        return self


class EventUpdate(FigureUpdate):
    """Changes to an admission, departure or transfer."""

    creates: ClassVar[type[WriteBody]] = EventCreate

    kind: EventKind | None = Field(
        default=None, description="admission, departure, transfer_in or transfer_out."
    )
    branch_id: Id | None = Field(default=None, description=D_BRANCH_ID)
    value: Count | None = Field(default=None, description="How many; null when not reported.")
    value_max: Count | None = Field(default=None, description=D_VALUE_MAX)
    period_start: Day | None = Field(default=None, description=D_PERIOD_START)
    period_end: Day | None = Field(default=None, description=D_PERIOD_END)
    reason: LongText | None = Field(default=None, description="For departures: the reason.")


class FactCreate(FigureCreate):
    """Any other figure, one metric per record, about one organization or one place."""

    metric: Metric = Field(  # type: ignore[valid-type]
        description="The metric (seed/FORMAT.md).", examples=["poverty_rate"]
    )
    branch_id: Id | None = Field(default=None, description="The organization it is about.")
    locality_id: Id | None = Field(default=None, description="Or the place it is about.")
    value: Amount = Field(description="The value, in the metric's unit.", examples=[12.5])
    value_max: Amount | None = Field(default=None, description=D_VALUE_MAX)
    out_of: Whole | None = Field(default=None, description=D_OUT_OF)
    unit: str | None = Field(default=None, max_length=40, description=D_UNIT, examples=["percent"])
    dimension: Dimension | None = Field(
        default=None, description="The breakdown of subordinate_organizations, when given."
    )
    period_start: Day | None = Field(default=None, description=D_PERIOD_START)
    period_end: Day | None = Field(default=None, description=D_PERIOD_END)


class FactUpdate(FigureUpdate):
    """Changes to a fact."""

    creates: ClassVar[type[WriteBody]] = FactCreate

    metric: Metric | None = Field(  # type: ignore[valid-type]
        default=None, description="The metric."
    )
    branch_id: Id | None = Field(default=None, description="The organization it is about.")
    locality_id: Id | None = Field(default=None, description="Or the place it is about.")
    value: Amount | None = Field(default=None, description="The value, in the metric's unit.")
    value_max: Amount | None = Field(default=None, description=D_VALUE_MAX)
    out_of: Whole | None = Field(default=None, description=D_OUT_OF)
    unit: str | None = Field(default=None, max_length=40, description=D_UNIT)
    dimension: Dimension | None = Field(default=None, description="The breakdown, when given.")
    period_start: Day | None = Field(default=None, description=D_PERIOD_START)
    period_end: Day | None = Field(default=None, description=D_PERIOD_END)


# -- Imports --------------------------------------------------------------------------
class ImportConflict(BaseModel):
    """A record the file would change although an editor changed it through the API."""

    record: str = Field(description="The record, as `<section>[<index>] <id or key>`.")
    entity: str = Field(description="What it is stored as.", examples=["membership_count"])
    key: str = Field(description="Its stored key.")
    audit_id: int = Field(description="The audit entry of the API edit (GET /audit).")
    message: str = Field(
        description="Who changed it through the API, and what the file would undo."
    )


class ImportReportOut(BaseModel):
    """What an import did, or (dry run) would do."""

    source: str = Field(description="The source key.")
    source_id: int | None = Field(description="The source id; null for a new source in a dry run.")
    dry_run: bool = Field(description="True: nothing was written.")
    applied: bool = Field(description="True: the changes were written.")
    changes: int = Field(description="Records added, changed or removed.")
    added: list[str] = Field(description="Records the file adds.")
    changed: list[str] = Field(description="Records whose stored values the file changes.")
    removed: list[str] = Field(
        description="Figures of this source that the file no longer has (deleted)."
    )
    unchanged: int = Field(description="Records already stored exactly so.")
    conflicts: list[ImportConflict] = Field(
        description="Records changed through the API since they were imported; a real "
        "import with conflicts is refused (409) unless force=true."
    )
    conflicting_reports: list[str] = Field(
        description="Counts of the same organization and date where another source gives "
        "another value. Both are kept and served (README, Conflicting reports)."
    )
    request_id: str | None = Field(description="The audit log's request_id of this import.")
