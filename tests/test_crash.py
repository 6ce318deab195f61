"""Crash safety (issue 8, point 4): the server killed with SIGKILL in the middle of a bulk
import, again and again; after each restart the import is wholly present or wholly absent,
and the database passes its integrity check.

The real server (uvicorn on a loopback port, in a process of its own, forked from a
launcher that imported the app once, so that each of the 11 restarts takes a fraction of
a second instead of seconds; see tests/servers.py) gets POST /imports with a generated
article file: a source, BRANCHES organizations and COUNTS_PER_BRANCH counts of each, with a
quote from the source's text, so that the import (one transaction) takes a second or two.
The first import runs to its end and gives the duration; then, KILLS times per backend, an
import of a new file is sent and the server is killed with SIGKILL after a random delay
within that duration (a little past it, sometimes, so that kills also land around the
commit), and restarted. After each restart, for every import sent so far: its source, its
organizations, their status rows, its counts and its audit entry are all there or none
is, and an import that was acknowledged (200) is there. The integrity check:

- SQLite: `PRAGMA integrity_check` is ok and `PRAGMA foreign_key_check` finds nothing
  (after the recovery of the write-ahead log that opening the file does);
- PostgreSQL: amcheck (`bt_index_check` on every index, heap included) where the server
  has the extension; pgserver's build has not, so then every foreign key is checked with
  a query, and each table's row count through its primary key index is compared with a
  sequential scan. The server's answering /ready with 200 after the restart completes it.

Only the API server is killed: PostgreSQL keeps running and rolls back the killed
server's open transaction when its connection drops, which the test waits for.
"""

import random
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.db import make_engine
from app.models import metadata
from app.services.auth import create_key
from tests.servers import ForkedServer, Launcher, say

KILLS = 10  # per backend: 20 in all
BRANCHES = 20
COUNTS_PER_BRANCH = 30  # 600 figures per import
PARENT = "org:vn2004:05251"  # a seed organization, in a seed commune
LOCALITY = "vn2004:05251"


# -- The import file ------------------------------------------------------------------
@dataclass(frozen=True)
class BulkImport:
    """One generated article file and the keys by which its rows are found."""

    number: int

    @property
    def source_key(self) -> str:
        return f"test-crash-{self.number}"

    @property
    def branch_prefix(self) -> str:
        return f"{PARENT}/thon-crash-{self.number}-"

    def body(self) -> bytes:
        sentences, branches, counts = [], [], []
        for b in range(BRANCHES):
            name = f"Chi bộ thôn Thử Nghiệm {self.number}-{b}"
            sentences.append(f"{name} được thành lập")
            branches.append(
                {
                    "key": f"{self.branch_prefix}{b}",
                    "kind": "village_branch",
                    "name": name,
                    "locality": LOCALITY,
                    "parent": PARENT,
                    "quote": f"{name} được thành lập",
                }
            )
            for i in range(COUNTS_PER_BRANCH):
                value = 10 + (b * 7 + i) % 90
                quote = f"{name} cuối năm {1970 + i} có {value} đảng viên"
                sentences.append(quote)
                counts.append(
                    {
                        "id": f"c-{b}-{i}",
                        "branch": f"{self.branch_prefix}{b}",
                        "value": value,
                        "as_of": f"{1970 + i}-12-31",
                        "quote": quote,
                        "figure": str(value),
                    }
                )
        article = {
            "format": "branchstats/article-v1",
            "source": {
                "key": self.source_key,
                "text": ". ".join(sentences) + ".",
                "publisher": "Báo Thử Nghiệm",
                "language": "vi",
            },
            "branches": branches,
            "counts": counts,
        }
        return orjson.dumps(article)

    def rows(self, engine: Engine) -> dict[str, int]:
        """How many of each kind of row the import made are in the database."""
        like = {"figures": f"{self.source_key}#%", "branches": f"{self.branch_prefix}%"}
        queries = {
            "source": "SELECT count(*) FROM sources WHERE key = :source",
            "branches": "SELECT count(*) FROM branches WHERE key LIKE :branches",
            "status": "SELECT count(*) FROM branch_status s JOIN branches b "
            "ON b.id = s.branch_id WHERE b.key LIKE :branches",
            "counts": "SELECT count(*) FROM membership_counts WHERE key LIKE :figures",
            "audit": "SELECT count(*) FROM audit_log WHERE action = 'import' "
            "AND entity_key = :source",
        }
        with engine.connect() as conn:
            return {
                what: int(conn.execute(text(sql), {"source": self.source_key, **like}).scalar_one())
                for what, sql in queries.items()
            }


WHOLE = {
    "source": 1,
    "branches": BRANCHES,
    "status": BRANCHES,
    "counts": BRANCHES * COUNTS_PER_BRANCH,
    "audit": 1,
}
NONE = dict.fromkeys(WHOLE, 0)


def outcome(rows: dict[str, int]) -> str:
    if rows == WHOLE:
        return "present"
    if rows == NONE:
        return "absent"
    return f"PARTIAL {rows}"


# -- Integrity ------------------------------------------------------------------------
def sqlite_integrity(url: str) -> list[str]:
    path = make_url(url).database
    assert path
    with sqlite3.connect(path) as conn:  # opening recovers the WAL the kill left
        checked = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    problems = [] if checked == ["ok"] else [f"integrity_check: {checked[:5]}"]
    return problems + [f"foreign_key_check: {row}" for row in orphans[:5]]


def has_amcheck(engine: Engine) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
    except SQLAlchemyError:
        return False
    return True


def postgresql_integrity(engine: Engine, amcheck: bool) -> list[str]:
    problems = []
    with engine.connect() as conn:
        if amcheck:
            indexes = conn.execute(
                text(
                    "SELECT c.relname FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE a.amname = 'btree' AND n.nspname = 'public'"
                )
            ).all()
            for (name,) in indexes:
                try:
                    check = "SELECT bt_index_check(CAST(:name AS regclass), true)"
                    conn.execute(text(check), {"name": f'"{name}"'})
                except SQLAlchemyError as exc:
                    problems.append(f"amcheck {name}: {exc.__class__.__name__}")
                    conn.rollback()
        for table in metadata.sorted_tables:
            for fk in table.foreign_keys:
                child, parent = fk.parent, fk.column
                orphans = conn.execute(
                    text(
                        f"SELECT count(*) FROM {table.name} c WHERE c.{child.name} IS NOT NULL "
                        f"AND NOT EXISTS (SELECT 1 FROM {parent.table.name} p "
                        f"WHERE p.{parent.name} = c.{child.name})"
                    )
                ).scalar_one()
                if orphans:
                    problems.append(
                        f"{orphans} {table.name}.{child.name} without a {parent.table.name}"
                    )
            key = ", ".join(c.name for c in table.primary_key.columns)
            heap = _count(engine, SEQUENTIAL, f"SELECT count(*) FROM {table.name}")
            indexed = _count(
                engine,
                BY_INDEX,
                f"SELECT count(*) FROM (SELECT {key} FROM {table.name} ORDER BY {key}) t",
            )
            if heap != indexed:
                problems.append(f"{table.name}: {heap} rows in the heap, {indexed} by its index")
    return problems


SEQUENTIAL = ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan")
BY_INDEX = ("enable_seqscan",)


def _count(engine: Engine, off: tuple[str, ...], sql: str) -> int:
    """A count with some of the planner's scan methods turned off."""
    with engine.connect() as conn:
        for setting in off:
            conn.execute(text(f"SET LOCAL {setting} = off"))
        return int(conn.execute(text(sql)).scalar_one())


def wait_for_sessions_to_end(engine: Engine, within_s: float = 10) -> None:
    """PostgreSQL: until the killed server's sessions are gone (their transactions
    rolled back), so that what is counted next is final."""
    engine.dispose()  # the test's own idle connections are not the server's
    deadline = time.monotonic() + within_s
    while True:
        with engine.connect() as conn:
            others = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        if not others:
            return
        assert time.monotonic() < deadline, f"{others} sessions of the killed server remain"
        time.sleep(0.05)


# -- The test -------------------------------------------------------------------------
@dataclass
class Sent:
    bulk: BulkImport
    status: int | None = None  # the answer, if one came before the kill
    error: str | None = None


def send(base: str, token: str, sent: Sent) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        response = httpx.post(
            f"{base}/imports", content=sent.bulk.body(), headers=headers, timeout=60
        )
        sent.status = response.status_code
        if response.status_code != 200:
            sent.error = response.text[:300]
    except httpx.HTTPError as exc:
        sent.error = exc.__class__.__name__


def test_sigkill_during_a_bulk_import(
    backend: str, seeded_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(seeded_url)
    with Session(engine) as session:
        token = create_key(session, "bulk-importer").token
        session.commit()
    amcheck = backend == "postgresql" and has_amcheck(engine)
    rng = random.Random(8)
    log = tmp_path / "uvicorn.log"
    sent: list[Sent] = []
    outcomes: Counter[str] = Counter()
    restarts: list[float] = []
    delays: list[float] = []
    checks = 0

    def integrity() -> list[str]:
        if backend == "sqlite":
            return sqlite_integrity(seeded_url)
        return postgresql_integrity(engine, amcheck)

    def after_restart(server: ForkedServer) -> None:
        """Every import sent so far is whole or absent; acknowledged ones are present."""
        nonlocal checks
        assert httpx.get(f"{server.base}/ready", timeout=5).status_code == 200
        for item in sent:
            found = outcome(item.bulk.rows(engine))
            assert not found.startswith("PARTIAL"), (item, found)
            if item.status == 200:
                assert found == "present", item
        problems = integrity()
        checks += 1
        assert not problems, problems

    with Launcher(seeded_url, log) as launcher:
        # The first import runs to its end: its duration sets the range of the kill delays.
        with launcher.start() as server:
            first = Sent(BulkImport(0))
            started = time.monotonic()
            send(server.base, token, first)
            duration = time.monotonic() - started
            assert first.status == 200, first.error
            sent.append(first)
            after_restart(server)

        for n in range(1, KILLS + 1):
            server = launcher.start()
            restarts.append(server.started_in)
            after_restart(server)
            item = Sent(BulkImport(n))
            sent.append(item)
            sender = threading.Thread(target=send, args=(server.base, token, item))
            delay = rng.uniform(0.05, 1.1) * duration
            delays.append(delay)
            sender.start()
            time.sleep(delay)
            server.kill()
            sender.join(30)
            assert not sender.is_alive()
            if backend == "postgresql":
                wait_for_sessions_to_end(engine)
            outcomes[outcome(item.bulk.rows(engine))] += 1

        # The last restart; then an import the kill undid goes through when sent again.
        with launcher.start() as server:
            restarts.append(server.started_in)
            after_restart(server)
            undone = next((s for s in sent if outcome(s.bulk.rows(engine)) == "absent"), None)
            if undone is not None:
                again = Sent(undone.bulk)
                send(server.base, token, again)
                assert again.status == 200, again.error
                assert outcome(undone.bulk.rows(engine)) == "present"
    engine.dispose()
    assert "Traceback" not in log.read_text(errors="replace")

    acknowledged = sum(1 for s in sent[1:] if s.status == 200)
    if backend == "sqlite":
        checked = "PRAGMA integrity_check, foreign_key_check"
    else:
        checked = ("amcheck, " if amcheck else "") + "foreign keys, index/heap counts"
    say(
        request.config,
        f"crash [{backend}]: {KILLS} SIGKILLs during a bulk import of {BRANCHES} branches and "
        f"{BRANCHES * COUNTS_PER_BRANCH} counts ({len(BulkImport(0).body()) // 1000} kB, "
        f"{duration:.2f}s uninterrupted), at {min(delays):.2f}-{max(delays):.2f}s; outcomes "
        f"{dict(sorted(outcomes.items()))} ({acknowledged} acknowledged before the kill); "
        f"{checks} integrity checks "
        f"({checked}): "
        f"all ok; restarts {min(restarts):.1f}-{max(restarts):.1f}s, /ready 200 after each"
        + ("; an undone import sent again: applied" if undone is not None else ""),
    )
    assert set(outcomes) <= {"present", "absent"}, outcomes
    assert sum(outcomes.values()) == KILLS
