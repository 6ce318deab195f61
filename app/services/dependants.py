"""What a row in use is used by: each kind of figure counted, with the list that shows it.

A refusal to delete ("Branch 13 is used by 1 membership counts, 2 events") left the
editor to find the records; the events' list shows one kind at a time, so "2 events"
was four lists to try.
"""

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.models import Fact, MembershipCount, MembershipEvent

EVENT_KINDS = {
    "admission": "admissions",
    "departure": "departures",
    "transfer_in": "transfers in",
    "transfer_out": "transfers out",
}


def figures_using(session: Session, by: str, ident: int) -> list[str]:
    """The figures whose `by` (branch, source) is `ident`, each kind with its list:
    "2 departures (/admissions?branch=13&kind=departure)"."""
    found = []
    if n := _count(session, MembershipCount, by, ident):
        found.append(f"{n} membership counts (/membership-counts?{by}={ident})")
    column = getattr(MembershipEvent, f"{by}_id")
    kinds = session.execute(
        select(MembershipEvent.kind, func.count())  # type: ignore[call-overload]
        .where(column == ident)
        .group_by(MembershipEvent.kind)
    ).all()
    found += [
        f"{n} {EVENT_KINDS[kind]} (/admissions?{by}={ident}&kind={kind})"
        for kind, n in sorted(kinds, key=lambda row: list(EVENT_KINDS).index(row[0]))
    ]
    if n := _count(session, Fact, by, ident):
        found.append(f"{n} facts (/facts?{by}={ident})")
    return found


def _count(session: Session, model: Any, by: str, ident: int) -> int:
    column = getattr(model, f"{by}_id")
    counted = select(func.count()).select_from(model).where(column == ident)
    return int(session.execute(counted).scalar_one())
