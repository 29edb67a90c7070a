"""What the routes share: who is asking, the store, and an id in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from councilplan.councils import service as svc
from councilplan.web import auth
from councilplan.web.schemas import MAX_ID

#: The account asking (cookie or bearer token); 401 without one.
Me = Annotated[int, Depends(auth.current_account)]


async def app_store(request: Request) -> svc.Store:  # async: no I/O, no thread hop
    """The store the app was created over."""
    return request.app.state.store


StoreDep = Annotated[svc.Store, Depends(app_store)]

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
