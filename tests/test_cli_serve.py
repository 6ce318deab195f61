"""`branchstats serve`: what it asks of uvicorn."""

from typing import Any

import pytest
import uvicorn

from app.cli import main


def test_serve_runs_on_asyncios_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn picks uvloop when it is installed (it is, with uvicorn[standard]); SQLite's
    reads on the loop need asyncio's (see app.cli.SERVER_LOOP), so serve names it."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    assert main(["serve", "--no-prepare", "--port", "8765"]) == 0
    assert len(calls) == 1
    assert calls[0]["loop"] == "asyncio"
    assert calls[0]["port"] == 8765 and calls[0]["server_header"] is False
