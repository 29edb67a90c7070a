"""Motions and their amendments; ballots, votes and counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from councilplan.councils import service as svc
from councilplan.web import auth, guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import AmendmentIn, BallotIn, MotionIn, VoteIn

router = APIRouter(route_class=guards.JSONRoute)

# -- motions -------------------------------------------------------------------------------------


@router.post("/api/councils/{council_id}/motions", status_code=201, tags=["motions"])
def table(council_id: PathId, body: MotionIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.table_motion(
            store, council_id=council_id, member_id=me, title=body.title, text=body.text
        )
    )


@router.get("/api/motions/{motion_id}", tags=["motions"])
def get_motion(motion_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.motion(store, motion_id))


@router.post("/api/motions/{motion_id}/amendments", status_code=201, tags=["motions"])
def amend(motion_id: PathId, body: AmendmentIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.amend_motion(store, motion_id=motion_id, member_id=me, text=body.text))


# -- ballots -------------------------------------------------------------------------------------


@router.get("/api/councils/{council_id}/ballots", tags=["ballots"])
def ballots(council_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(svc.list_ballots(store, council_id))


@router.post("/api/councils/{council_id}/ballots", status_code=201, tags=["ballots"])
def open_ballot(council_id: PathId, body: BallotIn, me: Me, store: StoreDep) -> dict:
    """Put a question to the council's vote until ``closes_at``."""
    return svc.as_dict(
        svc.open_ballot(store, council_id=council_id, opened_by=me, **body.model_dump())
    )


@router.get("/api/ballots/{ballot_id}", tags=["ballots"])
def ballot(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_ballot(store, ballot_id))


@router.post("/api/ballots/{ballot_id}/votes", status_code=201, tags=["ballots"])
async def vote(
    ballot_id: PathId,
    body: VoteIn,
    store: StoreDep,
    token: Annotated[str, Depends(auth.required_token)],
) -> dict:
    """Cast my vote; a second vote is refused (409 already_voted)."""
    # The API's busiest request, served on the event loop where the store can (PostgreSQL: the
    # token and the vote are each one awaited call). With fast_votes on, web/fastpath.py answers
    # the well-formed ones before they reach here; see docs/api.md, Performance.
    me = await auth.account_or_401_async(store, token)
    receipt = await svc.cast_vote_async(store, ballot_id=ballot_id, voter_id=me, choice=body.choice)
    return svc.as_dict(receipt)


@router.get("/api/ballots/{ballot_id}/votes", tags=["ballots"])
def votes(ballot_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    """Who voted what, on open ballots only (403 secret_ballot otherwise)."""
    return svc.as_dict(svc.open_votes(store, ballot_id))


@router.get("/api/ballots/{ballot_id}/participation", tags=["ballots"])
def turnout(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    return {"ballot_id": ballot_id, "voters": svc.participation(store, ballot_id)}


@router.post("/api/ballots/{ballot_id}/close", tags=["ballots"])
def close(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    """Close and count a ballot whose closing time has passed."""
    return svc.as_dict(svc.close_ballot(store, ballot_id=ballot_id))


@router.get("/api/ballots/{ballot_id}/recount", tags=["ballots"])
def recount(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    """Count a closed ballot again from its stored votes and compare."""
    return svc.as_dict(svc.recount(store, ballot_id))
