"""The committed openapi.yaml is generated from the app; a test fails when they differ."""

import re
from pathlib import Path
from typing import Any

import yaml

from app.main import create_app

# Plain scalars YAML 1.2's core schema reads as numbers, which PyYAML (YAML 1.1) writes
# unquoted: "04309", a commune's code, would be the integer 4309 to a YAML 1.2 reader.
_NUMBER_IN_YAML_1_2 = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "'" if _NUMBER_IN_YAML_1_2.fullmatch(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def openapi_document() -> dict[str, Any]:
    return create_app().openapi()


def render_openapi(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def write_openapi(path: Path) -> Path:
    path.write_text(render_openapi(openapi_document()), encoding="utf-8")
    return path
