"""A server just started answers its first reads, however many arrive at once.

Each read's statement is built and compiled on first use. Built on two threads at once,
the elements they share once gave a statement SQLAlchemy could not compile (a 500 on
some cold starts under load): they are now built one at a time (app.reader.BUILDING).
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.servers import Server

COLD_STARTS = 3
READS = (
    "/branches/{branch}",
    "/branches?risk=true&limit=50",
    "/branches?province={province}&limit=50",
    "/localities?q=mai&limit=50",
    "/localities/{province}/stats",
    "/membership-counts?limit=50",
    "/sources/1",
)


def test_first_reads_at_once(seeded_url: str, tmp_path: Path) -> None:
    for start in range(COLD_STARTS):
        with Server(seeded_url, tmp_path / f"uvicorn-{start}.log") as server:
            # The seed's ids, not looked up (which would build statements first):
            # Chi bộ xóm Tiền Phong (2), at risk, and its province today, Phú Thọ (2).
            paths = [p.format(branch=2, province=2) for p in READS] * 4
            with ThreadPoolExecutor(len(paths)) as pool:
                statuses = list(
                    pool.map(lambda p: httpx.get(server.base + p, timeout=30).status_code, paths)
                )
            log = server.log_text()
        assert statuses == [200] * len(paths), (statuses, log[-3000:])
        assert "Traceback" not in log, log[-3000:]
