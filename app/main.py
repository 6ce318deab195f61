"""The application factory: settings, engine, routers and error handlers."""

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from starlette.routing import Route

from app.api import (
    audit,
    branches,
    figures,
    health,
    imports,
    index,
    localities,
    risk,
    sources,
    write_figures,
    writes,
)
from app.api.query_route import InlineReads
from app.api.responses import answer_response
from app.config import Settings
from app.db import is_sqlite, make_engine, shown_url
from app.errors import install_error_handlers
from app.heap import startup_heap_frozen
from app.log_config import SERVICE_LOGGER
from app.middleware import (
    DOCS_ASSETS,
    DOCS_PAGE,
    OPENAPI_DOCUMENT,
    REDOC_PAGE,
    install_middleware,
)
from app.openapi_glossary import describe_fields
from app.openapi_http import describe_http
from app.openapi_links import link_items
from app.ratelimit import RateLimiter
from app.services.answer_cache import Answer, AnswerCache
from app.services.gathered import KeptRankings
from app.services.listing import WALKS_KEPT, KeptCounts, KeptWalks
from app.services.localities import WordOrders
from app.services.place_scopes import PlaceScopes
from app.services.status_day import keep_status_current
from app.services.version_watch import VersionWatch

log = logging.getLogger(SERVICE_LOGGER)

API_DESCRIPTION = """
Statistics about local Communist Party of Vietnam organizations (branches, membership
counts, admissions, departures and transfers), built from Vietnamese local news.

**Every figure carries its source and the exact sentence that states it.** Figures keep the
qualifiers of the text ("more than", "about", ranges); a figure the text does not give is
`null`, never `0`.
"""

# The operations' groups, as the documentation pages show them, in this order.
OPENAPI_TAGS = [
    {"name": "index", "description": "Where to start: every read, and the documentation."},
    {"name": "health", "description": "Liveness and readiness, for probes."},
    {
        "name": "localities",
        "description": "Provinces, districts, communes and villages, with their 2025 "
        "successors; a place's summary and its members by year.",
    },
    {
        "name": "branches",
        "description": "Party organizations and unnamed groups of them, each with its "
        "latest count and risk; why a branch is at risk.",
    },
    {
        "name": "figures",
        "description": "Membership counts, admissions, departures, transfers and other "
        "facts, each with its source and the sentence that states it.",
    },
    {"name": "sources", "description": "The articles, and the text every quote is in."},
    {"name": "risk", "description": "The risk rules, and risk by province."},
    {
        "name": "writes",
        "description": "Creating, changing and deleting records: an API key with the "
        "write scope, If-Match on changes, an Idempotency-Key on creates if wanted.",
    },
    {
        "name": "imports",
        "description": "A whole article in the record format, all or nothing, or a dry "
        "run of it (an API key with the write scope).",
    },
    {"name": "audit", "description": "Who changed what, and when (an API key)."},
]

# In this order: the order of the OpenAPI document.
ROUTERS = (
    index.router,
    health.router,
    localities.router,
    branches.router,
    figures.router,
    sources.router,
    risk.router,
    write_figures.reads,
    writes.router,
    write_figures.router,
    imports.router,
    audit.router,
)


def _complete_openapi(app: FastAPI) -> None:
    """The document FastAPI builds, its fields described and its items' links added."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_http(link_items(describe_fields(build())))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _serve_openapi_with_etag(app: FastAPI) -> None:
    """/openapi.json as every read is served: a strong ETag, a 304 to a client holding
    it, gzipped once. A client generator or a docs page checking for a new version of
    the API downloads the document (some 43 KB gzipped) only when it changed (FastAPI's
    own route sends it whole each time, without a tag)."""
    document: list[Answer] = []  # built at the first request, as FastAPI's route does

    async def openapi_document(request: Request) -> Response:
        if not document:
            document.append(Answer.of(app.openapi()))
        return answer_response(request, document[0])

    routes = app.router.routes
    (index,) = (
        i for i, route in enumerate(routes) if getattr(route, "path", "") == OPENAPI_DOCUMENT
    )
    routes[index] = Route(OPENAPI_DOCUMENT, openapi_document, include_in_schema=False)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Settings and the engine are made in the lifespan, not at import."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = settings or Settings()
        app.state.settings = active
        app.state.engine = make_engine(
            active.effective_database_url, statement_timeout_s=active.statement_timeout_s
        )
        log.info(
            "serving %s, risk rules %s",
            shown_url(active.effective_database_url),
            active.risk_rules.version,
        )
        app.state.write_limiter = RateLimiter(active.write_rate_per_minute)
        # PostgreSQL announces the data version: kept answers need no read of it.
        listens = (
            active.listen_for_data_version
            and active.answer_cache_mb > 0
            and not is_sqlite(app.state.engine)
        )
        watch = VersionWatch(app.state.engine) if listens else None
        app.state.answers = AnswerCache(active.answer_cache_mb * 1_000_000, watch)
        app.state.place_scopes = PlaceScopes()
        app.state.word_orders = WordOrders()
        app.state.kept_counts = KeptCounts()
        app.state.kept_rankings = KeptRankings()
        app.state.kept_walks = KeptWalks(WALKS_KEPT)
        # Reads run on threads of their own (app.api.query_route.run_blocking), writes
        # and the rest on anyio's, as FastAPI runs them: as many of each.
        app.state.read_threads = ThreadPoolExecutor(
            active.worker_threads, thread_name_prefix="read"
        )
        # Whole exports stream on threads of their own: on the reads', a few exports held
        # every page back; on anyio's, writes queued for the writer lock held them.
        app.state.export_threads = ThreadPoolExecutor(
            max(1, active.worker_threads // 2), thread_name_prefix="export"
        )
        inline = is_sqlite(app.state.engine) and active.inline_read_budget_ms > 0
        app.state.inline_reads = (
            InlineReads(active.inline_read_budget_ms / 1000) if inline else None
        )
        to_thread.current_default_thread_limiter().total_tokens = active.worker_threads
        # The refresh may run long at national scale: its own engine, without the
        # statement time limit that protects requests.
        keeper = asyncio.create_task(
            keep_status_current(active.effective_database_url, active.risk_rules)
        )
        if watch is not None:
            watch.start()
        try:
            with startup_heap_frozen():
                yield
        finally:
            keeper.cancel()
            if watch is not None:
                watch.stop()
            app.state.read_threads.shutdown(wait=False, cancel_futures=True)
            app.state.export_threads.shutdown(wait=False, cancel_futures=True)
            app.state.engine.dispose()

    # The documentation's scripts and styles served from the package (fastapi-offline),
    # not from a CDN: /docs works where the server has no internet, and no third party
    # sees who reads it.
    app = FastAPIOffline(
        docs_url=DOCS_PAGE,
        redoc_url=REDOC_PAGE,
        static_url=DOCS_ASSETS,
        openapi_url=OPENAPI_DOCUMENT,
        title="branchstats",
        version="0.1.0",
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    # fastapi-offline serves the pages and leaves FastAPI's own attributes unset (FastAPI
    # would add pages from a CDN); they say where the pages are (app.api.index).
    app.docs_url, app.redoc_url = DOCS_PAGE, REDOC_PAGE
    install_error_handlers(app)
    install_middleware(app)
    _complete_openapi(app)
    _serve_openapi_with_etag(app)
    # The routes on the app's own router, not its routers included: FastAPI (since
    # 0.137) matches an included router's routes through a node of its own, each request
    # asking every router in turn, twice (15 µs of a branch's detail, the third router).
    for router in ROUTERS:
        app.router.routes.extend(router.routes)
    # A resource has one URL: /branches/ is a 404 naming the index, not a 307 to an
    # absolute URL built from the request's Host header.
    app.router.redirect_slashes = False
    return app


app = create_app()
