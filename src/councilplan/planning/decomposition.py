"""The plan under a few binding labour and resource limits, exactly, by decomposition.

With K limits on labour kinds and resources (K small) and no technique capacities, the plan
LP has K coupling rows over a problem the non-substitution theorem solves in one stroke:
for multipliers mu >= 0 on the limits, the least-cost plan at technique costs
c + mu U is one technique per product and one Leontief solve. Dantzig-Wolfe decomposition
(Dantzig and Wolfe 1960) combines such plans: a master LP with K + 1 rows chooses
weights lambda_j over the plans found so far (every one meets the needs exactly, so any
convex combination does), its duals give the next mu, and the next plan is priced at
c + mu U. It stops when the Lagrangian bound v(mu).d - mu.b meets the master's value: the
plan is then optimal, and (v(mu), mu) are its exact shadow prices.

Each round costs one ``cheapest_techniques`` and one Leontief solve, so 10^5 products
with five limits take seconds, against minutes for a general LP solver.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from councilplan.economy.model import Economy


@dataclass(frozen=True, eq=False)
class DecompositionResult:
    """An optimal plan: activity (t,), prices (n,), limit multipliers mu (K,) in the order
    of the limited labour kinds then resources, with the bounds reached."""

    activity: np.ndarray
    prices: np.ndarray
    multipliers: np.ndarray
    objective: float
    lower_bound: float
    rounds: int
    plans: int
    seconds: float


def decompose(
    economy: Economy,
    needs: np.ndarray,
    use: np.ndarray,
    bounds: np.ndarray,
    weights: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    *,
    tol: float = 1e-10,
    max_rounds: int = 200,
    solve_method: str = "auto",
) -> DecompositionResult | str:
    """Least weighted labour meeting ``needs`` with ``use @ x <= bounds``.

    ``use`` (K x t) holds, per limited labour kind and resource, its use per unit of
    activity; ``rows`` = (indices of the limited labour kinds, of the limited resources).
    Returns the result, or a string saying why the method does not apply (the limits
    cannot all be kept, a plan would need negative output, no convergence).
    """
    from councilplan.planning.values import LeontiefSystem, cheapest_techniques

    start = time.perf_counter()
    kl, kr = rows
    k, r = economy.n_labour_kinds, economy.n_resources
    # The resources become extra "labour kinds" of a copy of the economy, so that
    # cheapest_techniques prices c + mu U with its weights: w + mu_L on labour, mu_R on
    # resources. (dataclasses.replace: the arrays are the economy's own, already checked.)
    ids = np.concatenate(
        [
            [f"labour:{x}" for x in economy.labour_ids],
            [f"resource:{x}" for x in economy.resource_ids],
        ]
    ).astype(object)
    priced = dataclasses.replace(
        economy,
        labour=np.vstack([economy.labour, economy.resource_use]),
        labour_ids=ids,
        labour_names=ids,
        labour_units=ids,
        labour_limits=np.full(k + r, np.inf),
        _product_index={},
    )
    cost = weights @ economy.labour
    out = economy.technique_output

    last_choice = None

    def best_plan(mu: np.ndarray, base: float):
        """The least-cost plan at costs base * c + mu U: (activity, values) or a reason."""
        nonlocal last_choice
        w = np.zeros(k + r)
        w[:k] = base * weights
        w[kl] += mu[: len(kl)]
        w[k + kr] += mu[len(kl) :]
        # Successive prices are close: start from the last round's techniques.
        choice, values = cheapest_techniques(priced, w, start=last_choice, method=solve_method)
        last_choice = choice
        a = economy.input_matrix(choice)
        ar = a.tocsr()
        system = LeontiefSystem(
            sp.csc_array((ar.data, ar.indices, ar.indptr), shape=a.shape), method=solve_method
        )
        y, _, _ = system.solve_values(needs)
        if np.any(y < -1e-9 * (1 + np.abs(y))):
            return "a plan with one technique per product would need a negative output"
        x = np.zeros(economy.n_techniques)
        x[choice] = np.maximum(y, 0.0) / out[choice]
        return x, values

    kk = len(bounds)
    plans: list[np.ndarray] = []
    plan_cost: list[float] = []
    plan_use: list[np.ndarray] = []

    def add(x: np.ndarray) -> None:
        plans.append(x)
        plan_cost.append(float(cost @ x))
        plan_use.append(use @ x)

    # Start: the least-labour plan and, per limit, the plan using least of it.
    first = best_plan(np.zeros(kk), 1.0)
    if isinstance(first, str):
        return first
    add(first[0])
    for i in range(kk):
        unit = np.zeros(kk)
        unit[i] = 1.0
        found = best_plan(unit, 0.0)
        if isinstance(found, str):
            return found
        add(found[0])

    # One phase with a penalty: artificial slacks s >= 0 let the master break a limit at a
    # price of ``penalty`` hours per unit. A limit's multiplier at the penalty means the
    # penalty was too low to matter (raise it) or the limits cannot all be kept.
    penalty = (
        100.0 * max(max(plan_cost), 1.0) / max(float(np.min(bounds[bounds > 0], initial=1.0)), 1e-9)
    )
    rounds = 0
    # Dual smoothing (Wentges 1997): price at a point between the master's duals and the
    # best multipliers so far; it damps the bang-bang of plain Dantzig-Wolfe.
    center, center_values, best_lower = None, None, -np.inf
    smoothing = 0.5
    while True:
        rounds += 1
        u = np.column_stack(plan_use)
        j = len(plans)
        # Columns: the plans found so far, then one slack per limit at a penalty cost.
        res = _master(
            cost=np.r_[np.asarray(plan_cost), np.full(kk, penalty)],
            a_ub=np.hstack([u, -np.eye(kk)]),
            b_ub=bounds,
            plans=j,
            extra=kk,
        )
        if res is None:
            return "the decomposition master problem failed"
        mu_master = np.maximum(-res.ineqlin.marginals, 0.0)
        sigma = float(res.eqlin.marginals[0])
        excess = res.x[j:]
        upper = float(res.fun)
        alpha = smoothing if center is not None else 0.0
        mu = alpha * center + (1.0 - alpha) * mu_master if center is not None else mu_master
        found = best_plan(mu, 1.0)
        if isinstance(found, str):
            return found
        x, values = found
        # The Lagrangian bound (c + mu U).x - mu.b, summed as c.x + mu.(U x - b): with
        # large multipliers, v.d - mu.b would lose its last digits to cancellation.
        lower = float(cost @ x + mu @ (use @ x - bounds))
        if lower > best_lower:
            best_lower, center, center_values = lower, mu, values
        reduced = float(cost @ x + mu_master @ (use @ x)) - sigma
        scale = 1.0 + abs(upper)
        if upper - best_lower <= tol * scale:
            if np.all(excess <= 1e-12 * (1.0 + np.abs(bounds))):
                if alpha > 0.0:
                    # Where the optimal multipliers are many (a degenerate vertex) the best
                    # ones so far can be huge and ill-conditioned; the master's own duals
                    # are a vertex of that set: take them when they prove optimality too.
                    again = best_plan(mu_master, 1.0)
                    if not isinstance(again, str):
                        xm, vm = again
                        at_master = float(cost @ xm + mu_master @ (use @ xm - bounds))
                        if at_master >= upper - tol * scale:
                            best_lower, center, center_values = at_master, mu_master, vm
                break
            if np.any(mu_master >= 0.999 * penalty) and penalty < 1e12 * max(max(plan_cost), 1.0):
                penalty *= 1e3
                center, center_values, best_lower = None, None, -np.inf
                continue
            return "the labour and resource limits cannot all be kept"
        if rounds > max_rounds:
            return (
                f"the decomposition did not converge in {max_rounds} rounds "
                f"(gap {(upper - best_lower) / scale:.2e})"
            )
        if reduced >= -1e-12 * scale:
            # No better plan at the smoothed point ("mispricing"): price at the master's
            # own duals next time. At those, no better plan means the master is optimal.
            if alpha == 0.0:
                if np.all(excess <= 1e-12 * (1.0 + np.abs(bounds))):
                    best_lower = max(best_lower, lower)
                    center, center_values = mu, values
                    break
                return "the labour and resource limits cannot all be kept"
            smoothing = 0.0
            continue
        smoothing = 0.5
        add(x)

    values = center_values
    mu = center
    lam = np.maximum(res.x[:j], 0.0)
    activity = np.zeros(economy.n_techniques)
    for weight, plan_x in zip(lam, plans, strict=True):
        if weight > 0:
            activity += weight * plan_x
    return DecompositionResult(
        activity=activity,
        prices=np.asarray(values),
        multipliers=mu,
        objective=upper,
        lower_bound=best_lower,
        rounds=rounds,
        plans=len(plans),
        seconds=time.perf_counter() - start,
    )


def _master(*, cost: np.ndarray, a_ub: np.ndarray, b_ub: np.ndarray, plans: int, extra: int):
    """min cost.z  s.t.  a_ub z <= b_ub, sum of the first ``plans`` entries of z = 1, z >= 0.

    The master has K + 1 rows and a few dozen columns: SciPy's own HiGHS (which does not
    clash with OR-Tools in one process, unlike highspy) solves it in microseconds.
    """
    a_eq = np.r_[np.ones(plans), np.zeros(extra)].reshape(1, -1)
    tight = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    for options in (tight, {}):  # the tight tolerances can fail on a near-degenerate master
        res = linprog(
            cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], method="highs-ds", options=options
        )
        if res.status == 0:
            return res
    return None
