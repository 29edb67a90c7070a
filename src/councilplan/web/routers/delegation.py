"""Delegates: elected to a federation with a mandate, nominated, and recalled."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import MAX_ID, ElectionIn, NominationIn, RecallIn

router = APIRouter(tags=["delegates"], route_class=guards.JSONRoute)


@router.post("/api/councils/{council_id}/elections", status_code=201)
def election(council_id: PathId, body: ElectionIn, me: Me, store: StoreDep) -> dict:
    """Elect the council's delegates to a federation, with a written mandate."""
    return svc.as_dict(
        svc.open_election(store, council_id=council_id, opened_by=me, **body.model_dump())
    )


@router.post("/api/ballots/{ballot_id}/nominations")
def nominate(ballot_id: PathId, body: NominationIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.nominate(store, ballot_id=ballot_id, member_id=me, candidate_id=body.candidate_id)
    )


@router.get("/api/delegates")
def delegates(
    _me: Me,
    store: StoreDep,
    federation_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    council_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    current: bool = True,
) -> list[dict]:
    return svc.as_dict(
        svc.delegates(store, federation_id=federation_id, council_id=council_id, current=current)
    )


@router.post("/api/delegates/{delegate_id}/recalls", status_code=201)
def recall(delegate_id: PathId, body: RecallIn, me: Me, store: StoreDep) -> dict:
    """Open a recall of a delegate of my council (my support counts at once)."""
    return svc.as_dict(
        svc.open_recall(store, delegate_id=delegate_id, member_id=me, reason=body.reason)
    )


@router.post("/api/recalls/{recall_id}/support")
def support(recall_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.support_recall(store, recall_id=recall_id, member_id=me))


@router.get("/api/recalls/{recall_id}")
def get_recall(recall_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_recall(store, recall_id))
