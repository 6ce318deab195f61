"""The data version as PostgreSQL announces it (migration 0013), kept in memory.

A kept answer (app.services.answer_cache) is current while the data version is the one
it was built at. Reading the version's row for each request was, on PostgreSQL, a round
trip to the server and a hop to a read thread, for an answer that needs nothing else
from the database. A thread here listens on the channel instead, on a connection of its
own, and keeps the latest version announced; a request reads it from memory.

What that costs: another process's write, or an UPDATE by hand on another connection, is
seen once its notification arrives (PostgreSQL sends it at commit; here within
milliseconds), not at the very next request. A write committed on this process's engine
(the API's writes, and anything else run on it) is seen at once: its commit makes the
version unsure, and the next request reads the row, as without the watch, which makes
it sure again. Lost, the connection is listened on again, and the row read anew;
meanwhile every request reads it.
"""

import logging
import os
import select
from threading import Event, Lock, Thread
from typing import Any

from sqlalchemy import Engine, event

from app.reader import Reader
from app.services.data_version import data_version

log = logging.getLogger(__name__)

CHANNEL = "data_version"
# A connection that hears nothing for this long reads the version: a lost server is
# found out, and any notification missed is made good (behind a pooler that drops them,
# another process's write would be seen this late: LISTEN_FOR_DATA_VERSION=false there).
CHECK_S = 30.0
RETRY_S = 1.0
APPLICATION = "branchstats data version watch"
LISTENER_OPTIONS = {
    "application_name": APPLICATION,  # in pg_stat_activity, for an operator
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# The version, if the database announces it: a database not yet migrated to 0013 would
# never say that it changed.
CURRENT = (
    "SELECT version FROM data_version WHERE id = 1 AND EXISTS (SELECT FROM pg_trigger "
    "WHERE tgrelid = 'data_version'::regclass AND tgname = 'data_version_announced')"
)


class VersionWatch:
    """The latest data version PostgreSQL announced, and whether it is sure: known to be
    current (listening, and no commit on this engine since it was last read). One per
    engine: the app's."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._latest: int | None = None
        self._sure = False
        # Raised by each commit here: a read of the row begun before it cannot make the
        # version sure.
        self._commits = 0
        self._lock = Lock()
        self._stopping = Event()
        self._listening = Event()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = Thread(target=self._listen, name="data-version-watch", daemon=True)

    @property
    def known(self) -> int | None:
        """The version now, when sure of it without reading the row."""
        return self._latest if self._sure else None

    def current(self, reader: Reader) -> int | None:
        """The version now: known, or read (and then known, if nothing was committed
        here meanwhile)."""
        known = self.known
        if known is not None:
            return known
        commits = self._commits
        version = data_version(reader)
        with self._lock:
            if commits == self._commits and self._listening.is_set() and version is not None:
                if self._latest is None or version > self._latest:
                    self._latest = version
                self._sure = self._latest == version
        return version

    def start(self) -> None:
        event.listen(self._engine, "commit", _committing)
        event.listen(self._engine, "checkin", self._checked_in)
        self._thread.start()

    def wait_listening(self, timeout_s: float) -> bool:
        """True once the connection listens and the row was read (for tests)."""
        return self._listening.wait(timeout_s)

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if event.contains(self._engine, "checkin", self._checked_in):
            event.remove(self._engine, "commit", _committing)
            event.remove(self._engine, "checkin", self._checked_in)
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._lost()
        if not self._thread.is_alive():  # else still connecting: it ends on its own
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _checked_in(self, _dbapi_connection: Any, record: Any) -> None:
        """A connection back in the pool after its transaction committed (`commit` marked
        it): the version is unsure until read again."""
        if record.info.pop(_COMMITTED, False):
            with self._lock:
                self._commits += 1
                self._sure = False

    def _heard(self, payload: str | int | None) -> None:
        with self._lock:
            if payload in (None, ""):
                self._latest = None  # the row is gone: nothing to keep answers by
                self._sure = False
            else:
                version = int(payload)
                # Announced in the order transactions commit; a read may be ahead.
                if self._latest is None or version > self._latest:
                    self._latest = version

    def _lost(self) -> None:
        with self._lock:  # with the version: a read then under way cannot make it sure
            self._listening.clear()
            self._latest = None
            self._sure = False

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen_once()
            except Exception as error:  # a lost server, a refused connection
                self._lost()
                if not self._stopping.is_set():
                    log.warning("not listening for the data version: %s", error)
                    self._stopping.wait(RETRY_S)
        self._lost()

    def _listen_once(self) -> None:
        dialect = self._engine.dialect
        args, kwargs = dialect.create_connect_args(self._engine.url)
        # A path to the server that died without a word is found out by TCP itself.
        connection: Any = dialect.loaded_dbapi.connect(
            *args, **{**LISTENER_OPTIONS, **kwargs}, autocommit=True
        )
        with connection:
            connection.execute(f"LISTEN {CHANNEL}")
            # Listening first: any commit after this read is announced.
            self._read(connection)
            self._listening.set()
            while not self._stopping.is_set():
                ready, _, _ = select.select([connection.fileno(), self._wake_read], [], [], CHECK_S)
                if self._wake_read in ready:
                    return
                if ready:
                    for notification in connection.notifies(timeout=0):
                        self._heard(notification.payload)
                else:
                    self._read(connection)

    def _read(self, connection: Any) -> None:
        """The row as it is now: the version to start from, sure unless something was
        committed here while it was read."""
        commits = self._commits
        row = connection.execute(CURRENT).fetchone()
        with self._lock:
            self._latest = None if row is None else row[0]
            self._sure = row is not None and commits == self._commits


_COMMITTED = "committed_since_checkout"


def _committing(connection: Any) -> None:
    connection.info[_COMMITTED] = True
