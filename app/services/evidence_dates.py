"""A figure's evidence_date, and how it was set (evidence_date_basis).

One rule for the loader, the writes, a source's new date and `branchstats check`, so that
imported and written figures compare alike.
"""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal_column


def evidence_day(own: date | None, published_on: date | None, registered_on: date) -> date:
    """The latest day the figure can describe: its own date (an as_of, a period's end),
    but never after the article that reports it: "Năm 2023" in an article of 18 December
    2023 describes 2023 up to that day, and risk as of 20 December must see it. With no
    date of its own, the article's day, or the day the dataset first held the article
    (an upper bound)."""
    held = published_on or registered_on
    return held if own is None else min(own, held)


def evidence_basis(own: date | None, derived: bool, published_on: date | None) -> str:
    """stated: the text prints the figure's date; derived: the date is worked out from
    the text (its date_note says how); published: dated by the article (no date of its
    own, or one on or after the article's); registered: by the day the dataset first
    held an undated article."""
    if own is None or (published_on is not None and own >= published_on):
        return "published" if published_on is not None else "registered"
    return "derived" if derived else "stated"


def evidence_basis_sql(
    own: ColumnElement[Any], derived: ColumnElement[Any], published_on: ColumnElement[Any]
) -> ColumnElement[str]:
    """evidence_basis() in SQL, for rows rendered by the database."""
    # Flat, each result a constant word: JSON written by the database then needs no
    # escaping of it (app.services.json_sql).
    published: ColumnElement[str] = literal_column("'published'")
    registered: ColumnElement[str] = literal_column("'registered'")
    return case(
        (and_(own.is_(None), published_on.is_not(None)), published),
        (own.is_(None), registered),
        (and_(published_on.is_not(None), own >= published_on), published),
        (derived, literal_column("'derived'")),
        else_=literal_column("'stated'"),
    )
