"""Participatory budgets: hours of labour shared among proposals by approval vote."""

from __future__ import annotations

from fastapi import APIRouter

from councilplan.councils import service as svc
from councilplan.web import guards
from councilplan.web.deps import Me, PathId, StoreDep
from councilplan.web.schemas import BudgetIn, ProposalIn

router = APIRouter(tags=["budgets"], route_class=guards.JSONRoute)


@router.post("/api/councils/{council_id}/budgets", status_code=201)
def budget(council_id: PathId, body: BudgetIn, me: Me, store: StoreDep) -> dict:
    """Allocate hours of labour among proposals by approval vote (equal shares)."""
    return svc.as_dict(
        svc.open_budget(store, council_id=council_id, opened_by=me, **body.model_dump())
    )


@router.post("/api/budgets/{budget_id}/proposals", status_code=201)
def propose(budget_id: PathId, body: ProposalIn, me: Me, store: StoreDep) -> dict:
    return svc.as_dict(
        svc.propose_project(
            store, budget_id=budget_id, member_id=me, title=body.title, cost_hours=body.cost_hours
        )
    )


@router.get("/api/budgets/{budget_id}")
def get_budget(budget_id: PathId, _me: Me, store: StoreDep) -> dict:
    return svc.as_dict(svc.get_budget(store, budget_id))
