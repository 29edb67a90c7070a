"""Benchmark: councilplan's plan against SciPy's linprog (HiGHS) on the same least-labour LP.

Prints one table:

1. labour only, 1,000 and 3,000 products x 2 techniques: scipy ``linprog(method="highs")``
   on the full LP against ``councilplan.planning.plan`` (auto: the non-substitution path),
   with the two optima compared;
2. councilplan alone, labour only, 10^5 and 10^6 products x 2 techniques;
3. councilplan alone at 10^5 products x 2 techniques with three labour kinds and two
   resources all limited so that they bind: ``auto`` (exact decomposition) and ``pdlp``
   (first-order, to relative tolerance ``--tol``), with the achieved gap and residuals.

Run: ``python benchmarks/plan.py`` (``--quick`` skips 3,000 for linprog and the 10^6 size).
The economies come from ``councilplan.economy.synthetic.generate_economy`` (20 input draws
per technique); needs are uniform in [0, 10) units per product.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.sparse as sp
from rich.console import Console
from rich.table import Table
from scipy.optimize import linprog

from councilplan.economy.model import make_economy
from councilplan.economy.synthetic import generate_economy
from councilplan.planning import Limits, plan


def net_matrix(economy) -> sp.csc_array:
    t = economy.n_techniques
    made = sp.csc_array(
        (economy.technique_output, (economy.technique_product, np.arange(t))),
        shape=(economy.n_products, t),
    )
    return sp.csc_array(made - economy.inputs)


def needs_for(n: int) -> np.ndarray:
    return np.random.default_rng(12345).uniform(0.0, 10.0, n)


def scipy_vs_councilplan(n: int, rows: list) -> None:
    economy = generate_economy(n, techniques_per_product=2, seed=1)
    d = needs_for(n)
    start = time.perf_counter()
    res = linprog(economy.labour[0], A_ub=-net_matrix(economy), b_ub=-d, method="highs")
    scipy_s = time.perf_counter() - start
    start = time.perf_counter()
    p = plan(economy, d)
    ours_s = time.perf_counter() - start
    rel = abs(res.fun - p.objective) / abs(res.fun)
    rows.append(
        (f"{n:,} x 2", "labour only", f"{scipy_s:.3f}", f"{ours_s:.4f}",
         f"{scipy_s / ours_s:,.0f}x", p.method, f"{p.objective:,.6f}", f"{rel:.1e} vs linprog")
    )  # fmt: skip


def councilplan_alone(n: int, rows: list) -> None:
    start = time.perf_counter()
    economy = generate_economy(n, techniques_per_product=2, seed=1)
    build_s = time.perf_counter() - start
    d = needs_for(n)
    start = time.perf_counter()
    p = plan(economy, d)
    ours_s = time.perf_counter() - start
    dg = p.diagnostics
    rows.append(
        (f"{n:,} x 2", f"labour only ({economy.nnz:,} nnz; build {build_s:.1f} s)", "-",
         f"{ours_s:.2f}", "-", p.method, f"{p.objective:,.6f}",
         f"gap {dg.relative_gap:.1e}, primal {dg.primal_residual:.1e}, dual {dg.dual_residual:.1e}")
    )  # fmt: skip


def cheapest_plan(economy, d, mu: np.ndarray) -> np.ndarray:
    """The least-cost plan at technique costs c + mu U (labour kinds, then resources)."""
    priced = make_economy(
        products=economy.product_ids,
        techniques=economy.technique_ids,
        technique_product=economy.technique_product,
        inputs=economy.inputs,
        labour=(1 + mu[:3]) @ economy.labour + mu[3:] @ economy.resource_use,
        technique_output=economy.technique_output,
        check_productive=False,
    )
    return plan(priced, d, method="labour").activity


def binding_limits(economy, d) -> Limits:
    """Limits on the three labour kinds and two resources at the use of a mix of two
    least-cost plans at costs c + mu U (two different mu > 0): the mix keeps them, so the
    plan is feasible, and the least-labour plan breaks them."""
    a = cheapest_plan(economy, d, np.array([0.3, 0.5, 0.2, 0.4, 0.6]))
    b = cheapest_plan(economy, d, np.array([0.6, 0.1, 0.4, 0.8, 0.2]))
    x = 0.5 * (a + b)
    return Limits(
        labour=dict(zip(economy.labour_ids, economy.labour @ x, strict=True)),
        resources=dict(zip(economy.resource_ids, economy.resource_use @ x, strict=True)),
    )


def limited(n: int, rows: list, tol: float, methods: tuple[str, ...]) -> None:
    economy = generate_economy(n, techniques_per_product=2, labour_kinds=3, resources=2, seed=1)
    d = needs_for(n)
    limits = binding_limits(economy, d)
    for method in methods:
        start = time.perf_counter()
        p = plan(economy, d, limits, method=method, tol=tol)
        ours_s = time.perf_counter() - start
        dg = p.diagnostics
        binding = int(p.limits_table()["binding"].sum())
        rows.append(
            (f"{n:,} x 2", f"3 labour kinds + 2 resources, {binding} binding", "-",
             f"{ours_s:.2f}", "-", f"{p.method} ({dg.iterations} it)", f"{p.objective:,.6f}",
             f"gap {dg.relative_gap:.1e}, primal {dg.primal_residual:.1e}, "
             f"dual {dg.dual_residual:.1e}")
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 3,000 and 10^6 sizes")
    parser.add_argument("--tol", type=float, default=1e-6, help="PDLP relative gap")
    parser.add_argument("--limited", type=int, default=100_000, help="size of the limited case")
    parser.add_argument(
        "--limited-methods",
        default="auto,pdlp",
        help="methods for the limited case, comma-separated",
    )
    args = parser.parse_args()
    console = Console(width=200)
    rows: list = []
    console.print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    for n in (1000,) if args.quick else (1000, 3000):
        console.print(f"scipy linprog vs councilplan, {n:,} products ...")
        scipy_vs_councilplan(n, rows)
    for n in (100_000,) if args.quick else (100_000, 1_000_000):
        console.print(f"councilplan, {n:,} products, labour only ...")
        councilplan_alone(n, rows)
    console.print(f"councilplan, {args.limited:,} products, limits binding ...")
    limited(args.limited, rows, args.tol, tuple(args.limited_methods.split(",")))

    table = Table(title="Least-labour plan: scipy linprog (HiGHS) vs councilplan")
    for name in ("size", "case", "linprog s", "councilplan s", "speed-up", "method",
                 "total labour (h)", "accuracy"):  # fmt: skip
        right = name.endswith(" s") or name == "speed-up"
        table.add_column(name, justify="right" if right else "left")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
