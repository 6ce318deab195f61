"""The committed openapi.yaml is what the app serves; every operation is documented."""

import pytest
import yaml

from app.config import REPO_ROOT
from app.openapi import openapi_document, render_openapi


def test_committed_openapi_matches_the_app() -> None:
    committed = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    served = yaml.safe_load(render_openapi(openapi_document()))
    if committed != served:
        # Name what drifted rather than print two whole documents.
        drifted = [
            f"{section} {name}"
            for section, old, new in (
                ("path", committed.get("paths", {}), served.get("paths", {})),
                ("schema", committed["components"]["schemas"], served["components"]["schemas"]),
            )
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        ]
        pytest.fail(
            "openapi.yaml is stale: run `branchstats openapi` and commit the result. "
            f"Differs: {', '.join(drifted) or 'info or security'}"
        )


def test_every_operation_and_parameter_is_described() -> None:
    document = openapi_document()
    operation_ids = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            operation_ids.append(operation["operationId"])
            assert operation.get("description") or operation.get("summary"), (path, method)
            assert operation.get("tags"), (path, method)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description") or parameter["schema"].get("description"), (
                    path,
                    method,
                    parameter["name"],
                )
    assert len(operation_ids) == len(set(operation_ids))
    assert "list_branches" in operation_ids and "get_branch_risk" in operation_ids


def test_every_response_field_is_described() -> None:
    schemas = openapi_document()["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, prop in (schema.get("properties") or {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_errors_are_documented_as_problem_json() -> None:
    document = openapi_document()
    responses = document["paths"]["/branches"]["get"]["responses"]
    assert "application/problem+json" in responses["422"]["content"]
    assert responses["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith(
        "/Problem"
    )
