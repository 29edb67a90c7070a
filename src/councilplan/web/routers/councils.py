"""Councils, their members, and councils affiliated with a federation."""

from __future__ import annotations

from fastapi import APIRouter

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import AffiliationIn, CouncilIn

router = APIRouter(tags=["councils"], route_class=guards.JSONRoute)


@router.get("/api/councils")
def councils(_me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(svc.list_councils(store))


@router.post("/api/councils", status_code=201)
def found_council(body: CouncilIn, me: Me, store: StoreDep) -> dict:
    """Found a council; the founder of a workplace or consumer council is its first member."""
    return svc.as_dict(svc.create_council(store, founder_id=me, **body.model_dump()))


@router.get("/api/councils/{council_id}")
def council(council_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_council(store, council_id))


@router.get("/api/councils/{council_id}/members")
def council_members(
    council_id: PathId, _me: Me, store: StoreDep, current: bool = True
) -> list[dict]:
    """Members with join and leave dates (a federation: its delegates)."""
    return svc.as_dict(svc.members(store, council_id, current=current))


@router.post("/api/councils/{council_id}/join", status_code=201)
def join(council_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.join_council(store, council_id=council_id, account_id=me))


@router.post("/api/councils/{council_id}/leave")
def leave(council_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.leave_council(store, council_id=council_id, account_id=me))


@router.post("/api/federations/{federation_id}/councils", status_code=201)
def affiliate(federation_id: PathId, body: AffiliationIn, me: Me, store: StoreDep) -> dict:
    """Affiliate a council (of which I am a member) with a federation."""
    return svc.as_dict(
        svc.join_federation(store, federation_id=federation_id, actor_id=me, **body.model_dump())
    )
