"""Items rendered by the database: JSON for pages, flat cells for CSV.

A 50-row page of branches with their provenance is some 60 columns a row; building those
nested dicts in Python cost more than the query itself, and flattening them again for CSV
cost more still. An item is described once, as a `Shape` (an `Obj` of columns, flags,
name lists and nested objects); from it the database renders either the JSON document
(SQLite's `json_object` and PostgreSQL's `json_build_object` take the same arguments and
keep the keys in order) or the CSV cells of any dotted paths. The JSON comes back as text,
ready to send; `JsonText` marks it so that the response encoder embeds it as it is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    String,
    Text,
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
    """A JSON document rendered by the database.

    Not a dataclass: orjson would encode one as an object instead of asking `default`.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def parsed(self) -> Any:
        return orjson.loads(self.text)


def encode_default(value: Any) -> Any:
    """orjson's `default`: database-rendered JSON goes in verbatim."""
    if isinstance(value, JsonText):
        return orjson.Fragment(value.text)
    raise TypeError(f"cannot encode {type(value).__name__}")


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

    def cells(self, shape: Obj, paths: Sequence[str]) -> list[ColumnElement[Any]]:
        """The CSV cells of dotted paths, as app.formats.cell() writes the JSON's values:
        empty when a parent object is null, true/false, names joined by '; ', dates ISO,
        whole floats without '.0'."""
        return [self._cell(shape, path) for path in paths]

    def _cell(self, shape: Obj, path: str) -> ColumnElement[Any]:
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
        leaf = self._leaf_cell(node)
        if parents_present:
            return case((or_(*(p.is_(None) for p in parents_present)), null()), else_=leaf)
        return leaf

    def _leaf_cell(self, leaf: Flag | Names | ColumnElement[Any]) -> ColumnElement[Any]:
        if isinstance(leaf, Flag):
            return case((leaf.value, literal_column("'true'")), else_=literal_column("'false'"))
        if isinstance(leaf, Names):
            names = func.rtrim(func.coalesce(leaf.value, ""), ",")
            return func.replace(names, ",", "; ")
        if isinstance(leaf.type, Boolean):
            return self._leaf_cell(Flag(leaf))
        if isinstance(leaf.type, Float):
            whole = cast(leaf, Integer)
            return case((leaf == whole, cast(whole, String)), else_=cast(leaf, String))
        if isinstance(leaf.type, Date) and self.sqlite:
            return type_coerce(leaf, String)  # stored as ISO text: no need to parse it
        return leaf

    def parameter(self, value: str) -> ColumnElement[Any]:
        """A bound string (typed, so that PostgreSQL knows what it is)."""
        return cast(literal(value), String)

    def text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """The document as text (psycopg would otherwise parse JSON into dicts)."""
        return document if self.sqlite else cast(document, Text)
