"""Synthetic national data: a Vietnam-sized tree of places and party organizations, with ten
years of membership counts and events, for load tests and benchmarks.

    python -m app.synth --scale 0.01 --seed 42 [--database-url URL] [--replace]

Synthetic data goes in a database of its own (e.g. `sqlite:///data/synth-1.0.sqlite3`),
named by --database-url or DATABASE_URL (the implicit default file is refused: `serve` seeds
it with real articles). The loader refuses a database holding any real (non-synthetic) row,
and one that already holds synthetic data unless `--replace` is given, in which case it
empties the data tables first.
Every row is marked `is_synthetic`, and every figure quotes its province's synthetic source,
whose text says it is not real.

The shape at scale 1.0 is today's Vietnam (post-2025, no district level): 34 provinces,
3,321 communes, ~100,000 villages, ~270,000 party organizations (~52,000 grassroots
organizations), ~5.6 million members in 2025. Members belong to leaf branches (village,
school, health station, agency, enterprise and grassroots branches); committees carry the
total of their subtree, as articles report them; events are recorded on leaf branches only.
The output depends only on (scale, seed), apart from `registered_on` and the timestamps.
"""

import argparse
import hashlib
import itertools
import math
import multiprocessing
import os
import queue
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from app.db import unpooled_session
from app.ingest.places import branch_search_fields, locality_search_fields
from app.models.data_version import RAISE_DATA_VERSION
from app.services.risk_rules import RiskRules
from app.services.status import (
    SAMPLED_ROWS,
    analyze,
    refresh_current_units,
    refresh_status,
    stage_status,
    store_staged_status,
)
from app.services.text import search_words
from app.services.yearly import stage_totals, store_staged_totals

FIRST_YEAR, LAST_YEAR = 2016, 2025
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
YEAR_START = tuple(date(y, 1, 1) for y in YEARS)
YEAR_END = tuple(date(y, 12, 31) for y in YEARS)
REFORM_DAY = date(2025, 7, 1)  # provinces and communes of the 2025 reform are valid from here

# -- National shape at scale 1.0 ------------------------------------------------------------
# Ten Vietnams, some 2.7 million branches: beyond, a plan of 34e9 provinces was built in
# memory without bound (after the data was wiped, before the plan moved ahead of it).
MAX_SCALE = 10.0
PROVINCES = 34
COMMUNES = 3321
VILLAGES_PER_COMMUNE = (28.0, 0.4, 4, 90)  # lognormal median, sigma, min, max: ~100,000 villages
SCHOOLS_PER_COMMUNE = (2, 6)
COMMUNE_AGENCIES = (3, 5)
HEALTH_STATION_SHARE = 0.9
AGENCY_COMMITTEES_PER_COMMUNE = 18_000 / COMMUNES
AGENCY_SUBBRANCHES = (2, 8)
GRASSROOTS_BRANCHES_PER_COMMUNE = 30_700 / COMMUNES

# Members in 2025 of a leaf branch, by kind: lognormal median, sigma, min, max.
SIZES: dict[str, tuple[float, float, int, int]] = {
    "village_branch": (22.0, 0.42, 5, 400),
    "school_branch": (15.0, 0.4, 5, 80),
    "health_station_branch": (9.0, 0.3, 5, 30),
    "agency_branch": (16.0, 0.5, 5, 150),
    "enterprise_branch": (19.0, 0.6, 5, 300),
    "grassroots_branch": (21.0, 0.55, 5, 300),
}
LARGE_VILLAGE = (70.0, 0.5, 30, 600)  # the long tail: big villages, suburban wards
LARGE_VILLAGE_SHARE = 0.03

# Yearly events per member: ~175,000 admissions a year nationally, fewer departures.
ADMISSION_RATE = 0.034
DEPARTURE_RATE = 0.014
TRANSFER_RATE = 0.012

# Profiles of leaf branches (shares of leaf branches), so that every risk rule fires.
NO_DATA_SHARE = 0.0217  # ~2% of all branches: no counts, no events, no facts
TINY_SHARE = 0.0013  # a few hundred with 1-4 members
STALLED_SHARE = 0.005  # "more than 5 years without an admission"
ATTRITION_SHARE = 0.01  # more departures than admissions over the last three years
OVER_60_SHARE = {"normal": 0.04, "tiny": 0.3, "stalled": 0.3, "attrition": 0.1}
REPORTED_SHARE = {"normal": 0.0005, "tiny": 0.5, "stalled": 0.15, "attrition": 0.05}
EXPLICIT_ZERO_SHARE = 0.05  # admissions stored as 0 rather than left out
STALL_STATED_ON = date(LAST_YEAR, 6, 30)

LEAF_KINDS = frozenset(SIZES)
EVENT_KINDS = ("admission", "departure", "transfer_in", "transfer_out")
BATCH_ROWS = 50_000

# Columns written per table, in tuple order. Columns a table lacks in the target database
# are left out at write time (see _present_columns): the schema may move ahead of this file.
SOURCE_COLS = (
    "id", "key", "publisher", "title", "language", "text", "text_sha256", "registered_on",
    "is_synthetic", "created_at", "updated_at",
)  # fmt: skip
LOCALITY_COLS = (
    "id", "key", "kind", "name", "official_name", "parent_id", "province_id", "district_id",
    "commune_id", "current_province_id", "current_commune_id", "valid_from", "search_key",
    "name_lower", "name_order", "source_id", "quote", "is_synthetic",
)  # fmt: skip
BRANCH_COLS = (
    "id", "key", "kind", "name", "locality_id", "province_id", "district_id", "commune_id",
    "parent_id", "search_key", "name_lower", "name_order", "source_id", "quote", "is_synthetic",
)  # fmt: skip
FIGURE_COLS = (
    "id", "key", "qualifier", "applies_to_each", "evidence_date", "source_id", "quote",
    "is_synthetic", "created_at", "updated_at", "branch_id",
)  # fmt: skip
COUNT_COLS = (*FIGURE_COLS, "value", "status", "as_of")
EVENT_COLS = (*FIGURE_COLS, "kind", "value", "period_start", "period_end")
FACT_COLS = (*FIGURE_COLS, "metric", "value", "unit", "period_start", "period_end")
COLUMNS: dict[str, tuple[str, ...]] = {
    "sources": SOURCE_COLS,
    "localities": LOCALITY_COLS,
    "branches": BRANCH_COLS,
    "membership_counts": COUNT_COLS,
    "membership_events": EVENT_COLS,
    "facts": FACT_COLS,
    # Derived, but written with the rest: inserted one by one after the load, the words of
    # 106,000 localities cost PostgreSQL 13 s at scale 1.0.
    "locality_words": ("word", "locality_id"),
}
TABLES = tuple(COLUMNS)  # parents before children
DATA_TABLES = TABLES[:-1]  # the tables of synthetic rows, each with an id

Row = tuple[Any, ...]


OWN_DATABASE = (
    "Synthetic data goes in a database of its own, e.g. --database-url "
    "sqlite:///data/synth-1.0.sqlite3 or postgresql://.../synth (or DATABASE_URL=...)."
)


class SynthRefused(Exception):
    """The target database is not one synthetic data may be written to."""


@dataclass
class SynthReport:
    scale: float
    seed: int
    rows: dict[str, int]
    members: int
    elapsed_s: float
    refresh_s: float | None = None

    def summary(self) -> str:
        counts = ", ".join(f"{table} {n:,}" for table, n in self.rows.items())
        refresh = (
            f"; status refreshed in {self.refresh_s:.1f} s" if self.refresh_s is not None else ""
        )
        return (
            f"synthetic data (scale {self.scale}, seed {self.seed}): {counts}; "
            f"{self.members:,} members in {LAST_YEAR}; loaded in {self.elapsed_s:.1f} s{refresh}"
        )


# -- The national plan ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Plan:
    scale: float
    seed: int
    communes: tuple[int, ...]  # communes per province

    @property
    def provinces(self) -> int:
        return len(self.communes)


def _plan(scale: float, seed: int) -> _Plan:
    """How many communes each province has: sizes vary like real provinces (~40 to ~170)."""
    rng = random.Random(seed)
    provinces = max(1, round(PROVINCES * scale))
    communes = max(provinces, round(COMMUNES * scale))
    weights = [rng.lognormvariate(0.0, 0.35) for _ in range(provinces)]
    total = sum(weights)
    shares = [communes * w / total for w in weights]
    counts = [max(1, math.floor(s)) for s in shares]
    # Largest remainders take the communes still unassigned.
    order = sorted(range(provinces), key=lambda i: shares[i] - math.floor(shares[i]), reverse=True)
    for i in order[: max(0, communes - sum(counts))]:
        counts[i] += 1
    return _Plan(scale, seed, tuple(counts))


# -- Organizations ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Org:
    id: int
    tail: str  # the key after "syn:org:", e.g. "p07/c0412/v3"
    kind: str
    name: str
    locality_id: int
    commune_id: int | None
    parent: "_Org | None"
    children: list["_Org"] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # members at the end of each year


@dataclass(frozen=True)
class _LeafSpec:
    """A leaf branch's profile: which risk inputs it gets."""

    profile: str  # normal, tiny, stalled, attrition, no_data
    final_size: int | None = None  # forced size in LAST_YEAR
    over_60: int | None = None  # members_over_60 fact value, None for no fact
    reported: bool = False
    explicit_zero: bool = False


# The first leaf branches of the first province are forced, so that every rule fires
# somewhere at any scale.
FORCED_SPECS = (
    _LeafSpec("tiny", final_size=2, reported=True, explicit_zero=True),
    _LeafSpec("tiny", final_size=4),
    _LeafSpec("stalled", final_size=8, over_60=5),
    _LeafSpec("attrition", explicit_zero=True),
    _LeafSpec("no_data"),
    _LeafSpec("normal", over_60=3),
)


@dataclass
class _Ids:
    """Primary keys are assigned here, not by the database: children need no round trip."""

    def __init__(self, first: dict[str, int]) -> None:
        self.counters = {table: itertools.count(value) for table, value in first.items()}

    def take(self, table: str) -> int:
        return next(self.counters[table])


def _poisson(uniform: Any, lam: float) -> int:
    """Knuth's method; the rates here are small (lam < 25)."""
    if lam <= 0.0:
        return 0
    limit = math.exp(-lam)
    k = 0
    p = uniform()
    while p > limit:
        k += 1
        p *= uniform()
    return k


def _bounded_lognormal(rng: random.Random, spec: tuple[float, float, int, int]) -> int:
    median, sigma, low, high = spec
    return min(high, max(low, round(rng.lognormvariate(math.log(median), sigma))))


class _Province:
    """Builds one province: its source, places, organizations and figures, as rows."""

    def __init__(
        self, plan: _Plan, index: int, ids: _Ids, first_commune: int, stamp: datetime
    ) -> None:
        self.plan = plan
        self.index = index
        self.number = f"{index + 1:0{max(2, len(str(plan.provinces)))}d}"
        self.ids = ids
        self.first_commune = first_commune
        self.stamp = stamp
        # The server's day (a source registered "today" as an import's is), not the
        # timestamp's UTC one: west of UTC in the evening that was tomorrow.
        self.today = stamp.astimezone().date()
        # One generator per province: the output does not depend on batch sizes or order.
        self.rng = random.Random(f"{plan.seed}/province/{index}")
        self.rows: dict[str, list[Row]] = {table: [] for table in TABLES}
        self.forced = list(FORCED_SPECS) if index == 0 else []
        self.official_name = f"Tỉnh Tổng hợp {self.number}"
        self.source_key = f"syn:source:p{self.number}"
        self.quote = (
            f"Synthetic data generated by branchstats synth (scale {float(plan.scale)}, "
            f"seed {plan.seed}) for {self.official_name}; not real figures."
        )
        self.source_id = ids.take("sources")
        self.provenance = (self.source_id, self.quote, stamp)
        self.counters_counts = ids.counters["membership_counts"].__next__
        self.counters_events = ids.counters["membership_events"].__next__
        self.province_id = 0
        self.members = 0

    # -- places -----------------------------------------------------------------------
    def build(self) -> dict[str, list[Row]]:
        self._source()
        self.province_id = self._locality(
            f"syn:p{self.number}", "province", f"Tổng hợp {self.number}", self.official_name,
            parent=None, province=None, commune=None, valid_from=REFORM_DAY,
        )  # fmt: skip
        top = self._org(
            f"p{self.number}", "province_committee", f"Đảng bộ {self.official_name}",
            self.province_id, None, None,
        )  # fmt: skip
        commune_ids = []
        for offset in range(self.plan.communes[self.index]):
            commune_ids.append(self._commune(top, self.first_commune + offset))
        self._agencies(top, commune_ids)
        self._finish_committee(top)
        self.members = top.sizes[-1]
        self._figures(top)
        return self.rows

    def _source(self) -> None:
        self.rows["sources"].append((
            self.source_id, self.source_key, "branchstats synth",
            f"Synthetic data: {self.official_name}", "en", self.quote,
            hashlib.sha256(self.quote.encode("utf-8")).hexdigest(), self.today, True,
            self.stamp, self.stamp,
        ))  # fmt: skip

    def _locality(
        self,
        key: str,
        kind: str,
        name: str,
        official_name: str | None,
        *,
        parent: int | None,
        province: int | None,
        commune: int | None,
        valid_from: date | None,
    ) -> int:
        locality_id = self.ids.take("localities")
        province = province or locality_id  # a province is its own province
        if kind == "commune":
            commune = locality_id
        names = locality_search_fields(name, official_name)
        self.rows["localities"].append((
            locality_id, key, kind, name, official_name, parent, province, None, commune,
            province, commune, valid_from, *names, self.source_id, self.quote, True,
        ))  # fmt: skip
        self.rows["locality_words"] += (
            (word, locality_id) for word in search_words(names.search_key)
        )
        return locality_id

    def _commune(self, top: _Org, number: int) -> _Org:
        digits = f"{number:0{max(4, len(str(sum(self.plan.communes))))}d}"
        label = f"Thử Nghiệm {digits}"
        commune_id = self._locality(
            f"syn:p{self.number}/c{digits}", "commune", label, f"Xã {label}",
            parent=self.province_id, province=self.province_id, commune=None,
            valid_from=REFORM_DAY,
        )  # fmt: skip
        tail = f"p{self.number}/c{digits}"
        committee = self._org(
            tail, "commune_committee", f"Đảng bộ Xã {label}", commune_id, commune_id, top
        )
        rng = self.rng
        for village in range(1, _bounded_lognormal(rng, VILLAGES_PER_COMMUNE) + 1):
            village_id = self._locality(
                f"syn:p{self.number}/c{digits}/v{village}", "village", f"Thôn {village}", None,
                parent=commune_id, province=self.province_id, commune=commune_id,
                valid_from=None,
            )  # fmt: skip
            self._leaf(
                f"{tail}/v{village}", "village_branch", f"Chi bộ Thôn {village}",
                village_id, commune_id, committee,
            )  # fmt: skip
        levels = ("Mầm non", "Tiểu học", "Trung học cơ sở")
        for school in range(1, rng.randint(*SCHOOLS_PER_COMMUNE) + 1):
            level = levels[(school - 1) % len(levels)]
            series = "" if school <= len(levels) else f" số {(school - 1) // len(levels) + 1}"
            self._leaf(
                f"{tail}/school{school}", "school_branch",
                f"Chi bộ Trường {level}{series} {label}", commune_id, commune_id, committee,
            )  # fmt: skip
        if rng.random() < HEALTH_STATION_SHARE:
            self._leaf(
                f"{tail}/health", "health_station_branch", f"Chi bộ Trạm Y tế Xã {label}",
                commune_id, commune_id, committee,
            )  # fmt: skip
        offices = ("Cơ quan Ủy ban nhân dân", "Công an", "Quân sự", "Cơ quan Mặt trận Tổ quốc")
        for agency in range(1, rng.randint(*COMMUNE_AGENCIES) + 1):
            office = offices[(agency - 1) % len(offices)]
            self._leaf(
                f"{tail}/agency{agency}", "agency_branch", f"Chi bộ {office} Xã {label} {agency}",
                commune_id, commune_id, committee,
            )  # fmt: skip
        self._finish_committee(committee)
        return committee

    def _agencies(self, top: _Org, communes: list[_Org]) -> None:
        """Agency committees and grassroots branches, placed in the province's communes."""
        rng = self.rng
        n_communes = len(communes)
        n_committees = round(n_communes * AGENCY_COMMITTEES_PER_COMMUNE)
        n_grassroots = round(n_communes * GRASSROOTS_BRANCHES_PER_COMMUNE)
        bodies = ("Cơ quan", "Công ty", "Bệnh viện", "Trường Cao đẳng", "Ban Quản lý")
        units = ("Phòng", "Phân xưởng", "Khoa", "Tổ công tác")
        for n in range(1, n_committees + 1):
            place = communes[rng.randrange(n_communes)]
            tail = f"p{self.number}/a{n:05d}"
            body = bodies[rng.randrange(len(bodies))]
            committee = self._org(
                tail, "agency_committee", f"Đảng bộ {body} Thử Nghiệm {self.number}-{n:05d}",
                place.locality_id, place.commune_id, top,
            )  # fmt: skip
            kind = "enterprise_branch" if body == "Công ty" else "agency_branch"
            for sub in range(1, rng.randint(*AGENCY_SUBBRANCHES) + 1):
                unit = units[rng.randrange(len(units))]
                self._leaf(
                    f"{tail}/b{sub}", kind, f"Chi bộ {unit} {sub}",
                    place.locality_id, place.commune_id, committee,
                )  # fmt: skip
            self._finish_committee(committee)
        kinds = ("Trường Trung học phổ thông", "Trung tâm Y tế", "Cơ quan", "Hợp tác xã")
        for n in range(1, n_grassroots + 1):
            place = communes[rng.randrange(n_communes)]
            body = kinds[rng.randrange(len(kinds))]
            self._leaf(
                f"p{self.number}/g{n:05d}", "grassroots_branch",
                f"Chi bộ {body} Thử Nghiệm {self.number}-{n:05d}",
                place.locality_id, place.commune_id, top,
            )  # fmt: skip

    # -- organizations ------------------------------------------------------------------
    def _org(
        self,
        tail: str,
        kind: str,
        name: str,
        locality_id: int,
        commune_id: int | None,
        parent: _Org | None,
    ) -> _Org:
        org = _Org(self.ids.take("branches"), tail, kind, name, locality_id, commune_id, parent)
        if parent is not None:
            parent.children.append(org)
        self.rows["branches"].append((
            org.id, f"syn:org:{tail}", kind, name, locality_id, self.province_id, None,
            commune_id, parent.id if parent else None, *branch_search_fields(name, None),
            self.source_id, self.quote, True,
        ))  # fmt: skip
        return org

    def _leaf(
        self,
        tail: str,
        kind: str,
        name: str,
        locality_id: int,
        commune_id: int | None,
        parent: _Org,
    ) -> None:
        """A branch that holds members: its history is simulated and written at once."""
        org = self._org(tail, kind, name, locality_id, commune_id, parent)
        spec = self.forced.pop(0) if self.forced else self._spec()
        final = spec.final_size or self._final_size(kind, spec.profile)
        org.sizes, events = self._simulate(final, spec.profile)
        if spec.profile == "no_data":
            return  # its members still count in its committees' totals
        self._counts(org)
        self._events(org, events, spec.explicit_zero or spec.profile == "attrition")
        self._leaf_facts(org, spec)

    def _spec(self) -> _LeafSpec:
        rng = self.rng
        draw = rng.random()
        profile = "normal"
        for name, share in (
            ("no_data", NO_DATA_SHARE),
            ("tiny", TINY_SHARE),
            ("stalled", STALLED_SHARE),
            ("attrition", ATTRITION_SHARE),
        ):
            if draw < share:
                profile = name
                break
            draw -= share
        if profile == "no_data":
            return _LeafSpec(profile)
        over_60 = None
        if rng.random() < OVER_60_SHARE[profile]:
            over_60 = rng.randint(3, 12) if rng.random() < 0.6 else rng.randint(0, 2)
        return _LeafSpec(
            profile,
            over_60=over_60,
            reported=rng.random() < REPORTED_SHARE[profile],
            explicit_zero=rng.random() < EXPLICIT_ZERO_SHARE,
        )

    def _final_size(self, kind: str, profile: str) -> int:
        rng = self.rng
        if profile == "tiny":
            return rng.randint(1, 4)
        if kind == "village_branch" and rng.random() < LARGE_VILLAGE_SHARE:
            return _bounded_lognormal(rng, LARGE_VILLAGE)
        return _bounded_lognormal(rng, SIZES[kind])

    def _simulate(self, final: int, profile: str) -> tuple[list[int], list[Row]]:
        """Run a branch's history backwards from its final size, so the 2025 size
        distribution is exactly the one drawn; every year-end size stays at least 1."""
        uniform = self.rng.random
        n = len(YEARS)
        sizes = [0] * n
        events: list[Row] = [()] * n
        size = final
        for i in range(n - 1, -1, -1):
            year = YEARS[i]
            sizes[i] = size
            admitted = _poisson(uniform, ADMISSION_RATE * size)
            departed = _poisson(uniform, DEPARTURE_RATE * size)
            moved_in = _poisson(uniform, TRANSFER_RATE * size)
            moved_out = _poisson(uniform, TRANSFER_RATE * size)
            if profile == "tiny":
                moved_in = 0
                admitted = admitted if uniform() < 0.1 else 0
            elif profile == "stalled" and year > LAST_YEAR - 7:
                admitted = 0
            elif profile == "attrition" and year > LAST_YEAR - 3:
                departed = max(departed, 1 + (uniform() < 0.5))
                admitted = min(admitted, departed - 1)
            # The size a year earlier must stay >= 1: fewer arrivals if need be.
            room = size - 1 + departed + moved_out
            admitted = min(admitted, room)
            moved_in = min(moved_in, room - admitted)
            size = size - admitted - moved_in + departed + moved_out
            events[i] = (admitted, departed, moved_in, moved_out)
        return sizes, events

    def _finish_committee(self, committee: _Org) -> None:
        """A committee's count is its subtree's total, as articles report it."""
        committee.sizes = [
            sum(col) for col in zip(*(c.sizes for c in committee.children), strict=True)
        ]
        if not committee.sizes:
            committee.sizes = [0] * len(YEARS)

    def _figures(self, top: _Org) -> None:
        """Counts of every committee, top-down (leaves wrote theirs when built)."""
        stack = [top]
        while stack:
            org = stack.pop()
            if org.kind not in LEAF_KINDS:
                self._counts(org)
                stack.extend(org.children)

    # -- figure rows (the hot loops: rows are built whole, in FIGURE_COLS order) ---------
    def _counts(self, org: _Org) -> None:
        out = self.rows["membership_counts"].append
        take = self.counters_counts
        prefix, source, quote, stamp = f"{self.source_key}#{org.tail}", *self.provenance
        for i, year in enumerate(YEARS):
            day = YEAR_END[i]
            out((
                take(), f"{prefix}/members-{year}", "exact", False, day, source, quote, True,
                stamp, stamp, org.id, org.sizes[i], "all", day,
            ))  # fmt: skip

    def _events(self, org: _Org, events: list[Row], explicit_zero: bool) -> None:
        out = self.rows["membership_events"].append
        take = self.counters_events
        prefix, source, quote, stamp = f"{self.source_key}#{org.tail}", *self.provenance
        for i, year in enumerate(YEARS):
            start, end = YEAR_START[i], YEAR_END[i]
            for kind, value in zip(EVENT_KINDS, events[i], strict=True):
                if value == 0 and not (explicit_zero and kind == "admission"):
                    continue
                out((
                    take(), f"{prefix}/{kind}-{year}", "exact", False, end, source, quote, True,
                    stamp, stamp, org.id, kind, value, start, end,
                ))  # fmt: skip

    def _leaf_facts(self, org: _Org, spec: _LeafSpec) -> None:
        size = org.sizes[-1]
        if spec.over_60 is not None:
            # Never more members over 60 than members.
            value = min(spec.over_60, size)
            self._fact(org, "members_over_60", value, "members", YEAR_END[-1], "exact")
        if spec.profile == "stalled":
            self._fact(org, "years_without_admission", 5, "years", STALL_STATED_ON, "more_than")
        if spec.reported:
            self._fact(org, "at_risk_reported", 1, "flag", date(LAST_YEAR - 1, 12, 31), "exact")

    def _fact(
        self, org: _Org, metric: str, value: int, unit: str, day: date, qualifier: str
    ) -> None:
        source, quote, stamp = self.provenance
        self.rows["facts"].append((
            self.ids.take("facts"), f"{self.source_key}#{org.tail}/{metric}-{day.year}",
            qualifier, False, day, source, quote, True, stamp, stamp, org.id, metric,
            float(value), unit, None, day,
        ))  # fmt: skip


# -- Loading ----------------------------------------------------------------------------------
class _Loader(Protocol):
    def prepare(self, table: str, rows: list[Row]) -> Any:
        """What write() sends for some rows (pure Python: the generating process's work)."""

    def write(self, table: str, prepared: Any) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


def _present_columns(conn: Connection, table: str) -> list[int]:
    """Which of our columns the database's table has (indexes into the row tuples)."""
    have = {c["name"] for c in inspect(conn).get_columns(table)}
    return [i for i, name in enumerate(COLUMNS[table]) if name in have]


def _projector(keep: list[int], table: str) -> Any:
    if len(keep) == len(COLUMNS[table]):
        return None
    return lambda row: tuple(row[i] for i in keep)


def _bind_processor(table: Table, column: str, dialect: Any) -> Any:
    """The driver-level conversion SQLAlchemy itself would apply (dates to ISO text)."""
    return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)


def _row_converter(keep: list[int] | None, processors: list[tuple[int, Any]]) -> Any:
    """Project a row onto the kept columns and apply bind processors, memoized by value."""
    memos: list[tuple[int, Any, dict[Any, Any]]] = [(pos, proc, {}) for pos, proc in processors]

    def convert(row: Row) -> list[Any]:
        out = list(row) if keep is None else [row[i] for i in keep]
        for pos, proc, memo in memos:
            value = out[pos]
            if value is not None:
                try:
                    out[pos] = memo[value]
                except KeyError:
                    out[pos] = memo[value] = proc(value)
        return out

    return convert


class _SqliteLoader:
    """Multi-row INSERTs run with the driver's executemany, one transaction per batch.

    Measured per row at scale 0.1: SQLAlchemy's own executemany (a dict and a date
    processor per value) cost about twice what SQLite does, so rows go to the driver as
    lists, with the column types' bind processors applied once per distinct value (dates
    and timestamps repeat). A statement carries ROWS_PER_STATEMENT rows because SQLite
    rebuilds the lookup of a CHECK's IN-list (qualifier, status, kind) at every statement
    execution: 13.5 us a row one by one, 4.9 us by hundreds, every constraint still checked.
    Indexes stay in place: dropping and rebuilding them saved little here.
    """

    ROWS_PER_STATEMENT = 100

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        raw = self.conn.connection.driver_connection
        assert raw is not None
        self.raw = raw
        # A database of its own being filled: durability is not needed until the end, and
        # foreign keys are checked once at the end of the load rather than per row.
        for pragma in (
            "synchronous=OFF",
            "cache_size=-262144",
            "temp_store=MEMORY",
            "foreign_keys=OFF",
        ):
            raw.execute(f"PRAGMA {pragma}")
        # Migration 0008's triggers raise the data version once per row on SQLite: 27 s
        # of a 90 s load at scale 1.0 (63 s without them). Set aside in each batch's own
        # transaction (SQLite's schema changes are transactional) and the version raised
        # once per batch: a load stopped at any point, by Ctrl-C, SIGTERM or SIGKILL,
        # leaves every trigger in place. Set aside for the whole load, a killed run left
        # the database without them, and writes to it no longer raised its version.
        self.triggers = _triggers_by_table(raw, TABLES)
        self.sql: dict[str, tuple[str, str]] = {}
        self.convert: dict[str, Any] = {}
        metadata = MetaData()
        dialect = engine.dialect
        quote = dialect.identifier_preparer.quote
        for name in TABLES:
            table = Table(name, metadata, autoload_with=self.conn)
            keep = _present_columns(self.conn, name)
            columns = [COLUMNS[name][i] for i in keep]
            head = f"INSERT INTO {quote(name)} ({', '.join(map(quote, columns))}) VALUES "
            one = f"({', '.join('?' * len(columns))})"
            self.sql[name] = (head + one, head + ", ".join([one] * self.ROWS_PER_STATEMENT))
            processors = [
                (pos, proc)
                for pos, column in enumerate(columns)
                if (proc := _bind_processor(table, column, dialect)) is not None
            ]
            all_kept = len(keep) == len(COLUMNS[name])
            self.convert[name] = _row_converter(None if all_kept else keep, processors)
        self.conn.rollback()

    def prepare(self, table: str, rows: list[Row]) -> tuple[list[list[Any]], list[list[Any]]]:
        """The parameters of the statements of ROWS_PER_STATEMENT rows, and of the rest."""
        convert = self.convert[table]
        per = self.ROWS_PER_STATEMENT
        whole = len(rows) - len(rows) % per
        groups = []
        for start in range(0, whole, per):
            group: list[Any] = []
            for row in rows[start : start + per]:
                group += convert(row)
            groups.append(group)
        return groups, [convert(row) for row in rows[whole:]]

    def write(self, table: str, prepared: tuple[list[list[Any]], list[list[Any]]]) -> None:
        single, multiple = self.sql[table]
        groups, rest = prepared
        triggers = self.triggers.get(table, [])
        raw = self.raw
        raw.execute("BEGIN")
        for name, _ in triggers:
            raw.execute(f'DROP TRIGGER "{name}"')
        raw.executemany(multiple, groups)
        raw.executemany(single, rest)
        for _, definition in triggers:
            raw.execute(definition)
        raw.execute(RAISE_DATA_VERSION)
        raw.execute("COMMIT")

    def finish(self) -> None:
        raw = self.raw
        problems = raw.execute("PRAGMA foreign_key_check").fetchmany(5)
        if problems:
            raise RuntimeError(f"synthetic rows break foreign keys: {problems}")
        # A sampled ANALYZE: enough for the planner, seconds instead of a full scan.
        raw.execute(f"PRAGMA analysis_limit={SAMPLED_ROWS}")
        raw.execute("ANALYZE")
        raw.execute("PRAGMA foreign_keys=ON")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()

    def abort(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")
        self.conn.close()


def _triggers_by_table(raw: Any, tables: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """SQLite: the triggers of some tables, by table: each one's name and the statement
    that creates it, from the schema's own text."""
    marks = ", ".join("?" * len(tables))
    found: dict[str, list[tuple[str, str]]] = {}
    for table, name, definition in raw.execute(
        "SELECT tbl_name, name, sql FROM sqlite_master "
        f"WHERE type = 'trigger' AND tbl_name IN ({marks}) ORDER BY name",
        tuple(tables),
    ):
        found.setdefault(table, []).append((name, definition))
    return found


def _set_checks_aside(cursor: Any, tables: Sequence[str]) -> list[str]:
    """PostgreSQL: drop the foreign keys, unique constraints and indexes (all but primary
    keys) of some tables; return the statements that re-create them from their catalog
    definitions, to run in the same transaction once the tables are filled.

    One validating join and one sorted index build cost less than a check and an index
    insert per row. A foreign key's check also locks the row it refers to, writing to
    that row's page: 274,473 status rows took 28 s of checks at scale 1.0.
    """
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype IN ('f', 'u') "
        "AND conrelid::regclass::text = ANY(%s) ORDER BY conname",
        (list(tables),),
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY 1",
        (list(tables),),
    )
    indexes = cursor.fetchall()
    unique = [c for c in constraints if c[2] == "u"]
    foreign = [c for c in constraints if c[2] == "f"]
    for table, name, _, _ in (*foreign, *unique):
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    # Foreign keys last: their validation uses the unique and primary keys.
    return [
        *(f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, _, d in unique),
        *(definition for _, definition in indexes),
        *(f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, _, d in foreign),
    ]


class _PostgresLoader:
    """Binary COPY through psycopg 3, all in one transaction: a failed load leaves nothing.

    Foreign keys, unique constraints and indexes (all but primary keys) are dropped for
    the load and re-created at the end (_set_checks_aside).
    """

    def __init__(self, engine: Engine) -> None:
        self.raw = engine.raw_connection()
        self.cursor = self.raw.cursor()
        self.copy_sql: dict[str, str] = {}
        self.types: dict[str, list[int]] = {}
        self.project: dict[str, Any] = {}
        try:
            with engine.connect() as conn:
                for name in TABLES:
                    keep = _present_columns(conn, name)
                    cols = [COLUMNS[name][i] for i in keep]
                    self.copy_sql[name] = (
                        f"COPY {name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY, FREEZE)"
                    )
                    self.types[name] = self._column_types(name, cols)
                    self.project[name] = _projector(keep, name)
            self._empty_tables(engine)
            self.restore = _set_checks_aside(self.cursor, TABLES)
        except BaseException:
            # Stopped here (Ctrl-C), the open transaction's TRUNCATE would hold its locks
            # while run_synth's cleanup waited for them.
            self.abort()
            raise

    def _empty_tables(self, engine: Engine) -> None:
        """Empty, in the load's transaction, the tables that wipe() empties: COPY may then
        write rows frozen (FREEZE), as VACUUM would leave them.

        Else the first statement to read each row after the load (the status refresh)
        sets its hint bits, writing all 2.5 GB of pages again at scale 1.0. run_synth
        found these tables empty, or emptied them itself: they hold no real rows.
        """
        self.cursor.execute(f"TRUNCATE {', '.join(_data_tables(engine))}")

    def _column_types(self, table: str, columns: list[str]) -> list[int]:
        """Type oids for binary COPY, from the catalog (the models may lag the database)."""
        self.cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        oids = dict(self.cursor.fetchall())
        return [oids[column] for column in columns]

    def prepare(self, table: str, rows: list[Row]) -> list[Row]:
        project = self.project[table]
        return [project(row) for row in rows] if project else rows

    def write(self, table: str, prepared: list[Row]) -> None:
        with self.cursor.copy(self.copy_sql[table]) as copy:
            copy.set_types(self.types[table])
            for row in prepared:
                copy.write_row(row)

    def finish(self) -> None:
        for statement in self.restore:
            self.cursor.execute(statement)
        # Our explicit ids bypassed the sequences: move them past the largest id.
        for table in DATA_TABLES:
            self.cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
        self.raw.commit()
        for table in TABLES:
            self.cursor.execute(f"ANALYZE {table}")
        self.raw.commit()
        self.raw.close()

    def abort(self) -> None:
        self.raw.rollback()
        self.raw.close()


# -- Guarding and wiping ------------------------------------------------------------------------
def _synthetic_tables(conn: Connection) -> list[str]:
    inspector = inspect(conn)
    return [
        t
        for t in inspector.get_table_names()
        if any(c["name"] == "is_synthetic" for c in inspector.get_columns(t))
    ]


def check_target(engine: Engine, *, replace: bool) -> bool:
    """Refuse real data; return whether synthetic data is already there."""
    with engine.connect() as conn:
        tables = _synthetic_tables(conn)
        for table in tables:
            real = conn.execute(
                text(f"SELECT 1 FROM {table} WHERE NOT is_synthetic LIMIT 1")
            ).first()
            if real is not None:
                raise SynthRefused(
                    f"the database holds real (non-synthetic) rows in {table!r}. {OWN_DATABASE}"
                )
        present = (
            "sources" in tables
            and conn.execute(text("SELECT 1 FROM sources LIMIT 1")).first() is not None
        )
    if present and not replace:
        raise SynthRefused(
            "the database already holds synthetic data; pass --replace to empty it and load again"
        )
    return present


def _data_tables(engine: Engine) -> list[str]:
    """Our tables and every table whose rows hang off them (branch_status, successions...)."""
    metadata = MetaData()
    metadata.reflect(engine)
    found = set(TABLES)
    grew = True
    while grew:
        grew = False
        for table in metadata.sorted_tables:
            refers = {fk.column.table.name for fk in table.foreign_keys}
            if table.name not in found and refers & found:
                found.add(table.name)
                grew = True
    return [t.name for t in metadata.sorted_tables if t.name in found]


def wipe(engine: Engine) -> None:
    """Empty the data tables (API keys and the like stay). Only called once check_target
    found that every data row is synthetic."""
    tables = _data_tables(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        return
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        # Without foreign key checks: a checked DELETE of 100,000 localities looks up
        # each one in unindexed referencing columns.
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            raw.execute("BEGIN")
            for table in reversed(tables):
                raw.execute(f'DELETE FROM "{table}"')
            raw.execute("COMMIT")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def incomplete(engine: Engine) -> str | None:
    """Why a database of synthetic data is not a finished load, or None when it is.

    A load killed outright (SIGKILL, a machine going down) runs no cleanup: on SQLite its
    batches are committed one by one, and on both backends the status rows, then the
    totals, are committed after the data (_refresh). Served, such a database answered
    ready with empty lists, and the day's refresh found nothing stale. Each question is a
    seek or one pass over the branches' ids (branch_status's key is branch_id).
    """
    with engine.connect() as conn:

        def some(query: str) -> bool:
            return conn.execute(text(query)).first() is not None

        if not some("SELECT 1 FROM branches LIMIT 1"):
            return "no branch was loaded"
        if some(
            "SELECT 1 FROM branches b WHERE NOT EXISTS "
            "(SELECT 1 FROM branch_status s WHERE s.branch_id = b.id) LIMIT 1"
        ):
            return "branches without their status"
        if some("SELECT 1 FROM membership_counts LIMIT 1") and not some(
            "SELECT 1 FROM place_yearly_totals LIMIT 1"
        ):
            return "no yearly totals"
    return None


# -- The run -------------------------------------------------------------------------------------
class _Progress:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.tty = sys.stderr.isatty()
        self.started = time.perf_counter()
        self.last_tenth = -1

    def update(self, done: int, rows: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        filled = round(30 * done / self.total)
        line = (
            f"synth [{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} provinces, "
            f"{rows:,} rows, {elapsed:.0f} s"
        )
        if self.tty:
            sys.stderr.write("\r" + line + ("\n" if done == self.total else ""))
            sys.stderr.flush()
        elif (tenth := 10 * done // self.total) != self.last_tenth:
            self.last_tenth = tenth
            print(line, file=sys.stderr, flush=True)


def _next_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")).scalar_one()) + 1
            for t in DATA_TABLES
        }


Province = tuple[int, dict[str, list[Row]], int]  # index, rows by table, members
# index, the loader's batches by table, rows by table, members
PreparedProvince = tuple[int, dict[str, list[Any]], dict[str, int], int]
T = TypeVar("T")


def generate(plan: _Plan, first_ids: dict[str, int], stamp: datetime) -> Iterator[Province]:
    """Yield (province index, rows by table, members) one province at a time."""
    ids = _Ids(first_ids)
    first_commune = 1
    for index in range(plan.provinces):
        province = _Province(plan, index, ids, first_commune, stamp)
        rows = province.build()
        first_commune += plan.communes[index]
        yield index, rows, province.members


def in_child(produce: Callable[[], Iterable[T]]) -> Generator[T, None, None]:
    """The items of produce(), made by a forked child process a couple of items ahead.

    Building the rows is some 45 s of Python at scale 1.0, and writing them as much again
    or more: in a second process the two overlap (the items cross over pickled, a fraction
    of the cost of making them). Items come in order, so the output does not change.
    """
    # Forked: a spawned child would import the caller's main module again, which runs a
    # script without a __main__ guard a second time. The child uses none of the caller's
    # connections, and leaves by os._exit without closing them.
    context = multiprocessing.get_context("fork")
    items: Any = context.Queue(maxsize=2)
    child = context.Process(target=_produce_into, args=(produce, items), daemon=True)
    child.start()
    try:
        while True:
            try:
                item = items.get(timeout=1)
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError("the generating process ended early") from None
                continue
            if isinstance(item, _Failed):
                raise RuntimeError(f"generating the rows failed: {item.traceback}")
            if isinstance(item, _Done):
                return
            yield item
    finally:
        child.kill()  # if the caller stopped early; a no-op once the child is done
        child.join()


@dataclass(frozen=True)
class _Done:
    """The child made every item."""


@dataclass(frozen=True)
class _Failed:
    traceback: str


def _produce_into(produce: Callable[[], Iterable[Any]], out: Any) -> None:
    """The child's side: each item, then _Done (or _Failed with the traceback)."""
    # Ctrl-C reaches the whole process group: the child's traceback was printed beside
    # the parent's one line. The parent stops the child (in_child's finally), or, killed
    # itself, reads no more: then the child leaves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def put(item: Any) -> None:
        while True:
            try:
                return out.put(item, timeout=1)
            except queue.Full:
                if os.getppid() != parent:
                    os._exit(1)

    try:
        for item in produce():
            put(item)
    except BaseException:
        put(_Failed(traceback.format_exc()))
        raise
    put(_Done())


def _batches(rows: Sequence[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield list(rows[start : start + BATCH_ROWS])


def run_synth(
    engine: Engine,
    *,
    scale: float,
    seed: int,
    rules: RiskRules,
    progress: bool = True,
    replace: bool = False,
) -> SynthReport:
    """Load synthetic data into a migrated database of its own (see the module docstring),
    its status rows computed under `rules` (the server's settings).

    A load that fails or is interrupted (Ctrl-C) once it has begun to change the database
    removes what it wrote (wipe), and the exception carries a note saying whether it
    could (LOAD_REMOVED, LOAD_LEFT). Left in part, the database served empty lists as
    ready: on SQLite the batches are committed one by one, and on both the status rows
    and the totals after the data. A load killed outright is found by incomplete().
    """
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale must be above 0 and at most {MAX_SCALE:g}")
    started = time.perf_counter()
    present = check_target(engine, replace=replace)
    # Before anything is emptied: a scale too large to plan stops here, the data intact.
    plan = _plan(scale, seed)
    try:
        return _load(engine, plan, rules, progress=progress, wipe_first=present, started=started)
    except BaseException as exc:
        exc.add_note(_remove_partial_load(engine))
        raise


LOAD_REMOVED = "the partial load was removed; the database holds no synthetic data"
LOAD_LEFT = "the database holds part of a load: run again with --replace"


def _remove_partial_load(engine: Engine) -> str:
    """After a failed load: empty the data tables again (API keys stay), and say what is
    left. check_target found no real row in them before the load."""
    try:
        wipe(engine)
    except BaseException:  # the database gone too, or a second Ctrl-C
        return LOAD_LEFT
    return LOAD_REMOVED


def load_outcome(exc: BaseException) -> str | None:
    """What a failed run_synth left in the database, when it got as far as changing it."""
    notes = getattr(exc, "__notes__", [])
    return next((note for note in notes if note in (LOAD_REMOVED, LOAD_LEFT)), None)


def _load(
    engine: Engine,
    plan: _Plan,
    rules: RiskRules,
    *,
    progress: bool,
    wipe_first: bool,
    started: float,
) -> SynthReport:
    if wipe_first:
        wipe(engine)
    scale, seed = plan.scale, plan.seed
    first_ids = _next_ids(engine)
    stamp = datetime.now(UTC)
    loader: _Loader = (
        _PostgresLoader(engine) if engine.dialect.name == "postgresql" else _SqliteLoader(engine)
    )
    counts = dict.fromkeys(DATA_TABLES, 0)
    members = 0
    bar = _Progress(plan.provinces, progress)

    def prepared() -> Generator[PreparedProvince, None, None]:
        """Each province's batches as the loader writes them, with its row counts."""
        for index, rows, province_members in generate(plan, first_ids, stamp):
            batches = {t: [loader.prepare(t, b) for b in _batches(rows[t])] for t in TABLES}
            yield index, batches, {t: len(rows[t]) for t in DATA_TABLES}, province_members

    # One province gains nothing from a second process: it would wait for it whole.
    provinces = in_child(prepared) if plan.provinces > 1 else prepared()
    try:
        for index, batches, province_counts, province_members in provinces:
            members += province_members
            for table in TABLES:
                for batch in batches[table]:
                    loader.write(table, batch)
            for table in DATA_TABLES:
                counts[table] += province_counts[table]
            bar.update(index + 1, sum(counts.values()))
        loader.finish()
    except BaseException:
        provinces.close()  # the child stopped now, not when the traceback is let go
        loader.abort()
        raise
    elapsed = time.perf_counter() - started
    report = SynthReport(float(scale), seed, counts, members, elapsed)
    report.refresh_s = _refresh(engine, rules)
    return report


def _refresh(engine: Engine, rules: RiskRules) -> float:
    """Derive what the service keeps beside the data (issue 7), then ANALYZE: current
    units, each branch's status and item; the yearly totals.

    The status rows and the communes' totals are each one long statement that keeps a
    core busy (scale 1.0, one after the other: 50 s and 47 s on SQLite, 38 s and 30 s on
    PostgreSQL), so they are computed side by side, on two connections: the totals into
    a temporary table of their connection (SQLite lets one connection write at a time),
    and on PostgreSQL the status rows too, since storing them sets their foreign keys
    aside, and dropping those locks the tables the totals read. Each stored in a
    transaction of its own: in one, SQLite's reads for the totals went slower behind the
    status's 400 MB of write-ahead log.
    """
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with unpooled_session(engine) as totals:
        with ThreadPoolExecutor(max_workers=1) as beside:
            staged = beside.submit(_stage_totals, totals)
            with unpooled_session(engine) as session:
                refresh_current_units(session)
                if postgres:
                    stage_status(session, rules)
                    # The totals' reads must end before the checks go aside (locks).
                    staged.result()
                    with _checks_aside(session, ["branch_status"]):
                        store_staged_status(session)
                else:
                    refresh_status(session, rules)
                session.commit()
            staged.result()
        with _checks_aside(totals, ["commune_yearly_totals", "place_yearly_totals"]):
            store_staged_totals(totals)
        totals.commit()
    # Sampled, as the statistics of every build measured so far were: this ANALYZE used to
    # run on the loader's pooled connection, which samples; with two connections in the
    # pool it was a matter of which came out. (Exact took 3.3 s at scale 1.0 and gave the
    # same plans there.)
    analyze(engine, sampled=True)
    return time.perf_counter() - started


def _stage_totals(session: Session) -> None:
    """In a thread: every commune's totals staged, then committed, which ends the reads
    (SQLite: its snapshot, so that it may write after the status rows; PostgreSQL: its
    locks, which would keep the status rows' checks from going aside)."""
    stage_totals(session)
    session.commit()


@contextmanager
def _checks_aside(session: Any, tables: Sequence[str]) -> Iterator[None]:
    """On PostgreSQL, the tables' checks and indexes set aside for the session's
    statements inside, and re-created after them, in its transaction."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    cursor = session.connection().connection.driver_connection.cursor()
    restore = _set_checks_aside(cursor, tables)
    yield
    # Not in a `finally`: after an error the transaction is rolled back, drops and all.
    for statement in restore:
        cursor.execute(statement)


def _scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not 0 < scale <= MAX_SCALE:  # nan too
        raise argparse.ArgumentTypeError(
            f"{text} is no scale: a number above 0 and at most {MAX_SCALE:g} (1.0 is Vietnam)"
        )
    return scale


def main(argv: list[str] | None = None) -> int:
    from app.config import Settings, normalize_database_url
    from app.db import make_engine
    from app.migrate import preparing, upgrade_head

    parser = argparse.ArgumentParser(
        prog="branchstats synth",
        description="Load synthetic national data into a database of its own.",
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        default=0.01,
        help=f"1.0 is Vietnam today, at most {MAX_SCALE:g} (default 0.01).",
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="The same seed, the same data (default 42)."
    )
    parser.add_argument("--database-url", help="The target; else DATABASE_URL (one is required).")
    parser.add_argument(
        "--replace", action="store_true", help="Empty a database of earlier synthetic data first."
    )
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    args = parser.parse_args(argv)
    settings = Settings()
    if not (args.database_url or settings.database_url):
        # The implicit default is the service's own file, which `serve` seeds with real
        # articles: synthetic data must be sent somewhere on purpose.
        print(f"refused: name the target database. {OWN_DATABASE}", file=sys.stderr)
        return 2
    try:
        url = normalize_database_url(args.database_url or settings.effective_database_url)
        engine = make_engine(url)
    except ArgumentError as exc:
        # Named as it was given: app.cli's own message says DATABASE_URL.
        print(
            f"{'--database-url' if args.database_url else 'DATABASE_URL'} cannot be used: {exc}",
            file=sys.stderr,
        )
        return 1
    try:
        # One load at a time, as `migrate` and `seed` prepare: two runs at once both found
        # the database empty, took the same ids and one ended in a unique violation. The
        # second now waits, then finds the first's data (refused without --replace).
        with preparing(engine):
            upgrade_head(engine)
            report = run_synth(
                engine,
                scale=args.scale,
                seed=args.seed,
                rules=settings.risk_rules,
                progress=not args.no_progress,
                replace=args.replace,
            )
    except SynthRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # caught here, not by app.cli: only synth knows
        left = load_outcome(exc)
        print(f"interrupted: {left}" if left else "interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Said before the error itself (app.cli says some in one line, without notes).
        if left := load_outcome(exc):
            print(f"the load failed: {left}", file=sys.stderr)
        raise
    finally:
        engine.dispose()
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
