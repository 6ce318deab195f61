"""The benchmark's verdicts on the targets of issue 7 (bench/targets.py), on made-up runs."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run import FLOOR as FLOOR_ENDPOINT
from bench.run import Config, Measurement, Run, markdown
from bench.targets import Check, checks
from bench.wrk import WrkResult


def _wrk(rps: float, p99_ms: float) -> WrkResult:
    return WrkResult(int(rps * 10), 10.0, rps, p99_ms / 2, p99_ms, 0, {"timeout": 0})


@dataclass
class Row:
    database: str
    scale: str
    server: str
    endpoint: str
    wrk: WrkResult | None
    status: str = "ok"
    rss_max_kb: int | None = field(default=100 * 1024)


FLOOR = _wrk(6000, 10)
FLOORS = {("sqlite", "1.0"): [FLOOR]}


def _by_target(found: list[Check], database: str) -> dict[str, Check]:
    return {c.target: c for c in found if c.database == database}


BUILT = ", built each time"


def _run(overrides: dict[tuple[str, str, str], dict[str, Any]] | None = None) -> list[Row]:
    """SQLite at seed and 1.0, every list at 1,600 req/s kept and 1,000 built (1/6 of the
    floor), details at 1,600 and 1,550, Datasette at 400; p99 20 ms at seed, 23 at 1.0,
    15 for a kept page."""
    rows = []
    for scale, p99 in (("seed", 20.0), ("1.0", 23.0)):
        for name in (
            "branches at risk, first page",
            "branches at risk, page 1,000",
            "branches of a province",
            "branches at risk of a province",
            "locality search",
        ):
            rows.append(Row("sqlite", scale, "branchstats", name, _wrk(1600, 15)))
            rows.append(Row("sqlite", scale, "branchstats", name + BUILT, _wrk(1000, p99)))
            rows.append(Row("sqlite", scale, "datasette", name, _wrk(400, 60)))
        for name in ("one branch", "locality stats (the province)"):
            rows.append(Row("sqlite", scale, "branchstats", name, _wrk(1600, p99)))
            rows.append(Row("sqlite", scale, "branchstats", name + BUILT, _wrk(1550, p99)))
    for row in rows:
        for key, value in (overrides or {}).get((row.scale, row.server, row.endpoint), {}).items():
            setattr(row, key, value)
    return rows


def test_a_run_that_meets_every_target() -> None:
    stream = {
        "database": "sqlite", "scale": "1.0", "encoding": "identity", "rows_per_s": 120_000,
        "rss_before_kb": 100 * 1024, "rss_max_kb": 110 * 1024, "status_code": 200,
    }  # fmt: skip
    found = list(checks(_run(), FLOORS, [stream]))
    assert found and all(c.met for c in found), [c for c in found if not c.met]


def test_each_target_is_missed_for_its_own_reason() -> None:
    slow_search = {("1.0", "branchstats", "locality search" + BUILT): {"wrk": _wrk(700, 23.0)}}
    found = _by_target(list(checks(_run(slow_search), FLOORS, [])), "sqlite")
    share = found["locality search, built each time: ≥ 0.15 of the floor (list, scale 1.0)"]
    assert share.met is False and share.measured.startswith("0.117")
    assert found["locality search: ≥ 0.15 of the floor (list, scale 1.0)"].met is True
    assert found["locality search, built each time: ≥ 2× Datasette (scale 1.0)"].met is False
    province = "branches of a province, built each time"
    assert found[f"{province}: ≥ 2× Datasette (scale 1.0)"].met is True

    kept_slow = {("1.0", "branchstats", "locality search"): {"wrk": _wrk(700, 15.0)}}
    found = _by_target(list(checks(_run(kept_slow), FLOORS, [])), "sqlite")
    assert found["locality search: ≥ 0.15 of the floor (list, scale 1.0)"].met is False
    assert found["locality search, built each time: ≥ 2× Datasette (scale 1.0)"].met is True

    steep = {("1.0", "branchstats", "branches of a province" + BUILT): {"wrk": _wrk(1000, 25.0)}}
    found = _by_target(list(checks(_run(steep), FLOORS, [])), "sqlite")
    assert found[f"{province}: p99 at 1.0 ≤ 1.2× seed's"].met is False
    first = "branches at risk, first page, built each time"
    assert found[f"{first}: p99 at 1.0 ≤ 1.2× seed's"].met is True
    deep = {("1.0", "branchstats", "branches at risk, page 1,000" + BUILT): {"wrk": _wrk(900, 30)}}
    found = _by_target(list(checks(_run(deep), FLOORS, [])), "sqlite")
    assert found["deep page p99 ≤ 1.2× the first page's (scale 1.0)"].met is False

    built = {("1.0", "branchstats", "one branch, built each time"): {"wrk": _wrk(900, 23.0)}}
    found = _by_target(list(checks(_run(built), FLOORS, [])), "sqlite")
    assert found["one branch: ≥ 0.25 of the floor (detail, scale 1.0)"].met is True
    unkept = found["one branch, built each time: ≥ 0.25 of the floor (detail, scale 1.0)"]
    assert unkept.met is False and unkept.measured.startswith("0.150")

    heavy = {("1.0", "branchstats", "one branch"): {"rss_max_kb": 300 * 1024}}
    found = _by_target(list(checks(_run(heavy), FLOORS, [])), "sqlite")
    assert found["server RSS under load < 250 MB (scale 1.0)"].met is False


def test_what_was_not_measured_is_said_so() -> None:
    failed = {("1.0", "branchstats", "one branch"): {"status": "failed"}}
    found = _by_target(list(checks(_run(failed), {}, [])), "sqlite")
    assert found["one branch: ≥ 0.25 of the floor (detail, scale 1.0)"].met is None
    assert found["one branch: ≥ 0.25 of the floor (detail, scale 1.0)"].verdict == "not measured"


def test_flatness_is_also_judged_against_the_synthetic_scale_below() -> None:
    """Against 0.1, whose pages are as full as 1.0's: a p99 within 1.2x of it is flat,
    whatever the seed's."""
    rows = _run()
    for name in ("branches of a province", "locality search"):
        rows.append(Row("sqlite", "0.1", "branchstats", name + BUILT, _wrk(1000, 20.0)))
    search = "locality search" + BUILT
    steep = next(r for r in rows if r.scale == "1.0" and r.endpoint == search)
    steep.wrk = _wrk(1000, 30.0)
    found = _by_target(list(checks(rows, FLOORS, [])), "sqlite")
    below = "p99 at 1.0 ≤ 1.2× 0.1's (pages as full)"
    assert found[f"branches of a province{BUILT}: {below}"].met is True
    assert found[f"{search}: {below}"].met is False
    assert found[f"{search}: {below}"].measured == "30.0 / 20.0 ms"
    assert found[f"branches at risk, first page{BUILT}: {below}"].met is None  # not run at 0.1
    assert not any("0.1's" in c.target for c in checks(_run(), FLOORS, []))


def test_each_block_is_judged_against_the_floor_measured_for_it() -> None:
    """A list at 1,000 req/s is 1/6 of a 6,000 floor (met) and 1/8 of an 8,000 one (not
    met): the floor of the block's own minutes decides, not another block's."""
    share = "branches of a province, built each time: ≥ 0.15 of the floor (list, scale 1.0)"
    slower_minutes = {("sqlite", "seed"): [_wrk(8000, 10)], ("sqlite", "1.0"): [FLOOR]}
    assert _by_target(list(checks(_run(), slower_minutes, [])), "sqlite")[share].met is True
    faster_minutes = {("sqlite", "seed"): [FLOOR], ("sqlite", "1.0"): [_wrk(8000, 10)]}
    found = _by_target(list(checks(_run(), faster_minutes, [])), "sqlite")[share]
    assert found.met is False and found.measured.startswith("0.125")
    postgresql_only = {("postgresql", "1.0"): [FLOOR]}
    unmeasured = _by_target(list(checks(_run(), postgresql_only, [])), "sqlite")[share]
    assert unmeasured.met is None


def test_a_block_is_judged_against_the_faster_of_its_floor_readings() -> None:
    """Read at 6,000 before a block and 8,000 after it (or the other way round), the
    floor of the block is 8,000: a list at 1,000 req/s is 1/8 of it, not met, though it
    is 1/6 of the slower reading."""
    share = "branches of a province, built each time: ≥ 0.15 of the floor (list, scale 1.0)"
    for readings in ([FLOOR, _wrk(8000, 10)], [_wrk(8000, 10), FLOOR]):
        found = _by_target(list(checks(_run(), {("sqlite", "1.0"): readings}, [])), "sqlite")
        assert found[share].met is False and found[share].measured.startswith("0.125")


def test_the_printed_tables_give_both_readings_and_leave_out_a_failed_one() -> None:
    """A block whose reading after it failed is judged against the one before it, and
    the table says that the other failed."""
    run = Run(Config(10, 2, 32, 2, "0", "1", 1000, Path("logs")))
    before, after = (
        Measurement("sqlite", "1.0", "floor", FLOOR_ENDPOINT.name, None, "ok", _wrk(6000, 10)),
        Measurement("sqlite", "1.0", "floor", FLOOR_ENDPOINT.name, None, "failed"),
    )
    run.floors[("sqlite", "1.0")] = {"before": before, "after": after}
    run.rows = [
        Measurement(row.database, row.scale, row.server, row.endpoint, None, "ok", row.wrk)
        for row in _run()
    ]
    table = markdown(run)
    assert "| sqlite, scale 1.0 | 6,000 (10.00 ms p99) | failed | 6,000 |" in table
    assert "### sqlite, scale 1.0 (floor 6,000 req/s)" in table
    share = "branches of a province, built each time: ≥ 0.15 of the floor (list, scale 1.0)"
    assert f"| {share} | sqlite | 0.167 (1,000 req/s) | met |" in table


def test_a_whole_export_is_judged_on_its_rate_and_on_its_memory() -> None:
    """ "Flat memory" was in the target's name and not checked: a stream at 120,000 rows/s
    whose server grew by 60 MB was met."""
    stream = {
        "database": "sqlite", "scale": "1.0", "encoding": "identity", "rows_per_s": 120_000,
        "rss_before_kb": 100 * 1024, "rss_max_kb": 160 * 1024, "status_code": 200,
    }  # fmt: skip
    found = _by_target(list(checks(_run(), FLOORS, [stream])), "sqlite")
    rate = found["whole CSV export ≥ 100,000 rows/s (identity, scale 1.0)"]
    memory = found["whole CSV export in flat memory: RSS growth < 50 MB (identity, scale 1.0)"]
    assert rate.met is True and rate.measured == "120,000 rows/s"
    assert memory.met is False and memory.measured == "RSS 100 -> 160 MB"
    flat = {**stream, "rss_max_kb": 121 * 1024}
    found = _by_target(list(checks(_run(), FLOORS, [flat])), "sqlite")
    assert found[memory.target].met is True
    slow = {**flat, "rows_per_s": 90_000}
    found = _by_target(list(checks(_run(), FLOORS, [slow])), "sqlite")
    assert (found[rate.target].met, found[memory.target].met) == (False, True)
