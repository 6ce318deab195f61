from fastapi.testclient import TestClient

from app.db import make_engine
from tests.conftest import DatabaseFactory, make_client


def test_health_is_up(api: TestClient) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_migrated(api: TestClient) -> None:
    body = api.get("/ready").json()
    assert body["ready"] is True
    assert body["revision"] == body["head"]


def test_not_ready_before_migrations(databases: DatabaseFactory) -> None:
    url = databases.blank()
    make_engine(url).dispose()
    with make_client(url) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    # What the OpenAPI documents for every 503 (from an operations audit: it was missing).
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"
