"""Economy bundles on disk: councilplan against pymrio's save/load in the same run, then alone
at scale against the floor of raw sparse arrays.

    python benchmarks/bundle_io.py            # 2,000 products vs pymrio; 10^5 and 10^6 alone
    python benchmarks/bundle_io.py --quick    # 2,000 vs pymrio; 10^5 alone

Each economy is synthetic (``councilplan generate``). pymrio gets the same system
(``economy_to_pymrio``: Z, Y, x and a labour extension) and writes and reads it with
``IOSystem.save`` / ``pymrio.load`` (dense tab-separated text, 12 significant digits). The
floor is ``scipy.sparse.save_npz`` / ``load_npz`` of the input matrix alone: no ids, no
labour, no checks. "read" for councilplan is ``read_bundle``: parse, match every id,
validate and build the Economy (productivity check included). Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import scipy.sparse as sp
from rich.console import Console
from rich.table import Table

from councilplan.economy.bundle import read_bundle, write_bundle
from councilplan.economy.synthetic import generate_economy


def best_of(repeat: int, work):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def ours(economy, folder: Path, table_format: str, repeat: int) -> dict:
    out = folder / f"bundle-{table_format}"
    write, _ = best_of(repeat, lambda: write_bundle(economy, out, table_format=table_format))
    read, again = best_of(repeat, lambda: read_bundle(out))
    assert again == economy, "the bundle did not read back exactly"
    return {"what": f"councilplan {table_format}", "write": write, "read": read, "mb": size_mb(out)}


def peer(economy, folder: Path, repeat: int) -> dict:
    import pymrio

    from councilplan.economy.pymrio_io import economy_to_pymrio

    io = economy_to_pymrio(economy)
    out = folder / "pymrio"

    def save():
        shutil.rmtree(out, ignore_errors=True)
        io.save_all(out)

    write, _ = best_of(repeat, save)
    read, _ = best_of(repeat, lambda: pymrio.load_all(out))
    return {"what": "pymrio txt (dense)", "write": write, "read": read, "mb": size_mb(out)}


def floor(economy, folder: Path, repeat: int) -> dict:
    out = folder / "inputs.npz"
    write, _ = best_of(repeat, lambda: sp.save_npz(out, economy.inputs, compressed=False))
    read, _ = best_of(repeat, lambda: sp.load_npz(out))
    return {"what": "floor: scipy npz", "write": write, "read": read, "mb": size_mb(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 10^6 products")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    cases = [(2_000, 20, True), (100_000, 20, False)]
    if not args.quick:
        cases.append((1_000_000, 10, False))
    table = Table(title="Economy bundles: write and read (seconds, best of runs)")
    for column in ("products", "non-zeros", "format", "write s", "read s", "MB"):
        table.add_column(column, justify="left" if column == "format" else "right")
    console = Console()
    for n, inputs, with_peer in cases:
        economy = generate_economy(n, inputs_per_product=inputs, seed=1)
        repeat = args.repeat if n <= 100_000 else 1
        with tempfile.TemporaryDirectory(prefix="bundle-bench-") as scratch:
            folder = Path(scratch)
            rows = [ours(economy, folder, f, repeat) for f in ("csv", "parquet")]
            rows.append(
                peer(economy, folder, repeat) if with_peer else floor(economy, folder, repeat)
            )
        for row in rows:
            table.add_row(
                f"{n:,}", f"{economy.nnz:,}", row["what"], f"{row['write']:.3f}",
                f"{row['read']:.3f}", f"{row['mb']:.1f}",
            )  # fmt: skip
        console.print(f"done: {n:,} products", style="dim")
    console.print(table)


if __name__ == "__main__":
    main()
