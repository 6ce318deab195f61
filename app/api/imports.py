"""/imports: a whole article in the record format, all or nothing, with a dry run."""

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from app.api.auth import KeyFirstRoute, Writer, problem
from app.api.common import api_router
from app.api.spellings import TRUE_OR_FALSE
from app.api.writes import CREATE_ERRORS, Idempotency, run
from app.ingest.records import ArticleFile
from app.schemas.writes import ImportReportOut
from app.services.imports import import_body, parse_body

router = api_router(tags=["imports"], route_class=KeyFirstRoute)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema with its $defs inlined: an operation's requestBody cannot point
    into a model's own $defs, and the article format has no recursion."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "One article file in the record format of seed/FORMAT.md "
        "(`format: branchstats/article-v1`), with the article's text inline in `source.text`.",
        "content": {
            "application/json": {"schema": _inline_refs(ArticleFile.model_json_schema())},
            "application/yaml": {
                "schema": {"type": "string", "description": "The same file, as YAML."}
            },
        },
    }
}


async def raw_body(request: Request) -> bytes:
    """The body as sent: JSON or YAML, parsed by the service (415 for anything else)."""
    return await request.body()


@router.post(
    "/imports",
    response_model=ImportReportOut,
    responses={
        **CREATE_ERRORS,
        400: problem(
            "An unknown or repeated query parameter, or a body that cannot be read (bytes "
            "that are not UTF-8; JSON nested too deep); or two Authorization headers."
        ),
        409: problem(
            "The file would undo an edit made through the API (use force=true to let the "
            "file win); or it conflicts with stored data; or the database holds synthetic "
            "data (`branchstats synth`), which takes no writes. Nothing was written."
        ),
        415: problem(
            "The body is neither application/json nor application/yaml, or has a "
            "Content-Encoding (none is read)."
        ),
        422: problem(
            "A record is invalid or its quote is not in the text, or the JSON has a syntax "
            "error (`body.<offset>`); `errors` names each. Nothing was written."
        ),
    },
    openapi_extra=IMPORT_BODY,
    summary="Import an article",
)
def import_article(
    request: Request,
    caller: Writer,
    idempotency: Idempotency,
    body: Annotated[bytes, Depends(raw_body)],
    dry_run: Annotated[
        bool,
        Query(
            description="true: report what would be added, changed, removed or in "
            "conflict, and write nothing."
        ),
        TRUE_OR_FALSE,
    ] = False,
    force: Annotated[
        bool,
        Query(
            description="true: the file wins over records changed through the API since "
            "they were imported (logged in the audit)."
        ),
        TRUE_OR_FALSE,
    ] = False,
) -> Response:
    """Add or update one article and everything drawn from it, in one transaction.

    The same file sent again changes nothing.
    """
    article = parse_body(body, request.headers.get("content-type", ""))
    return run(
        request,
        caller,
        lambda session, ctx: import_body(session, ctx, article, dry_run=dry_run, force=force),
        idempotency=idempotency,
        dry_run=dry_run,
    )
