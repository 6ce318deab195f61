"""JSON built by the database: list items rendered in SQL, served as they come.

A 50-row page of branches with their provenance is some 60 columns a row; building those
nested dicts in Python cost more than the query itself. SQLite's `json_object` and
PostgreSQL's `json_build_object` take the same (key, value, ...) arguments and keep the
keys in order, so one description serves both. The text comes back ready to send;
`JsonText` marks it so that the response encoder embeds it without re-encoding.
"""

from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, Text, case, cast, func, literal, literal_column, null


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
        if not self.sqlite:
            return condition
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

    def parameter(self, value: str) -> ColumnElement[Any]:
        """A bound string (typed, so that PostgreSQL knows what it is)."""
        return cast(literal(value), String)

    def text(self, document: ColumnElement[Any]) -> ColumnElement[Any]:
        """The document as text (psycopg would otherwise parse JSON into dicts)."""
        return document if self.sqlite else cast(document, Text)
