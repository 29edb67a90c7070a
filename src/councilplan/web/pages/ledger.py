"""My account in labour time: balance, hours recorded, draws, the levy and its derivation;
and a workplace council's page for recording its members' hours."""

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


def _levy(p: Page, council_ids) -> svc.LedgerLevy | None:
    """The levy in force for the first of ``council_ids`` that has one (a plan adopted)."""
    for council_id in council_ids:
        try:
            return svc.current_levy(p.store, council_id=council_id)
        except svc.Refused:
            continue
    return None


@router.get("/account")
def account(p: Page = Depends(member)) -> Response:
    return account_page(p)


def account_page(
    p: Page, status: int = 200, error: str | None = None, values: dict | None = None
) -> Response:
    mine = svc.my_account(p.store, p.account_id)
    ledger = svc.my_ledger(p.store, account_id=p.account_id, limit=100)
    councils = base.councils_by_id(p.store)
    hours = [t for t in ledger.transfers if t.kind == "hours" and t.credit == "you"]
    draws = [t for t in ledger.transfers if t.kind == "draw"]
    other = [t for t in ledger.transfers if t not in hours and t not in draws]
    workplaces = [councils[c] for c in mine.councils if councils[c].kind == "workplace"]
    levy = _levy(p, mine.councils)
    return render(
        p,
        "account.html",
        status=status,
        error=error,
        values=values or {},
        goods=_goods(p, levy),
        ledger=ledger,
        hours=hours,
        draws=draws,
        other=other,
        levy=levy,
        workplaces=workplaces,
        councils=councils,
    )


def _goods(p: Page, levy: svc.LedgerLevy | None) -> list[tuple[str, float]]:
    """What can be drawn under the plan in force, with its labour value (hours a unit); public
    goods are free where they are used and are not drawn."""
    if levy is None:
        return []
    values = svc.plan_values(p.store, period_id=levy.period_id)["values"]
    public = set(svc.get_period(p.store, levy.period_id).public_goods or ())
    return sorted((k, v) for k, v in values.items() if k not in public)


@router.post("/account/draws")
def draw(fields: Form, p: Page = Depends(member)) -> Response:
    """Draw goods at their labour value in the plan in force (never more than her balance)."""
    values = {k: one(fields, k) for k in ("product", "quantity")}
    try:
        svc.draw_goods(
            p.store, member_id=p.account_id, product=values["product"], quantity=values["quantity"]
        )
    except base.REFUSALS as error:
        return account_page(p, base.status_of(error), base.refusal_text(p, error), values)
    return go(p, "/account", "drawn")


@router.get("/councils/{council_id}/hours")
def hours_form(council_id: Id, p: Page = Depends(member)) -> Response:
    return hours_page(p, council_id)


def hours_page(
    p: Page,
    council_id: int,
    status: int = 200,
    error: str | None = None,
    values: dict | None = None,
) -> Response:
    council = svc.get_council(p.store, council_id)
    members = svc.members(p.store, council_id)
    people = base.names_of(p.store, [m.account_id for m in members])
    try:
        workplace = svc.ledger_account(
            p.store, key=f"labour_fund:{council_id}", viewer_id=p.account_id, limit=20
        )
    except svc.Refused:
        workplace = None
    return render(
        p,
        "hours.html",
        status=status,
        council=council,
        members=members,
        people=people,
        error=error,
        values=values or {},
        fund=workplace,
        levy=_levy(p, [council_id]),
        said=p.request.query_params.get("said"),
    )


@router.post("/councils/{council_id}/hours")
def record_hours(council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    values = {k: one(fields, k) for k in ("member", "hours", "note")}
    try:
        member_id = int(values["member"])
    except ValueError:
        return hours_page(p, council_id, 422, p._("Choose the member who worked."), values)
    try:
        svc.record_hours(
            p.store,
            workplace_id=council_id,
            member_id=member_id,
            hours=values["hours"],
            actor_id=p.account_id,
            note=values["note"],
        )
    except base.REFUSALS as error:
        return hours_page(p, council_id, base.status_of(error), base.refusal_text(p, error), values)
    return go(p, f"/councils/{council_id}/hours", "hours_recorded")
