"""The databases under test: built once, cached in bench/data/ between runs.

`seed` is the real seed articles, loaded fresh with `branchstats seed` every run (seconds).
Any other scale is synthetic data (app.synth), reused while it was built with the same
scale and seed and its schema is at the latest migration; otherwise it is built again.
"""

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import normalize_database_url
from app.db import make_engine
from app.migrate import current_revision, head_revision, upgrade_head
from app.services.risk_rules import RiskRules
from app.services.status_day import refresh_if_stale
from app.synth import incomplete, run_synth
from bench.servers import REPO, VENV_BIN, pin_process_tree

DATA = REPO / "bench" / "data"


@dataclass
class Target:
    backend: str  # sqlite or postgresql
    scale: str  # "seed", or a scale such as "0.1"
    url: str
    sqlite_path: Path | None = None
    built_in_s: float | None = None  # None: reused from the cache
    synth: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.backend} {self.scale}"


class Postgres:
    """A pgserver PostgreSQL whose data directory (bench/data/pg) outlives the run.

    Its postmaster is pinned to the server CPU: the database works on the same single
    core as the API process, as SQLite (in-process) does.
    """

    def __init__(self, cpu: int) -> None:
        import pgserver

        self.data_dir = DATA / "pg"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        self.admin_url = normalize_database_url(self.server.get_uri())
        self.cpu = cpu
        self.postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        pin_process_tree(self.postmaster, {cpu})

    @contextmanager
    def unpinned(self) -> Iterator[None]:
        """On every CPU while a database is built (see every_cpu), pinned again after."""
        pin_process_tree(self.postmaster, set(range(os.cpu_count() or 1)))
        try:
            yield
        finally:
            pin_process_tree(self.postmaster, {self.cpu})

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(False)

    def _admin(self, statement: str) -> list[Any]:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.execute(text(statement))
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def exists(self, database: str) -> bool:
        return bool(self._admin(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"))

    def recreate(self, database: str) -> str:
        self._admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{database}"')
        return self.url(database)

    def close(self) -> None:
        self.server.cleanup()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _seed(url: str) -> None:
    """The real seed, through the command an operator runs."""
    subprocess.run(
        [str(VENV_BIN / "branchstats"), "seed"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _is_current(url: str, scale: str, seed: int) -> bool:
    """Built by synth with this scale and seed to its end (app.synth.incomplete), and
    migrated to the latest revision."""
    engine = make_engine(url)
    try:
        if current_revision(engine) != head_revision():
            return False
        with engine.connect() as conn:
            quote = conn.execute(
                text("SELECT text FROM sources WHERE is_synthetic ORDER BY id LIMIT 1")
            ).scalar()
        unfinished = incomplete(engine)
    except Exception:  # a missing table, a broken file: build it again
        return False
    finally:
        engine.dispose()
    built = quote is not None and f"(scale {float(scale)}, seed {seed})" in quote
    return built and unfinished is None


@contextmanager
def every_cpu() -> Iterator[None]:
    """The harness runs pinned to the load generator's CPU; a build it starts inherits
    that, and app.synth overlaps its work on two cores (a forked child makes the rows;
    the status rows and the communes' totals are computed side by side). Pinned, scale
    1.0 on SQLite took 131.5 + 107.3 s (2026-12-04 11:22) against 156-158 s in all from
    `branchstats synth`."""
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        yield
    finally:
        os.sched_setaffinity(0, pinned)


def _synthesize(url: str, scale: str, seed: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        upgrade_head(engine)
        with every_cpu():
            report = run_synth(  # the rules the benchmark's servers run on: the default
                engine,
                scale=float(scale),
                seed=seed,
                rules=RiskRules(),
                progress=True,
                replace=True,
            )
    finally:
        engine.dispose()
    print(report.summary(), flush=True)
    return {
        "rows": report.rows,
        "members": report.members,
        "load_s": round(report.elapsed_s, 1),
        "status_refresh_s": None if report.refresh_s is None else round(report.refresh_s, 1),
    }


def _sqlite_target(scale: str, seed: int, rebuild: bool) -> Target:
    if scale == "seed":
        path = DATA / "seed.sqlite3"
        _remove_sqlite(path)
        started = time.perf_counter()
        _seed(f"sqlite:///{path}")
        return Target("sqlite", scale, f"sqlite:///{path}", path, time.perf_counter() - started)
    # Datasette names a database after its file; dots would be escaped in its URLs.
    path = DATA / f"synth_{scale.replace('.', '_')}.sqlite3"
    url = f"sqlite:///{path}"
    if path.exists() and not rebuild and _is_current(url, scale, seed):
        return Target("sqlite", scale, url, path)
    # Built under another name and renamed when complete: an interrupted build is never
    # mistaken for a cached one.
    building = path.with_name(path.stem + ".building.sqlite3")
    _remove_sqlite(building)
    started = time.perf_counter()
    synth = _synthesize(f"sqlite:///{building}", scale, seed)
    with sqlite3.connect(building) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _remove_sqlite(path)
    shutil.move(building, path)
    _remove_sqlite(building)
    return Target("sqlite", scale, url, path, time.perf_counter() - started, synth)


def _postgres_target(pg: Postgres, scale: str, seed: int, rebuild: bool) -> Target:
    if scale == "seed":
        url = pg.recreate("bench_seed")
        started = time.perf_counter()
        _seed(url)
        return Target("postgresql", scale, url, built_in_s=time.perf_counter() - started)
    database = f"bench_synth_{scale.replace('.', '_')}"
    # A database that exists may hold a load killed before its end (the status rows and
    # the totals are committed after the data): _is_current rebuilds it.
    if pg.exists(database) and not rebuild and _is_current(pg.url(database), scale, seed):
        return Target("postgresql", scale, pg.url(database))
    url = pg.recreate(database)
    started = time.perf_counter()
    with pg.unpinned():
        synth = _synthesize(url, scale, seed)
    return Target("postgresql", scale, url, None, time.perf_counter() - started, synth)


def prepare(backend: str, scale: str, *, pg: Postgres | None, seed: int, rebuild: bool) -> Target:
    """The database for (backend, scale), from the cache when it is still valid, its
    status current."""
    DATA.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        target = _sqlite_target(scale, seed, rebuild)
    else:
        assert pg is not None
        target = _postgres_target(pg, scale, seed, rebuild)
    _status_for_today(target)
    return target


def _status_for_today(target: Target) -> None:
    """A database built on another day has its risk as of that day: the server would
    recompute it as it starts, under the benchmark's load (a minute at scale 1.0)."""
    engine = make_engine(target.url)
    try:
        started = time.perf_counter()
        if refresh_if_stale(engine, RiskRules()):
            print(f"  status brought to today in {time.perf_counter() - started:.1f} s")
    finally:
        engine.dispose()
