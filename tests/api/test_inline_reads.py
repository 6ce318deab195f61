"""SQLite reads run on the event loop within a short statement limit, and again on a read
thread, with the full limit, when that limit cuts them (app.api.query_route.run_blocking).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Integer, Select, func, literal, select

from app.api.query_route import InlineReads, QueryModelRoute
from app.db import make_engine
from app.errors import install_error_handlers
from app.reader import Reader
from app.services.answer_cache import AnswerCache
from app.services.version_watch import VersionWatch

# Some 100,000 steps of SQLite's virtual machine per 10,000 rows: tens of milliseconds.
SLOW_ROWS = 300_000


def _slow_count(rows: int) -> Select[Any]:
    counter = select(literal(1).label("n")).cte("counter", recursive=True)
    counter = counter.union_all(
        select((counter.c.n + 1).label("n")).where(counter.c.n < literal(rows, Integer))
    )
    return select(func.count()).select_from(counter)


def _app(
    engine: Engine | None, budget_s: float | None, answers: AnswerCache | None = None
) -> tuple[FastAPI, list[str]]:
    """An app with one read route: it says which thread ran it (and how many rows a slow
    count found, when there is a database)."""
    app = FastAPI()
    app.state.read_threads = ThreadPoolExecutor(2, thread_name_prefix="read")
    app.state.inline_reads = InlineReads(budget_s) if budget_s else None
    app.state.answers = AnswerCache(0) if answers is None else answers
    install_error_handlers(app)
    router = APIRouter(route_class=QueryModelRoute)
    attempts: list[str] = []

    @router.get("/where")
    def where(
        request: Request, n: int | None = None, rows: int = SLOW_ROWS, statements: int = 1
    ) -> Response:
        attempts.append(threading.current_thread().name)
        counted = None
        if engine is not None:
            with Reader.open(engine) as reader:
                counted = sum(reader.scalar(_slow_count, rows) for _ in range(statements))
        body = {"thread": threading.current_thread().name, "counted": counted}
        return Response(orjson.dumps(body), media_type="application/json")

    app.include_router(router)
    return app, attempts


def test_a_quick_read_runs_on_the_loop() -> None:
    app, attempts = _app(None, budget_s=0.02)
    with TestClient(app) as client:
        served = client.get("/where").json()
    assert not served["thread"].startswith("read")
    assert len(attempts) == 1


def test_without_a_budget_reads_run_on_the_read_threads() -> None:
    app, _ = _app(None, budget_s=None)
    with TestClient(app) as client:
        assert client.get("/where").json()["thread"].startswith("read")


def test_a_read_cut_by_the_budget_runs_again_on_a_thread(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'inline.sqlite3'}", statement_timeout_s=5)
    try:
        app, attempts = _app(engine, budget_s=0.001)
        with TestClient(app) as client:
            served = client.get("/where")
            # Reads of that kind then go straight to a thread for a while...
            again = client.get("/where")
            # ...and others still start on the loop.
            other = client.get("/where?n=1")
    finally:
        engine.dispose()
    assert served.status_code == 200, served.text
    assert served.json()["counted"] == SLOW_ROWS
    # First on the loop, cut by the budget; then on a read thread, to the end.
    first, on_thread, *rest = attempts
    assert not first.startswith("read") and on_thread.startswith("read")
    assert again.status_code == 200 and again.json()["thread"].startswith("read")
    assert other.status_code == 200 and other.json()["thread"].startswith("read")
    assert len(rest) == 3, attempts  # again: once, on a thread; other: loop, then thread
    assert not rest[1].startswith("read")


def test_the_budget_is_the_whole_reads(tmp_path: Any) -> None:
    """Thirty statements of a few milliseconds each, each within the budget: together
    over it, cut on the loop and run again on a thread."""
    engine = make_engine(f"sqlite:///{tmp_path / 'steps.sqlite3'}", statement_timeout_s=5)
    try:
        app, attempts = _app(engine, budget_s=0.02)
        with TestClient(app) as client:
            served = client.get("/where", params={"rows": 20_000, "statements": 30})
    finally:
        engine.dispose()
    assert served.status_code == 200, served.text
    assert served.json()["counted"] == 30 * 20_000
    first, on_thread = attempts
    assert not first.startswith("read") and on_thread.startswith("read")


def test_the_full_limit_still_applies_on_the_thread(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'limit.sqlite3'}", statement_timeout_s=0.002)
    try:
        app, attempts = _app(engine, budget_s=0.02)
        with TestClient(app, raise_server_exceptions=False) as client:
            served = client.get("/where")
    finally:
        engine.dispose()
    # Cut on the loop, then on the thread by the full limit: a 503, as before.
    assert served.status_code == 503, served.text
    assert len(attempts) == 2


def test_only_sqlite_reads_run_inline(api: TestClient, backend: str) -> None:
    state = api.app.state  # type: ignore[attr-defined]
    assert (state.inline_reads is not None) == (backend == "sqlite")


def test_the_slow_count_is_slow(tmp_path: Any) -> None:
    """The budget test above is meaningful: the count takes far longer than 1 ms."""
    engine = make_engine(f"sqlite:///{tmp_path / 'slow.sqlite3'}")
    try:
        with engine.connect() as conn:
            started = time.perf_counter()
            assert conn.execute(_slow_count(SLOW_ROWS)).scalar_one() == SLOW_ROWS
            assert time.perf_counter() - started > 0.005
    finally:
        engine.dispose()


def test_on_postgresql_only_a_read_without_the_database_runs_on_the_loop(engine: Engine) -> None:
    """The data version known (a kept answer needs no database), a read starts on the
    loop; one that asks for a connection is ended there and run on a read thread."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's reads run on threads; SQLite's are the tests above")
    watch = VersionWatch(engine)
    watch.start()
    try:
        assert watch.wait_listening(10)
        app, attempts = _app(engine, budget_s=None, answers=AnswerCache(1_000_000, watch))
        with TestClient(app) as client:
            counted = client.get("/where?rows=10")
            assert attempts[0] != "read" and attempts[1].startswith("read")
            assert counted.json() == {"thread": attempts[1], "counted": 10}
        app, attempts = _app(None, budget_s=None, answers=AnswerCache(1_000_000, watch))
        with TestClient(app) as client:
            assert not client.get("/where").json()["thread"].startswith("read")
            assert len(attempts) == 1
            watch.stop()  # not known: to the threads, not tried on the loop first
            assert client.get("/where").json()["thread"].startswith("read")
            assert len(attempts) == 2
    finally:
        watch.stop()
