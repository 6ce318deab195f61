"""Settings, read from the environment (prefix-free names such as DATABASE_URL)."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.services.risk_rules import RiskRules

REPO_ROOT = Path(__file__).resolve().parent.parent
# uvicorn's levels; the service's own log takes the same.
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
# PostgreSQL's statement_timeout is milliseconds in a 32-bit integer: past it, every
# connection was refused (and every request a 503) while the setting passed.
MAX_STATEMENT_TIMEOUT_S = 2_147_483


def _lowercase(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _not_empty(value: object) -> object:
    # An empty path is the working directory: DATA_DIR= made a database wherever the
    # command happened to run.
    if isinstance(value, str) and not value.strip():
        raise ValueError("a directory is needed, not an empty value")
    return value


Directory = Annotated[Path, BeforeValidator(_not_empty)]


class Settings(BaseSettings):
    """Everything the service needs to know about its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; without it, a SQLite file in data_dir.",
    )
    data_dir: Directory = Field(
        default=REPO_ROOT / "data", description="Where the SQLite file lives."
    )
    seed_dir: Directory = Field(
        default=REPO_ROOT / "seed", description="Seed articles and references."
    )
    # The server's log (uvicorn's and the service's own), in any case: DEBUG is debug.
    log_level: Annotated[LogLevel, BeforeValidator(_lowercase)] = "info"
    cursor_secret: str = Field(
        default="branchstats-cursors",
        min_length=1,
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
    statement_timeout_s: float = Field(default=5.0, ge=0, le=MAX_STATEMENT_TIMEOUT_S)
    # A stopping server waits this long for its requests (a streamed export may run for
    # minutes), then cancels them: within the 10 s `docker stop` and 30 s Kubernetes give
    # before they kill it.
    shutdown_timeout_s: int = Field(default=8, ge=1, le=3600)
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
