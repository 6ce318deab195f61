"""The API's index (`GET /`): every read it offers, taken from its own OpenAPI document,
so that a read added later is listed without a line here."""

from typing import Any

INDEX_PATH = "/"


def read_operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each GET operation of `document` (an OpenAPI dict) but the index itself, in the
    document's order: its path (an RFC 6570 template when it has parameters), its
    operationId and summary, the media types of its answer and whether it needs a key."""
    reads = []
    for path, operations in document["paths"].items():
        read = operations.get("get")
        if read is None or path == INDEX_PATH:
            continue
        answer = read.get("responses", {}).get("200", {})
        reads.append(
            {
                "href": path,
                "templated": "{" in path,
                "operation_id": read["operationId"],
                "summary": read.get("summary"),
                "media_types": list(answer.get("content", {})),
                "key_required": bool(read.get("security")),
            }
        )
    return reads
