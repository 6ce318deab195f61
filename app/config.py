"""Settings, read from the environment (prefix-free names such as DATABASE_URL)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.services.risk_rules import RiskRules

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything the service needs to know about its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; without it, a SQLite file in data_dir.",
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Where the SQLite file lives.")
    seed_dir: Path = Field(default=REPO_ROOT / "seed", description="Seed articles and references.")
    log_level: str = "info"
    cursor_secret: str = Field(
        default="branchstats-cursors",
        description="Signs page cursors; set a private value in production.",
    )
    # Risk thresholds (see README, "Risk"): the rule set's version says when they differ.
    # A count of members or of years: at least 1 (below it a rule could never be met, or
    # its window would end before it starts).
    risk_min_members: int = Field(default=5, ge=1, le=1_000_000)
    risk_ageing_members: int = Field(default=3, ge=1, le=1_000_000)
    risk_stall_years: int = Field(default=5, ge=1, le=100)
    risk_charter_min_full_members: int = Field(default=3, ge=1, le=1_000_000)
    risk_attrition_years: int = Field(default=3, ge=1, le=100)
    # Reads: a statement running longer than this is cancelled (seconds).
    statement_timeout_s: float = Field(default=5.0, ge=0)
    # Writes: each API key may make this many a minute, in bursts of as many (per server
    # process; see app/ratelimit.py). Over it, 429 with Retry-After.
    write_rate_per_minute: int = Field(default=60, ge=1)
    # Requests run their (blocking) database work on this many threads per process. More
    # does not add a core: 32 connections on 40 threads measured 30% fewer requests a
    # second than on 4 (threads contending for one interpreter lock; README, Configuration).
    worker_threads: int = Field(default=4, ge=1, le=64)
    # SQLite: a read first runs on the event loop itself, its statements limited to this
    # many milliseconds in all; one that needs longer runs again on a read thread, with
    # the full statement limit. 0: every read on a thread. (app.api.query_route.run_blocking)
    inline_read_budget_ms: int = Field(default=20, ge=0, le=1000)
    # Answers kept until the data changes (stats, branch details; app.services.answer_cache), up
    # to this many megabytes of JSON per process. 0: none kept.
    answer_cache_mb: int = Field(default=32, ge=0, le=4096)
    # PostgreSQL: learn the data version from its notifications (LISTEN, on a connection
    # of the process's own; app.services.version_watch) rather than read it per request.
    # Off behind a pooler that does not keep a session (PgBouncer in transaction mode),
    # where notifications do not arrive.
    listen_for_data_version: bool = True

    @property
    def risk_rules(self) -> "RiskRules":
        return RiskRules(
            min_members=self.risk_min_members,
            ageing_members=self.risk_ageing_members,
            stall_years=self.risk_stall_years,
            charter_min_full_members=self.risk_charter_min_full_members,
            attrition_years=self.risk_attrition_years,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'branchstats.sqlite3'}"


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs (what most tools print)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
