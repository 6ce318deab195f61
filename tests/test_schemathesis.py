"""Property-based API testing, driven by the app's own OpenAPI (issue 8, point 1).

Every GET operation, on SQLite and on PostgreSQL, with a fixed example budget and a fixed
seed (`derandomize`): schema-valid requests (positive) and schema-violating ones (negative).
Checks: no 5xx; the status code, content type, headers and body are the ones the operation
declares; and a schema-violating request is refused with a 4xx.

A failure is shrunk by Hypothesis to a minimal request and reported with a curl command.
"""

import copy
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks as st_checks
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks as openapi_checks

from app.config import Settings
from app.main import create_app
from tests.servers import say

# Examples per operation and mode: 30 + 20 for each GET operation, well under a minute a backend.
POSITIVE_EXAMPLES = 30
NEGATIVE_EXAMPLES = 20
BASE_URL = "http://testserver"
# Refusals a schema-violating request may get: 401 when it lacks the Authorization header an
# operation requires (GET /audit, for writers), 414 when a generated string makes the query
# string longer than the documented limit.
REJECTIONS = [400, 401, 403, 404, 414, 422]
CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


def _get_operations() -> list[tuple[str, bool]]:
    """(path, has parameters) for every GET operation the app declares."""
    document = create_app().openapi()
    return [
        (path, any(p["in"] != "header" for p in item["get"].get("parameters", [])))
        for path, item in document["paths"].items()
        if "get" in item
    ]


OPERATIONS = _get_operations()
CASES = [
    pytest.param(path, mode, id=f"{mode}-GET {path}")
    for path, has_parameters in OPERATIONS
    for mode in ("positive", "negative")
    # Without parameters (/health, /risk/rules), or with only If-None-Match, which any
    # text satisfies, there is nothing to violate.
    if mode == "positive" or has_parameters
]


def _without_null_query_values(document: dict[str, Any]) -> dict[str, Any]:
    """The document with `null` dropped from query parameters' `anyOf`.

    FastAPI declares an optional query parameter as `anyOf: [T, null]`. A query string
    cannot carry a null (the parameter is simply absent), and schemathesis would send the
    text "null" as a "valid" value, spending the budget on requests the API rightly refuses.
    """
    document = copy.deepcopy(document)
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if "anyOf" not in schema:
                    continue
                kept = [s for s in schema["anyOf"] if s != {"type": "null"}]
                if len(kept) == 1:
                    del schema["anyOf"]
                    schema.update(kept[0])
                else:
                    schema["anyOf"] = kept
    return document


@dataclass
class Target:
    backend: str
    app: FastAPI
    schema: Any
    client: Any
    requests: int = 0
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)


@pytest.fixture(scope="module")
def target(
    backend: str, shared_seeded_url: str, request: pytest.FixtureRequest
) -> Iterator[Target]:
    """The app over the backend's seeded database, its OpenAPI loaded by schemathesis."""
    app = create_app(Settings(database_url=shared_seeded_url))
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
    )
    schema = schemathesis.openapi.from_dict(
        _without_null_query_values(app.openapi()), config=config
    )
    # One in-process client: the app's lifespan (its engine) starts once, not per request.
    with asgi.get_client(app) as client:
        found = Target(backend, app, schema, client)
        yield found
    app.state.engine.dispose()
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(found.statuses.items()))
    say(
        request.config,
        f"schemathesis [{backend}]: {found.requests} requests over {found.operations} "
        f"operation/mode pairs in {time.monotonic() - found.started:.1f}s; statuses {statuses}",
    )


@pytest.mark.parametrize(("path", "mode"), CASES)
def test_operation_conforms_to_its_schema(target: Target, path: str, mode: str) -> None:
    generation = GenerationMode(mode)
    operation = target.schema[path]["GET"]
    checks = [*CHECKS]
    if generation.is_negative:
        checks.append(openapi_checks.negative_data_rejection)

    @settings(
        max_examples=POSITIVE_EXAMPLES if generation.is_positive else NEGATIVE_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation))
    def exercise(case: Any) -> None:
        response = case.call(base_url=BASE_URL, session=target.client)
        target.requests += 1
        target.statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    target.operations += 1
    exercise()
