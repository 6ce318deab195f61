"""The two trees, places and organizations: what may sit under what.

One set of rules for the writes (app.services.write_places), the imports
(app.ingest.loader) and `branchstats check` (app.services.data_check). A place sits
under a place of a higher level (a village under a commune, never a province under a
village); an organization under one of a higher level where both kinds have one (a
village's chi bộ under a commune's đảng bộ, never a province's under a commune's); and
nothing is its own ancestor. A unit whose ancestors are out of order is counted under
the wrong province, and a loop drops its organizations' members from every sum. An
organization stands at most SUMMED_DEPTH below the top of its tree: the sums look that
far up for a count that already includes one's (a party cell's under a branch's under a
commune's, a district's and a province's committee), and a deeper one's would be added
beside it.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import Session

from app.models import Branch, Locality
from app.services.refs import table
from app.services.summary import MAX_DEPTH as SUMMED_DEPTH

MAX_DEPTH = 12  # deeper than any administrative or party tree; stops a corrupt loop

# A place's level, from the top; a parent's is lower than its child's. The reform's
# communes sit under provinces directly, skipping a level.
LOCALITY_LEVEL: dict[str, int] = {
    "province": 0,
    "city_province": 0,
    "district": 1,
    "town": 1,
    "city": 1,
    "commune": 2,
    "ward": 2,
    "township": 2,
    "special_zone": 2,
    "village": 3,
}
# An organization's, where its kind says it: an agency's đảng bộ stands at a province's
# level or a district's, and `other` is any kind the text does not say.
BRANCH_LEVEL: dict[str, int] = {
    "province_committee": 0,
    "district_committee": 1,
    "commune_committee": 2,
    "grassroots_branch": 3,
    "village_branch": 3,
    "school_branch": 3,
    "health_station_branch": 3,
    "agency_branch": 3,
    "enterprise_branch": 3,
    "party_cell": 4,
}
_LEVELS: dict[Any, dict[str, int]] = {Locality: LOCALITY_LEVEL, Branch: BRANCH_LEVEL}
_NOUN = {Locality: "a place", Branch: "an organization"}


def misplaced(model: Any, kind: str, parent_kind: str | None) -> str | None:
    """Why a row of `kind` may not sit under one of `parent_kind`, or None."""
    levels = _LEVELS[model]
    if parent_kind is None or kind not in levels or parent_kind not in levels:
        return None
    if levels[parent_kind] < levels[kind]:
        return None
    return f"{_NOUN[model]} of kind {kind} cannot sit under one of kind {parent_kind}"


def misplaced_children(session: Session, model: Any, row_id: int, kind: str) -> str | None:
    """Why a row given `kind` would stand above a child it may not, or None."""
    children = session.execute(
        select(model.id, model.kind).where(model.parent_id == row_id).order_by(model.id)
    )
    for child_id, child_kind in children:
        if why := misplaced(model, child_kind, kind):
            return f"its child {child_id}: {why}"
    return None


def loops(session: Session, model: Any, row_id: int | None, parent_id: int | None) -> bool:
    """True when parent_id is the row itself or lies under it."""
    seen = 0
    while parent_id is not None and seen < MAX_DEPTH:
        if parent_id == row_id:
            return True
        parent_id = session.execute(
            select(model.parent_id).where(model.id == parent_id)
        ).scalar_one_or_none()
        seen += 1
    return parent_id is not None


def too_deep(session: Session, model: Any, row_id: int | None, parent_id: int | None) -> str | None:
    """Why an organization under `parent_id` (with its descendants, when it exists)
    would stand deeper than SUMMED_DEPTH below the top of its tree, or None."""
    if model is not Branch or parent_id is None:
        return None  # places: at most four levels, by their kinds
    b = table(Branch)
    above, ident = 1, parent_id  # its parent, then the parent's ancestors
    while above <= SUMMED_DEPTH:
        next_id = session.execute(select(b.c.parent_id).where(b.c.id == ident)).scalar()
        if next_id is None:
            break
        above, ident = above + 1, next_id
    below, frontier = 0, [row_id] if row_id is not None else []
    while frontier and above + below <= SUMMED_DEPTH:
        children = select(b.c.id).where(b.c.parent_id.in_(frontier))
        frontier = list(session.execute(children).scalars())
        below += bool(frontier)
    if above + below <= SUMMED_DEPTH:
        return None
    return (
        f"would put {'an organization under it' if below else 'it'} more than "
        f"{SUMMED_DEPTH} organizations below the top of its tree: the sums over places "
        f"look {SUMMED_DEPTH} levels up for a count that includes an organization's"
    )


def _too_deep_in(parents: Mapping[int, int | None], on_loops: set[int]) -> Iterable[int]:
    """The rows more than SUMMED_DEPTH below the top of their tree (loops left out)."""
    depths: dict[int, int] = {}
    for start in parents:
        path: list[int] = []
        node: int | None = start
        while node is not None and node in parents and node not in depths:
            if node in on_loops:
                break
            path.append(node)
            node = parents[node]
        depth = depths.get(node, -1) if node is not None else -1
        for visited in reversed(path):
            depth += 1
            depths[visited] = depth
    return (ident for ident, depth in depths.items() if depth > SUMMED_DEPTH)


def stored_tree_problems(connection: Connection, model: Any) -> dict[int, str]:
    """Every stored row of `model` that is its own ancestor, or sits under a parent of a
    kind it may not: its id and why. Reads the ids, parents and kinds of the whole table
    (some 375,000 rows at national scale)."""
    rows = table(model)
    kinds: dict[int, str] = {}
    parents: dict[int, int | None] = {}
    for ident, parent_id, kind in connection.execute(
        select(rows.c.id, rows.c.parent_id, rows.c.kind)
    ):
        kinds[ident], parents[ident] = kind, parent_id
    problems = {ident: "it is its own ancestor" for ident in _in_loops(parents)}
    if model is Branch:
        for ident in _too_deep_in(parents, set(problems)):
            problems[ident] = (
                f"it stands more than {SUMMED_DEPTH} organizations below the top of its tree"
            )
    for ident, parent_id in parents.items():
        parent_kind = kinds.get(parent_id) if parent_id is not None else None
        if ident not in problems and (why := misplaced(model, kinds[ident], parent_kind)):
            problems[ident] = why
    return problems


def _in_loops(parents: Mapping[int, int | None]) -> Iterable[int]:
    """The rows on a loop of parents (not those only under one)."""
    state: dict[int, int] = {}  # 1: on the path being walked; 2: done
    for start in parents:
        path: list[int] = []
        node: int | None = start
        while node is not None and node in parents and node not in state:
            state[node] = 1
            path.append(node)
            node = parents[node]
        if node is not None and state.get(node) == 1:
            yield from path[path.index(node) :]
        for visited in path:
            state[visited] = 2
