"""The ASGI app for ``uvicorn councilplan.web.main:app``: the database from
COUNCILPLAN_DATABASE_URL (default ./councilplan.sqlite), migrated on start."""

from __future__ import annotations

import os

from councilplan.store import open_store
from councilplan.web.app import create_app

app = create_app(open_store(os.environ.get("COUNCILPLAN_DATABASE_URL")))
