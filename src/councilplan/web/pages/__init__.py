"""The HTML pages members use in a browser, beside the JSON API and over the same service
acts: Jinja2 templates (``web/templates``), a little hand-written CSS and htmx served from the
package (``web/static``), no build step. docs/web.md describes the pages and their security."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from councilplan.web.pages import (
    accounts,
    councils,
    delegates,
    disputes,
    ledger,
    plan,
    record,
    reports,
    sections,
)
from councilplan.web.pages.base import STATIC

AREAS = (accounts, councils, delegates, ledger, disputes, plan, record, sections, reports)


def install(app: FastAPI) -> None:
    """Add the pages' routes and the static files to ``app``."""
    for area in AREAS:
        app.router.routes.extend(area.router.routes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
