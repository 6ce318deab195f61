"""The targets of issue 7, checked against a run's figures: each met, not met, or not
measured in this run (a scale or a database left out, a row that failed)."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.wrk import WrkResult

LISTS = (
    "branches at risk, first page",
    "branches at risk, page 1,000",
    "branches of a province",
    "branches at risk of a province",
    "locality search",
)
DETAILS = ("one branch", "locality stats (the province)")
# Every row again, on a server that keeps no answers (ANSWER_CACHE_MB=0): what a page or a
# detail costs the first time it is asked. The rows above measure one asked again and
# again, which the server keeps. The comparisons with Datasette, which keeps nothing, and
# those of p99 as the data grows, which only a build's work can show, are on these.
BUILT_SUFFIX = ", built each time"
LISTS_BUILT = tuple(name + BUILT_SUFFIX for name in LISTS)
DETAILS_BUILT = tuple(name + BUILT_SUFFIX for name in DETAILS)
FIRST_PAGE, DEEP_PAGE = LISTS_BUILT[0], LISTS_BUILT[1]
# Share of the framework floor's req/s, per database (issue 7, point 3).
LIST_SHARE = {"sqlite": 0.15, "postgresql": 0.12}
DETAIL_SHARE = 0.25
DATASETTE_TIMES = 2.0
FLAT = 1.2  # p99 at the largest scale against seed's (and the scale below), a deep page
# against the first
RSS_LIMIT_MB = 250
STREAM_ROWS_PER_S = 100_000
# "Flat memory": the server's RSS while it streams the whole export, above its RSS before
# (3-20 MB in the runs of December 2026); a server that held the rows would grow by GBs.
STREAM_GROWTH_MB = 50


class Row(Protocol):
    database: str
    scale: str
    server: str
    endpoint: str
    status: str
    wrk: WrkResult | None
    rss_max_kb: int | None


@dataclass(frozen=True)
class Check:
    target: str
    database: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**not met**", None: "not measured"}[self.met]


def _scale_order(scale: str) -> float:
    return 0.0 if scale == "seed" else float(scale)


def _ok(rows: Iterable[Row], server: str, database: str, scale: str) -> dict[str, WrkResult]:
    return {
        r.endpoint: r.wrk
        for r in rows
        if r.server == server and r.database == database and r.scale == scale
        and r.status == "ok" and r.wrk is not None
    }  # fmt: skip


def block_floor(readings: Iterable[WrkResult]) -> WrkResult | None:
    """The floor a block of rows is judged against: the fastest of the readings taken
    around it (before and after). The machine's speed drifts within a block; a share
    "met" holds against every reading of its minutes, not only against a slow one."""
    return max(readings, key=lambda reading: reading.rps, default=None)


def checks(
    rows: Sequence[Row],
    floors: Mapping[tuple[str, str], Sequence[WrkResult]],
    streams: list[dict[str, Any]],
) -> Iterator[Check]:
    """Every target, for each database, at the largest scale of the run; shares of the
    floor against the floor readings taken around that block (`floors`, by database and
    scale: block_floor)."""
    for database in sorted({r.database for r in rows if r.server == "branchstats"}):
        scales = sorted({r.scale for r in rows if r.database == database}, key=_scale_order)
        largest = scales[-1]
        floor = block_floor(floors.get((database, largest), ()))
        ours = _ok(rows, "branchstats", database, largest)
        datasette = _ok(rows, "datasette", database, largest)
        seed = _ok(rows, "branchstats", database, "seed") if "seed" in scales else {}
        at = f"scale {largest}"
        list_share = LIST_SHARE[database]
        yield from _shares(database, at, ours, floor, LISTS, list_share, "list")
        yield from _shares(database, at, ours, floor, LISTS_BUILT, list_share, "list")
        yield from _shares(database, at, ours, floor, DETAILS, DETAIL_SHARE, "detail")
        yield from _shares(database, at, ours, floor, DETAILS_BUILT, DETAIL_SHARE, "detail")
        if database == "sqlite":
            for name, built in zip(LISTS, LISTS_BUILT, strict=True):
                mine, theirs = ours.get(built), datasette.get(name)
                yield Check(
                    f"{built}: ≥ {DATASETTE_TIMES:g}× Datasette ({at})",
                    database,
                    f"{mine.rps / theirs.rps:.2f}×" if mine and theirs else "",
                    mine.rps >= DATASETTE_TIMES * theirs.rps if mine and theirs else None,
                )
        for name in LISTS_BUILT:
            big, small = ours.get(name), seed.get(name)
            yield Check(
                f"{name}: p99 at {largest} ≤ {FLAT:g}× seed's",
                database,
                f"{big.p99_ms:.1f} / {small.p99_ms:.1f} ms" if big and small else "",
                big.p99_ms <= FLAT * small.p99_ms if big and small else None,
            )
        # Beside the comparison with the seed, whose pages hold a few rows (its
        # page at risk is 4 KB, 78 KB at scale 1.0): the next smaller synthetic scale,
        # whose pages are as full, so that only the data's size differs.
        synthetic = [s for s in scales if s not in ("seed", largest)]
        if synthetic:
            below = _ok(rows, "branchstats", database, synthetic[-1])
            for name in LISTS_BUILT:
                big, small = ours.get(name), below.get(name)
                yield Check(
                    f"{name}: p99 at {largest} ≤ {FLAT:g}× {synthetic[-1]}'s (pages as full)",
                    database,
                    f"{big.p99_ms:.1f} / {small.p99_ms:.1f} ms" if big and small else "",
                    big.p99_ms <= FLAT * small.p99_ms if big and small else None,
                )
        first, deep = ours.get(FIRST_PAGE), ours.get(DEEP_PAGE)
        yield Check(
            f"deep page p99 ≤ {FLAT:g}× the first page's ({at})",
            database,
            f"{deep.p99_ms:.1f} / {first.p99_ms:.1f} ms" if first and deep else "",
            deep.p99_ms <= FLAT * first.p99_ms if first and deep else None,
        )
        peaks = [
            r.rss_max_kb
            for r in rows
            if r.server == "branchstats" and r.database == database and r.scale == largest
            and r.rss_max_kb
        ]  # fmt: skip
        peak_mb = max(peaks) / 1024 if peaks else None
        yield Check(
            f"server RSS under load < {RSS_LIMIT_MB} MB ({at})",
            database,
            f"{peak_mb:.0f} MB" if peak_mb else "",
            peak_mb < RSS_LIMIT_MB if peak_mb else None,
        )
        for stream in (s for s in streams if s["database"] == database):
            rate = stream.get("rows_per_s") or 0
            sent = stream["status_code"] == 200
            of = f"({stream['encoding']}, scale {stream['scale']})"
            yield Check(
                f"whole CSV export ≥ {STREAM_ROWS_PER_S:,} rows/s {of}",
                database,
                f"{rate:,} rows/s",
                rate >= STREAM_ROWS_PER_S and sent,
            )
            before, peak = stream.get("rss_before_kb"), stream.get("rss_max_kb")
            growth_mb = (peak - before) / 1024 if before and peak else None
            yield Check(
                f"whole CSV export in flat memory: RSS growth < {STREAM_GROWTH_MB} MB {of}",
                database,
                f"RSS {before // 1024} -> {peak // 1024} MB" if before and peak else "",
                growth_mb < STREAM_GROWTH_MB and sent if growth_mb is not None else None,
            )


def _shares(
    database: str,
    at: str,
    ours: dict[str, WrkResult],
    floor: WrkResult | None,
    names: tuple[str, ...],
    share: float,
    kind: str,
) -> Iterator[Check]:
    for name in names:
        mine = ours.get(name)
        yield Check(
            f"{name}: ≥ {share:g} of the floor ({kind}, {at})",
            database,
            f"{mine.rps / floor.rps:.3f} ({mine.rps:,.0f} req/s)" if mine and floor else "",
            mine.rps >= share * floor.rps if mine and floor else None,
        )


def markdown(found: Iterable[Check]) -> str:
    lines = ["| target | database | measured | |", "|---|---|---|---|"]
    lines += [f"| {c.target} | {c.database} | {c.measured} | {c.verdict} |" for c in found]
    return "\n".join(lines)
