"""The article record format (seed/FORMAT.md) as strict pydantic models.

Unknown fields are errors, so a typo in a file cannot silently drop a figure.
"""

import re
import unicodedata
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.days import Day
from app.ingest.figure_numbers import (
    UNREPORTED_UNQUALIFIED,
    flag_fault,
    outside_metric_range,
    part_exceeds_whole,
)
from app.ingest.periods import PeriodError, parse_period
from app.models.vocab import (
    DIMENSIONS,
    METRIC_UNITS,
    BranchKind,
    EventKind,
    LocalityKind,
    MemberStatus,
    Qualifier,
    Role,
)
from app.services.text import is_clause, is_visible, misleading_character

FORMAT = "branchstats/article-v1"
# An organization is named, or an unnamed group of group_size: a named one counted as a
# group had its count read as a whole group's.
GROUP_WITH_A_NAME = (
    "an unnamed group has no name: give the name of one organization, or the group_size "
    "of an unnamed group, not both"
)

Key = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=r"^[a-z0-9][a-z0-9:/_.-]*$"),
]
RecordId = Annotated[
    str, StringConstraints(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
]


# Numbers and flags as the file types them (Strict), as a JSON write's: `"9"` is text,
# not nine, `9.0` no count, `true` not 1 (a YAML `yes` is true, and a flag).
WholeNumber = Annotated[int, Strict(), Field(ge=0, le=10_000_000)]
Amount = Annotated[float, Strict(), Field(ge=-1e15, le=1e15, allow_inf_nan=False)]


def _a_clause(quote: str) -> str:
    if not is_clause(quote):
        raise PydanticCustomError(
            "quote_not_a_clause",
            "proves nothing: with its whitespace folded it needs 3 characters or more, a "
            "letter or a digit among them (the clause of the article that states the record)",
        )
    return quote


def fault(field: str, message: str) -> PydanticCustomError:
    """A record's fault found across its fields, named by the field to correct (dotted,
    after the record's own path: app.ingest.files.validate_article)."""
    return PydanticCustomError("record_fault", "{message}", {"field": field, "message": message})


BLANK_MESSAGE = "shows nothing: only spaces or invisible marks"


def _visible(text: str) -> str:
    if not is_visible(text):
        raise PydanticCustomError("blank", BLANK_MESSAGE)
    return text


def _printable(text: str) -> str:
    if found := misleading_character(text, one_line=False):
        raise PydanticCustomError(
            "control_character",
            "contains U+{code}, a control or text-direction character, which no name or "
            "note here may hold",
            {"code": f"{ord(found):04X}"},
        )
    return _visible(text)


def _one_line(text: str) -> str:
    if found := misleading_character(text):
        raise PydanticCustomError(
            "control_character",
            "contains U+{code}, a control, text-direction, line break or tab character, "
            "which a name may not hold",
            {"code": f"{ord(found):04X}"},
        )
    return _visible(text)


Quote = Annotated[str, StringConstraints(min_length=3, max_length=2000), AfterValidator(_a_clause)]
# An article's text: any quote of it must show something, so must it.
VISIBLE = AfterValidator(_visible)
# A name on one line, at most its column's width (app.models: a longer one is refused
# here, not cut or refused by the database).
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=300), AfterValidator(_one_line)
]
PlaceName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_one_line)
]
OfficialName = Annotated[
    str, StringConstraints(min_length=1, max_length=250), AfterValidator(_one_line)
]
PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_one_line)
]
# An unnamed group's words: searched with its name, both folded in one column of 600.
Description = Annotated[
    str, StringConstraints(min_length=1, max_length=500), AfterValidator(_one_line)
]
LongText = Annotated[
    str, StringConstraints(min_length=1, max_length=4000), AfterValidator(_printable)
]


NUL_MESSAGE = "contains a NUL character (U+0000), which no text here may hold"
SURROGATE_MESSAGE = (
    "contains a lone surrogate (U+D800 to U+DFFF), which is not a character and cannot be "
    "stored as UTF-8"
)
# What no database here can store as text: NUL (PostgreSQL cannot; SQLite can, so it is
# refused on both) and lone surrogates (a YAML escape such as "\ud800"; UTF-8
# cannot encode them).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def unstorable(value: Any) -> str | None:
    """What is wrong with a text, or one inside a list or mapping, if it cannot be stored."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is None:
            return None
        return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return None
    return next((fault for item in items if (fault := unstorable(item))), None)


def in_nfc(value: Any) -> Any:
    """A text (or the texts in a list or mapping) in Unicode NFC. As a field validator,
    before the field's own (its length is the stored text's: a few characters grow under
    NFC, U+FB2C into three, and a name of 300 must not become one of 450). A name typed
    with combining marks (NFD, as some keyboards send it) then exports, sorts and
    compares as the same name typed precomposed: a spreadsheet's lookup or a reader's
    search for "Khéo Lẹng" would miss the other spelling, which looks identical."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, (list, tuple)):
        return type(value)(in_nfc(item) for item in value)
    if isinstance(value, dict):
        return {in_nfc(name): in_nfc(item) for name, item in value.items()}
    return value


def refuse_unstorable(value: Any) -> Any:
    """A field validator: a text that cannot be stored is a 422 naming its field, the same
    on both databases, rather than a driver's error."""
    fault = unstorable(value)
    if fault is not None:
        raise PydanticCustomError("nul" if fault == NUL_MESSAGE else "surrogate", fault)
    return value


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    _nfc = field_validator("*", mode="before")(in_nfc)
    _storable = field_validator("*", mode="after")(refuse_unstorable)


class SourceRecord(Record):
    key: Key
    text_file: str | None = Field(
        default=None, description="Path of the text, relative to the record file."
    )
    text: Annotated[str, VISIBLE] | None = Field(
        default=None, description="The full text, inline (for API imports)."
    )
    publisher: ShortText | None = None
    title: LongText | None = None
    published_on: Day | None = None
    date_note: LongText | None = None
    author: ShortText | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = "vi"
    url: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://")] | None = None
    registered_on: Day | None = Field(
        default=None,
        description="The day the dataset first held the article: the upper bound of its "
        "undated figures' days. Default: the day it is first loaded.",
    )

    @model_validator(mode="after")
    def _one_text(self) -> "SourceRecord":
        if (self.text is None) == (self.text_file is None):
            raise fault("text", "give exactly one of text_file and text")
        return self

    @model_validator(mode="after")
    def _held_after_published(self) -> "SourceRecord":
        held, published = self.registered_on, self.published_on
        if held is not None and published is not None and held < published:
            raise fault(
                "registered_on",
                f"registered_on {held} is before published_on {published}: the dataset "
                "cannot have held the article before it was published",
            )
        return self


class LocalityRecord(Record):
    key: Key
    kind: LocalityKind
    name: PlaceName
    title: OfficialName | None = None
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")] | None = None
    parent: Key | None = None
    quote: Quote
    note: LongText | None = None


class BranchRecord(Record):
    key: Key
    kind: BranchKind
    name: ShortText | None = None
    group_size: Annotated[int, Strict(), Field(gt=1, le=100_000)] | None = None
    description: Description | None = None
    locality: Key | None = None
    parent: Key | None = None
    founded_on: Day | None = None
    dissolved_on: Day | None = None
    quote: Quote
    note: LongText | None = None

    @model_validator(mode="after")
    def _named_or_group(self) -> "BranchRecord":
        if self.name is None and self.group_size is None:
            raise fault(
                "name", "an organization needs a name, or a group_size for an unnamed group"
            )
        if self.name is not None and self.group_size is not None:
            raise fault("group_size", GROUP_WITH_A_NAME)
        return self

    @model_validator(mode="after")
    def _founded_before_dissolved(self) -> "BranchRecord":
        founded, dissolved = self.founded_on, self.dissolved_on
        if founded is not None and dissolved is not None and dissolved < founded:
            raise fault("dissolved_on", f"dissolved_on {dissolved} is before founded_on {founded}")
        return self


class FigureRecord(Record):
    id: RecordId
    quote: Quote
    figure: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    qualifier: Qualifier = "exact"
    applies_to_each: StrictBool = False
    note: LongText | None = None
    date_note: LongText | None = None
    # The own date (as_of, period) is worked out from the text, not printed.
    date_derived: StrictBool = False

    @model_validator(mode="after")
    def _derived_date_is_explained(self) -> "FigureRecord":
        if not self.date_derived:
            return self
        dated = any(getattr(self, name, None) is not None for name in ("as_of", "period"))
        if not dated:
            raise fault("date_derived", "date_derived needs a date of its own (as_of or period)")
        if self.date_note is None:
            raise fault(
                "date_note", "date_derived needs a date_note saying how the date was worked out"
            )
        return self


class CountRecord(FigureRecord):
    branch: Key
    value: WholeNumber
    value_max: WholeNumber | None = None
    status: MemberStatus = "all"
    as_of: Day | None = None

    @model_validator(mode="after")
    def _range(self) -> "CountRecord":
        if self.value_max is not None and self.value_max < self.value:
            raise fault("value_max", "value_max is below value")
        return self


def _readable_period(period: str) -> str:
    """A period app.ingest.periods reads ("2018", "7 tháng đầu năm 2017", ...); its
    error names the period field itself."""
    try:
        parse_period(period)
    except PeriodError as exc:
        raise ValueError(str(exc)) from None
    return period


Period = Annotated[str, AfterValidator(_readable_period)]


class EventRecord(FigureRecord):
    kind: EventKind
    branch: Key
    value: WholeNumber | None = None
    value_max: WholeNumber | None = None
    # None with an unreported value (nothing to qualify); `exact` when a value is given
    # without one.
    qualifier: Qualifier | None = None  # type: ignore[assignment]
    period: Period | None = None
    reason: LongText | None = None

    @model_validator(mode="before")
    @classmethod
    def _exact_unless_qualified(cls, data: Any) -> Any:
        """A value given without a qualifier is read as printed: exact."""
        valued = isinstance(data, dict) and data.get("value") is not None
        if valued and data.get("qualifier") is None:
            return {**data, "qualifier": "exact"}
        return data

    @model_validator(mode="after")
    def _valid(self) -> "EventRecord":
        if self.value_max is not None and (self.value is None or self.value_max < self.value):
            raise fault("value_max", "value_max needs a value at or below it")
        if self.value is None and self.qualifier is not None:
            raise fault("qualifier", UNREPORTED_UNQUALIFIED)
        return self

    def bounds(self) -> tuple[date | None, date | None]:
        return parse_period(self.period) if self.period else (None, None)


class FactRecord(FigureRecord):
    metric: str
    branch: Key | None = None
    locality: Key | None = None
    value: Amount
    value_max: Amount | None = None
    out_of: Annotated[float, Strict(), Field(gt=0, le=1e15, allow_inf_nan=False)] | None = None
    unit: str | None = None
    dimension: str | None = None
    period: Period | None = None
    as_of: Day | None = None

    @model_validator(mode="after")
    def _valid(self) -> "FactRecord":
        if self.metric not in METRIC_UNITS:
            raise fault("metric", f"unknown metric {self.metric!r}; see seed/FORMAT.md")
        if self.unit is not None and self.unit != METRIC_UNITS[self.metric]:
            raise fault("unit", f"{self.metric} is measured in {METRIC_UNITS[self.metric]}")
        if (self.branch is None) == (self.locality is None):
            raise fault("branch", "a fact is about exactly one branch or one locality")
        if self.dimension is not None and self.dimension not in DIMENSIONS:
            raise fault("dimension", f"unknown dimension {self.dimension!r}")
        if self.period is not None and self.as_of is not None:
            raise fault("as_of", "give a period or an as_of date, not both")
        if self.value_max is not None and self.value_max < self.value:
            raise fault("value_max", "value_max is below value")
        if part_exceeds_whole(self.value, self.value_max, self.out_of):
            raise fault("out_of", "out_of is below the value: a part is not more than its whole")
        if why := outside_metric_range(self.metric, self.value, None):
            raise fault("value", why)
        if why := outside_metric_range(self.metric, self.value, self.value_max):
            raise fault("value_max", why)
        if flagged := flag_fault(self.metric, self.value_max, self.out_of, self.qualifier):
            raise fault(*flagged)
        return self

    def bounds(self) -> tuple[date | None, date | None]:
        if self.as_of is not None:
            return self.as_of, self.as_of
        return parse_period(self.period) if self.period else (None, None)


class RoleRecord(FigureRecord):
    person: PersonName
    role: Role
    branch: Key
    as_of: Day | None = None


class ArticleFile(Record):
    """One article and everything drawn from it."""

    format: Literal["branchstats/article-v1"]
    source: SourceRecord
    localities: list[LocalityRecord] = Field(default_factory=list, max_length=5000)
    branches: list[BranchRecord] = Field(default_factory=list, max_length=5000)
    counts: list[CountRecord] = Field(default_factory=list, max_length=5000)
    events: list[EventRecord] = Field(default_factory=list, max_length=5000)
    facts: list[FactRecord] = Field(default_factory=list, max_length=5000)
    roles: list[RoleRecord] = Field(default_factory=list, max_length=5000)

    @model_validator(mode="after")
    def _unique(self) -> "ArticleFile":
        seen: set[str] = set()
        for section in ("localities", "branches"):
            for index, rec in enumerate(getattr(self, section)):
                if rec.key in seen:
                    raise fault(f"{section}.{index}.key", f"key {rec.key!r} is defined twice")
                seen.add(rec.key)
        ids: set[str] = set()
        for section in ("counts", "events", "facts", "roles"):
            for index, rec in enumerate(getattr(self, section)):
                if rec.id in ids:
                    raise fault(f"{section}.{index}.id", f"id {rec.id!r} is used twice")
                ids.add(rec.id)
        return self
