"""Writes are rate limited per API key (issue 8, point 6); reads never are.

The limiter (app/ratelimit.py) is a token bucket per key: `write_rate_per_minute` writes
a minute, in bursts of as many. The API tests swap in a limiter on a fake clock, so that
the refill is exact and nothing waits.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session

from app.config import Settings
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.models import Source
from app.openapi import openapi_document
from app.ratelimit import RateLimiter
from app.services.auth import create_key
from tests.servers import say

LIMIT = 5  # writes a minute in the API tests: one token every 12 s
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- The bucket ---------------------------------------------------------------------------
def test_a_bucket_allows_a_burst_then_one_write_per_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)  # a token a second
    decisions = [limiter.take("k") for _ in range(61)]
    assert all(d.allowed for d in decisions[:60])
    assert [d.remaining for d in decisions[:3]] == [59, 58, 57]
    assert decisions[0].reset_s == 1 and decisions[59].reset_s == 60
    refused = decisions[60]
    assert not refused.allowed and refused.remaining == 0 and refused.retry_after_s == 1
    assert refused.headers() == {
        "RateLimit-Limit": "60",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "60",
    }
    clock.now += 0.5  # half a token: still refused, and told to wait the other half
    assert limiter.take("k").retry_after_s == 1
    clock.now += 0.5
    assert limiter.take("k").allowed
    assert not limiter.take("k").allowed
    clock.now += 3600  # refilled, never above the burst size
    assert limiter.take("k").remaining == 59


def test_each_key_has_its_own_bucket() -> None:
    limiter = RateLimiter(2, clock=FakeClock())
    assert [limiter.take(1).allowed for _ in range(3)] == [True, True, False]
    assert limiter.take(2).allowed
    refused = limiter.take(1)
    assert refused.retry_after_s == 30  # 2 a minute: a token every 30 s


def test_the_rate_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().write_rate_per_minute == 60
    monkeypatch.setenv("WRITE_RATE_PER_MINUTE", "7")
    assert Settings().write_rate_per_minute == 7
    with pytest.raises(ValidationError):
        Settings(write_rate_per_minute=0)


# -- Through the API ----------------------------------------------------------------------
@pytest.fixture
def limited_api(seeded_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=seeded_url, write_rate_per_minute=LIMIT)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.write_limiter = RateLimiter(LIMIT, clock=FakeClock())  # type: ignore[attr-defined]
        yield client


def _key(client: TestClient, name: str, scope: str = "write") -> dict[str, str]:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        made = create_key(session, name, scope)
        session.commit()
    return {"Authorization": f"Bearer {made.token}"}


def _sources(client: TestClient) -> int:
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        return int(session.execute(select(func.count()).select_from(Source)).scalar_one())


def _source(n: int) -> dict[str, Any]:
    return {"key": f"test-rate-{n}", "text": f"Bài thử số {n}: chi bộ có 9 đảng viên."}


def test_writes_over_the_limit_get_429_and_reads_never_do(
    backend: str, limited_api: TestClient, request: pytest.FixtureRequest
) -> None:
    api = limited_api
    clock: FakeClock = api.app.state.write_limiter._clock  # type: ignore[attr-defined]
    editor, other, reader = _key(api, "editor"), _key(api, "other"), _key(api, "reader", "read")
    statuses: Counter[int] = Counter()

    # A burst of LIMIT writes goes through; each answer says what is left.
    for n in range(LIMIT):
        done = api.post("/sources", json=_source(n), headers=editor)
        statuses[done.status_code] += 1
        assert done.status_code == 201, done.text
        assert done.headers["ratelimit-limit"] == str(LIMIT)
        assert done.headers["ratelimit-remaining"] == str(LIMIT - 1 - n)
        assert int(done.headers["ratelimit-reset"]) == (n + 1) * 60 // LIMIT
    before = _sources(api)

    # The next write, of any kind, is refused before it touches the database.
    writes = [
        ("POST", "/sources", _source(99)),
        ("PATCH", "/sources/1", {"title": "x"}),
        ("DELETE", "/sources/1", None),
        ("POST", "/imports", None),
    ]
    for method, path, body in writes:
        refused = api.request(method, path, json=body, headers={**editor, "If-Match": "*"})
        statuses[refused.status_code] += 1
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.headers["retry-after"] == "12"  # a token every 60/LIMIT s
        assert refused.headers["ratelimit-limit"] == str(LIMIT)
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["ratelimit-reset"] == "60"
        problem = refused.json()
        assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
        assert [e["field"] for e in problem["errors"]] == ["header.authorization"]
        assert f"at most {LIMIT} a minute" in problem["detail"]
    assert _sources(api) == before

    # Another key is not affected; a read-only key is refused for its scope, not its rate.
    other_write = api.post("/sources", json=_source(100), headers=other)
    assert other_write.status_code == 201 and other_write.headers["ratelimit-remaining"] == "4"
    assert api.post("/sources", json=_source(101), headers=reader).status_code == 403

    # Reads are never limited: anonymous, with the limited key, and the writers' GET /audit.
    reads = 0
    for _ in range(4 * LIMIT):
        for path, headers in (("/branches?limit=2", {}), ("/sources", editor), ("/audit", editor)):
            read = api.get(path, headers=headers)
            reads += 1
            assert read.status_code == 200, read.text
            assert not any(h in read.headers for h in RATE_HEADERS)

    # Waiting Retry-After seconds gives one write back.
    clock.now += 12
    again = api.post("/sources", json=_source(102), headers=editor)
    assert again.status_code == 201, again.text
    assert again.headers["ratelimit-remaining"] == "0"
    assert api.post("/sources", json=_source(103), headers=editor).status_code == 429
    say(
        request.config,
        f"rate limit [{backend}]: {LIMIT} writes/min/key: a burst of {LIMIT} answered 201, then "
        f"{len(writes)} writes (POST, PATCH, DELETE, import) 429 with Retry-After 12 s and "
        f"RateLimit headers, nothing written; another key 201; {reads} reads never limited; "
        f"after Retry-After one more write 201",
    )


def test_a_refused_write_says_what_its_key_has_left(limited_api: TestClient) -> None:
    """A write refused after its key's bucket was reached spent a token as a done one
    does: its problem carries the RateLimit headers, the count going down, as the document
    says. A request refused before (no key, a body that is not JSON) spends none and
    carries none."""
    api = limited_api
    editor = _key(api, "refused")
    documented = openapi_document()["paths"]
    refused = [
        ("post", "/sources", {"key": "hbdt-tien-phong", "text": "x"}, {}, 409),
        ("post", "/sources", {**_source(1), "bogus": 1}, {}, 422),
        ("patch", "/sources/{source_id}", {"title": "x"}, {"If-Match": '"old"'}, 412),
        ("patch", "/sources/{source_id}", {"title": "x"}, {}, 428),
        ("delete", "/sources/{source_id}", None, {"If-Match": "*", "_id": "999999"}, 404),
    ]
    for spent, (method, template, body, extra, status) in enumerate(refused, start=1):
        source_id = extra.pop("_id", "1")
        path = template.replace("{source_id}", source_id)
        answer = api.request(method, path, json=body, headers={**editor, **extra})
        assert answer.status_code == status, answer.text
        assert answer.headers["ratelimit-remaining"] == str(LIMIT - spent), status
        assert answer.headers["ratelimit-limit"] == str(LIMIT)
        headers = documented[template][method]["responses"][str(status)]["headers"]
        assert set(RATE_HEADERS) <= {name.lower() for name in headers}, (template, status)
    not_json = api.post(
        "/sources", content=b"{", headers={**editor, "Content-Type": "application/json"}
    )
    anonymous = api.post("/sources", json=_source(2))
    for answer, status in ((not_json, 422), (anonymous, 401)):
        assert answer.status_code == status
        assert not any(name in answer.headers for name in RATE_HEADERS), status
    # The five refused writes spent the burst: the next is over the limit.
    assert len(refused) == LIMIT
    assert api.post("/sources", json=_source(3), headers=editor).status_code == 429
