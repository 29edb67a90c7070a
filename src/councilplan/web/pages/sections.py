"""Sections of a council (docs/equality.md): founding one, joining and leaving it (each member
for herself), its own ballots (electing its delegate, dissolving itself), the motions its
delegate tables in the council, their deadlines and what became of them; and on the profile,
the groups a member declares of herself, if she chooses.

What a page shows mirrors the service's rules: anyone signed in reads a section's name,
purpose, how many belong and its delegate (as ``GET /api/sections/{id}``); only its own
members read who belongs and who voted what (``section_members``, ``section_ballot_votes``
refuse anyone else). A member's declared groups are read back by her alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from councilplan.councils import service as svc
from councilplan.councils.service import sections as acts
from councilplan.web.pages import base
from councilplan.web.pages.base import Page, PageRoute, form, go, member, one, render
from councilplan.web.pages.councils import read_choice
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


# -- what a motion became ------------------------------------------------------------------------


def motion_state(p: Page, m: acts.SectionMotion) -> tuple[str, str]:
    """How a section's motion stands, in words, and the badge class: carried, not carried or
    void (in time or after its deadline), waiting, or overdue (the council in breach)."""
    now = datetime.now(UTC)
    deadline = m.deadline if m.deadline.tzinfo else m.deadline.replace(tzinfo=UTC)
    if m.status == "decided":
        said = {
            "carried": p._("carried"),
            "not_carried": p._("not carried"),
            "void": p._("void"),
        }.get(m.outcome or "", m.outcome or "")
        if m.in_time:
            return p._("%(outcome)s, voted in time", outcome=said), "ok"
        return p._(
            "%(outcome)s, voted after its deadline: the council was in breach", outcome=said
        ), "warn"
    if m.breached_at is not None or deadline <= now:
        return p._("overdue: the council is in breach"), "warn"
    return p._("waiting for the council's vote"), ""


def council_motions(p: Page, council_id: int) -> list[dict]:
    """The sections' motions in a council, newest first, with what became of them and the
    council's open ballot on each (if one is open)."""
    motions = acts.section_motions(p.store, council_id=council_id)
    if not motions:
        return []
    sections = {s.id: s for s in acts.list_sections(p.store, council_id, current=False)}
    on_motion = {}
    for b in svc.list_ballots(p.store, council_id):
        motion = (b.subject or {}).get("motion_id")
        if motion is not None and b.status == "open":
            on_motion[motion] = b
    out = []
    for m in sorted(motions, key=lambda m: m.tabled_at, reverse=True):
        text, badge = motion_state(p, m)
        section = sections.get(m.section_id)
        out.append(
            {
                "motion": m,
                "section": section.name if section else str(m.section_id),
                "state": text,
                "badge": badge,
                "ballot": on_motion.get(m.motion_id),
            }
        )
    return out


# -- a council's sections ------------------------------------------------------------------------


@router.get("/councils/{council_id}/sections")
def council_sections(council_id: Id, p: Page = Depends(member)) -> Response:
    return sections_page(p, council_id)


def sections_page(p: Page, council_id: int, status: int = 200, error: str | None = None):
    c = svc.get_council(p.store, council_id)
    mine = svc.my_account(p.store, p.account_id)
    sections = acts.list_sections(p.store, council_id) if c.kind != "federation" else []
    delegates = base.names_of(p.store, [s.delegate_id for s in sections])
    return render(
        p,
        "sections.html",
        status=status,
        council=c,
        sections=sections,
        delegates=delegates,
        motions=council_motions(p, council_id),
        is_member=council_id in mine.councils,
        error=error,
    )


@router.post("/councils/{council_id}/sections")
def found(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """A member of the council founds a section and is its first member."""
    try:
        s = acts.create_section(
            p.store,
            council_id=council_id,
            founder_id=p.account_id,
            name=one(fields, "name"),
            purpose=one(fields, "purpose"),
        )
    except base.REFUSALS as error:
        return sections_page(p, council_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{s.id}", "section_founded")


@router.post("/councils/{council_id}/section-motions/{motion_id}/ballot")
def put_to_vote(council_id: Id, motion_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """A member of the council puts a section's motion to the council's yes/no vote, for the
    council's minimum ballot time (the deadline is the section's due, the vote the council's)."""
    (m,) = [m for m in acts.section_motions(p.store, council_id=council_id) if m.id == motion_id][
        :1
    ] or [None]
    if m is None:
        raise svc.NotFound(
            "no_such_motion",
            f"motion_id: council {council_id} has no section motion {motion_id}",
            "motion_id",
        )
    c = svc.get_council(p.store, council_id)
    with p.store.reading() as tx:
        title = (tx.motion(m.motion_id) or {}).get("title") or m.title
    b = svc.open_ballot(
        p.store,
        council_id=council_id,
        opened_by=p.account_id,
        title=title,
        rule="yes_no",
        motion_id=m.motion_id,
        closes_at=datetime.now(UTC) + timedelta(days=c.min_ballot_days, minutes=1),
    )
    return go(p, f"/ballots/{b.id}", "motion_tabled")


# -- one section ---------------------------------------------------------------------------------


@router.get("/sections/{section_id}")
def section(section_id: Id, p: Page = Depends(member)) -> Response:
    return section_page(p, section_id)


def section_page(
    p: Page, section_id: int, status: int = 200, error: str | None = None, chosen=None
):
    s = acts.get_section(p.store, section_id)
    c = svc.get_council(p.store, s.council_id)
    mine = svc.my_account(p.store, p.account_id)
    try:  # the service shows who belongs to the section's own members only
        members = acts.section_members(p.store, section_id=section_id, viewer_id=p.account_id)
    except svc.Refused:
        members = None
    with p.store.reading() as tx:
        ids = [row["id"] for row in tx.section_ballots(section_id)]
    ballots = sorted(
        (acts.get_section_ballot(p.store, i) for i in ids), key=lambda b: b.opened_at, reverse=True
    )
    voted: set[int] = set()
    if members is not None:
        for b in ballots:
            if b.status == "open":
                votes = acts.section_ballot_votes(p.store, ballot_id=b.id, viewer_id=p.account_id)
                if any(v["account_id"] == p.account_id for v in votes):
                    voted.add(b.id)
    option_ids = [int(o) for b in ballots if b.purpose == "election" for o in b.options]
    people = base.names_of(p.store, [*(members or []), s.delegate_id, *option_ids])
    motions = acts.section_motions(p.store, section_id=section_id)
    now = datetime.now(UTC)
    return render(
        p,
        "section.html",
        status=status,
        section=s,
        council=c,
        members=members,
        people=people,
        ballots=ballots,
        voted=voted,
        due={b.id for b in ballots if b.status == "open" and _utc(b.closes_at) <= now},
        open_purposes={b.purpose for b in ballots if b.status == "open"},
        motions=[
            (m, *motion_state(p, m))
            for m in sorted(motions, key=lambda m: m.tabled_at, reverse=True)
        ],
        is_council_member=s.council_id in mine.councils,
        is_delegate=s.delegate_id == p.account_id,
        min_days=c.min_ballot_days,
        council_rules_days=c.section_motion_days,
        error=error,
        chosen=chosen or {},
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.post("/sections/{section_id}/join")
def join(section_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Join, by one's own act: the service refuses anyone not a member of the council."""
    try:
        acts.join_section(p.store, section_id=section_id, account_id=p.account_id)
    except base.REFUSALS as error:
        return section_page(p, section_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{section_id}", "section_joined")


@router.post("/sections/{section_id}/leave")
def leave(section_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    try:
        acts.leave_section(p.store, section_id=section_id, account_id=p.account_id)
    except base.REFUSALS as error:
        return section_page(p, section_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{section_id}", "section_left")


@router.post("/sections/{section_id}/ballots")
def open_ballot(section_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Open the section's ballot: its delegate's election among the members ticked, or its
    dissolution (carried only by more than half of its members)."""
    purpose = one(fields, "purpose")
    s = acts.get_section(p.store, section_id)
    c = svc.get_council(p.store, s.council_id)
    days_text = one(fields, "days") or str(c.min_ballot_days)
    if not (days_text.isascii() and days_text.isdigit()) or int(days_text) > 366:
        return section_page(
            p, section_id, 422, p._("The number of days is a whole number, at most 366.")
        )
    days = max(c.min_ballot_days, int(days_text))
    candidates = [int(v) for v in fields.get("candidate", []) if v.isascii() and v.isdigit()]
    try:
        acts.open_section_ballot(
            p.store,
            section_id=section_id,
            opened_by=p.account_id,
            purpose=purpose,
            candidates=candidates,
            closes_at=datetime.now(UTC) + timedelta(days=days, minutes=1),
        )
    except base.REFUSALS as error:
        return section_page(p, section_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{section_id}", "section_ballot_opened")


@router.post("/section-ballots/{ballot_id}/vote")
def vote(ballot_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    b = acts.get_section_ballot(p.store, ballot_id)
    choice, problem, chosen = read_choice(p, b, fields)
    if problem:
        return section_page(p, b.section_id, 422, problem, chosen)
    try:
        acts.cast_section_vote(p.store, ballot_id=ballot_id, voter_id=p.account_id, choice=choice)
    except base.REFUSALS as error:
        return section_page(
            p, b.section_id, base.status_of(error), base.refusal_text(p, error), chosen
        )
    return go(p, f"/sections/{b.section_id}", "voted")


@router.post("/section-ballots/{ballot_id}/count")
def count(ballot_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Count a section ballot whose time is up (anyone may ask; none earlier)."""
    b = acts.get_section_ballot(p.store, ballot_id)
    try:
        acts.close_section_ballot(p.store, ballot_id=ballot_id)
    except base.REFUSALS as error:
        return section_page(p, b.section_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{b.section_id}", "counted")


@router.post("/sections/{section_id}/motions")
def table(section_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """The section's delegate tables a motion in the council (the service refuses anyone else);
    the council must vote on it by the deadline its rules set."""
    try:
        acts.table_section_motion(
            p.store,
            section_id=section_id,
            delegate_id=p.account_id,
            title=one(fields, "title"),
            text=one(fields, "text"),
        )
    except base.REFUSALS as error:
        return section_page(p, section_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/sections/{section_id}", "section_motion_tabled")


# -- my declared groups (on the profile) ---------------------------------------------------------


def declared(p: Page) -> acts.DeclaredGroups:
    """What the member reading declared of herself (the profile shows it to her alone)."""
    return acts.my_groups(p.store, account_id=p.account_id)


@router.post("/profile/groups")
def declare(fields: Form, p: Page = Depends(member)) -> Response:
    """Declare, change or remove (the "remove" button, or both fields empty) one's gender and
    self-described group."""
    if one(fields, "action") == "remove":
        acts.declare_groups(p.store, account_id=p.account_id)
        return go(p, "/profile", "groups_removed")
    acts.declare_groups(
        p.store,
        account_id=p.account_id,
        gender=one(fields, "gender") or None,
        group=one(fields, "group") or None,
    )
    return go(p, "/profile", "groups_saved")
