"""The per-round log in the authors' CSV layout (pequod-cljs ``csvgen``), cell for cell.

Same header, same columns in the same order, numbers as Java's ``Double.toString`` prints
them, and the ``exponent-sum`` row after each phase, so a run of ours compares with the
authors' ``dep1exNN.csv`` cell by cell. Column meanings: docs/rounds.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

#: Price columns, one group per category, in the authors' names.
PRICE_GROUPS = (
    "private-good-prices",
    "intermediate-good-prices",
    "nature-prices",
    "labor-prices",
    "public-good-prices",
)
#: Suffixes of the per-good groups, one per category.
CATEGORY_SUFFIXES = ("private-goods", "intermediate-goods", "nature", "labor", "public-goods")
#: The per-good groups after the prices, in order.
GOOD_GROUPS = ("new-deltas", "pdlist", "supply", "demand", "surplus", "threshold-report")


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` prints it (shortest round-trip digits).

    Plain decimal with at least one digit after the point for 1e-3 <= |v| < 1e7
    (``762.7535372611334``, ``1000.0``, ``0.001``), otherwise computerised scientific
    notation ``d.dddE-n`` (``8.172996857765674E-5``, ``1.0E7``). Python's ``repr`` gives the
    shortest digits that round-trip; only the layout differs from Java's, so we re-lay them
    out here (no library prints Java's layout). Note: Java before JDK 19 sometimes printed
    one digit more than the shortest; those cells differ in text, not in value.
    """
    v = float(value)
    if v != v:
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0.0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0.0"
    a = abs(v)
    if 1e-3 <= a < 1e7:
        # repr is plain with a ".0" in this range, exactly Java's layout
        return repr(v)
    sign = "-" if v < 0 else ""
    if a == 5e-324:
        return sign + "4.9E-324"  # Java prints the smallest subnormal with two digits
    mantissa, _, exponent = repr(a).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = (int(exponent) if exponent else 0) + len(whole)  # value = 0.<digits> x 10^point
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0") or "0"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def java_number(value: float, integral: bool = False) -> str:
    """A Clojure number as ``str`` prints it: a Long (``integral``) as ``1000``, else a double."""
    if integral:
        return str(int(value))
    return java_double(value)


def java_doubles(values: np.ndarray) -> list[str]:
    """:func:`java_double` of each value; fast path for the plain range (most cells)."""
    r = float.__repr__
    return [r(x) if 1e-3 <= abs(x) < 1e7 else java_double(x) for x in np.asarray(values).tolist()]


def header(goods_per_category: int, worker_ids: Sequence[int]) -> list[str]:
    """The authors' header: iteration, colour, 35 groups of G goods, then per worker council."""
    g = range(1, goods_per_category + 1)
    cols = [":iteration", ":color"]
    cols += [f":{group}-{n}" for group in PRICE_GROUPS for n in g]
    cols += [
        f":{group}-{suffix}-{n}" for group in GOOD_GROUPS for suffix in CATEGORY_SUFFIXES for n in g
    ]
    for wc in worker_ids:
        cols += [f"wc_{wc}_output", f"wc_{wc}_effort"]
    return cols


def round_row(record, fixed_supply: np.ndarray) -> list[str]:
    """One iteration row. ``fixed_supply`` (5G,) marks supplies the authors held as integers."""
    cells = [str(record.iteration), f":{record.colour}"]
    untouched = record.untouched_prices
    cells += [
        java_number(p, bool(u))
        for p, u in zip(record.prices.tolist(), untouched.tolist(), strict=True)
    ]
    cells += java_doubles(record.deltas)
    cells += java_doubles(record.damping)
    cells += [
        java_number(s, bool(f))
        for s, f in zip(record.supply.tolist(), fixed_supply.tolist(), strict=True)
    ]
    for values in (record.demand, record.surplus, record.imbalance):
        cells += java_doubles(values)
    if record.worker_output is not None:
        pair = np.empty(2 * record.worker_output.size)
        pair[0::2] = record.worker_output
        pair[1::2] = record.worker_effort
        cells += java_doubles(pair)
    return cells


def exponent_sum_row(exponent_sums: np.ndarray, goods_per_category: int) -> list[str]:
    """``exponent-sum``, blanks up to the worker columns, then each sum and a blank field."""
    blanks = 2 + 35 * goods_per_category - 1
    cells = ["exponent-sum"] + [""] * blanks
    for s in java_doubles(exponent_sums):
        cells += [s, ""]
    return cells


def fixed_supply_mask(goods_per_category: int, nature: np.ndarray, labour: np.ndarray):
    """(5G,) True where the supply is a fixed whole number (printed as an integer)."""
    g = goods_per_category
    mask = np.zeros(5 * g, dtype=bool)
    mask[2 * g : 3 * g] = np.equal(np.mod(nature, 1), 0)
    mask[3 * g : 4 * g] = np.equal(np.mod(labour, 1), 0)
    return mask


class RoundsLogWriter:
    """Writes the log as the run goes: pass it to ``run_rounds`` as its ``observer``.

    Use as a context manager. Worker columns need the council rows, so the run computes each
    round's outputs and efforts while a writer with them is attached (``wants_council_rows``).
    """

    def __init__(self, path: str | Path | TextIO, experiment, *, worker_columns: bool = True):
        self.experiment = experiment
        self.worker_columns = worker_columns
        self.wants_council_rows = worker_columns
        self._own = not hasattr(path, "write")
        # the writer outlives this call (it is closed by close()/__exit__), so no `with` here
        self._file: TextIO = open(path, "w", encoding="utf-8", newline="") if self._own else path  # noqa: SIM115
        g = experiment.goods_per_category
        self._fixed = fixed_supply_mask(g, experiment.nature_supply, experiment.labour_supply)
        ids = experiment.workers.ids.tolist() if worker_columns else []
        self._write(header(g, ids))

    def _write(self, cells: Iterable[str]) -> None:
        self._file.write(",".join(cells))
        self._file.write("\n")

    def on_round(self, record) -> None:
        if not self.worker_columns and record.worker_output is not None:
            record = record.without_councils()
        self._write(round_row(record, self._fixed))

    def on_phase_end(self, phase: int, experiment, exponent_sums: np.ndarray) -> None:
        if self.worker_columns:
            self._write(exponent_sum_row(exponent_sums, experiment.goods_per_category))
        else:
            self._write(["exponent-sum"] + [""] * (1 + 35 * experiment.goods_per_category))
        self._file.flush()

    def close(self) -> None:
        if self._own:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_log(path: str | Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a log (ours or the authors'), as text cells."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]
