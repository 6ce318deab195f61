"""Fixtures of the services' tests: a read of the shared seeded database, and the
statements it runs."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app.reader import Reader


@pytest.fixture
def reader(shared_engine: Engine) -> Iterator[Reader]:
    with Reader.open(shared_engine) as opened:
        yield opened


@pytest.fixture
def statements(reader: Reader) -> Iterator[list[str]]:
    """The SQL of each statement `reader` runs from here on (cleared by the test as it
    likes)."""
    ran: list[str] = []

    def record(sql: str, _arguments: object) -> None:
        ran.append(sql)

    reader.statements.listeners.append(record)
    yield ran
    reader.statements.listeners.remove(record)
