"""Load the seed: the reference units, then every article under seed/articles/."""

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from app.config import REPO_ROOT
from app.ingest.files import read_article_file
from app.ingest.loader import ImportReport, apply_article
from app.ingest.reference import ReferenceReport, load_reference
from app.services.risk_rules import RiskRules
from app.services.status import analyze, refresh_current_units, refresh_status
from app.services.yearly import refresh_totals


@dataclass
class SeedReport:
    reference: ReferenceReport
    articles: list[ImportReport] = field(default_factory=list)

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
        for article in self.articles:
            lines.append(
                f"{article.source}: {len(article.added)} added, {len(article.changed)} changed, "
                f"{len(article.removed)} removed, {article.unchanged} unchanged"
            )
        return "\n".join(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def load_seed(engine: Engine, seed_dir: Path, rules: RiskRules | None = None) -> SeedReport:
    """One transaction: a bad quote anywhere means nothing is loaded."""
    with Session(engine) as session:
        report = SeedReport(
            load_reference(session, seed_dir / "reference" / "units-2025-reform.csv")
        )
        for path in sorted((seed_dir / "articles").glob("*.yaml")):
            article, text, text_path = read_article_file(path)
            report.articles.append(
                apply_article(session, article, text, text_path=_relative(text_path))
            )
        refresh_current_units(session)
        refresh_status(session, rules or RiskRules())
        refresh_totals(session)
        session.commit()
    if report.changes:
        analyze(engine)
    return report
