"""Preparing a database (migrate, then the seed) from several processes at once: replicas
of a deployment start together. From an operations audit: on PostgreSQL the second one
stopped on a unique violation (alembic_version, a place's search words, a reference unit)."""

import threading

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from app import cli
from app.db import make_engine
from app.migrate import current_revision, head_revision
from app.models import Locality, Source
from tests.conftest import DatabaseFactory

JOIN_S = 120  # one takes some 5 s


def test_replicas_starting_together_take_turns(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.blank()
    monkeypatch.setenv("DATABASE_URL", url)
    outcomes: list[object] = []

    def start() -> None:
        try:
            outcomes.append(cli._prepare(serving=True))
        except Exception as exc:  # what a replica would die of
            outcomes.append(exc)

    # Daemons: unlocked, they could wait on each other for good (SQLite's file lock).
    replicas = [threading.Thread(target=start, daemon=True) for _ in range(2)]
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.join(JOIN_S)
    assert outcomes == [0, 0]
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    with Session(engine) as session:
        sources = session.execute(select(func.count()).select_from(Source)).scalar_one()
        keys = session.execute(select(Locality.key)).scalars().all()
    engine.dispose()
    assert sources == 5  # the seed's articles, once
    assert len(keys) == len(set(keys))
