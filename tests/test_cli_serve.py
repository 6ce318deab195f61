"""`branchstats serve`: what it asks of uvicorn, and what it refuses before serving."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from app.cli import main
from app.config import REPO_ROOT
from app.db import make_engine
from app.migrate import upgrade_head
from app.services.risk_rules import RiskRules
from app.synth import run_synth
from tests.servers import free_port


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The options of each uvicorn.run, which serves nothing here."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def test_serve_runs_on_asyncios_own_loop(uvicorn_runs: list[dict[str, Any]]) -> None:
    """uvicorn picks uvloop when it is installed (it is, with uvicorn[standard]); SQLite's
    reads on the loop need asyncio's (see app.cli.SERVER_LOOP), so serve names it."""
    port = free_port()
    assert main(["serve", "--no-prepare", "--port", str(port)]) == 0
    assert len(uvicorn_runs) == 1
    assert uvicorn_runs[0]["loop"] == "asyncio"
    assert uvicorn_runs[0]["port"] == port and uvicorn_runs[0]["server_header"] is False


def test_the_services_log_and_the_shutdown_are_as_set(
    uvicorn_runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own logger has uvicorn's handler at LOG_LEVEL (it had none: only
    warnings reached Python's last resort), and a stopping server waits
    SHUTDOWN_TIMEOUT_S for its requests (it waited for a streamed export without end)."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SHUTDOWN_TIMEOUT_S", "3")
    assert main(["serve", "--no-prepare", "--port", str(free_port())]) == 0
    [options] = uvicorn_runs
    assert options["timeout_graceful_shutdown"] == 3
    assert options["log_level"] == "debug"
    service = options["log_config"]["loggers"]["branchstats"]
    assert service["level"] == "DEBUG" and service["handlers"] == ["default"]


def test_a_port_in_use_is_one_line_before_anything_is_prepared(
    uvicorn_runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It migrated and seeded, started the app, then ended in uvicorn's error (exit 3)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as refused:
            main(["serve", "--host", "127.0.0.1", "--port", str(port)])
    said = str(refused.value.code)
    assert said.startswith(f"cannot listen on 127.0.0.1:{port}: ") and "\n" not in said
    assert uvicorn_runs == [] and list(tmp_path.iterdir()) == []


def test_serving_without_preparing_refuses_a_database_of_a_newer_release(
    uvicorn_runs: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """--no-prepare served it, and took writes into a schema this release does not know."""
    url = f"sqlite:///{tmp_path}/ahead.sqlite3"
    engine = make_engine(url)
    upgrade_head(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["serve", "--no-prepare", "--port", str(free_port())]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("the database is at migration 9999, which this release does not have")
    assert uvicorn_runs == []


def _serve(url: str, log: Path, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """`branchstats serve --no-prepare` in a process group of its own, once ready."""
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "serve", "--no-prepare", "--host", "127.0.0.1"]
    with log.open("ab") as out:
        server = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, "DATABASE_URL": url, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return server, port
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_a_stopping_server_ends_an_export_its_reader_holds(tmp_path: Path) -> None:
    """SIGTERM while a client holds a whole export unread: the server waited for it for as
    long as the client liked (past `docker stop`'s 10 s, then killed); it cancels it after
    SHUTDOWN_TIMEOUT_S, and its own log says what it serves, at LOG_LEVEL info."""
    url = f"sqlite:///{tmp_path}/synth.sqlite3"
    engine = make_engine(url)
    upgrade_head(engine)
    run_synth(engine, scale=0.005, seed=7, rules=RiskRules(), progress=False)
    engine.dispose()
    log = tmp_path / "server.log"
    server, port = _serve(url, log, SHUTDOWN_TIMEOUT_S="1", LOG_LEVEL="info")
    try:
        with socket.socket() as reader:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.connect(("127.0.0.1", port))
            request = "GET /membership-counts?format=csv HTTP/1.1\r\nHost: t\r\n\r\n"
            reader.sendall(request.encode())
            assert reader.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(1)  # the server's buffers fill; the export waits for the reader
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    said = log.read_text()
    assert "timeout graceful shutdown exceeded" in said, said
    assert f"INFO:     serving {url}, risk rules " in said, said
