"""The shape every list service returns, and the keyset fetch they share."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from app.services.pagination import PageRequest, SortKey, apply_page, encode_cursor

# Counting is not free: exact up to this many rows, null beyond.
TOTAL_CAP = 1_000


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    limit: int


class PageFetcher(Protocol):
    def __call__(self, session: Session, page: PageRequest, with_total: bool) -> Page: ...


def capped_total(session: Session, query: Select[Any]) -> int | None:
    """The number of matching rows, or None past TOTAL_CAP."""
    counted = session.execute(
        select(func.count()).select_from(query.order_by(None).limit(TOTAL_CAP + 1).subquery())
    ).scalar_one()
    return counted if counted <= TOTAL_CAP else None


def fetch_page(
    session: Session,
    query: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    secret: bytes,
    render: Callable[[Session, list[RowMapping]], list[dict[str, Any]]],
    *,
    with_total: bool,
    count_query: Select[Any] | None = None,
) -> Page:
    """Run one keyset page of `query` and render its rows (render may batch-load extras).

    The total is counted on the first page only (later pages carry a cursor), on
    `count_query` when given: the same rows without the joins that only decorate them.
    """
    counting = with_total and not page.cursor
    total = (
        capped_total(session, query if count_query is None else count_query) if counting else None
    )
    labelled = query.add_columns(*(k.column.label(f"_k{i}") for i, k in enumerate(keys)))
    rows = list(session.execute(apply_page(labelled, keys, page, secret)).mappings())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([last[f"_k{i}"] for i in range(len(keys))], page, secret)
    return Page(render(session, rows), next_cursor, total, page.limit)
