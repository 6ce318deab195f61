"""Reads on the driver's connection, with statements compiled once per shape.

A list page's SQL runs in about 0.1 ms on SQLite; SQLAlchemy's work around it (building
the Select, walking it for its cache key, the execution context, the Session and its
transaction) cost 0.8-1 ms a request, most of a request's time (issue 7). So a read
statement is built by a pure function of a few hashable arguments, its *shape* (which
filters are present, the sort, whether a cursor is given: never the values), compiled
once per database, and run with the request's values as bound parameters on a pooled
driver connection.

Values pass through SQLAlchemy's own bind processors (a day becomes ISO text on SQLite)
and rows through its result processors (SQLite's 0/1 become booleans, its ISO text a
day), so rows read here are those SQLAlchemy would give. Driver errors are raised as
SQLAlchemy's (`OperationalError` for a locked file, a cut statement or a lost server:
answered 503, as before).
"""

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache, wraps
from threading import Lock, RLock
from typing import Any, NoReturn, ParamSpec, TypeVar

import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

from app.db import arm_statement_deadline, statement_ended

Build = Callable[..., ClauseElement]
Processor = Callable[[Any], Any]
Row = tuple[Any, ...]
P = ParamSpec("P")
T = TypeVar("T")

# Statements are built and compiled one at a time. SQLAlchemy fills some attributes of a
# statement on first use, and the elements that builders share (aliases, a figure's
# joins) were built into two statements at once on two threads: one compiled with a
# FROM clause it could not resolve. Each shape is built once, so the lock costs nothing
# after the first requests.
BUILDING = RLock()
# psycopg's placeholders as SQLAlchemy writes them for it, and its escaped percent.
PYFORMAT = re.compile(r"%\(([^)]+)\)s|%%")


def numbered_placeholders(sql: str) -> tuple[str, tuple[str, ...]]:
    """PostgreSQL's own form of a pyformat statement: `$1, $2...` in the order the names
    first appear (a name used twice is one value), and those names in that order."""
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return PYFORMAT.sub(numbered, sql), tuple(names)


def built_once(build: Callable[P, T]) -> Callable[P, T]:
    """A statement builder cached on its (hashable) arguments, built under BUILDING."""
    cached: Any = lru_cache(maxsize=256)(build)

    @wraps(build)
    def once(*args: P.args, **kwargs: P.kwargs) -> T:
        with BUILDING:
            built: T = cached(*args, **kwargs)
            return built

    return once


def shared(maxsize: int | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """A builder of SQL elements that statements share (aliases, joins, rendered
    columns): one object per arguments, whichever threads ask first.

    `functools.cache` lets threads that ask at once each build their own, and keeps the
    last: a statement then joined one alias "b" and selected from another, which
    PostgreSQL refuses ("table name "b" specified more than once": a 500 at a worker's
    first writes, with reads beside them). Built under BUILDING; found without it.
    With `maxsize`, the oldest is dropped beyond it: only for what is built from
    unbounded ones (an alias made anew would be a second "b" again).
    """

    def decorate(build: Callable[P, T]) -> Callable[P, T]:
        built: dict[Hashable, T] = {}

        @wraps(build)
        def once(*args: P.args, **kwargs: P.kwargs) -> T:
            key = (args, tuple(sorted(kwargs.items())))
            try:
                return built[key]
            except KeyError:
                pass
            with BUILDING:
                if key not in built:
                    built[key] = build(*args, **kwargs)
                    if maxsize is not None and len(built) > maxsize:
                        del built[next(iter(built))]
                return built[key]

        return once

    return decorate


class Prepared:
    """One statement compiled for one database, ready to run with values."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.compiled = compiled
        self.sql = compiled.string
        self.dialect = dialect
        # IN (...) of a list of values: the SQL depends on the list's length.
        self.expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        # The values compiled into the statement (its literals); the rest come per run.
        self.defaults = dict(compiled.construct_params(_check=False, escape_names=False))
        # Processors of tuple parameters (lists of processors) are for `IN` of tuples,
        # which only expanding statements have, and construct_expanded_state applies.
        self.binds: dict[str, Processor] = {
            name: processor
            for name, processor in compiled._bind_processors.items()
            if callable(processor)
        }
        self.escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        self.names = frozenset(compiled.bind_names.values())
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positiontup is not None else None
        )
        # PostgreSQL reads run in the server's own form: psycopg would otherwise parse
        # the statement for its placeholders at every run, and it caches that only for
        # statements under 4 KB (a branch's detail is 8 KB: 37 µs a request).
        self.numbered: tuple[str, tuple[str, ...]] | None = None
        if dialect.name == "postgresql" and not self.expanding and self.order is None:
            self.numbered = numbered_placeholders(self.sql)
        self.columns: tuple[str, ...] = tuple(entry[0] for entry in compiled._result_columns)
        self._types = [entry[3] for entry in compiled._result_columns]
        # Read from the first cursor description (processors may depend on the driver's
        # type codes); None once known that no column needs one.
        self._results: list[Processor | None] | None = None
        self._results_known = False

    def arguments(self, params: Mapping[str, Any]) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
        """The SQL and the driver's parameters for these values."""
        if self.expanding:
            state = self.compiled.construct_expanded_state(dict(params))
            processors = {**self.binds, **state.processors}
            values = {
                name: processors[name](value) if name in processors else value
                for name, value in state.parameters.items()
            }
            if state.positiontup is not None:
                return state.statement, tuple(values[name] for name in state.positiontup)
            return state.statement, values
        values = {**self.defaults, **params}
        for name, processor in self.binds.items():
            values[name] = processor(values[name])
        if self.order is not None:
            return self.sql, tuple(values[name] for name in self.order)
        return self.sql, {self.escaped.get(name, name): values[name] for name in self.names}

    def in_numbered_form(
        self, arguments: Sequence[Any] | Mapping[str, Any]
    ) -> tuple[str, Sequence[Any] | Mapping[str, Any]] | None:
        """`arguments`' statement in PostgreSQL's `$1` form (`numbered`), its values in a
        tuple; None for a statement that has none."""
        if self.numbered is None or not isinstance(arguments, Mapping):
            return None
        sql, names = self.numbered
        return sql, tuple(arguments[name] for name in names)

    def processed(self, rows: list[Row], description: Sequence[Any] | None) -> list[Row]:
        if not self._results_known:
            self._results = self._result_processors(description)
            self._results_known = True
        processors = self._results
        if processors is None:
            return rows
        # Only the columns that have a processor: a page of localities read as 43
        # columns, 4 with one, spent a third of its time on SQLite visiting every value.
        active = [(i, p) for i, p in enumerate(processors) if p is not None]
        out = []
        for row in rows:
            values = list(row)
            for i, process in active:
                values[i] = process(values[i])
            out.append(tuple(values))
        return out

    def _result_processors(
        self, description: Sequence[Any] | None
    ) -> list[Processor | None] | None:
        if not description or len(description) != len(self._types):
            return None
        processors: list[Processor | None] = [
            type_._cached_result_processor(self.dialect, column[1])
            for type_, column in zip(self._types, description, strict=True)
        ]
        return processors if any(processors) else None


class Statements:
    """The compiled read statements of one database dialect, by builder and shape (LRU)."""

    def __init__(self, dialect: Dialect, size: int = 1024) -> None:
        self.dialect = dialect
        self.size = size
        self._cache: OrderedDict[Hashable, Prepared] = OrderedDict()
        self._lock = Lock()
        # Called with each statement run and its driver parameters (the tests count the
        # statements of a request, and read their query plans).
        self.listeners: list[Callable[[str, Any], None]] = []

    def get(self, build: Build, shape: tuple[Hashable, ...]) -> Prepared:
        key = (build, shape)
        prepared = self._cached(key)
        if prepared is not None:
            return prepared
        with BUILDING:
            prepared = self._cached(key)  # another thread may have built it meanwhile
            if prepared is None:
                prepared = Prepared(build(*shape), self.dialect)
                with self._lock:
                    self._cache[key] = prepared
                    if len(self._cache) > self.size:
                        self._cache.popitem(last=False)
        return prepared

    def _cached(self, key: Hashable) -> Prepared | None:
        with self._lock:
            prepared = self._cache.get(key)
            if prepared is not None:
                self._cache.move_to_end(key)
            return prepared


_STATEMENTS: dict[str, Statements] = {}


def statements_for(dialect: Dialect) -> Statements:
    """The process's compiled statements for a dialect (SQL depends on nothing else:
    like SQLAlchemy's own compiled cache, shared by every engine of the dialect)."""
    statements = _STATEMENTS.get(dialect.name)
    if statements is None:
        statements = _STATEMENTS.setdefault(dialect.name, Statements(dialect))
    return statements


def shared_dialect(dialect: Dialect) -> Dialect:
    """The dialect statements are built for, whichever engine runs them: the process's
    first of its name, the one `statements_for` compiles with.

    Builders are cached on their arguments, a dialect among them (app.reader.built_once,
    `shared`). Given each engine's own, a process built every statement again for each
    engine it made and kept them all, with SQLAlchemy's memos of each dialect: the
    stateful write test, an application per scenario, spent an eighth of its time so."""
    return statements_for(dialect).dialect


def session_dialect(session: Session) -> Dialect:
    """The shared dialect (above) of the database a session is bound to."""
    return shared_dialect(session.get_bind().dialect)


class Reader:
    """Prepared statements on one connection: a pooled one of its own (`open`), or a
    session's, inside the session's transaction (`on`: a write's reads see the write).
    """

    def __init__(
        self,
        connection: PoolProxiedConnection | None,
        dialect: Dialect,
        connect: Callable[[], PoolProxiedConnection] | None = None,
    ) -> None:
        self._held = connection
        self._connect = connect
        self.statements = statements_for(dialect)
        self.dialect = self.statements.dialect  # shared_dialect: builders take it
        self.sqlite = dialect.name == "sqlite"
        # False for a PostgreSQL read of its own (`open`): each statement is its own
        # transaction, where a SET LOCAL would do nothing.
        self.in_transaction = True

    @property
    def _connection(self) -> PoolProxiedConnection:
        if self._held is None:
            assert self._connect is not None
            self._held = self._connect()
        return self._held

    def _connected(self) -> None:
        """Connect before a statement's values are bound (IN lists expanded: 150 µs for a
        branch's risk): a read on the event loop that may not connect ends before that."""
        _ = self._connection

    @classmethod
    @contextmanager
    def open(cls, engine: Engine) -> Iterator["Reader"]:
        """A read of its own, back to the pool (rolled back) at the end.

        Its connection is taken at its first statement: a kept answer served without
        one takes none (on PostgreSQL, one that does is run on a read thread:
        app.db.ThreadsOnlyPool). On SQLite it is one transaction, so that its
        statements see one state of the database. On PostgreSQL each statement is its
        own (autocommit): at READ COMMITTED, which reads ran at, a transaction only
        added a BEGIN and a ROLLBACK, two round trips to the server.
        """
        dialect = engine.dialect
        reader: Reader

        def connect() -> PoolProxiedConnection:
            try:
                connection = engine.raw_connection()
            except dialect.loaded_dbapi.Error as error:
                # As SQLAlchemy's own connect wraps it: an OperationalError, answered 503.
                invalidated = dialect.is_disconnect(error, None, None)
                raise _wrapped(dialect, error, None, invalidated) from error
            reader._held = connection
            if reader.sqlite:
                # Not one of the read's statements: the listeners (counters) are not told.
                reader._run_driver("BEGIN", (), told=False)
            else:
                connection.driver_connection.autocommit = True  # type: ignore[union-attr]
            return connection

        reader = cls(None, dialect, connect)
        reader.in_transaction = reader.sqlite
        try:
            yield reader
        finally:
            connection = reader._held
            if connection is not None:
                driver: Any = connection.driver_connection  # None once invalidated
                if (
                    not reader.sqlite
                    and driver is not None
                    and not (driver.closed or driver.broken)
                ):
                    driver.autocommit = False  # as the pool lends it to sessions
                connection.close()

    @classmethod
    def on(cls, session: Session) -> "Reader":
        connection = session.connection()
        return cls(connection.connection, connection.dialect)

    def prepared(self, build: Build, *shape: Hashable) -> Prepared:
        return self.statements.get(build, shape)

    def rows(
        self, build: Build, *shape: Hashable, params: Mapping[str, Any] | None = None
    ) -> list[Row]:
        """The rows of `build(*shape)` with these values."""
        return self.run(self.prepared(build, *shape), params or {})

    def mappings(
        self, build: Build, *shape: Hashable, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        prepared = self.prepared(build, *shape)
        columns = prepared.columns
        return [dict(zip(columns, row, strict=True)) for row in self.run(prepared, params or {})]

    def scalar(
        self, build: Build, *shape: Hashable, params: Mapping[str, Any] | None = None
    ) -> Any:
        rows = self.rows(build, *shape, params=params)
        return rows[0][0] if rows else None

    def run(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Row]:
        self._connected()
        sql, arguments = prepared.arguments(params)
        numbered = prepared.in_numbered_form(arguments)
        if numbered is None:
            description, rows = self._run_driver(sql, arguments)
        else:
            # The listeners are told the named form, which psycopg would convert to the
            # same `$1` statement: what the server runs is the same either way.
            self._tell(sql, arguments)
            description, rows = self._run_driver(*numbered, told=False, numbered=True)
        return prepared.processed(rows, description)

    def copy_csv(self, prepared: Prepared, params: Mapping[str, Any]) -> list[bytes]:
        """On PostgreSQL, the rows of a statement as COPY writes them in CSV, one row a
        block, each ending with LF: the server quotes the fields, in C."""
        self._connected()
        sql, arguments = prepared.arguments(params)
        # COPY takes no parameters of its own: psycopg binds them into the statement.
        statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
        self._tell(statement, arguments)
        cursor: Any = None
        try:
            cursor = self._connection.cursor()
            with cursor.copy(statement, arguments) as copy:
                return [bytes(block) for block in copy]
        except self.dialect.loaded_dbapi.Error as error:
            self._raise(error, statement, cursor)
        finally:
            self._close(cursor)

    def _cursor(self, numbered: bool) -> Any:
        if self.sqlite:
            return self._connection.cursor()
        # Results in PostgreSQL's binary format: a page's documents (bytea) arrive as
        # they are, not hex-encoded to twice their size and decoded again (51 items,
        # 87 KB: 1.99 -> 0.86 ms a page).
        if numbered:  # `$1` placeholders, values in a tuple (Prepared.numbered)
            driver: Any = self._connection.driver_connection
            cursor = psycopg.RawCursor(driver)
            cursor.format = psycopg.pq.Format.BINARY
            return cursor
        return self._connection.cursor(binary=True)

    def _close(self, cursor: Any) -> None:
        # After a lost connection closing may fail too: the error raised is the first.
        if cursor is not None:
            with suppress(self.dialect.loaded_dbapi.Error):
                cursor.close()

    def _run_driver(
        self,
        sql: str,
        arguments: Sequence[Any] | Mapping[str, Any],
        told: bool = True,
        numbered: bool = False,
    ) -> tuple[Sequence[Any] | None, list[Row]]:
        if told:
            self._tell(sql, arguments)
        if self.sqlite:
            arm_statement_deadline(self._connection)
        cursor = None
        try:
            cursor = self._cursor(numbered)
            cursor.execute(sql, arguments)
            # SQLite runs a statement as its rows are fetched: fetched here, inside the
            # time limit and the error handling.
            description = cursor.description
            rows = list(cursor.fetchall()) if description else []
        except self.dialect.loaded_dbapi.Error as error:
            self._raise(error, sql, cursor)
        finally:
            if self.sqlite:
                statement_ended()
            self._close(cursor)
        return description, rows

    def _tell(self, sql: str, arguments: Sequence[Any] | Mapping[str, Any]) -> None:
        for listener in self.statements.listeners:
            listener(sql, arguments)

    def _raise(self, error: Any, sql: str, cursor: Any) -> NoReturn:
        invalidated = self.dialect.is_disconnect(error, self._connection.dbapi_connection, cursor)
        if invalidated:
            # Not back into the pool: the next read connects anew.
            self._connection.invalidate(error)
        raise _wrapped(self.dialect, error, sql, invalidated) from error


def _wrapped(dialect: Dialect, error: Any, sql: str | None, invalidated: bool) -> Exception:
    """A driver's error as SQLAlchemy raises it (OperationalError for a lost server, a
    locked file or a cut statement), its parameters hidden as the engine's are."""
    return DBAPIError.instance(
        sql,
        None,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
