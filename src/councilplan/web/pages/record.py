"""The record: the public, hash-chained log of every act, with filters, and a button that
verifies the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from councilplan.web.pages.base import Page, PageRoute, form, member, render
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]
PER_PAGE = 50


@router.get("/record")
def record(
    p: Page = Depends(member),
    kind: Annotated[str, Query(max_length=60)] = "",
    before: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """Newest first, ``PER_PAGE`` a page; ``kind``: only acts whose kind starts with it
    ("ballot", "recall", "ledger.hours"...)."""
    last, _ = p.store.audit_head()
    top = min(before, last + 1) if before else last + 1
    shown, kinds = [], set()
    cursor = top
    # Read backwards in chunks until a page is full or the start of the record.
    while cursor > 1 and len(shown) < PER_PAGE:
        start = max(0, cursor - 1 - 500)
        chunk = p.store.audit_entries(after=start, limit=cursor - 1 - start)
        for entry in reversed(chunk):
            if not kind or entry.kind.startswith(kind):
                shown.append(entry)
                if len(shown) == PER_PAGE:
                    break
        cursor = start + 1
    older = shown[-1].seq if shown and shown[-1].seq > 1 else None
    for entry in p.store.audit_entries(after=max(0, last - 2000)):
        kinds.add(entry.kind.split(".")[0])
    return render(
        p, "record.html", entries=shown, kind=kind, older=older, kinds=sorted(kinds), head=last
    )


@router.post("/record/verify")
def verify(fields: Form, p: Page = Depends(member)) -> Response:
    """Recompute the chain (as GET /api/audit/verify); the answer is the result box, which
    htmx swaps into the page, or the whole page without script."""
    result = p.store.verify_audit()
    template = "verify_result.html" if p.request.headers.get("hx-request") else "verify.html"
    return render(p, template, result=result)
