"""CSV rendered by the database says exactly what the JSON says.

CSV pages and exports of branches and figures are cells computed in SQL
(app/services/json_sql.py); the JSON items are rendered separately. Flattening the JSON
items with app.formats.csv_lines must give the same text, byte for byte, on both
databases: nulls, booleans, dates, qualifiers, nested sources and all.
"""

import csv
import io
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from app.api import responses
from app.config import Settings
from app.db import make_engine
from app.errors import PROBLEM_JSON
from app.formats import csv_lines
from app.main import create_app
from app.services.branch_items import refresh_items
from app.services.branches import BRANCH_CSV
from app.services.figures import COUNT_CSV, EVENT_CSV, FACT_CSV
from app.services.localities import LOCALITY_CSV
from app.services.sources import SOURCE_CSV

LISTS = [
    ("/membership-counts", COUNT_CSV, ["", "sort=-date", "status=all"]),
    ("/admissions", EVENT_CSV, ["", "sort=-date", "kind=admission"]),
    ("/facts", FACT_CSV, ["", "sort=date"]),
    ("/branches", BRANCH_CSV, ["", "sort=name", "risk=true", "as_of=2017-01-01", "sort=risk"]),
    ("/localities", LOCALITY_CSV, ["", "sort=name", "kind=village"]),
    ("/sources", SOURCE_CSV, [""]),
]
CASES = [(path, columns, query) for path, columns, queries in LISTS for query in queries]


def _all_items(api: TestClient, path: str, query: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    url: str | None = f"{path}?{query}&limit=5"
    while url:
        page = api.get(url)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        url = page.json()["next"]
    return items


@pytest.mark.parametrize(("path", "columns", "query"), CASES)
def test_csv_cells_equal_the_json_flattened(
    api: TestClient, path: str, columns: list[str], query: str
) -> None:
    items = _all_items(api, path, query)
    assert items, "the seed has rows for every case"
    expected = "".join(csv_lines(items, columns))
    export = api.get(f"{path}?{query}&format=csv")
    page = api.get(f"{path}?{query}&format=csv&limit=500")
    assert export.status_code == page.status_code == 200
    assert export.text == expected
    assert page.text == expected


# What a figure's row must carry for a reader to check it without the JSON: the sentence
# and the figure in it, its qualifier, how its date was found, and its source.
PROVENANCE = [
    "id",
    "value",
    "value_max",
    "qualifier",
    "applies_to_each",
    "evidence_date",
    "evidence_date_basis",
    "date_note",
    *(f"source.{field}" for field in ("id", "key", "publisher", "title", "published_on", "url")),
    "quote",
    "figure",
]
COUNT_FIELDS = [*PROVENANCE, "status", "as_of"]


@pytest.mark.parametrize(
    ("columns", "figure", "fields"),
    [
        (COUNT_CSV, "", COUNT_FIELDS),
        (EVENT_CSV, "", PROVENANCE),
        (FACT_CSV, "", PROVENANCE),
        (BRANCH_CSV, "latest_count.", COUNT_FIELDS),
    ],
)
def test_a_figure_in_csv_carries_its_provenance(
    columns: list[str], figure: str, fields: list[str]
) -> None:
    """A branch's latest count in CSV said a day without saying how it was found (a day
    the figure was registered by, for a count of 2018) and left out the figure."""
    assert [f"{figure}{f}" for f in fields if f"{figure}{f}" not in columns] == []


def test_csv_pages_follow_the_same_cursor_as_json(api: TestClient) -> None:
    first = api.get("/membership-counts?format=csv&limit=3")
    assert first.status_code == 200
    next_link = first.headers["link"].split(";")[0].strip("<>")
    second = api.get(next_link)
    ids = [line.split(",")[0] for line in (first.text + second.text).splitlines()]
    json_ids = [str(item["id"]) for item in api.get("/membership-counts?limit=6").json()["items"]]
    assert [i for i in ids if i != "id"] == json_ids


# -- Awkward text, many batches, time limits ------------------------------------------------
# Figures' CSV is written by the database (app.services.csv_sql: whole lines on SQLite,
# COPY on PostgreSQL). Text that needs quoting, empty text, line breaks and, on SQLite,
# NUL (PostgreSQL refuses it) must come out as the JSON flattened says.
AWKWARD = [
    "with,comma",
    'with"quote',
    "with\nLF",
    "with\rCR",
    "with\r\nCRLF",
    "",
    " spaced ",
    '"',
    ",",
    "\\.",
    "tab\there",
    "Chi bộ Thôn Nà Lừu, xã Mường Khương",
]
WITH_NUL = ["a\x00b", "a\x00,b", "\x00"]
FIGURE_LISTS = [
    (
        "/membership-counts",
        COUNT_CSV,
        "membership_counts",
        ["note", "date_note", "figure", "quote"],
    ),
    ("/admissions", EVENT_CSV, "membership_events", ["reason", "note", "figure"]),
    ("/facts", FACT_CSV, "facts", ["dimension", "unit", "note"]),
]


def _awkward(backend: str) -> list[str]:
    return AWKWARD + (WITH_NUL if backend == "sqlite" else [])


@pytest.fixture
def awkward_api(seeded_url: str, backend: str) -> Iterator[TestClient]:
    """The seed with awkward text in every kind of column that the figure CSVs show."""
    values = _awkward(backend)
    engine = make_engine(seeded_url)
    with engine.begin() as conn:
        for _, _, table, columns in FIGURE_LISTS:
            ids = conn.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars().all()
            for n, ident in enumerate(ids):
                row = {c: values[(n + i) % len(values)] for i, c in enumerate(columns)}
                row["key"] = f"{values[n % len(values)]}#{ident}"  # keys are unique
                assignments = ", ".join(f"{c} = :{c}" for c in row)
                conn.execute(text(f"UPDATE {table} SET {assignments} WHERE id = {ident}"), row)
        for table, columns in (
            ("sources", ["title", "publisher", "url"]),
            ("branches", ["name", "note"]),
        ):
            ids = conn.execute(text(f"SELECT id FROM {table} ORDER BY id")).scalars().all()
            for n, ident in enumerate(ids):
                row = {c: values[(n + i) % len(values)] for i, c in enumerate(columns)}
                assignments = ", ".join(f"{c} = :{c}" for c in row)
                conn.execute(text(f"UPDATE {table} SET {assignments} WHERE id = {ident}"), row)
    settings = Settings(database_url=seeded_url)
    with Session(engine) as session:
        # Written behind the service's back: the branches' stored items show them once
        # rendered again, as a write through the API would have.
        refresh_items(session, settings.risk_rules)
        session.commit()
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        yield client


def _csv_pages(api: TestClient, url: str) -> str:
    """A CSV list followed page by page through its Link headers, one header line."""
    texts = []
    next_url: str | None = url
    while next_url:
        page = api.get(next_url)
        assert page.status_code == 200, page.text
        texts.append(page.text if not texts else page.text.split("\r\n", 1)[1])
        link = page.headers.get("link")
        next_url = link.split(";")[0].strip("<>") if link else None
    return "".join(texts)


# Branches' CSV lines too (names, notes, and their sources' titles and publishers).
AWKWARD_CASES = [
    *((path, columns, sort) for path, columns, _, _ in FIGURE_LISTS for sort in ("id", "-date")),
    *(("/branches", BRANCH_CSV, sort) for sort in ("id", "name", "risk")),
]


@pytest.mark.parametrize(("path", "columns", "sort"), AWKWARD_CASES)
def test_awkward_text_in_csv_is_the_json_flattened(
    awkward_api: TestClient,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    columns: list[str],
    sort: str,
) -> None:
    query = f"sort={sort}"
    items = _all_items(awkward_api, path, query)
    assert len(items) > 4
    expected = "".join(csv_lines(items, columns))
    assert any(value in expected for value in _awkward(backend) if value)
    # Several export batches, so that the stream crosses batch boundaries (keyset cursors).
    monkeypatch.setattr(responses, "EXPORT_BATCH", 4)
    assert awkward_api.get(f"{path}?{query}&format=csv").text == expected
    assert awkward_api.get(f"{path}?{query}&format=csv&limit=500").text == expected
    assert _csv_pages(awkward_api, f"{path}?{query}&format=csv&limit=3") == expected
    bom = awkward_api.get(f"{path}?{query}&format=csv&bom=true")
    assert bom.content == b"\xef\xbb\xbf" + expected.encode()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "SELECT" not in response.text.upper() and "COPY" not in response.text.upper()


@pytest.mark.parametrize("limit", ["", "&limit=500"])
def test_a_figure_csv_cut_by_the_time_limit_is_a_503(
    backend: str, seeded_url: str, limit: str
) -> None:
    """Reading the lines is where SQLite runs the statement (and where PostgreSQL's COPY
    waits): a read cut by the time limit is a 503 problem, not a 500.

    PostgreSQL: the COPY waits behind a lock that another session holds until
    statement_timeout cancels it. SQLite: the limit is far below what the read takes, and
    the progress handler stops it among its rows.
    """
    url = f"/membership-counts?format=csv{limit}"
    locker = create_engine(seeded_url)
    seconds = 0.3 if backend == "postgresql" else 1e-6
    settings = Settings(database_url=seeded_url, statement_timeout_s=seconds)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    with client, locker.connect() as conn:
        if backend == "postgresql":
            conn.execute(text("LOCK TABLE membership_counts IN ACCESS EXCLUSIVE MODE"))
        _assert_unavailable(client.get(url))
        conn.rollback()
    locker.dispose()


def test_filtered_figure_csv_is_the_json_flattened(api: TestClient) -> None:
    """Filters bind values (lists of ids, days) into the statement that writes the CSV."""
    first = api.get("/membership-counts?limit=1").json()["items"][0]
    branch = api.get(f"/branches/{first['branch']['id']}").json()
    # A province's scope is a list of ids (its units and those they replaced).
    scopes = [
        f"locality={branch['today']['province']['id']}",
        f"locality={first['locality']['id']}",
    ]
    queries = [
        *scopes,
        f"branch={first['branch']['id']}",
        f"source={first['source']['id']}",
        "from=2015-01-01&to=2022-12-31&sort=-date",
        "status=all&sort=date",
    ]
    for query in queries:
        items = _all_items(api, "/membership-counts", query)
        assert items, query
        expected = "".join(csv_lines(items, COUNT_CSV))
        assert api.get(f"/membership-counts?{query}&format=csv").text == expected, query
        assert api.get(f"/membership-counts?{query}&format=csv&limit=2").text == "".join(
            csv_lines(items[:2], COUNT_CSV)
        ), query


@pytest.mark.parametrize("limit", ["", "&limit=5"])
def test_a_figure_csv_of_nothing_is_its_header(api: TestClient, limit: str) -> None:
    response = api.get(f"/membership-counts?from=2100-01-01&format=csv{limit}")
    assert response.status_code == 200
    assert response.text == "".join(csv_lines([], COUNT_CSV))
    assert "link" not in response.headers


def test_csv_days_are_iso_whatever_the_databases_datestyle(seeded_url: str, backend: str) -> None:
    """PostgreSQL writes days in the session's DateStyle, which a database may default to
    another: the app's connections start in ISO (app.db.ISO_DAYS)."""
    if backend != "postgresql":
        pytest.skip("DateStyle is PostgreSQL's")
    admin = create_engine(seeded_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET DateStyle = German')
    admin.dispose()
    with TestClient(create_app(Settings(database_url=seeded_url))) as client:
        for path, columns in (("/membership-counts", COUNT_CSV), ("/branches", BRANCH_CSV)):
            expected = "".join(csv_lines(_all_items(client, path, ""), columns))
            assert re.search(r",\d{4}-\d{2}-\d{2},", expected)  # days as the JSON writes them
            assert client.get(f"{path}?format=csv&limit=500").text == expected
            assert client.get(f"{path}?format=csv").text == expected


LARGE_VALUES = [999_999_999_999_999.0, 1e15, 2_147_483_648.0, -2_147_483_649.0, 0.5, 2.0**60]


@pytest.fixture
def large_figures_api(seeded_url: str) -> Iterator[TestClient]:
    """Facts as large as a write takes (10^15), beyond a 32-bit integer."""
    engine = make_engine(seeded_url)
    with engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM facts ORDER BY id")).scalars().all()
        for ident, value in zip(ids, LARGE_VALUES, strict=False):
            conn.execute(
                text("UPDATE facts SET value = :v, value_max = NULL, out_of = :v WHERE id = :i"),
                {"v": value, "i": ident},
            )
    engine.dispose()
    with TestClient(create_app(Settings(database_url=seeded_url))) as client:
        yield client


def test_large_figures_in_csv_are_the_json_flattened(large_figures_api: TestClient) -> None:
    """From a parity audit: on PostgreSQL every CSV of facts was a 500 once one fact
    held more than 2^31 - 1 (its whole-number test cast to a 32-bit INTEGER)."""
    items = _all_items(large_figures_api, "/facts", "")
    expected = "".join(csv_lines(items, FACT_CSV))
    assert "999999999999999," in expected and "2147483648," in expected
    for query in ("format=csv", "format=csv&limit=500", "format=csv&metric=households"):
        response = large_figures_api.get(f"/facts?{query}")
        assert response.status_code == 200, response.text
    assert large_figures_api.get("/facts?format=csv").text == expected
    assert _csv_pages(large_figures_api, "/facts?format=csv&limit=3") == expected


def test_a_csv_place_has_its_key_beside_its_code(api: TestClient) -> None:
    """From a reform audit: old Lâm Thượng and today's bore the same code, 04309, and a
    CSV row said nothing else of either: a journalist joining on it joins two units."""
    rows = list(csv.DictReader(io.StringIO(api.get("/branches?format=csv").text)))
    [lam_thuong] = [r for r in rows if r["locality_key"] == "vn2004:04309"]
    assert lam_thuong["locality_code"] == lam_thuong["today_commune_code"] == "04309"
    assert lam_thuong["today_commune_key"] == "vn2025:04309"
    counts = csv.DictReader(io.StringIO(api.get("/membership-counts?format=csv").text))
    assert all(r["locality_key"].startswith(("vn2004:", "vn2025:")) for r in counts)
