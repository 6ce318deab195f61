"""commune_yearly_totals: the sums of app.services.yearly_rows per commune, measure, year.

A province holds ~150,000 yearly rows at national scale, too many to add up per request
(issue 7). Within a year an organization whose parent (up to MAX_DEPTH levels) reports the
same measure is left out of a sum. An ancestor in the same commune is in every place that
covers the row, so those rows are left out here; an ancestor outside the commune (a
province committee) may or may not be in the place asked for, so the totals keep it in
`above1`..`above4` and app.services.stats decides when reading.

The same few statements rebuild one commune after a write and every commune after a
load: per branch, its ancestors inside its commune and outside it; the (branch, measure,
year) those inside ancestors report; the rows none of them covers, summed. Each reads
the rows once: joining the rows to themselves once per ancestor level, 200 communes at a
time, as this did before, took 110 s of PostgreSQL's 177 s of derived data at scale 1.0.
"""

from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    except_,
    func,
    insert,
    literal,
    not_,
    null,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.expression import Executable
from sqlmodel import Session

from app.models import Branch, MembershipEvent
from app.models.localities import CommuneYearlyTotal
from app.reader import shared
from app.services.refs import alias, table
from app.services.summary import MAX_DEPTH
from app.services.yearly_rows import (
    SAMPLE_SIZE,
    SPANNING,
    BranchFilter,
    ancestors,
    event_rows,
    member_rows,
    single_year,
)

PLACES = ["province_id", "district_id", "commune_id"]
ABOVE = [f"above{d}" for d in range(1, MAX_DEPTH + 1)]
INSIDE = [f"inside{d}" for d in range(1, MAX_DEPTH + 1)]
TOTAL_KEY = [*PLACES, "measure", "year"]
TOTAL_COLUMNS = [
    *TOTAL_KEY,
    *ABOVE,
    "records",
    "low",
    "high",
    "bounded",
    "approximate",
    "min_id",
    "sample",
]
# Spanning rows have no ancestors outside and no upper bound.
SPANNING_COLUMNS = [*TOTAL_KEY, "records", "low", "bounded", "approximate", "min_id", "sample"]
REPORTED = ["branch_id", "measure", "year"]


def _same_place(a: Any, b: Any) -> ColumnElement[bool]:
    return and_(a.c.id.is_not(None), *(a.c[c].is_not_distinct_from(b.c[c]) for c in PLACES))


def _nth_present(values: list[Any], n: int) -> Any:
    """The n-th non-null of some columns (NULL if fewer), as SQL."""
    if not values:
        return cast(null(), Integer)  # typed: PostgreSQL reads a bare NULL as text
    if n == 1:
        return func.coalesce(*values) if len(values) > 1 else values[0]
    first, rest = values[0], values[1:]
    return case((first.is_not(None), _nth_present(rest, n - 1)), else_=_nth_present(rest, n))


def _chains(where: BranchFilter) -> Select[Any]:
    """Per branch: its place, its ancestors in the same place by depth (`inside1`..,
    NULL elsewhere), and those outside it without the gaps (`above1`..).

    A village branch under the commune committee under the province committee and the
    commune committee itself both have (province committee) as `above1`, and so share
    totals rows.
    """
    b = alias(Branch, "tb")
    query, chain = ancestors(select(b.c.id).select_from(b).where(where(b)), b, "ta")
    positional = query.with_only_columns(
        b.c.id,
        *(b.c[c] for c in PLACES),
        *(case((_same_place(a, b), a.c.id)).label(n) for a, n in zip(chain, INSIDE, strict=True)),
        *(
            case((and_(a.c.id.is_not(None), not_(_same_place(a, b))), a.c.id)).label(f"out{d}")
            for d, a in enumerate(chain, start=1)
        ),
    ).subquery("positional")
    outside = [positional.c[f"out{d}"] for d in range(1, MAX_DEPTH + 1)]
    return select(
        positional.c.id,
        *(positional.c[c] for c in PLACES),
        *(positional.c[n] for n in INSIDE),
        *(_nth_present(outside, n).label(name) for n, name in enumerate(ABOVE, start=1)),
    )


def _insiders(chains: Any) -> CompoundSelect[Any]:
    """The ids of the branches that are some branch's ancestor inside its commune."""
    return union(*(select(chains.c[n].label("id")).where(chains.c[n].is_not(None)) for n in INSIDE))


def _reported(insiders: Any) -> Select[Any]:
    """The (branch, measure, year) that the ancestors inside a commune report: their own
    rows, a few percent of all."""

    def inside(b: Any) -> ColumnElement[bool]:
        return b.c.id.in_(select(insiders.c.id))

    rows = union_all(member_rows(inside), event_rows(inside)).subquery("inside_rows")
    return select(rows.c.branch_id, rows.c.measure, rows.c.year).distinct()


def _uncovered(where: BranchFilter, chains: Any, reported: Any, inside: list[str] = INSIDE) -> Any:
    """The rows of the branches `where(branch)` selects that no ancestor inside their
    commune covers, with the key of their totals row; from the branches' `chains` and
    what is `reported` inside (a CTE or a table each). `inside`: the chains' columns of
    ancestors inside to look at (those that are not all NULL)."""
    data = union_all(member_rows(where), event_rows(where)).subquery("commune_rows")
    query = select(data.c.id).select_from(data).join(chains, chains.c.id == data.c.branch_id)
    uncovered = []
    for name in inside:
        covering = reported.alias(f"covering_{name}")
        query = query.outerjoin(
            covering,
            and_(
                covering.c.branch_id == chains.c[name],
                covering.c.measure == data.c.measure,
                covering.c.year == data.c.year,
            ),
        )
        uncovered.append(covering.c.branch_id.is_(None))
    return (
        query.with_only_columns(
            data.c.id,
            data.c.low,
            data.c.high,
            data.c.approximate,
            *(chains.c[c] for c in PLACES),
            data.c.measure,
            data.c.year,
            *(chains.c[n] for n in ABOVE),
        )
        .where(*uncovered)
        .subquery("top")
    )


def _summed(top: Any) -> Select[Any]:
    """Per totals key: how many rows, their sums, and the SAMPLE_SIZE lowest ids."""
    # Sorted by the commune first: more comparisons end at the first column, which
    # PostgreSQL keeps beside each row (scale 1.0: 18-20 s, against 21-24 s by province).
    order = ["commune_id", "year", "measure", *ABOVE, "province_id", "district_id"]
    key = [top.c[c] for c in order]
    position = func.row_number().over(partition_by=key, order_by=top.c.id).label("position")
    numbered = select(top, position).subquery("numbered")
    return select(
        *(numbered.c[c] for c in (*TOTAL_KEY, *ABOVE)),
        func.count().label("records"),
        func.sum(numbered.c.low).label("low"),
        func.sum(numbered.c.high).label("high"),
        func.count(numbered.c.high).label("bounded"),
        func.sum(numbered.c.approximate).label("approximate"),
        func.min(numbered.c.id).label("min_id"),
        func.aggregate_strings(
            case((numbered.c.position <= SAMPLE_SIZE, cast(numbered.c.id, String))), ","
        ).label("sample"),
    ).group_by(*(numbered.c[c] for c in order))


def spanning_select(where: BranchFilter) -> Select[Any]:
    """One row per commune place with events that do not lie inside one year."""
    b = alias(Branch, "sb")
    ev = alias(MembershipEvent, "sev")
    return (
        select(
            b.c.province_id,
            b.c.district_id,
            b.c.commune_id,
            literal(SPANNING).label("measure"),
            literal(0).label("year"),
            func.count().label("records"),
            literal(0).label("low"),
            literal(0).label("bounded"),
            literal(0).label("approximate"),
            func.min(ev.c.id).label("min_id"),
            literal("").label("sample"),
        )
        .join(b, b.c.id == ev.c.branch_id)
        .where(where(b), not_(single_year(ev)))
        .group_by(b.c.province_id, b.c.district_id, b.c.commune_id)
    )


def rebuild_communes(session: Session, communes: list[int] | None) -> None:
    """Replace the totals of some communes (None: of every commune), from the figures.

    The chains, the ancestors inside and what they report go into temporary tables
    first, with a key: the databases then know their sizes (PostgreSQL guessed a few
    hundred rows for millions, and sorted them to merge-join) and probe them by key
    (SQLite, given them as CTEs, scanned one for every row: 200 s for 200 communes).
    """
    bulk = communes is None
    params = {} if bulk else {"communes": communes}
    _fill(session, bulk, params)
    for statement in _replace_totals(bulk, _inside_present(session)):
        session.execute(statement, params)
    if session.get_bind().dialect.name != "postgresql":  # there: ON COMMIT DELETE ROWS
        _empty_temporaries(session)


def stage_every_commune(session: Session) -> None:
    """Every commune's totals, computed into the temporary table STAGED: on SQLite this
    writes nothing to the database file, and may run while another connection writes
    (a bulk build's status rows). `replace_with_staged` then stores them."""
    _fill(session, True, {})
    session.execute(CreateTable(STAGED, if_not_exists=True))
    session.execute(delete(STAGED))
    for statement in _totals_inserts(STAGED, True, _inside_present(session)):
        session.execute(statement)


def stale_communes(session: Session) -> list[int]:
    """The communes whose stored totals are not what their figures give now (should be
    none): every commune's computed into STAGED, as a bulk build does, and compared."""
    stage_every_commune(session)
    stored = table(CommuneYearlyTotal)
    stored_rows = select(*(stored.c[n] for n in TOTAL_COLUMNS))
    staged_rows = select(*(STAGED.c[n] for n in TOTAL_COLUMNS))
    try:
        communes: set[int] = set()
        for only_in_one in (except_(stored_rows, staged_rows), except_(staged_rows, stored_rows)):
            rows = only_in_one.subquery("only_in_one")
            communes.update(session.execute(select(rows.c.commune_id).distinct()).scalars())
        return sorted(communes)
    finally:
        for temporary in (*TEMPORARIES, STAGED):
            session.execute(delete(temporary))


def _fill(session: Session, bulk: bool, params: dict[str, Any]) -> None:
    """TEMPORARIES, emptied and filled for the communes (bulk: every commune)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    _empty_temporaries(session)
    for temporary, fill in zip(TEMPORARIES, _fill_temporaries(bulk), strict=True):
        session.execute(fill, params)
        # A few rows after a write: PostgreSQL sizes them from their pages, well enough.
        if postgres and bulk:
            session.execute(text(f"ANALYZE {temporary.name}"))


def _inside_present(session: Session) -> tuple[str, ...]:
    """The levels of ancestors inside that some branch of the filled CHAINS has: each is
    a join of every row, and at national scale all but the first are empty."""
    present = session.execute(select(*(func.count(CHAINS.c[n]) for n in INSIDE))).one()
    return tuple(n for n, count in zip(INSIDE, present, strict=True) if count)


def replace_with_staged(session: Session) -> None:
    """Every commune's totals replaced by those `stage_every_commune` computed, on this
    session's connection (the temporary tables are its own)."""
    target = table(CommuneYearlyTotal)
    session.execute(delete(target))
    session.execute(insert(target).from_select(TOTAL_COLUMNS, select(STAGED)))
    for temporary in (*TEMPORARIES, STAGED):
        session.execute(delete(temporary))


def _communes(bulk: bool) -> BranchFilter:
    """Every commune's branches, or those of the communes in the parameter `communes`."""
    if bulk:
        return lambda b: b.c.commune_id.is_not(None)
    return lambda b: b.c.commune_id.in_(bindparam("communes", expanding=True))


# The statements are built once: building them anew took a fifth of a write's time.
@shared()
def _fill_temporaries(bulk: bool) -> tuple[Insert, ...]:
    """The statements that fill TEMPORARIES, in their order."""
    rows = (_chains(_communes(bulk)), _insiders(CHAINS), _reported(INSIDERS))
    return tuple(
        insert(t).from_select(list(t.c.keys()), r) for t, r in zip(TEMPORARIES, rows, strict=True)
    )


@shared()
def _replace_totals(bulk: bool, inside: tuple[str, ...]) -> tuple[Executable, ...]:
    """Delete the communes' totals and insert them again from the filled TEMPORARIES."""
    target = table(CommuneYearlyTotal)
    where = _communes(bulk)
    stale = delete(target) if bulk else delete(target).where(where(target))
    return (stale, *_totals_inserts(target, bulk, inside))


@shared()
def _totals_inserts(target: Table, bulk: bool, inside: tuple[str, ...]) -> tuple[Insert, ...]:
    """Insert the communes' totals, from the filled TEMPORARIES, into `target`."""
    where = _communes(bulk)
    summed = _summed(_uncovered(where, CHAINS, REPORTED_ROWS, list(inside)))
    return (
        insert(target).from_select(TOTAL_COLUMNS, summed),
        insert(target).from_select(SPANNING_COLUMNS, spanning_select(where)),
    )


def _temporary(
    name: str, columns: list[str], key: list[str], on_commit: str = "DELETE ROWS"
) -> Table:
    """A temporary table of integer columns (`measure` and `sample` are text); see
    TEMPORARIES. `on_commit`: PostgreSQL's, what becomes of its rows at a commit."""
    return Table(
        name,
        MetaData(),
        *(
            Column(
                c,
                String(30) if c == "measure" else String if c == "sample" else Integer,
                primary_key=c in key,
                autoincrement=False,
            )
            for c in columns
        ),
        prefixes=["TEMPORARY"],
        postgresql_on_commit=on_commit,
    )


# Each connection creates these once and keeps them, empty between uses: creating and
# dropping three tables in every write took a third of a count's POST on PostgreSQL
# (catalog writes, and every statement on them compiled anew for new Table objects).
CHAINS = _temporary("totals_chains", ["id", *PLACES, *INSIDE, *ABOVE], key=["id"])
INSIDERS = _temporary("totals_insiders", ["id"], key=["id"])
REPORTED_ROWS = _temporary("totals_reported", REPORTED, key=REPORTED)
TEMPORARIES = (CHAINS, INSIDERS, REPORTED_ROWS)
# Every commune's totals, computed beside a bulk build's status rows (stage_every_commune),
# kept across the commit that ends the reads of that computation.
STAGED = _temporary("totals_staged", TOTAL_COLUMNS, key=[], on_commit="PRESERVE ROWS")


def _empty_temporaries(session: Session) -> None:
    """The temporary tables, existing and empty (on this session's connection)."""
    for temporary in TEMPORARIES:
        session.execute(CreateTable(temporary, if_not_exists=True))
        session.execute(delete(temporary))
