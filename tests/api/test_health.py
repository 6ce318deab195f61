from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from app.db import make_engine
from app.models import BranchStatus
from app.services.refs import table
from tests.conftest import DatabaseFactory, make_client


def test_health_is_up(api: TestClient) -> None:
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_migrated(api: TestClient) -> None:
    body = api.get("/ready").json()
    assert body["ready"] is True
    assert body["revision"] == body["head"]
    assert body["status_day"] == date.today().isoformat()


def test_ready_says_the_day_of_the_stored_statuses(write_api: TestClient) -> None:
    """From an audit of the day's turn: a refresher that failed left every answer at
    its day, and nothing an operator watches said so."""
    yesterday = date.today() - timedelta(days=1)
    engine = write_api.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # one row behind: a refresh that stopped part way
        first = conn.execute(select(func.min(table(BranchStatus).c.branch_id))).scalar_one()
        at_first = table(BranchStatus).c.branch_id == first
        conn.execute(update(table(BranchStatus)).where(at_first).values(evaluated_on=yesterday))
    response = write_api.get("/ready")
    assert (response.status_code, response.json()["status_day"]) == (200, yesterday.isoformat())
    with engine.begin() as conn:  # the refresh, as far as this row goes
        conn.execute(update(table(BranchStatus)).where(at_first).values(evaluated_on=date.today()))


def test_not_ready_before_migrations(databases: DatabaseFactory) -> None:
    url = databases.blank()
    make_engine(url).dispose()
    with make_client(url) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert response.json()["status_day"] is None
    # What the OpenAPI documents for every 503 (from an operations audit: it was missing).
    assert response.headers["retry-after"] == "1"
    assert response.headers["cache-control"] == "no-store"


def test_not_ready_on_a_database_a_newer_release_migrated(databases: DatabaseFactory) -> None:
    """Its detail said "not at the latest migration", which reads as behind: a release
    that migrates it would do nothing for it."""
    url = databases.copy("migrated")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with make_client(url) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert (body["ready"], body["revision"]) == (False, "9999")
    assert "a migration this release does not have" in body["detail"]
