"""Equality reports (docs/equality.md): participation and distribution by gender,
self-described group and workplace, with cells under ``k`` people suppressed and the
suppression shown; the Lorenz curves and Gini coefficients of hours and draws; the sections'
motions. As JSON, each table as CSV, and charts as SVG. Exactly one scope per request:
``council_id``, ``federation_id`` or ``period_id``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from councilplan.audit import equality, equality_charts
from councilplan.councils.service import equality as gather
from councilplan.web import guards
from councilplan.web.deps import Me, StoreDep
from councilplan.web.schemas import MAX_ID

router = APIRouter(tags=["reports"], route_class=guards.JSONRoute)

ScopeId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
K = Annotated[
    int,
    Query(
        ge=equality.DEFAULT_K,
        le=1000,
        description="cells under k people are suppressed; at least 5 (raised, never lowered)",
    ),
]
TableName = Annotated[
    str,
    Path(pattern=r"^(participation|distribution)_(gender|group|workplace)$"),
]


def _report(store, council_id, federation_id, period_id, k) -> equality.EqualityReport:
    return gather.equality_report(
        store, council_id=council_id, federation_id=federation_id, period_id=period_id, k=k
    )


@router.get("/api/reports/equality")
def equality_report(
    _me: Me,
    store: StoreDep,
    council_id: ScopeId = None,
    federation_id: ScopeId = None,
    period_id: ScopeId = None,
    k: K = equality.DEFAULT_K,
) -> dict:
    """The whole report as JSON: every table's rows (a suppressed cell reads "suppressed",
    and its row's ``suppressed`` names why), the Lorenz curves and Gini coefficients, the
    sections' motions and their outcomes."""
    return equality.report_json(_report(store, council_id, federation_id, period_id, k))


@router.get("/api/reports/equality/{table}.csv")
def equality_table_csv(
    table: TableName,
    _me: Me,
    store: StoreDep,
    council_id: ScopeId = None,
    federation_id: ScopeId = None,
    period_id: ScopeId = None,
    k: K = equality.DEFAULT_K,
) -> Response:
    """One table as CSV: ``participation_gender``, ``distribution_workplace``..."""
    tables = gather.report_tables(_report(store, council_id, federation_id, period_id, k))
    return Response(tables[f"{table}.csv"], media_type="text/csv; charset=utf-8")


@router.get("/api/reports/equality/charts/{chart}.svg")
def equality_chart(
    chart: Annotated[str, Path(pattern=r"^(participation_(gender|group|workplace)|lorenz)$")],
    _me: Me,
    store: StoreDep,
    council_id: ScopeId = None,
    federation_id: ScopeId = None,
    period_id: ScopeId = None,
    k: K = equality.DEFAULT_K,
) -> Response:
    """A chart as SVG: participation rates by category (``participation_gender``...) or the
    Lorenz curves of hours and draws (``lorenz``)."""
    report = _report(store, council_id, federation_id, period_id, k)
    if chart == "lorenz":
        body = equality_charts.lorenz_chart(report.inequality, "svg")
    else:
        (table,) = [t for t in report.participation if chart.endswith(t.dimension)]
        body = equality_charts.participation_chart(table, "svg")
    return Response(body, media_type="image/svg+xml")
