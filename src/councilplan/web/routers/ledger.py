"""Labour-time accounts (docs/ledger.md): hours recorded by a workplace council, goods drawn by
members and workplaces at the adopted plan's labour values, reversals, a commission's decision
on recorded hours carried out, balances and transfers read back, and the levy in force with its
derivation.

Amounts are answered as decimal text on the ledger's quantum (0.0001 h), thousands separated
(``"1,234.5"``); persons as their account's number (``member:#17``, ``member #17``) or, to
themselves, ``you``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import MAX_ID, DrawIn, HoursIn, ReversalIn, WorkplaceDrawIn

router = APIRouter(tags=["ledger"], route_class=guards.JSONRoute)

#: A transfer's id (``hours-…:hours``, ``plan-1:4:labour_fund``) or an account's key
#: (``labour_fund:4``, ``member:#17``): letters, digits and ``_.:#-``.
LedgerKey = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:#-]{1,200}$")]
Limit = Annotated[int, Query(ge=1, le=500, description="the most transfers answered")]


# -- acts ------------------------------------------------------------------------------------------


@router.post("/api/workplaces/{workplace_id}/hours", status_code=201)
def record_hours(workplace_id: PathId, body: HoursIn, me: Me, store: StoreDep) -> dict | list[dict]:
    """Record hours a member of the workplace worked: she is credited them less the levy of
    the plan in force, which goes to the federation's common fund. Who records is the council's
    rule ``hours_recorded_by``; nobody records her own (403 ``own_hours``). One entry answers
    its act; a sheet (``entries``) answers the acts in its order, all kept or, at the first
    row refused (``entries[3].hours``), none."""
    if body.entries is None:
        (row,) = body.rows()
        act = svc.record_hours(store, workplace_id=workplace_id, actor_id=me, **row)
        return svc.as_dict(act)
    return svc.as_dict(
        svc.record_hours_batch(store, workplace_id=workplace_id, entries=body.rows(), actor_id=me)
    )


@router.post("/api/ledger/draws", status_code=201)
def draw(body: DrawIn, me: Me, store: StoreDep) -> dict:
    """Draw goods for myself at their labour value in the plan in force: from my account to
    the federation's goods account. Never more than I hold (409 ``overdrawn``); public goods
    are free at the point of use and not drawn (403 ``public_good``)."""
    return svc.as_dict(
        svc.draw_goods(store, member_id=me, product=body.product, quantity=body.quantity)
    )


@router.post("/api/workplaces/{workplace_id}/draws", status_code=201)
def workplace_draw(workplace_id: PathId, body: WorkplaceDrawIn, me: Me, store: StoreDep) -> dict:
    """The workplace draws inputs (``fund`` "materials") or means of production ("means")
    against its plan; a member with its standing acts for it."""
    return svc.as_dict(
        svc.workplace_draw(
            store,
            workplace_id=workplace_id,
            product=body.product,
            quantity=body.quantity,
            fund=body.fund,
            actor_id=me,
        )
    )


@router.post("/api/transfers/{tid}/reversal", status_code=201)
def reverse(tid: LedgerKey, body: ReversalIn, me: Me, store: StoreDep) -> dict:
    """Undo a mistaken entry by a reversal citing it, with a reason: hours (with their levy)
    by whoever may record them, never the member credited; a draw by the member who drew,
    within a day. A transfer is reversed once (409 ``already_reversed``)."""
    return svc.as_dict(svc.reverse_transfer(store, tid=tid, reason=body.reason, actor_id=me))


@router.post("/api/disputes/{dispute_id}/ledger", status_code=201)
def apply_decision(dispute_id: PathId, me: Me, store: StoreDep) -> dict:
    """Carry out the commission's final decision on recorded hours: the disputed entry is
    reversed and the hours decided recorded in its place, both citing the dispute."""
    return svc.as_dict(svc.apply_hours_decision(store, dispute_id=dispute_id, actor_id=me))


# -- reading ---------------------------------------------------------------------------------------


@router.get("/api/ledger/me")
def my_account(me: Me, store: StoreDep, limit: Limit = 50) -> dict:
    """My account: its balance and latest transfers, newest first, the other party named."""
    return svc.as_dict(svc.my_ledger(store, account_id=me, limit=limit))


@router.get("/api/ledger/accounts/{key}")
def account(
    key: LedgerKey,
    me: Me,
    store: StoreDep,
    limit: Limit = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="transfers older than this transfer id")
    ] = None,
) -> dict:
    """Any account by its key: ``labour_fund:4``, ``common_fund:6``, ``goods:6``,
    ``member:#17`` (a member's by its number; ``#`` is sent as ``%23``). Its balance and
    transfers, newest first; ``before`` pages back by transfer id."""
    return svc.as_dict(svc.ledger_account(store, key=key, viewer_id=me, limit=limit, before=before))


@router.get("/api/periods/{period_id}/levy")
def period_levy(period_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The levy of the period's adopted plan: its exact rate, as a percentage, and the lines
    of its derivation (404 ``no_levy`` before a plan is adopted)."""
    return svc.as_dict(svc.get_levy(store, period_id=period_id))


@router.get("/api/councils/{council_id}/levy")
def council_levy(council_id: PathId, _me: Me, store: StoreDep) -> dict:
    """The levy in force for the council: that of the latest plan adopted by a federation it
    belongs to (409 ``no_plan_in_force`` when there is none)."""
    return svc.as_dict(svc.current_levy(store, council_id=council_id))
