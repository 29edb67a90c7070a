"""The equality report (docs/equality.md) as a page: for a council, a federation or a planning
period, participation and distribution by gender, self-described group and workplace, with
suppressed cells shown as suppressed and why; the Lorenz curves and Gini coefficients; the
sections' motions and what became of them. Charts are the report's own (audit.equality_charts),
served as SVG images under the same content security policy as the plan's; the tables link to
the API's CSV downloads. Any signed-in member reads any scope's report, as through the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Path, Query
from fastapi.responses import Response
from fastapi.routing import APIRouter

from councilplan.audit import equality, equality_charts
from councilplan.councils import service as svc
from councilplan.councils.service import equality as gather
from councilplan.web.pages import base
from councilplan.web.pages.base import Page, PageRoute, member, render
from councilplan.web.pages.plan import SVG_CSP
from councilplan.web.schemas import MAX_ID

router = APIRouter(route_class=PageRoute, include_in_schema=False)
SCOPES = ("council", "federation", "period")
Scope = Annotated[str, Query(max_length=40)]
K = Annotated[int, Query(ge=equality.DEFAULT_K, le=1000)]
Chart = Annotated[str, Path(pattern=r"^(participation_(gender|group|workplace)|lorenz)$")]


def read_scope(p: Page, scope: str) -> tuple[str, int]:
    """``council:3``, ``federation:7`` or ``period:2``; a scope not of that form is refused
    with a message naming it (the service checks that the council or period exists)."""
    kind, _, number = scope.partition(":")
    whole = number.isascii() and number.isdigit()
    if kind not in SCOPES or not whole or not 1 <= int(number) <= MAX_ID:
        raise svc.Invalid(
            "bad_scope",
            f"scope: {scope!r}; name one as council:ID, federation:ID or period:ID",
            "scope",
        )
    return kind, int(number)


def _report(p: Page, scope: str, k: int) -> equality.EqualityReport:
    kind, number = read_scope(p, scope)
    return gather.equality_report(p.store, k=k, **{f"{kind}_id": number})


def _default_scope(p: Page) -> str:
    mine = svc.my_account(p.store, p.account_id)
    if mine.councils:
        return f"council:{mine.councils[0]}"
    federations = [c for c in svc.list_councils(p.store) if c.kind == "federation"]
    return f"federation:{federations[0].id}" if federations else ""


def _choices(p: Page) -> list[tuple[str, str]]:
    """Every scope one may choose: councils, federations, and each federation's periods."""
    out = []
    councils = svc.list_councils(p.store)
    for c in councils:
        if c.kind != "federation":
            out.append((f"council:{c.id}", c.name))
    for c in councils:
        if c.kind == "federation":
            out.append((f"federation:{c.id}", p._("%(name)s (the federation)", name=c.name)))
            for period in svc.list_periods(p.store, c.id):
                out.append(
                    (f"period:{period.id}", p._("Planning period: %(title)s", title=period.title))
                )
    return out


@router.get("/reports/equality")
def equality_page(p: Page = Depends(member), scope: Scope = "", k: K = equality.DEFAULT_K):
    scope = scope or _default_scope(p)
    if not scope:
        return render(p, "equality.html", report=None, choices=[], scope="", k=k, query="")
    report = _report(p, scope, k)
    kind, number = read_scope(p, scope)
    api_query = urlencode({f"{kind}_id": number, "k": k})
    return render(
        p,
        "equality.html",
        report=report,
        choices=_choices(p),
        scope=scope,
        k=k,
        query=urlencode({"scope": scope, "k": k}),
        api_query=api_query,
        summary=equality.motion_summary(report.motions),
        fmt=lambda v: _shown(p, v),
        labels=_labels(p),
        reasons=_reasons(p, report.k),
    )


def _shown(p: Page, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return p.hours(value, 0)
    return p.hours(value, 2)


def _labels(p: Page) -> dict[str, str]:
    return {
        "members": p._("members"),
        "stated": p._("stated needs"),
        "voted": p._("voted"),
        "delegate": p._("delegate"),
        "commission": p._("commission seat"),
        "hours": p._("hours credited"),
        "hours_per_member": p._("hours per member"),
        "drawn": p._("goods drawn (hours)"),
        "drawn_per_member": p._("drawn per member"),
        "gender": p._("gender"),
        "group": p._("self-described group"),
        "workplace": p._("workplace"),
        equality.NOT_DECLARED: p._("(not declared)"),
        equality.NO_WORKPLACE: p._("(no workplace)"),
        equality.HIDDEN: p._("(small categories, hidden)"),
    }


def _reasons(p: Page, k: int) -> dict[str, tuple[str, str]]:
    """Why a cell is suppressed: a short name for the cell, and what it means."""
    return {
        equality.SMALL_GROUP: (
            p._("small group"),
            p._("categories of fewer than %(k)s members, hidden together as one row", k=k),
        ),
        equality.SMALL_CELL: (
            p._("small cell"),
            p._("fewer than %(k)s did, or fewer than %(k)s did not", k=k),
        ),
        equality.COMPLEMENTARY: (
            p._("complementary"),
            p._("hidden as well, so that the others cannot be worked out from the totals"),
        ),
    }


@router.get("/reports/equality/charts/{chart}.svg")
def chart(
    chart: Chart, p: Page = Depends(member), scope: Scope = "", k: K = equality.DEFAULT_K
) -> Response:
    """A chart of the report, as SVG (an image: its own strict policy, as the plan's)."""
    report = _report(p, scope, k)
    if chart == "lorenz":
        body = equality_charts.lorenz_chart(report.inequality, "svg")
    else:
        (table,) = [t for t in report.participation if chart == f"participation_{t.dimension}"]
        body = equality_charts.participation_chart(table, "svg")
    return base.finish(
        p,
        Response(
            body,
            media_type="image/svg+xml",
            headers={"Content-Security-Policy": SVG_CSP},
        ),
    )
