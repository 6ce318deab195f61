"""Running wrk and reading its report (wrk 4.x, with --latency)."""

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

INSTALL_HINT = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), brew install wrk"
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m)"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk counts statuses >= 400 here; 3xx are caught by the pre-flight check
    socket_errors: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_wrk() -> None:
    for tool, hint in (("wrk", INSTALL_HINT), ("taskset", "taskset is in util-linux")):
        if shutil.which(tool) is None:
            raise SystemExit(hint)


def run_wrk(
    url: str,
    *,
    duration_s: float,
    connections: int,
    threads: int,
    cpu: str,
    timeout_s: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """One wrk run pinned to `cpu`. A long timeout: a slow endpoint is measured, not dropped."""
    # "Name: value", with the space: wrk drops a header written "Name:value".
    sent = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    command = [
        "taskset", "-c", cpu, "wrk", f"-t{threads}", f"-c{connections}",
        f"-d{max(1, round(duration_s))}s", "--latency", "--timeout", f"{timeout_s:g}s", *sent, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_MS[unit]


def parse_wrk(report: str) -> WrkResult:
    """Read requests, duration, req/s, p50, p99 and the error counts from wrk's text report."""
    total = re.search(rf"(\d+) requests in {_DURATION}", report)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    p50 = re.search(rf"^\s+50(?:\.000)?%\s+{_DURATION}\s*$", report, re.MULTILINE)
    p99 = re.search(rf"^\s+99(?:\.000)?%\s+{_DURATION}\s*$", report, re.MULTILINE)
    if not (total and rps and p50 and p99):
        raise ValueError(f"unexpected wrk report:\n{report}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sockets:
        errors = dict(zip(errors, map(int, sockets.groups()), strict=True))
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2), total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1), p50.group(2)),
        p99_ms=_ms(p99.group(1), p99.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors,
    )
