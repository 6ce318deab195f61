"""Every integer and boolean a URL carries has one spelling (app/api/spellings.py): the
validators are checked on the app's own parameters, so that one added without them
(as `records=` on a place's stats was, until a review) fails here."""

from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.spellings import DIGITS_ONLY, TRUE_OR_FALSE
from app.main import create_app


def _url_parameters(dependant: Dependant) -> Iterator[Any]:
    yield from dependant.query_params
    yield from dependant.path_params
    for sub in dependant.dependencies:
        yield from _url_parameters(sub)


def _typed(kind: type) -> list[tuple[str, str, Any]]:
    found = []
    for route in create_app().routes:
        if not isinstance(route, APIRoute):
            continue
        for parameter in _url_parameters(route.dependant):
            annotation = parameter.field_info.annotation
            if annotation is kind or kind in get_args(annotation):
                found.append((route.path, parameter.name, parameter.field_info))
    return found


@pytest.mark.parametrize(("kind", "validator"), [(int, DIGITS_ONLY), (bool, TRUE_OR_FALSE)])
def test_every_integer_and_boolean_in_a_url_has_one_spelling(kind: type, validator: Any) -> None:
    parameters = _typed(kind)
    assert len(parameters) > 5
    assert [(path, name) for path, name, info in parameters if validator not in info.metadata] == []


@pytest.mark.parametrize(
    "url",
    ["/branches/01", "/branches?limit=010", "/localities/1/stats?records=1_0", "/branches/1.0"],
)
def test_a_second_spelling_is_refused(api: Any, url: str) -> None:
    assert api.get(url).status_code in (400, 422), url
