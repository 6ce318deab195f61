"""The heap the app starts with is frozen while it serves (app.heap), and only then."""

import gc

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_the_startup_heap_is_frozen_while_the_app_serves(migrated_url: str) -> None:
    # Another app of the session may be serving, its heap frozen already: objects made
    # since (this app among them) are frozen on top of it.
    before = gc.get_freeze_count()
    app = create_app(Settings(database_url=migrated_url))
    with TestClient(app) as client:
        assert gc.get_freeze_count() > before
        assert client.get("/health").status_code == 200
    # Stopped: nothing stays frozen, and the next app freezes its own heap.
    assert gc.get_freeze_count() == 0
