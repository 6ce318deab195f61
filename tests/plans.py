"""The statements a read runs (app.reader), and the database's plans for them."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from app.reader import statements_for


@dataclass(frozen=True)
class RunStatement:
    sql: str
    parameters: Any  # as the driver took them: a tuple (SQLite) or a dict (psycopg)


@contextmanager
def captured_statements(bind: Session | Engine) -> Iterator[list[RunStatement]]:
    """Every prepared statement run while inside, with its parameters."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    statements = statements_for(engine.dialect)
    captured: list[RunStatement] = []

    def capture(sql: str, parameters: Any) -> None:
        captured.append(RunStatement(sql, parameters))

    statements.listeners.append(capture)
    try:
        yield captured
    finally:
        statements.listeners.remove(capture)


def query_plan(session: Session, statement: RunStatement) -> str:
    """The plan of a statement as it ran: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL, one line per node."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(prefix + statement.sql, statement.parameters)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return "\n".join(str(row[-1] if sqlite else row[0]) for row in rows)
