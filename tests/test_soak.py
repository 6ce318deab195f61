"""Soak with writers (issue 8, point 3): the real server, readers and writers at once.

uvicorn runs in a subprocess on a loopback port: over SQLite (WAL) with one process, and
over a PostgreSQL of the test's own with several worker processes (`--workers`, as the
Dockerfile serves). For a while (a fixed time, longer on a slow machine until the
writers have done enough to check), reader threads GET lists, items and the risk
summary, and writer threads, each with its own API key and its own source, POST membership
counts (unique record ids and values, quotes from their source's text) and PATCH their
earlier counts with If-Match (now and then with a stale ETag, which must be a 412).

A client here behaves as the API asks: a 503 is retried after Retry-After (at most 1 s
here), a POST with the same Idempotency-Key so that a retry never duplicates. Afterwards:

- no 5xx but 503 on SQLite (busy: counted and reported, each with Retry-After), none at
  all on PostgreSQL, and no connection errors;
- every acknowledged write (a 2xx) is there, and nothing else: the rows drawn from the
  writers' sources are exactly the acknowledged creates, checked by count and by content
  (value and quote, after the acknowledged PATCHes), in the database and through the API.

The write rate limit is lifted for the soak (WRITE_RATE_PER_MINUTE): it is tested in
test_rate_limit.py, and here it would only slow the writers down.
"""

import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.db import make_engine
from app.services.auth import Caller, create_key
from app.services.risk_rules import RiskRules
from app.services.status import refresh_status
from app.services.writes import Outcome, WriteContext, transact
from tests.conftest import DatabaseFactory
from tests.servers import Server, own_postgres, percentile, say

SOAK_S = 12.0  # load per backend, in seconds, at least...
# ...and until the writers have done this much (a slow machine takes longer, not less),
# within SOAK_CAP_S: past that the writes are too slow, and the test says so.
MIN_CREATES = 20
MIN_PATCHES = 4
SOAK_CAP_S = 120.0
WRITERS = 4
READERS = 4
PG_WORKERS = 3
SENTENCES = 600  # counts a writer can create: more than it has time for
PATCH_SHARE = 0.3  # of a writer's writes, once it has counts
STALE_SHARE = 0.1  # of its PATCHes, sent with an ETag it knows is stale
RETRIES = 20  # 503s a client retries one request before giving up
SERVER_ENV = {"WRITE_RATE_PER_MINUTE": "1000000"}
READS = (
    "/branches?limit=10",
    "/localities?limit=10",
    "/membership-counts?limit=20",
    "/risk/summary",
    "/sources?limit=10",
)


# -- The database ---------------------------------------------------------------------
@pytest.fixture
def soak_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLite: a seeded copy. PostgreSQL: a seeded database on a server of the test's own,
    on loopback TCP, so the load never touches the shared test server."""
    if backend == "sqlite":
        databases: DatabaseFactory = request.getfixturevalue("databases")
        yield databases.copy("seeded")
        return
    with own_postgres("branchstats-soak-") as pg:
        yield pg.create_database("branchstats")


# -- What the clients saw -------------------------------------------------------------
@dataclass
class Expected:
    """A count as its writer last had it acknowledged."""

    key: str
    value: int
    quote: str


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    retry_after_missing: int = 0
    errors: list[str] = field(default_factory=list)
    expected: dict[int, Expected] = field(default_factory=dict)
    sources: list[int] = field(default_factory=list)

    def record(self, kind: str, status: int, latency: float, retry_after: str | None) -> None:
        with self.lock:
            self.statuses.setdefault(kind, Counter())[status] += 1
            self.latencies.setdefault(kind, []).append(latency)
            if status == 503 and not (retry_after and retry_after.isdigit()):
                self.retry_after_missing += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def all_statuses(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for counter in self.statuses.values():
            total.update(counter)
        return total


class Client:
    """An httpx client that records every answer and retries 503s as the API asks."""

    def __init__(self, base: str, tally: Tally, headers: dict[str, str] | None = None) -> None:
        # No keep-alive: every request is a new connection, so the kernel spreads them
        # over the worker processes (one kept-alive connection stays with one worker).
        self.http = httpx.Client(
            base_url=base,
            timeout=30,
            headers=headers or {},
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.tally = tally

    def call(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        for _ in range(RETRIES):
            started = time.monotonic()
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                self.tally.record(kind, 0, time.monotonic() - started, None)
                self.tally.error(f"{method} {path}: {exc!r}")
                return None
            retry_after = response.headers.get("retry-after")
            self.tally.record(kind, response.status_code, time.monotonic() - started, retry_after)
            if response.status_code != 503:
                return response
            time.sleep(min(1.0, float(retry_after or 1)))
        self.tally.error(f"{method} {path}: still 503 after {RETRIES} tries")
        return None

    def close(self) -> None:
        self.http.close()


# -- Readers and writers --------------------------------------------------------------
def reader(base: str, tally: Tally, stop: threading.Event, items: list[str]) -> None:
    client = Client(base, tally)
    rng = random.Random()
    try:
        while not stop.is_set():
            path = rng.choice(READS + tuple(items))
            response = client.call("read", "GET", path)
            if response is not None and response.status_code != 200:
                tally.error(f"GET {path}: {response.status_code} {response.text[:200]}")
    finally:
        client.close()


@dataclass
class WriterPlan:
    number: int
    token: str
    branch_id: int

    @property
    def source_key(self) -> str:
        return f"test-soak-w{self.number}"

    def created(self, i: int) -> tuple[int, str]:
        value = 100_000 * (self.number + 1) + i
        return value, f"Lần {i}: chi bộ có {value} đảng viên"

    def patched(self, i: int) -> tuple[int, str]:
        value = 100_000 * (self.number + 1) + 50_000 + i
        return value, f"Lần {i} sửa: chi bộ có {value} đảng viên"

    def text(self) -> str:
        sentences = [q for i in range(SENTENCES) for q in (self.created(i)[1], self.patched(i)[1])]
        return f"Bài thử tải số {self.number}. " + ". ".join(sentences) + "."


def writer(base: str, tally: Tally, stop: threading.Event, plan: WriterPlan) -> None:
    client = Client(base, tally, {"Authorization": f"Bearer {plan.token}"})
    rng = random.Random(plan.number)
    mine: list[tuple[int, int]] = []  # (count id, sentence number)
    try:
        body = {"key": plan.source_key, "text": plan.text(), "publisher": "Báo Thử Tải"}
        made = client.call(
            "source", "POST", "/sources", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert made is not None and made.status_code == 201, made and made.text
        source_id = made.json()["id"]
        with tally.lock:
            tally.sources.append(source_id)
        i = 0
        while not stop.is_set():
            if mine and (rng.random() < PATCH_SHARE or i >= SENTENCES):
                patch(client, tally, plan, rng, *rng.choice(mine))
                continue
            value, quote = plan.created(i)
            count = {
                "source_id": source_id,
                "branch_id": plan.branch_id,
                "record_id": f"w{plan.number}-{i}",
                "value": value,
                "quote": quote,
                "figure": str(value),
                "as_of": (
                    date(2000, 1, 1) + timedelta(days=plan.number * SENTENCES + i)
                ).isoformat(),
            }
            key = uuid.uuid4().hex
            response = client.call(
                "create", "POST", "/membership-counts", json=count, headers={"Idempotency-Key": key}
            )
            if response is not None and response.status_code == 201:
                item = response.json()
                with tally.lock:
                    tally.expected[item["id"]] = Expected(item["key"], value, quote)
                mine.append((item["id"], i))
            elif response is not None:
                tally.error(f"POST count: {response.status_code} {response.text[:200]}")
            i += 1
    finally:
        client.close()


def patch(
    client: Client, tally: Tally, plan: WriterPlan, rng: random.Random, count_id: int, i: int
) -> None:
    path = f"/membership-counts/{count_id}"
    current = client.call("read", "GET", path)
    if current is None or current.status_code != 200:
        tally.error(f"GET {path}: {current and current.status_code}")
        return
    etag = current.headers["etag"]
    was = current.json()["value"]
    value, quote = plan.patched(i) if was == plan.created(i)[0] else plan.created(i)
    body = {"value": value, "quote": quote, "figure": str(value)}
    if rng.random() < STALE_SHARE:
        stale = client.call("stale", "PATCH", path, json=body, headers={"If-Match": '"stale"'})
        if stale is not None and stale.status_code != 412:
            tally.error(f"stale PATCH {path}: {stale.status_code} {stale.text[:200]}")
        return
    response = client.call("patch", "PATCH", path, json=body, headers={"If-Match": etag})
    if response is not None and response.status_code == 200:
        with tally.lock:
            tally.expected[count_id] = Expected(tally.expected[count_id].key, value, quote)
    elif response is not None:
        tally.error(f"PATCH {path}: {response.status_code} {response.text[:200]}")


# -- The soak -------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _work_done(tally: Tally) -> bool:
    with tally.lock:
        created = tally.statuses.get("create", Counter())[201]
        patched = tally.statuses.get("patch", Counter())[200]
    return created >= MIN_CREATES and patched >= MIN_PATCHES


def _wait_for_work(tally: Tally, started: float) -> None:
    """SOAK_S, and then until the writers did enough to check (at most SOAK_CAP_S)."""
    time.sleep(SOAK_S)
    while not _work_done(tally) and time.monotonic() - started < SOAK_CAP_S:
        time.sleep(0.2)


def test_soak_with_readers_and_writers(
    backend: str, soak_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(soak_url)
    with Session(engine) as session:
        tokens = [create_key(session, f"soak-{n}").token for n in range(WRITERS)]
        session.commit()
        branch_ids = [
            int(i)
            for i in session.execute(
                text("SELECT id FROM branches WHERE kind = 'village_branch' ORDER BY id LIMIT 2")
            ).scalars()
        ]
        if backend == "sqlite":
            assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    # Two writers per branch: their status refreshes contend for the same rows.
    plans = [WriterPlan(n, tokens[n], branch_ids[n % 2]) for n in range(WRITERS)]
    items = [f"/branches/{b}" for b in branch_ids] + [
        f"/membership-counts?branch={b}&limit=20" for b in branch_ids
    ]
    workers = 1 if backend == "sqlite" else PG_WORKERS
    tally = Tally()
    server = Server(soak_url, tmp_path / "uvicorn.log", workers=workers, env=SERVER_ENV)
    with server:
        pids = server.worker_pids()
        cpu_before = {pid: _cpu_seconds(pid) for pid in pids}
        stop = threading.Event()
        threads = [
            threading.Thread(target=reader, args=(server.base, tally, stop, items), daemon=True)
            for _ in range(READERS)
        ] + [
            threading.Thread(target=writer, args=(server.base, tally, stop, plan), daemon=True)
            for plan in plans
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        _wait_for_work(tally, started)
        stop.set()
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "a client thread did not finish"
        cpu = [_cpu_seconds(pid) - cpu_before[pid] for pid in pids]

        # Every acknowledged write is there, as acknowledged: in the database...
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.id, c.key, c.value, c.quote FROM membership_counts c "
                    "JOIN sources s ON s.id = c.source_id WHERE s.key LIKE 'test-soak-%'"
                )
            ).all()
        stored = {int(r.id): Expected(r.key, int(r.value), r.quote) for r in rows}
        # ...and through the API.
        served: dict[int, Expected] = {}
        with httpx.Client(base_url=server.base, timeout=30) as client:
            for count_id in tally.expected:
                response = client.get(f"/membership-counts/{count_id}")
                assert response.status_code == 200, response.text
                item = response.json()
                served[count_id] = Expected(item["key"], item["value"], item["quote"])
        server_log = server.log_text()
    engine.dispose()

    statuses = tally.all_statuses()
    requests = sum(statuses.values())
    by_kind = {kind: dict(sorted(c.items())) for kind, c in sorted(tally.statuses.items())}
    reads = tally.latencies.get("read", [])
    writes = [x for k in ("source", "create", "patch", "stale") for x in tally.latencies.get(k, [])]
    # Counts whose last acknowledged write was a PATCH to the "sửa" (corrected) sentence.
    patched = sum(1 for e in tally.expected.values() if " sửa: " in e.quote)
    say(
        request.config,
        f"soak [{backend}, {workers} server process{'es' if workers > 1 else ''}, "
        f"{READERS} readers + {WRITERS} writers, {elapsed:.1f}s]: {requests} requests "
        f"({requests / elapsed:.0f}/s); by kind {by_kind}; "
        f"503 (busy, retried) {statuses[503]}, 500 {statuses[500]}, no answer {statuses[0]}; "
        f"{len(tally.expected)} counts acknowledged ({patched} last changed by PATCH), "
        f"{len(stored)} rows in the database, {len(served)} checked through the API, "
        f"content equal: {stored == tally.expected == served}; latency p50/p99 reads "
        f"{percentile(reads, 0.5) * 1000:.0f}/{percentile(reads, 0.99) * 1000:.0f} ms, "
        f"writes {percentile(writes, 0.5) * 1000:.0f}/{percentile(writes, 0.99) * 1000:.0f} ms"
        + (f"; worker CPU {', '.join(f'{c:.1f}s' for c in cpu)}" if workers > 1 else ""),
    )

    assert not tally.errors, (tally.errors[:5], server_log[-3000:])
    assert len(pids) == workers, pids
    if workers > 1:
        assert all(c > 0.2 for c in cpu), f"a worker process served nothing: {cpu}"
    assert statuses[0] == 0
    fives = {
        s: n for s, n in statuses.items() if s >= 500 and not (s == 503 and backend == "sqlite")
    }
    assert not fives, (fives, server_log[-3000:])
    assert tally.retry_after_missing == 0
    assert "Traceback" not in server_log, server_log[-3000:]
    assert _work_done(tally), (f"too slow: {elapsed:.0f}s", by_kind)
    # Nothing lost, nothing extra, nothing different.
    assert len(stored) == len(tally.expected)
    assert stored == tally.expected
    assert served == tally.expected


# -- What the soak found --------------------------------------------------------------
def test_two_writes_about_one_branch_wait_for_each_other(backend: str, seeded_url: str) -> None:
    """Both refresh the branch's status: the second waits for the first to commit, then
    recomputes, instead of failing the primary key of branch_status (PostgreSQL gave a 409
    to about a third of the soak's writes before refresh_status locked the branches)."""
    engine = make_engine(seeded_url)
    with engine.connect() as conn:
        branch_id = conn.execute(text("SELECT min(branch_id) FROM branch_status")).scalar_one()
    ctx = WriteContext(caller=Caller(None, "test"), rules=RiskRules())
    first_refreshed = threading.Event()
    results: dict[str, object] = {}

    def write(name: str) -> None:
        def action(session: Session) -> Outcome:
            refresh_status(session, ctx.rules, branch_ids=[branch_id])
            if name == "first":
                first_refreshed.set()
                time.sleep(0.5)  # the second is waiting meanwhile
            return Outcome(200)

        try:
            results[name] = transact(engine, ctx, action).status
        except Exception as exc:  # the failure is what the test reports
            results[name] = repr(exc)

    first = threading.Thread(target=write, args=("first",))
    first.start()
    assert first_refreshed.wait(10)
    second = threading.Thread(target=write, args=("second",))
    second.start()
    first.join(20)
    second.join(20)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT count(*) FROM branch_status WHERE branch_id = :b"), {"b": branch_id}
        ).scalar_one()
    engine.dispose()
    assert results == {"first": 200, "second": 200}
    assert rows == 1
