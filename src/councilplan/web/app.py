"""The JSON API: a thin FastAPI layer over ``councils.service``; the OpenAPI document is at
``/openapi.json`` and the interactive docs at ``/docs``. Reference: docs/api.md.

Every endpoint names who is asking (cookie or bearer token) and hands the act to one service
function, which checks who may do it and runs it in one transaction. Refusals come back as
``{"detail": {"reason", "message", "field"}}`` with 403 (not allowed), 404 (no such thing),
409 (conflicts with what is on record) or 422 (bad input). The routes are in ``routers/``, one
module per area; their request bodies in ``schemas``; what they share in ``deps``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from councilplan.councils import counting
from councilplan.councils import service as svc
from councilplan.councils.service import sections as section_acts
from councilplan.web import guards, pages
from councilplan.web.fastpath import FastVotes
from councilplan.web.routers import (
    accounts,
    audit,
    ballots,
    budgets,
    councils,
    delegation,
    disputes,
    ledger,
    planning,
    reports,
    sections,
)
from councilplan.web.schemas import MAX_ID, VoteIn

AREAS = (
    accounts,
    councils,
    ballots,
    delegation,
    budgets,
    disputes,
    planning,
    ledger,
    sections,
    reports,
    audit,
)


def refusal(error: Exception) -> JSONResponse | None:
    """The answer to an act the service or the database refused; None for any other error."""
    if isinstance(error, svc.Refused):
        detail = {"reason": error.reason, "message": error.message, "field": error.field}
        return JSONResponse({"detail": detail}, status_code=error.status)
    if isinstance(error, svc.GuardRefused):
        detail = {"reason": "refused_by_database", "message": str(error), "field": None}
        return JSONResponse({"detail": detail}, status_code=409)
    if isinstance(error, counting.CountingError):
        detail = {
            "reason": "cannot_count",
            "message": str(error),
            "field": error.where.field if error.where else None,
        }
        return JSONResponse({"detail": detail}, status_code=422)
    return None


def create_app(
    store: svc.Store,
    *,
    close_every_s: float | None = 30.0,
    fast_votes: bool = True,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """The API over ``store``. Every ``close_every_s`` seconds ballots past their closing time
    are closed and counted (None: only when someone asks, POST /api/ballots/{id}/close).
    ``fast_votes``: votes answered by :class:`~councilplan.web.fastpath.FastVotes` (the same
    answers, for less CPU); False: by the route alone (the tests compare the two).
    ``max_body_bytes``: the most a request body may hold (None: $COUNCILPLAN_MAX_BODY_BYTES,
    else 128 KiB; see :mod:`councilplan.web.guards`)."""
    app = FastAPI(
        title="councilplan",
        version="0.1.0",
        description="Councils, delegates, motions, ballots, budgets and the record. "
        "Log in with POST /api/session (cookie) or POST /api/tokens (bearer token).",
        lifespan=_lifespan(store, close_every_s),
    )
    app.state.store = store

    @app.exception_handler(svc.Refused)
    @app.exception_handler(svc.GuardRefused)
    @app.exception_handler(counting.CountingError)
    async def refused(_request: Request, error: Exception) -> JSONResponse:
        return refusal(error)

    if fast_votes:
        app.add_middleware(
            FastVotes, store=store, vote_model=VoteIn, max_id=MAX_ID, refusal=refusal
        )
    guards.install(app, max_body_bytes=max_body_bytes)  # outermost; before the routes

    # The areas' routes join the app's own list, not through include_router, which in recent
    # FastAPI (0.165) nests each router as one entry: app.routes then lists every endpoint (the
    # tests walk it) and a request is matched as before, without a hop through a sub-router.
    for area in AREAS:
        app.router.routes.extend(area.router.routes)
    pages.install(app)  # the HTML pages: "/" is the sign-in page (web/pages, docs/web.md)
    return app


def _lifespan(store: svc.Store, close_every_s: float | None):
    """Start-up and shut-down of the app over ``store``: the thread pool's size, the task that
    closes due ballots, PostgreSQL's async pool, and the collector's view of what start-up
    built."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sync endpoints run in AnyIO's thread pool (40 threads by default). Each act spends
        # most of its time waiting on the database, but past a few threads per core more only
        # adds GIL hand-offs and context switches: measured with benchmarks/service.py.
        threads = int(os.environ.get("COUNCILPLAN_THREADS", "0"))
        if threads > 0:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        task = None
        if close_every_s:

            async def closer():
                while True:
                    await asyncio.sleep(close_every_s)
                    with contextlib.suppress(Exception):  # retried next round
                        await asyncio.to_thread(svc.close_due_ballots, store)
                        await asyncio.to_thread(svc.apply_dispute_deadlines, store)
                        await asyncio.to_thread(section_acts.close_due_section_ballots, store)
                        await asyncio.to_thread(section_acts.check_section_deadlines, store)

            task = asyncio.create_task(closer())
        # PostgreSQL's async pool for the vote endpoint (SQLite: nothing to open).
        await store.open_async()
        # What start-up built (modules, the app, pools) lives as long as the server: keep it
        # out of the cycle collector's full passes, which otherwise walk it all every time and
        # stall every request in flight (the long tail of vote latencies under load).
        gc.collect()
        gc.freeze()
        yield
        if task:
            task.cancel()
        await store.close_async()

    return lifespan
