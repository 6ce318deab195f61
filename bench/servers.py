"""Server processes under test: started pinned to a CPU, awaited, watched, stopped."""

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kb(pid: int) -> int:
    """VmRSS of a process, in kB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_ready(server: Server, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited ({server.process.returncode}):\n{server.log_tail()}"
                )
            try:
                if client.get(server.base_url + path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout_s:.0f} s:\n{server.log_tail()}")


@contextmanager
def serve(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    ready_path: str,
    cpu: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    log_name: str | None = None,
    timeout_s: float = 120.0,
) -> Iterator[Server]:
    """Run `argv` pinned to `cpu` (taskset execs it: the pid is the server's own)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{log_name or name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["taskset", "-c", cpu, *argv],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(server, ready_path, timeout_s)
        yield server
    finally:
        server.stop()


class RssSampler:
    """The largest VmRSS of a process while the block runs, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.max_kb = rss_kb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.max_kb = max(self.max_kb, rss_kb(self.pid))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.max_kb = max(self.max_kb, rss_kb(self.pid))


def pin_process_tree(root_pid: int, cpus: set[int]) -> int:
    """Pin a process and its children (e.g. a PostgreSQL postmaster and its workers).

    Processes forked later inherit the postmaster's affinity. Returns how many were pinned.
    """
    pinned = 0
    for pid in process_tree(root_pid):
        try:
            os.sched_setaffinity(pid, cpus)
            pinned += 1
        except ProcessLookupError:
            pass
    return pinned


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user and system) used so far by these processes (those living)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree(root_pid: int) -> list[int]:
    """A process and its children, e.g. a PostgreSQL postmaster and its backends."""
    return [root_pid, *_children(root_pid)]
