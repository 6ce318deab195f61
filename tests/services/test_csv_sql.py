"""CSV written by the database is what Python's csv writer writes, byte for byte.

app.services.csv_sql writes whole lines in SQL (SQLite, and PostgreSQL for a single
column) or has PostgreSQL's COPY quote the cells (app.services.line_pages.copy_lines).
Here both are run over a scratch table of awkward values, page by page through their
keyset cursors, and compared with app.formats.csv_cells over the same values flattened
as the JSON flattens them (app.formats.cell).
"""

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.db import make_engine
from app.formats import cell, csv_batches, csv_cells
from app.models import Branch, Fact, Locality, MembershipCount, MembershipEvent
from app.reader import Reader
from app.services.csv_sql import CsvSql
from app.services.figures import COUNT_CSV, EVENT_CSV, FACT_CSV, figure_shape
from app.services.json_sql import Flag, JsonSql, Obj, _held_to_words
from app.services.line_pages import copy_lines, fetch_lines
from app.services.listing import ListQuery
from app.services.pagination import PageRequest, SortKey

AWKWARD = [
    "plain",
    "with,comma",
    'with"quote',
    "with\nLF",
    "with\rCR",
    "with\r\nCRLF",
    "",
    " spaced ",
    '"',
    '""',
    ",",
    '","',
    "\\.",
    "back\\slash",
    "tab\there",
    "Chi bộ Thôn Nà Lừu, xã Mường Khương",
    "trailing comma,",
    "\n",
    None,
]
# SQLite stores NUL in text (PostgreSQL refuses it); printf and GLOB would stop at it.
WITH_NUL = ["a\x00b", "a\x00,b", '\x00"', "\x00"]

probe_metadata = MetaData()
probe = Table(
    "csv_probe",
    probe_metadata,
    Column("id", Integer, primary_key=True),
    Column("a", Text),
    Column("b", Text),
    Column("n", Integer),
    Column("day", Date, nullable=False),
    Column("x", Float),
    Column("yes", Boolean),
    Column("other_id", Integer),
    Column("other_name", Text),
)
SHAPE = Obj(
    {
        "id": probe.c.id,
        "a": probe.c.a,
        "n": probe.c.n,
        "day": probe.c.day,
        "x": probe.c.x,
        "yes": Flag(probe.c.yes),
        "other": Obj(
            {"id": probe.c.other_id, "name": probe.c.other_name}, present=probe.c.other_id
        ),
        "b": probe.c.b,
    }
)
PATHS = ("id", "a", "n", "day", "x", "yes", "other.id", "other.name", "b")


def _rows(backend: str) -> list[dict[str, Any]]:
    texts = AWKWARD + (WITH_NUL if backend == "sqlite" else [])
    rows = []
    for i, a in enumerate(texts):
        rows.append(
            {
                "id": i + 1,
                "a": a,
                "b": texts[-1 - i],
                "n": None if i % 3 == 0 else i * 1000,
                # Few days, so that rows share a day and the date order needs the id too.
                "day": date(2020 + i % 3, 1, 31),
                "x": [None, 2.0, 0.25, -1.5, 1234.5][i % 5],
                "yes": [None, True, False][i % 3],
                "other_id": None if i % 4 == 0 else i,
                "other_name": texts[(i * 7) % len(texts)],
            }
        )
    return rows


@pytest.fixture
def probed(migrated_url: str, backend: str) -> Iterator[tuple[Engine, list[dict[str, Any]]]]:
    engine = make_engine(migrated_url)
    rows = _rows(backend)
    probe_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(probe), rows)
    yield engine, rows
    engine.dispose()


def _flattened(row: dict[str, Any], paths: tuple[str, ...]) -> list[str]:
    """The cells as the JSON flattening writes them (app.formats.csv_lines)."""
    item = {
        **row,
        "yes": bool(row["yes"]),
        "other": None
        if row["other_id"] is None
        else {"id": row["other_id"], "name": row["other_name"]},
    }
    cells = []
    for path in paths:
        value: Any = item
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        cells.append(cell(value))
    return cells


def _keys(sort: str) -> tuple[SortKey, ...]:
    descending = sort.startswith("-")
    if sort.lstrip("-") == "day":
        return (SortKey(probe.c.day, date, descending), SortKey(probe.c.id, int, descending))
    return (SortKey(probe.c.id, int, descending),)


def _listing(columns: Any, sort: str) -> ListQuery:
    """The probe's rows selecting these columns (a line, or COPY's cells), in this order."""
    return ListQuery(select(*columns).select_from(probe), _keys(sort))


def _ordered(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    by_day = sort.lstrip("-") == "day"
    return sorted(
        rows,
        key=lambda r: (r["day"], r["id"]) if by_day else r["id"],
        reverse=sort.startswith("-"),
    )


def _expected(rows: list[dict[str, Any]], paths: tuple[str, ...], sort: str) -> bytes:
    flat = [_flattened(r, paths) for r in _ordered(rows, sort)]
    return "".join(csv_cells(flat, paths)).encode()


def _streamed(engine: Engine, fetch: Any, paths: tuple[str, ...], sort: str, limit: int) -> bytes:
    """Every page, following the cursors, as the export writes them."""

    def pages() -> Iterator[list[Any]]:
        cursor = None
        for _ in range(100):  # more pages than rows: a cursor that does not advance
            with Reader.open(engine) as reader:
                page = fetch(reader, PageRequest(limit, cursor, sort, "digest"))
            assert len(page.items) <= limit
            yield page.items
            cursor = page.next_cursor
            if cursor is None:
                return
        raise AssertionError("the pages never end")

    chunks = csv_batches(pages(), paths)
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)


@pytest.mark.parametrize("sort", ["id", "-id", "day", "-day"])
@pytest.mark.parametrize("limit", [1, 4, 500])
def test_lines_are_what_the_csv_writer_writes(
    probed: tuple[Engine, list[dict[str, Any]]], sort: str, limit: int
) -> None:
    engine, rows = probed
    listing = _listing([CsvSql(engine.dialect.name).line(SHAPE, PATHS)], sort)

    def fetch(reader: Reader, page: PageRequest) -> Any:
        return fetch_lines(reader, listing, {}, page, b"secret")

    assert _streamed(engine, fetch, PATHS, sort, limit) == _expected(rows, PATHS, sort)


@pytest.mark.parametrize("sort", ["id", "-id", "day", "-day"])
@pytest.mark.parametrize("limit", [1, 4, 500])
def test_copy_is_what_the_csv_writer_writes(
    probed: tuple[Engine, list[dict[str, Any]]], backend: str, sort: str, limit: int
) -> None:
    if backend != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    engine, rows = probed
    listing = _listing(CsvSql("postgresql").copy_cells(SHAPE, PATHS), sort)

    def fetch(reader: Reader, page: PageRequest) -> Any:
        return copy_lines(reader, listing, {}, page, b"secret")

    assert _streamed(engine, fetch, PATHS, sort, limit) == _expected(rows, PATHS, sort)


@pytest.mark.parametrize("path", ["a", "n", "other.name"])
def test_a_lone_empty_field_is_quoted_as_the_writer_does(
    probed: tuple[Engine, list[dict[str, Any]]], path: str
) -> None:
    """csv.writer writes a row of one empty field as "", not as an empty line."""
    engine, rows = probed
    listing = _listing([CsvSql(engine.dialect.name).line(SHAPE, (path,))], "id")

    def fetch(reader: Reader, page: PageRequest) -> Any:
        return fetch_lines(reader, listing, {}, page, b"secret")

    expected = _expected(rows, (path,), "id")
    assert b'""\r\n' in expected
    assert _streamed(engine, fetch, (path,), "id", 500) == expected


def test_dates_are_iso_whatever_the_session_datestyle(
    probed: tuple[Engine, list[dict[str, Any]]], backend: str
) -> None:
    """PostgreSQL writes days as its DateStyle says; the lines set ISO for themselves."""
    if backend != "postgresql":
        pytest.skip("DateStyle is PostgreSQL's")
    engine, rows = probed
    by_line_listing = _listing([CsvSql("postgresql").line(SHAPE, PATHS)], "id")
    by_copy_listing = _listing(CsvSql("postgresql").copy_cells(SHAPE, PATHS), "id")
    with Session(engine) as session:
        session.connection().exec_driver_sql("SET DateStyle TO German")
        page = PageRequest(500, None, "id", "digest")
        reader = Reader.on(session)
        by_line = fetch_lines(reader, by_line_listing, {}, page, b"secret")
        by_copy = copy_lines(reader, by_copy_listing, {}, page, b"secret")
    expected = _expected(rows, PATHS, "id").split(b"\r\n", 1)[1]  # without the header
    assert "".join(by_line.items).encode() == expected
    assert b"".join(by_copy.items) == expected


def test_cells_held_to_words_cannot_hold_anything_to_quote(engine: Engine) -> None:
    """Cells left untested for quoting because a CHECK constraint holds their column to a
    list of words (kinds, statuses, qualifiers): the database refuses anything else."""
    held = set()
    for model, paths in (
        (MembershipCount, COUNT_CSV),
        (MembershipEvent, EVENT_CSV),
        (Fact, FACT_CSV),
    ):
        for path in paths:
            leaf = _leaf(figure_shape(model), path)
            if _held_to_words(leaf):
                held.add(next(iter(leaf.base_columns)))
    assert {(c.table.name, c.name) for c in held} >= {
        ("membership_counts", "status"),
        ("membership_counts", "qualifier"),
        ("membership_events", "kind"),
        ("branches", "kind"),
        ("localities", "kind"),
    }
    for column in held:
        with Session(engine) as session, pytest.raises(IntegrityError):
            session.execute(column.table.update().values({column.name: 'a,"b"'}))
            session.flush()


def _leaf(shape: Obj, path: str) -> Any:
    node: Any = shape
    for part in path.split("."):
        node = node.fields[part]
    return node


def test_only_plain_cells_skip_the_quoting() -> None:
    """Free text is always tested, whatever its table or type name."""
    json = JsonSql("sqlite")
    plain = {p for p in COUNT_CSV if json.cell(figure_shape(MembershipCount), p).plain}
    assert plain == {
        "id",
        "branch.id",
        "branch.kind",
        "branch.group_size",
        "locality.id",
        "locality.kind",
        "value",
        "value_max",
        "status",
        "as_of",
        "qualifier",
        "applies_to_each",
        "evidence_date",
        "evidence_date_basis",
        "source.id",
        "source.published_on",
    }
    assert not _held_to_words(Branch.__table__.c.name)  # type: ignore[attr-defined]
    assert not _held_to_words(Locality.__table__.c.name)  # type: ignore[attr-defined]


def test_batches_of_lines_cells_and_bytes_make_one_csv() -> None:
    columns = ["id", "a.b"]
    batches: list[list[Any]] = [
        [b"1,x\r\n", b"2,y\r\n"],
        [],
        ["3,z\r\n"],
        [(4, "w,v"), (5, None)],
    ]
    chunks = list(csv_batches(batches, columns, bom=True))
    text = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    assert text == '\ufeffid,a_b\r\n1,x\r\n2,y\r\n3,z\r\n4,"w,v"\r\n5,\r\n'.encode()
