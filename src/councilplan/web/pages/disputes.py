"""Disputes before a rates-and-conflicts commission: file one, follow it; the commission's
members hear it and vote on the hours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from councilplan.councils import service as svc
from councilplan.web.pages import base
from councilplan.web.pages.base import Page, PageRoute, form, go, member, one, render
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _commissions(p: Page, council_ids) -> list[dict]:
    """The commissions of the workplaces among ``council_ids`` (where she may file)."""
    out = []
    with p.store.reading() as tx:
        for council_id in council_ids:
            for row in tx.commissions(workplace_council_id=council_id):
                out.append(dict(row))
    return out


@router.get("/disputes")
def disputes(p: Page = Depends(member)) -> Response:
    return disputes_page(p)


def disputes_page(
    p: Page, status: int = 200, error: str | None = None, values: dict | None = None
) -> Response:
    mine = svc.my_account(p.store, p.account_id)
    cases = svc.my_disputes(p.store, viewer_id=p.account_id)
    seats = {s.commission_id for s in mine.commission_seats if s.left_at is None}
    return render(
        p,
        "disputes.html",
        status=status,
        cases=sorted(cases, key=lambda d: d.dispute_id, reverse=True),
        commissions=_commissions(p, mine.councils),
        seats=seats,
        error=error,
        values=values or {},
        said=p.request.query_params.get("said"),
    )


@router.post("/disputes")
def file(fields: Form, p: Page = Depends(member)) -> Response:
    values = {
        k: one(fields, k)
        for k in ("commission", "subject", "target", "current_hours", "claimed_hours", "grounds")
    }
    try:
        commission_id = int(values["commission"])
    except ValueError:
        return disputes_page(p, 422, p._("Choose the commission."), values)
    try:
        view = svc.file_dispute(
            p.store,
            commission_id=commission_id,
            filer_id=p.account_id,
            subject=values["subject"],
            target=values["target"],
            current_hours=values["current_hours"],
            claimed_hours=values["claimed_hours"],
            grounds=values["grounds"],
            worker_id=p.account_id if values["subject"] == "recorded_hours" else None,
        )
    except base.REFUSALS as error:
        return disputes_page(p, base.status_of(error), base.refusal_text(p, error), values)
    return go(p, f"/disputes/{view.dispute_id}", "dispute_filed")


@router.get("/disputes/{dispute_id}")
def dispute(dispute_id: Id, p: Page = Depends(member)) -> Response:
    return dispute_page(p, dispute_id)


def dispute_page(p: Page, dispute_id: int, status: int = 200, error: str | None = None):
    d = svc.get_dispute(p.store, dispute_id=dispute_id, viewer_id=p.account_id)
    seats = [
        int(s) for s in d.commission.workplace_seats + d.commission.federation_seats if s.isdigit()
    ]
    people = base.names_of(p.store, seats + ([int(d.filer_id)] if d.filer_id.isdigit() else []))
    return render(
        p,
        "dispute.html",
        status=status,
        d=d,
        people=people,
        seated=p.account_id in seats,
        seat_ids=seats,
        error=error,
        said=p.request.query_params.get("said"),
    )


@router.post("/disputes/{dispute_id}/hearing")
def hear(dispute_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    present = []
    for value in fields.get("present", []):
        if value.isdigit():
            present.append(int(value))
    try:
        svc.hear_dispute(p.store, dispute_id=dispute_id, actor_id=p.account_id, present=present)
    except base.REFUSALS as error:
        return dispute_page(p, dispute_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/disputes/{dispute_id}", "heard")


@router.post("/disputes/{dispute_id}/vote")
def decide(dispute_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    hours, vote = one(fields, "hours"), one(fields, "vote")
    appeal = one(fields, "stage") == "appeal"
    try:
        act = svc.finalise_dispute if appeal else svc.decide_dispute
        act(p.store, dispute_id=dispute_id, actor_id=p.account_id, hours=hours, vote=vote)
    except base.REFUSALS as error:
        return dispute_page(p, dispute_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/disputes/{dispute_id}", "dispute_voted")


@router.post("/disputes/{dispute_id}/final")
def make_final(dispute_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """A commissioner makes a decision final once its appeal window has passed."""
    try:
        svc.finalise_dispute(p.store, dispute_id=dispute_id, actor_id=p.account_id)
    except base.REFUSALS as error:
        return dispute_page(p, dispute_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/disputes/{dispute_id}", "dispute_final")


@router.post("/disputes/{dispute_id}/apply")
def apply_hours(dispute_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """A final decision on recorded hours is carried into the accounts (a reversal and the
    hours as decided, less the levy)."""
    try:
        svc.apply_hours_decision(p.store, dispute_id=dispute_id, actor_id=p.account_id)
    except base.REFUSALS as error:
        return dispute_page(p, dispute_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/disputes/{dispute_id}", "hours_applied")


@router.post("/disputes/{dispute_id}/appeal")
def appeal(dispute_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    try:
        svc.appeal_dispute(
            p.store, dispute_id=dispute_id, actor_id=p.account_id, grounds=one(fields, "grounds")
        )
    except base.REFUSALS as error:
        return dispute_page(p, dispute_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/disputes/{dispute_id}", "appealed")
