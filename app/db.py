"""Engine factory and the request-scoped session."""

import math
import select
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlmodel import Session

CONNECT_TIMEOUT_S = 5
# psycopg prepares a statement run five times on a connection. PostgreSQL then kept
# planning some reads anew at every run (the planner's choice between a plan for the
# values and one for any): 2.5 ms of planning for 0.4 ms of a search's work. The reads'
# statements are keyset pages and lookups by key (app.reader), whose plan does not
# depend on the values: planned once (scale 1.0: a page of branches at risk 1.28 ->
# 0.76 ms, a search 3.0 -> 2.25 ms, on the server's side). A plan made for any value
# must still find its rows by index: a page after a cursor states its bound on both
# sides of a join (pagination.SortKey.same_as), and tests/api/test_query_plans.py reads
# the generic plans of deep pages.
GENERIC_PLANS = "-c plan_cache_mode=force_generic_plan"
# Each request is one backend's work on a machine that serves many at once. At scale 1.0
# a province's CSV page (500 rows) was planned as a parallel scan of every branch in id
# order: starting two workers per request halved its throughput (17.6-18.5 -> 38-44
# req/s without them), and a province's stats were served the same either way.
NO_PARALLEL_WORKERS = "-c max_parallel_workers_per_gather=0"
# CSV's days as the database writes them (app.services.csv_sql): YYYY-MM-DD whatever the
# server's or the database's default. A SET LOCAL per page did nothing on the reads'
# connections, where each statement is its own transaction.
ISO_DAYS = "-c DateStyle=ISO"
T = TypeVar("T")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, statement_timeout_s: float | None = None) -> Engine:
    """Build an engine: SQLite with foreign keys, WAL and a busy timeout; PostgreSQL pooled.

    Statement parameters stay out of SQL logging and error messages (hide_parameters):
    they carry API key hashes and whole article texts (issue 8: no secrets in logs).
    """
    try:
        parsed = make_url(url)
        parsed.get_dialect()  # a dialect SQLAlchemy has, and its driver installed
    except (ValueError, ImportError) as exc:  # "host:notaport", mysql:// without MySQLdb
        raise ArgumentError(f"cannot be read: {exc}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ArgumentError(f"{parsed.get_backend_name()} is not SQLite or PostgreSQL")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if (
            database in ("", ":memory:")
            or database.startswith("file::memory:")
            or parsed.query.get("mode") == "memory"
        ):
            # Each connection would open a new, empty database: the server's threads,
            # its status refresher and the migrations would each see another one.
            raise ArgumentError("an in-memory SQLite database cannot be served: name a file")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            hide_parameters=True,
            # SQLAlchemy's default pool (QueuePool): a checkout is one thread's until it
            # is returned, and the connections, with their pragmas, are reused.
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so that
        # a write transaction takes its lock up front (SQLAlchemy's documented recipe).
        event.listen(engine, "begin", _begin_sqlite)
        if statement_timeout_s:
            _limit_sqlite_statements(engine, statement_timeout_s)
        return engine
    # A server that accepts connections but does not answer would hold a request (or the
    # app's shutdown) for psycopg's default of 130 s. Connecting gets the statement limit,
    # or CONNECT_TIMEOUT_S without one; libpq counts whole seconds, at least 2.
    connect_timeout = max(2, math.ceil(statement_timeout_s or CONNECT_TIMEOUT_S))
    options = [GENERIC_PLANS, NO_PARALLEL_WORKERS, ISO_DAYS]
    if statement_timeout_s:
        # At least 1 ms: PostgreSQL reads statement_timeout=0 as "no limit".
        options.append(f"-c statement_timeout={max(1, round(statement_timeout_s * 1000))}")
    connect_args: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "options": " ".join(options),
    }
    engine = create_engine(
        url,
        poolclass=ThreadsOnlyPool,
        pool_size=10,
        max_overflow=10,
        connect_args=connect_args,
        hide_parameters=True,
    )
    event.listen(engine, "checkout", _hung_up_or_alive)
    return engine


def _hung_up_or_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed is replaced before use.

    Instead of SQLAlchemy's pre-ping, a `SELECT 1` in a transaction of its own on every
    checkout (two round trips, some 100 µs of a request on the server's core): an idle
    connection has nothing to read, so anything readable on its socket (the FATAL that
    a stopping server sends, or the end of the stream) means it is gone. A path that
    died silently is left to the statement time limit, as a frozen server is.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.pgconn.socket, select.POLLIN | select.POLLRDHUP)
    if poller.poll(0):
        raise DisconnectionError("the server closed the connection")


# An execution option: a connection that sets it begins each transaction with SQLite's
# write lock, for a writer that reads before it writes (a deferred transaction that read
# first fails, rather than waits, if another writer commits before it writes).
BEGIN_IMMEDIATE = "sqlite_begin_immediate"


def _begin_sqlite(conn: Any) -> None:
    # On the driver's connection: through SQLAlchemy's execution layer, this BEGIN cost
    # about as much as a page's query.
    statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(BEGIN_IMMEDIATE) else "BEGIN"
    try:
        conn.connection.driver_connection.execute(statement)
    except sqlite3.Error as exc:
        # Raised from an event, the driver's error reached callers unwrapped: the day's
        # status refresher, waiting out another writer's lock, caught SQLAlchemy's
        # errors only, and stopped for good (from an audit of the day's turn).
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" listener issues BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# SQLite has no statement_timeout. A progress handler, which SQLite calls every
# _PROGRESS_STEPS virtual machine instructions, interrupts a statement (its execution and
# the fetching of its rows) once it has run longer than the limit: sqlite3 then raises
# OperationalError("interrupted"), which the app answers with a 503 (issue 8, point 6).
_PROGRESS_STEPS = 1000
_DEADLINE = "statement_deadline"
_TIMEOUT = "statement_timeout_s"


def _limit_sqlite_statements(engine: Engine, timeout_s: float) -> None:
    def install(dbapi_connection: Any, record: Any) -> None:
        info = record.info
        info[_TIMEOUT] = timeout_s

        def over_time() -> int:
            deadline = info.get(_DEADLINE)
            return int(deadline is not None and time.monotonic() > deadline)

        dbapi_connection.set_progress_handler(over_time, _PROGRESS_STEPS)

    def start(conn: Any, *_args: Any) -> None:
        conn.info[_DEADLINE] = time.monotonic() + timeout_s

    def clear(_dbapi_connection: Any, record: Any, _reset_state: Any) -> None:
        # Back in the pool: its rollback must not be cut short by an old deadline.
        record.info.pop(_DEADLINE, None)

    event.listen(engine, "connect", install)
    event.listen(engine, "before_cursor_execute", start)
    event.listen(engine, "reset", clear)


@dataclass
class _InlineBudget:
    """The statement time a read run on the event loop (run_inline) has left: its
    statements together, however many it runs (a walked list runs two a step:
    app.services.listing.walk). Compiling a statement is not counted."""

    left_s: float
    started: float | None = None


_inline_budget: ContextVar[_InlineBudget | None] = ContextVar("inline_budget", default=None)


def arm_statement_deadline(connection: PoolProxiedConnection) -> None:
    """Start the time limit of a statement run on the driver's connection directly
    (app.reader); SQLAlchemy's own executions start it in `before_cursor_execute`."""
    # The connection's info, which `install` filled when it connected.
    timeout_s = connection.info.get(_TIMEOUT)
    if timeout_s is None:
        return
    now = time.monotonic()
    budget = _inline_budget.get()
    if budget is not None:
        timeout_s = min(timeout_s, budget.left_s)
        budget.started = now
    connection.info[_DEADLINE] = now + timeout_s


def statement_ended() -> None:
    """Count the time of the statement just run against its read's inline budget."""
    budget = _inline_budget.get()
    if budget is not None and budget.started is not None:
        budget.left_s -= time.monotonic() - budget.started
        budget.started = None


class _WaitOnAThread(Exception):
    """A read on the event loop would wait for another thread (acquire_off_the_loop)."""


def run_inline(work: Callable[[], T], budget_s: float) -> T | None:
    """Run a read with its SQLite statements limited to `budget_s` in all; None when one
    was cut by that limit, or when the read would wait for another's (the read changed
    nothing: it can run again on a thread, with the full limit).
    """
    token = _inline_budget.set(_InlineBudget(budget_s))
    try:
        return work()
    except _WaitOnAThread:
        return None
    except OperationalError as error:
        if "interrupted" in str(error.orig):
            return None
        raise
    finally:
        _inline_budget.reset(token)


def wait_only_on_a_thread() -> None:
    """Refuse to wait on the event loop: a read run there (run_inline) about to wait
    would hold every other request meanwhile, so it is ended and run again on a read
    thread, where it waits."""
    if _inline_budget.get() is not None:
        raise _WaitOnAThread


def acquire_off_the_loop(lock: Lock) -> None:
    """Take `lock`, waiting for it only on a thread (wait_only_on_a_thread)."""
    if lock.acquire(blocking=False):
        return
    wait_only_on_a_thread()
    lock.acquire()


class ThreadsOnlyPool(QueuePool):
    """PostgreSQL's connections, lent only off the event loop: a read tried there first
    (app.api.query_route.run_blocking: a kept answer needs no database) that asks for
    one would wait for the server, so it is run again on a read thread."""

    def connect(self) -> PoolProxiedConnection:
        wait_only_on_a_thread()
        return super().connect()


def begin_writing(session: Session) -> None:
    """Begin `session`'s transaction as a writer's; nothing if it has begun.

    On SQLite with the write lock (BEGIN IMMEDIATE): a transaction that reads and then
    writes otherwise fails at its first write, at once and whatever busy_timeout says,
    when another writer committed since its read (its snapshot cannot become a write).
    """
    if not session.in_transaction():
        session.connection(execution_options={BEGIN_IMMEDIATE: True})


@contextmanager
def unpooled_session(engine: Engine) -> Iterator[Session]:
    """A session on one connection throughout (staged rows kept in its temporary tables
    across commits), closed at the end rather than pooled: its temporary tables go with
    it, and on SQLite the statistics it read with the schema, which bulk rewrites and the
    ANALYZE after them make stale (the next user of the pool planned with them)."""
    with engine.connect() as connection:
        try:
            with Session(bind=connection) as session:
                yield session
        finally:
            connection.invalidate()


def shown_url(url: str) -> str:
    """The database a URL names, without its user, password or query (which may hold a
    password: postgresql:///db?password=...)."""
    parsed = make_url(url)
    shown = URL.create(
        parsed.drivername, host=parsed.host, port=parsed.port, database=parsed.database
    )
    return shown.render_as_string()


def said_by_the_database(exc: Exception) -> str:
    """An error as the log says it: the driver's own class and message (what the
    database refused, or why it could not be reached), on one line; its statement and
    parameters are no part of it."""
    cause = getattr(exc, "orig", None) or exc
    message = one_line(cause)
    return f"{cause.__class__.__name__}: {message}" if message else cause.__class__.__name__


def one_line(error: object) -> str:
    """A driver's message on one line (psycopg's puts its hint on a line of its own)."""
    return " ".join(str(error).split())
