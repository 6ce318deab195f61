"""Reading record files from disk."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from app.ingest.loader import ImportRejected, RecordProblem
from app.ingest.records import BLANK_MESSAGE, ArticleFile, in_nfc, unstorable
from app.services.text import is_visible

# An article file nests four levels (a list of records, their fields); PyYAML composes
# nodes recursively, so a file of 50,000 "[" ran out of stack (a 500).
MAX_YAML_DEPTH = 32


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys instead of keeping the last,
    nesting deeper than MAX_YAML_DEPTH, and aliases."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self._depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested deeper than {MAX_YAML_DEPTH} levels",
                self.peek_event().start_mark,
            )
        if self.check_event(yaml.AliasEvent):
            # An alias repeats a node without its bytes: seven levels of ten lists made a
            # body of 415 bytes ten million values, which validation copied and walked one
            # by one (7 s and 430 MB; nine levels ended the server, from a security audit).
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)

# Plain scalars read as YAML 1.1 reads them, but for base 60 and timestamps. "1:0:0..."
# was a base-60 integer, in time quadratic in its length (a 2 MB body: some 100 s);
# "2024-02-30" a timestamp whose ValueError was a 500. Days stay text, which the record
# format reads as days, naming the field of one that is not.
_INT, _FLOAT, _TIMESTAMP = (f"tag:yaml.org,2002:{t}" for t in ("int", "float", "timestamp"))
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver(
    _INT,
    re.compile(r"^[-+]?(?:0b[0-1_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_UniqueKeyLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _refuse_base_60(
    construct: Callable[[yaml.SafeLoader, yaml.ScalarNode], object],
) -> Callable[[yaml.SafeLoader, yaml.ScalarNode], object]:
    """The same for a number tagged !!int or !!float."""

    def constructor(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        if ":" in str(node.value):
            raise yaml.constructor.ConstructorError(
                None, None, "base-60 numbers are not read", node.start_mark
            )
        return construct(loader, node)

    return constructor


_UniqueKeyLoader.add_constructor(_INT, _refuse_base_60(yaml.SafeLoader.construct_yaml_int))
_UniqueKeyLoader.add_constructor(_FLOAT, _refuse_base_60(yaml.SafeLoader.construct_yaml_float))


def parse_article_yaml(content: str, label: str) -> ArticleFile:
    try:
        data = yaml.load(content, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ImportRejected([RecordProblem(label, "yaml", str(exc).replace("\n", " "))]) from None
    except (ValueError, AttributeError, TypeError) as exc:
        # What PyYAML's constructors raise for a tagged value they cannot read
        # ("!!timestamp foo", "!!int abc", an integer of more digits than Python reads).
        problem = str(exc) if isinstance(exc, ValueError) else "a value unreadable as its tag"
        raise ImportRejected([RecordProblem(label, "yaml", problem)]) from None
    return validate_article(data, label)


def validate_article(data: object, label: str) -> ArticleFile:
    try:
        return ArticleFile.model_validate(data)
    except ValidationError as exc:
        raise ImportRejected(
            [RecordProblem(label, _where(err), err["msg"]) for err in exc.errors()]
        ) from None


def _where(error: Any) -> str:
    """The dotted path of the field in error: a record's fault across its fields
    (app.ingest.records.fault) names the field to correct after the record's path."""
    path = [str(part) for part in error["loc"]]
    if error["type"] == "record_fault":
        path.append(error["ctx"]["field"])
    return ".".join(path) or "(file)"


def read_article_file(path: Path) -> tuple[ArticleFile, str, Path]:
    """Parse a record file and read the text it points to (which must stay beside it)."""
    article = parse_article_yaml(_utf8_text(path, "yaml"), path.name)
    if article.source.text is not None:
        return article, article.source.text, path
    assert article.source.text_file is not None
    base = path.resolve().parent.parent
    text_path = (path.parent / article.source.text_file).resolve()
    if not text_path.is_relative_to(base) or not text_path.is_file():
        raise ImportRejected(
            [
                RecordProblem(
                    path.name,
                    "source.text_file",
                    f"{article.source.text_file!r} is not a file beside the record file",
                )
            ]
        )
    text = _utf8_text(text_path, "text")
    fault = unstorable(text) or (None if is_visible(text) else BLANK_MESSAGE)
    if fault is not None:
        raise ImportRejected([RecordProblem(text_path.name, "text", fault)])
    return article, in_nfc(text), text_path


def _utf8_text(path: Path, field: str) -> str:
    """A file's text, or a refusal naming the first byte that is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.start + 1].hex()
        message = f"not UTF-8 text: byte 0x{bad} at offset {error.start}"
        raise ImportRejected([RecordProblem(path.name, field, message)]) from None
