"""A route class that reads a GET route's parameters in one pydantic validation.

FastAPI validates each parameter on its own and re-inspects its annotation on every
request: for a list route's fifteen parameters that was about 0.5 ms, more than the SQL of
a page. This class builds one pydantic model per route from the parameters FastAPI has
already declared (the OpenAPI document is FastAPI's own, unchanged) and validates the whole
query in one call. Errors keep FastAPI's shape (`loc` = ("query", name) or ("path", name),
the same pydantic types and messages), so the problem+json answers do not change.

Routes it cannot read this way (a body, headers, cookies, security, nested dependencies,
or an endpoint that returns a model for FastAPI to serialize) get FastAPI's own handler.
"""

import asyncio
import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Coroutine, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from app.api.deps import reject_unknown_params
from app.db import run_inline

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class _SubDependency:
    """A dependency that only takes query parameters (and perhaps the request)."""

    name: str
    call: Callable[..., Any]
    query_names: tuple[str, ...]
    request_name: str | None


@dataclass(frozen=True)
class _ParsePlan:
    model: type[BaseModel]
    path_names: frozenset[str]
    own_query_names: tuple[str, ...]
    request_name: str | None
    subs: tuple[_SubDependency, ...]

    def arguments(self, request: Request) -> dict[str, Any]:
        """The endpoint's keyword arguments, or RequestValidationError."""
        data: dict[str, Any] = dict(request.query_params)
        data.update(request.path_params)
        try:
            values = self.model.model_validate(data).__dict__
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            for error in errors:
                name = error["loc"][0] if error["loc"] else ""
                where = "path" if name in self.path_names else "query"
                error["loc"] = (where, *error["loc"])
            raise RequestValidationError(errors) from None
        kwargs = {name: values[name] for name in (*self.path_names, *self.own_query_names)}
        if self.request_name:
            kwargs[self.request_name] = request
        for sub in self.subs:
            sub_kwargs = {name: values[name] for name in sub.query_names}
            if sub.request_name:
                sub_kwargs[sub.request_name] = request
            kwargs[sub.name] = sub.call(**sub_kwargs)
        return kwargs


def _only_plain_params(dependant: Dependant) -> bool:
    return not (
        dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )


def plan_for(dependant: Dependant, route_name: str) -> _ParsePlan | None:
    """How to read a route's parameters in one validation; None if it cannot be."""
    if not _only_plain_params(dependant):
        return None
    sub_fields = []
    subs = []
    for sub in dependant.dependencies:
        if sub.call is reject_unknown_params:
            continue  # run by the handler itself, before validation
        if sub.name is None or sub.call is None or sub.dependencies or sub.path_params:
            return None
        if not _only_plain_params(sub) or not _plain_callable(sub.call):
            return None
        sub_fields += sub.query_params
        subs.append(
            _SubDependency(
                sub.name,
                sub.call,
                tuple(f.name for f in sub.query_params),
                sub.request_param_name,
            )
        )
    # FastAPI solves dependencies first: the same order keeps errors in the same order.
    fields = [*sub_fields, *dependant.path_params, *dependant.query_params]
    names = [f.name for f in fields]
    aliases = [f.alias for f in fields]  # the names in the query (`from` for date_from)
    if len(set(names)) != len(names) or len(set(aliases)) != len(aliases):
        return None
    model = create_model(  # type: ignore[call-overload]
        f"{route_name}_parameters",
        __config__=ConfigDict(extra="ignore"),
        **{f.name: (f.field_info.annotation, f.field_info) for f in fields},
    )
    return _ParsePlan(
        model=model,
        path_names=frozenset(f.name for f in dependant.path_params),
        own_query_names=tuple(f.name for f in dependant.query_params),
        request_name=dependant.request_param_name,
        subs=tuple(subs),
    )


def _plain_callable(call: Callable[..., Any]) -> bool:
    """A class or a plain function: not async, not a generator (no teardown to run)."""
    if inspect.isclass(call):
        return True
    return inspect.isfunction(call) and not (
        inspect.iscoroutinefunction(call) or inspect.isgeneratorfunction(call)
    )


def _returns_response(call: Callable[..., Any]) -> bool:
    returned = get_type_hints(call).get("return")
    return inspect.isclass(returned) and issubclass(returned, Response)


class QueryModelRoute(APIRoute):
    """An APIRoute whose parameters are validated as one model (see the module)."""

    def get_route_handler(self) -> Handler:
        plan = plan_for(self.dependant, self.name)
        call = self.dependant.call
        if plan is None or call is None or not _returns_response(call):
            return super().get_route_handler()
        is_async = inspect.iscoroutinefunction(call)

        async def handler(request: Request) -> Response:
            # Unknown, repeated or NUL-carrying names are refused before anything is read.
            await reject_unknown_params(request)
            kwargs = plan.arguments(request)
            if is_async:
                return await call(**kwargs)
            return await run_blocking(request, functools.partial(call, **kwargs))

        return handler


READS = frozenset({"GET", "HEAD"})


class InlineReads:
    """SQLite reads run on the event loop first, their statements limited to `budget_s` in all.

    A read that the budget cuts is run again on a read thread; reads of the same kind
    (route and parameter names: a province's CSV page, a stats page) then go straight to
    the threads for `cooldown_s`, rather than each spending its budget on the loop first.
    """

    def __init__(self, budget_s: float, cooldown_s: float = 10.0) -> None:
        self.budget_s = budget_s
        self.cooldown_s = cooldown_s
        self._threaded_until: dict[Hashable, float] = {}

    @staticmethod
    def kind(request: Request) -> Hashable:
        route = request.scope.get("route")
        return getattr(route, "path", None), frozenset(request.query_params)

    def first_on_loop(self, kind: Hashable) -> bool:
        return self._threaded_until.get(kind, 0.0) <= time.monotonic()

    def cut(self, kind: Hashable) -> None:
        self._threaded_until[kind] = time.monotonic() + self.cooldown_s


async def run_blocking(request: Request, work: Callable[[], Response]) -> Response:
    """Run a read's blocking work: on SQLite first on the event loop itself, within a
    short statement limit (`inline_reads` of the app's state); on its read threads
    (`read_threads`) when that limit cuts it, on PostgreSQL, or when it is off.

    A SQLite read is the process's own CPU work: a page took 1 ms, of which a tenth in
    SQLite. Handed to a thread it cost as much again in the handover and the contention
    for the interpreter lock: on one core, 907 requests a second for a page of branches
    at risk on threads, 1,409 on the loop (p99 228 -> 70 ms). A slow read would hold
    every other request while on the loop: the budget bounds that (the read is run again
    on a thread, with the full limit). The loop must be asyncio's own, which answers in
    turn; uvloop held finished answers back behind later reads (app.cli.SERVER_LOOP).
    PostgreSQL's reads wait for the server, which threads let other requests overlap;
    a kept answer, which needs no database when the data version is known
    (app.services.version_watch), is served on the loop: at scale 1.0, kept answers went
    from 3,820-4,330 to 5,080-5,920 requests a second. A read that needs the database
    is ended as it asks for a connection, before binding its values: some 15-30 µs lost.

    The threads are asyncio's executor, not anyio's that FastAPI uses: with 32 reads
    waiting, its hop cost a quarter of anyio's (26 against 114 µs).
    """
    state = request.app.state
    inline: InlineReads | None = state.inline_reads
    if inline is not None:
        kind = inline.kind(request)
        if inline.first_on_loop(kind):
            response = run_inline(work, inline.budget_s)
            if response is not None:
                return response
            inline.cut(kind)
    elif request.method in READS and state.answers.knows_version:
        # PostgreSQL, the data version known without asking: a kept answer is served
        # on the loop; a read that needs a connection is ended as it asks for one
        # (app.db.ThreadsOnlyPool) and run on a thread.
        response = run_inline(work, 0.0)
        if response is not None:
            return response
    executor: Executor = request.app.state.read_threads
    context = contextvars.copy_context()  # as anyio does
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, context.run, work)
