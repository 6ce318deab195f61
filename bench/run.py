"""Benchmark the real server, against the framework floor and Datasette, with wrk.

    .venv/bin/python bench/run.py --scales seed,0.1,1.0 --databases sqlite,postgresql

Server processes run pinned to CPU 0, wrk and this harness to CPU 1. See bench/README.md.
"""

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from zlib_ng import zlib_ng

from app.cli import SERVER_LOOP
from app.services.text import fold
from bench import targets
from bench.databases import Postgres, Target, prepare
from bench.servers import REPO, VENV_BIN, RssSampler, Server, free_port, serve
from bench.wrk import WrkResult, require_wrk, run_wrk


# -- What is measured: adjust here ------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    name: str
    # Placeholders, filled from the API itself at run time: {branch} (an at-risk branch's
    # id), {province} (its province's id), {q} (a commune's name), {deep} (the URL of page
    # DEEP_PAGES of the first list, found by following its next links).
    path: str
    # The nearest Datasette query on the same SQLite file ({db}, {province}, {q_folded},
    # {deep_after}: the id before the first row of the deep page), or None. _nosuggest:
    # Datasette 0.65 otherwise runs a facet suggestion query per column on every table
    # page, work the API does not do; its filtered row count is kept, like our `total`.
    # The branches at risk are branch_status's rows at risk, which hold the very items
    # the API serves: the same rows, the same JSON, sorted by the same key.
    datasette: str | None = None
    # Sent as Accept-Encoding; wrk sends none, and is then sent every body uncompressed.
    accept_encoding: str | None = None


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("health (no database)", "/health"),
    Endpoint(
        "branches at risk, first page",
        "/branches?risk=true&limit=50",
        "/{db}/branch_status.json?risk_rank__gte=2&_size=50&_nosuggest=1",
    ),
    Endpoint(
        "branches at risk, page 1,000",
        "{deep}",
        "/{db}/branch_status.json?risk_rank__gte=2&_size=50&_next={deep_after}&_nosuggest=1",
    ),
    Endpoint(
        "branches of a province",
        "/branches?province={province}&limit=50",
        "/{db}/branches.json?province_id={province}&_size=50&_nosuggest=1",
    ),
    Endpoint(
        "branches at risk of a province",
        "/branches?province={province}&risk=true&limit=50",
        "/{db}/branch_status.json?province_id={province}&risk_rank__gte=2&_size=50&_nosuggest=1",
    ),
    Endpoint(
        "locality search",
        "/localities?q={q}&limit=50",
        "/{db}/localities.json?search_key__contains={q_folded}&_size=50&_nosuggest=1",
    ),
    # As browsers ask: the page compressed (a kept one is compressed once and kept so).
    Endpoint(
        "branches of a province, gzip",
        "/branches?province={province}&limit=50",
        accept_encoding="gzip",
    ),
    # A province's page in another order than the default (migration 0014's indexes).
    Endpoint(
        "branches of a province, by members",
        "/branches?province={province}&sort=-members&limit=50",
        "/{db}/branch_status.json?province_id={province}&_sort_desc=members_sort&_size=50"
        "&_nosuggest=1",
    ),
    Endpoint("one branch", "/branches/{branch}"),
    Endpoint("locality stats (the province)", "/localities/{province}/stats"),
    Endpoint("province CSV (500 rows)", "/branches?province={province}&format=csv&limit=500"),
)
FLOOR = Endpoint("framework floor (FastAPI, no db)", "/ping")
FIRST_LIST = "/branches?risk=true&limit=50"  # the list walked for {deep}
DEEP_PAGES = 1000
MIN_DEEP_PAGES = 100  # a shorter list has no deep page: reported n/a
CSV_STREAM = "/membership-counts?format=csv"  # streamed once, at the largest scale


# -- Results ------------------------------------------------------------------------------------
@dataclass
class Measurement:
    database: str  # sqlite or postgresql (a floor: the block it was measured for)
    scale: str
    server: str  # branchstats, datasette, floor
    endpoint: str
    url: str | None
    status: str  # ok, missing (404), n/a (not applicable here), failed
    wrk: WrkResult | None = None
    rss_max_kb: int | None = None
    note: str = ""
    # The machine's 1-minute load average after the run: above ~2 on two CPUs, something
    # else was competing with the server or wrk.
    loadavg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["wrk"] = self.wrk.as_dict() if self.wrk else None
        return data


@dataclass
class Config:
    duration_s: float
    warmup_s: float
    connections: int
    threads: int
    server_cpu: str
    load_cpu: str
    deep_pages: int
    log_dir: Path


@dataclass
class Run:
    config: Config
    # The floor measured right before and right after each database's scale (its block
    # of rows), by (database, scale): that block's rows are judged against the faster
    # reading (targets.block_floor). Each block's readings by when: "before", "after".
    floors: dict[tuple[str, str], dict[str, Measurement]] = field(default_factory=dict)
    rows: list[Measurement] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failures(self) -> list[Measurement]:
        return [m for m in self.rows if m.status == "failed"]


# -- Measuring one URL ------------------------------------------------------------------------
def _preflight(url: str) -> tuple[str, str]:
    """One plain GET first: a 404 is 'missing', any other non-2xx (redirects too) a failure."""
    try:
        response = httpx.get(url, timeout=60, follow_redirects=False)
    except httpx.HTTPError as exc:
        return "failed", f"{exc.__class__.__name__}: {exc}"
    if response.status_code == 404:
        return "missing", "404"
    if not 200 <= response.status_code < 300:
        return "failed", f"{response.status_code}: {response.text[:200]}"
    return "ok", ""


def _wrk(url: str, seconds: float, cfg: Config, accept_encoding: str | None) -> WrkResult:
    return run_wrk(
        url,
        duration_s=seconds,
        connections=cfg.connections,
        threads=cfg.threads,
        cpu=cfg.load_cpu,
        headers={"Accept-Encoding": accept_encoding} if accept_encoding else {},
    )


def measure(
    server: Server,
    endpoint: str,
    path: str,
    cfg: Config,
    *,
    database: str,
    scale: str,
    accept_encoding: str | None = None,
) -> Measurement:
    url = server.base_url + path
    row = Measurement(database, scale, server.name, endpoint, path, "ok")
    row.status, row.note = _preflight(url)
    if row.status != "ok":
        return row
    try:
        if cfg.warmup_s > 0:
            _wrk(url, cfg.warmup_s, cfg, accept_encoding)
        with RssSampler(server.pid) as rss:
            row.wrk = _wrk(url, cfg.duration_s, cfg, accept_encoding)
    except (RuntimeError, ValueError) as exc:  # wrk could not run, e.g. the server died
        row.status, row.note = "failed", str(exc).splitlines()[0]
        return row
    row.rss_max_kb = rss.max_kb
    row.loadavg = round(os.getloadavg()[0], 2)
    errors = row.wrk.non_2xx + sum(
        n for kind, n in row.wrk.socket_errors.items() if kind != "timeout"
    )
    if errors or row.wrk.socket_errors["timeout"]:
        row.status = "failed"
        row.note = f"{row.wrk.non_2xx} non-2xx, socket errors {row.wrk.socket_errors}"
    elif row.wrk.requests == 0:
        row.status = "failed"
        row.note = f"no request completed in {cfg.duration_s:g} s"
    return row


def _show(row: Measurement) -> None:
    if row.wrk and row.status == "ok":
        w = row.wrk
        detail = f"{w.rps:10.1f} req/s  p50 {w.p50_ms:8.2f} ms  p99 {w.p99_ms:8.2f} ms"
    else:
        detail = row.status.upper() + (f" ({row.note})" if row.note else "")
    print(f"  {row.server:<11} {row.endpoint:<34} {detail}", flush=True)
    if row.status == "failed":
        print(f"  !!! FAILED: {row.endpoint} at {row.url}: {row.note}", file=sys.stderr)


# -- Finding ids and terms from the API itself ----------------------------------------------
def _get_json(client: httpx.Client, path: str) -> dict[str, Any] | None:
    try:
        response = client.get(path)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    return body if isinstance(body, dict) else None


def _first_item(client: httpx.Client, *paths: str) -> dict[str, Any] | None:
    for path in paths:
        body = _get_json(client, path)
        if body and body.get("items"):
            item = body["items"][0]
            return item if isinstance(item, dict) else None
    return None


def _next_link(response: httpx.Response) -> str | None:
    """The next page: `next` in the body, else a Link rel="next" header."""
    body = response.json()
    if isinstance(body, dict) and body.get("next"):
        return str(body["next"])
    link = response.links.get("next")
    return link["url"] if link else None


def _walk(client: httpx.Client, first: str, pages: int) -> tuple[int, str | None, int | None]:
    """Follow next links up to page `pages`: (pages seen, URL of the last page seen, first
    id on it)."""
    path: str | None = first
    seen, last, first_id = 0, None, None
    while path is not None and seen < pages:
        response = client.get(path)
        if response.status_code != 200:
            break
        seen, last = seen + 1, path
        items = response.json().get("items") or [{}]
        first_id = items[0].get("id")
        path = _next_link(response)
    return seen, last, first_id


def _province_of(item: dict[str, Any]) -> int | None:
    today = item.get("today") or {}
    province = today.get("province") or {}
    return province.get("id")


def discover(base_url: str, deep_pages: int) -> tuple[dict[str, str], dict[str, str]]:
    """Ids and a search term for the endpoint placeholders, and why any is missing."""
    values: dict[str, str] = {}
    notes: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        branch = _first_item(client, "/branches?risk=true&limit=1", "/branches?limit=1")
        if branch:
            values["branch"] = str(branch["id"])
        province = (_province_of(branch) if branch else None) or (
            _first_item(client, "/localities?kind=province&limit=1") or {}
        ).get("id")
        if province:
            values["province"] = str(province)
        commune = _first_item(client, "/localities?kind=commune&limit=1")
        if commune:
            values["q"] = str(commune.get("name"))
        seen, deep, first_id = _walk(client, FIRST_LIST, deep_pages)
        # A shorter list is still measured at its last page when that is deep enough to
        # mean something (scale 1.0 has ~600 pages at risk); the note gives the depth.
        if deep and first_id and seen >= min(deep_pages, MIN_DEEP_PAGES):
            values["deep"] = deep
            values["deep_after"] = str(int(first_id) - 1)
            if seen < deep_pages:
                notes["deep_depth"] = f"page {seen}, the last"
        else:
            notes["deep"] = f"only {seen} pages"
    return values, notes


def discover_datasette(base_url: str, db: str) -> dict[str, str]:
    """Fallbacks from Datasette itself, for when the API does not answer yet."""
    values: dict[str, str] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for kind, key in (("province", "province"), ("commune", "q")):
            body = _get_json(client, f"/{db}/localities.json?kind={kind}&_size=1&_shape=objects")
            rows = (body or {}).get("rows") or []
            if rows:
                values[key] = str(rows[0]["id"] if key == "province" else rows[0]["name"])
    return values


def _missing(template: str, notes: dict[str, str]) -> str:
    """Why a path could not be filled: the deep page's depth, else a missing value."""
    if "{deep" in template and "deep" in notes:
        return notes["deep"]
    return "no value to fill it with (the API did not answer)"


def fill(template: str, values: dict[str, str]) -> str | None:
    """The path with its placeholders filled (URL-encoded), or None when one is unknown."""
    encoded = {k: v if k == "deep" else quote(v, safe="") for k, v in values.items()}
    if "q" in values:
        encoded["q_folded"] = quote(fold(values["q"]), safe="")
    try:
        return template.format(**encoded)
    except KeyError:
        return None


# -- Servers ------------------------------------------------------------------------------------
def _uvicorn_argv(app: str, port: int) -> list[str]:
    """The floor app with the flags `branchstats serve` passes to uvicorn.run."""
    return [
        str(VENV_BIN / "python"), "-m", "uvicorn", app, "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--log-level", "info", "--proxy-headers",
        "--no-server-header", "--no-access-log", "--loop", SERVER_LOOP,
    ]  # fmt: skip


def bench_floor(run: Run, database: str, scale: str, when: str) -> None:
    """The framework floor, measured again `when` ("before", "after") each block of rows.

    This VM's speed drifts within a run: measured once at the start of the run of
    2026-12-05 12:24, the floor read 11,156 req/s, below the server's own `/health` in the
    same run (11,797-13,210), and every ratio of the run moved with that one moment. Each
    block is judged against the floor of its own minutes, read at both ends of them.
    """
    cfg = run.config
    port = free_port()
    print(f"framework floor, {when} {database} at scale {scale}", flush=True)
    with serve(
        "floor", _uvicorn_argv("bench.floor_app:app", port), port=port,
        ready_path="/ping", cpu=cfg.server_cpu, log_dir=cfg.log_dir,
    ) as server:  # fmt: skip
        floor = measure(server, FLOOR.name, FLOOR.path, cfg, database=database, scale=scale)
    run.floors.setdefault((database, scale), {})[when] = floor
    _show(floor)


def api_server(
    target: Target, cfg: Config, *, keep_answers: bool = True
) -> AbstractContextManager[Server]:
    """`branchstats serve` as an operator runs it, on the target database."""
    port = free_port()
    argv = [
        str(VENV_BIN / "branchstats"), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--no-prepare",
    ]  # fmt: skip
    env = {"DATABASE_URL": target.url} | ({} if keep_answers else {"ANSWER_CACHE_MB": "0"})
    name = f"branchstats-{target.backend}-{target.scale}" + ("" if keep_answers else "-unkept")
    return serve(
        "branchstats", argv, port=port, ready_path="/ready", cpu=cfg.server_cpu,
        log_dir=cfg.log_dir, env=env, log_name=name,
    )  # fmt: skip


def bench_api(run: Run, target: Target, stream: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Every endpoint of the table against the real server; returns the values found and
    why any is missing."""
    cfg = run.config
    with api_server(target, cfg) as server:
        values, notes = discover(server.base_url, cfg.deep_pages)
        print(f"  parameters: {values or '-'} {notes or ''}", flush=True)
        for endpoint in ENDPOINTS:
            path = fill(endpoint.path, values)
            if path is None:
                note = _missing(endpoint.path, notes)
                row = Measurement(
                    target.backend,
                    target.scale,
                    "branchstats",
                    endpoint.name,
                    None,
                    "n/a",
                    note=note,
                )
            else:
                row = measure(
                    server, endpoint.name, path, cfg, database=target.backend,
                    scale=target.scale, accept_encoding=endpoint.accept_encoding,
                )  # fmt: skip
                if "{deep}" in endpoint.path and "deep_depth" in notes:
                    row.note = notes["deep_depth"]
            run.rows.append(row)
            _show(row)
        if stream:
            for encoding in ("identity", "gzip"):
                run.streams.append(stream_csv(server, target, encoding))
    # The kept answers (ANSWER_CACHE_MB) serve a page or a detail asked again without
    # building it: each row that reads the database is measured again on a server that
    # keeps none.
    with api_server(target, cfg, keep_answers=False) as server:
        for endpoint in ENDPOINTS:
            path = fill(endpoint.path, values)
            if endpoint.path != "/health" and path is not None:
                row = measure(
                    server, endpoint.name + targets.BUILT_SUFFIX, path, cfg,
                    database=target.backend, scale=target.scale,
                    accept_encoding=endpoint.accept_encoding,
                )  # fmt: skip
                run.rows.append(row)
                _show(row)
    return values, notes


def bench_datasette(
    run: Run, target: Target, values: dict[str, str], notes: dict[str, str]
) -> None:
    cfg = run.config
    assert target.sqlite_path is not None
    db = target.sqlite_path.stem
    port = free_port()
    argv = [
        str(VENV_BIN / "datasette"), "serve", str(target.sqlite_path), "--port", str(port),
        "--setting", "sql_time_limit_ms", "5000", "-h", "127.0.0.1",
    ]  # fmt: skip
    with serve(
        "datasette", argv, port=port, ready_path="/-/versions.json",
        cpu=cfg.server_cpu, log_dir=cfg.log_dir, log_name=f"datasette-{target.scale}",
    ) as server:  # fmt: skip
        merged = {**discover_datasette(server.base_url, db), **values, "db": db}
        for endpoint in ENDPOINTS:
            if endpoint.datasette is None:
                continue
            path = fill(endpoint.datasette, merged)
            if path is None:
                row = Measurement(
                    target.backend, target.scale, "datasette", endpoint.name, None, "n/a",
                    note=_missing(endpoint.path, notes),
                )  # fmt: skip
            else:
                row = measure(
                    server, endpoint.name, path, cfg, database=target.backend,
                    scale=target.scale, accept_encoding=endpoint.accept_encoding,
                )  # fmt: skip
            run.rows.append(row)
            _show(row)


def stream_csv(server: Server, target: Target, encoding: str) -> dict[str, Any]:
    """Stream the whole membership_counts export: rows/s and the server's memory.

    `encoding` is the Accept-Encoding sent: identity (as curl sends by default) or gzip
    (as browsers and httpx do; the server then compresses the stream as it goes).

    The client reads the body raw in 1 MiB pieces and inflates gzip itself: httpx's
    iter_bytes (small pieces, decoded in its own layers) held this client to ~85,000
    rows/s identity and ~73,000 gzip at scale 1.0 on SQLite, while curl read the same
    stream at ~150,000 and ~117,000: the figure was the client's, not the server's. It
    inflates with zlib-ng, as the server compresses, for the same reason: in one sitting
    (2026-12-04, scale 1.0, SQLite) two reads with zlib made 109,000 and 117,000 rows/s,
    one with zlib-ng 128,000 (reads of this stream vary by up to a fifth).
    """
    url = server.base_url + CSV_STREAM
    result: dict[str, Any] = {
        "database": target.backend,
        "scale": target.scale,
        "url": CSV_STREAM,
        "encoding": encoding,
    }
    result["rss_before_kb"] = server.rss_kb()
    started = time.perf_counter()
    lines = size = 0
    headers = {"Accept-Encoding": encoding}
    with (
        RssSampler(server.pid) as rss,
        httpx.stream("GET", url, timeout=None, headers=headers) as response,
    ):
        result["status_code"] = response.status_code
        gzipped = response.headers.get("content-encoding") == "gzip"
        inflate = zlib_ng.decompressobj(wbits=zlib_ng.MAX_WBITS | 16) if gzipped else None
        for piece in response.iter_raw(1 << 20):
            chunk = inflate.decompress(piece) if inflate else piece
            lines += chunk.count(b"\n")
            size += len(chunk)
    seconds = time.perf_counter() - started
    rows = max(0, lines - 1)  # the header line
    result.update(
        rows=rows,
        megabytes=round(size / 1e6, 1),
        seconds=round(seconds, 2),
        rows_per_s=round(rows / seconds) if seconds else None,
        rss_max_kb=rss.max_kb,
        rss_after_kb=server.rss_kb(),
    )
    status = "ok" if result["status_code"] == 200 else f"FAILED ({result['status_code']})"
    print(
        f"  CSV stream {CSV_STREAM} ({encoding}): {status}, {rows:,} rows in {seconds:.1f} s "
        f"({result['rows_per_s'] or 0:,} rows/s); RSS {result['rss_before_kb'] // 1024} -> "
        f"max {rss.max_kb // 1024} -> {result['rss_after_kb'] // 1024} MB",
        flush=True,
    )
    return result


# -- Reporting --------------------------------------------------------------------------------
def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}" if value and base else ""


def _cells(
    row: Measurement, floor_rps: float | None, datasette_rps: float | None, prefix: str = ""
) -> str:
    name = prefix + row.endpoint + (f" ({row.note})" if row.status == "ok" and row.note else "")
    if row.status != "ok" or row.wrk is None:
        short = row.note if len(row.note) <= 60 else row.note[:57] + "..."  # the JSON has it all
        note = f" ({short})" if row.status in ("n/a", "failed") and row.note else ""
        return f"| {name} | {row.status}{note} | | | | | |"
    w = row.wrk
    return (
        f"| {name} | {w.rps:,.0f} | {w.p50_ms:.2f} | {w.p99_ms:.2f} | "
        f"{_ratio(w.rps, floor_rps)} | {_ratio(w.rps, datasette_rps)} | {row.loadavg or ''} |"
    )


def _floor_readings(floors: dict[str, Measurement]) -> list[WrkResult]:
    return [
        floor.wrk for floor in floors.values() if floor.status == "ok" and floor.wrk is not None
    ]


def _floor_rps(floors: dict[str, Measurement]) -> float | None:
    floor = targets.block_floor(_floor_readings(floors))
    return floor.rps if floor else None


def _floor_cell(floors: dict[str, Measurement], when: str) -> str:
    reading = floors.get(when)
    if reading is None:
        return ""
    w = reading.wrk if reading.status == "ok" else None
    return f"{w.rps:,.0f} ({w.p99_ms:.2f} ms p99)" if w else reading.status


def markdown(run: Run) -> str:
    header = (
        "| endpoint | req/s | p50 ms | p99 ms | × floor | × Datasette | load |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    out: list[str] = []
    if run.floors:
        out += [
            "### Framework floor, measured before and after each block",
            "| block | before, req/s | after, req/s | judged against |",
            "|---|---:|---:|---:|",
        ]
        for (database, scale), floors in run.floors.items():
            judged = _floor_rps(floors)
            out.append(
                f"| {database}, scale {scale} | {_floor_cell(floors, 'before')} | "
                f"{_floor_cell(floors, 'after')} | {f'{judged:,.0f}' if judged else 'none'} |"
            )
        out.append("")
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for row in run.rows:
        groups.setdefault((row.database, row.scale), []).append(row)
    datasette_by_scale = {
        (r.scale, r.endpoint): r.wrk.rps
        for r in run.rows
        if r.server == "datasette" and r.wrk and r.status == "ok"
    }
    for (database, scale), rows in groups.items():
        floor_rps = _floor_rps(run.floors.get((database, scale), {}))
        floor_note = f" (floor {floor_rps:,.0f} req/s)" if floor_rps else " (no floor)"
        out += [f"### {database}, scale {scale}{floor_note}", header]
        for row in rows:
            if row.server == "datasette":
                continue
            query = row.endpoint.removesuffix(targets.BUILT_SUFFIX)
            out.append(_cells(row, floor_rps, datasette_by_scale.get((scale, query))))
        for row in rows:
            if row.server == "datasette":
                out.append(_cells(row, floor_rps, None, prefix="Datasette: "))
        out.append("")
        out.append(_rss_line(rows))
        out.append("")
    if run.streams:
        out += [
            "### CSV export stream (`/membership-counts?format=csv`)",
            "| database | scale | encoding | rows | MB | seconds | rows/s "
            "| RSS before / max / after MB |",
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        for s in run.streams:
            out.append(
                f"| {s['database']} | {s['scale']} | {s['encoding']} | {s['rows']:,} | "
                f"{s['megabytes']} | "
                f"{s['seconds']} | {s['rows_per_s'] or 0:,} | {s['rss_before_kb'] // 1024} / "
                f"{s['rss_max_kb'] // 1024} / {s['rss_after_kb'] // 1024} |"
            )
        out.append("")
    readings = {block: _floor_readings(floors) for block, floors in run.floors.items()}
    out += [
        "### Targets of issue 7",
        targets.markdown(targets.checks(run.rows, readings, run.streams)),
    ]
    return "\n".join(out)


def _rss_line(rows: list[Measurement]) -> str:
    parts = []
    for server in ("branchstats", "datasette"):
        peaks = [r.rss_max_kb for r in rows if r.server == server and r.rss_max_kb]
        if peaks:
            parts.append(f"{server} {max(peaks) / 1024:.0f} MB")
    return "Server RSS under load (max): " + (", ".join(parts) or "-")


def environment() -> dict[str, Any]:
    def output(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
        except FileNotFoundError:
            return ""
        # `wrk --version` prints its version and exits 1: take the first line either way.
        lines = (done.stdout or done.stderr).strip().splitlines()
        return lines[0] if lines else ""

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": output("wrk", "--version"),
        "datasette": output(str(VENV_BIN / "datasette"), "--version"),
        "commit": output("git", "rev-parse", "--short", "HEAD"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


# -- The run --------------------------------------------------------------------------------------
def _scale_order(scale: str) -> float:
    return 0.0 if scale == "seed" else float(scale)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="seed,0.1", help="seed and/or synth scales.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=10.0, help="Seconds per endpoint.")
    parser.add_argument("--warmup", type=float, default=2.0, help="Seconds of warm-up, unmeasured.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--deep-pages", type=int, default=DEEP_PAGES)
    parser.add_argument("--seed", type=int, default=42, help="The synth seed.")
    parser.add_argument("--rebuild", action="store_true", help="Ignore cached databases.")
    parser.add_argument("--no-datasette", action="store_true")
    return parser.parse_args(argv)


def _datasette_available() -> bool:
    if (VENV_BIN / "datasette").exists():
        return True
    print(
        "Datasette is not installed: .venv/bin/pip install datasette (comparison skipped)",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    require_wrk()
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results = REPO / "bench" / "results"
    cfg = Config(
        args.duration, args.warmup, args.connections, args.threads, args.server_cpu,
        args.load_cpu, args.deep_pages, results / "logs" / stamp,
    )  # fmt: skip
    scales = sorted(args.scales.split(","), key=_scale_order)
    backends = args.databases.split(",")
    with_datasette = not args.no_datasette and "sqlite" in backends and _datasette_available()
    run = Run(cfg)
    env = environment()
    pg = Postgres(int(cfg.server_cpu)) if "postgresql" in backends else None
    # The harness is load, not server: it shares the wrk CPU (after PostgreSQL started,
    # which would otherwise inherit this affinity).
    os.sched_setaffinity(0, {int(cfg.load_cpu)})
    try:
        for backend in backends:
            for scale in scales:
                print(f"{backend}, scale {scale}: preparing the database", flush=True)
                target = prepare(backend, scale, pg=pg, seed=args.seed, rebuild=args.rebuild)
                bench_floor(run, backend, scale, "before")
                run.targets.append({**asdict(target), "sqlite_path": str(target.sqlite_path)})
                values, notes = bench_api(run, target, stream=scale == scales[-1])
                if with_datasette and backend == "sqlite":
                    bench_datasette(run, target, values, notes)
                bench_floor(run, backend, scale, "after")
    finally:
        if pg is not None:
            pg.close()
    table = markdown(run)
    print("\n" + table)
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{stamp}.json"
    payload = {
        "started": started.isoformat(),
        "args": vars(args),
        "environment": env,
        "floors": [
            {**floor.as_dict(), "when": when}
            for floors in run.floors.values()
            for when, floor in floors.items()
        ],
        "targets": run.targets,
        "rows": [row.as_dict() for row in run.rows],
        "streams": run.streams,
        "markdown": table,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nresults: {path.relative_to(REPO)}")
    if run.failures:
        names = ", ".join(f"{r.database} {r.scale} {r.endpoint}" for r in run.failures)
        print(f"\n!!! {len(run.failures)} FAILED: {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
