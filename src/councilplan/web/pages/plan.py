"""The plan: the needs my councils stated, the plan variants and what each means for my
councils (what is produced, hours of work, what is short), with charts drawn by matplotlib as
SVG on the server (no script, nothing from elsewhere: the pages' CSP allows neither)."""

from __future__ import annotations

import io
import threading
from functools import lru_cache
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
#: An SVG chart is an image: its own inline styles (matplotlib writes them) and nothing else.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_draw_lock = threading.Lock()  # pyplot's state is global


def _federations(p: Page, mine: svc.MyAccount) -> list[int]:
    out = []
    for council_id in mine.councils:
        for d in svc.delegates(p.store, council_id=council_id):
            if d.federation_id not in out:
                out.append(d.federation_id)
    for d in mine.delegacies:
        if d.ended_at is None and d.federation_id not in out:
            out.append(d.federation_id)
    return out


@router.get("/plan")
def plan(p: Page = Depends(member)) -> Response:
    mine = svc.my_account(p.store, p.account_id)
    periods = []
    for federation_id in _federations(p, mine):
        periods.extend(svc.list_periods(p.store, federation_id))
    if not periods:
        return render(p, "plan_none.html")
    latest = max(periods, key=lambda q: q.proposed_at)
    return go(p, f"/plan/{latest.id}")


@router.get("/plan/{period_id}")
def period(period_id: Id, p: Page = Depends(member)) -> Response:
    return period_page(p, period_id)


def period_page(p: Page, period_id: int, status: int = 200, error: str | None = None):
    q = svc.get_period(p.store, period_id)
    mine = svc.my_account(p.store, p.account_id)
    councils = base.councils_by_id(p.store)
    my = [councils[c] for c in mine.councils if c in councils]
    variants = [v for v in svc.list_variants(p.store, period_id)]
    done = [v for v in variants if v.status == "done"]
    statements = {
        c.id: svc.list_statements(p.store, period_id=period_id, council_id=c.id) for c in my
    }
    means = {}
    for v in done:
        result = svc.variant_result(p.store, v.id)
        means[v.id] = {c.id: _what_it_means(result, c) for c in my}
    return render(
        p,
        "plan.html",
        status=status,
        period=q,
        variants=variants,
        done=done,
        my=my,
        statements=statements,
        means=means,
        shortfalls={c.id: any(means[v.id][c.id]["short"] for v in done) for c in my},
        federation=councils.get(q.federation_id),
        error=error,
        said=p.request.query_params.get("said"),
    )


def _what_it_means(result: dict, council: svc.Council) -> dict:
    """A variant's plan for one council: a workplace's techniques and hours by kind; a
    neighbourhood's needs beside what the plan provides, and which fall short."""
    key = str(council.id)
    if council.kind == "workplace":
        work = result.get("workplaces", {}).get(key)
        return {"kind": "workplace", "work": work}
    if key not in (result.get("consumption") or {}):
        return {"kind": "consumer", "rows": None, "short": []}  # not broken down by council
    rows = result["consumption"][key] or []
    short = [r for r in rows if float(r["met"]) + 1e-9 < float(r["need"])]
    return {"kind": "consumer", "rows": rows, "short": short}


@router.post("/plan/{period_id}/needs/{council_id}")
def state_needs(period_id: Id, council_id: Id, fields: Form, p: Page = Depends(member)) -> Response:
    """State (again) a council's needs: one line a need, "product, quantity[, priority]"."""
    needs = []
    for number, line in enumerate(one(fields, "needs").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [x.strip() for x in line.split(",")]
        if len(parts) not in (2, 3) or not parts[0]:
            return period_page(
                p,
                period_id,
                422,
                p._("Line %(n)s: write product, quantity and, if you like, a priority.", n=number),
            )
        need = {"product": parts[0], "quantity": parts[1]}
        if len(parts) == 3 and parts[2]:
            need["priority"] = parts[2]
        needs.append(need)
    try:
        svc.state_needs(
            p.store, period_id=period_id, council_id=council_id, actor_id=p.account_id, needs=needs
        )
    except base.REFUSALS as error:
        return period_page(p, period_id, base.status_of(error), base.refusal_text(p, error))
    return go(p, f"/plan/{period_id}", "needs_stated")


# -- charts --------------------------------------------------------------------------------------


@router.get("/plan/{period_id}/charts/{name}.svg")
def chart(period_id: Id, name: str, p: Page = Depends(member), council: int = 0) -> Response:
    variants = tuple(v.id for v in svc.list_variants(p.store, period_id) if v.status == "done")
    if name not in ("labour", "output", "shortfall"):
        raise svc.NotFound("no_such_chart", f"there is no chart {name!r}", "name")
    results = tuple((v, svc.get_variant(p.store, v).name) for v in variants)
    data = {v: svc.variant_result(p.store, v) for v in variants}
    svg = _chart(name, results, council, _Frozen(data), p.lang)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": SVG_CSP, "Cache-Control": "private, max-age=300"},
    )


class _Frozen:
    """Results keyed for the chart cache by their variants (a done variant never changes)."""

    def __init__(self, data: dict):
        self.data = data

    def __hash__(self) -> int:
        return hash(tuple(self.data))

    def __eq__(self, other) -> bool:
        return isinstance(other, _Frozen) and tuple(self.data) == tuple(other.data)


@lru_cache(maxsize=64)
def _chart(name: str, variants: tuple, council: int, frozen: _Frozen, lang: str) -> bytes:
    import matplotlib

    _ = base.translations(lang).gettext

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    data = frozen.data
    with _draw_lock:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        names = [n for _, n in variants]
        if name == "labour":
            kinds = sorted({k for v, _ in variants for k in data[v]["labour"]})
            width = 0.8 / max(1, len(kinds))
            for i, kind in enumerate(kinds):
                values = [data[v]["labour"].get(kind, 0) / 1000 for v, _ in variants]
                ax.bar([x + i * width for x in range(len(variants))], values, width, label=kind)
            ax.set_xticks([x + width * (len(kinds) - 1) / 2 for x in range(len(variants))], names)
            ax.set_ylabel(_("thousand hours"))
            ax.set_title(_("Labour by kind"))
            ax.legend()
        elif name == "output":
            first = data[variants[0][0]] if variants else {"output": {}, "values": {}}
            hours = {k: q * first["values"].get(k, 0) for k, q in first["output"].items()}
            top = sorted(hours, key=hours.get, reverse=True)[:10]
            width = 0.8 / max(1, len(variants))
            for i, (v, label) in enumerate(variants):
                out = data[v]["output"]
                vals = [out.get(k, 0) * data[v]["values"].get(k, 0) / 1000 for k in top]
                ax.barh([y + i * width for y in range(len(top))], vals, width, label=label)
            ax.set_yticks([y + width * (len(variants) - 1) / 2 for y in range(len(top))], top)
            ax.invert_yaxis()
            ax.set_xlabel(_("thousand hours embodied"))
            ax.set_title(_("Output by product (the ten largest)"))
            ax.legend()
        else:
            key = str(council)
            width = 0.8 / max(1, len(variants))
            products: list[str] = []
            for v, _ in variants:
                for row in data[v].get("consumption", {}).get(key) or []:
                    if row["product"] not in products:
                        products.append(row["product"])
            for i, (v, label) in enumerate(variants):
                rows = {r["product"]: r for r in data[v].get("consumption", {}).get(key) or []}
                shares = [
                    100 * float(rows[k]["met"]) / float(rows[k]["need"])
                    if k in rows and float(rows[k]["need"])
                    else 0
                    for k in products
                ]
                ax.bar([x + i * width for x in range(len(products))], shares, width, label=label)
            ax.set_xticks(
                [x + width * (len(variants) - 1) / 2 for x in range(len(products))],
                products,
                rotation=60,
                ha="right",
            )
            ax.set_ylabel(_("per cent of the need met"))
            ax.set_ylim(0, 110)
            ax.set_title(_("Needs met"))
            ax.legend()
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        plt.close(fig)
    return buffer.getvalue().encode()
