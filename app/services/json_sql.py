"""Items rendered by the database: JSON for pages, flat cells for CSV.

A 50-row page of branches with their provenance is some 60 columns a row; building those
nested dicts in Python cost more than the query itself, and flattening them again for CSV
cost more still. An item is described once, as a `Shape` (an `Obj` of columns, flags,
name lists and nested objects); from it the database renders either the JSON document
(SQLite's `json_object` and PostgreSQL's `json_build_object` take the same arguments and
keep the keys in order) or the CSV cells of any dotted paths. The JSON comes back as text,
ready to send; `JsonText` marks it so that the response encoder embeds it as it is.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Union

import orjson
import xxhash
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    Date,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    type_coerce,
)
from sqlalchemy.sql.elements import Case, ColumnClause
from sqlalchemy.sql.sqltypes import NullType


@dataclass(frozen=True)
class Flag:
    """A boolean (SQLite has none: 0/1 must be served as false/true)."""

    value: ColumnElement[Any]


@dataclass(frozen=True)
class Names:
    """Names each followed by a comma ('a,b,'), served as a list."""

    value: ColumnElement[Any]


@dataclass(frozen=True)
class Obj:
    """A JSON object, its fields in order; null when `present` is null."""

    fields: dict[str, "Shape"]
    present: ColumnElement[Any] | None = field(default=None)


Shape = Union[Obj, Flag, Names, ColumnElement[Any]]  # noqa: UP007 (a forward reference)


class JsonText:
    """A JSON document rendered by the database, as text or as its UTF-8 bytes.

    Not a dataclass: orjson would encode one as an object instead of asking `default`.
    """

    __slots__ = ("text",)

    def __init__(self, text: str | bytes) -> None:
        self.text = text

    def parsed(self) -> Any:
        return orjson.loads(self.text)


def encode_default(value: Any) -> Any:
    """orjson's `default`: database-rendered JSON goes in verbatim."""
    if isinstance(value, JsonText):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode_json(data: Any) -> bytes:
    """Data as JSON bytes, database-rendered documents embedded as they are."""
    return orjson.dumps(data, default=encode_default)


def etag_of(body: bytes) -> str:
    """A strong ETag: a 128-bit digest of the body's bytes (reads send it; writes check
    If-Match against it and answer with it).

    XXH3, not a cryptographic hash: an ETag tells representations apart, it proves
    nothing (anyone who may write can read the current ETag), and 128 bits make an
    accidental match negligible. SHA-256 took 49 µs of an 88 KB page of branches at risk,
    a tenth of the request on SQLite when built each time; XXH3 takes 0.9 µs.
    """
    return '"' + xxhash.xxh3_128_hexdigest(body) + '"'


def gzip_etag(etag: str) -> str:
    """The strong ETag of a representation's gzip encoding: its identity's, "-gzip"
    inside the quotes. Two encodings are two representations, each with a validator of
    its own (RFC 9110 8.8.3): a cache must not take one's bytes for the other's, nor a
    range of one for the other. If-None-Match and If-Match take either: a browser, which
    always asks for gzip, sends back the one it was given."""
    return etag[:-1] + '-gzip"'


def representation_etag(data: Any) -> str:
    """The ETag of data served as JSON."""
    return etag_of(encode_json(data))


def as_plain(item: Any) -> Any:
    """A list item as Python values (for CSV and NDJSON, which flatten or re-encode)."""
    return item.parsed() if isinstance(item, JsonText) else item


class JsonSql:
    """The JSON functions of one SQL dialect."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def object(self, **pairs: ColumnElement[Any]) -> ColumnElement[Any]:
        build = func.json_object if self.sqlite else func.json_build_object
        args: list[ColumnElement[Any]] = []
        for key, value in pairs.items():
            # Keys are this module's callers' identifiers; as literals, not parameters,
            # because PostgreSQL cannot infer a parameter's type in json_build_object.
            args += [literal_column(f"'{key}'"), value]
        return build(*args)

    def object_or_null(
        self, present: ColumnElement[Any], **pairs: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        """The object when `present` is not null, else JSON null."""
        return case((present.is_(None), null()), else_=self.object(**pairs))

    def boolean(self, condition: ColumnElement[Any]) -> ColumnElement[Any]:
        """true or false; unknown (null) is false on both databases, as in cells."""
        if not self.sqlite:
            return func.coalesce(condition, false())
        # SQLite stores booleans as 0/1: without this they would be served as numbers.
        return case((condition, func.json("true")), else_=func.json("false"))

    def comma_list(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """'a,b,' (each name followed by a comma, as the risk query writes them) as
        ["a", "b"]; null or '' as []. Names must not contain quotes or backslashes."""
        if self.sqlite:
            names = func.rtrim(func.coalesce(column, ""), ",")
            quoted = literal('["') + func.replace(names, ",", '","') + literal('"]')
            return func.json(case((names == "", literal("[]")), else_=quoted))
        return func.to_json(func.array_remove(func.string_to_array(column, ","), ""))

    def render(self, shape: Shape) -> ColumnElement[Any]:
        """The JSON of a shape."""
        if isinstance(shape, Obj):
            fields = {key: self.render(value) for key, value in shape.fields.items()}
            if shape.present is None:
                return self.object(**fields)
            return self.object_or_null(shape.present, **fields)
        if isinstance(shape, Flag):
            return self.boolean(shape.value)
        if isinstance(shape, Names):
            return self.comma_list(shape.value)
        if isinstance(shape.type, Boolean):
            return self.boolean(shape)
        return shape

    def cell(self, shape: Obj, path: str) -> "Cell":
        """The CSV cell of one dotted path, as app.formats.cell() writes the JSON's value
        (true/false, names joined by '; ', dates ISO, whole floats without '.0'), before
        the null of its parent objects is applied (Cell.guarded: empty then)."""
        node: Shape = shape
        parents_present = []
        for part in path.split("."):
            if not isinstance(node, Obj):
                raise KeyError(path)
            if node.present is not None:
                parents_present.append(node.present)
            node = node.fields[part]
        if isinstance(node, Obj):
            raise KeyError(f"{path} is an object, not a cell")
        return Cell(self._leaf_cell(node), tuple(parents_present), _never_quoted(node))

    def _leaf_cell(self, leaf: Flag | Names | ColumnElement[Any]) -> ColumnElement[Any]:
        if isinstance(leaf, Flag):
            return case((leaf.value, literal_column("'true'")), else_=literal_column("'false'"))
        if isinstance(leaf, Names):
            names = func.rtrim(func.coalesce(leaf.value, ""), ",")
            return func.replace(names, ",", "; ")
        if isinstance(leaf.type, Boolean):
            return self._leaf_cell(Flag(leaf))
        if isinstance(leaf.type, Float):
            # A whole number without its ".0", as the JSON flattened writes it. Tested
            # on a 64-bit integer, and only within its range: cast to PostgreSQL's 32-bit
            # INTEGER, a fact of 10^15 households failed every CSV of facts (a 500);
            # CASE tries the cast only where the bound holds.
            whole = cast(leaf, BigInteger)
            return case(
                (func.abs(leaf) >= literal_column(str(2**63)), cast(leaf, String)),
                (leaf == whole, cast(whole, String)),
                else_=cast(leaf, String),
            )
        if isinstance(leaf.type, Date) and self.sqlite:
            return type_coerce(leaf, String)  # stored as ISO text: no need to parse it
        return leaf

    def bound_text(self, name: str) -> ColumnElement[Any]:
        """A string bound at execution by name (typed, so that PostgreSQL knows what it
        is inside a JSON function)."""
        return cast(bindparam(name, type_=String), String)

    def text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """The document as text (psycopg would otherwise parse JSON into dicts)."""
        return document if self.sqlite else cast(document, Text)

    def utf8(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        """JSON text read as its UTF-8 bytes, to be sent as they are: read as text, a
        page of Vietnamese items was decoded by the driver and encoded again for the
        response, which tripled the cost of reading and sending it (379 against 117 µs
        for 51 items, 79 KB)."""
        as_bytes = (
            cast(text, LargeBinary)
            if self.sqlite
            else func.convert_to(text, literal_column("'UTF8'"))
        )
        # No result processing: the driver's bytes are what is sent.
        return type_coerce(as_bytes, NullType())


@dataclass(frozen=True)
class Cell:
    """One CSV cell: its value, the `present` columns of the objects around it (the cell
    is empty when any is null), and whether its text is `plain`: never empty, never in
    need of CSV quotes."""

    value: ColumnElement[Any]
    parents_present: tuple[ColumnElement[Any], ...]
    plain: bool

    def guarded(self, value: ColumnElement[Any] | None = None) -> ColumnElement[Any]:
        """`value` (the cell's own by default), null when a parent object is null."""
        value = self.value if value is None else value
        if not self.parents_present:
            return value
        return case((or_(*(p.is_(None) for p in self.parents_present)), null()), else_=value)


# Numbers, days and booleans are written with digits, signs, '.', '-', 'e' and letters:
# never empty, never a comma, a double quote, CR or LF.
_PLAIN_TYPES = (Integer, Numeric, Float, Date, Boolean)


def _never_quoted(leaf: Flag | Names | ColumnElement[Any]) -> bool:
    """Whether a leaf's cell, when not null, is never empty and never contains a comma,
    a double quote, CR or LF."""
    if isinstance(leaf, Flag):
        return True
    if isinstance(leaf, Names):
        return False
    if isinstance(leaf.type, _PLAIN_TYPES) or _held_to_words(leaf):
        return True
    # A choice between constant words (evidence_date_basis).
    if isinstance(leaf, Case):
        results = [result for _, result in leaf.whens]
        if leaf.else_ is not None:
            results.append(leaf.else_)
        return all(_is_plain_word(result) for result in results)
    return False


# app.models.base.in_list: "kind IN ('village', 'commune')", no value empty or quoted.
_ONE_OF_WORDS = re.compile(r"""(\w+) IN \('[^'",\r\n]+'(, '[^'",\r\n]+')*\)""")


def _held_to_words(leaf: ColumnElement[Any]) -> bool:
    """A table column that a CHECK constraint holds to a list of plain words (kinds,
    statuses, qualifiers): both databases refuse anything else in it."""
    if not isinstance(leaf, Column):
        return False
    for base in leaf.base_columns:
        for constraint in getattr(base.table, "constraints", ()):
            if not isinstance(constraint, CheckConstraint):
                continue
            words = _ONE_OF_WORDS.fullmatch(str(constraint.sqltext))
            if words and words.group(1) == base.name:
                return True
    return False


def _is_plain_word(element: Any) -> bool:
    if not (isinstance(element, ColumnClause) and element.is_literal):
        return False
    text = element.name
    return (
        len(text) > 2
        and text[0] == text[-1] == "'"
        and not any(c in text[1:-1] for c in ",\"\r\n'")
    )
