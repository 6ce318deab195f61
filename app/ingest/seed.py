"""Load the seed: the reference units, then every article under seed/articles/."""

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.config import REPO_ROOT
from app.ingest.files import read_article_file
from app.ingest.loader import ImportReport
from app.ingest.reference import ReferenceReport, load_reference
from app.models import Source
from app.services.imports import apply_unless_edited
from app.services.risk_rules import RiskRules
from app.services.status import analyze, refresh_current_units, refresh_status
from app.services.yearly import refresh_totals

# Changes held back named in a start's summary (`branchstats import --dry-run` of the
# file lists them all).
HELD_BACK_SHOWN = 10
ARTICLE_FILES = "*.yaml"


@dataclass
class SeedReport:
    reference: ReferenceReport
    articles: list[ImportReport] = field(default_factory=list)
    # Source key -> what the file would undo of the changes made through the API.
    left_as_edited: dict[str, list[str]] = field(default_factory=dict)
    # Source key -> every change the file would make, none made (the undoing ones, and
    # any a new release brings to the file, such as a date now marked derived).
    held_back: dict[str, list[str]] = field(default_factory=dict)
    # The articles' directory, when it holds no article: a SEED_DIR mistyped or emptied
    # loaded nothing, and said nothing of it.
    no_articles_in: str | None = None
    # Files beside the articles that are none ("005_x.yml"), left unread.
    not_articles: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return (
            self.reference.added
            + self.reference.successions_added
            + self.reference.successions_changed
            + sum(a.changes for a in self.articles)
        )

    def summary(self) -> str:
        lines = [
            f"reference units: {self.reference.added} added, {self.reference.unchanged} unchanged"
        ]
        if self.no_articles_in is not None:
            lines.append(f"articles: none in {self.no_articles_in} ({ARTICLE_FILES} files)")
        lines.extend(
            f"{name}: not read, no article ({ARTICLE_FILES})" for name in self.not_articles
        )
        for article in self.articles:
            lines.append(
                f"{article.source}: {len(article.added)} added, {len(article.changed)} changed, "
                f"{len(article.removed)} removed, {article.unchanged} unchanged"
            )
        for source, conflicts in self.left_as_edited.items():
            lines.append(
                f"{source}: left as edited through the API, not loaded again "
                f"(`branchstats import --force` of its file lets the file win):"
            )
            lines.extend(f"  {conflict}" for conflict in conflicts)
            held = self.held_back.get(source, [])
            shown = "; ".join(held[:HELD_BACK_SHOWN])
            more = (
                f"; and {len(held) - HELD_BACK_SHOWN} more" if len(held) > HELD_BACK_SHOWN else ""
            )
            lines.append(
                f"  held back with them, every change the file makes ({len(held)}): "
                f"{shown}{more}; make the ones to keep through the API"
            )
        return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def holds_synthetic(engine: Engine) -> bool:
    """Whether the database holds data of `branchstats synth`, which the seed never joins."""
    with Session(engine) as session:
        synthetic = select(Source.id).where(col(Source.is_synthetic)).limit(1)
        return session.exec(synthetic).first() is not None


def load_seed(engine: Engine, seed_dir: Path, rules: RiskRules) -> SeedReport:
    """One transaction: a bad quote anywhere means nothing is loaded. An article whose
    records were changed through the API since it was loaded is left as edited. The
    status rows are computed under `rules`, the server's (its settings): under others,
    every start would serve the default thresholds until the day's refresh."""
    with Session(engine) as session:
        report = SeedReport(
            load_reference(session, seed_dir / "reference" / "units-2025-reform.csv")
        )
        articles_dir = seed_dir / "articles"
        paths = sorted(articles_dir.glob(ARTICLE_FILES))
        if not paths:
            report.no_articles_in = _relative(articles_dir)
        report.not_articles = [
            _relative(path)
            for path in sorted(articles_dir.glob("*"))
            if path not in paths and not path.name.startswith(".")
        ]
        for path in paths:
            article, text, text_path = read_article_file(path)
            applied, conflicts = apply_unless_edited(
                session, article, text, text_path=_relative(text_path)
            )
            if conflicts:
                report.left_as_edited[article.source.key] = [c["message"] for c in conflicts]
                report.held_back[article.source.key] = [
                    *(f"add {what}" for what in applied.added),
                    *(f"change {what}" for what in applied.changed),
                    *(f"remove {what}" for what in applied.removed),
                ]
            else:
                report.articles.append(applied)
        refresh_current_units(session)
        refresh_status(session, rules)
        refresh_totals(session)
        session.commit()
    if report.changes:
        analyze(engine)
    return report
