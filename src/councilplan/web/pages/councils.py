"""My councils: members, delegates and mandates, ballots with time left; voting with the form
each counting rule asks for; results with the counting shown step by step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from councilplan.councils import service as svc
from councilplan.web.pages import base
from councilplan.web.pages.accounts import sign_in_page
from councilplan.web.pages.base import Page, PageRoute, form, go, member, one, page, render
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
RANKED = ("schulze", "majority_runoff", "stv")


def my_councils(p: Page) -> tuple[svc.MyAccount, list[svc.Council]]:
    """Her account, and the councils she belongs to or is a delegate to, hers first."""
    mine = svc.my_account(p.store, p.account_id)
    everything = base.councils_by_id(p.store)
    ids = list(mine.councils)
    for d in mine.delegacies:
        if d.ended_at is None and d.federation_id not in ids:
            ids.append(d.federation_id)
    return mine, [everything[i] for i in ids if i in everything]


@router.get("/")
def home(p: Page = Depends(page)) -> Response:
    """Signed out: the sign-in page. Signed in: my councils and what is open in them."""
    if p.account_id is None:
        return sign_in_page(p)
    mine, councils = my_councils(p)
    open_ballots = []
    for council in councils:
        for ballot in svc.list_ballots(p.store, council.id):
            if ballot.status == "open":
                open_ballots.append((council, ballot))
    open_ballots.sort(key=lambda cb: cb[1].closes_at)
    voted = _voted(p, [b.id for _, b in open_ballots])
    return render(
        p, "home.html", mine=mine, councils=councils, open_ballots=open_ballots, voted=voted
    )


def _voted(p: Page, ballot_ids) -> set[int]:
    return {b for b in ballot_ids if p.account_id in svc.participation(p.store, b)}


@router.get("/councils/{council_id}")
def council(council_id: Id, p: Page = Depends(member)) -> Response:
    c = svc.get_council(p.store, council_id)
    everything = base.councils_by_id(p.store)
    if c.kind == "federation":
        delegates = svc.delegates(p.store, federation_id=c.id)
        members = []
    else:
        delegates = svc.delegates(p.store, council_id=c.id)
        members = svc.members(p.store, c.id)
    ballots = svc.list_ballots(p.store, c.id)
    open_ballots = sorted((b for b in ballots if b.status == "open"), key=lambda b: b.closes_at)
    closed = sorted(
        (b for b in ballots if b.status != "open"), key=lambda b: b.closes_at, reverse=True
    )[:15]
    recalls = _recalls_under_way(p, c, delegates)
    people = base.names_of(
        p.store, [m.account_id for m in members] + [d.account_id for d in delegates]
    )
    mine = svc.my_account(p.store, p.account_id)
    waiting = [
        a for a in svc.applications(p.store, c.id) if a.ballot_id is None and a.status == "pending"
    ]
    people.update(base.names_of(p.store, [a.account_id for a in waiting if a.account_id]))
    return render(
        p,
        "council.html",
        waiting=waiting,
        council=c,
        members=members,
        delegates=delegates,
        open_ballots=open_ballots,
        closed_ballots=closed,
        people=people,
        councils=everything,
        recalls=recalls,
        is_member=council_id in mine.councils,
        voted=_voted(p, [b.id for b in open_ballots]),
        rules=svc.council_rules(p.store, c.id),
        motions=section_motions(p, c.id),
    )


def _recalls_under_way(p: Page, c: svc.Council, delegates) -> dict[int, svc.Recall]:
    """Recalls of these delegates, by delegate id: the ballots of purpose "recall" name them."""
    out: dict[int, svc.Recall] = {}
    ids = {d.id for d in delegates}
    with p.store.reading() as tx:
        for d in ids:
            for status in ("collecting", "balloting"):
                row = tx.recall_with_status(d, status)
                if row is not None:
                    out[d] = svc.get_recall(p.store, row["id"])
    return out


def section_motions(p: Page, council_id: int) -> list[dict]:
    from councilplan.web.pages.sections import council_motions

    return council_motions(p, council_id)


@router.get("/ballots/{ballot_id}")
def ballot(ballot_id: Id, p: Page = Depends(member)) -> Response:
    return ballot_page(p, ballot_id)


def ballot_page(
    p: Page, ballot_id: int, status: int = 200, error: str | None = None, chosen: dict | None = None
) -> Response:
    b = svc.get_ballot(p.store, ballot_id)
    council = svc.get_council(p.store, b.council_id)
    voters = svc.participation(p.store, ballot_id)
    now = datetime.now(UTC)
    due = b.status == "open" and b.closes_at <= now
    tally = b.tally
    return render(
        p,
        "ballot.html",
        status=status,
        ballot=b,
        council=council,
        voted=p.account_id in voters,
        turnout=len(voters),
        due=due,
        tally=tally,
        ranked=b.rule in RANKED,
        error=error,
        chosen=chosen or {},
        said=p.request.query_params.get("said"),
        option_names=_option_names(p, b),
        fmt=_count_text,
    )


def _option_names(p: Page, b: svc.Ballot) -> dict[str, str]:
    """How options read: an election's candidates by display name (options are usernames)."""
    if b.purpose != "election":
        return {o: o for o in b.options}
    out = {}
    for o in b.options:
        found = base.account_by_username(p.store, o)
        names = base.names_of(p.store, [found]) if found else {}
        out[o] = f"{names.get(found, o)} ({o})" if found else o
    return out


def _count_text(value) -> str:
    """A count as the tally keeps it (an int, or exact "p/q" after transfers), readable."""
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        try:
            return f"{int(num) / int(den):.3f}".rstrip("0").rstrip(".") + f" ({value})"
        except (ValueError, ZeroDivisionError):
            return value
    return str(value)


@router.post("/ballots/{ballot_id}/vote")
def vote(ballot_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    b = svc.get_ballot(p.store, ballot_id)
    choice, problem, chosen = read_choice(p, b, fields)
    if problem:
        return ballot_page(p, ballot_id, 422, problem, chosen)
    try:
        svc.cast_vote(p.store, ballot_id=ballot_id, voter_id=p.account_id, choice=choice)
    except base.REFUSALS as error:
        return ballot_page(p, ballot_id, base.status_of(error), base.refusal_text(p, error), chosen)
    return go(p, f"/ballots/{ballot_id}", "voted")


def read_choice(p: Page, b: svc.Ballot, fields: dict) -> tuple[object, str | None, dict]:
    """The choice the ballot's form says, as the service takes it: "yes"/"no"/"abstain", a
    list of approved options, or options ranked (most preferred first); or what is wrong."""
    if b.rule == "yes_no":
        answer = one(fields, "choice")
        if not answer:
            return None, p._("Choose yes, no or abstain."), {}
        return answer, None, {"choice": answer}
    if b.rule == "approval":
        approved = [o for o in fields.get("approve", []) if o]
        return approved, None, {"approve": approved}
    ranks: dict[str, int] = {}
    chosen = {}
    for i, option in enumerate(b.options):
        text = one(fields, f"rank-{i}")
        chosen[f"rank-{i}"] = text
        if text:
            try:
                ranks[option] = int(text)
            except ValueError:
                return None, p._("A rank is a number."), chosen
    if not ranks:
        return None, p._("Rank at least one option: 1 for your first preference."), chosen
    if len(set(ranks.values())) != len(ranks):
        return None, p._("Give each rank to one option only."), chosen
    return sorted(ranks, key=ranks.get), None, chosen


@router.post("/ballots/{ballot_id}/count")
def count(ballot_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Close and count a ballot whose closing time has passed (as POST /api/ballots/{id}/close)."""
    try:
        svc.close_ballot(p.store, ballot_id=ballot_id)
    except base.REFUSALS as error:
        return ballot_page(p, ballot_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/ballots/{ballot_id}", "counted")


@router.post("/councils/{council_id}/motions")
def table_motion(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Table a motion and put it to the council's yes/no vote for the council's minimum days."""
    title, text = one(fields, "title"), one(fields, "text")
    try:
        c = svc.get_council(p.store, council_id)
        days = max(c.min_ballot_days, int(one(fields, "days") or c.min_ballot_days))
        m = svc.table_motion(
            p.store, council_id=council_id, member_id=p.account_id, title=title, text=text
        )
        b = svc.open_ballot(
            p.store,
            council_id=council_id,
            opened_by=p.account_id,
            title=title,
            rule="yes_no",
            motion_id=m.id,
            closes_at=datetime.now(UTC) + timedelta(days=days, minutes=1),
        )
    except ValueError:
        return base.error_page(p.request, 422, p._("The number of days is a whole number."))
    return go(p, f"/ballots/{b.id}", "motion_tabled")


@router.post("/councils/{council_id}/admissions")
def admission(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Put the applications ticked to the council's vote (its minimum ballot time)."""
    ids = [int(v) for v in fields.get("application", []) if v.isdigit()]
    if not ids:
        return base.error_page(p.request, 422, p._("Tick the applications to put to the vote."))
    c = svc.get_council(p.store, council_id)
    b = svc.open_admission(
        p.store,
        council_id=council_id,
        opened_by=p.account_id,
        application_ids=ids,
        closes_at=datetime.now(UTC) + timedelta(days=c.min_ballot_days, minutes=1),
    )
    return go(p, f"/ballots/{b.id}", "admission_opened")


@router.post("/councils/{council_id}/join")
def join(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Ask to join (a member at once when invited or the council is open)."""
    application = svc.join_council(p.store, council_id=council_id, account_id=p.account_id)
    return go(
        p, f"/councils/{council_id}", "joined" if application.status == "admitted" else "applied"
    )


@router.post("/councils/{council_id}/invitations")
def invite(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """Invite an account by its username (where the council admits by invitation)."""
    username = one(fields, "username")
    found = base.account_by_username(p.store, username)
    if found is None:
        return base.error_page(p.request, 404, p._("No account is called %(name)s.", name=username))
    svc.invite_member(p.store, council_id=council_id, member_id=p.account_id, account_id=found)
    return go(p, f"/councils/{council_id}", "invited")


@router.get("/councils")
def all_councils(p: Page = Depends(member)) -> Response:
    """Every council, to ask to join one."""
    mine = svc.my_account(p.store, p.account_id)
    return render(p, "councils.html", councils=svc.list_councils(p.store), mine=mine)
