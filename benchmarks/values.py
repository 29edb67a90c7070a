"""Labour values: councilplan against pymrio's ``calc_all`` in the same run, then alone at scale.

    python benchmarks/values.py                 # 2,000 and 5,000 vs pymrio; 10^5 and 10^6 alone
    python benchmarks/values.py --quick         # 2,000 vs pymrio; 10^5 alone

Each economy is synthetic (``councilplan generate``), 20 input draws per product. pymrio
gets the same matrices (Z = A, x = 1, labour extension F = l) and computes its labour
multipliers M = l (I - A)^-1 with a dense inverse; councilplan solves (I - A)^T v = l. The
best of ``--repeat`` runs is reported for both. The large sizes run each in a fresh
process so that its peak memory (whole process: the economy, the solver, Python) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from councilplan.economy.synthetic import generate_economy
from councilplan.planning.values import labour_values

INPUTS = 20


def best_of(repeat: int, work):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def against_pymrio(n: int, repeat: int) -> dict:
    from councilplan.economy.pymrio_io import economy_to_pymrio

    economy = generate_economy(n, inputs_per_product=INPUTS, seed=1)
    ours_time, ours = best_of(repeat, lambda: labour_values(economy))

    def pymrio_values():
        io = economy_to_pymrio(economy)
        io.calc_all()
        return io.labour.M.to_numpy().reshape(-1)

    peer_time, peer = best_of(repeat, pymrio_values)
    return {
        "products": n,
        "nnz": economy.nnz,
        "peer": peer_time,
        "ours": ours_time,
        "method": ours.method,
        "iterations": ours.iterations,
        "residual": ours.residual,
        "difference": float(np.max(np.abs(ours.values - peer) / np.abs(peer))),
    }


def alone(n: int, repeat: int) -> dict:
    """Run in a child process: generate, solve ``repeat`` times, report the best and memory."""
    economy = generate_economy(n, inputs_per_product=INPUTS, seed=1)
    after_generation = _peak_rss_gib()
    solve_time, result = best_of(repeat, lambda: labour_values(economy))
    return {
        "products": n,
        "nnz": economy.nnz,
        "ours": solve_time,
        "method": result.method,
        "iterations": result.iterations,
        "residual": result.residual,
        "peak_after_generation": after_generation,
        "peak": _peak_rss_gib(),
    }


def _peak_rss_gib() -> float:
    """This process's peak resident memory. VmHWM starts afresh at exec; ru_maxrss would
    carry the parent's peak over on Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes only")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(alone(args.child, args.repeat)))
        return

    compared = [2_000] if args.quick else [2_000, 5_000]
    scaled = [100_000] if args.quick else [100_000, 1_000_000]
    console = Console(width=170)
    console.print(f"cores: {os.cpu_count()}, numpy {np.__version__}")

    table = Table(title="Labour values: councilplan vs pymrio calc_all (same matrices)")
    for column in ("products", "non-zeros", "pymrio s", "councilplan s", "speed-up",
                   "method", "iterations", "residual", "max rel. difference"):  # fmt: skip
        table.add_column(column, justify="right")
    for n in compared:
        r = against_pymrio(n, args.repeat)
        table.add_row(
            f"{n:,}", f"{r['nnz']:,}", f"{r['peer']:.3f}", f"{r['ours']:.4f}",
            f"{r['peer'] / r['ours']:.0f}x", r["method"], str(r["iterations"]),
            f"{r['residual']:.1e}", f"{r['difference']:.1e}",
        )  # fmt: skip
    console.print(table)

    table = Table(title="Labour values at scale: councilplan alone (fresh process per size)")
    for column in ("products", "non-zeros", "solve s", "method", "iterations", "residual",
                   "peak RSS after generating GiB", "peak RSS GiB"):  # fmt: skip
        table.add_column(column, justify="right")
    for n in scaled:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--repeat", str(args.repeat)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        r = json.loads(child.stdout.strip().splitlines()[-1])
        table.add_row(
            f"{n:,}", f"{r['nnz']:,}", f"{r['ours']:.3f}", r["method"], str(r["iterations"]),
            f"{r['residual']:.1e}", f"{r['peak_after_generation']:.2f}", f"{r['peak']:.2f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
