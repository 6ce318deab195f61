"""What one write costs: a membership count's POST, through its service, on the seed (or a copy).

    .venv/bin/python bench/writes.py [--writes 60] [--databases sqlite,postgresql] [--copy-of FILE]

In process, without HTTP: the write's own work (checks, the row, the branch's status and
item, its commune's and places' totals, the audit entry, one transaction), which queues
writers about one commune behind each other (tests/test_soak.py). Each database is
seeded fresh (SQLite in bench/data/writes.sqlite3, PostgreSQL in the benchmark's cluster,
bench/data/pg), or SQLite writes into a copy of a file (`--copy-of`, a synthetic scale);
a source of 600 sentences is added, then counts about one village branch
are written one after the other, after a warm-up. Prints the median and p90, in ms.
"""

import argparse
import hashlib
import shutil
import statistics
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import make_engine
from app.models import Source
from app.schemas.writes import CountCreate
from app.services.auth import Caller
from app.services.risk_rules import RiskRules
from app.services.write_figures import COUNTS, create_figure
from app.services.writes import WriteContext, transact
from bench.databases import DATA, Postgres, _remove_sqlite, _seed

SENTENCES = 600
WARMUP = 10


def _sentence(i: int) -> str:
    return f"Lần {i}: chi bộ có {100_000 + i} đảng viên"


def measure(url: str, writes: int) -> list[float]:
    """Seconds per write, for `writes` counts after WARMUP."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            branch_id = session.execute(
                text("SELECT id FROM branches WHERE kind = 'village_branch' ORDER BY id LIMIT 1")
            ).scalar_one()
            body = "Bài đo. " + ". ".join(_sentence(i) for i in range(SENTENCES)) + "."
            source = Source(
                key="bench-writes",
                publisher="Báo Đo",
                text=body,
                text_sha256=hashlib.sha256(body.encode()).hexdigest(),
                # Held from today: no figure is evidence of a day after its source's.
                registered_on=date.today(),
            )
            session.add(source)
            session.commit()
            source_id = source.id
        # A copy of synthetic data is the benchmark's own: it takes the writes it times.
        ctx = WriteContext(caller=Caller(None, "bench"), rules=RiskRules(), into_synthetic=True)
        seconds = []
        for i in range(min(SENTENCES, WARMUP + writes)):
            count = CountCreate.model_validate(
                {
                    "source_id": source_id,
                    "branch_id": branch_id,
                    "record_id": f"w{i}",
                    "value": 100_000 + i,
                    "quote": _sentence(i),
                    "figure": str(100_000 + i),
                    # Dated today, as new as any (the newest id wins a tie): each is
                    # the branch's latest count, as a new report is, and changes its
                    # status and item.
                    "as_of": date.today().isoformat(),
                }
            )
            started = time.perf_counter()
            result = transact(engine, ctx, partial(create_figure, ctx=ctx, kind=COUNTS, body=count))
            if result.status != 201:
                raise SystemExit(f"write {i}: {result.status} {result.content!r}")
            if i >= WARMUP:
                seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        engine.dispose()


def _database(backend: str, postgres: Postgres | None, copy_of: Path | None) -> str:
    """A fresh seeded database, or (SQLite) a copy of `copy_of`, such as a synthetic one."""
    if backend == "sqlite":
        path = DATA / "writes.sqlite3"
        _remove_sqlite(path)
        url = f"sqlite:///{path}"
        if copy_of is not None:
            shutil.copyfile(copy_of, path)
            return url
    else:
        assert postgres is not None
        url = postgres.recreate("bench_writes")
    _seed(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=60)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--copy-of",
        type=Path,
        help="SQLite only: write into a copy of this file (e.g. bench/data/synth_0_1.sqlite3)",
    )
    args = parser.parse_args()
    backends = args.databases.split(",")
    if args.copy_of is not None and backends != ["sqlite"]:
        parser.error("--copy-of needs --databases sqlite")
    DATA.mkdir(parents=True, exist_ok=True)
    postgres = Postgres(cpu=0) if "postgresql" in backends else None
    try:
        for backend in backends:
            seconds = measure(_database(backend, postgres, args.copy_of), args.writes)
            ms = sorted(s * 1000 for s in seconds)
            print(
                f"{backend}: a count's POST through its service, {len(ms)} writes: "
                f"median {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.1f} "
                f"ms, min {ms[0]:.1f} ms",
                flush=True,
            )
    finally:
        if postgres is not None:
            postgres.close()


if __name__ == "__main__":
    main()
