"""Figures with their provenance: membership counts, events, facts, officeholders."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Dialect,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union,
)
from sqlmodel import col

from app.models import Branch, Fact, MembershipCount, MembershipEvent, Officeholder, Source
from app.models.vocab import MEMBER_STATUSES
from app.reader import Reader, built_once, shared
from app.services.csv_sql import CsvSql
from app.services.evidence_dates import evidence_basis, evidence_basis_sql
from app.services.json_sql import Flag, JsonSql, Obj, Shape
from app.services.line_pages import copy_lines, fetch_lines
from app.services.listing import KeptCounts, ListQuery, Page, fetch_page, mapped
from app.services.pagination import PageRequest, SortKey
from app.services.place_scopes import (
    PlaceScopes,
    ScopeLookup,
    reads_kept,
    scope_of,
    scoped_page,
)
from app.services.references import Reference
from app.services.refs import (
    LOCALITY_FIELDS,
    SOURCE_FIELDS,
    alias,
    in_bound_scope,
    locality_alias,
    locality_columns,
    locality_ref,
    scope_levels,
    scope_params,
    source_columns,
    source_ref,
    table,
    with_source,
)


@dataclass(frozen=True)
class FigureFilters:
    branch: int | None = None
    locality: int | None = None  # with the units it replaced, and all below
    source: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str | None = None  # events: admission, departure, transfer_in, transfer_out
    metric: str | None = None  # facts
    status: str | None = None  # counts: all, full, probationary

    def references(self) -> list[Reference]:
        """The records the filters name, which an empty page checks exist."""
        return [
            Reference("query.branch", Branch, self.branch),
            Reference("query.source", Source, self.source),
        ]


FIGURE_OWNER_CSV = [
    "branch.id",
    "branch.name",
    "branch.kind",
    "branch.group_size",
    "branch.description",
    "locality.id",
    "locality.name",
    "locality.kind",
    "locality.code",
    # The key says the period: a code alone is not a unit (the reform reused codes).
    "locality.key",
]
FIGURE_PROVENANCE_CSV = [
    "qualifier",
    "applies_to_each",
    "evidence_date",
    "evidence_date_basis",
    "date_note",
    "note",
    *source_columns(),
    "quote",
    "figure",
]
COUNT_CSV = [
    "id",
    "key",
    *FIGURE_OWNER_CSV,
    "value",
    "value_max",
    "status",
    "as_of",
    *FIGURE_PROVENANCE_CSV,
]
EVENT_CSV = [
    "id",
    "key",
    "kind",
    *FIGURE_OWNER_CSV,
    "value",
    "value_max",
    "period_start",
    "period_end",
    "reason",
    *FIGURE_PROVENANCE_CSV,
]
FACT_CSV = [
    "id",
    "key",
    "metric",
    "dimension",
    *FIGURE_OWNER_CSV,
    "value",
    "value_max",
    "out_of",
    "unit",
    "period_start",
    "period_end",
    *FIGURE_PROVENANCE_CSV,
]


@shared()
def figure_base(model: Any, placed: bool = False) -> tuple[Select[Any], Any, Any]:
    """A figure table joined with its branch, place and source (built once: statements
    are immutable, and building this one cost more than running it).

    `placed`: only figures that have a place, joined to it (and, but for facts, which may
    be about a place itself, to their branch) by inner joins, for lists by place. With
    outer joins SQLite could not start from the place's branches: counting a province's
    admissions at national scale built an index of every event by kind, 20 s.
    """
    t = alias(model, "f")
    b = alias(Branch, "fb")
    loc = locality_alias("floc")
    about_places = "locality_id" in t.c
    query: Select[Any] = select(
        # Not the record-keeping times, which no item shows: parsing two datetimes a
        # row was a tenth of a province's stats.
        *(column for column in t.c if column.name not in ("created_at", "updated_at")),
        b.c.name.label("branch_name"),
        b.c.kind.label("branch_kind"),
        b.c.group_size.label("branch_group_size"),
        b.c.description.label("branch_description"),
        *locality_columns(loc, "floc"),
    )
    branch_on = b.c.id == t.c.branch_id
    query = (
        query.join(b, branch_on) if placed and not about_places else query.outerjoin(b, branch_on)
    )
    # A fact may be about a place itself; other figures sit where their branch is.
    place_on = loc.c.id == (
        func.coalesce(t.c.locality_id, b.c.locality_id) if about_places else b.c.locality_id
    )
    query = query.join(loc, place_on) if placed else query.outerjoin(loc, place_on)
    query = with_source(query, t.c.source_id, "src")
    return query, t, loc


@dataclass(frozen=True)
class FigureListShape:
    """What the SQL of a figure list depends on: the table, which filters are given (for
    a place, the levels of its scope), the sort; never the values."""

    model: Any
    branch: bool
    scope: tuple[str, ...] | None
    source: bool
    date_from: bool
    date_to: bool
    kind: bool
    metric: bool
    # The status itself (one of three): written into the SQL, so that the counts' partial
    # indexes of the statuses other than "all" serve it (MembershipCount).
    status: str | None
    sort: str

    @classmethod
    def of(
        cls, model: Any, filters: FigureFilters, scope: dict[str, list[int]] | None, sort: str
    ) -> "FigureListShape":
        return cls(
            model=model,
            branch=filters.branch is not None,
            scope=scope_levels(scope) if scope is not None else None,
            source=filters.source is not None,
            date_from=filters.date_from is not None,
            date_to=filters.date_to is not None,
            kind=bool(filters.kind) and model is MembershipEvent,
            metric=bool(filters.metric) and model is Fact,
            status=filters.status if model is MembershipCount else None,
            sort=sort,
        )


def _figure_parameters(
    reader: Reader,
    model: Any,
    filters: FigureFilters,
    sort: str,
    lookup: ScopeLookup | None = None,
) -> tuple[FigureListShape, dict[str, Any]]:
    """A figure list's shape, and the values its statement binds; the place's scope from
    `lookup`, or read now."""
    scope = None
    if filters.locality is not None:
        place, field = filters.locality, "query.locality"
        scope = lookup(place, field).units if lookup else scope_of(reader, place, field)
    return FigureListShape.of(model, filters, scope, sort), {
        "branch": filters.branch,
        "source": filters.source,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "kind": filters.kind,
        "metric": filters.metric,
        **(scope_params(scope) if scope is not None else {}),
    }


@built_once
def _figure_list(shape: FigureListShape) -> ListQuery:
    query, t, loc = figure_base(shape.model, shape.scope is not None)
    if shape.branch:
        query = query.where(t.c.branch_id == bindparam("branch"))
    if shape.scope is not None:
        query = query.where(in_bound_scope(loc, shape.scope))
    if shape.source:
        query = query.where(t.c.source_id == bindparam("source"))
    if shape.model is MembershipEvent or shape.model is Fact:
        end = func.coalesce(t.c.period_end, t.c.evidence_date)
        start = func.coalesce(t.c.period_start, t.c.period_end, t.c.evidence_date)
    else:
        end = start = t.c.evidence_date
    if shape.date_from:
        # `end` bounds the date from above (a count's is indexed).
        date_from = bindparam("date_from", type_=Date)
        query = query.where(end >= date_from, _ends_known(t, shape.model, date_from))
    if shape.date_to:
        query = query.where(start <= bindparam("date_to", type_=Date))
    if shape.kind:
        query = query.where(t.c.kind == bindparam("kind"))
    if shape.metric:
        query = query.where(t.c.metric == bindparam("metric"))
    if shape.status:
        query = query.where(_is_status(t, shape.status))
    return ListQuery(query, _keys(shape.sort, t))


def _ends_known(t: Any, model: Any, date_from: Any) -> ColumnElement[bool]:
    """The figure's date is known to be on or after `date_from`, not only bounded by the
    day the service first held its undated article (evidence_date_basis registered): an
    article of 2019 registered in 2026 must not answer "from 2026". A period with no end
    the text gives is known to end on or after the day it starts."""
    src = alias(Source, "src")
    known = or_(t.c[_OWN_DATE[model]].is_not(None), src.c.published_on.is_not(None))
    return or_(known, t.c.period_start >= date_from) if "period_start" in t.c else known


def _is_status(t: Any, status: str) -> ColumnElement[bool]:
    """Counts of this status; of another than "all", also in the words of the partial
    indexes' condition, which SQLite must find in the query to use them."""
    if status not in MEMBER_STATUSES:
        raise ValueError(f"not a member status: {status!r}")
    condition = t.c.status == literal_column(f"'{status}'")
    if status != "all":
        condition = and_(condition, t.c.status != literal_column("'all'"))
    return condition


def _keys(sort: str, t: Any) -> tuple[SortKey, ...]:
    descending = sort.startswith("-")
    if sort.lstrip("-") == "date":
        return (SortKey(t.c.evidence_date, date, descending), SortKey(t.c.id, int, descending))
    return (SortKey(t.c.id, int, descending),)


def _provenance(row: Mapping[str, Any], own_date: date | None) -> dict[str, Any]:
    return {
        "qualifier": row["qualifier"],
        "applies_to_each": row["applies_to_each"],
        "evidence_date": row["evidence_date"],
        "evidence_date_basis": evidence_basis(
            own_date, row["date_derived"], row["src_published_on"]
        ),
        "date_note": row["date_note"],
        "note": row["note"],
        "source": source_ref(row, "src"),
        "quote": row["quote"],
        "figure": row["figure"],
        "synthetic": row["is_synthetic"],
    }


def _subject(row: Mapping[str, Any]) -> dict[str, Any]:
    branch = None
    if row["branch_id"] is not None:
        branch = {
            "id": row["branch_id"],
            "name": row["branch_name"],
            "kind": row["branch_kind"],
            "group_size": row["branch_group_size"],
            "description": row["branch_description"],
        }
    return {"branch": branch, "locality": locality_ref(row, "floc")}


def render_count(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "key": row["key"],
        **_subject(row),
        "value": row["value"],
        "value_max": row["value_max"],
        "status": row["status"],
        "as_of": row["as_of"],
        **_provenance(row, row["as_of"]),
    }


def render_event(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "key": row["key"],
        "kind": row["kind"],
        **_subject(row),
        "value": row["value"],
        "value_max": row["value_max"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "reason": row["reason"],
        **_provenance(row, row["period_end"]),
    }


def render_fact(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "key": row["key"],
        "metric": row["metric"],
        "dimension": row["dimension"],
        **_subject(row),
        "value": row["value"],
        "value_max": row["value_max"],
        "out_of": row["out_of"],
        "unit": row["unit"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        **_provenance(row, row["period_end"]),
    }


def render_officeholder(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "key": row["key"],
        "person": row["person"],
        "role": row["role"],
        **_subject(row),
        "as_of": row["as_of"],
        **_provenance(row, row["as_of"]),
    }


RENDERERS = {
    MembershipCount: render_count,
    MembershipEvent: render_event,
    Fact: render_fact,
    Officeholder: render_officeholder,
}


def list_figures(
    model: Any,
    reader: Reader,
    filters: FigureFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    scopes: PlaceScopes | None = None,
    counts: KeptCounts | None = None,
) -> Page:
    """A page of figures. With `scopes`, the place's scope may be a kept one, checked by
    the page's own statement (app.services.place_scopes); with `counts`, a first page's
    total (app.services.listing.fetch_page)."""
    render = RENDERERS[model]

    def page_with(lookup: ScopeLookup | None) -> Page:
        shape, params = _figure_parameters(reader, model, filters, page.sort, lookup)
        return fetch_page(
            reader,
            _figure_list(shape),
            params,
            page,
            secret,
            mapped(lambda _reader, rows: [render(r) for r in rows]),
            with_total=with_total,
            versioned=reads_kept(lookup),
            counts=counts,
        )

    if filters.locality is None:
        return page_with(None)
    return scoped_page(scopes, reader, page_with)


# A figure as the lists serve it, described once for the database (app.services.json_sql):
# its own columns before and after its subject, and the column that dates its evidence.
_LEADING = {
    MembershipCount: ("id", "key"),
    MembershipEvent: ("id", "key", "kind"),
    Fact: ("id", "key", "metric", "dimension"),
    Officeholder: ("id", "key", "person", "role"),
}
_TRAILING = {
    MembershipCount: ("value", "value_max", "status", "as_of"),
    MembershipEvent: ("value", "value_max", "period_start", "period_end", "reason"),
    Fact: ("value", "value_max", "out_of", "unit", "period_start", "period_end"),
    Officeholder: ("as_of",),
}
_OWN_DATE = {
    MembershipCount: "as_of",
    MembershipEvent: "period_end",
    Fact: "period_end",
    Officeholder: "as_of",
}


@shared()
def figure_shape(model: Any) -> Obj:
    """The same fields as RENDERERS[model], for the database to render."""
    _, t, loc = figure_base(model)
    branch, src = alias(Branch, "fb"), alias(Source, "src")
    fields: dict[str, Shape] = {name: t.c[name] for name in _LEADING[model]}
    fields["branch"] = Obj(
        {
            "id": t.c.branch_id,
            "name": branch.c.name,
            "kind": branch.c.kind,
            "group_size": branch.c.group_size,
            "description": branch.c.description,
        },
        present=t.c.branch_id,
    )
    fields["locality"] = Obj({f: loc.c[f] for f in LOCALITY_FIELDS}, present=loc.c.id)
    fields.update({name: t.c[name] for name in _TRAILING[model]})
    fields.update(
        {
            "qualifier": t.c.qualifier,
            "applies_to_each": Flag(t.c.applies_to_each),
            "evidence_date": t.c.evidence_date,
            "evidence_date_basis": evidence_basis_sql(
                t.c[_OWN_DATE[model]], t.c.date_derived, src.c.published_on
            ),
            "date_note": t.c.date_note,
            "note": t.c.note,
            "source": Obj({f: src.c[f] for f in SOURCE_FIELDS}, present=src.c.id),
            "quote": t.c.quote,
            "figure": t.c.figure,
            "synthetic": Flag(t.c.is_synthetic),
        }
    )
    return Obj(fields)


@shared(maxsize=64)
def _line(model: Any, dialect: Dialect, paths: tuple[str, ...]) -> ColumnElement[Any]:
    """Built once, and compiled once to SQL text (it holds no parameters): as a tree of
    some 300 elements, SQLAlchemy's cache key walked it on every batch of an export."""
    line = CsvSql(dialect.name).line(figure_shape(model), paths)
    sql = line.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return literal_column(str(sql), line.type)


@shared(maxsize=64)
def _copy_cells(model: Any, paths: tuple[str, ...]) -> list[ColumnElement[Any]]:
    return CsvSql("postgresql").copy_cells(figure_shape(model), paths)


def list_figure_lines(
    model: Any,
    reader: Reader,
    filters: FigureFilters,
    page: PageRequest,
    secret: bytes,
    with_total: bool,
    paths: tuple[str, ...],
) -> Page:
    """list_figures as the CSV lines of those dotted paths, written by the database
    (app.services.csv_sql, app.services.line_pages): lines on SQLite, COPY's CSV on
    PostgreSQL. No total, whatever `with_total` says: CSV shows none."""
    shape, params = _figure_parameters(reader, model, filters, page.sort)
    dialect = reader.dialect
    # COPY writes a lone empty field as an empty line, where csv.writer writes "".
    if dialect.name == "postgresql" and len(paths) > 1:
        return copy_lines(reader, _figure_lines(shape, dialect, paths, True), params, page, secret)
    return fetch_lines(reader, _figure_lines(shape, dialect, paths, False), params, page, secret)


@built_once
def _figure_lines(
    shape: FigureListShape, dialect: Dialect, paths: tuple[str, ...], copy: bool
) -> ListQuery:
    """A figure list that selects each row's CSV line (or, for COPY, its cells)."""
    listing = _figure_list(shape)
    if copy:
        columns = _copy_cells(shape.model, paths)
    else:
        # Read as the UTF-8 bytes that are sent, as documents are (json_sql.utf8).
        columns = [JsonSql(dialect.name).utf8(_line(shape.model, dialect, paths))]
    return ListQuery(listing.query.with_only_columns(*columns), listing.keys)


def figures_of(
    reader: Reader, model: Any, condition_on: str, ident: int, up_to: int
) -> list[dict[str, Any]]:
    """The figures of one branch or one source, oldest evidence first, up to `up_to`
    (for details)."""
    params = {"ident": ident, "up_to": up_to}
    rows = reader.mappings(_figures_of, model, condition_on, params=params)
    return [RENDERERS[model](r) for r in rows]


def _figures_of(model: Any, condition_on: str) -> Select[Any]:
    query, t, _ = figure_base(model)
    return (
        query.where(t.c[condition_on] == bindparam("ident"))
        .order_by(t.c.evidence_date, t.c.id)
        .limit(bindparam("up_to"))
    )


def stated_sources(branch_id: ColumnElement[int]) -> Select[Any]:
    """The sources that state anything about a branch, by id (all figure tables)."""
    sub = union(
        select(col(Branch.source_id).label("sid")).where(col(Branch.id) == branch_id),
        *(
            select(table(model).c.source_id.label("sid")).where(
                table(model).c.branch_id == branch_id
            )
            for model in (MembershipCount, MembershipEvent, Fact, Officeholder)
        ),
    ).subquery()
    sources = table(Source)
    return (
        select(*(sources.c[f] for f in SOURCE_FIELDS))
        .where(sources.c.id.in_(select(sub.c.sid)))
        .order_by(sources.c.id)
    )


def figures_by_ids(reader: Reader, model: Any, ids: list[int]) -> list[dict[str, Any]]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return []
    rows = reader.mappings(_figures_by_ids, model, params={"ids": ids})
    return [RENDERERS[model](r) for r in rows]


def _figures_by_ids(model: Any) -> Select[Any]:
    query, t, _ = figure_base(model)
    ids: Any = bindparam("ids", expanding=True)
    return query.where(t.c.id.in_(ids)).order_by(t.c.evidence_date, t.c.id)


def record_path(record: Mapping[str, Any]) -> str:
    """A figure's own path (/facts/28), its list told by the fields only its documents
    have: a fact's metric, an event's reason."""
    if "metric" in record:
        collection = "facts"
    elif "reason" in record:
        collection = "admissions"
    else:
        collection = "membership-counts"
    return f"/{collection}/{record['id']}"
