"""Test fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from the `pgserver` package (started here, in a temporary directory),
or from TEST_DATABASE_URL when that points at an existing server. Databases are built by
running the migrations, then copied per test from a template (a file copy on SQLite,
CREATE DATABASE ... TEMPLATE on PostgreSQL), which is faster than migrating each time.
"""

import itertools
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app.config import REPO_ROOT, Settings, normalize_database_url
from app.db import make_engine
from app.ingest.seed import load_seed
from app.main import create_app
from app.migrate import upgrade_head
from app.reader import Reader, statements_for
from app.services.data_check import check_stored
from app.services.data_version import data_version
from app.services.risk_rules import RiskRules
from app.services.status_day import refresh_for_day
from tests.servers import WORKER_FIGURES, add_figures

BACKENDS = ("sqlite", "postgresql")
_counter = itertools.count()
_passed: dict[str, int] = {b: 0 for b in BACKENDS}


# -- PostgreSQL server ---------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to a PostgreSQL database with rights to create databases."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield normalize_database_url(url)
        return
    import pgserver

    data_dir = Path(tempfile.mkdtemp(prefix="branchstats-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    url = normalize_database_url(server.get_uri())
    try:
        yield url
    finally:
        _stop_without_flushing(url)
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _stop_without_flushing(admin_url: str) -> None:
    """The server is deleted once stopped: its stop need not flush the hundreds of
    databases copied for the tests to disk first (25-60 s at the end of each worker,
    measured with 100 copies; 0.3 s without). Only then: during the tests, autovacuum
    and the plans they check run as on a server that flushes."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("ALTER SYSTEM SET fsync = off"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


def _pg_url_for(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


def _pg_create(admin_url: str, database: str, template: str | None = None) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
        clause = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{database}"{clause}'))
    admin.dispose()
    return _pg_url_for(admin_url, database)


# -- Databases -----------------------------------------------------------------------
class DatabaseFactory:
    """Makes fresh databases of one backend, copied from migrated (and seeded) templates."""

    def __init__(self, backend: str, workdir: Path, pg_admin_url: str | None) -> None:
        self.backend = backend
        self.workdir = workdir
        self.pg_admin_url = pg_admin_url
        self._templates: dict[str, str] = {}
        self._seeded_for: date | None = None  # the day of the seeded template's statuses

    def _new_name(self, stem: str) -> str:
        return f"{stem}_{os.getpid()}_{next(_counter)}"

    def _blank(self, stem: str) -> str:
        name = self._new_name(stem)
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.sqlite3')}"
        assert self.pg_admin_url
        return _pg_create(self.pg_admin_url, name)

    def blank(self) -> str:
        """An empty database, not migrated."""
        return self._blank("blank")

    def _template(self, kind: str) -> str:
        if kind not in self._templates:
            url = self._blank(f"tmpl_{kind}")
            engine = make_engine(url)
            upgrade_head(engine)
            if kind == "seeded":
                load_seed(engine, REPO_ROOT / "seed", RiskRules())
                self._seeded_for = date.today()
            engine.dispose()
            self._fold_the_wal(url)
            self._templates[kind] = url
        if kind == "seeded" and self._seeded_for != date.today():
            # A suite that runs past midnight: the copies' statuses are of the day their
            # tests compare them with (a test of "today" read yesterday's as stale).
            engine = make_engine(self._templates[kind])
            refresh_for_day(engine, RiskRules(), date.today())
            engine.dispose()
            self._fold_the_wal(self._templates[kind])
            self._seeded_for = date.today()
        return self._templates[kind]

    def _fold_the_wal(self, url: str) -> None:
        """SQLite: fold the WAL into the main file so that a file copy is complete."""
        if self.backend == "sqlite":
            path = make_url(url).database
            assert path
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def copy(self, kind: str) -> str:
        """A fresh database copied from the 'migrated' or 'seeded' template."""
        template = self._template(kind)
        if self.backend == "sqlite":
            source = make_url(template).database
            assert source
            target = self.workdir / (self._new_name(kind) + ".sqlite3")
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        assert self.pg_admin_url
        return _pg_create(
            self.pg_admin_url, self._new_name(kind), template=make_url(template).database
        )


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def databases(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> DatabaseFactory:
    admin = request.getfixturevalue("pg_admin_url") if backend == "postgresql" else None
    return DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"), admin)


@pytest.fixture
def migrated_url(databases: DatabaseFactory) -> str:
    """A fresh, empty, migrated database."""
    return databases.copy("migrated")


@pytest.fixture
def seeded_url(databases: DatabaseFactory) -> str:
    """A fresh migrated and seeded database, for tests that write."""
    return databases.copy("seeded")


@pytest.fixture(scope="session")
def shared_seeded_url(databases: DatabaseFactory) -> str:
    """One seeded database shared by read-only tests of a backend."""
    return databases.copy("seeded")


@pytest.fixture
def engine(seeded_url: str) -> Iterator[Engine]:
    eng = make_engine(seeded_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def shared_engine(shared_seeded_url: str) -> Iterator[Engine]:
    eng = make_engine(shared_seeded_url)
    yield eng
    eng.dispose()


def make_client(url: str) -> TestClient:
    return TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False)


def announced(client: TestClient, timeout_s: float = 10.0) -> None:
    """Once the app knows the data version now. On PostgreSQL it is announced
    (app.services.version_watch): another connection's write is known when its
    notification has arrived, a moment after its commit; one on the app's engine when a
    request has read the row again. SQLite reads it each time."""
    watch = client.app.state.answers.versions  # type: ignore[attr-defined]
    if watch is None:
        return
    assert watch.wait_listening(timeout_s), "the app never listened for the data version"
    deadline = time.monotonic() + timeout_s
    while True:
        with Reader.open(client.app.state.engine) as reader:  # type: ignore[attr-defined]
            now = data_version(reader)
            watch.current(reader)  # as a request does
        if watch.known == now:
            return
        assert time.monotonic() < deadline, f"version {now} never announced ({watch.known})"
        time.sleep(0.005)


@pytest.fixture(scope="session")
def api(shared_seeded_url: str) -> Iterator[TestClient]:
    """A client of the app over the shared, read-only seeded database."""
    with make_client(shared_seeded_url) as client:
        announced(client)
        yield client


@pytest.fixture(scope="session")
def unkept_api(shared_seeded_url: str) -> Iterator[TestClient]:
    """As `api`, but keeping no answers (ANSWER_CACHE_MB=0): every answer is built."""
    settings = Settings(database_url=shared_seeded_url, answer_cache_mb=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def unkept_write_api(seeded_url: str) -> Iterator[TestClient]:
    """A fresh seeded database that the test may change, on a server that keeps no
    answers: each page is built, and only its total may be a kept one."""
    settings = Settings(database_url=seeded_url, answer_cache_mb=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def write_api(seeded_url: str) -> Iterator[TestClient]:
    """A client of the app over a fresh seeded database that the test may change.

    Afterwards, whatever the test wrote, what is stored passes `branchstats check`
    (app.services.data_check): the rules of every row (its quote in its source, its value
    printed by its figure, its evidence_date the one its dates give, ...), and everything
    stored from the rows to be served (search fields, units of today, list items, status
    rows, yearly totals) what they give now: a write that forgot to refresh some would
    serve stale answers.
    """
    with make_client(seeded_url) as client:
        announced(client)
        yield client
        state = client.app.state  # type: ignore[attr-defined]
        with state.engine.connect() as connection:
            report = check_stored(connection, state.settings.risk_rules)
        assert report.findings == []


class StatementCounter:
    """Counts SQL statements an engine runs (for N+1 checks)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    def _record_read(self, statement: str, parameters: Any) -> None:
        self._record(None, None, statement, parameters, None, False)

    def __enter__(self) -> "StatementCounter":
        # Reads run their prepared statements on the driver's connection (app.reader).
        event.listen(self.engine, "before_cursor_execute", self._record)
        statements_for(self.engine.dialect).listeners.append(self._record_read)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)
        statements_for(self.engine.dialect).listeners.remove(self._record_read)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(api: TestClient) -> "type[StatementCounter] | object":
    engine = api.app.state.engine  # type: ignore[attr-defined]
    return lambda: StatementCounter(engine)


# -- Reporting the two database legs ----------------------------------------------
def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = os.environ.get("TEST_DATABASE_URL") or "pgserver (started by the tests)"
    return [f"databases: sqlite {sqlite3.sqlite_version}; postgresql: {pg}"]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for backend in BACKENDS:
            if f"[{backend}" in report.nodeid or f"-{backend}" in report.nodeid:
                _passed[backend] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(
        f"database legs: sqlite {_passed['sqlite']} passed, "
        f"postgresql {_passed['postgresql']} passed"
    )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """An xdist worker ended: its figures (tests/servers.add_figures) join the summary."""
    for section, line in node.workeroutput.get(WORKER_FIGURES, []):
        add_figures(node.config, section, [line])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI the PostgreSQL leg is not optional: a run in which it did not run fails.
    # Judged by the controller, which sees every worker's reports (a worker, only its own).
    if hasattr(session.config, "workerinput"):
        return
    if os.environ.get("CI") and _passed["postgresql"] == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
