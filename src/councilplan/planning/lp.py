"""Linear programs in CSC form and the two solvers behind the plan: HiGHS and PDLP.

The program is ``min c.x  s.t.  row_lower <= A x <= row_upper, col_lower <= x <= col_upper``.
Both solvers return duals in the same convention: the row dual is d(objective)/d(bound),
so a "need" row (lower bound) has a dual >= 0 and a "limit" row (upper bound) one <= 0;
a column's reduced cost is c - A'y.

Residuals and the duality gap are computed here from the returned solution, not taken
from the solver, so the two solvers are judged by the same yardstick.

Both solvers run in this process. highspy links its HiGHS into its own extension module
(it needs no ``libhighs.so``), and OR-Tools loads its ``libhighs.so.1`` privately
(``RTLD_LOCAL``), so the two HiGHS versions never see each other's symbols;
``tests/test_lp.py`` solves with both, in both orders, in one process. No answer travels
through a stream that a library could write to.

Solvers say nothing on the terminal: HiGHS's log is off (``output_flag``) and PDLP's
verbosity is 0. HiGHS prints one banner when the process makes its first ``Highs`` object,
before any option can be set; :func:`_new_highs` makes that object with standard output
pointed at ``/dev/null``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: HiGHS answers with residuals above this are re-solved from their basis without scaling.
POLISH_ABOVE = 1e-11


@dataclass(frozen=True, eq=False)
class LinearProgram:
    """``min cost.x  s.t.  row_lower <= matrix x <= row_upper, col_lower <= x <= col_upper``."""

    cost: np.ndarray
    matrix: sp.csc_array
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape


@dataclass(frozen=True, eq=False)
class LpSolution:
    """A solver's answer. ``status``: optimal, infeasible, limit (time or iterations) or error.

    ``relative_gap`` = |primal - dual objective| / (1 + |primal| + |dual|);
    ``primal_residual``: the largest violation of a row or column bound, relative to
    1 + |bound| (+ the sum of the row's terms |a_ij x_j| for a row); ``dual_residual``:
    the largest violation of dual feasibility (a dual or reduced cost of the wrong sign
    for its bound), relative to 1 + |cost| + sum_i |a_ij y_i| for a column.
    """

    status: str
    solver: str
    x: np.ndarray
    row_dual: np.ndarray
    reduced_cost: np.ndarray
    objective: float
    dual_objective: float
    relative_gap: float
    primal_residual: float
    dual_residual: float
    iterations: int
    seconds: float
    message: str = ""


def solve(
    lp: LinearProgram,
    solver: str,
    *,
    tol: float = 1e-6,
    time_limit: float | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Solve with ``solver`` ("highs" or "pdlp"); ``tol`` is PDLP's relative optimality
    tolerance (HiGHS is exact to its feasibility tolerances, set to 1e-10). ``start`` =
    (x, row duals) is a starting point for PDLP (HiGHS ignores it)."""
    if solver not in ("highs", "pdlp"):
        raise ValueError(f"unknown LP solver {solver!r}; use 'highs' or 'pdlp'")
    run = _solve_highs if solver == "highs" else _solve_pdlp
    return run(lp, tol, time_limit, start)


_banner_lock = threading.Lock()
_banner_shown = False


def _new_highs():
    """A ``highspy.Highs`` with its log off.

    HiGHS writes its banner straight to file descriptor 1 (C++ ``printf``, out of reach of
    ``sys.stdout``) when the process makes its first ``Highs`` object, before any option
    can be set. The first one is therefore made with descriptor 1 pointed at ``/dev/null``
    for the few microseconds it takes; later ones print nothing and are made as is.
    """
    global _banner_shown
    import highspy

    with _banner_lock:
        if _banner_shown:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def _solve_highs(lp: LinearProgram, tol: float, time_limit: float | None, warm=None) -> LpSolution:
    import highspy

    start = time.perf_counter()
    h = _new_highs()
    h.setOptionValue("primal_feasibility_tolerance", 1e-10)
    h.setOptionValue("dual_feasibility_tolerance", 1e-10)
    # HiGHS drops coefficients below 1e-9 by default; real tables have inputs of 1e-11 per
    # unit that matter at outputs of 10^6. 1e-12 is the smallest HiGHS accepts.
    h.setOptionValue("small_matrix_value", 1e-12)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    m, n = lp.shape
    inf = highspy.kHighsInf
    model = highspy.HighsLp()
    model.num_col_ = n
    model.num_row_ = m
    model.col_cost_ = np.ascontiguousarray(lp.cost, dtype=np.float64)
    model.col_lower_ = np.where(np.isinf(lp.col_lower), -inf, lp.col_lower)
    model.col_upper_ = np.where(np.isinf(lp.col_upper), inf, lp.col_upper)
    model.row_lower_ = np.where(np.isinf(lp.row_lower), -inf, lp.row_lower)
    model.row_upper_ = np.where(np.isinf(lp.row_upper), inf, lp.row_upper)
    a = lp.matrix
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.num_col_ = n
    model.a_matrix_.num_row_ = m
    model.a_matrix_.start_ = a.indptr.astype(np.int32)
    model.a_matrix_.index_ = a.indices.astype(np.int32)
    model.a_matrix_.value_ = a.data.astype(np.float64)
    h.passModel(model)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    iterations = int(info.simplex_iteration_count) + int(info.ipm_iteration_count)
    text = h.modelStatusToString(status)
    if status == highspy.HighsModelStatus.kOptimal:
        sol = h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        y = np.asarray(sol.row_dual, dtype=np.float64)
        judged = judged_solution(
            lp,
            x,
            y,
            solver="highs",
            iterations=iterations,
            seconds=time.perf_counter() - start,
            message=text,
        )
        if max(judged.primal_residual, judged.dual_residual) <= POLISH_ABOVE:
            return judged
        # HiGHS keeps its tolerances on the scaled program; unscaled, the answer can be off
        # by 1e-7. Re-solving from the optimal basis without scaling is cheap and exact.
        basis = h.getBasis()
        h.clearSolver()
        h.setOptionValue("simplex_scale_strategy", 0)
        h.setOptionValue("solver", "simplex")
        h.setBasis(basis)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return judged
        info = h.getInfo()
        iterations += int(info.simplex_iteration_count)
        sol = h.getSolution()
        x = np.asarray(sol.col_value, dtype=np.float64)
        y = np.asarray(sol.row_dual, dtype=np.float64)
        polished = judged_solution(
            lp,
            x,
            y,
            solver="highs",
            iterations=iterations,
            seconds=time.perf_counter() - start,
            message=text,
        )
        worst = max(polished.primal_residual, polished.dual_residual)
        return polished if worst < max(judged.primal_residual, judged.dual_residual) else judged
    if status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        name = "infeasible"
    elif status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit):
        name = "limit"
    else:
        name = "error"
    return _failed(
        lp,
        solver="highs",
        status=name,
        iterations=iterations,
        seconds=time.perf_counter() - start,
        message=text,
    )


def _solve_pdlp(lp: LinearProgram, tol: float, time_limit: float | None, warm=None) -> LpSolution:
    from ortools.pdlp import solve_log_pb2, solvers_pb2
    from ortools.pdlp.python import pdlp

    start = time.perf_counter()
    m, n = lp.shape
    qp = pdlp.QuadraticProgram()
    qp.resize_and_initialize(n, m)
    qp.objective_vector = np.asarray(lp.cost, dtype=np.float64)
    qp.constraint_matrix = sp.csc_matrix(lp.matrix)
    qp.constraint_lower_bounds = np.asarray(lp.row_lower, dtype=np.float64)
    qp.constraint_upper_bounds = np.asarray(lp.row_upper, dtype=np.float64)
    qp.variable_lower_bounds = np.asarray(lp.col_lower, dtype=np.float64)
    qp.variable_upper_bounds = np.asarray(lp.col_upper, dtype=np.float64)
    params = solvers_pb2.PrimalDualHybridGradientParams()
    criteria = params.termination_criteria.simple_optimality_criteria
    criteria.eps_optimal_relative = tol
    criteria.eps_optimal_absolute = tol
    params.num_threads = max(1, min(os.cpu_count() or 1, 8))
    if time_limit is not None:
        params.termination_criteria.time_sec_limit = float(time_limit)
    initial = None
    if warm is not None:
        initial = pdlp.PrimalAndDualSolution()
        initial.primal_solution = np.asarray(warm[0], dtype=np.float64)
        initial.dual_solution = np.asarray(warm[1], dtype=np.float64)
    result = pdlp.primal_dual_hybrid_gradient(qp, params, initial_solution=initial)
    log = result.solve_log
    reason = solve_log_pb2.TerminationReason.Name(log.termination_reason)
    iterations = int(log.iteration_count)
    seconds = time.perf_counter() - start
    if reason == "TERMINATION_REASON_OPTIMAL":
        x = np.asarray(result.primal_solution, dtype=np.float64)
        y = np.asarray(result.dual_solution, dtype=np.float64)
        return judged_solution(
            lp, x, y, solver="pdlp", iterations=iterations, seconds=seconds, message=reason
        )
    if reason in (
        "TERMINATION_REASON_PRIMAL_INFEASIBLE",
        "TERMINATION_REASON_PRIMAL_OR_DUAL_INFEASIBLE",
    ):
        name = "infeasible"
    elif reason in (
        "TERMINATION_REASON_TIME_LIMIT",
        "TERMINATION_REASON_ITERATION_LIMIT",
        "TERMINATION_REASON_KKT_MATRIX_PASS_LIMIT",
    ):
        name = "limit"
    else:
        name = "error"
    return _failed(
        lp, solver="pdlp", status=name, iterations=iterations, seconds=seconds, message=reason
    )


def _failed(lp, *, solver, status, iterations, seconds, message) -> LpSolution:
    """A solver's stop without an answer: every number NaN, the status and message kept."""
    m, n = lp.shape
    nan = float("nan")
    return LpSolution(
        status=status,
        solver=solver,
        x=np.full(n, nan),
        row_dual=np.full(m, nan),
        reduced_cost=np.full(n, nan),
        objective=nan,
        dual_objective=nan,
        relative_gap=nan,
        primal_residual=nan,
        dual_residual=nan,
        iterations=iterations,
        seconds=seconds,
        message=message,
    )


def judged_solution(
    lp: LinearProgram,
    x: np.ndarray,
    y: np.ndarray,
    *,
    solver: str,
    iterations: int,
    seconds: float,
    status: str = "optimal",
    message: str = "",
) -> LpSolution:
    """Measure a solution (x primal, y row duals) against the program: objective, dual
    bound, gap, residuals; any method's answer can be judged so, not only a solver's."""
    a = lp.matrix
    ax = a @ x
    rl, ru, cl, cu = lp.row_lower, lp.row_upper, lp.col_lower, lp.col_upper
    # A row's violation is measured against the size of what it sums (1 + |bound| +
    # sum_j |a_ij x_j|): a net output is a difference of gross quantities.
    size = 1.0 + abs(a) @ np.abs(x)
    below = np.where(np.isfinite(rl), rl - ax, 0.0) / (size + np.where(np.isfinite(rl), abs(rl), 0))
    above = np.where(np.isfinite(ru), ax - ru, 0.0) / (size + np.where(np.isfinite(ru), abs(ru), 0))
    row_violation = np.maximum(np.maximum(below, above), 0.0)
    col_violation = np.maximum(np.maximum(cl - x, 0.0), np.maximum(x - cu, 0.0)) / (
        1.0 + np.where(np.isfinite(cu), np.abs(cu), 0.0)
    )
    primal_residual = float(max(row_violation.max(initial=0.0), col_violation.max(initial=0.0)))

    # Dual feasibility: a positive row dual needs a finite lower bound, a negative one a
    # finite upper bound; a positive reduced cost a finite column lower bound, a negative
    # one a finite upper bound. What is of the wrong sign is the dual residual.
    rc = lp.cost - a.T @ y
    y_lo = np.where(np.isfinite(rl), np.maximum(y, 0.0), 0.0)
    y_up = np.where(np.isfinite(ru), np.minimum(y, 0.0), 0.0)
    rc_lo = np.where(np.isfinite(cl), np.maximum(rc, 0.0), 0.0)
    rc_up = np.where(np.isfinite(cu), np.minimum(rc, 0.0), 0.0)
    bad_rows = np.abs(y - y_lo - y_up)
    # Relative to the size of the column's terms, |c_j| + sum_i |a_ij y_i|, as for rows.
    bad_cols = np.abs(rc - rc_lo - rc_up) / (1.0 + np.abs(lp.cost) + abs(a).T @ np.abs(y))
    scale = 1.0 + np.abs(y).max(initial=0.0)
    dual_residual = float(max(bad_rows.max(initial=0.0) / scale, bad_cols.max(initial=0.0)))
    dual_objective = float(
        y_lo @ np.where(np.isfinite(rl), rl, 0.0)
        + y_up @ np.where(np.isfinite(ru), ru, 0.0)
        + rc_lo @ np.where(np.isfinite(cl), cl, 0.0)
        + rc_up @ np.where(np.isfinite(cu), cu, 0.0)
    )
    objective = float(lp.cost @ x)
    gap = abs(objective - dual_objective) / (1.0 + abs(objective) + abs(dual_objective))
    return LpSolution(
        status=status,
        solver=solver,
        x=x,
        row_dual=y,
        reduced_cost=rc,
        objective=objective,
        dual_objective=dual_objective,
        relative_gap=float(gap),
        primal_residual=primal_residual,
        dual_residual=dual_residual,
        iterations=iterations,
        seconds=seconds,
        message=message,
    )
