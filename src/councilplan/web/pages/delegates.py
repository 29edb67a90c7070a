"""Delegates and recall: open a recall of my council's delegate, support one, follow its
progress and vote in its ballot (the ballot page)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from councilplan.councils import rules
from councilplan.councils import service as svc
from councilplan.councils.service.records import counted_members
from councilplan.web.pages import base
from councilplan.web.pages.base import Page, PageRoute, form, go, member, one, render
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _delegate(p: Page, delegate_id: int) -> svc.Delegate:
    for d in svc.delegates(p.store, current=False):
        if d.id == delegate_id:
            return d
    raise svc.NotFound("no_such_delegate", f"there is no delegate {delegate_id}", "delegate_id")


@router.get("/delegates/{delegate_id}")
def delegate(delegate_id: Id, p: Page = Depends(member)) -> Response:
    return delegate_page(p, delegate_id)


def delegate_page(p: Page, delegate_id: int, status: int = 200, error: str | None = None):
    d = _delegate(p, delegate_id)
    councils = base.councils_by_id(p.store)
    recall = None
    with p.store.reading() as tx:
        for state in ("collecting", "balloting"):
            row = tx.recall_with_status(d.id, state)
            if row is not None:
                recall = row["id"]
    progress = _progress(p, recall) if recall else None
    return render(
        p,
        "delegate.html",
        status=status,
        delegate=d,
        councils=councils,
        name=base.names_of(p.store, [d.account_id]).get(d.account_id, "?"),
        recall=progress,
        error=error,
        said=p.request.query_params.get("said"),
    )


def _progress(p: Page, recall_id: int) -> dict:
    """A recall with how much support it has and needs, and whether I support it."""
    r = svc.get_recall(p.store, recall_id)
    council = svc.get_council(p.store, r.council_id)
    with p.store.reading() as tx:
        counted = len(counted_members(tx, tx.council(council.id), datetime.now(UTC)))
    needed = rules.recall_threshold(counted, Fraction(council.recall_share))
    ballot = svc.get_ballot(p.store, r.ballot_id) if r.ballot_id else None
    return {
        "recall": r,
        "needed": needed,
        "counted": counted,
        "ballot": ballot,
        "share": council.recall_share,
    }


@router.get("/recalls/{recall_id}")
def recall(recall_id: Id, p: Page = Depends(member)) -> Response:
    r = svc.get_recall(p.store, recall_id)
    return delegate_page(p, r.delegate_id)


@router.get("/recalls/{recall_id}/progress")
def recall_progress(recall_id: Id, p: Page = Depends(member)) -> Response:
    """The progress box alone, for htmx to refresh in place."""
    return render(p, "recall_progress.html", recall=_progress(p, recall_id))


@router.post("/delegates/{delegate_id}/recall")
def open_recall(delegate_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    try:
        svc.open_recall(
            p.store, delegate_id=delegate_id, member_id=p.account_id, reason=one(fields, "reason")
        )
    except base.REFUSALS as error:
        return delegate_page(p, delegate_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/delegates/{delegate_id}", "recall_opened")


@router.post("/recalls/{recall_id}/support")
def support(recall_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    r = svc.get_recall(p.store, recall_id)
    try:
        svc.support_recall(p.store, recall_id=recall_id, member_id=p.account_id)
    except base.REFUSALS as error:
        return delegate_page(p, r.delegate_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/delegates/{r.delegate_id}", "recall_supported")
