"""The rates-and-conflicts commission: its seats, and disputes about work norms or recorded
hours, from filing through hearing and decision to appeal and final word."""

from __future__ import annotations

from fastapi import APIRouter

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import (
    AppealIn,
    CommissionIn,
    DecisionIn,
    DisputeIn,
    FinalIn,
    HearingIn,
    SeatIn,
)

router = APIRouter(tags=["commission"], route_class=guards.JSONRoute)


@router.post("/api/commissions", status_code=201)
def commission(body: CommissionIn, me: Me, store: StoreDep) -> dict:
    """Set up a commission between a workplace council and a planning federation."""
    return svc.as_dict(svc.create_commission(store, actor_id=me, **body.model_dump()))


@router.post("/api/commissions/{commission_id}/seats", status_code=201)
def take_seat(commission_id: PathId, body: SeatIn, me: Me, store: StoreDep) -> dict:
    """Take a seat for my side (workplace member or federation delegate)."""
    return svc.as_dict(
        svc.take_commission_seat(store, commission_id=commission_id, account_id=me, side=body.side)
    )


@router.post("/api/commissions/{commission_id}/disputes", status_code=201)
def file(commission_id: PathId, body: DisputeIn, me: Me, store: StoreDep) -> dict:
    """File a dispute about a work norm or recorded hours."""
    return svc.as_dict(
        svc.file_dispute(store, commission_id=commission_id, filer_id=me, **body.model_dump())
    )


@router.get("/api/disputes")
def my_cases(me: Me, store: StoreDep) -> list[dict]:
    """Cases before the commissions where I hold a seat, and my own."""
    return svc.as_dict(svc.my_disputes(store, viewer_id=me))


@router.get("/api/disputes/{dispute_id}")
def case(dispute_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_dispute(store, dispute_id=dispute_id, viewer_id=me))


@router.post("/api/disputes/{dispute_id}/hearing")
def hearing(dispute_id: PathId, body: HearingIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.hear_dispute(store, dispute_id=dispute_id, actor_id=me, present=body.present)
    )


@router.post("/api/disputes/{dispute_id}/decision")
def decision(dispute_id: PathId, body: DecisionIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.decide_dispute(
            store, dispute_id=dispute_id, actor_id=me, hours=body.hours, vote=body.vote
        )
    )


@router.post("/api/disputes/{dispute_id}/appeal")
def appeal(dispute_id: PathId, body: AppealIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.appeal_dispute(store, dispute_id=dispute_id, actor_id=me, grounds=body.grounds)
    )


@router.post("/api/disputes/{dispute_id}/final")
def final(dispute_id: PathId, body: FinalIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.finalise_dispute(
            store, dispute_id=dispute_id, actor_id=me, hours=body.hours, vote=body.vote
        )
    )
