"""bench/writes.py measures real writes: each one stored, with its branch's status."""

from sqlalchemy import text

from app.db import make_engine
from bench.writes import WARMUP, measure


def test_the_write_benchmark_stores_every_write_it_times(seeded_url: str) -> None:
    seconds = measure(seeded_url, writes=3)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    engine = make_engine(seeded_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT count(*) FROM membership_counts c JOIN sources s ON s.id = c.source_id "
                "WHERE s.key = 'bench-writes'"
            )
        ).scalar_one()
        # The branch's status names the newest of them as its latest count.
        latest = conn.execute(
            text(
                "SELECT c.value FROM branch_status st "
                "JOIN membership_counts c ON c.id = st.latest_count_id "
                "JOIN sources s ON s.id = c.source_id WHERE s.key = 'bench-writes'"
            )
        ).scalar_one()
    engine.dispose()
    assert stored == WARMUP + 3
    assert latest == 100_000 + WARMUP + 2
