"""The committed openapi.yaml is generated from the app; a test fails when they differ."""

from pathlib import Path
from typing import Any

import yaml

from app.main import create_app


def openapi_document() -> dict[str, Any]:
    return create_app().openapi()


def render_openapi(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def write_openapi(path: Path) -> Path:
    path.write_text(render_openapi(openapi_document()), encoding="utf-8")
    return path
