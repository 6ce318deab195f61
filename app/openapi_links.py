"""OpenAPI links: how an item's id and ETag, once a response gives them, feed the
operations on that item.

A client (or a generator of clients, or a stateful fuzzer) reads from them that the `id`
of a created item is the `{..._id}` of its path, and that the `ETag` of a GET, POST or
PATCH is the `If-Match` its next PATCH or DELETE must send. Derived from the paths
themselves, so that an item added later is linked without a line here.
"""

import re
from typing import Any

# "/sources/{source_id}": an item of a collection, and what lies under it ("/text").
_ITEM = re.compile(r"^(?P<collection>/[a-z-]+)/\{(?P<param>[a-z_]+)\}(?P<under>/[a-z-]+)?$")
_IF_MATCH = "header.If-Match"
_ETAG = "$response.header.ETag"
_WHICH_ETAG = (
    " Its If-Match is this response's ETag: that of the item as it is now (a GET's only "
    "when asked without parameters)."
)


def link_items(document: dict[str, Any]) -> dict[str, Any]:
    """Add the links of every item path to `document` (an OpenAPI 3.1 dict), in place."""
    paths: dict[str, dict[str, Any]] = document["paths"]
    for path, operations in paths.items():
        item = _ITEM.match(path)
        if item is None or item["under"]:
            continue
        collection, param = item["collection"], item["param"]
        reads = [
            operations_under["get"]["operationId"]
            for under, operations_under in paths.items()
            if "get" in operations_under
            and (match := _ITEM.match(under))
            and (match["collection"], match["param"]) == (collection, param)
        ]
        in_path = f"$request.path.{param}"
        own = operations.get("get", {}).get("operationId")
        # Where the item's id comes from: a creation's body, or the path it was asked at.
        starts = (
            (_response(paths.get(collection, {}), "post", "201"), "$response.body#/id", reads),
            (_response(operations, "get", "200"), in_path, [r for r in reads if r != own]),
            (_response(operations, "patch", "200"), in_path, reads),
        )
        for response, ident, item_reads in starts:
            if response is not None:
                _add(response, item_reads, operations, param, ident)
    return document


def _response(operations: dict[str, Any], method: str, status: str) -> dict[str, Any] | None:
    return operations.get(method, {}).get("responses", {}).get(status)


def _add(
    response: dict[str, Any], reads: list[str], operations: dict[str, Any], param: str, ident: str
) -> None:
    """Links from `response` to the item's reads and to its changes (with If-Match)."""
    links = response.setdefault("links", {})
    for operation_id in reads:
        links[operation_id] = {
            "operationId": operation_id,
            "parameters": {param: ident},
            "description": f"`{param}` is the item's id.",
        }
    for method in ("patch", "delete"):
        if method in operations:
            operation_id = operations[method]["operationId"]
            links[operation_id] = {
                "operationId": operation_id,
                "parameters": {param: ident, _IF_MATCH: _ETAG},
                "description": f"`{param}` is the item's id." + _WHICH_ETAG,
            }
