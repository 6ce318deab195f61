"""The shape every list service returns, and the keyset fetch they share."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.engine import RowMapping
from sqlmodel import Session

from app.services.pagination import PageRequest, SortKey, apply_page, encode_cursor

# Counting is not free: exact up to this many rows, null beyond.
TOTAL_CAP = 1_000


@dataclass
class Page:
    items: list[Any]  # dicts, JsonText documents, or tuples of CSV cells (see flat_rows)
    next_cursor: str | None
    total: int | None
    limit: int


# Turns a page of rows into items (and may batch-load what they show).
Render = Callable[[Session, list[RowMapping]], list[Any]]


class PageFetcher(Protocol):
    def __call__(self, session: Session, page: PageRequest, with_total: bool) -> Page: ...


def _capped_count(query: Select[Any]) -> ColumnElement[int]:
    """The number of rows of `query`, counted up to TOTAL_CAP + 1, as a scalar subquery."""
    return (
        select(func.count())
        .select_from(query.order_by(None).limit(TOTAL_CAP + 1).subquery())
        .scalar_subquery()
    )


def fetch_page(
    session: Session,
    query: Select[Any],
    keys: Sequence[SortKey],
    page: PageRequest,
    secret: bytes,
    render: Render | int,
    *,
    with_total: bool,
    count_query: Select[Any] | None = None,
) -> Page:
    """Run one keyset page of `query` and render its rows (render may batch-load extras).

    `render` may instead be a number of columns: the query selects that many CSV cells
    (app.services.json_sql), and the items are those cells, as they come.
    The total is counted on the first page only (later pages carry a cursor), on
    `count_query` when given: the same rows without the joins that only decorate them.
    """
    counting = with_total and not page.cursor
    if counting:
        # In the page's own statement, as a column that does not depend on the row: the
        # database counts once (an uncorrelated subquery), and the page costs one
        # statement, not two.
        query = query.add_columns(
            _capped_count(query if count_query is None else count_query).label("_total")
        )
    # The sort keys come last: the cursor is read from the last row's last columns.
    labelled = query.add_columns(*(k.column.label(f"_k{i}") for i, k in enumerate(keys)))
    # Core statements on the session's connection: the ORM's execution layer cost more
    # than a keyset page's SQL.
    rows = session.connection().execute(apply_page(labelled, keys, page, secret)).all()
    total = None
    if counting:
        # No row on a first page: nothing matches.
        counted = rows[0]._mapping["_total"] if rows else 0
        total = counted if counted <= TOTAL_CAP else None
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor(list(rows[-1][-len(keys) :]), page, secret)
    if isinstance(render, int):
        items: list[Any] = [row[:render] for row in rows]
    else:
        items = render(session, [row._mapping for row in rows])
    return Page(items, next_cursor, total, page.limit)
