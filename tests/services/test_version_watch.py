"""PostgreSQL announces the data version (migration 0013) and a server keeps the latest
in memory (app.services.version_watch): every raise of it is heard, a lost connection
makes it unknown until the watch listens again, and the process's own writes are known
at once. SQLite has no notifications: these are PostgreSQL's."""

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from app.db import make_engine
from app.reader import Reader
from app.services.data_version import data_version
from app.services.version_watch import APPLICATION, VersionWatch

WAIT_S = 10


@pytest.fixture
def pg_engine(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("notifications are PostgreSQL's")
    return engine


@pytest.fixture
def other(pg_engine: Engine, seeded_url: str) -> Iterator[Engine]:
    """Another process's connections to the same database: not the watch's engine."""
    another = make_engine(seeded_url)
    yield another
    another.dispose()


@pytest.fixture
def watch(pg_engine: Engine) -> Iterator[VersionWatch]:
    watched = VersionWatch(pg_engine)
    watched.start()
    assert watched.wait_listening(WAIT_S)
    yield watched
    watched.stop()


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _version(engine: Engine) -> int | None:
    with Reader.open(engine) as reader:
        return data_version(reader)


def _run(engine: Engine, sql: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql))


def test_it_knows_the_version_once_listening(pg_engine: Engine, watch: VersionWatch) -> None:
    assert watch.known == _version(pg_engine) is not None


def test_a_write_by_another_connection_is_heard(other: Engine, watch: VersionWatch) -> None:
    before = watch.known
    assert before is not None
    _run(other, "UPDATE sources SET title = title || '.' WHERE id = 1")
    _until(lambda: watch.known == before + 1)


def test_a_raise_by_hand_is_heard(other: Engine, watch: VersionWatch) -> None:
    """A loader that sets the tables' triggers aside raises the version itself."""
    before = watch.known
    assert before is not None
    _run(other, "UPDATE data_version SET version = version + 10 WHERE id = 1")
    _until(lambda: watch.known == before + 10)


def test_without_the_row_no_version_is_known(other: Engine, watch: VersionWatch) -> None:
    before = watch.known
    assert before is not None
    _run(other, "DELETE FROM data_version")
    _until(lambda: watch.known is None)
    with Reader.open(other) as reader:
        assert watch.current(reader) is None and watch.known is None
    # Put back lower than it was: known as it is now, not as the highest heard, once read.
    _run(other, "INSERT INTO data_version (id, version) VALUES (1, 1)")
    with Reader.open(other) as reader:
        assert watch.current(reader) == 1
    assert watch.known == 1
    _run(other, "TRUNCATE data_version")
    _until(lambda: watch.known is None)
    _run(other, f"INSERT INTO data_version (id, version) VALUES (1, {before})")


def test_a_commit_on_its_engine_is_seen_at_once(pg_engine: Engine, watch: VersionWatch) -> None:
    """Not waiting for the notification: the version is unsure until the row is read."""
    before = watch.known
    assert before is not None
    _run(pg_engine, "UPDATE sources SET title = title WHERE id = 1")
    assert watch.known is None
    with Reader.open(pg_engine) as reader:
        assert watch.current(reader) == before + 1
    assert watch.known == before + 1
    # A read (a rollback) leaves it sure.
    with pg_engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM sources"))
    assert watch.known == before + 1


def test_a_lost_connection_is_unknown_until_it_listens_again(
    other: Engine, watch: VersionWatch
) -> None:
    _run(
        other,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE application_name = '{APPLICATION}' AND datname = current_database()",
    )
    _until(lambda: watch.known is None)
    # Meanwhile, a write it could not hear: read anew when it listens again.
    _run(other, "UPDATE sources SET title = title WHERE id = 1")
    assert watch.wait_listening(WAIT_S)
    _until(lambda: watch.known == _version(other))


def test_a_database_that_does_not_announce_has_no_known_version(seeded_url: str) -> None:
    """Before migration 0013 the version would never be heard to change."""
    engine = make_engine(seeded_url)
    try:
        if engine.dialect.name != "postgresql":
            pytest.skip("notifications are PostgreSQL's")
        _run(engine, "DROP TRIGGER data_version_announced ON data_version")
        watch = VersionWatch(engine)
        watch.start()
        try:
            assert watch.wait_listening(WAIT_S)
            assert watch.known is None
        finally:
            watch.stop()
    finally:
        engine.dispose()


def test_it_stops_at_once(pg_engine: Engine) -> None:
    watch = VersionWatch(pg_engine)
    watch.start()
    assert watch.wait_listening(WAIT_S)
    started = time.monotonic()
    watch.stop()
    assert time.monotonic() - started < 1
    assert watch.known is None
