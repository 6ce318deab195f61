"""A database of synthetic data (`branchstats synth`) takes no writes through the API.

From an audit of the synthetic data: the API took a real article there (a 201, the
source `synthetic: false`), and a count quoting it became a synthetic branch's latest;
`branchstats check` saw no problem, and `synth --replace` refused the database for good.
Imports were refused already; every write is now, before it reads anything else.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Branch, MembershipCount, Source
from app.services.risk_rules import RiskRules
from app.synth import run_synth
from tests.api.test_imports import ARTICLE_YAML, YAML
from tests.api.test_writes import NEW_TEXT, count_body, fields, make_key, row_counts
from tests.conftest import DatabaseFactory


@pytest.fixture(scope="module")
def synthetic(databases: DatabaseFactory) -> Iterator[tuple[Engine, TestClient]]:
    engine = make_engine(databases.copy("migrated"))
    run_synth(engine, scale=0.001, seed=3, rules=RiskRules(), progress=False)
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as api:
        yield engine, api
    engine.dispose()


def _first(engine: Engine, model: Any) -> Any:
    with Session(engine) as session:
        return session.execute(select(model).order_by(model.id).limit(1)).scalar_one()


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert fields(response) == ["database"]
    assert "synthetic data" in response.json()["detail"]


def test_every_write_is_refused_and_nothing_changes(
    synthetic: tuple[Engine, TestClient],
) -> None:
    engine, api = synthetic
    editor = make_key(api)
    source, branch, count = (_first(engine, m) for m in (Source, Branch, MembershipCount))
    before = row_counts(api)
    sentence = source.text.split(". ")[0]
    writes = {
        "a real article": api.post(
            "/sources", json={"key": "real", "text": NEW_TEXT}, headers=editor
        ),
        "a figure quoting a generated text": api.post(
            "/membership-counts",
            json=count_body(source.id, branch.id, quote=sentence, figure=None, value=1),
            headers=editor,
        ),
        "a change of a generated branch": api.patch(
            f"/branches/{branch.id}",
            json={"note": "sửa"},
            headers={**editor, "If-Match": "*"},
        ),
        "a generated figure's removal": api.delete(
            f"/membership-counts/{count.id}", headers={**editor, "If-Match": "*"}
        ),
        "an article file": api.post(
            "/imports", content=ARTICLE_YAML.encode(), headers={**editor, **YAML}
        ),
    }
    for what, response in writes.items():
        assert response.status_code == 409, what
        _refused(response)
    assert row_counts(api) == before
    assert api.get(f"/branches/{branch.id}").json()["note"] == branch.note
