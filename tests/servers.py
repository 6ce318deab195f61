"""The real server in tests: uvicorn in a subprocess on a loopback port, a PostgreSQL of a
test's own, and the figures the issue 8 checks print in the run's summary.

Used by the outage, soak, crash and secrets tests. Every server listens on 127.0.0.1 only.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.cli import SERVER_LOOP
from app.config import REPO_ROOT
from app.db import make_engine
from app.ingest.seed import load_seed
from app.migrate import upgrade_head
from app.services.risk_rules import RiskRules

# -- Figures, printed in the run's summary ------------------------------------------------
FIGURES = "figures (issue 8)"
# Where an xdist worker leaves its figures for the controller (tests/conftest.py).
WORKER_FIGURES = "branchstats_figures"


class Figures:
    """Figures that checks print, by section, shown in the terminal summary of every run.

    Registered once per run, by the first add_figures() (on the controller: the workers' are
    handed over as each worker ends, see `pytest_testnodedown` in tests/conftest.py).
    """

    name = "branchstats-figures"

    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for title, lines in self.sections.items():
            terminalreporter.section(title)
            # Sorted: the workers' lines arrive worker by worker, each check's together.
            for line in sorted(lines):
                terminalreporter.write_line(line)


def add_figures(config: pytest.Config, section: str, lines: Sequence[str]) -> None:
    """Lines for the run's summary: kept by this process's Figures, or an xdist worker's
    handed to the controller, whose terminal summary is the one shown."""
    handover: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if handover is not None:
        handover.setdefault(WORKER_FIGURES, []).extend([section, line] for line in lines)
        return
    plugins = config.pluginmanager
    figures = plugins.get_plugin(Figures.name)
    if figures is None:
        figures = Figures()
        plugins.register(figures, Figures.name)
    figures.sections.setdefault(section, []).extend(lines)


def say(config: pytest.Config, line: str, section: str = FIGURES) -> None:
    """Add a line to a section of the run's summary (and print it, for -s runs)."""
    add_figures(config, section, [line])
    print(line)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# -- Ports ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- A PostgreSQL of the test's own -------------------------------------------------------
@dataclass
class OwnPostgres:
    """A pgserver data directory whose server a test stops and starts at will."""

    server: Any
    port: int

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        server = self.server
        pg_ctl(list(args), pgdata=server.pgdata, user=server.system_user, timeout=60)

    def start(self) -> None:
        """Listen on loopback TCP (and on pgserver's socket directory); wait until ready."""
        socket_dir = self.server.get_postmaster_info().socket_dir
        options = f"-h 127.0.0.1 -p {self.port} -k {socket_dir}"
        self._pg_ctl("-w", "-l", str(self.server.log), "-o", options, "start")

    def stop(self) -> None:
        """Stop now: `fast` rolls back open transactions and ends every session."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, *, seeded: bool = True) -> str:
        """A new database, migrated (and seeded); its URL."""
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = self.url(name)
        engine = make_engine(url)
        upgrade_head(engine)
        if seeded:
            load_seed(engine, REPO_ROOT / "seed", RiskRules())
        engine.dispose()
        return url


@contextlib.contextmanager
def own_postgres(prefix: str = "branchstats-pg-") -> Iterator[OwnPostgres]:
    """A private PostgreSQL on a free loopback port, stopped and deleted afterwards."""
    import pgserver

    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    # pgserver runs initdb and starts a socket-only server; it is restarted on TCP below.
    # cleanup_mode=None: this helper stops the server itself (pgserver would only stop
    # the postmaster it started, not the restarted one).
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    pg = OwnPostgres(server, free_port())
    pg.stop()
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            pg.stop()
        server.cleanup()  # forget the handle (cleanup_mode=None: stops nothing)
        shutil.rmtree(data_dir, ignore_errors=True)


# -- The real server ------------------------------------------------------------------
class Server:
    """`uvicorn app.main:app` in a subprocess over `database_url`, on a loopback port.

    The server runs in a process group of its own, so `kill()` (SIGKILL) reaches its
    worker processes too. Its output goes to `log_path`.
    """

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        log_level: str = "warning",
        access_log: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.workers = workers
        self.env = env or {}
        self.log_level = log_level
        self.access_log = access_log
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    def start(self, ready_within_s: float = 60) -> "Server":
        """Start and wait until /ready answers 200."""
        command = [
            *(sys.executable, "-m", "uvicorn", "app.main:app"),
            *("--host", "127.0.0.1", "--port", str(self.port)),
            *("--log-level", self.log_level),
            *("--loop", SERVER_LOOP),
            "--access-log" if self.access_log else "--no-access-log",
        ]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        command += self.extra_args
        env = {**os.environ, **self.env, "DATABASE_URL": self.database_url}
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = began + ready_within_s
        while True:
            assert self.process.poll() is None, self.log_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.05)
        self.started_in = time.monotonic() - began
        return self

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers, or the one server process."""
        assert self.process is not None
        workers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (stat.parent / "cmdline").read_bytes()
                if parent == self.process.pid and b"resource_tracker" not in cmdline:
                    workers.append(int(stat.parent.name))
        return sorted(workers) or [self.process.pid]

    def kill(self) -> None:
        """SIGKILL the server and its workers: no shutdown, no cleanup, no flush."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM); SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # a worker left behind
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- Servers forked from a process that has imported the app ------------------------------
# Starting `python -m uvicorn` imports the app first: seconds on a busy machine. A test
# that restarts the server many times (test_crash.py) forks each server from a launcher
# that imported it once; the forked process is a uvicorn server like any other, in a
# process group of its own, and SIGKILL ends it just the same.
_LAUNCHER = """
import os, signal, sys

import uvicorn

import app.main
from app.cli import SERVER_LOOP

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the killed servers
for line in sys.stdin:
    port, log = line.split(maxsplit=1)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        out = os.open(log.strip(), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        uvicorn.run(
            app.main.app, host="127.0.0.1", port=int(port), log_level="warning",
            access_log=False, loop=SERVER_LOOP,
        )
        os._exit(0)
    print(pid, flush=True)
"""


class ForkedServer:
    """One server forked by a `Launcher`: the same interface as `Server`."""

    def __init__(self, pid: int, port: int, log_path: Path) -> None:
        self.pid = pid
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.started_in = 0.0

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _wait_gone(self, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def wait_ready(self, began: float, within_s: float = 60) -> None:
        while True:
            assert self.alive(), self.log_path.read_text(errors="replace")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/ready", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < began + within_s, "the server did not become ready"
            time.sleep(0.02)
        self.started_in = time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, no flush."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        assert self._wait_gone(30), "the killed server is still there"

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not self._wait_gone(15):
            self.kill()

    def __enter__(self) -> "ForkedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Launcher:
    """A process that imports the app once, then forks a server over `database_url`
    each time `start()` is called."""

    def __init__(
        self, database_url: str, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.log_path = log_path
        environment = {**os.environ, **(env or {}), "DATABASE_URL": database_url}
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self) -> ForkedServer:
        assert self.process.stdin and self.process.stdout
        began = time.monotonic()
        port = free_port()
        self.process.stdin.write(f"{port} {self.log_path}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the launcher died: {self.log_path.read_text(errors='replace')}"
        server = ForkedServer(int(line), port, self.log_path)
        server.wait_ready(began)
        return server

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> "Launcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
