"""Sections of a council (docs/equality.md): founding one, joining and leaving it (each member
for herself), its own ballots (electing its delegate, dissolving itself), the motions its
delegate tables in the council and what became of them; and each member's declared groups,
which only she reads back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field

from councilplan.councils import service as svc
from councilplan.councils.service import sections as acts
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import Id, Long, Short, Strict, When

router = APIRouter(tags=["sections"], route_class=guards.JSONRoute)


class SectionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    purpose: Annotated[str, Field(max_length=2000)] = ""


class SectionBallotIn(Strict):
    purpose: Literal["election", "dissolution"]
    closes_at: When
    candidates: Annotated[list[Id], Field(max_length=100)] = []


class SectionVoteIn(Strict):
    choice: str | Annotated[list[Annotated[str, Field(max_length=20)]], Field(max_length=100)]


class SectionMotionIn(Strict):
    title: Short
    text: Long


class GroupsIn(Strict):
    """What a member says of herself, if she chooses: leave a field out (or empty) not to say."""

    gender: Annotated[str, Field(max_length=100)] | None = None
    group: Annotated[str, Field(max_length=200)] | None = None


@router.get("/api/councils/{council_id}/sections")
def council_sections(council_id: PathId, _me: Me, store: StoreDep, current: bool = True) -> Any:
    """The council's sections (name, purpose, how many belong, its delegate); not who belongs."""
    return svc.as_dict(acts.list_sections(store, council_id, current=current))


@router.post("/api/councils/{council_id}/sections", status_code=201)
def found_section(council_id: PathId, body: SectionIn, me: Me, store: StoreDep) -> dict:
    """A member founds a section of her council and is its first member."""
    return svc.as_dict(
        acts.create_section(store, council_id=council_id, founder_id=me, **body.model_dump())
    )


@router.get("/api/sections/{section_id}")
def section(section_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(acts.get_section(store, section_id))


@router.get("/api/sections/{section_id}/members")
def section_members(section_id: PathId, me: Me, store: StoreDep) -> list[int]:
    """Who belongs: for the section's own members only (403 ``not_in_section``)."""
    return acts.section_members(store, section_id=section_id, viewer_id=me)


@router.post("/api/sections/{section_id}/join", status_code=201)
def join_section(section_id: PathId, me: Me, store: StoreDep) -> dict:
    """Join a section of a council one belongs to, by one's own act."""
    return svc.as_dict(acts.join_section(store, section_id=section_id, account_id=me))


@router.post("/api/sections/{section_id}/leave")
def leave_section(section_id: PathId, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(acts.leave_section(store, section_id=section_id, account_id=me))


@router.post("/api/sections/{section_id}/ballots", status_code=201)
def section_ballot(section_id: PathId, body: SectionBallotIn, me: Me, store: StoreDep) -> dict:
    """Open the section's ballot: electing its delegate among ``candidates`` (its members), or
    dissolving it (carried only by more than half of its members)."""
    return svc.as_dict(
        acts.open_section_ballot(store, section_id=section_id, opened_by=me, **body.model_dump())
    )


@router.get("/api/section-ballots/{ballot_id}")
def get_section_ballot(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(acts.get_section_ballot(store, ballot_id))


@router.post("/api/section-ballots/{ballot_id}/votes", status_code=201)
def section_vote(ballot_id: PathId, body: SectionVoteIn, me: Me, store: StoreDep) -> dict:
    """Vote: "yes", "no" or "abstain" on a dissolution; a ranking of candidates' account ids
    (as text) in an election."""
    return svc.as_dict(
        acts.cast_section_vote(store, ballot_id=ballot_id, voter_id=me, choice=body.choice)
    )


@router.get("/api/section-ballots/{ballot_id}/votes")
def section_votes(ballot_id: PathId, me: Me, store: StoreDep) -> list[dict]:
    """Who voted what: for the section's members only."""
    return acts.section_ballot_votes(store, ballot_id=ballot_id, viewer_id=me)


@router.post("/api/section-ballots/{ballot_id}/close")
def close_section_ballot(ballot_id: PathId, _me: Me, store: StoreDep) -> dict:
    """Count a section ballot whose time is up (anyone may ask; none earlier)."""
    return svc.as_dict(acts.close_section_ballot(store, ballot_id=ballot_id))


@router.post("/api/sections/{section_id}/motions", status_code=201)
def table_motion(section_id: PathId, body: SectionMotionIn, me: Me, store: StoreDep) -> dict:
    """The section's delegate tables a motion in the council, which must have voted on it
    within its rule ``section_motion_days``."""
    return svc.as_dict(
        acts.table_section_motion(store, section_id=section_id, delegate_id=me, **body.model_dump())
    )


@router.get("/api/sections/{section_id}/motions")
def motions_of_section(section_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    """The section's motions and what became of them (decided, in time or not; breached)."""
    return svc.as_dict(acts.section_motions(store, section_id=section_id))


@router.get("/api/councils/{council_id}/section-motions")
def motions_in_council(council_id: PathId, _me: Me, store: StoreDep) -> list[dict]:
    return svc.as_dict(acts.section_motions(store, council_id=council_id))


@router.get("/api/me/groups")
def my_groups(me: Me, store: StoreDep) -> dict:
    """What you declared of yourself (nothing: every field null). No one else reads it."""
    return svc.as_dict(acts.my_groups(store, account_id=me))


@router.put("/api/me/groups")
def declare_groups(body: GroupsIn, me: Me, store: StoreDep) -> dict:
    """Say (or change) your gender and a group you describe yourself, if you choose; a field
    left out is not said. Only you read it back; the equality reports count it, suppressed."""
    return svc.as_dict(acts.declare_groups(store, account_id=me, **body.model_dump()))


@router.delete("/api/me/groups")
def remove_groups(me: Me, store: StoreDep) -> dict:
    """Remove everything you declared."""
    return svc.as_dict(acts.declare_groups(store, account_id=me))
