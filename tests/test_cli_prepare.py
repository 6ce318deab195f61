"""Preparing a database (migrate, then the seed) from several processes at once: replicas
of a deployment start together. From an operations audit: on PostgreSQL the second one
stopped on a unique violation (alembic_version, a place's search words, a reference unit)."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app import cli
from app.config import Settings
from app.db import make_engine
from app.migrate import current_revision, head_revision
from app.models import BranchStatus, Locality, Source
from app.services.risk_rules import RiskRules
from tests.conftest import DatabaseFactory
from tests.servers import free_port

JOIN_S = 120  # one takes some 5 s


def test_replicas_starting_together_take_turns(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.blank()
    monkeypatch.setenv("DATABASE_URL", url)
    outcomes: list[object] = []

    def start() -> None:
        try:
            outcomes.append(cli._prepare(serving=True))
        except Exception as exc:  # what a replica would die of
            outcomes.append(exc)

    # Daemons: unlocked, they could wait on each other for good (SQLite's file lock).
    replicas = [threading.Thread(target=start, daemon=True) for _ in range(2)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(JOIN_S)
    assert outcomes == [0, 0]
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        sources = session.execute(select(func.count()).select_from(Source)).scalar_one()
        keys = session.execute(select(Locality.key)).scalars().all()
    engine.dispose()
    assert sources == 5  # the seed's articles, once
    assert len(keys) == len(set(keys))


def test_a_start_computes_the_status_under_the_servers_rules(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a code review: the seed computed every status row under the default rules,
    so a server whose settings change a threshold served the default's risk until the
    day's refresh (and `branchstats seed` left it so)."""
    url = databases.blank()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RISK_MIN_MEMBERS", "6")
    rules = Settings().risk_rules
    assert rules.version != RiskRules().version
    assert cli._prepare(serving=True) == 0
    engine = make_engine(url)
    with Session(engine) as session:
        versions = set(session.execute(select(BranchStatus.rules_version)).scalars())
    engine.dispose()
    assert versions == {rules.version}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:memdb1?mode=memory&cache=shared&uri=true",
        "sqlite:///file::memory:?uri=true",
        "not a url",
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["synth", "--scale", "0.001"]])
def test_a_database_url_of_no_file_is_one_line(
    url: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """An in-memory SQLite database gave each connection a new, empty one: the server's
    threads and its status refresher would each see another database."""
    monkeypatch.chdir(tmp_path)  # a lock file beside a database of no file would land here
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(command) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("DATABASE_URL cannot be used: ") and "\n" not in said
    assert list(tmp_path.iterdir()) == []


def test_a_database_not_listening_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """psycopg's message puts its hint ("Is the server running ...") on a second line."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert cli.main(["migrate"]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("the database is unavailable: ") and "\n" not in said
    assert "Is the server running" in said


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATEMENT_TIMEOUT_S", "-1"),
        ("WORKER_THREADS", "0"),
        ("RISK_MIN_MEMBERS", "five"),
        ("RISK_MIN_MEMBERS", "-3"),  # "below -3 members": never met
        ("RISK_ATTRITION_YEARS", "0"),  # a window that ends before it starts
        # Tracebacks once served, or taken and then failing elsewhere:
        ("LOG_LEVEL", "verbose"),  # uvicorn's KeyError, after migrating and seeding
        ("STATEMENT_TIMEOUT_S", "inf"),  # an OverflowError as the app started
        ("STATEMENT_TIMEOUT_S", "3000000"),  # past PostgreSQL's: every connection refused
        ("DATA_DIR", ""),  # the working directory, a database made wherever it ran
        ("SEED_DIR", " "),
        ("CURSOR_SECRET", ""),  # cursors signed with no key
        ("SHUTDOWN_TIMEOUT_S", "0"),
    ],
)
def test_an_invalid_setting_is_one_line_naming_it(
    name: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A negative statement limit was taken, and every read was then a 503; any other
    invalid setting was a traceback."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite3")
    monkeypatch.setenv(name, value)
    assert cli.main(["migrate"]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"{name} cannot be used: ") and "\n" not in said
    assert list(tmp_path.iterdir()) == []
