"""Every stored row checked against the rules that writes and imports enforce.

Writes (app.services.write_figures, write_places, write_sources) and imports
(app.ingest.loader.verify_article) refuse a row that breaks a rule. Nothing refuses a
row stored before its rule existed, or changed behind the service's back (SQL by hand,
a restored backup, a migration gone wrong). This reads every row once, source by source,
and names each one whose figure a reader could not check against its sentence:

- a source's text no longer has the SHA-256 it is served with, or shows nothing (only
  spaces or invisible marks);
- a quote is not in its source's text, a figure not in its quote (after NFC and
  whitespace folding, as everywhere);
- a value (the top of a range, a fact's whole) is not a number its figure prints, or
  its qualifier not one its figure's words give ("dưới 5" stored as exactly 5);
- a fact's range ends below its start (value_max below value: the tables of counts and
  events refuse that themselves, as all three refuse a period ending before it starts),
  or its part is more than the whole it is out of (out_of below the value);
- a figure begins after its source was published;
- an evidence_date is not the one its dates give (own date, else the source's
  publication, else the day the service registered the text): the latest count
  shown first is picked by it;
- a fact's unit is not its metric's, or its value outside what its metric can be (a rate
  above 100%);
- a row is synthetic and its source is not, or the other way round;
- an organization is dissolved before it was founded, or a figure of it dated by its own
  date (as_of, period) before its founding or after its dissolution
  (app.services.lifetimes);

then, of the whole tables, a place or organization that is its own ancestor or sits under
one of a kind it may not (a province under a village: app.services.place_tree); and what
is stored from them to be served: a locality or branch whose search fields are not what
its names give (search would miss it), a locality whose province or commune of today is
not what its successions give; a branch whose status row (its latest count and its risk)
is not what computing it again as of the day it was evaluated on gives, or that has none
(no list would show it); a branch whose list item (branch_status.item, what lists and
the detail serve) is not what rendering it now gives, or whose status row keeps another
province than its own (lists by province read it); a commune whose yearly totals are not
what its figures give now, a province or district whose sums are not its communes'
totals summed (a place's stats read them). Writes refresh all of them in their
transaction; a row changed by hand leaves them behind.

Memory holds one source's text at a time; rows are streamed.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, null, select
from sqlmodel import Session

from app.ingest.figure_numbers import (
    flag_fault,
    misqualified_in_quote,
    outside_metric_range,
    part_exceeds_whole,
    unprinted,
)
from app.ingest.loader import text_sha256
from app.ingest.places import stale_search
from app.ingest.records import BLANK_MESSAGE, GROUP_WITH_A_NAME
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.models.vocab import METRIC_UNITS
from app.services.audit import ENTITY_OF
from app.services.branch_items import stale_items
from app.services.commune_totals import stale_communes
from app.services.evidence_dates import evidence_day
from app.services.lifetimes import figures_outside_lifetimes
from app.services.place_totals import stale_places
from app.services.place_tree import stored_tree_problems
from app.services.refs import table
from app.services.risk_rules import RiskRules
from app.services.status import (
    StaleStatus,
    stale_current_units,
    stale_status_provinces,
    stale_statuses,
)
from app.services.text import is_clause, is_visible, normalize_quote_text

STREAM_ROWS = 5_000


@dataclass(frozen=True)
class Finding:
    """One stored row that breaks one rule, named as the API names it."""

    entity: str
    id: int
    key: str
    field: str
    rule: str
    message: str


@dataclass
class CheckReport:
    """Rows read per entity, how many findings per rule, and the first `keep` findings."""

    keep: int
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENTITY_OF.values(), 0))
    by_rule: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())

    def add(self, finding: Finding) -> None:
        self.by_rule[finding.rule] = self.by_rule.get(finding.rule, 0) + 1
        if len(self.findings) < self.keep:
            self.findings.append(finding)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "problems": self.total,
            "by_rule": dict(sorted(self.by_rule.items())),
            "shown": [vars(finding) for finding in self.findings],
        }


@dataclass(frozen=True)
class _Dates:
    """How a figure table dates its rows: the column of the day it begins, and of its own
    latest day (what evidence_date is when the text gives one)."""

    first: str
    own: str


FIGURE_DATES: dict[Any, _Dates] = {
    MembershipCount: _Dates(first="as_of", own="as_of"),
    MembershipEvent: _Dates(first="period_start", own="period_end"),
    Fact: _Dates(first="period_start", own="period_end"),
    Officeholder: _Dates(first="as_of", own="as_of"),
}
PLACE_MODELS: tuple[Any, ...] = (Locality, Branch)


@dataclass(frozen=True)
class _SourceFacts:
    id: int
    published_on: date | None
    registered_on: date
    is_synthetic: bool
    haystack: str


def check_stored(connection: Connection, risk_rules: RiskRules, keep: int = 100) -> CheckReport:
    """Every source and every row drawn from one, then what is stored from them to be
    served (search fields, today's units, status rows and list items, yearly totals),
    checked; the first `keep` findings kept (all are counted). Writes nothing; one
    transaction, so one snapshot, throughout."""
    report = CheckReport(keep=keep)
    for source in _sources(connection, report):
        rules = _RowRules(source, report)
        for model in (*PLACE_MODELS, *FIGURE_DATES):
            for row in _stream(connection, _rows_of(model, source.id)):
                report.checked[ENTITY_OF[model]] += 1
                rules.check(model, row)
    _check_lifetimes(connection, report)
    _check_served(connection, risk_rules, report)
    return report


def _check_lifetimes(connection: Connection, report: CheckReport) -> None:
    """Organizations dissolved before they were founded, and figures dated outside their
    organization's lifetime (app.services.lifetimes)."""
    b = table(Branch)
    reversed_dates = select(b.c.id, b.c.key, b.c.founded_on, b.c.dissolved_on).where(
        b.c.dissolved_on < b.c.founded_on
    )
    for row in connection.execute(reversed_dates):
        message = f"{row.dissolved_on} is before founded_on {row.founded_on}"
        report.add(
            Finding("branch", row.id, row.key, "dissolved_on", "dates_out_of_order", message)
        )
    for found in figures_outside_lifetimes(connection):
        report.add(
            Finding(
                found.entity, found.id, found.key, found.field, "outside_lifetime", found.message
            )
        )


@dataclass(frozen=True)
class _Stale:
    """Rows of one model whose stored derivation is not what its rows give now: each id
    with why (`because`, or `message` for all)."""

    model: Any
    ids: list[int]
    field: str
    rule: str
    message: str = ""
    because: Mapping[int, str] | None = None


def _check_served(connection: Connection, risk_rules: RiskRules, report: CheckReport) -> None:
    session = Session(bind=connection)
    search = stale_search(session)
    statuses = stale_statuses(session, risk_rules)
    trees = {model: stored_tree_problems(connection, model) for model in PLACE_MODELS}
    for stale in (
        # Not derived rows gone stale, but named the same way: each row with why.
        *(
            _Stale(model, list(trees[model]), "parent_id", "misplaced", because=trees[model])
            for model in PLACE_MODELS
        ),
        _Stale(
            Locality,
            search["localities"],
            "search_key",
            "search_stale",
            "its search and sort fields (and words) are not what its names give now",
        ),
        _Stale(
            Branch,
            search["branches"],
            "search_key",
            "search_stale",
            "its search and sort fields are not what its name and description give now",
        ),
        _Stale(
            Locality,
            stale_current_units(session),
            "today",
            "today_stale",
            "its stored province or commune of today is not what its successions give now",
        ),
        _Stale(
            Branch,
            [status.branch_id for status in statuses],
            "status",
            "status_stale",
            because={status.branch_id: _status_message(status) for status in statuses},
        ),
        _Stale(
            Branch,
            stale_items(session, risk_rules),
            "item",
            "item_stale",
            "its stored list item is not what its rows give now",
        ),
        _Stale(
            Branch,
            stale_status_provinces(session),
            "province_id",
            "status_province_stale",
            "its status row keeps another province than its own",
        ),
        _Stale(
            Locality,
            stale_communes(session),
            "yearly_totals",
            "totals_stale",
            "its stored yearly totals are not what its figures give now",
        ),
        _Stale(
            Locality,
            stale_places(session),
            "yearly_totals",
            "totals_stale",
            "its stored yearly sums are not its communes' totals summed",
        ),
    ):
        # Named only as far as they are shown; all are counted.
        rows = table(stale.model)
        shown = select(rows.c.id, rows.c.key).where(rows.c.id.in_(stale.ids[: report.keep]))
        keys = {row.id: row.key for row in connection.execute(shown)}
        entity = ENTITY_OF[stale.model]
        for ident in stale.ids:
            why = stale.message if stale.because is None else stale.because[ident]
            report.add(Finding(entity, ident, keys.get(ident, ""), stale.field, stale.rule, why))


def _status_message(status: StaleStatus) -> str:
    if status.as_of is None:
        return "has no status row: no list shows it"
    return (
        f"its status row evaluated on {status.as_of} has {', '.join(status.columns)} "
        "other than its rows give as of that day"
    )


def _sources(connection: Connection, report: CheckReport) -> Iterator[_SourceFacts]:
    """Each source, its text hash checked; its text read when its rows are."""
    sources = table(Source)
    ids = connection.execute(select(sources.c.id).order_by(sources.c.id)).scalars().all()
    for source_id in ids:
        row = connection.execute(select(sources).where(sources.c.id == source_id)).one()
        report.checked["source"] += 1
        if text_sha256(row.text) != row.text_sha256:
            report.add(
                Finding(
                    "source",
                    row.id,
                    row.key,
                    "text_sha256",
                    "text_hash_mismatch",
                    "is not the SHA-256 of the stored text",
                )
            )
        if not is_visible(row.text):
            report.add(Finding("source", row.id, row.key, "text", "blank", BLANK_MESSAGE))
        yield _SourceFacts(
            row.id,
            row.published_on,
            row.registered_on,
            row.is_synthetic,
            normalize_quote_text(row.text),
        )


PLACE_COLUMNS = ("id", "key", "quote", "is_synthetic", "name", "group_size")
FIGURE_COLUMNS = ("figure", "value", "value_max", "out_of", "qualifier", "evidence_date")
FACT_COLUMNS = ("metric", "unit")


def _rows_of(model: Any, source_id: int) -> Any:
    """The columns the rules read, the same names for every table (NULL where a table has
    no such column; `first` and `own` its dates as FIGURE_DATES says)."""
    rows = table(model)

    def column(name: str) -> Any:
        return rows.c[name] if name in rows.c else null().label(name)

    columns = [column(name) for name in PLACE_COLUMNS]
    if model in FIGURE_DATES:
        dates = FIGURE_DATES[model]
        columns += [column(name) for name in (*FIGURE_COLUMNS, *FACT_COLUMNS)]
        columns += [rows.c[dates.first].label("first"), rows.c[dates.own].label("own")]
    return select(*columns).where(rows.c.source_id == source_id).order_by(rows.c.id)


def _stream(connection: Connection, statement: Any) -> Iterator[Any]:
    # On the statement: Connection.execution_options would set it for every later one.
    result = connection.execute(statement, execution_options={"yield_per": STREAM_ROWS})
    for partition in result.partitions():
        yield from partition


class _RowRules:
    """The rules of one source's rows. Quotes and figures repeat (a synthetic source's
    rows share one sentence): each distinct quote is looked up once, each distinct
    figure and value read once."""

    def __init__(self, source: _SourceFacts, report: CheckReport) -> None:
        self.source = source
        self.report = report
        self.quote_found: Callable[[str], bool] = lru_cache(maxsize=4096)(self._quote_found)
        self.unprinted = lru_cache(maxsize=4096)(unprinted)
        self.misqualified = lru_cache(maxsize=4096)(misqualified_in_quote)

    def _quote_found(self, quote: str) -> bool:
        return normalize_quote_text(quote) in self.source.haystack

    def check(self, model: Any, row: Any) -> None:
        entity = ENTITY_OF[model]

        def found(field_name: str, rule: str, message: str) -> None:
            self.report.add(Finding(entity, row.id, row.key, field_name, rule, message))

        if row.is_synthetic != self.source.is_synthetic:
            found(
                "is_synthetic",
                "synthetic_mismatch",
                f"{'synthetic' if row.is_synthetic else 'real'} row drawn from a "
                f"{'synthetic' if self.source.is_synthetic else 'real'} source "
                f"{self.source.id}",
            )
        if row.name is not None and not is_visible(row.name):
            found("name", "blank", BLANK_MESSAGE)
        if row.name is not None and row.group_size is not None:
            found("group_size", "group_with_a_name", GROUP_WITH_A_NAME)
        if not row.quote or not is_clause(row.quote):
            found("quote", "quote_not_a_clause", "proves nothing: found in any text")
        elif not self.quote_found(row.quote):
            found(
                "quote",
                "quote_not_in_source",
                f"not found in the text of source {self.source.id}",
            )
        elif (
            model in FIGURE_DATES
            and row.figure is not None
            and normalize_quote_text(row.figure) not in normalize_quote_text(row.quote)
        ):
            found("figure", "figure_not_in_quote", "not found in the quote")
        if model in FIGURE_DATES:
            self._check_figure(FIGURE_DATES[model], row, found)

    def _check_figure(
        self, dates: _Dates, row: Any, found: Callable[[str, str, str], None]
    ) -> None:
        value, value_max, out_of = row.value, row.value_max, row.out_of
        if value_max is not None and (value is None or value_max < value):
            found("value_max", "range_reversed", "needs a value at or below it")
        elif part_exceeds_whole(value, value_max, out_of):
            found("out_of", "part_exceeds_whole", "is below the value")
        elif fault := self.unprinted(
            row.figure,
            value,
            value_max,
            out_of,
            # Generated rows print no figures; a flag needs none.
            figure_optional=row.is_synthetic or getattr(row, "unit", None) == "flag",
        ):
            found(fault[0], "value_not_in_figure", fault[1])
        elif why := self.misqualified(row.quote, row.figure, value, row.qualifier):
            found("qualifier", "qualifier_not_in_figure", why)
        if why := outside_metric_range(row.metric, value, value_max):
            found("value", "outside_metric_range", why)
        if fault := flag_fault(row.metric, value_max, out_of, row.qualifier):
            found(fault[0], "not_a_flag", fault[1])
        first, own = row.first, row.own
        published = self.source.published_on
        # An undated source existed by the day the dataset first held it (as writes say).
        bound = published or self.source.registered_on
        if first is not None and first > bound:
            held = "publication" if published else "first day in the dataset"
            found(
                dates.first,
                "after_publication",
                f"{first} is after the source's {held} ({bound}), which cannot report it",
            )
        expected = evidence_day(own, published, self.source.registered_on)
        if row.evidence_date != expected:
            found(
                "evidence_date",
                "evidence_date_stale",
                f"{row.evidence_date} where its dates give {expected}",
            )
        unit = METRIC_UNITS.get(row.metric)
        if row.metric is not None and row.unit != unit:
            found("unit", "unit_mismatch", f"{row.metric} is measured in {unit}, not {row.unit}")
