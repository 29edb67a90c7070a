"""Labour flows between regions on an EXIOBASE-sized system: councilplan against pymrio.

    python benchmarks/flows.py            # 49 regions x 200 products, sparse-ish and dense A
    python benchmarks/flows.py --quick    # 49 regions x 40 products, sparse-ish A only

The system is synthetic (EXIOBASE cannot be fetched here), made from a fixed seed: 49 regions
x 200 products = 9,800 sectors, 7 final-demand categories per region, an employment account
of six rows (low/medium/high skill x male/female, million hours) with labour per unit of
output differing about 20-fold between regions. Each column of A buys from ~40 products of
its own region and, for each of them, imports from ``--partners`` other regions (8 by
default: "sparse-ish", about 3.5 million non-zeros; 48: every region, "dense", about 19
million); column sums stay below 0.65, so the spectral radius is below 1.

Each run is in a fresh process, so its peak memory is its own: the peak resident memory
added by the computation (VmHWM reset through /proc/self/clear_refs before it starts),
excluding building the system. pymrio computes what it always does: ``calc_all()``, that is
the dense Leontief inverse L = (I - A)^-1, then D_cba, D_pba, D_imp, D_exp per sector and
per region. councilplan solves (I - A) X = Y_s for each region's final demand Y_s (49
right-hand sides: dense LU, or BiCGSTAB per region) and forms the region x region flows,
from the same pymrio object (converting its dense A to sparse is included). The
table compares the two on D_cba and D_pba per region (largest relative difference), and
shows the machine's 1-minute load average at the end of each run: the machine is shared,
and a load above its cores means the times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

REGIONS = 49
CATEGORIES = 7
INPUTS = 40
SKILLS = [f"Employment hours: {s}-skilled {g}" for s in ("Low", "Medium", "High")
          for g in ("male", "female")]  # fmt: skip


def synthetic_system(products: int, partners: int, seed: int = 2015):
    """(A as CSR, Y, x, F, sector regions, demand regions): an EXIOBASE-shaped system."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n = REGIONS * products
    k = min(INPUTS, products)
    popularity = rng.pareto(1.2, products) + 0.05  # some products are inputs to nearly all
    # k distinct inputs per column, drawn by popularity (Gumbel top-k: no loop per column).
    keys = np.log(popularity) + rng.gumbel(size=(n, products))
    inputs = np.argpartition(-keys, k - 1, axis=1)[:, :k]  # (n, k) input product per column
    del keys
    share = rng.lognormal(0.0, 1.0, (n, k))
    share *= rng.uniform(0.3, 0.6, (n, 1)) / share.sum(axis=1, keepdims=True)
    imported = rng.uniform(0.05, 0.5, (n, k))  # import share of each input
    home = np.repeat(np.arange(REGIONS), products)  # region of each column
    columns = np.arange(n)
    rows = [home[:, None] * products + inputs]
    cols = [np.broadcast_to(columns[:, None], (n, k))]
    vals = [share * (1 - imported)]
    # Each imported input comes from `partners` other regions, in Dirichlet shares.
    keys = rng.uniform(size=(n, k, REGIONS))
    keys[columns, :, home] = np.inf  # never from the column's own region
    origin = np.argpartition(keys, partners - 1, axis=2)[:, :, :partners]
    del keys
    split = rng.dirichlet(np.ones(partners), (n, k))
    rows.append(origin * products + inputs[:, :, None])
    cols.append(np.broadcast_to(columns[:, None, None], origin.shape))
    vals.append((share * imported)[:, :, None] * split)
    rows = [r.reshape(-1) for r in rows]
    cols = [c.reshape(-1) for c in cols]
    vals = [v.reshape(-1) for v in vals]
    a = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    a.sum_duplicates()
    # Final demand: mostly domestic, some imported from every other region.
    y = np.zeros((n, REGIONS * CATEGORIES))
    size = rng.lognormal(0.0, 1.0, REGIONS) * 1e4
    for s in range(REGIONS):
        for c in range(CATEGORIES):
            column = s * CATEGORIES + c
            weight = 0.7 if c == 0 else 0.05
            domestic = rng.lognormal(0.0, 1.0, products) * (rng.uniform(0, 1, products) < 0.8)
            y[s * products : (s + 1) * products, column] = weight * size[s] * domestic / products
            foreign = rng.lognormal(0.0, 1.5, n) * (rng.uniform(0, 1, n) < 0.1)
            foreign[s * products : (s + 1) * products] = 0
            y[:, column] += 0.3 * weight * size[s] * foreign / max(foreign.sum(), 1e-9)
    # x = (I - A)^-1 Y 1 by the Neumann series (column sums < 0.65: 1e-15 in < 90 terms).
    x = term = y.sum(axis=1)
    while np.abs(term).max() > 1e-16 * np.abs(x).max():
        term = a @ term
        x = x + term
    # Hours per unit: low-productivity regions need up to ~20x the hours of others.
    region_factor = np.exp(rng.uniform(np.log(1), np.log(20), REGIONS))
    hours = np.repeat(region_factor, products) * rng.lognormal(0.0, 0.5, n) * 1e-2
    skill_share = rng.dirichlet([3, 4, 2], n).T  # low, medium, high
    sex_share = rng.uniform(0.3, 0.7, n)
    f = np.vstack([skill_share[k] * (sex_share if g == 0 else 1 - sex_share) * hours * x
                   for k in range(3) for g in range(2)])  # fmt: skip
    sector_region = [f"R{r:02d}" for r in range(REGIONS) for _ in range(products)]
    demand_region = [f"R{s:02d}" for s in range(REGIONS) for _ in range(CATEGORIES)]
    return a, y, x, f, sector_region, demand_region


def pymrio_system(products: int, partners: int):
    import pandas as pd
    import pymrio

    a, y, x, f, sector_region, demand_region = synthetic_system(products, partners)
    sectors = pd.MultiIndex.from_arrays(
        [sector_region, [f"p{p:03d}" for _ in range(REGIONS) for p in range(products)]],
        names=["region", "sector"],
    )
    categories = pd.MultiIndex.from_arrays(
        [demand_region, [f"c{c}" for _ in range(REGIONS) for c in range(CATEGORIES)]],
        names=["region", "category"],
    )
    stressors = pd.Index(SKILLS, name="stressor")
    io = pymrio.IOSystem(
        A=pd.DataFrame(a.toarray(), index=sectors, columns=sectors),
        Y=pd.DataFrame(y, index=sectors, columns=categories),
        x=pd.DataFrame({"indout": x}, index=sectors),
        name="synthetic EXIOBASE-sized",
    )
    io.employment = pymrio.Extension(
        name="Employment",
        F=pd.DataFrame(f, index=stressors, columns=sectors),
        unit=pd.DataFrame({"unit": ["M.hr"] * len(SKILLS)}, index=stressors),
    )
    return io, a.nnz


def child(route: str, products: int, partners: int) -> dict:
    """Build the system, then time one route with its own peak memory."""
    io, nnz = pymrio_system(products, partners)
    rss_before = _rss_gib()
    _reset_peak()
    started = time.perf_counter()
    if route == "pymrio":
        io.calc_all()
        cba = io.employment.D_cba_reg.to_numpy()
        pba = io.employment.D_pba_reg.to_numpy()
        method, residual = "dense inverse", "-"
    else:
        from councilplan.planning.flows import flows_from_pymrio

        result = flows_from_pymrio(io, method=route)
        cba, pba = result.embodied.sum(axis=1), result.embodied.sum(axis=2)
        method, residual = result.method, f"{result.residual:.0e}"
    seconds = time.perf_counter() - started
    return {
        "route": route,
        "nnz": nnz,
        "seconds": seconds,
        "peak_added": _peak_gib() - rss_before,
        "load": os.getloadavg()[0],
        "method": method,
        "residual": residual,
        "cba": cba.tolist(),
        "pba": pba.tolist(),
    }


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def _status(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _rss_gib() -> float:
    return _status("VmRSS:")


def _peak_gib() -> float:
    return _status("VmHWM:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 products per region")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        route, products, partners = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(child(route, products, partners)))
        return

    from rich.console import Console
    from rich.table import Table

    products = 40 if args.quick else 200
    cases = [8] if args.quick else [8, 48]
    console = Console(width=160)
    sectors = f"{REGIONS} regions x {products} products = {REGIONS * products:,} sectors"
    console.print(f"cores: {os.cpu_count()}, numpy {np.__version__}, {sectors}")
    table = Table(title="Embodied labour flows: councilplan vs pymrio calc_all (same system)")
    for column in ("A", "non-zeros", "route", "residual", "seconds", "peak memory added GiB",
                   "max rel. diff D_cba", "max rel. diff D_pba", "load"):  # fmt: skip
        table.add_column(column, justify="right")
    for partners in cases:
        runs = {}
        for route in ("pymrio", "direct", "bicgstab"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", route, str(products), str(partners)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            runs[route] = json.loads(done.stdout.strip().splitlines()[-1])
        peer = runs["pymrio"]
        for route, r in runs.items():
            diff = [
                float(np.max(np.abs(np.array(r[k]) - np.array(peer[k])) / np.abs(peer[k])))
                for k in ("cba", "pba")
            ]
            name = (
                "pymrio calc_all (dense inverse)" if route == "pymrio" else f"councilplan {route}"
            )
            table.add_row(
                f"{partners} import partners", f"{r['nnz']:,}", name, r["residual"],
                f"{r['seconds']:.2f}", f"{r['peak_added']:.2f}",
                "-" if route == "pymrio" else f"{diff[0]:.1e}",
                "-" if route == "pymrio" else f"{diff[1]:.1e}", f"{r['load']:.1f}",
            )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
