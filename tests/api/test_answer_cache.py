"""A place's stats, a branch's detail and the JSON list pages are kept until the data
changes, whoever changes it.

The database raises the data version in every writing transaction (migration 0008's
triggers); a kept answer is served only at the version it was built from.
"""

import gzip
from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.compression import MINIMUM_SIZE
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Branch, Locality, metadata
from app.reader import Reader
from app.services import answer_cache
from app.services.answer_cache import data_version
from app.services.branches import branch_detail
from app.services.json_sql import encode_json, gzip_etag
from app.services.localities import locality_detail
from app.services.risk_explain import explain_risk
from app.services.stats import locality_stats
from app.services.status import refresh_status
from tests.api.helpers import locality
from tests.api.test_writes import count_body, editor, id_of, make_key, new_source
from tests.conftest import StatementCounter, announced

__all__ = ["editor"]  # a fixture, used by name

# Written by the service but not data: the answers do not depend on them.
# Keys, the log, the version itself, and the ids retired with their rows (no answer
# shows them: a deleted row changes the data by its own table's trigger).
NOT_DATA = {"api_keys", "idempotency_keys", "audit_log", "data_version", "retired_ids"}
TIEN_PHONG = "org:vn2004:05251/xom-tien-phong"


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def _version(client: TestClient) -> int | None:
    with Reader.open(_engine(client)) as reader:
        return data_version(reader)


def _fresh_stats(client: TestClient, locality_id: int) -> Any:
    """The stats built now, without the kept answers."""
    with Reader.open(_engine(client)) as reader:
        return orjson.loads(encode_json(locality_stats(reader, locality_id)))


def _fresh_detail(client: TestClient, branch_id: int) -> Any:
    """The branch's detail built now, without the kept answers."""
    rules = client.app.state.settings.risk_rules  # type: ignore[attr-defined]
    with Reader.open(_engine(client)) as reader:
        return orjson.loads(encode_json(branch_detail(reader, branch_id, rules, None)))


def _only_the_version(client: TestClient, counter: StatementCounter) -> None:
    """A kept answer served: SQLite read the version's row, and nothing else; PostgreSQL,
    which announces the version (migration 0013), nothing at all."""
    if _engine(client).dialect.name == "sqlite":
        assert len(counter.statements) == 1 and _is_the_version(counter.statements[0])
    else:
        assert counter.statements == []


def _is_the_version(statement: str) -> bool:
    return statement.startswith("SELECT data_version.version \nFROM data_version \nWHERE")


def _built(counter: StatementCounter) -> bool:
    """The answer was built: something other than the version's row was read."""
    return any(not _is_the_version(statement) for statement in counter.statements)


def _triggered_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'"
        else:
            # The raising triggers (the version's row has its own: migration 0013).
            query = (
                "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
                "WHERE NOT tgisinternal AND tgfoid = 'raise_data_version'::regproc"
            )
        return {row[0] for row in conn.execute(text(query))}


def test_every_data_table_raises_the_version(api: TestClient) -> None:
    """A table added later without the trigger would serve stale answers: it fails here."""
    data_tables = {t.name for t in metadata.sorted_tables} - NOT_DATA
    assert _triggered_tables(_engine(api)) == data_tables


def test_a_repeated_request_reads_the_version_only(api: TestClient, count_statements) -> None:  # type: ignore[no-untyped-def]
    luc_yen = locality(api, "135", current=False)["id"]
    first = api.get(f"/localities/{luc_yen}/stats")
    with count_statements() as counter:
        again = api.get(f"/localities/{luc_yen}/stats")
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    _only_the_version(api, counter)
    with count_statements() as counter:
        other = api.get(f"/localities/{luc_yen}/stats", params={"records": 0})
    assert _built(counter), "another records= is another answer"
    assert other.content != first.content


def test_a_write_through_the_api_is_seen(write_api: TestClient, editor: dict[str, str]) -> None:
    mai_ha = id_of(write_api, Locality, "vn2004:05251")
    path = f"/localities/{mai_ha}/stats"
    before = write_api.get(path)
    version = _version(write_api)
    assert write_api.get(path).content == before.content
    source = new_source(write_api, editor)
    body = count_body(source["id"], id_of(write_api, Branch, TIEN_PHONG), as_of="2024-01-01")
    assert write_api.post("/membership-counts", json=body, headers=editor).status_code == 201
    assert _version(write_api) > version
    after = write_api.get(path)
    assert after.content != before.content
    assert after.json() == _fresh_stats(write_api, mai_ha)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["on-its-engine", "another-process"])
def test_a_write_in_sql_by_hand_is_seen(
    write_api: TestClient, seeded_url: str, elsewhere: bool
) -> None:
    """Not through the service at all: SQL on the app's own engine, at once; or another
    process's, or an operator's UPDATE: on PostgreSQL, once the database announced it."""
    luc_yen = locality(write_api, "135", current=False)["id"]
    path = f"/localities/{luc_yen}/stats"
    before = write_api.get(path).json()
    [source] = {
        (r["source"]["id"], r["source"]["title"])
        for y in before["years"]
        for r in y["admissions"]["records"]
    }
    engine = make_engine(seeded_url) if elsewhere else _engine(write_api)

    def retitle(title: str) -> None:
        with engine.begin() as conn:
            update = text("UPDATE sources SET title = :title WHERE id = :id")
            conn.execute(update, {"title": title, "id": source[0]})
        if elsewhere:
            announced(write_api)

    try:
        version = _version(write_api)
        retitle("Tiêu đề đã sửa")
        assert _version(write_api) == version + 1
        after = write_api.get(path).json()
        titles = {r["source"]["title"] for y in after["years"] for r in y["admissions"]["records"]}
        assert titles == {"Tiêu đề đã sửa"}
        assert after == _fresh_stats(write_api, luc_yen)
        # Back as it was (the branches' stored items quote the title too).
        retitle(source[1])
        assert write_api.get(path).json() == before
    finally:
        if elsewhere:
            engine.dispose()


def test_a_rolled_back_write_leaves_the_version(write_api: TestClient) -> None:
    version = _version(write_api)
    with _engine(write_api).connect() as conn:
        conn.execute(text("UPDATE sources SET title = 'x'"))
        conn.rollback()
    assert _version(write_api) == version


def test_writes_that_are_not_data_leave_the_version(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    """A new key, the audit log, a refused write: the kept answers stay."""
    version = _version(write_api)
    make_key(write_api, "another")
    refused = write_api.post("/membership-counts", json={"value": -1}, headers=editor)
    assert refused.status_code == 422
    with _engine(write_api).begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert _version(write_api) == version


def test_without_the_version_row_nothing_is_kept(write_api: TestClient) -> None:
    """An operator deleted it: the triggers then raise nothing, so every answer is built."""
    luc_yen = locality(write_api, "135", current=False)["id"]
    path = f"/localities/{luc_yen}/stats"
    before = write_api.get(path).json()
    [(source_id, title)] = {
        (r["source"]["id"], r["source"]["title"])
        for y in before["years"]
        for r in y["admissions"]["records"]
    }
    retitle = text("UPDATE sources SET title = :title WHERE id = :id")
    with _engine(write_api).begin() as conn:
        conn.execute(text("DELETE FROM data_version"))
    assert _version(write_api) is None
    assert write_api.get(path).json() == before
    with _engine(write_api).begin() as conn:
        conn.execute(retitle, {"title": "Tiêu đề mới", "id": source_id})
    after = write_api.get(path).json()
    assert {r["source"]["title"] for y in after["years"] for r in y["admissions"]["records"]} == {
        "Tiêu đề mới"
    }
    with _engine(write_api).begin() as conn:
        conn.execute(retitle, {"title": title, "id": source_id})


def test_a_branch_detail_is_kept_per_day_asked(api: TestClient, count_statements) -> None:  # type: ignore[no-untyped-def]
    path = f"/branches/{id_of(api, Branch, TIEN_PHONG)}"
    first = api.get(path)
    assert first.status_code == 200
    with count_statements() as counter:
        again = api.get(path)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    _only_the_version(api, counter)
    with count_statements() as counter:
        past = api.get(path, params={"as_of": "2019-02-03"})
    assert past.status_code == 200
    assert _built(counter), "another as_of is another answer"
    assert past.json()["id"] == first.json()["id"]


def test_a_write_to_a_branch_is_seen_in_its_detail(
    write_api: TestClient, editor: dict[str, str]
) -> None:
    tien_phong = id_of(write_api, Branch, TIEN_PHONG)
    path = f"/branches/{tien_phong}"
    before = write_api.get(path).json()
    assert write_api.get(path).json() == before
    source = new_source(write_api, editor)
    body = count_body(source["id"], tien_phong, as_of="2024-01-01")
    assert write_api.post("/membership-counts", json=body, headers=editor).status_code == 201
    after = write_api.get(path).json()
    assert len(after["counts"]) == len(before["counts"]) + 1
    assert after == _fresh_detail(write_api, tien_phong)


def test_the_day_turning_is_seen_in_a_branch_detail(write_api: TestClient) -> None:
    """Risk "as of today" is the stored status: its refresh for a new day is a write."""
    tien_phong = id_of(write_api, Branch, TIEN_PHONG)
    path = f"/branches/{tien_phong}"
    rules = write_api.app.state.settings.risk_rules  # type: ignore[attr-defined]

    def refresh(today: date) -> None:
        with Session(_engine(write_api)) as session:
            refresh_status(session, rules, today=today)
            session.commit()

    before = write_api.get(path).json()
    version = _version(write_api)
    refresh(date.today() + timedelta(days=20 * 365))
    assert _version(write_api) > version
    later = write_api.get(path).json()
    assert later != before, "twenty years without news changes a branch's risk"
    assert later == _fresh_detail(write_api, tien_phong)
    refresh(date.today())  # as the fixture checks it afterwards
    assert write_api.get(path).json() == before


def test_with_nothing_kept_the_version_is_not_read(unkept_api: TestClient) -> None:
    """ANSWER_CACHE_MB=0: every answer is built, without the version's round trip."""
    paths = [
        f"/branches/{id_of(unkept_api, Branch, TIEN_PHONG)}",
        f"/localities/{locality(unkept_api, '135', current=False)['id']}/stats",
    ]
    for path in paths:
        first = unkept_api.get(path)
        with StatementCounter(_engine(unkept_api)) as counter:
            again = unkept_api.get(path)
        assert again.content == first.content
        assert counter.count >= 1
        assert not any("data_version" in s for s in counter.statements), path


def test_a_list_page_is_kept_with_its_link(api: TestClient, count_statements) -> None:  # type: ignore[no-untyped-def]
    path = "/branches?limit=2&sort=-members"
    first = api.get(path)
    assert first.status_code == 200 and first.json()["next"]
    with count_statements() as counter:
        again = api.get(path)
    _only_the_version(api, counter)
    assert again.content == first.content
    for header in ("etag", "link", "cache-control", "content-type"):
        assert again.headers[header] == first.headers[header], header
    assert api.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    # The query as sent is the key: another page, another order of the same
    # parameters (its `next` keeps their order), the next page.
    for other in (
        "/branches?limit=3&sort=-members",
        "/branches?sort=-members&limit=2",
        first.json()["next"],
    ):
        with count_statements() as counter:
            response = api.get(other)
        assert response.status_code == 200
        assert _built(counter), other
        assert response.content != first.content, other


@pytest.mark.parametrize(
    ("query", "headers", "media_type"),
    [
        ("&format=csv", {}, "text/csv"),
        ("", {"Accept": "text/csv"}, "text/csv"),
        ("&format=ndjson", {}, "application/x-ndjson"),
    ],
)
def test_a_csv_page_is_kept_apart_from_the_json_page(
    api: TestClient, count_statements, query: str, headers: dict[str, str], media_type: str
) -> None:  # type: ignore[no-untyped-def]
    """Another format, by parameter or by Accept: another answer, kept as it is sent."""
    path = "/branches?limit=2&sort=-id"
    json_page = api.get(path)
    with count_statements() as counter:
        first = api.get(path + query, headers=headers)
    assert _built(counter), "built, not the JSON page"
    with count_statements() as counter:
        again = api.get(path + query, headers=headers)
    _only_the_version(api, counter)
    assert again.content == first.content and again.content != json_page.content
    for header in ("etag", "link", "content-disposition"):
        assert again.headers[header] == first.headers[header], header
    assert again.headers["content-type"].startswith(media_type)
    assert again.headers["etag"] != json_page.headers["etag"]
    revalidate = {**headers, "If-None-Match": first.headers["etag"]}
    assert api.get(path + query, headers=revalidate).status_code == 304
    assert api.get(path).content == json_page.content


def test_a_write_is_seen_in_a_list_page(write_api: TestClient, editor: dict[str, str]) -> None:
    tien_phong = id_of(write_api, Branch, TIEN_PHONG)
    path = "/branches?limit=200"

    def latest(page: Any) -> Any:
        [item] = [i for i in page["items"] if i["id"] == tien_phong]
        return item["latest_count"]

    before = write_api.get(path).json()
    assert write_api.get(path).json() == before
    source = new_source(write_api, editor, published_on=date.today().isoformat())
    body = count_body(source["id"], tien_phong, as_of=date.today().isoformat())
    assert write_api.post("/membership-counts", json=body, headers=editor).status_code == 201
    after = write_api.get(path).json()
    assert latest(after) != latest(before)
    assert latest(after)["value"] == 9
    fresh = write_api.get(path + "&sort=id").json()  # another key: built now
    assert after["items"] == fresh["items"] and after["total"] == fresh["total"]


def test_a_list_page_is_kept_for_its_day(
    api: TestClient, count_statements, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A place's "today" (its successor in force) is rendered for the day asked."""
    path = "/localities?limit=5"
    first = api.get(path)
    _on_day(monkeypatch, "app.api.responses", date.today() + timedelta(days=1))
    with count_statements() as counter:
        assert api.get(path).status_code == 200
    assert _built(counter)
    monkeypatch.undo()
    with count_statements() as counter:
        assert api.get(path).content == first.content
    _only_the_version(api, counter)


def _sent(client: TestClient, path: str, encoding: str) -> tuple[dict[str, str], bytes]:
    """The headers and the body as they went over the wire (httpx decodes gzip)."""
    with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        assert response.status_code == 200, path
        return dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize("path", ["/branches?limit=50", "/branches/1", "/localities/1/stats"])
def test_a_kept_answer_is_compressed_once_for_gzip(
    api: TestClient, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compressed: list[int] = []

    def counting_gzip(body: bytes) -> bytes:
        compressed.append(len(body))
        return gzip.compress(body)

    monkeypatch.setattr(answer_cache, "gzip_body", counting_gzip)
    state = api.app.state  # type: ignore[attr-defined]
    shared = state.answers
    state.answers = answer_cache.AnswerCache(shared.max_bytes)  # none compressed yet
    try:
        plain_headers, plain = _sent(api, path, "identity")
        first_headers, first = _sent(api, path, "gzip")
        again_headers, again = _sent(api, path, "gzip")
    finally:
        state.answers = shared
    assert len(plain) >= MINIMUM_SIZE and "content-encoding" not in plain_headers
    assert gzip.decompress(first) == plain and again == first
    assert compressed == [len(plain)]  # when first asked, then served as kept
    for headers in (first_headers, again_headers):
        assert headers["content-encoding"] == "gzip"
        assert int(headers["content-length"]) == len(first)
        assert "accept-encoding" in headers["vary"].lower()
        # Each encoding its own strong tag (RFC 9110 8.8.3).
        assert headers["etag"] == gzip_etag(plain_headers["etag"])


def test_an_answer_built_each_time_is_compressed_too(unkept_api: TestClient) -> None:
    path = "/branches?limit=50"
    _, plain = _sent(unkept_api, path, "identity")
    headers, zipped = _sent(unkept_api, path, "gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped) == plain


def _on_day(monkeypatch: pytest.MonkeyPatch, module: str, day: date) -> None:
    """`date.today()` is `day` in `module` (a plain date, as the answers serve days)."""

    class OnDay(date):
        @classmethod
        def today(cls) -> date:
            return day

    monkeypatch.setattr(f"{module}.date", OnDay)


def _asked_twice(client: TestClient, path: str) -> Any:
    """The answer to `path`, asked again: the same bytes and ETag, from the kept answer."""
    first = client.get(path)
    assert first.status_code == 200, first.text
    with StatementCounter(_engine(client)) as counter:
        again = client.get(path)
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    _only_the_version(client, counter)
    return first.json()


def _built_now(client: TestClient, path: str, params: dict[str, str] | None = None) -> Any:
    """The answer to `path`, which must be built (not a kept one)."""
    with StatementCounter(_engine(client)) as counter:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert _built(counter), f"{path} {params}: served from a kept answer"
    return response.json()


def _by_hand(client: TestClient, sql: str, **params: Any) -> None:
    """SQL on the app's own engine, committed: a write the service did not make."""
    with _engine(client).begin() as conn:
        conn.execute(text(sql), params)


def _fresh_locality(client: TestClient, locality_id: int, today: date) -> Any:
    """The place's detail built now, without the kept answers."""
    with Reader.open(_engine(client)) as reader:
        return orjson.loads(encode_json(locality_detail(reader, locality_id, today)))


def test_a_locality_detail_is_kept_per_day(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its summary adds up every branch under the place; whether the place and its
    successors are in force is the day's."""
    luc_yen = locality(api, "135", current=False)["id"]
    path = f"/localities/{luc_yen}"
    assert _asked_twice(api, path) == _fresh_locality(api, luc_yen, date.today())
    tomorrow = date.today() + timedelta(days=1)
    _on_day(monkeypatch, "app.services.localities", tomorrow)
    assert _built_now(api, path) == _fresh_locality(api, luc_yen, tomorrow)


def test_a_write_to_a_place_is_seen_in_its_detail(write_api: TestClient) -> None:
    luc_yen = locality(write_api, "135", current=False)["id"]
    path = f"/localities/{luc_yen}"
    before = write_api.get(path).json()
    rename = "UPDATE localities SET name = :name WHERE id = :id"
    _by_hand(write_api, rename, name="Lục Yên (đổi tên)", id=luc_yen)
    after = write_api.get(path).json()
    assert after["name"] == "Lục Yên (đổi tên)"
    assert after == _fresh_locality(write_api, luc_yen, date.today())
    _by_hand(write_api, rename, name=before["name"], id=luc_yen)
    assert write_api.get(path).json() == before


def test_not_listening_the_version_is_read_each_time(shared_seeded_url: str) -> None:
    """LISTEN_FOR_DATA_VERSION=false (a pooler that drops notifications): PostgreSQL's
    kept answers then read the version's row, as SQLite's do."""
    settings = Settings(database_url=shared_seeded_url, listen_for_data_version=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.app.state.answers.versions is None  # type: ignore[attr-defined]
        path = f"/branches/{id_of(client, Branch, TIEN_PHONG)}"
        first = client.get(path)
        with StatementCounter(_engine(client)) as counter:
            again = client.get(path)
    assert again.content == first.content
    assert len(counter.statements) == 1 and _is_the_version(counter.statements[0])


def _fresh_risk(client: TestClient, branch_id: int, day: date) -> Any:
    rules = client.app.state.settings.risk_rules  # type: ignore[attr-defined]
    with Reader.open(_engine(client)) as reader:
        return orjson.loads(encode_json(explain_risk(reader, branch_id, rules, day)))


def test_a_risk_explanation_is_kept_per_day(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tien_phong = id_of(api, Branch, TIEN_PHONG)
    path = f"/branches/{tien_phong}/risk"
    assert _asked_twice(api, path) == _fresh_risk(api, tien_phong, date.today())
    past = _built_now(api, path, {"as_of": "2019-02-03"})  # another as_of, another answer
    assert past == _fresh_risk(api, tien_phong, date(2019, 2, 3))
    # Without as_of, of the stored statuses' day, as the branch's item is: kept past the
    # day's turn, until the day's refresh (a write) drops it.
    item_day = api.get(f"/branches/{tien_phong}").json()["risk"]["as_of"]
    assert _asked_twice(api, path)["as_of"] == item_day
    _on_day(monkeypatch, "app.services.risk_explain", date.today() + timedelta(days=1))
    assert _asked_twice(api, path)["as_of"] == item_day


def test_a_write_to_a_branch_is_seen_in_its_risk(write_api: TestClient) -> None:
    tien_phong = id_of(write_api, Branch, TIEN_PHONG)
    path = f"/branches/{tien_phong}/risk"
    before = write_api.get(path).json()

    shift = "UPDATE membership_counts SET value = value + :by WHERE branch_id = :id"
    _by_hand(write_api, shift, by=100, id=tien_phong)
    try:
        after = write_api.get(path).json()
        assert after != before
        assert after == _fresh_risk(write_api, tien_phong, date.today())
    finally:
        _by_hand(write_api, shift, by=-100, id=tien_phong)
    assert write_api.get(path).json() == before
