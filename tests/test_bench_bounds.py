"""bench/bounds.py: a request's cost in process, and the share of the floor it leaves."""

import asyncio

from fastapi.testclient import TestClient

from app.config import Settings
from bench.bounds import Cost, Reach, markdown, measure_app


def test_a_request_is_measured_on_the_application_as_it_answers(
    shared_seeded_url: str, api: TestClient
) -> None:
    branch_id = api.get("/branches?limit=1").json()["items"][0]["id"]
    served = api.get(f"/branches/{branch_id}")
    costs = asyncio.run(
        measure_app(
            Settings(database_url=shared_seeded_url, answer_cache_mb=0),
            {"one branch": f"/branches/{branch_id}", "no such branch": "/branches/999999999"},
            requests=5,
            rounds=3,
            database_pid=None,
        )
    )
    one = costs["one branch"]
    assert (one.status, one.body_bytes) == (200, len(served.content))
    # A branch's detail is one statement; replayed alone, it costs less than the request.
    assert one.statements == 1
    assert 0 < one.database_us < one.cpu_us
    assert costs["no such branch"].status == 404


def test_the_shares_of_the_floor_and_those_below_their_target() -> None:
    slow = Reach("one branch", 0.25, floor_us=100.0, cost=Cost(200, 18_000, 500.0, 1, 200.0))
    fast = Reach("a page", 0.15, floor_us=100.0, cost=Cost(200, 78_000, 400.0, 2, 50.0))
    assert (slow.share, slow.share_of_statements) == (0.2, 0.5)
    assert (fast.share, fast.share_of_statements) == (0.25, 2.0)
    table = markdown("sqlite", "1.0", [slow, fast])
    assert "the floor 100 µs a request served" in table
    assert "| one branch | 18.0 KB | 500 | 1 | 200 | **0.200** | 0.500 | 0.25 |" in table
    assert "| a page | 78.0 KB | 400 | 2 | 50 | 0.250 | 2.000 | 0.15 |" in table
