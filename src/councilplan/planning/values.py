"""Labour values: the hours of labour each product embodies, directly and through its inputs.

With one technique per product, the values v (hours per unit) solve v = vA + l, that is
(I - A)^T v = l, where A is the products x products input matrix and l the direct labour
per unit. Small economies are solved directly (sparse LU, exact to rounding). Large ones
use BiCGSTAB (SciPy) on the transposed system, whose matrix-vector product runs on all
cores (SciPy's sparse product releases the GIL, so threads over row blocks scale), with a
test on the relative residual ||v - vA - l|| / ||l||. Where a product has several
techniques, the cheapest one (least embodied labour) is chosen by policy iteration; by the
non-substitution theorem that choice does not depend on what is finally consumed.
See docs/values.md for the method and its sources.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from councilplan.economy.model import Economy

#: Economies up to this many products are solved directly by "auto"; above it the LU
#: factors of a sparse input matrix fill in and an iterative solve is far faster.
DIRECT_LIMIT = 500
#: A direct solve up to this many products factors a dense matrix (LAPACK), beyond it a
#: sparse one (SuperLU).
DENSE_LIMIT = 3000
#: Non-zeros per thread below which threading costs more than it saves.
_THREAD_GRAIN = 200_000

Progress = Callable[[int], None]


class ValuesNotConvergedError(RuntimeError):
    """The iterative solve did not reach the requested residual."""


@dataclass(frozen=True, eq=False)
class LabourValues:
    """Hours of labour embodied per unit of each product.

    Attributes:
        product_ids: one id per product.
        values: total hours per unit (sum over labour kinds), shape (n,).
        by_kind: hours per unit of each labour kind, shape (k, n).
        labour_ids: the labour kinds, in the order of ``by_kind``.
        choice: index of the technique used for each product.
        residual: achieved ||v - vA - l|| / ||l|| (largest over labour kinds).
        method: "direct" or "bicgstab" (or "gmres" where BiCGSTAB broke down).
        iterations: Krylov iterations (0 for the direct solve), summed over kinds.
        technique_rounds: policy-iteration rounds used to choose techniques (0: one each).
        seconds: wall-clock time of the computation.
    """

    product_ids: np.ndarray
    values: np.ndarray
    by_kind: np.ndarray
    labour_ids: np.ndarray
    choice: np.ndarray
    residual: float
    method: str
    iterations: int
    technique_rounds: int
    seconds: float

    def to_series(self) -> pd.Series:
        """Values as a Series indexed by product id, named ``value`` (hours per unit)."""
        return pd.Series(
            self.values, index=pd.Index(self.product_ids, name="product"), name="value"
        )

    def to_frame(self) -> pd.DataFrame:
        """Columns product, value, then one column per labour kind when there are several."""
        frame = pd.DataFrame({"product": self.product_ids, "value": self.values})
        if len(self.labour_ids) > 1:
            for kind, row in zip(self.labour_ids, self.by_kind, strict=True):
                frame[f"value_{kind}"] = row
        return frame


def labour_values(
    economy: Economy,
    *,
    choice: np.ndarray | None = None,
    method: str = "auto",
    tol: float = 1e-12,
    progress: Progress | None = None,
) -> LabourValues:
    """Solve v = vA + l for every product and labour kind.

    Args:
        economy: the economy.
        choice: the technique for each product; by default the only one, or, where some
            product has several, the one with the least embodied labour (all kinds in hours,
            weighted equally).
        method: "auto" (direct up to ``DIRECT_LIMIT`` products, else iterative), "direct"
            (LU factors: exact to rounding, but slow and memory-hungry for large sparse
            economies) or "iterative" (BiCGSTAB to the residual ``tol``).
        tol: the relative residual the iterative solve must reach.
        progress: called with the iteration number as the solve proceeds.
    """
    if method not in {"auto", "direct", "iterative"}:
        raise ValueError(f"method must be 'auto', 'direct' or 'iterative', not {method!r}")
    start = time.perf_counter()
    rounds, chosen = 0, None
    if choice is not None:
        choice = economy.technique_choice(choice)
    try:
        if choice is None and not economy.single_technique:
            weights = np.ones(economy.n_labour_kinds)
            choice, chosen, rounds = _policy_iteration(economy, weights, tol, method)
        choice = economy.technique_choice(choice)
        system = LeontiefSystem(economy.input_matrix(choice), method=method)
        labour = economy.labour_per_unit(choice)
        by_kind = np.empty_like(labour)
        residual, iterations = 0.0, 0
        # With one labour kind the technique choice has already solved these values to
        # ``tol``: starting from them, the solve only confirms the residual.
        warm = chosen if labour.shape[0] == 1 else None
        for k in range(labour.shape[0]):
            by_kind[k], res, its = system.solve_values(
                labour[k], tol=tol, x0=warm, progress=progress
            )
            residual, iterations = max(residual, res), iterations + its
    except (RuntimeError, np.linalg.LinAlgError):  # ValuesNotConvergedError among them
        _refuse_unproductive(economy, choice)
        raise
    if not _sound(by_kind):
        _refuse_unproductive(economy, choice)  # else negative values are by-products' doing
        if not np.all(np.isfinite(by_kind)):
            raise ValuesNotConvergedError("the solve gave values that are not finite numbers")
    by_kind.flags.writeable = False
    values = by_kind.sum(axis=0)
    values.flags.writeable = False
    return LabourValues(
        product_ids=economy.product_ids,
        values=values,
        by_kind=by_kind,
        labour_ids=economy.labour_ids,
        choice=choice,
        residual=residual,
        method=system.method,
        iterations=iterations,
        technique_rounds=rounds,
        seconds=time.perf_counter() - start,
    )


def cheapest_techniques(
    economy: Economy,
    weights=None,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-12,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """The technique per product with the least embodied labour, and the values under it.

    ``weights`` (one per labour kind, default 1) turn hours of each kind into one cost.
    ``start`` is a choice to begin from (say, the answer for nearby weights): the closer
    it is, the fewer rounds. Returns (choice, values): the technique index per product and
    the weighted hours per unit. By the non-substitution theorem, this choice is optimal
    for any final demand when labour is the only scarce input.
    """
    w = np.ones(economy.n_labour_kinds) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (economy.n_labour_kinds,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"weights: expected {economy.n_labour_kinds} finite numbers >= 0")
    if start is not None:
        start = economy.technique_choice(start)
    try:
        choice, values, _ = _policy_iteration(economy, w, tol, method, start)
    except (RuntimeError, np.linalg.LinAlgError):
        _refuse_unproductive(economy, start)
        raise
    if not _sound(values):
        _refuse_unproductive(economy, choice)
    return choice, values


def _sound(values: np.ndarray) -> bool:
    """Values a productive economy without by-products gives: finite and >= 0."""
    return bool(np.all(np.isfinite(values)) and not np.any(values < 0))


def _refuse_unproductive(economy: Economy, choice: np.ndarray | None) -> None:
    """Raise :class:`NotProductiveError` if the economy, or the techniques ``choice`` of
    it, cannot produce a net surplus (spectral radius of A at or above 1): then
    v = vA + l has no non-negative solution, and the values solved would be negative or
    infinite, or the solve fails. Called only after one of those, so a productive
    economy pays nothing for it. An economy read with ``check_productive=False`` can get
    here; its error names the products of the cycle at fault, as ``read_bundle``'s does.
    """
    from councilplan.economy.productive import check_choice_productive, check_productive

    check_productive(economy, economy.name)
    if choice is None:
        return
    check_choice_productive(
        economy,
        choice,
        "the chosen techniques cannot produce a net surplus: the spectral radius of their "
        "input matrix",
        "choose other techniques for these products",
        economy.name,
    )


def _policy_iteration(economy: Economy, weights: np.ndarray, tol: float, method: str, start=None):
    """Howard's policy iteration: solve for values, switch to cheaper techniques, repeat.

    Each round solves the current choice, then lets every product take the technique that
    is cheapest at those values; a switch is made only for a gain larger than rounding, so
    the iteration cannot cycle. It ends in a few rounds. While techniques still switch, the
    values need only be good to 1e-6 (modified policy iteration, Puterman and Shin 1978);
    the choice is confirmed, and the values returned, at ``tol``.
    """
    cost = weights @ economy.labour  # hours-equivalent per unit of activity, per technique
    out = economy.technique_output
    choice = economy.cheapest_technique(cost / out) if start is None else start
    # Policy iteration stays among productive choices only if it starts from one. The
    # techniques of least direct labour need not be (one may use more of its own product
    # than it makes): then its values come out negative or infinite, or the solve fails,
    # and the iteration starts again from a choice the productivity check vouches for.
    may_restart = start is None
    values = None
    loose = max(tol, 1e-6)
    with _ThreadedProduct(economy.inputs.T.tocsr()) as inputs_t:  # techniques x products
        for rounds in range(1, 101):
            system = LeontiefSystem(economy.input_matrix(choice), method=method)
            try:
                values, _, _ = system.solve_values(cost[choice] / out[choice], tol=loose, x0=values)
                sound = _sound(values)
            except (RuntimeError, np.linalg.LinAlgError):
                if not may_restart:
                    raise
                sound = False
            if may_restart and not sound:
                may_restart, values = False, None
                choice = _productive_choice(economy)
                continue
            may_restart = False
            unit_cost = (cost + inputs_t(values)) / out
            best = economy.cheapest_technique(unit_cost)
            gain = unit_cost[choice] - unit_cost[best]
            switch = gain > 1e-10 * np.maximum(np.abs(unit_cost[choice]), 1e-300)
            if not switch.any():
                if loose == tol:
                    return choice, values, rounds
                loose = tol  # settled at loose values: confirm with exact ones
                continue
            choice = np.where(switch, best, choice)
    raise ValuesNotConvergedError("choosing techniques did not settle in 100 rounds")


def _productive_choice(economy: Economy) -> np.ndarray:
    """A choice of techniques that is productive if any is (the productivity check's)."""
    from councilplan.economy.productive import value_iteration_choice

    col = np.asarray(abs(economy.inputs).sum(axis=0)).reshape(-1) / economy.technique_output
    best = economy.cheapest_technique(col)
    if np.all(col[best] < 1.0):
        return best
    return value_iteration_choice(economy, best)


class LeontiefSystem:
    """The system (I - A)^T v = l for one input matrix A, solved for one or more l."""

    def __init__(self, a: sp.csc_array, method: str = "auto"):
        self.n = a.shape[0]
        self.method = (
            "direct"
            if method == "direct" or (method == "auto" and self.n <= DIRECT_LIMIT)
            else "bicgstab"
        )
        # The CSC arrays of A, read as CSR, are A^T: no copy.
        self._at = sp.csr_array((a.data, a.indices, a.indptr), shape=a.shape)
        self._lu = None

    def solve_values(
        self,
        labour: np.ndarray,
        *,
        tol: float = 1e-12,
        x0: np.ndarray | None = None,
        progress: Progress | None = None,
    ) -> tuple[np.ndarray, float, int]:
        """Values for direct labour ``labour``: (values, relative residual, iterations)."""
        norm = float(np.linalg.norm(labour))
        if norm == 0.0:
            return np.zeros(self.n), 0.0, 0
        if self.method == "direct":
            if self._lu is None:
                eye = sp.identity(self.n, format="csc", dtype=np.float64)
                matrix = sp.csc_array(eye - self._at)
                if self.n <= DENSE_LIMIT:
                    with warnings.catch_warnings():
                        # I - A exactly singular: an error, not inf values and a warning.
                        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
                        try:
                            factors = scipy.linalg.lu_factor(matrix.toarray())
                        except scipy.linalg.LinAlgWarning as singular:
                            raise np.linalg.LinAlgError(str(singular)) from None
                    self._lu = lambda b: scipy.linalg.lu_solve(factors, b)
                else:
                    self._lu = spla.splu(matrix, permc_spec="COLAMD").solve
            values = self._lu(labour)
            return values, self.residual(values, labour), 0
        return self._solve_iterative(labour, norm, tol, x0, progress)

    def residual(self, values: np.ndarray, labour: np.ndarray) -> float:
        """||v - vA - l|| / ||l||."""
        norm = np.linalg.norm(labour)
        return float(np.linalg.norm(values - self._at @ values - labour) / norm) if norm else 0.0

    def _solve_iterative(self, labour, norm, tol, x0, progress):
        with _ThreadedProduct(self._at) as product:
            count = [0]

            def step(_xk):
                count[0] += 1
                if progress is not None:
                    progress(count[0])

            operator = spla.LinearOperator(
                self._at.shape, matvec=lambda y: y - product(y), dtype=np.float64
            )
            # Start from the first two terms of the Neumann series: already close.
            guess = labour + product(labour) if x0 is None else x0
            values, info = spla.bicgstab(
                operator, labour, x0=guess, rtol=tol, atol=0.0, maxiter=1000, callback=step
            )
            residual = float(np.linalg.norm(values - product(values) - labour) / norm)
            if info != 0 or not residual <= 10 * tol:
                # BiCGSTAB can break down; GMRES cannot, at a higher cost per iteration.
                self.method = "gmres"
                values, info = spla.gmres(
                    operator,
                    labour,
                    x0=values,
                    rtol=tol,
                    atol=0.0,
                    restart=50,
                    maxiter=200,
                    callback=step,
                    callback_type="pr_norm",
                )
                residual = float(np.linalg.norm(values - product(values) - labour) / norm)
            if not residual <= 10 * tol:
                raise ValuesNotConvergedError(
                    f"the iterative solve reached a relative residual of {residual:.3g}, not "
                    f"{tol:.3g}; the economy may be close to unproductive (spectral radius "
                    "near 1): try method='direct'"
                )
            return values, residual, count[0]


class _ThreadedProduct:
    """y = M @ x for a CSR matrix, split into row blocks of equal non-zeros, one per core."""

    def __init__(self, m: sp.csr_array):
        self.m = m
        threads = min(os.cpu_count() or 1, 8, max(1, m.nnz // _THREAD_GRAIN))
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        cuts = np.searchsorted(m.indptr, np.linspace(0, m.nnz, threads + 1)).tolist()
        cuts[0], cuts[-1] = 0, m.shape[0]
        self.blocks = []
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            start, stop = m.indptr[lo], m.indptr[hi]
            block = sp.csr_array(
                (m.data[start:stop], m.indices[start:stop], m.indptr[lo : hi + 1] - start),
                shape=(hi - lo, m.shape[1]),
            )
            self.blocks.append((lo, hi, block))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.pool is None:
            return self.m @ x
        out = np.empty(self.m.shape[0])

        def work(item):
            lo, hi, block = item
            out[lo:hi] = block @ x

        list(self.pool.map(work, self.blocks))
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
