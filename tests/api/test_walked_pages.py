"""Branches as of a day, filtered on their risk or members (app.services.listing.walk),
or ordered on them nationally (app.services.gathered.gather).

Their risk as of the day is known only once evaluated: the branches are walked in the
list's order, a step at a time, until a page of them matches. On synthetic data (2,700
branches), in steps much smaller than the service's, so that pages fill mid-step, span
steps, and end with the list: every page, every total, is what the whole list as of the
day says when filtered here. Ordered on the risk, the pages are gathered from ranges of
ids much smaller than the service's: they are the day's list sorted here.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models.data_version import RAISE_DATA_VERSION
from app.models.vocab import LEVEL_RANK
from app.services import gathered, listing
from app.services.risk_rules import RiskRules
from app.synth import run_synth
from tests.conftest import DatabaseFactory
from tests.plans import captured_statements

DAY = "2020-01-01"
SORTS = ("id", "-id", "name", "-name")
Item = dict[str, Any]


def _members_high(item: Item) -> int | None:
    members = item["members"]
    return members["high"] if members else None


def _members_low(item: Item) -> int | None:
    members = item["members"]
    return members["low"] if members else None


def _level(item: Item) -> int:
    return LEVEL_RANK[item["risk"]["level"]]


# Each filter, and which of the day's items it keeps (the risk levels' meaning:
# app.services.branches._status_conditions).
FILTERS: dict[str, tuple[dict[str, str], Callable[[Item], bool]]] = {
    "at risk": ({"risk": "true"}, lambda i: _level(i) >= LEVEL_RANK["watch"]),
    "at high risk": (
        {"risk": "true", "risk_level": "high"},
        lambda i: _level(i) >= LEVEL_RANK["high"],
    ),
    "not at risk": ({"risk": "false"}, lambda i: i["risk"]["level"] == "none"),
    "unknown": ({"risk": "unknown"}, lambda i: i["risk"]["level"] == "unknown"),
    "at least 30 members": (
        {"min_members": "30"},
        lambda i: (_members_low(i) or -1) >= 30,
    ),
    "at most 4 members": (
        {"max_members": "4"},
        lambda i: _members_high(i) in range(5),  # not when unknown (None)
    ),
}


@pytest.fixture(scope="module")
def synthetic(databases: DatabaseFactory) -> Iterator[tuple[Engine, TestClient]]:
    url = databases.copy("migrated")
    engine = make_engine(url)
    run_synth(engine, scale=0.01, seed=42, rules=RiskRules(), progress=False)
    with TestClient(create_app(Settings(database_url=url, answer_cache_mb=0))) as client:
        yield engine, client
    engine.dispose()


@pytest.fixture(scope="module")
def client(synthetic: tuple[Engine, TestClient]) -> TestClient:
    return synthetic[1]


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> tuple[int, ...]:
    steps = (7, 40, 300)
    monkeypatch.setattr(listing, "WALK_STEPS", steps)
    return steps


def _pages(client: TestClient, params: dict[str, str]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = client.get("/branches", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        yield body
        cursor = body["next_cursor"]
        if cursor is None:
            return


def _whole(client: TestClient, sort: str) -> list[Item]:
    """The day's whole list, unfiltered (its pages are not walked)."""
    params = {"as_of": DAY, "sort": sort, "limit": "500"}
    return [item for page in _pages(client, params) for item in page["items"]]


@pytest.fixture(scope="module")
def whole(client: TestClient) -> dict[str, list[Item]]:
    return {sort: _whole(client, sort) for sort in SORTS}


def test_the_day_has_branches_of_every_kind(whole: dict[str, list[Item]]) -> None:
    """The premise: each filter keeps some branches and leaves others."""
    items = whole["id"]
    assert len(items) > 2_000
    for name, (_, keeps) in FILTERS.items():
        kept = sum(map(keeps, items))
        assert 0 < kept < len(items), name


@pytest.fixture(params=["walked", "kept"])
def later_pages(request: pytest.FixtureRequest, client: TestClient) -> Iterator[str]:
    """Later pages walked from their cursor, or cut from the rows a first page walked
    (listing.KeptWalks)."""
    state = client.app.state  # type: ignore[attr-defined]
    kept = state.kept_walks, state.kept_rankings
    state.kept_walks = listing.KeptWalks(0 if request.param == "walked" else listing.WALKS_KEPT)
    state.kept_rankings = gathered.KeptRankings(0, 0)  # no day's rows: walked
    yield request.param
    state.kept_walks, state.kept_rankings = kept


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("name", FILTERS)
def test_walked_pages_are_the_filtered_list(
    client: TestClient,
    whole: dict[str, list[Item]],
    small_steps: tuple[int, ...],
    later_pages: str,
    name: str,
    sort: str,
) -> None:
    filters, keeps = FILTERS[name]
    expected = [item for item in whole[sort] if keeps(item)]
    pages = list(_pages(client, {"as_of": DAY, "sort": sort, "limit": "40", **filters}))
    assert [item for page in pages for item in page["items"]] == expected
    assert all(len(page["items"]) == 40 for page in pages[:-1])
    assert pages[0]["total"] == (len(expected) if len(expected) <= listing.TOTAL_CAP else None)


@pytest.mark.parametrize("sort", ["id", "-id"])
@pytest.mark.parametrize("name", FILTERS)
def test_walked_lists_are_cut_from_the_days_rows_when_kept(
    synthetic: tuple[Engine, TestClient],
    whole: dict[str, list[Item]],
    small_ranges: int,
    name: str,
    sort: str,
) -> None:
    """Once an order on the risk has read the day's rows (gathered.DayRows), the lists
    walked in the ids' order are filtered from them: no step walked, the same pages."""
    engine, client = synthetic
    state = client.app.state  # type: ignore[attr-defined]
    state.kept_rankings, state.kept_walks = gathered.KeptRankings(), listing.KeptWalks(0)
    assert client.get("/branches", params={"as_of": DAY, "sort": "risk"}).status_code == 200
    filters, keeps = FILTERS[name]
    expected = [item for item in whole[sort] if keeps(item)]
    with captured_statements(engine) as captured:
        pages = list(_pages(client, {"as_of": DAY, "sort": sort, "limit": "40", **filters}))
    assert not [statement for statement in captured if "page_ids" in statement.sql]
    assert [item for page in pages for item in page["items"]] == expected
    assert all(len(page["items"]) == 40 for page in pages[:-1])
    assert pages[0]["total"] == (len(expected) if len(expected) <= listing.TOTAL_CAP else None)


def test_the_service_steps_walk_the_same_list(
    client: TestClient, whole: dict[str, list[Item]]
) -> None:
    """In the service's own steps: the total counted over three of them at least."""
    filters, keeps = FILTERS["at risk"]
    expected = [item for item in whole["id"] if keeps(item)]
    assert len(expected) <= listing.TOTAL_CAP
    assert sum(listing.WALK_STEPS[:2]) < len(whole["id"])
    pages = list(_pages(client, {"as_of": DAY, "limit": "100", **filters}))
    assert [item for page in pages for item in page["items"]] == expected
    assert pages[0]["total"] == len(expected)


def test_a_walked_csv_lists_the_same_branches(
    client: TestClient, whole: dict[str, list[Item]], small_steps: tuple[int, ...]
) -> None:
    filters, keeps = FILTERS["at high risk"]
    expected = [str(item["id"]) for item in whole["name"] if keeps(item)]
    params = {"as_of": DAY, "sort": "name", "limit": "25", "format": "csv", **filters}
    response = client.get("/branches", params=params)
    ids: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        lines = response.text.splitlines()[1:]
        assert len(lines) <= 25
        ids += [line.split(",", 1)[0] for line in lines]
        following = response.links.get("next")
        if following is None:
            break
        response = client.get(following["url"])
    assert ids == expected


@pytest.mark.parametrize("filters", [{"risk": "true"}, {"max_members": "0"}])
def test_a_walk_that_finds_nothing(
    client: TestClient, small_steps: tuple[int, ...], filters: dict[str, str]
) -> None:
    """Before any evidence no branch is at risk; no branch has fewer than one member."""
    day = "2000-01-01" if "risk" in filters else DAY
    page = client.get("/branches", params={"as_of": day, **filters}).json()
    assert (page["items"], page["total"], page["next_cursor"]) == ([], 0, None)


def test_a_kept_total_ends_the_walk_at_the_page(
    synthetic: tuple[Engine, TestClient], small_steps: tuple[int, ...]
) -> None:
    """A first page's total is kept (listing.KeptCounts): asked again at the same data
    version, the walk stops once the page is full, and the total is the one counted."""
    engine, client = synthetic
    client.app.state.kept_counts = listing.KeptCounts()  # type: ignore[attr-defined]
    client.app.state.kept_walks = listing.KeptWalks(0)  # type: ignore[attr-defined]
    client.app.state.kept_rankings = gathered.KeptRankings(0, 0)  # type: ignore[attr-defined]
    params = {"as_of": DAY, "risk": "unknown", "limit": "10"}
    steps = []
    pages = []
    for _ in range(2):
        with captured_statements(engine) as captured:
            pages.append(client.get("/branches", params=params).json())
        steps.append(sum("page_ids" in statement.sql for statement in captured))
    counted, kept = pages
    assert counted == kept
    assert 10 < counted["total"] <= listing.TOTAL_CAP
    assert steps[1] < steps[0], steps


def test_later_pages_within_a_first_pages_walk_walk_no_more(
    synthetic: tuple[Engine, TestClient], small_steps: tuple[int, ...]
) -> None:
    """A first page walks until its total is counted (up to 1,001 rows): the pages within
    those rows are cut from them (listing.KeptWalks), the pages past them walked."""
    engine, client = synthetic
    state = client.app.state  # type: ignore[attr-defined]
    state.kept_counts, state.kept_walks = listing.KeptCounts(), listing.KeptWalks()
    state.kept_rankings = gathered.KeptRankings(0, 0)  # no day's rows: walked
    params = {"as_of": DAY, "risk": "false", "limit": "300"}
    walked = []
    cursor = None
    while True:
        with captured_statements(engine) as captured:
            page = client.get(
                "/branches", params={**params, **({"cursor": cursor} if cursor else {})}
            )
        assert page.status_code == 200, page.text
        walked.append(sum("page_ids" in statement.sql for statement in captured) > 0)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    # 1,001 rows kept: the first page walks, the next two are cut, the rest walk.
    assert page.json()["items"] and len(walked) > 4
    assert walked[:4] == [True, False, False, True], walked


def test_a_walk_a_write_interrupts_is_not_kept_as_of_the_write(
    synthetic: tuple[Engine, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads a walk's steps apart: with a write committed after an empty
    step, the rows were kept as of the version of the first step that found some, the
    write's, though the empty one was read before it; asked again, they were cut from
    the kept rows, which the write may have changed. Now a walk read at more than one
    version keeps nothing: asked again, it walks again (SQLite reads a walk in one
    transaction: its rows are of the version before the write, which is then not
    current)."""
    engine, client = synthetic
    monkeypatch.setattr(listing, "WALK_STEPS", (1, 40, 300))
    real_walk = listing.walk
    steps: list[int] = []
    write_after_first_step = False

    def observed(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        for step, rows in enumerate(real_walk(*args, **kwargs)):
            steps.append(len(rows))
            yield rows
            if step == 0 and write_after_first_step:
                with engine.begin() as connection:  # another process's write
                    connection.exec_driver_sql(RAISE_DATA_VERSION)

    monkeypatch.setattr(listing, "walk", observed)

    def asked(params: dict[str, str]) -> bool:
        """Whether asking walked (or cut the page from kept rows)."""
        steps.clear()
        with captured_statements(engine):
            response = client.get("/branches", params=params)
        assert response.status_code == 200, response.text
        return bool(steps)

    # A filter whose walk's first step (one branch) finds none and a later one some.
    state = client.app.state  # type: ignore[attr-defined]
    state.kept_rankings = gathered.KeptRankings(0, 0)  # no day's rows: walked
    for filters, _ in FILTERS.values():
        state.kept_counts, state.kept_walks = listing.KeptCounts(), listing.KeptWalks()
        params = {"as_of": DAY, **filters, "limit": "10"}
        asked(params)
        if steps[0] == 0 and sum(steps) > 0:
            break
    else:
        pytest.fail("no filter's first step is empty")
    assert not asked(params), params  # kept: cut from the rows the first walk kept
    state.kept_counts, state.kept_walks = listing.KeptCounts(), listing.KeptWalks()
    write_after_first_step = True
    assert asked(params)
    write_after_first_step = False
    assert asked(params), params  # walked again: nothing of the interrupted walk served


# Orders on the risk as of the day, nationally: every branch's risk is evaluated, a range
# of ids a statement (gathered.gather), and the ranges' pages merged.
def _members_sort(item: Item) -> int:
    low = _members_low(item)
    return -1 if low is None else low


GATHERED_ORDERS: dict[str, Callable[[Item], tuple[int, int]]] = {
    # Most at risk first, newest first within a level (app.services.branches._sort_keys).
    "risk": lambda i: (-_level(i), -i["id"]),
    "members": lambda i: (_members_sort(i), i["id"]),
    "-members": lambda i: (-_members_sort(i), -i["id"]),
}
# Each of the filters on the day's risk and members (branches._day_keys).
GATHERED_FILTERS = (
    "at risk",
    "at high risk",
    "not at risk",
    "unknown",
    "at least 30 members",
    "at most 4 members",
)


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(gathered, "GATHER_IDS", 500)
    return 500


@pytest.mark.parametrize("sort", GATHERED_ORDERS)
@pytest.mark.parametrize("name", [None, *GATHERED_FILTERS])
def test_gathered_pages_are_the_day_in_that_order(
    client: TestClient,
    whole: dict[str, list[Item]],
    small_ranges: int,
    name: str | None,
    sort: str,
) -> None:
    filters, keeps = FILTERS[name] if name else ({}, lambda _: True)
    expected = sorted(filter(keeps, whole["id"]), key=GATHERED_ORDERS[sort])
    assert len(whole["id"]) > 4 * small_ranges  # pages come from several ranges
    pages = list(_pages(client, {"as_of": DAY, "sort": sort, "limit": "150", **filters}))
    assert [item for page in pages for item in page["items"]] == expected
    assert all(len(page["items"]) == 150 for page in pages[:-1])
    assert pages[0]["total"] == (len(expected) if len(expected) <= listing.TOTAL_CAP else None)


def test_a_gathered_csv_lists_the_same_branches(
    client: TestClient, whole: dict[str, list[Item]], small_ranges: int
) -> None:
    expected = [str(i["id"]) for i in sorted(whole["id"], key=GATHERED_ORDERS["-members"])]
    params = {"as_of": DAY, "sort": "-members", "limit": "500", "format": "csv"}
    response = client.get("/branches", params=params)
    ids: list[str] = []
    while True:
        assert response.status_code == 200, response.text
        ids += [line.split(",", 1)[0] for line in response.text.splitlines()[1:]]
        following = response.links.get("next")
        if following is None:
            break
        response = client.get(following["url"])
    assert ids == expected


def test_a_summary_as_of_the_day_counts_each_branch_under_its_provinces(
    synthetic: tuple[Engine, TestClient],
    whole: dict[str, list[Item]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/risk/summary as of a day, from the day's rows (gathered.DayRows): read in one
    range, in ranges, or kept by a list of that day, the same; each branch counted once,
    at its level that day, under its province as reported and its place's today."""
    engine, client = synthetic
    state = client.app.state  # type: ignore[attr-defined]
    params = {"as_of": DAY}
    summaries = []
    for ids in (10**9, 500):
        monkeypatch.setattr(gathered, "GATHER_IDS", ids)
        state.kept_rankings = gathered.KeptRankings(0, 0)
        response = client.get("/risk/summary", params=params)
        assert response.status_code == 200, response.text
        summaries.append(response.json())
    in_one, in_ranges = summaries
    assert in_ranges == in_one
    state.kept_rankings = gathered.KeptRankings()
    assert client.get("/branches", params={**params, "sort": "risk"}).status_code == 200
    with captured_statements(engine) as captured:
        assert client.get("/risk/summary", params=params).json() == in_one
    assert not [statement for statement in captured if "_day_version" in statement.sql]

    _assert_counts_each_branch(engine, in_one, whole["id"])


def test_todays_summary_counts_each_branch_under_its_provinces(
    synthetic: tuple[Engine, TestClient],
) -> None:
    """/risk/summary without a day: from the stored statuses, grouped in SQL."""
    engine, client = synthetic
    items = [i for page in _pages(client, {"limit": "500"}) for i in page["items"]]
    _assert_counts_each_branch(engine, client.get("/risk/summary").json(), items)


@pytest.mark.parametrize("day", ["2017-01-01", "2024-01-01", None])
def test_a_summary_as_of_a_day_of_the_seed(unkept_api: TestClient, day: str | None) -> None:
    """The seed's branches reported under provinces that the 2025 reform merged (their
    province today is another), and one unnamed group of several organizations; as of
    a day and today (None)."""
    as_of = {"as_of": day} if day else {}
    items = [i for page in _pages(unkept_api, {**as_of, "limit": "500"}) for i in page["items"]]
    summary = unkept_api.get("/risk/summary", params=as_of).json()
    _assert_counts_each_branch(unkept_api.app.state.engine, summary, items)  # type: ignore[attr-defined]


def _assert_counts_each_branch(engine: Engine, summary: dict[str, Any], items: list[Item]) -> None:
    """Each branch (`items`, as of the summary's day) counted once, at its level, under
    its province as reported and its place's province today; provinces in id order."""
    with engine.connect() as conn:
        places = {
            ident: (reported, today)
            for ident, reported, today in conn.exec_driver_sql(
                "SELECT b.id, b.province_id, l.current_province_id FROM branches b"
                " LEFT JOIN localities l ON l.id = b.locality_id"
            )
        }
    for index, grouping in enumerate(("reported_provinces", "today_provinces")):
        rows: Counter[tuple[int | None, str]] = Counter()
        organizations: Counter[tuple[int | None, str]] = Counter()
        for item in items:
            key = (places[item["id"]][index], item["risk"]["level"])
            rows[key] += 1
            organizations[key] += item["group_size"] or 1
        listed = [(p["province"] or {}).get("id") for p in summary[grouping]]
        named = [ident for ident in listed if ident is not None]
        assert listed == sorted(named) + [None] * (len(listed) - len(named)), grouping
        for counted, field in ((rows, "levels"), (organizations, "organizations_by_level")):
            summed = Counter(
                {
                    (ident, level): n
                    for ident, province in zip(listed, summary[grouping], strict=True)
                    for level, n in province[field].items()
                    if n
                }
            )
            assert summed == counted, (grouping, field)
