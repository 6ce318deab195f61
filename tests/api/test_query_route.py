"""QueryModelRoute reads parameters as FastAPI does: the same values and the same errors."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Literal

import orjson
import pytest
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.api.common import STRICT, AsOf, IdPath
from app.api.deps import ListParamsDep
from app.api.query_route import QueryModelRoute, plan_for
from app.errors import install_error_handlers
from app.main import ROUTERS
from app.services.answer_cache import AnswerCache


def _app(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    # As app.main's lifespan makes them (reads on threads only).
    app.state.read_threads = ThreadPoolExecutor(2)
    app.state.inline_reads = None
    app.state.answers = AnswerCache(0)
    install_error_handlers(app)
    router = APIRouter(route_class=route_class, dependencies=STRICT)

    @router.get("/things/{thing_id}")
    def get_things(
        request: Request,
        params: ListParamsDep,
        thing_id: IdPath,
        as_of: AsOf = None,
        kind: Annotated[Literal["a", "b"] | None, Query()] = None,
        n: Annotated[int | None, Query(ge=0, le=10)] = None,
        q: Annotated[str | None, Query(min_length=1, max_length=5)] = None,
        date_from: Annotated[date | None, Query(alias="from")] = None,
    ) -> Response:
        seen = {
            "thing_id": thing_id,
            "as_of": as_of,
            "kind": kind,
            "n": n,
            "q": q,
            "from": date_from,
            "limit": params.limit,
            "cursor": params.cursor,
            "format": params.format,
            "bom": params.bom,
            "path": request.url.path,
        }
        return Response(orjson.dumps(seen), media_type="application/json")

    app.include_router(router)
    return app


CASES = [
    "/things/1",
    "/things/7?as_of=2017-08-01&kind=b&n=10&q=abc&limit=500&cursor=xyz&format=csv&bom=true",
    "/things/0",
    "/things/x",
    "/things/2147483648",
    "/things/1?as_of=0",
    "/things/1?as_of=2017-02-30",
    "/things/1?as_of=1899-12-31",
    "/things/1?kind=c",
    "/things/1?n=11",
    "/things/1?n=-1",
    "/things/1?n=",
    "/things/1?n=1.5",
    "/things/1?q=",
    "/things/1?q=abcdef",
    "/things/1?limit=0",
    "/things/1?limit=501",
    "/things/1?format=xml",
    "/things/1?bom=maybe",
    "/things/1?bom=1",
    "/things/0?n=x&kind=z&limit=0",
    "/things/1?unknown=1",
    "/things/1?n=1&n=2",
    "/things/1?q=a%00b",
    "/things/1?from=2017-01-01",
    "/things/1?from=yesterday",
    "/things/1?date_from=2017-01-01",
]


@pytest.fixture(scope="module")
def clients() -> tuple[TestClient, TestClient]:
    return TestClient(_app(QueryModelRoute)), TestClient(_app(APIRoute))


@pytest.mark.parametrize("url", CASES)
def test_the_same_answer_as_fastapi(clients: tuple[TestClient, TestClient], url: str) -> None:
    fast, plain = (client.get(url) for client in clients)
    assert fast.status_code == plain.status_code
    assert fast.headers["content-type"] == plain.headers["content-type"]
    assert fast.json() == plain.json()


def _app_routes() -> list[APIRoute]:
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_read_route_of_the_app_is_read_in_one_validation() -> None:
    """A parameter this route class cannot read would silently fall back to FastAPI's
    slower handler: every GET route that returns a Response must have a plan."""
    routes = [
        r
        for r in _app_routes()
        if isinstance(r, APIRoute)
        and r.methods == {"GET"}
        and r.dependant.call is not None
        and r.name not in ("get_ready", "get_audit")  # their own responses; see below
    ]
    assert len(routes) >= 15
    unplanned = [r.name for r in routes if plan_for(r.dependant, r.name) is None]
    assert unplanned == []


def test_a_route_with_a_body_keeps_fastapis_handler() -> None:
    creating = next(r for r in _app_routes() if r.name == "create_source")
    assert plan_for(creating.dependant, creating.name) is None


def test_each_route_is_checked_against_its_own_names() -> None:
    """Apps made and dropped (as tests make them) leave their routes' ids free for new
    routes: each new route is still checked against the names it declares."""
    for declared in range(300):
        name = f"p{declared}"
        router = APIRouter(route_class=QueryModelRoute, dependencies=STRICT)

        def read(value: Annotated[int | None, Query(alias=name)] = None) -> Response:
            return Response(orjson.dumps(value), media_type="application/json")

        router.get("/read")(read)
        app = FastAPI()
        app.state.read_threads = ThreadPoolExecutor(1)
        app.state.inline_reads = None
        app.state.answers = AnswerCache(0)
        install_error_handlers(app)
        app.include_router(router)
        with TestClient(app) as client:
            response = client.get("/read", params={name: "1"})
        assert response.status_code == 200, (declared, response.text)
        app.state.read_threads.shutdown()
