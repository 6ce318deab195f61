"""A read's connection is taken at its first statement (app.reader.Reader.open), and a
connection lost under it ends the read with the error answered 503, not another."""

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from app.reader import Reader


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
