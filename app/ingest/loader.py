"""Apply one article record file to the database: verified, idempotent, all or nothing.

The caller owns the transaction: it commits, or rolls back for a dry run or on error.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from app.ingest.figure_numbers import misqualified_in_quote, unprinted
from app.ingest.places import (
    branch_search_fields,
    locality_search_fields,
    set_branch_place,
    set_locality_ancestors,
    sync_locality_words,
    unfit_search_fields,
)
from app.ingest.records import (
    ArticleFile,
    BranchRecord,
    EventRecord,
    FactRecord,
    FigureRecord,
    LocalityRecord,
)
from app.models import (
    Branch,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Officeholder,
    Source,
)
from app.models.base import utcnow
from app.models.vocab import METRIC_UNITS
from app.services.evidence_dates import evidence_day
from app.services.lifetimes import figures_outside_lifetimes
from app.services.place_tree import loops, misplaced, misplaced_children, too_deep
from app.services.status import release_counts
from app.services.text import normalize_quote_text
from app.services.yearly import note_stale

Row = TypeVar("Row", bound=SQLModel)
FIGURE_MODELS: dict[str, type[SQLModel]] = {
    "counts": MembershipCount,
    "events": MembershipEvent,
    "facts": Fact,
    "roles": Officeholder,
}


@dataclass(frozen=True)
class RecordProblem:
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.message}"


class ImportRejected(Exception):
    """The file cannot be loaded; nothing was written."""

    def __init__(self, problems: list[RecordProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class ImportReport:
    source: str
    dry_run: bool = False
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    conflicting_reports: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.changed) + len(self.removed)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _first_day(rec: Any) -> tuple[date | None, str]:
    """The first day a record covers, and the field that gives it (a period may end after
    the article: a year still running, a term; it cannot begin after it)."""
    if isinstance(rec, EventRecord) or (isinstance(rec, FactRecord) and rec.as_of is None):
        return rec.bounds()[0], "period"
    return getattr(rec, "as_of", None), "as_of"


def verify_article(article: ArticleFile, text: str) -> list[RecordProblem]:
    """Every quote is in the text, every figure in its quote and its value in the figure;
    nothing begins after the article was published."""
    problems: list[RecordProblem] = []
    haystack = normalize_quote_text(text)
    sections: list[tuple[str, list[Any]]] = [
        ("localities", list(article.localities)),
        ("branches", list(article.branches)),
        ("counts", list(article.counts)),
        ("events", list(article.events)),
        ("facts", list(article.facts)),
        ("roles", list(article.roles)),
    ]
    # An undated article existed by the day the dataset first held it (when the file
    # says it): nothing it reports began later.
    published = article.source.published_on or article.source.registered_on
    for section, records in sections:
        figures: dict[str, str] = {}  # each figure's reading, to the first record of it
        for index, rec in enumerate(records):
            label = f"{section}[{index}] {getattr(rec, 'id', None) or rec.key}"
            if isinstance(rec, FigureRecord):
                reading = _reading(rec)
                if (earlier := figures.setdefault(reading, label)) != label:
                    problems.append(RecordProblem(label, "id", f"the same figure as {earlier}"))
            first, field = _first_day(rec)
            if first is not None and published is not None and first > published:
                problems.append(
                    RecordProblem(
                        label,
                        field,
                        f"{first} is after the article's day ({published}: its publication, "
                        "else the day the dataset first held it), which cannot report it",
                    )
                )
            if unfit := _unfit_names(rec):
                problems.append(RecordProblem(label, *unfit))
            quote = normalize_quote_text(rec.quote)
            if quote not in haystack:
                problems.append(RecordProblem(label, "quote", "not found in the source text"))
            if (
                isinstance(rec, FigureRecord)
                and rec.figure is not None
                and normalize_quote_text(rec.figure) not in quote
            ):
                problems.append(RecordProblem(label, "figure", "not found in the quote"))
            if isinstance(rec, FigureRecord) and (
                fault := unprinted(
                    rec.figure,
                    getattr(rec, "value", None),
                    getattr(rec, "value_max", None),
                    getattr(rec, "out_of", None),
                    figure_optional=METRIC_UNITS.get(getattr(rec, "metric", "")) == "flag",
                )
            ):
                problems.append(RecordProblem(label, *fault))
            elif isinstance(rec, FigureRecord) and (
                why := misqualified_in_quote(
                    rec.quote, rec.figure, getattr(rec, "value", None), rec.qualifier
                )
            ):
                problems.append(RecordProblem(label, "qualifier", why))
    return problems


def _reading(rec: FigureRecord) -> str:
    """A figure as it is read, its id and notes apart: two records of one sentence read
    the same way are one figure, which sums would count twice."""
    fields = rec.model_dump(mode="json", exclude={"id", "note", "date_note"})
    fields["quote"] = normalize_quote_text(rec.quote)
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def _unfit_names(rec: Any) -> tuple[str, str] | None:
    """The field and why, when a place's or an organization's names do not fit their
    search columns (app.ingest.places.unfit_search_fields)."""
    if isinstance(rec, LocalityRecord):
        why = unfit_search_fields(Locality, locality_search_fields(rec.name, rec.title))
        return ("title" if rec.title else "name", why) if why else None
    if isinstance(rec, BranchRecord):
        why = unfit_search_fields(Branch, branch_search_fields(rec.name, rec.description))
        return ("description" if rec.description else "name", why) if why else None
    return None


# What says where a place or organization comes from, not what it is.
PROVENANCE = frozenset({"source_id", "quote", "note"})


def _defined_by_another(key: str, changed: dict[str, Any]) -> str:
    """Why a row another source defined is not listed again: what this article would
    change of it, or, where it defines it alike (its own quote beside it), that it is
    named by its key."""
    names = sorted(changed.keys() - PROVENANCE)
    if names:
        return f"{key!r} is defined differently by another source ({', '.join(names)})"
    return (
        f"{key!r} is already defined, alike, by another source: name it by its key (as a "
        "locality or a parent) without listing it again"
    )


class _Applier:
    def __init__(self, session: Session, article: ArticleFile, report: ImportReport) -> None:
        self.session = session
        self.article = article
        self.report = report
        self.problems: list[RecordProblem] = []
        self.localities: dict[str, Locality] = {}
        self.branches: dict[str, Branch] = {}
        self.source: Source | None = None
        # The records of this file by their row: what a contradiction found in the
        # rows is named by (app.services.lifetimes).
        self.branch_labels: dict[int, str] = {}
        self.figure_labels: dict[str, tuple[str, str]] = {}

    # -- lookups -------------------------------------------------------------------
    def locality(self, key: str, label: str, field_name: str) -> Locality | None:
        if key not in self.localities:
            found = self.session.exec(select(Locality).where(Locality.key == key)).first()
            if found is None:
                self.problems.append(RecordProblem(label, field_name, f"no locality {key!r}"))
                return None
            self.localities[key] = found
        return self.localities[key]

    def branch(self, key: str, label: str, field_name: str) -> Branch | None:
        if key not in self.branches:
            found = self.session.exec(select(Branch).where(Branch.key == key)).first()
            if found is None:
                self.problems.append(RecordProblem(label, field_name, f"no organization {key!r}"))
                return None
            self.branches[key] = found
        return self.branches[key]

    def placed(self, model: Any, existing: Any, kind: str, parent: Any, label: str) -> bool:
        """Whether a record's row may sit under its parent and above its children, and
        not under itself (app.services.place_tree); a problem named when not."""
        row_id = existing.id if existing is not None else None
        problem = None
        if parent is not None and loops(self.session, model, row_id, parent.id):
            problem = RecordProblem(label, "parent", "it would sit under itself")
        elif parent is not None and (
            why := misplaced(model, kind, parent.kind)
            or too_deep(self.session, model, row_id, parent.id)
        ):
            problem = RecordProblem(label, "parent", why)
        elif row_id is not None and (why := misplaced_children(self.session, model, row_id, kind)):
            problem = RecordProblem(label, "kind", why)
        if problem is not None:
            self.problems.append(problem)
        return problem is None

    # -- upsert --------------------------------------------------------------------
    def upsert(self, model: type[Row], key: str, values: dict[str, Any], label: str) -> Row:
        existing = self.session.exec(select(model).where(model.key == key)).first()  # type: ignore[attr-defined]
        if existing is None:
            row = model(key=key, **values)
            self.session.add(row)
            self.session.flush()
            self.report.added.append(label)
            return row
        owner = getattr(existing, "source_id", None)
        changed = {k: v for k, v in values.items() if getattr(existing, k) != v}
        # A place or organization another source defined is shared, not redefined here.
        foreign = owner is not None and self.source is not None and owner != self.source.id
        if changed and foreign and model in (Locality, Branch):
            self.problems.append(RecordProblem(label, "key", _defined_by_another(key, changed)))
            return existing
        if changed:
            for name, value in changed.items():
                setattr(existing, name, value)
            if hasattr(existing, "updated_at"):
                existing.updated_at = utcnow()
            self.session.add(existing)
            self.session.flush()
            self.report.changed.append(label)
        else:
            self.report.unchanged += 1
        return existing

    # -- sections ------------------------------------------------------------------
    def apply_source(self, text: str, text_path: str | None, today: date) -> Source:
        rec = self.article.source
        values: dict[str, Any] = {
            "publisher": rec.publisher,
            "title": rec.title,
            "published_on": rec.published_on,
            "date_note": rec.date_note,
            "author": rec.author,
            "language": rec.language,
            "url": rec.url,
            "text": text,
            "text_sha256": text_sha256(text),
            "text_path": text_path,
        }
        existing = self.session.exec(select(Source).where(Source.key == rec.key)).first()
        if existing is not None and text_path is None and existing.text == text:
            # The same text sent inline (an import through the API of a file the seed
            # loaded): it is still where it was read from, and the import changes nothing.
            values["text_path"] = existing.text_path
        if rec.registered_on is not None:
            values["registered_on"] = rec.registered_on
        elif existing is None:
            values["registered_on"] = today
        self.source = self.upsert(Source, rec.key, values, f"source {rec.key}")
        return self.source

    def apply_localities(self) -> None:
        assert self.source is not None
        for index, rec in enumerate(self.article.localities):
            label = f"localities[{index}] {rec.key}"
            parent = self.locality(rec.parent, label, "parent") if rec.parent else None
            if rec.parent and parent is None:
                continue
            existing = self.session.exec(select(Locality).where(Locality.key == rec.key)).first()
            if existing is not None and existing.source_id is None:
                self.problems.append(
                    RecordProblem(
                        label,
                        "key",
                        f"{rec.key!r} is an official unit from seed/reference: an article "
                        "names it as a parent, it does not redefine it",
                    )
                )
                continue
            if not self.placed(Locality, existing, rec.kind, parent, label):
                continue
            values = {
                "kind": rec.kind,
                "name": rec.name,
                "official_name": rec.title,
                "code": rec.code,
                "parent_id": parent.id if parent else None,
                **locality_search_fields(rec.name, rec.title)._asdict(),
                "source_id": self.source.id,
                "quote": rec.quote,
                "note": rec.note,
            }
            locality = self.upsert(Locality, rec.key, values, label)
            set_locality_ancestors(locality, parent)
            self.session.add(locality)
            self.localities[rec.key] = locality
        sync_locality_words(self.session, self.localities.values())

    def apply_branches(self) -> None:
        assert self.source is not None
        for index, rec in enumerate(self.article.branches):
            label = f"branches[{index}] {rec.key}"
            locality = self.locality(rec.locality, label, "locality") if rec.locality else None
            parent = self.branch(rec.parent, label, "parent") if rec.parent else None
            if (rec.locality and locality is None) or (rec.parent and parent is None):
                continue
            values = {
                "kind": rec.kind,
                "name": rec.name,
                "group_size": rec.group_size,
                "description": rec.description,
                "parent_id": parent.id if parent else None,
                "founded_on": rec.founded_on,
                "dissolved_on": rec.dissolved_on,
                **branch_search_fields(rec.name, rec.description)._asdict(),
                "source_id": self.source.id,
                "quote": rec.quote,
                "note": rec.note,
                "locality_id": locality.id if locality else None,
                "province_id": locality.province_id if locality else None,
                "district_id": locality.district_id if locality else None,
                "commune_id": locality.commune_id if locality else None,
            }
            existing = self.session.exec(select(Branch).where(Branch.key == rec.key)).first()
            if not self.placed(Branch, existing, rec.kind, parent, label):
                continue
            if existing is not None:  # it may move: its old commune's totals go stale
                note_stale(self.session, [existing.commune_id])
            branch = self.upsert(Branch, rec.key, values, label)
            set_branch_place(branch, locality)
            self.branches[rec.key] = branch
            assert branch.id is not None  # upsert flushes
            self.branch_labels[branch.id] = label
        self.session.flush()

    def evidence_date(self, own: date | None) -> date:
        assert self.source is not None
        return evidence_day(own, self.source.published_on, self.source.registered_on)

    def figure_values(self, rec: FigureRecord) -> dict[str, Any]:
        assert self.source is not None
        return {
            "qualifier": rec.qualifier,
            "applies_to_each": rec.applies_to_each,
            "date_derived": rec.date_derived,
            "date_note": rec.date_note,
            "source_id": self.source.id,
            "quote": rec.quote,
            "figure": rec.figure,
            "note": rec.note,
        }

    def apply_figures(self) -> set[str]:
        assert self.source is not None
        keys: set[str] = set()
        prefix = f"{self.source.key}#"
        for index, count in enumerate(self.article.counts):
            label = f"counts[{index}] {count.id}"
            branch = self.branch(count.branch, label, "branch")
            if branch is None:
                continue
            values = self.figure_values(count) | {
                "branch_id": branch.id,
                "value": count.value,
                "value_max": count.value_max,
                "status": count.status,
                "as_of": count.as_of,
                "evidence_date": self.evidence_date(count.as_of),
            }
            keys.add(prefix + count.id)
            self.figure_labels[prefix + count.id] = (label, "as_of")
            self.upsert(MembershipCount, prefix + count.id, values, label)
        for index, event in enumerate(self.article.events):
            label = f"events[{index}] {event.id}"
            branch = self.branch(event.branch, label, "branch")
            if branch is None:
                continue
            start, end = event.bounds()
            values = self.figure_values(event) | {
                "branch_id": branch.id,
                "kind": event.kind,
                "value": event.value,
                "value_max": event.value_max,
                "period_start": start,
                "period_end": end,
                "reason": event.reason,
                "evidence_date": self.evidence_date(end),
            }
            keys.add(prefix + event.id)
            self.figure_labels[prefix + event.id] = (label, "period")
            self.upsert(MembershipEvent, prefix + event.id, values, label)
        for index, fact in enumerate(self.article.facts):
            label = f"facts[{index}] {fact.id}"
            subject_branch = self.branch(fact.branch, label, "branch") if fact.branch else None
            subject_place = (
                self.locality(fact.locality, label, "locality") if fact.locality else None
            )
            if subject_branch is None and subject_place is None:
                continue
            start, end = fact.bounds()
            values = self.figure_values(fact) | {
                "metric": fact.metric,
                "branch_id": subject_branch.id if subject_branch else None,
                "locality_id": subject_place.id if subject_place else None,
                "value": fact.value,
                "value_max": fact.value_max,
                "out_of": fact.out_of,
                "unit": METRIC_UNITS[fact.metric],
                "dimension": fact.dimension,
                "period_start": start,
                "period_end": end,
                "evidence_date": self.evidence_date(end),
            }
            keys.add(prefix + fact.id)
            self.figure_labels[prefix + fact.id] = (label, _first_day(fact)[1])
            self.upsert(Fact, prefix + fact.id, values, label)
        for index, role in enumerate(self.article.roles):
            label = f"roles[{index}] {role.id}"
            branch = self.branch(role.branch, label, "branch")
            if branch is None:
                continue
            values = self.figure_values(role) | {
                "branch_id": branch.id,
                "person": role.person,
                "role": role.role,
                "as_of": role.as_of,
                "evidence_date": self.evidence_date(role.as_of),
            }
            keys.add(prefix + role.id)
            self.figure_labels[prefix + role.id] = (label, "as_of")
            self.upsert(Officeholder, prefix + role.id, values, label)
        return keys

    def check_lifetimes(self) -> None:
        """Each figure of an organization the file names or dates is of its lifetime
        (app.services.lifetimes): a figure of the file is named, else the file's record
        of the organization whose dates it contradicts. One stored so before, by no
        record of the file, is `branchstats check`'s to name."""
        self.session.flush()
        ids = {branch.id for branch in self.branches.values() if branch.id is not None}
        for found in figures_outside_lifetimes(self.session, ids):
            if found.key in self.figure_labels:
                label, field_name = self.figure_labels[found.key]
                self.problems.append(RecordProblem(label, field_name, found.message))
            elif found.branch_id in self.branch_labels:
                label = self.branch_labels[found.branch_id]
                problem = RecordProblem(label, found.branch_field, found.of_the_branch())
                self.problems.append(problem)

    def remove_dropped(self, kept: set[str]) -> None:
        """Figures of this source that the file no longer has are deleted."""
        assert self.source is not None
        for model in FIGURE_MODELS.values():
            rows = self.session.exec(
                select(model).where(model.source_id == self.source.id)  # type: ignore[attr-defined]
            ).all()
            dropped = [row for row in rows if row.key not in kept]  # type: ignore[attr-defined]
            if model is MembershipCount:
                release_counts(self.session, [row.id for row in dropped])  # type: ignore[attr-defined]
            for row in dropped:
                self.session.delete(row)
                self.report.removed.append(row.key)  # type: ignore[attr-defined]
        self.session.flush()

    def find_conflicting_reports(self) -> None:
        """Counts of the same branch and date from another source, with another value."""
        assert self.source is not None
        mine = self.session.exec(
            select(MembershipCount).where(MembershipCount.source_id == self.source.id)
        ).all()
        for count in mine:
            if count.as_of is None:
                continue
            others = self.session.exec(
                select(MembershipCount).where(
                    MembershipCount.branch_id == count.branch_id,
                    MembershipCount.as_of == count.as_of,
                    MembershipCount.source_id != self.source.id,
                    MembershipCount.value != count.value,
                )
            ).all()
            for other in others:
                self.report.conflicting_reports.append(
                    f"{count.key} says {count.value}; {other.key} says {other.value}"
                )


def apply_article(
    session: Session,
    article: ArticleFile,
    text: str,
    *,
    text_path: str | None = None,
    today: date | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Verify and apply one article. Raises ImportRejected, naming every bad record."""
    problems = verify_article(article, text)
    if problems:
        raise ImportRejected(problems)
    if session.exec(select(Source.id).where(Source.is_synthetic).limit(1)).first() is not None:
        # Benchmark data lives in databases of its own: a real article must never sit
        # beside generated figures, where a reader could not tell them apart.
        raise ImportRejected(
            [
                RecordProblem(
                    "source",
                    "database",
                    "this database holds synthetic data (branchstats synth); "
                    "load real articles into a database of their own",
                )
            ]
        )
    today = today or date.today()
    held = article.source.registered_on
    if held is not None and held > today:
        raise ImportRejected(
            [RecordProblem("source", "registered_on", f"{held} is after today ({today})")]
        )
    published = article.source.published_on
    if published is not None and published > today:
        raise ImportRejected(
            [RecordProblem("source", "published_on", f"{published} is after today ({today})")]
        )
    report = ImportReport(source=article.source.key, dry_run=dry_run)
    applier = _Applier(session, article, report)
    applier.apply_source(text, text_path, today)
    applier.apply_localities()
    applier.apply_branches()
    kept = applier.apply_figures()
    if applier.problems:
        raise ImportRejected(applier.problems)
    applier.remove_dropped(kept)
    applier.check_lifetimes()
    if applier.problems:
        raise ImportRejected(applier.problems)
    applier.find_conflicting_reports()
    return report
