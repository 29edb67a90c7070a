"""Time per participatory planning round, from the authors' 3,000 + 3,000 to 10^6 + 10^6 councils.

    python benchmarks/rounds.py            # all sizes (the largest needs about 3 GB)
    python benchmarks/rounds.py --quick    # the two small sizes only

Each size runs in its own process so its peak RSS is its own. A round is every council
answering at the current prices plus the price update (``planning_round``); the one-off
precomputation of the councils' constant terms is timed separately. Councils per second per
round = (consumer + worker councils) / seconds per round.

Peers in the same table: a plain per-council Python loop over the same closed forms,
measured here (what a direct port of the authors' per-council ``map`` costs), and the figures
the peers report for themselves (not runnable here): demplan 0.06 s per round at
30,000 + 30,000 councils; pequod-plus about two minutes per round at 60,000 councils.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pequod" / "dep1ex01.clj"
SIZES = {
    "3k": (3000, 10),
    "30k": (30_000, 100),
    "1M": (1_000_000, 100),
}
REFERENCES = {
    "3k": "",
    "30k": "demplan 0.06 s/round",
    "1M": "pequod-plus ~120 s/round at 60k",
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loop_round(experiment, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same round, one council at a time in Python (the per-council peer)."""
    g = experiment.goods_per_category
    supply = np.zeros(experiment.n_goods)
    demand = np.zeros(experiment.n_goods)
    cc, wc = experiment.consumers, experiment.workers
    for i in range(cc.n):
        u, pg = cc.utility_exponents[i], cc.public_good_exponents[i]
        total = u.sum() + pg.sum()
        demand[:g] += cc.income[i] * u / (total * prices[:g])
        demand[4 * g :] += cc.income[i] * pg / (total * prices[4 * g :] / cc.n) / cc.n
    out = wc.output_goods(g)
    for w in range(wc.n):
        lo, hi = wc.input_indptr[w], wc.input_indptr[w + 1]
        b, goods = wc.input_exponents[lo:hi], wc.input_goods[lo:hi]
        a, c = wc.productivity[w], wc.effort_exponent[w]
        k, s = wc.disutility_exponent[w], wc.disutility_scale[w]
        lam = prices[out[w]]
        big_b = b.sum()
        d = c - k + k * big_b
        p = prices[goods]
        log_q = (
            -k * np.log(a)
            - c * np.log(c)
            + c * np.log(k)
            + c * np.log(s)
            - c * np.log(lam)
            + k * (b * (np.log(p) - np.log(b) - np.log(lam))).sum()
        ) / d
        q = np.exp(log_q)
        supply[out[w]] += q
        demand[goods] += lam * b * q / p
    return supply, demand


def measure(case: str, rounds: int, loop: bool) -> dict:
    from councilplan.economy.pequod import generate_experiment, load_experiment
    from councilplan.planning.rounds import council_terms, initial_state, planning_round

    councils, goods = SIZES[case]
    started = time.perf_counter()
    if case == "3k" and SHARED.is_file():
        experiment, label = load_experiment(SHARED), "dep1ex01"
    else:
        experiment = generate_experiment(councils, goods_per_category=goods, seed=1)
        label = "generated"
    built = time.perf_counter() - started
    started = time.perf_counter()
    terms = council_terms(experiment)
    setup = time.perf_counter() - started
    state = initial_state(experiment)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        state, record, _ = planning_round(terms, state)
        times.append(time.perf_counter() - started)
    per_round = float(np.median(times))
    result = {
        "case": case,
        "label": label,
        "councils": experiment.consumers.n + experiment.workers.n,
        "goods": experiment.n_goods,
        "build_s": built,
        "setup_s": setup,
        "round_s": per_round,
        "rss_mib": _peak_rss_mib(),
        "worst": record.worst_imbalance,
    }
    if loop:
        started = time.perf_counter()
        loop_round(experiment, initial_state(experiment).prices)
        result["loop_round_s"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 10^6 + 10^6 councils")
    parser.add_argument("--rounds", type=int, default=10, help="rounds timed per size")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.rounds, args.loop)))
        return

    from rich.console import Console
    from rich.table import Table

    cases = ["3k", "30k"] if args.quick else list(SIZES)
    rows = []
    for case in cases:
        command = [sys.executable, __file__, "--case", case, "--rounds", str(args.rounds)]
        if case != "1M":
            command.append("--loop")
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    table = Table(
        title=f"Participatory rounds: time per round (median of {args.rounds}), "
        f"{os.cpu_count()} cores",
        title_justify="left",
    )
    for name in (
        "CC + WC",
        "goods",
        "data",
        "build s",
        "setup s",
        "s/round",
        "councils/s/round",
        "loop s/round",
        "RSS MiB",
        "peer (reported)",
    ):
        table.add_column(name, justify="left" if name in ("data", "peer (reported)") else "right")
    for r in rows:
        table.add_row(
            f"{r['councils'] // 2:,} + {r['councils'] // 2:,}",
            str(r["goods"]),
            r["label"],
            f"{r['build_s']:.2f}",
            f"{r['setup_s']:.3f}",
            f"{r['round_s']:.4f}",
            f"{r['councils'] / r['round_s']:.2e}",
            f"{r['loop_round_s']:.2f}" if "loop_round_s" in r else "-",
            f"{r['rss_mib']:.0f}",
            REFERENCES[r["case"]],
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
