"""Run the Alembic chain from code (the CLI, the serve command and the tests use this)."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select

from app.config import REPO_ROOT


def alembic_config() -> Config:
    return Config(toml_file=str(REPO_ROOT / "pyproject.toml"))


class DatabaseAhead(RuntimeError):
    """The database is at a migration this release does not have: a newer release
    migrated it (and was rolled back). Migrating cannot help; that release can."""


def is_ahead(revision: str | None) -> bool:
    """A revision this release does not have: a newer release migrated the database."""
    return revision is not None and revision not in _revisions()


def check_not_ahead(engine: Engine) -> None:
    current = current_revision(engine)
    if is_ahead(current):
        raise DatabaseAhead(
            f"the database is at migration {current}, which this release does not have "
            f"(its latest is {head_revision()}): run the release that migrated it"
        )


@cache
def _revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def upgrade_head(engine: Engine) -> None:
    check_not_ahead(engine)
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# Any constant, the same in every process that prepares a database ("bsprep").
PREPARE_LOCK_KEY = 0x627370726570


@contextmanager
def preparing(engine: Engine) -> Iterator[None]:
    """Held while a process migrates or seeds the database: replicas started at once take
    turns, and the second finds the work done. Unheld, both created alembic_version, or
    the same rows, and one stopped on a unique violation (PostgreSQL, from an operations
    audit). PostgreSQL: a session advisory lock; SQLite: a lock on a file beside the
    database's (an in-memory database has no other process to wait for)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(PREPARE_LOCK_KEY)))
            connection.commit()
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(PREPARE_LOCK_KEY)))
                connection.commit()
        return
    database = engine.url.database  # a file's: app.db.make_engine refuses any other
    with open(f"{database}.prepare-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield
