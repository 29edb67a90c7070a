"""Councils, their members (asking to join, admitted by the council's decision or a member's
invitation), the council's rules (changed by its ballot), and councils asking to join a
federation."""

from __future__ import annotations

from fastapi import APIRouter

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import AdmissionIn, AffiliationIn, CouncilIn, InvitationIn, RulesIn

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
    """Ask to join: a member at once only if invited or the council is open; otherwise the
    application waits for the council's admission ballot."""
    return svc.as_dict(svc.join_council(store, council_id=council_id, account_id=me))


@router.get("/api/councils/{council_id}/applications")
def council_applications(council_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    """Applications waiting for the council's (the federation's) decision."""
    return svc.as_dict(svc.applications(store, council_id))


@router.post("/api/councils/{council_id}/invitations", status_code=201)
def invite(council_id: PathId, body: InvitationIn, me: Me, store: StoreDep) -> dict:
    """Invite an account (where the council's rule is admission by invitation)."""
    return svc.as_dict(
        svc.invite_member(store, council_id=council_id, member_id=me, account_id=body.account_id)
    )


@router.post("/api/councils/{council_id}/admissions", status_code=201)
def admission_ballot(council_id: PathId, body: AdmissionIn, me: Me, store: StoreDep) -> dict:
    """Put applications to the council's vote (a federation: councils asking to join it)."""
    return svc.as_dict(
        svc.open_admission(store, council_id=council_id, opened_by=me, **body.model_dump())
    )


@router.get("/api/councils/{council_id}/rules")
def rules(council_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The rules the council has set itself (docs/councils.md)."""
    return svc.as_dict(svc.council_rules(store, council_id))


@router.post("/api/councils/{council_id}/rules", status_code=201)
def rules_ballot(council_id: PathId, body: RulesIn, me: Me, store: StoreDep) -> dict:
    """Put a change of the council's rules to its vote; carried, they change at the close."""
    changes = body.model_dump(exclude_none=True)
    closes_at = changes.pop("closes_at")
    return svc.as_dict(
        svc.open_rules_ballot(
            store, council_id=council_id, opened_by=me, rules=changes, closes_at=closes_at
        )
    )


@router.post("/api/councils/{council_id}/leave")
def leave(council_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.leave_council(store, council_id=council_id, account_id=me))


@router.post("/api/federations/{federation_id}/councils", status_code=201)
def affiliate(federation_id: PathId, body: AffiliationIn, me: Me, store: StoreDep) -> dict:
    """Ask, for a council of which I am a member, to join a federation; the federation
    decides (its founder for the first council, then its delegates by ballot)."""
    return svc.as_dict(
        svc.apply_for_affiliation(
            store, federation_id=federation_id, actor_id=me, **body.model_dump()
        )
    )


@router.post("/api/applications/{application_id}/admit")
def admit_first(application_id: PathId, me: Me, store: StoreDep) -> dict:
    """The founder of a federation admits its first council."""
    return svc.as_dict(svc.admit_first_council(store, application_id=application_id, actor_id=me))
