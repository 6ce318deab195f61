"""Stateful property-based testing of the writes, following the OpenAPI's links.

Schemathesis chains operations as the links say (a POST's 201 to the item's GET, PATCH
and DELETE with its id and ETag; a PATCH's 200 to the next), with generated bodies, as a
writer with a key: no 5xx, and every status, content type and body the one the operation
declares. On SQLite and on PostgreSQL; each scenario over a fresh seeded database (a
scenario replayed must meet the state it met the first time); a fixed seed. After each
scenario, what it stored passes the check of stored rows (app.services.data_check).
"""

import time
from collections import Counter
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks as st_checks
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks as openapi_checks
from sqlmodel import Session

from app.config import Settings
from app.main import create_app
from app.services.auth import create_key
from app.services.data_check import check_stored
from tests.conftest import DatabaseFactory
from tests.servers import say
from tests.test_schemathesis import BASE_URL, _without_null_query_values

# Scenarios of at most so many steps: some 700 requests a backend, 15-30 s.
SCENARIOS = 60
STEPS = 8
CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]


def test_chained_writes_conform_and_never_fail(
    backend: str, databases: DatabaseFactory, request: pytest.FixtureRequest
) -> None:
    started = time.monotonic()
    document = _without_null_query_values(create_app().openapi())
    machine: Any = schemathesis.openapi.from_dict(document).as_state_machine()
    statuses: Counter[int] = Counter()

    class Writes(machine):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            self.resources = ExitStack()
            url = databases.copy("seeded")
            app = create_app(Settings(database_url=url, write_rate_per_minute=1_000_000))
            # Schemathesis keeps an application's lifespan running until the process
            # exits: stopped here, or each scenario's engine would keep its connections.
            self.resources.callback(asgi.shutdown_lifespans)
            self.client = self.resources.enter_context(asgi.get_client(app))
            self.app = app
            with Session(app.state.engine) as session:
                self.token = create_key(session, "stateful", "write").token
                session.commit()

        def teardown(self) -> None:
            try:
                # Whatever the scenario wrote, what is stored breaks no rule and what
                # is served from it is fresh (`branchstats check`).
                with self.app.state.engine.connect() as connection:
                    report = check_stored(connection, self.app.state.settings.risk_rules)
                assert report.findings == []
            finally:
                self.resources.close()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {self.token}"}
            return {"base_url": BASE_URL, "session": self.client, "headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS)

    Writes.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
    )
    by_status = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    say(
        request.config,
        f"schemathesis, writes by the links [{backend}]: {statuses.total()} requests in "
        f"{time.monotonic() - started:.1f}s; statuses {by_status}",
    )
    # The links were followed to writes that took, not only to refusals.
    assert statuses[201] and statuses[200], statuses
