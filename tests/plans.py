"""The statements a read runs (app.reader), and the database's plans for them."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from sqlalchemy import Engine
from sqlmodel import Session

from app.reader import numbered_placeholders, statements_for


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


def generic_plan(session: Session, statement: RunStatement) -> dict[str, Any]:
    """PostgreSQL: the statement's plan as it ran on its generic plan (EXPLAIN ANALYZE,
    its JSON root node), as the service runs its prepared reads (app.db:
    plan_cache_mode=force_generic_plan). EXPLAIN with parameters plans for their values,
    which hides what a generic plan does."""
    text, names = numbered_placeholders(statement.sql)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(sql.SQL("PREPARE generic_read AS {}").format(sql.SQL(text)))
        try:
            values = sql.SQL(", ").join(sql.Literal(statement.parameters[n]) for n in names)
            cursor.execute(
                sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE generic_read ({})").format(values)
            )
            [[plan]] = cursor.fetchall()
        finally:
            cursor.execute("DEALLOCATE generic_read")
    root: dict[str, Any] = plan[0]["Plan"]
    return root


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A JSON plan's nodes, the root first."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def rows_read(nodes: list[dict[str, Any]], relation: str, alias: str | None = None) -> int:
    """The rows a plan's nodes on `relation` (named `alias`, if given) returned in all,
    every loop counted: what it read of that table."""
    return sum(
        int(node["Actual Rows"]) * int(node["Actual Loops"])
        for node in nodes
        if node.get("Relation Name") == relation and alias in (None, node.get("Alias"))
    )


def generic_plan_rows(session: Session, statement: RunStatement) -> dict[str, int]:
    """The most rows any node of each kind and relation returned (per loop) when the
    statement ran on its generic plan (generic_plan)."""
    rows: dict[str, int] = {}
    for node in plan_nodes(generic_plan(session, statement)):
        name = f"{node['Node Type']} {node.get('Index Name', node.get('Relation Name', ''))}"
        rows[name.strip()] = max(rows.get(name.strip(), 0), int(node["Actual Rows"]))
    return rows
