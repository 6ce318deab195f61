"""What an answer built at each request costs the application before any HTTP, and the
share of the framework floor that leaves its endpoint when served.

    .venv/bin/python bench/bounds.py --scale 1.0 --databases sqlite,postgresql

bench/run.py measures each endpoint served. This calls the same application in its own
process, as uvicorn would (one ASGI call a request: no socket, no HTTP parsing), keeping
no answer (ANSWER_CACHE_MB=0), pinned to the server's CPU with PostgreSQL's postmaster,
and reports per request (the median of its rounds):

- `cpu`: the CPU time the request took on that core: this process's, and PostgreSQL's
  (its postmaster and backends);
- `database`: the CPU time of the request's statements alone, replayed on a connection
  of their own (the same SQL and values; both sides of it on PostgreSQL);
- the answer's size.

The floor's time a request is measured served, as bench/run.py does. Its share of the
floor an endpoint would reach if serving it cost `cpu` is floor / cpu; if it cost only
its statements, floor / database.

On SQLite these are upper bounds: a served request costs its `cpu` and uvicorn's work
besides (one branch at scale 1.0, 2026-12-05: 489 µs served, 343 in process), and its
statements however little the rest of the application takes. On PostgreSQL they are
estimates: requests served together overlap the switches between the two processes (the
page at risk: 657 µs served, 740 in process), so only a wide margin below a target says
that no change outside the statements can meet it.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from app.reader import statements_for
from bench import targets
from bench.databases import Postgres, prepare
from bench.run import (
    DEEP_PAGES,
    ENDPOINTS,
    Config,
    Run,
    api_server,
    bench_floor,
    discover,
    fill,
)
from bench.servers import REPO, cpu_seconds, process_tree
from bench.wrk import require_wrk

SHARES = {name: "list" for name in targets.LISTS} | {name: "detail" for name in targets.DETAILS}


@dataclass(frozen=True)
class Cost:
    """One endpoint's request, in process."""

    status: int
    body_bytes: int
    cpu_us: float  # this process's and the database server's, per request
    statements: int  # per request
    database_us: float  # those statements replayed alone, per request


@dataclass(frozen=True)
class Reach:
    """How much of the floor an endpoint could reach served, from its cost in process."""

    endpoint: str
    target: float  # the share of the floor the issue asks for
    floor_us: float  # the floor's time a request, served
    cost: Cost

    @property
    def share(self) -> float:
        """Its share of the floor if a request served cost its CPU in process."""
        return self.floor_us / self.cost.cpu_us

    @property
    def share_of_statements(self) -> float:
        """Its share of the floor if a request served cost only its statements."""
        return self.floor_us / self.cost.database_us if self.cost.database_us else float("inf")


def cpu_clock(database_pid: int | None) -> Callable[[], float]:
    """Seconds of CPU used so far by this process (every thread) and, when the database
    is a server, by its processes as they are now (its pooled backends stay: made once the
    application's pool is warm, the clock sees each of them)."""
    if database_pid is None:
        return time.process_time
    pids = process_tree(database_pid)
    return lambda: time.process_time() + cpu_seconds(pids)


class InProcess:
    """The application, started (its lifespan) and called with one ASGI request at a time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def get(self, path: str) -> tuple[int, bytes]:
        route, _, query = path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": route, "raw_path": route.encode(),
            "query_string": query.encode(), "root_path": "", "state": {},
            "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench/bounds")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        status = 0
        body = bytearray()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, bytes(body)


@contextmanager
def told_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements the application's reads run meanwhile, with their driver values."""
    told: list[tuple[str, Any]] = []
    listeners = statements_for(engine.dialect).listeners
    listener = lambda sql, arguments: told.append((sql, arguments))  # noqa: E731
    listeners.append(listener)
    try:
        yield told
    finally:
        listeners.remove(listener)


def replay_cpu_us(
    engine: Engine, statements: list[tuple[str, Any]], *, requests: int, rounds: int,
    clock: Callable[[], float],
) -> float:  # fmt: skip
    """CPU µs for one run of `statements`, each fetched whole, on a connection of their own:
    the median of `rounds` rounds of `requests` runs (PostgreSQL's CPU is counted in clock
    ticks: a round must last many of them), after as many unmeasured. PostgreSQL's in
    binary results, as the application asks."""
    connection = engine.raw_connection()
    try:
        driver: Any = connection.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        if not sqlite:
            driver.autocommit = True

        def run() -> None:
            for sql, arguments in statements:
                cursor = driver.cursor() if sqlite else driver.cursor(binary=True)
                cursor.execute(sql, arguments)
                cursor.fetchall()
                cursor.close()

        for _ in range(requests):
            run()
        samples = []
        for _ in range(rounds):
            started = clock()
            for _ in range(requests):
                run()
            samples.append((clock() - started) / requests)
        return statistics.median(samples) * 1e6
    finally:
        connection.close()


async def measure_cost(
    app: FastAPI, path: str, *, requests: int, rounds: int, database_pid: int | None
) -> Cost:
    """`path`'s request: CPU a request over `rounds` rounds of `requests` (their median),
    after as many unmeasured; then its statements replayed alone."""
    client = InProcess(app)
    engine: Engine = app.state.engine
    with told_statements(engine) as told:
        status, body = await client.get(path)
    for _ in range(requests):
        await client.get(path)
    clock = cpu_clock(database_pid)
    samples = []
    for _ in range(rounds):
        started = clock()
        for _ in range(requests):
            await client.get(path)
        samples.append((clock() - started) / requests)
    return Cost(
        status=status,
        body_bytes=len(body),
        cpu_us=statistics.median(samples) * 1e6,
        statements=len(told),
        database_us=replay_cpu_us(engine, told, requests=requests, rounds=rounds, clock=clock),
    )


async def measure_app(
    settings: Settings, paths: dict[str, str], *, requests: int, rounds: int,
    database_pid: int | None,
) -> dict[str, Cost]:  # fmt: skip
    """Each endpoint's cost, on one application started with `settings`."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        return {
            name: await measure_cost(
                app, path, requests=requests, rounds=rounds, database_pid=database_pid
            )
            for name, path in paths.items()
        }


def target_of(endpoint: str, database: str) -> float:
    if SHARES[endpoint] == "list":
        return targets.LIST_SHARE[database]
    return targets.DETAIL_SHARE


def markdown(database: str, scale: str, reaches: list[Reach]) -> str:
    floor = f", the floor {reaches[0].floor_us:.0f} µs a request served" if reaches else ""
    kind = "upper bounds" if database == "sqlite" else "estimates (see bench/bounds.py)"
    lines = [
        f"### {database}, scale {scale}: a request's CPU in process{floor}",
        "",
        f"Shares of the floor: {kind}.",
        "",
        "| endpoint | answer | cpu µs | statements | their cpu µs | share | "
        "share, statements alone | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reaches:
        c = r.cost
        answer = f"{c.body_bytes / 1000:.1f} KB" + ("" if c.status == 200 else f" ({c.status})")
        lines.append(
            f"| {r.endpoint} | {answer} | {c.cpu_us:.0f} | {c.statements} "
            f"| {c.database_us:.0f} | {_versus(r.share, r.target)} | "
            f"{_versus(r.share_of_statements, r.target)} | {r.target:.2f} |"
        )
    return "\n".join(lines)


def _versus(share: float, target: float) -> str:
    return f"{share:.3f}" if share >= target else f"**{share:.3f}**"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1.0", help="seed or a synth scale.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=1000, help="Requests a round.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds of the floor.")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--seed", type=int, default=42, help="The synth seed.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    require_wrk()
    cfg = Config(
        args.duration, 2.0, 32, 2, args.server_cpu, args.load_cpu, DEEP_PAGES,
        REPO / "bench" / "results" / "logs" / "bounds",
    )  # fmt: skip
    run = Run(cfg)
    backends = args.databases.split(",")
    pg = Postgres(int(cfg.server_cpu)) if "postgresql" in backends else None
    try:
        for backend in backends:
            os.sched_setaffinity(0, {int(cfg.load_cpu)})
            target = prepare(backend, args.scale, pg=pg, seed=args.seed, rebuild=False)
            with api_server(target, cfg) as server:
                values, _ = discover(server.base_url, cfg.deep_pages)
            paths = {
                e.name: path
                for e in ENDPOINTS
                if e.name in SHARES and (path := fill(e.path, values)) is not None
            }
            bench_floor(run, backend, args.scale, "before")
            floor = run.floors[(backend, args.scale)]["before"]
            if floor.wrk is None or floor.status != "ok":
                print(f"the floor could not be measured: {floor.note}", file=sys.stderr)
                return 1
            os.sched_setaffinity(0, {int(cfg.server_cpu)})
            settings = Settings(database_url=target.url, answer_cache_mb=0)
            costs = asyncio.run(
                measure_app(
                    settings, paths, requests=args.requests, rounds=args.rounds,
                    database_pid=pg.postmaster if pg is not None and backend != "sqlite" else None,
                )
            )  # fmt: skip
            reaches = [
                Reach(name, target_of(name, backend), 1e6 / floor.wrk.rps, cost)
                for name, cost in costs.items()
            ]
            print("\n" + markdown(backend, args.scale, reaches) + "\n", flush=True)
    finally:
        if pg is not None:
            pg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
