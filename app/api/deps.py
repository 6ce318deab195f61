"""Shared request parsing: strict query parameters, pages, formats."""

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Query, Request
from fastapi import params as params_module
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from app.api.spellings import DIGITS_ONLY, TRUE_OR_FALSE
from app.errors import ApiError, FieldError
from app.services.pagination import CURSOR_MAX_LENGTH, PageRequest, filters_digest

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
Format = Literal["json", "csv", "ndjson"]


@dataclass(frozen=True)
class DeclaredQuery:
    """A route's query parameters: their names, and the defaults some declare, as a URL
    spells them."""

    names: frozenset[str]
    defaults: dict[str, str]


def _declared_query(dependant: Dependant) -> DeclaredQuery:
    params = get_flat_params(dependant)
    queries = [p for p in params if isinstance(p.field_info, params_module.Query)]
    defaults = {p.alias: _as_spelled(p.default) for p in queries if p.default is not None}
    return DeclaredQuery(frozenset(p.alias for p in queries), defaults)


def _as_spelled(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# By the route's id, with the route: held here, its id is not another's. (Keyed by the id
# alone, a route of an app gone, as tests make and drop them, lent its names to a new
# route given the same id: a 400 for parameters the new one declares.)
_DECLARED: dict[int, tuple[APIRoute, DeclaredQuery]] = {}


def _declared_for(route: APIRoute) -> DeclaredQuery:
    """The query parameters a route declares (routes are long-lived: cached by identity)."""
    found = _DECLARED.get(id(route))
    if found is None or found[0] is not route:
        found = _DECLARED[id(route)] = (route, _declared_query(route.dependant))
    return found[1]


async def reject_unknown_params(request: Request) -> None:
    """A mistyped filter must never return unfiltered data: unknown names are a 400."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _declared_for(route).names
    params = request.query_params
    unknown = sorted({name for name in params if name not in allowed})
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise _refused(
            400,
            "Unknown query parameter(s)",
            unknown,
            "unknown parameter",
            "unknown",
            f"Accepted: {accepted}.",
        )
    undecodable = _not_utf8(request.scope.get("query_string", b""))
    if undecodable:
        raise _refused(
            400,
            "Query parameter(s) not percent-encoded UTF-8",
            undecodable,
            "not percent-encoded UTF-8",
            "encoding",
        )
    repeated = sorted({k for k in params if len(params.getlist(k)) > 1})
    if repeated:
        raise _refused(
            400,
            "Query parameter(s) given more than once",
            repeated,
            "given more than once",
            "repeated",
        )
    # PostgreSQL text cannot hold NUL: left to the driver, `q=%00` was a 500 there.
    with_nul = sorted({k for k, v in params.multi_items() if "\x00" in v})
    if with_nul:
        raise _refused(
            422,
            "Query parameter(s) containing a NUL character",
            with_nul,
            "contains a NUL character",
            "nul",
        )


class _RepeatedName(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _named_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise _RepeatedName(next(n for n in names if names.count(n) > 1))
    return dict(pairs)


async def refuse_repeated_names(request: Request) -> None:
    """A JSON write's body that names a field twice is a 422 naming it: read as JSON
    readers do, the last value won and the first was dropped unseen ({"name": "x",
    "name": "y"} renamed the branch "y"), where an unknown field is refused so that no
    typo is dropped."""
    body = await request.body()  # cached by Starlette: FastAPI has read it as JSON
    if not body:
        return
    try:
        json.loads(body, object_pairs_hook=_named_once)
    except _RepeatedName as repeated:
        message = "given more than once: which value is meant?"
        raise ApiError(
            422,
            f"A field of the body is given more than once: {repeated.name}.",
            errors=[FieldError(field=f"body.{repeated.name}", message=message, type="repeated")],
        ) from None
    except (ValueError, RecursionError):  # unreadable: FastAPI's own reading answered it
        return


def _refused(
    status: int, summary: str, names: list[str], message: str, kind: str, more: str = ""
) -> ApiError:
    """Query parameters refused for one reason, each named (`query.<name>`)."""
    return ApiError(
        status,
        " ".join(filter(None, (f"{summary}: {', '.join(names)}.", more))),
        errors=[FieldError(field=f"query.{n}", message=message, type=kind) for n in names],
    )


# "%" not followed by two hex digits (RFC 3986 2.1).
_STRAY_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _not_utf8(query: bytes) -> list[str]:
    """The names whose value is not percent-encoded UTF-8 ("%C3" alone, a stray "%"):
    read with replacement characters or as typed, `q=%C3` searched for something else and
    answered an empty page, which reads as "none"."""
    if b"%" not in query and query.isascii():  # nothing escaped: nothing to decode
        return []
    names = []
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        value = value.replace(b"+", b" ")
        try:
            if _STRAY_PERCENT.search(value):
                raise ValueError(value)
            unquote_to_bytes(value).decode("utf-8")
        except ValueError:  # UnicodeDecodeError is one
            names.append(unquote_to_bytes(name).decode("utf-8", "replace"))
    return sorted(set(names))


BomParam = Annotated[
    bool,
    Query(description="CSV only: start with a UTF-8 byte order mark, for Excel."),
    TRUE_OR_FALSE,
]


class ListParams:
    """Page, sort and format parameters that every list takes."""

    def __init__(
        self,
        request: Request,
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_PAGE_SIZE,
                description=(
                    f"Page size, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}). "
                    "For format=csv or ndjson without a limit, the whole result is streamed."
                ),
                examples=[50],
            ),
            DIGITS_ONLY,
        ] = None,
        cursor: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=CURSOR_MAX_LENGTH,
                description="Opaque cursor from the previous page's `next_cursor`.",
            ),
        ] = None,
        format: Annotated[
            Format | None,
            Query(
                description=(
                    "json (default), csv or ndjson. Without it, chosen by the Accept header "
                    "(application/json, text/csv, application/x-ndjson, with their q "
                    "values; */* is JSON)."
                )
            ),
        ] = None,
        bom: BomParam = False,
    ) -> None:
        self.request = request
        self.explicit_limit = limit
        self.limit = limit or DEFAULT_PAGE_SIZE
        self.cursor = cursor
        self.format: Format = format or _format_from_accept(request.headers.get("accept", ""))
        self.bom = bom

    @property
    def streams_all(self) -> bool:
        """An export without an explicit limit streams every matching row."""
        return self.format != "json" and self.explicit_limit is None

    def page(self, sort: str) -> PageRequest:
        # The path is part of the digest: without it, a /branches cursor was accepted by
        # /facts (same sort, no filters) and read there as a position in another table.
        # The filters are digested as they choose rows, not as spelled: a default written
        # out (kind=admission on /admissions) is the filter left out, and the sort, given
        # or not, is compared as `sort` (id is id, with sort=id or without), so a cursor
        # follows a front end that spells its query out from the second page on.
        route = self.request.scope.get("route")
        defaults = _declared_for(route).defaults if isinstance(route, APIRoute) else {}
        chosen = [
            (name, value)
            for name, value in self.request.query_params.multi_items()
            if name != "sort" and defaults.get(name) != value
        ]
        params = [("path", self.request.scope["path"]), *chosen]
        return PageRequest(
            limit=self.limit, cursor=self.cursor, sort=sort, filters_digest=filters_digest(params)
        )


# The media types each list format answers in (for Accept).
FORMAT_TYPES: dict[Format, tuple[str, ...]] = {
    "json": ("application/json",),
    "csv": ("text/csv",),
    "ndjson": ("application/x-ndjson", "application/ndjson"),
}


def _format_from_accept(
    accept: str, offered: tuple[Format, ...] = ("json", "csv", "ndjson")
) -> Format:
    """The format Accept prefers (RFC 9110, 12.5.1), of those `offered`: a format's
    quality is that of the most specific range matching its media type; the highest
    wins, then the one whose range is listed first, then JSON; JSON too when none is
    acceptable (q=0 only)."""
    if not accept or accept == "*/*":  # most clients: nothing to weigh
        return "json"
    ranges = [_media_range(part, n) for n, part in enumerate(accept.lower().split(","))]
    best: tuple[float, int, Format] = (0.0, 0, "json")
    for fmt in offered:
        media_types = FORMAT_TYPES[fmt]
        for media_type in media_types:
            wild = media_type.split("/")[0] + "/*"
            matching = [r for r in ranges if r[0] in (media_type, wild, "*/*")]
            if matching:
                _, q, n = max(matching, key=lambda r: (r[0] == media_type, r[0] == wild))
                best = max(best, (q, -n, fmt), key=lambda b: b[:2])
    return best[2] if best[0] > 0 else "json"


def _media_range(part: str, position: int) -> tuple[str, float, int]:
    """A range of Accept: its media type, its q (1 unless given; 0 when unreadable), and
    where it stands."""
    media, *params = (piece.strip() for piece in part.split(";"))
    q = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
            q = q if 0.0 <= q <= 1.0 else 0.0  # NaN too
    return media, q, position


ListParamsDep = Annotated[ListParams, Depends()]

TableFormat = Literal["json", "csv"]


class TableParams:
    """The format of an answer that is one document and one table, not a page (a place's
    yearly stats): JSON, or CSV."""

    def __init__(
        self,
        request: Request,
        format: Annotated[
            TableFormat | None,
            Query(
                description=(
                    "json (default) or csv. Without it, chosen by the Accept header "
                    "(application/json, text/csv, with their q values; */* is JSON)."
                )
            ),
        ] = None,
        bom: BomParam = False,
    ) -> None:
        accepted = _format_from_accept(request.headers.get("accept", ""), ("json", "csv"))
        self.format: TableFormat = format or ("csv" if accepted == "csv" else "json")
        self.bom = bom


TableParamsDep = Annotated[TableParams, Depends()]


def secret_of(request: Request) -> bytes:
    settings: Any = request.app.state.settings
    return str(settings.cursor_secret).encode()
