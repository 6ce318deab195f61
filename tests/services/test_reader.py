"""A read's connection is taken at its first statement (app.reader.Reader.open), a
connection lost under it ends the read with the error answered 503, not another,
PostgreSQL's reads are sent in its numbered form (app.reader.numbered_placeholders), and
every engine of a database builds with one dialect (app.reader.shared_dialect)."""

from typing import Any

import pytest
from psycopg import _queries as psycopg_queries
from sqlalchemy import Engine, Integer, bindparam, func, literal_column, select
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.db import make_engine
from app.reader import Reader, built_once, numbered_placeholders, session_dialect


def _end_own_backend() -> Any:
    return select(func.pg_terminate_backend(func.pg_backend_pid()))


def test_a_read_without_statements_takes_no_connection(engine: Engine) -> None:
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    with Reader.open(engine) as reader:
        assert engine.pool.checkedout() == before  # type: ignore[attr-defined]
        reader.scalar(lambda: select(func.count()).select_from(select(1).subquery()))
        assert engine.pool.checkedout() == before + 1  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


def test_a_connection_lost_during_a_read_raises_the_lost_connection(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that ends the connection: PostgreSQL's")
    with pytest.raises(OperationalError) as raised, Reader.open(engine) as reader:
        reader.scalar(_end_own_backend)
    assert raised.value.connection_invalidated
    with Reader.open(engine) as reader:  # the pool lends a working one
        assert reader.scalar(lambda: select(1)) == 1


def test_a_statement_in_numbered_form_keeps_its_names_and_its_percent_signs() -> None:
    sql = "SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE '50%%' AND %(long name)s"
    assert numbered_placeholders(sql) == (
        "SELECT $1, $2, $1 WHERE x LIKE '50%' AND $3",
        ("a", "b", "long name"),
    )


def _twice_and_percent() -> Any:
    n = bindparam("n", type_=Integer)
    return select(literal_column("'50%'"), n * 2, n + 1)


def test_a_read_binds_a_value_used_twice_and_keeps_a_literal_percent(engine: Engine) -> None:
    with Reader.open(engine) as reader:
        assert reader.rows(_twice_and_percent, params={"n": 4}) == [("50%", 8, 5)]


def test_postgresql_reads_are_sent_numbered_not_parsed_by_psycopg(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg parses a statement with named placeholders at every run once it is over
    4 KB (a branch's detail, a page): the reads send it numbered instead."""
    if engine.dialect.name != "postgresql":
        pytest.skip("psycopg's placeholders")

    def parsed(*args: Any) -> None:
        raise AssertionError("psycopg parsed a read's placeholders")

    with Reader.open(engine) as reader:
        assert reader.scalar(lambda: select(1)) == 1  # connected (which runs statements)
        monkeypatch.setattr(psycopg_queries.PostgresQuery, "convert", parsed)
        assert reader.rows(_twice_and_percent, params={"n": 1}) == [("50%", 2, 2)]


def test_engines_of_one_database_build_each_statement_once(seeded_url: str) -> None:
    """Builders are cached on their arguments, a dialect among them: were it each
    engine's own, every engine a process made (an application per test scenario) would
    build every statement again, and keep it."""
    built: list[Dialect] = []

    @built_once
    def one_for(dialect: Dialect) -> Any:
        built.append(dialect)
        return select(literal_column("1"))

    engines = [make_engine(seeded_url) for _ in range(2)]
    try:
        for engine in engines:
            with Reader.open(engine) as reader:
                assert reader.rows(one_for, reader.dialect) == [(1,)]
            with Session(engine) as session:  # a write's builders (app.services.status)
                one_for(session_dialect(session))
    finally:
        for engine in engines:
            engine.dispose()
    assert len(built) == 1
