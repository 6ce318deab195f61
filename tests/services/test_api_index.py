from typing import Any

from app.services.api_index import read_operations


def _operation(operation_id: str, *media_types: str, **extra: Any) -> dict[str, Any]:
    content = {media_type: {"schema": {}} for media_type in media_types}
    return {
        "operationId": operation_id,
        "summary": operation_id.replace("_", " "),
        "responses": {"200": {"content": content}, "404": {}},
        **extra,
    }


def test_reads_listed_in_the_documents_order_without_writes_or_the_index() -> None:
    document = {
        "paths": {
            "/": {"get": _operation("get_index", "application/json")},
            "/branches": {
                "get": _operation("list_branches", "application/json", "text/csv"),
                "post": _operation("create_branch", "application/json"),
            },
            "/imports": {"post": _operation("import_source", "application/json")},
            "/branches/{branch_id}": {"get": _operation("get_branch", "application/json")},
            "/audit": {
                "get": _operation("get_audit", "application/json", security=[{"apiKey": []}])
            },
        }
    }

    reads = read_operations(document)

    assert [r["operation_id"] for r in reads] == ["list_branches", "get_branch", "get_audit"]
    branches, branch, audit = reads
    assert branches == {
        "href": "/branches",
        "templated": False,
        "operation_id": "list_branches",
        "summary": "list branches",
        "media_types": ["application/json", "text/csv"],
        "key_required": False,
    }
    assert (branch["href"], branch["templated"]) == ("/branches/{branch_id}", True)
    assert audit["key_required"] is True
