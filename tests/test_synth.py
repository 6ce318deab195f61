"""The synthetic data generator: deterministic, provenance-complete, never mixed with real data,
and shaped so that every risk rule has a branch to fire on."""

import argparse
import hashlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, select, text, update
from sqlmodel import Session

from app import cli
from app.config import REPO_ROOT
from app.db import make_engine
from app.ingest.loader import ImportRejected
from app.ingest.seed import load_seed
from app.migrate import preparing
from app.models import (
    Branch,
    BranchStatus,
    Fact,
    Locality,
    MembershipCount,
    MembershipEvent,
    Source,
)
from app.models.localities import CommuneYearlyTotal, LocalityWord, PlaceYearlyTotal
from app.services.branch_items import stale_items
from app.services.data_check import check_stored
from app.services.risk_rules import RiskRules
from app.services.status import refresh_current_units, refresh_status
from app.services.text import search_words
from app.services.yearly import refresh_totals
from app.synth import (
    DATA_TABLES,
    SynthRefused,
    _Plan,
    _PostgresLoader,
    _SqliteLoader,
    generate,
    in_child,
    incomplete,
    main,
    run_synth,
)
from tests.conftest import DatabaseFactory

SCALE = 0.001  # one province, three communes, ~270 branches
FIGURES = (MembershipCount, MembershipEvent, Fact)
MARKED = (Source, Locality, Branch, *FIGURES)


def _table(model: Any) -> Table:
    """A model's Core table (SQLModel's class attributes are typed as plain values)."""
    table: Table = model.__table__
    return table


def _load(url: str, seed: int = 7) -> Engine:
    engine = make_engine(url)
    run_synth(engine, scale=SCALE, seed=seed, rules=RiskRules(), progress=False)
    return engine


@pytest.fixture(scope="module")
def synth_engine(databases: DatabaseFactory) -> Iterator[Engine]:
    """One synthetic database per backend, shared by the read-only checks."""
    engine = _load(databases.copy("migrated"))
    yield engine
    engine.dispose()


def _digest(engine: Engine) -> str:
    """A checksum of everything but the load's timestamps and registered_on."""
    queries = (
        "SELECT key, text, text_sha256 FROM sources ORDER BY id",
        "SELECT id, key, kind, name, parent_id, province_id, commune_id FROM localities "
        "ORDER BY id",
        "SELECT id, key, kind, name, parent_id, locality_id FROM branches ORDER BY id",
        "SELECT id, key, branch_id, value, as_of FROM membership_counts ORDER BY id",
        "SELECT id, key, branch_id, kind, value, period_end FROM membership_events ORDER BY id",
        "SELECT id, key, branch_id, metric, value, qualifier FROM facts ORDER BY id",
    )
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for query in queries:
            for row in conn.execute(text(query)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def _count(engine: Engine, query: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(query)).scalar_one())


def test_same_seed_same_data(databases: DatabaseFactory, synth_engine: Engine) -> None:
    again = _load(databases.copy("migrated"))
    other_seed = _load(databases.copy("migrated"), seed=8)
    assert _digest(again) == _digest(synth_engine)
    assert _digest(other_seed) != _digest(synth_engine)
    again.dispose()
    other_seed.dispose()


def test_rows_built_by_a_child_process_are_the_same() -> None:
    plan = _Plan(scale=0.001, seed=7, communes=(2, 1, 1))  # three provinces, four communes
    stamp = datetime.now(UTC)
    first_ids = dict.fromkeys(DATA_TABLES, 1)
    built_here = list(generate(plan, first_ids, stamp))
    assert [index for index, _, _ in built_here] == [0, 1, 2]
    assert list(in_child(lambda: generate(plan, first_ids, stamp))) == built_here


@pytest.mark.parametrize(
    ("zone", "day"), [("EST+5", date(2026, 12, 7)), ("ICT-7", date(2026, 12, 8))]
)
def test_a_synthetic_source_is_registered_on_the_servers_day(
    monkeypatch: pytest.MonkeyPatch, zone: str, day: date
) -> None:
    """As an import's: the day is the server's (README, TZ). The UTC one was tomorrow's
    west of UTC in the evening, a day imports refuse (from an audit of the day's turn)."""
    plan = _Plan(scale=0.001, seed=7, communes=(1,))
    stamp = datetime(2026, 12, 8, 2, tzinfo=UTC)  # 21:00 the day before in New York
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        [(_, rows, _)] = generate(plan, dict.fromkeys(DATA_TABLES, 1), stamp)
    finally:
        monkeypatch.undo()
        time.tzset()
    [source] = rows["sources"]
    assert [value for value in source if type(value) is date] == [day]


def test_shape_at_small_scale(synth_engine: Engine) -> None:
    branches = _count(synth_engine, "SELECT COUNT(*) FROM branches")
    assert 200 <= branches <= 350  # 270,000 x 0.001
    assert _count(synth_engine, "SELECT COUNT(*) FROM localities WHERE kind = 'province'") == 1
    assert _count(synth_engine, "SELECT COUNT(*) FROM localities WHERE kind = 'commune'") == 3
    # One count per branch-year, on Dec 31, for every branch that has data.
    counts = _table(MembershipCount).c
    with synth_engine.connect() as conn:
        per_branch = conn.execute(
            select(func.count(), func.min(counts.as_of), func.max(counts.as_of)).group_by(
                counts.branch_id
            )
        ).all()
    assert {n for n, _, _ in per_branch} == {10}
    assert {(first, last) for _, first, last in per_branch} == {
        (date(2016, 12, 31), date(2025, 12, 31))
    }


def test_every_figure_quotes_its_source_text(synth_engine: Engine) -> None:
    source = _table(Source)
    with synth_engine.connect() as conn:
        for model in (Locality, Branch, *FIGURES):
            table = _table(model)
            mismatched = conn.execute(
                select(func.count())
                .select_from(table.join(source, table.c.source_id == source.c.id))
                .where(table.c.quote != source.c.text)
            ).scalar_one()
            unsourced = conn.execute(
                select(func.count()).where(table.c.source_id.is_(None))
            ).scalar_one()
            assert (mismatched, unsourced) == (0, 0), table.name
        sources = conn.execute(select(source.c.text, source.c.text_sha256)).all()
    assert sources
    for source_text, sha in sources:
        assert "not real figures" in source_text
        assert hashlib.sha256(source_text.encode()).hexdigest() == sha


def test_synthetic_data_passes_the_check_of_stored_rows(synth_engine: Engine) -> None:
    with synth_engine.connect() as conn:
        report = check_stored(conn, RiskRules())
    assert report.checked["membership_count"] > 0 and report.checked["membership_event"] > 0
    assert report.findings == []


def test_every_row_is_marked_synthetic(synth_engine: Engine) -> None:
    with synth_engine.connect() as conn:
        for model in MARKED:
            table = _table(model)
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            marked = conn.execute(
                select(func.count()).select_from(table).where(table.c.is_synthetic)
            ).scalar_one()
            assert total > 0 and marked == total, table.name


def test_ancestors_are_denormalized(synth_engine: Engine) -> None:
    wrong = _count(
        synth_engine,
        "SELECT COUNT(*) FROM branches b JOIN localities l ON l.id = b.locality_id "
        "WHERE b.province_id <> l.province_id "
        "OR COALESCE(b.commune_id, 0) <> COALESCE(l.commune_id, 0)",
    )
    villages_off = _count(
        synth_engine,
        "SELECT COUNT(*) FROM localities v JOIN localities c ON c.id = v.parent_id "
        "WHERE v.kind = 'village' AND (v.commune_id <> c.id OR v.province_id <> c.province_id)",
    )
    assert (wrong, villages_off) == (0, 0)


# -- Risk inputs: each rule has at least one branch to fire on ----------------------------
LATEST_COUNT = "SELECT COUNT(*) FROM membership_counts WHERE as_of = '2025-12-31' AND value < {n}"
RISK_INPUTS = {
    "fewer than 5 members": LATEST_COUNT.format(n=5),
    "fewer than 3 members": LATEST_COUNT.format(n=3),
    "3 or more members over 60": (
        "SELECT COUNT(*) FROM facts WHERE metric = 'members_over_60' AND value >= 3"
    ),
    "more than 5 years without admission, none after": (
        "SELECT COUNT(*) FROM facts f WHERE f.metric = 'years_without_admission' "
        "AND f.value = 5 AND f.qualifier = 'more_than' AND f.evidence_date >= '2025-01-01' "
        "AND NOT EXISTS (SELECT 1 FROM membership_events e WHERE e.branch_id = f.branch_id "
        "AND e.kind = 'admission' AND e.value > 0 AND e.period_end > f.evidence_date)"
    ),
    "more departures than admissions over 2023-2025": (
        "SELECT COUNT(*) FROM (SELECT branch_id FROM membership_events "
        "WHERE period_end >= '2023-01-01' GROUP BY branch_id "
        "HAVING SUM(CASE WHEN kind = 'departure' THEN value ELSE 0 END) "
        "> SUM(CASE WHEN kind = 'admission' THEN value ELSE 0 END) "
        "AND SUM(CASE WHEN kind = 'admission' THEN 1 ELSE 0 END) > 0) AS a"
    ),
    "reported at risk": (
        "SELECT COUNT(*) FROM facts WHERE metric = 'at_risk_reported' AND value = 1 "
        "AND unit = 'flag'"
    ),
    "explicit zero admissions": (
        "SELECT COUNT(*) FROM membership_events WHERE kind = 'admission' AND value = 0"
    ),
    "no counts, events or facts": (
        "SELECT COUNT(*) FROM branches b WHERE "
        "NOT EXISTS (SELECT 1 FROM membership_counts x WHERE x.branch_id = b.id) AND "
        "NOT EXISTS (SELECT 1 FROM membership_events x WHERE x.branch_id = b.id) AND "
        "NOT EXISTS (SELECT 1 FROM facts x WHERE x.branch_id = b.id)"
    ),
}


@pytest.mark.parametrize("case", list(RISK_INPUTS))
def test_risk_input_present(synth_engine: Engine, case: str) -> None:
    assert _count(synth_engine, RISK_INPUTS[case]) >= 1, case


def test_only_nonzero_events_except_admissions(synth_engine: Engine) -> None:
    zeros = _count(
        synth_engine,
        "SELECT COUNT(*) FROM membership_events WHERE value = 0 AND kind <> 'admission'",
    )
    assert zeros == 0


def test_status_refreshed_with_every_level_of_risk(synth_engine: Engine) -> None:
    pytest.importorskip("app.services.status")
    with synth_engine.connect() as conn:
        criteria = " ".join(conn.execute(text("SELECT criteria_met FROM branch_status")).scalars())
    for rule in (
        "too_few_members",
        "ageing",
        "stalled",
        "below_charter_minimum",
        "attrition",
        "reported",
    ):
        assert rule in criteria, rule


def test_search_words_are_those_of_each_locality(synth_engine: Engine) -> None:
    localities, words = _table(Locality), _table(LocalityWord)
    with synth_engine.connect() as conn:
        expected = {
            (word, locality_id)
            for locality_id, key in conn.execute(select(localities.c.id, localities.c.search_key))
            for word in search_words(key)
        }
        stored = {tuple(row) for row in conn.execute(select(words.c.word, words.c.locality_id))}
    assert len(expected) > 100 and stored == expected


def _derived(session: Session) -> dict[str, list[Any]]:
    """Everything the refresh after a load derives, in a comparable order."""
    rows: dict[str, list[Any]] = {}
    for model in (BranchStatus, CommuneYearlyTotal, PlaceYearlyTotal, Locality):
        t = _table(model)
        columns = [c for c in t.c if c.name != "id"]  # the totals' ids are new each rebuild
        rows[t.name] = sorted((tuple(row) for row in session.execute(select(*columns))), key=repr)
    return rows


def test_the_bulk_refresh_agrees_with_the_refresh_of_each_write(
    databases: DatabaseFactory,
) -> None:
    """What synth derives in bulk is what the writes' own refreshes (by branch, by
    commune) derive; and every stored item is the one a read would render."""
    engine = _load(databases.copy("migrated"))
    rules = RiskRules()
    with Session(engine) as session:
        after_load = _derived(session)
        assert len(after_load["branch_status"]) == _count(engine, "SELECT COUNT(*) FROM branches")
        assert stale_items(session, rules) == []
        branch_ids = list(session.execute(select(_table(Branch).c.id)).scalars())
        # A unit that is not current any more is set right; those that are stay.
        localities = _table(Locality)
        session.execute(
            update(localities)
            .where(localities.c.kind == "village")
            .values(current_province_id=None, current_commune_id=None)
        )
        refresh_current_units(session)
        refresh_status(session, rules, branch_ids=branch_ids)
        refresh_totals(session, branch_ids)
        assert _derived(session) == after_load
    engine.dispose()


def _schema(engine: Engine) -> set[Any]:
    """Every table's constraints and indexes, as the database defines them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = (  # the planner's statistics are not schema
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_stat%'"
            )
        else:
            query = (
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                "UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = 'public' UNION ALL SELECT tgrelid::regclass::text, "
                "tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
            )
        return {tuple(row) for row in conn.execute(text(query))}


def test_a_load_leaves_the_schema_as_migrated(
    databases: DatabaseFactory, synth_engine: Engine
) -> None:
    """The loader and the refresh set constraints and indexes aside on PostgreSQL, the
    data version's triggers on SQLite."""
    migrated = make_engine(databases.copy("migrated"))
    assert len(_schema(migrated)) > 50
    assert _schema(synth_engine) == _schema(migrated)
    migrated.dispose()


def _data_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT version FROM data_version")).scalar_one())


def test_a_load_raises_the_data_version(databases: DatabaseFactory) -> None:
    """Answers kept by a server on this database (app.services.answer_cache) are rebuilt."""
    engine = make_engine(databases.copy("migrated"))
    before = _data_version(engine)
    run_synth(engine, scale=SCALE, seed=7, rules=RiskRules(), progress=False)
    assert _data_version(engine) > before
    engine.dispose()


def test_a_failed_load_leaves_the_schema_as_migrated(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = databases.copy("migrated")
    engine = make_engine(url)
    schema = _schema(engine)

    def fail(*args: Any) -> None:
        raise RuntimeError("the disk is full")

    for loader in ("_SqliteLoader", "_PostgresLoader"):
        monkeypatch.setattr(f"app.synth.{loader}.write", fail)
    with pytest.raises(RuntimeError, match="disk is full"):
        run_synth(engine, scale=SCALE, seed=7, rules=RiskRules(), progress=False)
    assert _schema(engine) == schema
    engine.dispose()


# A load that a signal stops after its first batch of counts: no cleanup of its own runs.
_KILLED_LOAD = """
import os, signal, sys
from app.synth import _PostgresLoader, _SqliteLoader, main
for loader in (_SqliteLoader, _PostgresLoader):
    def write(self, table, prepared, write=loader.write):
        write(self, table, prepared)
        if table == "membership_counts":
            os.kill(os.getpid(), signal.SIGKILL)
    loader.write = write
main(["--scale", sys.argv[1], "--database-url", sys.argv[2], "--no-progress"])
"""


def test_a_killed_load_leaves_the_schema_as_migrated(databases: DatabaseFactory) -> None:
    """SIGKILL mid-load (or a SIGTERM, or a machine going down): on SQLite the data
    version's triggers were set aside for the whole load, and a killed run left the
    database without them (writes no longer raised its version)."""
    url = databases.copy("migrated")
    engine = make_engine(url)
    schema = _schema(engine)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_LOAD, str(SCALE), url],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert _schema(engine) == schema
    # PostgreSQL's load is one transaction; SQLite's batches are committed one by one.
    postgres = engine.dialect.name == "postgresql"
    assert incomplete(engine) == (
        "no branch was loaded" if postgres else "branches without their status"
    )
    before = _data_version(engine)
    with engine.begin() as conn:
        conn.execute(update(_table(MembershipCount)).values(value=_table(MembershipCount).c.value))
    assert _data_version(engine) > before
    engine.dispose()
    args = ["--scale", str(SCALE), "--database-url", url, "--no-progress", "--replace"]
    assert main(args) == 0


# -- A load stopped before its end ---------------------------------------------------------
DERIVED_AND_DATA = ("sources", "localities", "branches", "membership_counts", "branch_status")


def _interrupt_in_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the first batch of counts: on SQLite, the places and branches are
    committed by then."""
    for loader in (_SqliteLoader, _PostgresLoader):

        def interrupted(self: Any, table: str, prepared: Any, write: Any = loader.write) -> None:
            write(self, table, prepared)
            if table == "membership_counts":
                raise KeyboardInterrupt

        monkeypatch.setattr(loader, "write", interrupted)


def _interrupt_in_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as the totals are stored: the data and the status rows are committed."""

    def interrupted(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("app.synth.store_staged_totals", interrupted)


@pytest.mark.parametrize("where", [_interrupt_in_load, _interrupt_in_refresh])
def test_an_interrupted_load_removes_what_it_loaded(
    databases: DatabaseFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: Any,
) -> None:
    """From an audit of the synthetic data: a load stopped by Ctrl-C left its places and
    branches without counts or status rows, which a server then served as ready, empty
    lists and all, and app.cli said only "interrupted"."""
    url = databases.copy("migrated")
    args = ["--scale", str(SCALE), "--database-url", url, "--no-progress"]
    assert main(args) == 0  # a load to replace: --replace empties it first
    where(monkeypatch)
    try:
        code = main([*args, "--replace"])
    except KeyboardInterrupt:
        pytest.fail("synth's main let the interrupt through")
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().splitlines() == [
        "interrupted: the partial load was removed; the database holds no synthetic data"
    ]
    engine = make_engine(url)
    for table in DERIVED_AND_DATA:
        assert _count(engine, f"SELECT COUNT(*) FROM {table}") == 0, table
    assert _schema(engine) == _schema(make_engine(databases.copy("migrated")))
    engine.dispose()
    monkeypatch.undo()
    assert main(args) == 0  # no --replace needed: nothing was left


def test_a_scale_too_large_to_plan_leaves_the_data_in_place(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--scale 1e9 --replace wiped the database, then built a plan without bound: the plan
    is made first, and a failure there changes nothing."""
    engine = _load(databases.copy("migrated"))
    branches = _count(engine, "SELECT COUNT(*) FROM branches")

    def out_of_memory(*args: Any) -> None:
        raise MemoryError

    monkeypatch.setattr("app.synth._plan", out_of_memory)
    with pytest.raises(MemoryError):
        run_synth(engine, scale=SCALE, seed=8, rules=RiskRules(), progress=False, replace=True)
    assert _count(engine, "SELECT COUNT(*) FROM branches") == branches
    with pytest.raises(ValueError, match="at most 10"):
        run_synth(engine, scale=1e9, seed=8, rules=RiskRules(), progress=False, replace=True)
    assert _count(engine, "SELECT COUNT(*) FROM branches") == branches
    engine.dispose()


def test_a_load_stopped_before_its_end_is_found(databases: DatabaseFactory) -> None:
    """Killed (no cleanup runs), a load leaves its data without the status rows or the
    totals, which are committed after it."""
    engine = _load(databases.copy("migrated"))
    assert incomplete(engine) is None
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM place_yearly_totals"))
    assert incomplete(engine) == "no yearly totals"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM branch_status"))
    assert incomplete(engine) == "branches without their status"
    engine.dispose()


def test_a_server_refuses_an_unfinished_synthetic_database(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It answered /ready true with empty lists, and the day's refresh found nothing
    stale: the status rows were never there."""
    url = databases.copy("migrated")
    engine = _load(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM branch_status"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(SystemExit) as refused:
        cli._prepare(serving=True)
    said = str(refused.value.code)
    assert said == (
        "the synthetic data is incomplete (a `branchstats synth` stopped before its end): "
        "run it again with --replace"
    )
    assert "the seed is not loaded" not in capsys.readouterr().out


# -- Never mixed with real data -------------------------------------------------------------
def test_refuses_a_database_with_real_data(seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    with pytest.raises(SynthRefused, match="real"):
        run_synth(engine, scale=SCALE, seed=1, rules=RiskRules(), progress=False)
    assert _count(engine, "SELECT COUNT(*) FROM sources WHERE is_synthetic") == 0
    engine.dispose()
    assert main(["--scale", str(SCALE), "--database-url", seeded_url, "--no-progress"]) == 2


def test_second_load_needs_replace(databases: DatabaseFactory) -> None:
    url = databases.copy("migrated")
    args = ["--scale", str(SCALE), "--database-url", url, "--no-progress"]
    assert main(args) == 0
    assert main(args) == 2
    assert main([*args, "--replace", "--seed", "9"]) == 0
    engine = make_engine(url)
    sources = _count(engine, "SELECT COUNT(*) FROM sources")
    assert sources == 1
    with engine.connect() as conn:
        quote = conn.execute(select(_table(Source).c.text)).scalar_one()
    assert "seed 9" in quote
    engine.dispose()


def test_a_second_load_waits_for_the_first(databases: DatabaseFactory) -> None:
    """Two runs at once both found the database empty, took the same ids, and one ended in
    a unique violation's traceback. The second waits for the first (as `migrate` and
    `seed` do), then finds its data: refused without --replace."""
    url = databases.copy("migrated")
    engine = make_engine(url)
    exit_codes: list[int] = []
    second = threading.Thread(
        target=lambda: exit_codes.append(
            main(["--scale", str(SCALE), "--database-url", url, "--no-progress"])
        )
    )
    with preparing(engine):  # held by the first run
        second.start()
        second.join(timeout=1)
        assert second.is_alive()
        run_synth(engine, scale=SCALE, seed=7, rules=RiskRules(), progress=False)
    second.join()
    assert exit_codes == [2]
    assert _count(engine, "SELECT COUNT(*) FROM sources") == 1
    engine.dispose()


def test_refuses_the_implicit_default_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env to read a DATABASE_URL from
    assert main(["--scale", str(SCALE), "--no-progress"]) == 2


def test_real_articles_are_never_loaded_beside_synthetic_data(databases: DatabaseFactory) -> None:
    engine = make_engine(databases.copy("migrated"))
    run_synth(engine, scale=0.001, seed=7, rules=RiskRules(), progress=False)
    with pytest.raises(ImportRejected, match="synthetic"):
        load_seed(engine, REPO_ROOT / "seed", RiskRules())
    engine.dispose()


def test_a_server_starts_on_synthetic_data_without_the_seed(
    databases: DatabaseFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve` migrates and loads the seed first: on a synthetic database it stopped there
    (the loader refuses real articles beside generated ones), and only --no-prepare, which
    skips the migrations too, started it. `seed` itself still refuses."""
    url = databases.copy("migrated")
    engine = make_engine(url)
    run_synth(engine, scale=0.001, seed=7, rules=RiskRules(), progress=False)
    sources = _count(engine, "SELECT COUNT(*) FROM sources")
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli._prepare(serving=True) == 0
    assert "the seed is not loaded" in capsys.readouterr().out
    with pytest.raises(ImportRejected, match="synthetic"):
        cli.cmd_seed(argparse.Namespace())
    engine = make_engine(url)
    assert _count(engine, "SELECT COUNT(*) FROM sources") == sources
    engine.dispose()
