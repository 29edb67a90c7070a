"""The record: the hash-chained log of every act, read and verified."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, StoreDep
from councilplan.web.schemas import MAX_ID

router = APIRouter(tags=["audit"], route_class=guards.JSONRoute)


@router.get("/api/audit")
def audit(
    _me: Me,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """Entries of the record after seq ``after``, oldest first."""
    return svc.as_dict(store.audit_entries(after=after, limit=limit))


@router.get("/api/audit/verify")
def audit_verify(_me: Me, store: StoreDep) -> dict:
    """Recompute the hash chain; names the first entry altered, removed or reordered."""
    return svc.as_dict(store.verify_audit())
