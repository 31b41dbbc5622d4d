"""The FastAPI application: routers, error mapping, health check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text

from frontdesk import __version__
from frontdesk.actions.base import Desk
from frontdesk.api import errors
from frontdesk.api.auth import ActorCache
from frontdesk.api.routers import analytics, conversations, queue, tickets, transcript_pages, transcripts, workspace
from frontdesk.api.routers import close_requests as close_requests_router
from frontdesk.api.routers import discord_panels as discord_panels_router
from frontdesk.api.routers import integrations as integrations_router
from frontdesk.api.routers import links as links_router
from frontdesk.api.routers import macro_suggestions as macro_suggestions_router
from frontdesk.api.routers import macros as macros_router
from frontdesk.api.routers import quality as quality_router
from frontdesk.api.routers import rules as rules_router
from frontdesk.api.routers import webhooks as webhooks_router
from frontdesk.runtime import settle_heap


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up: the heap settled (``runtime.settle_heap``), then, with ``run_worker``, the
    worker's sweeps for as long as the app is served."""
    settle_heap("api started")
    if not app.state.run_worker:
        yield
        return
    async with _worker(app):
        yield


@asynccontextmanager
async def _worker(app: FastAPI) -> AsyncIterator[None]:
    from frontdesk.worker.runner import Worker

    stop = asyncio.Event()
    worker = Worker(app.state.desk)
    # A commit that enqueued outbox rows wakes the outbox job: deliveries start right away.
    app.state.desk.after_commit.append(worker.wake_outbox)
    task = asyncio.create_task(worker.run_forever(stop), name="frontdesk-worker")
    try:
        yield
    finally:
        stop.set()
        await task
        app.state.desk.after_commit.remove(worker.wake_outbox)


DESCRIPTION = """
The frontdesk REST API. Authenticate with `Authorization: Bearer <token>`; a token belongs
to one workspace and acts as one member, with that member's permissions.

Tickets are addressed by their number in the workspace (`/api/v1/tickets/42`). Errors are
`application/problem+json`; bad input answers 422 with the offending field in `errors`.
Creating POSTs honour an `Idempotency-Key` header.
"""


WELCOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>frontdesk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2328}}
code{{background:#f0f1f3;padding:.1rem .3rem;border-radius:4px}}</style></head>
<body><h1>frontdesk {version}</h1>
<p>The desk is running, on {database}.</p>
<ul>
<li><a href="/docs">API reference</a>: every route, tried out in the browser with a token
(<code>Authorization: Bearer &lt;token&gt;</code>; <code>./dev run</code> prints one for the demo
workspace, <code>frontdesk token create</code> makes more)</li>
<li><a href="/openapi.json">OpenAPI document</a></li>
<li><a href="/healthz">Health check</a></li>
</ul></body></html>
"""


def create_app(desk: Desk, *, max_attachment_bytes: int = 25 * 1024 * 1024, run_worker: bool = False) -> FastAPI:
    """The API over ``desk``; with ``run_worker`` the worker's sweeps run in the same process
    for as long as the app is served."""
    app = FastAPI(title="frontdesk", version=__version__, description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  lifespan=_lifespan)
    app.state.desk = desk
    app.state.run_worker = run_worker
    app.state.max_attachment_bytes = max_attachment_bytes
    app.state.actor_cache = ActorCache()
    desk.after_commit.append(app.state.actor_cache.on_commit)
    errors.install(app)
    app.include_router(tickets.router)
    app.include_router(conversations.router)
    app.include_router(transcripts.router)
    app.include_router(workspace.router)
    app.include_router(queue.router)
    app.include_router(close_requests_router.router)
    app.include_router(quality_router.router)
    app.include_router(analytics.router)
    app.include_router(macros_router.router)
    app.include_router(macro_suggestions_router.router)
    app.include_router(rules_router.router)
    app.include_router(webhooks_router.router)
    app.include_router(integrations_router.router)
    app.include_router(links_router.router)
    app.include_router(discord_panels_router.router)
    app.include_router(transcript_pages.router)

    @app.get("/", include_in_schema=False)
    async def welcome() -> HTMLResponse:
        return HTMLResponse(WELCOME.format(version=__version__, database=desk.db.dialect))

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    async def healthz() -> Any:
        try:
            async with desk.db.reading() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
        return {"status": "ok", "database": desk.db.dialect, "version": __version__}

    return app
