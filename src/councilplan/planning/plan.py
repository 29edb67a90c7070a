"""The plan: meet the councils' needs with the least labour, within every limit.

The plan is the linear program (Kantorovich 1939)

    min  sum_k w_k (L x)_k                       weighted hours of labour
    s.t. (P - B) x >= d                          net output covers the needs
         L x <= labour limits, R x <= resource limits, 0 <= x <= capacity

over the activity x of every technique (P: output, B: inputs, L: labour, R: resources per
unit of activity). Its duals are the shadow prices: hours per unit of each product (labour
values under the limits) and hours saved per unit of each limit.

Methods (docs/planning.md has the mathematics and the sources):

- ``labour``: when no limit binds, the non-substitution theorem makes the cheapest
  technique per product (``values.cheapest_techniques``) optimal whatever the needs, and
  the activities follow from one Leontief solve (I - A) y = d. The plan is accepted only
  with its optimality certificate: y >= 0, values >= 0, no technique cheaper at those
  values, every limit kept. Otherwise the LP is solved.
- ``decomposition``: a few binding labour or resource limits (no capacity in the way):
  Dantzig-Wolfe over such cheapest-technique plans, exact (planning/decomposition.py).
- ``highs``: the LP, exactly, by HiGHS (small and medium problems).
- ``pdlp``: the LP by PDLP, a first-order method for large problems, to a stated gap.
- shortfall: when the needs cannot all be met, a first LP minimises the unmet share of
  each need weighted by its priority, a second the labour at that least shortfall; the
  plan then names, per need, what is met, what is short and which limits bind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from councilplan.economy.model import Economy
from councilplan.planning.lp import LinearProgram, LpSolution, solve
from councilplan.planning.needs import (
    Needs,
    PlanInputError,
    ResolvedLimits,
    as_needs,
    resolve_limits,
)

METHODS = ("auto", "labour", "decomposition", "highs", "pdlp")
#: Above this many non-zeros in the LP, ``auto`` hands a problem to PDLP rather than HiGHS.
PDLP_ABOVE_NNZ = 400_000
#: A labour-only plan whose values leave a technique cheaper than this (relative) is not
#: taken as optimal; rounding leaves about 1e-12.
CERTIFICATE_TOL = 1e-7
#: Relative tolerance to which a plan must keep the needs and limits (rounding only).
FEASIBILITY_TOL = 1e-9


class PlanError(RuntimeError):
    """A plan could not be computed (a solver stopped without an answer); says why."""


@dataclass(frozen=True)
class Diagnostics:
    """How the plan was computed and how exact it is.

    ``relative_gap``: |labour - dual bound| / (1 + |labour| + |dual bound|).
    ``primal_residual``: largest violation of a need or limit, relative to 1 + |bound| +
    the gross quantities it sums (a need: the product's output and its uses).
    ``dual_residual``: largest violation of dual feasibility (a technique cheaper at the
    shadow prices than they say), relative to 1 + its direct cost.
    """

    solver: str
    seconds: float
    iterations: int = 0
    relative_gap: float = 0.0
    primal_residual: float = 0.0
    dual_residual: float = 0.0
    notes: tuple[str, ...] = ()


def _ro(a) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Plan:
    """A plan: activities, outputs, labour and resources used, shadow prices, shortfalls.

    Quantities are in the units of the economy: activity in units of activity per
    technique, output in units of each product, labour in hours (or the kind's unit),
    resources in their units. Prices are hours per unit of product (the labour values
    under the limits); limit duals are hours saved per extra unit of the limit.

    Attributes:
        economy_name, method ("labour", "highs", "pdlp", "rounds", ...), status
            ("optimal": every need met; "shortfall": some cannot be).
        product_ids, technique_ids, technique_product (index of the product each technique
            makes), labour_ids, resource_ids: the labels of the arrays below.
        needs (n,): units needed per product, all councils together.
        activity (t,), output (n,) gross, net_output (n,) = output - inputs used.
        labour (k,), resources (r,): used.
        labour_limits (k,), resource_limits (r,), capacity (t,): in force (inf: none).
        prices (n,), labour_duals (k,), resource_duals (r,), capacity_duals (t,).
        labour_weights (k,): weight of an hour of each kind in the objective.
        total_labour: hours of all kinds; objective: weighted hours.
        shortfall: one row per need not fully met (product, council, need, met, short,
            binding limits), or None.
        consumption: one row per stated need (product, council, priority, need, met), or
            None when the needs were not split by council.
        diagnostics: solver, seconds, iterations, gap, residuals, notes.
    """

    economy_name: str
    method: str
    status: str
    product_ids: np.ndarray
    technique_ids: np.ndarray
    technique_product: np.ndarray
    labour_ids: np.ndarray
    resource_ids: np.ndarray
    needs: np.ndarray
    activity: np.ndarray
    output: np.ndarray
    net_output: np.ndarray
    labour: np.ndarray
    resources: np.ndarray
    labour_limits: np.ndarray
    resource_limits: np.ndarray
    capacity: np.ndarray
    prices: np.ndarray
    labour_duals: np.ndarray
    resource_duals: np.ndarray
    capacity_duals: np.ndarray
    labour_weights: np.ndarray
    total_labour: float
    objective: float
    diagnostics: Diagnostics
    shortfall: pd.DataFrame | None = None
    consumption: pd.DataFrame | None = None
    labour_by_technique: np.ndarray | None = field(default=None, repr=False)
    labour_units: np.ndarray | None = None
    #: What ``prices`` measure: shadow prices in hours for an optimal plan; the rounds'
    #: indicative prices are in their experiment's unit of account.
    price_unit: str = "hours per unit"

    @property
    def feasible(self) -> bool:
        """True when every need is met."""
        return self.status == "optimal"

    # -- labelled views -----------------------------------------------------------------

    def activity_table(self) -> pd.DataFrame:
        """technique, product, activity, capacity, capacity_dual, then labour_<kind>: the
        labour of each kind the technique uses (hours, or the kind's unit)."""
        frame = pd.DataFrame(
            {
                "technique": self.technique_ids,
                "product": self.product_ids[self.technique_product],
                "activity": self.activity,
                "capacity": self.capacity,
                "capacity_dual": self.capacity_duals,
            }
        )
        if self.labour_by_technique is not None:
            for kind, row in zip(self.labour_ids, self.labour_by_technique, strict=True):
                frame[f"labour_{kind}"] = row
        return frame

    def output_table(self) -> pd.DataFrame:
        """product, needs, output (gross), net_output, price (hours per unit)."""
        return pd.DataFrame(
            {
                "product": self.product_ids,
                "needs": self.needs,
                "output": self.output,
                "net_output": self.net_output,
                "price": self.prices,
            }
        )

    def prices_series(self) -> pd.Series:
        """Shadow prices: hours per unit, indexed by product id."""
        return pd.Series(
            self.prices, index=pd.Index(self.product_ids, name="product"), name="price"
        )

    def limits_table(self) -> pd.DataFrame:
        """One row per labour kind, resource and limited technique: kind, id, used,
        limit, slack, dual (hours saved per extra unit), binding."""
        cap = np.isfinite(self.capacity) | (self.capacity_duals > 0)
        frame = pd.DataFrame(
            {
                "kind": ["labour"] * len(self.labour_ids)
                + ["resource"] * len(self.resource_ids)
                + ["capacity"] * int(cap.sum()),
                "id": np.concatenate([self.labour_ids, self.resource_ids, self.technique_ids[cap]]),
                "used": np.concatenate([self.labour, self.resources, self.activity[cap]]),
                "limit": np.concatenate(
                    [self.labour_limits, self.resource_limits, self.capacity[cap]]
                ),
                "dual": np.concatenate(
                    [self.labour_duals, self.resource_duals, self.capacity_duals[cap]]
                ),
            }
        )
        frame["slack"] = frame["limit"] - frame["used"]
        tight = frame["slack"] <= FEASIBILITY_TOL * (1.0 + frame["limit"].abs())
        frame["binding"] = tight & np.isfinite(frame["limit"])
        return frame[["kind", "id", "used", "limit", "slack", "dual", "binding"]]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The plan as named tables, as the CLI writes them."""
        limits = self.limits_table()
        out = {
            "activity": self.activity_table(),
            "output": self.output_table(),
            "labour": limits[limits["kind"] == "labour"].drop(columns="kind"),
            "resources": limits[limits["kind"] == "resource"].drop(columns="kind"),
            "prices": self.prices_series().reset_index(),
        }
        if self.shortfall is not None and len(self.shortfall):
            out["shortfall"] = self.shortfall
        if self.consumption is not None:
            out["consumption"] = self.consumption
        return out

    def _labour_unit(self) -> str:
        units = set() if self.labour_units is None else set(map(str, self.labour_units))
        return units.pop() if len(units) == 1 else "hours"

    def report(self) -> str:
        """The plan in markdown: what it costs, what binds, what falls short."""
        d = self.diagnostics
        lines = [
            f"# Plan for {self.economy_name}",
            "",
            f"- status: **{self.status}**"
            + ("" if self.feasible else " (not every need can be met)"),
            f"- method: {self.method} (solver {d.solver}, {d.iterations} iterations, "
            f"{d.seconds:.3g} s)",
            f"- total labour: {self.total_labour:,.6g} {self._labour_unit()}",
            f"- relative gap {d.relative_gap:.2e}, primal residual {d.primal_residual:.2e}, "
            f"dual residual {d.dual_residual:.2e}",
            f"- {len(self.product_ids)} products, {len(self.technique_ids)} techniques, "
            f"{int(np.count_nonzero(self.activity > 0))} in use",
        ]
        for note in d.notes:
            lines.append(f"- note: {note}")
        lines += [
            "",
            "## Labour and resources",
            "",
            "| kind | id | used | limit | dual |",
            "|---|---|---:|---:|---:|",
        ]
        limits = self.limits_table()
        shown = limits[(limits["kind"] != "capacity") | limits["binding"]]
        for row in shown.itertuples(index=False):
            mark = " (binding)" if row.binding else ""
            lines.append(
                f"| {row.kind} | {row.id}{mark} | {row.used:,.6g} | {row.limit:,.6g} | "
                f"{row.dual:.6g} |"
            )
        if self.shortfall is not None and len(self.shortfall):
            lines += [
                "",
                "## Needs that cannot be met",
                "",
                "| product | council | need | met | short | binding limits |",
                "|---|---|---:|---:|---:|---|",
            ]
            for row in self.shortfall.itertuples(index=False):
                lines.append(
                    f"| {row.product} | {row.council} | {row.need:,.6g} | {row.met:,.6g} | "
                    f"{row.short:,.6g} | {row.binding} |"
                )
        top = np.argsort(-self.prices)[:10]
        lines += ["", f"## Highest prices ({self.price_unit})", "", "| product | price |"]
        lines.append("|---|---:|")
        for j in top:
            lines.append(f"| {self.product_ids[j]} | {self.prices[j]:.6g} |")
        return "\n".join(lines) + "\n"


# -- what every method plans for ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """The economy, the needs, the limits in force, the weight of an hour of each labour kind
    (k,), and when planning started (``time.perf_counter``, for the diagnostics' seconds)."""

    economy: Economy
    need: Needs
    limit: ResolvedLimits
    weights: np.ndarray
    started: float


@dataclass(frozen=True, eq=False)
class _Duals:
    """Shadow prices (n,) in hours per unit of product, and hours saved per extra unit of
    each labour limit (k,), resource limit (r,) and technique's capacity (t,); all >= 0."""

    prices: np.ndarray
    labour: np.ndarray
    resources: np.ndarray
    capacity: np.ndarray


@dataclass(frozen=True, eq=False)
class _ShortfallColumns:
    """Columns added after the techniques' in the plan LP: their entries on the need rows
    (n x s), their bounds (s,) and their cost (s,)."""

    on_needs: sp.csc_array
    lower: np.ndarray
    upper: np.ndarray
    cost: np.ndarray


# -- the entry point --------------------------------------------------------------------


def plan(
    economy: Economy,
    needs,
    limits=None,
    method: str = "auto",
    *,
    weights=None,
    tol: float = 1e-6,
    time_limit: float | None = None,
) -> Plan:
    """Plan the economy to meet ``needs`` with the least labour within ``limits``.

    Args:
        economy: the economy.
        needs: a DataFrame (product, amount[, council][, priority]), a Series or mapping
            product id -> units, an array of n units, or :class:`Needs`.
        limits: overrides of the economy's labour, resource and capacity limits (a
            :class:`~councilplan.planning.needs.Limits` or a mapping of sections).
        method: "auto" (the fastest exact method for the problem), "labour",
            "decomposition", "highs" or "pdlp".
        weights: weight of an hour of each labour kind (a sequence or mapping id ->
            weight; default 1 each).
        tol: relative optimality tolerance for PDLP (gap and residuals).
        time_limit: seconds a solver may run.

    Returns a :class:`Plan`; when the needs cannot all be met, its status is "shortfall"
    and ``plan.shortfall`` names each unmet need and the limits that bind on it.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    started = time.perf_counter()
    problem = _Problem(
        economy=economy,
        need=as_needs(economy, needs),
        limit=resolve_limits(economy, limits),
        weights=_weights(economy, weights),
        started=started,
    )
    notes: list[str] = []

    guess = None
    if method in ("auto", "labour"):
        result, why, guess = _labour_plan(problem)
        if result is not None:
            return result
        notes.append(f"labour-only plan not used: {why}")
    if method == "decomposition" or (
        method == "auto" and guess is not None and np.all(guess[0] <= problem.limit.capacity)
    ):
        result, why = _decomposition_plan(problem, notes)
        if result is not None:
            return result
        notes.append(f"decomposition not used: {why}")

    solver = method if method in ("highs", "pdlp") else _pick_solver(economy)
    lp = _plan_lp(problem, problem.need.total)
    # The least-labour plan without limits (``guess``) is not handed to PDLP as a start: it
    # took PDLP more iterations than a cold start, not fewer.
    sol = solve(lp, solver, tol=tol, time_limit=time_limit)
    if sol.status == "optimal":
        return _from_lp(problem, sol, judged=sol, notes=notes)
    if sol.status == "infeasible":
        notes.append("the needs cannot all be met within the limits: least shortfall planned")
        return _shortfall_plan(problem, solver=solver, tol=tol, time_limit=time_limit, notes=notes)
    raise PlanError(
        f"{solver} stopped without a plan ({sol.message}) after {sol.iterations} iterations "
        f"and {sol.seconds:.3g} s; try another method or a longer time_limit"
    )


def _weights(economy: Economy, weights) -> np.ndarray:
    k = economy.n_labour_kinds
    if weights is None:
        return np.ones(k)
    if isinstance(weights, dict):
        w = np.ones(k)
        for key, value in weights.items():
            try:
                w[list(economy.labour_ids).index(str(key))] = float(value)
            except ValueError:
                raise PlanInputError(f"weights: unknown labour kind {key!r}") from None
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != (k,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise PlanInputError(f"weights: expected {k} finite numbers >= 0, one per labour kind")
    return w


def _pick_solver(economy: Economy) -> str:
    size = economy.nnz + economy.n_techniques * (1 + economy.n_labour_kinds + economy.n_resources)
    return "pdlp" if size > PDLP_ABOVE_NNZ else "highs"


# -- the labour-only path (non-substitution) ------------------------------------------------


def _labour_plan(problem: _Problem):
    """(plan, "", None) by the non-substitution theorem, or (None, why it does not apply,
    a starting point (activity, values) for the LP or None)."""
    from councilplan.planning.values import LeontiefSystem, cheapest_techniques

    economy, need, limit, w = problem.economy, problem.need, problem.limit, problem.weights
    # values.py picks a dense LU for small economies and BiCGSTAB with a residual test
    # (1e-12) for large ones; the same choice serves the activities.
    solve_method = "auto"
    choice, values = cheapest_techniques(economy, w, method=solve_method)
    a = economy.input_matrix(choice)
    # LeontiefSystem solves (I - M)^T v = l; handing it A^T (the CSR arrays of A read as
    # CSC) makes it solve (I - A) y = d.
    ar = a.tocsr()
    system = LeontiefSystem(
        sp.csc_array((ar.data, ar.indices, ar.indptr), shape=a.shape), method=solve_method
    )
    d = need.total
    y, residual, iterations = system.solve_values(d)
    out = economy.technique_output
    activity = np.zeros(economy.n_techniques)
    activity[choice] = y / out[choice]
    scale = 1.0 + np.abs(y)
    if np.any(y < -FEASIBILITY_TOL * scale):
        j = int(np.argmin(y / scale))
        return (
            None,
            f"meeting the needs with one technique per product would take a negative output "
            f"of {economy.product_ids[j]!r} ({y[j]:.6g})",
            None,
        )
    y = np.maximum(y, 0.0)
    activity = np.maximum(activity, 0.0)
    vscale = 1.0 + np.abs(values)
    if np.any(values < -FEASIBILITY_TOL * vscale):
        j = int(np.argmin(values / vscale))
        return None, f"product {economy.product_ids[j]!r} has a negative labour value", None
    used_labour = economy.labour @ activity
    used_res = economy.resource_use @ activity
    for used, lim, ids, what in (
        (used_labour, limit.labour, economy.labour_ids, "labour of kind"),
        (used_res, limit.resources, economy.resource_ids, "resource"),
        (activity, limit.capacity, economy.technique_ids, "capacity of technique"),
    ):
        over = np.flatnonzero(used > lim * (1 + FEASIBILITY_TOL) + FEASIBILITY_TOL)
        if over.size:
            i = int(over[0])
            why = (
                f"the least-labour plan needs {used[i]:.6g} of {what} {ids[i]!r}, above its "
                f"limit {lim[i]:.6g}"
            )
            return None, why, (activity, values)
    # Optimality certificate: no technique is cheaper at these values than they say.
    cost = w @ economy.labour
    # (Summed term by term: building P - B costs seconds at 10^6 techniques.)
    earned = economy.technique_output * values[economy.technique_product]
    reduced = cost - (earned - economy.inputs.T @ values)
    dual_residual = float(np.max(np.maximum(-reduced, 0.0) / (1.0 + np.abs(cost)), initial=0.0))
    if dual_residual > CERTIFICATE_TOL:
        # Not rounding: some technique is cheaper than the values say (by-products can do
        # this), so the choice is not optimal and the LP must decide.
        t = int(np.argmax(np.maximum(-reduced, 0.0) / (1.0 + np.abs(cost))))
        why = (
            f"technique {economy.technique_ids[t]!r} is cheaper at the labour values than they "
            f"say (by {dual_residual:.2e} relative)"
        )
        return None, why, None
    used = a @ y
    net = y - used
    # The size a need's residual is measured against: the product's output and its uses.
    size = 1.0 + np.abs(d) + y + (abs(a) @ y if np.any(a.data < 0) else used)
    primal = float(np.max(np.maximum(d - net, 0.0) / size, initial=0.0))
    objective = float(cost @ activity)
    dual_objective = float(values @ d)
    gap = abs(objective - dual_objective) / (1 + abs(objective) + abs(dual_objective))
    diag = Diagnostics(
        solver=f"cheapest techniques + Leontief solve ({system.method})",
        seconds=time.perf_counter() - problem.started,
        iterations=iterations,
        relative_gap=gap,
        primal_residual=primal,
        dual_residual=dual_residual,
        notes=(f"Leontief solve relative residual {residual:.2e}",),
    )
    duals = _Duals(
        prices=values,
        labour=np.zeros(economy.n_labour_kinds),
        resources=np.zeros(economy.n_resources),
        capacity=np.zeros(economy.n_techniques),
    )
    made = _make_plan(
        problem,
        method="labour",
        status="optimal",
        activity=activity,
        duals=duals,
        diagnostics=diag,
    )
    return made, "", None


def _decomposition_plan(problem: _Problem, notes: list[str]):
    """(plan, "") by Dantzig-Wolfe over non-substitution plans, or (None, why not)."""
    from councilplan.planning.decomposition import decompose
    from councilplan.planning.lp import judged_solution

    economy, limit = problem.economy, problem.limit
    if np.any(economy.inputs.data < 0):
        return None, "the economy has by-products (negative inputs)"
    kl = np.flatnonzero(np.isfinite(limit.labour))
    kr = np.flatnonzero(np.isfinite(limit.resources))
    use = np.vstack([economy.labour[kl], economy.resource_use[kr]])
    bounds = np.concatenate([limit.labour[kl], limit.resources[kr]])
    found = decompose(economy, problem.need.total, use, bounds, problem.weights, (kl, kr))
    if isinstance(found, str):
        return None, found
    activity = found.activity
    over = np.flatnonzero(activity > limit.capacity * (1 + FEASIBILITY_TOL) + FEASIBILITY_TOL)
    if over.size:
        return None, f"the plan would exceed the capacity of {economy.technique_ids[over[0]]!r}"
    ld = np.zeros(economy.n_labour_kinds)
    ld[kl] = found.multipliers[: len(kl)]
    rd = np.zeros(economy.n_resources)
    rd[kr] = found.multipliers[len(kl) :]
    # Judge the answer as any LP solver's: gap, primal and dual residuals on the full LP.
    lp = _plan_lp(problem, problem.need.total)
    y = np.concatenate([found.prices, -ld[kl], -rd[kr]])
    judged = judged_solution(
        lp, activity, y, solver="decomposition", iterations=found.rounds, seconds=0.0
    )
    diag = Diagnostics(
        solver=f"Dantzig-Wolfe over cheapest-technique plans ({found.plans} plans)",
        seconds=time.perf_counter() - problem.started,
        iterations=found.rounds,
        relative_gap=judged.relative_gap,
        primal_residual=judged.primal_residual,
        dual_residual=judged.dual_residual,
        notes=tuple(notes),
    )
    duals = _Duals(
        prices=found.prices, labour=ld, resources=rd, capacity=np.zeros(economy.n_techniques)
    )
    made = _make_plan(
        problem,
        method="decomposition",
        status="optimal",
        activity=activity,
        duals=duals,
        diagnostics=diag,
    )
    return made, ""


def _net_matrix(economy: Economy) -> sp.csc_array:
    """products x techniques: output minus inputs per unit of activity."""
    t = economy.n_techniques
    made = sp.csc_array(
        (economy.technique_output, (economy.technique_product, np.arange(t))),
        shape=(economy.n_products, t),
    )
    return sp.csc_array(made - economy.inputs)


# -- the linear program -------------------------------------------------------------------


def _plan_lp(
    problem: _Problem, d: np.ndarray, extra: _ShortfallColumns | None = None
) -> LinearProgram:
    """The plan LP for net outputs ``d`` (n,): rows needs (n), finite labour limits, finite
    resource limits; ``extra`` adds shortfall columns after the technique columns."""
    economy, limit = problem.economy, problem.limit
    net = _net_matrix(economy)
    kl = np.flatnonzero(np.isfinite(limit.labour))
    kr = np.flatnonzero(np.isfinite(limit.resources))
    blocks = [net, sp.csc_array(economy.labour[kl]), sp.csc_array(economy.resource_use[kr])]
    matrix = sp.vstack(blocks, format="csc")
    cost = problem.weights @ economy.labour
    col_lower = np.zeros(economy.n_techniques)
    col_upper = np.array(limit.capacity, dtype=np.float64)
    if extra is not None:
        pad = sp.csc_array((len(kl) + len(kr), extra.on_needs.shape[1]))
        matrix = sp.hstack([matrix, sp.vstack([extra.on_needs, pad], format="csc")], format="csc")
        col_lower = np.concatenate([col_lower, extra.lower])
        col_upper = np.concatenate([col_upper, extra.upper])
        cost = np.concatenate([cost, extra.cost])
    matrix.sort_indices()
    return LinearProgram(
        cost=cost,
        matrix=matrix,
        row_lower=np.concatenate([d, np.full(len(kl) + len(kr), -np.inf)]),
        row_upper=np.concatenate([np.full(len(d), np.inf), limit.labour[kl], limit.resources[kr]]),
        col_lower=col_lower,
        col_upper=col_upper,
    )


def _split_duals(economy: Economy, limit: ResolvedLimits, sol: LpSolution) -> _Duals:
    """The plan LP's row duals and reduced costs as prices and limit duals, the latter as
    hours saved per extra unit (>= 0)."""
    n, t = economy.n_products, economy.n_techniques
    kl = np.flatnonzero(np.isfinite(limit.labour))
    kr = np.flatnonzero(np.isfinite(limit.resources))
    y = sol.row_dual
    prices = y[:n]
    labour_duals = np.zeros(economy.n_labour_kinds)
    labour_duals[kl] = -y[n : n + len(kl)]
    resource_duals = np.zeros(economy.n_resources)
    resource_duals[kr] = -y[n + len(kl) : n + len(kl) + len(kr)]
    rc = sol.reduced_cost[:t]
    capacity_duals = np.where(np.isfinite(limit.capacity), np.maximum(-rc, 0.0), 0.0)
    return _Duals(
        prices=np.maximum(prices, 0.0),
        labour=np.maximum(labour_duals, 0.0),
        resources=np.maximum(resource_duals, 0.0),
        capacity=capacity_duals,
    )


def _from_lp(
    problem: _Problem,
    sol: LpSolution,
    *,
    judged: LpSolution,
    notes: list[str],
    status: str = "optimal",
    shortfall: pd.DataFrame | None = None,
    met: np.ndarray | None = None,
) -> Plan:
    """The plan of an LP solution ``sol``; ``judged`` gives the diagnostics (iterations,
    gap, residuals), which may be those of another solve of the same problem."""
    activity = np.maximum(sol.x[: problem.economy.n_techniques], 0.0)
    diag = Diagnostics(
        solver=sol.solver,
        seconds=time.perf_counter() - problem.started,
        iterations=judged.iterations,
        relative_gap=judged.relative_gap,
        primal_residual=judged.primal_residual,
        dual_residual=judged.dual_residual,
        notes=tuple(notes),
    )
    return _make_plan(
        problem,
        method=sol.solver,
        status=status,
        activity=activity,
        duals=_split_duals(problem.economy, problem.limit, sol),
        diagnostics=diag,
        shortfall=shortfall,
        met=met,
    )


def _make_plan(
    problem: _Problem,
    *,
    method: str,
    status: str,
    activity: np.ndarray,
    duals: _Duals,
    diagnostics: Diagnostics,
    shortfall: pd.DataFrame | None = None,
    met: np.ndarray | None = None,
) -> Plan:
    """The :class:`Plan` of ``activity`` (t,); ``met`` (units of each stated need met)
    defaults to every need met in full."""
    economy, need, limit, w = problem.economy, problem.need, problem.limit, problem.weights
    out = economy.technique_output
    n = economy.n_products
    output = np.bincount(economy.technique_product, weights=activity * out, minlength=n)
    net_output = output - economy.inputs @ activity
    labour = economy.labour @ activity
    consumption = None
    if need.by_council:
        consumption = pd.DataFrame(
            {
                "product": economy.product_ids[need.product],
                "council": need.council,
                "priority": need.priority,
                "need": need.amount,
                "met": need.amount if met is None else met,
            }
        )
    return Plan(
        economy_name=economy.name,
        method=method,
        status=status,
        product_ids=economy.product_ids,
        technique_ids=economy.technique_ids,
        technique_product=economy.technique_product,
        labour_ids=economy.labour_ids,
        resource_ids=economy.resource_ids,
        needs=_ro(need.total),
        activity=_ro(activity),
        output=_ro(output),
        net_output=_ro(net_output),
        labour=_ro(labour),
        resources=_ro(economy.resource_use @ activity),
        labour_limits=_ro(limit.labour),
        resource_limits=_ro(limit.resources),
        capacity=_ro(limit.capacity),
        prices=_ro(duals.prices),
        labour_duals=_ro(duals.labour),
        resource_duals=_ro(duals.resources),
        capacity_duals=_ro(duals.capacity),
        labour_weights=_ro(w),
        total_labour=float(labour.sum()),
        objective=float(w @ labour),
        diagnostics=diagnostics,
        shortfall=shortfall,
        consumption=consumption,
        labour_by_technique=_ro(economy.labour * activity),
        labour_units=economy.labour_units,
    )


# -- when the needs cannot all be met ---------------------------------------------------------


def _shortfall_plan(
    problem: _Problem, *, solver: str, tol: float, time_limit: float | None, notes: list[str]
) -> Plan:
    """Least weighted shortfall, then least labour at that shortfall; names what binds.

    Each stated need q gets a column m_q in [0, d_q], the amount of it met, taken from its
    product's row (net output - sum of m >= 0), so no row carries a need's size as its
    bound: a need of 10^12 next to outputs of 10^2 leaves the rows as well scaled as the
    economy's own. The first LP maximises the met share sum_q w_q m_q, w_q = priority_q /
    d_q, with the weights divided by the largest (the least need counts 1 per unit).
    """
    economy, need, limit = problem.economy, problem.need, problem.limit
    n, t = economy.n_products, economy.n_techniques
    rows = np.flatnonzero(need.amount > 0)
    amount = need.amount[rows]
    # Shortfall is counted as the unmet share of each need, times its priority, so needs
    # in different units weigh alike and a council's priority doubles its weight.
    weight = need.priority[rows] / amount
    weight = weight / weight.max()
    _check_weighable(economy, need, rows, weight, solver, tol)
    cols = sp.csc_array(
        (-np.ones(len(rows)), (need.product[rows], np.arange(len(rows)))), shape=(n, len(rows))
    )
    extra = _ShortfallColumns(
        on_needs=cols, lower=np.zeros(len(rows)), upper=amount.copy(), cost=-weight
    )
    lp = _plan_lp(problem, np.zeros(n), extra)
    first = LinearProgram(
        cost=np.concatenate([np.zeros(t), -weight]),
        matrix=lp.matrix,
        row_lower=lp.row_lower,
        row_upper=lp.row_upper,
        col_lower=lp.col_lower,
        col_upper=lp.col_upper,
    )
    sol1 = solve(first, solver, tol=tol, time_limit=time_limit)
    if sol1.status != "optimal":
        raise PlanError(
            f"the least-shortfall problem stopped without an answer ({sol1.message}); "
            "try method='highs' or a longer time_limit"
        )
    # Second: least labour with each need met at least as far as the first problem met it.
    # Bounding each need, not their weighted sum, keeps a need a billion times larger than
    # the least from giving up the little of it that can be made within the sum's rounding.
    # (Should the bounds be out of reach by a rounding, the first answer stands.)
    met1 = np.clip(sol1.x[t:], 0.0, amount)
    m = lp.matrix.shape[0]
    second = LinearProgram(
        cost=np.concatenate([problem.weights @ economy.labour, np.zeros(len(rows))]),
        matrix=lp.matrix,
        row_lower=lp.row_lower,
        row_upper=lp.row_upper,
        col_lower=np.concatenate([lp.col_lower[:t], met1]),
        col_upper=lp.col_upper,
    )
    sol2 = solve(second, solver, tol=tol, time_limit=time_limit)
    final = sol2 if sol2.status == "optimal" else sol1
    if final is sol1:
        notes.append(
            f"least labour at least shortfall not found ({sol2.message}); "
            "the plan is the least-shortfall one"
        )
    short = amount - np.clip(final.x[t:], 0.0, amount)
    met = need.amount.copy()
    met[rows] = need.amount[rows] - short
    # Limits that bind on the shortfall: those whose relaxation would lessen it (the
    # first problem's duals), as hours-free "shortfall saved per unit of limit".
    trimmed = LpSolution(**{**final.__dict__, "row_dual": final.row_dual[:m]})
    binding = _binding_limits(economy, limit, sol1)
    table = _shortfall_table(economy, need, rows, short, final.x[:t], binding)
    return _from_lp(
        problem,
        trimmed,
        judged=final,
        notes=notes,
        status="shortfall" if len(table) else "optimal",
        shortfall=table,
        met=met,
    )


def _check_weighable(economy, need: Needs, rows, weight, solver, tol) -> None:
    """Refuse needs whose shares the solver cannot weigh against each other.

    A need's weight per unit is its priority over its size, divided by the largest; a
    weight below the solver's resolution (10^-9 for HiGHS, ``tol`` for PDLP) is lost in its
    tolerances, and the plan would say that nothing of that need can be met.
    """
    floor = 1e-9 if solver == "highs" else tol
    if weight.min() >= floor:
        return
    small, large = rows[int(np.argmin(weight))], rows[int(np.argmax(weight))]

    def named(r):
        product, council = economy.product_ids[need.product[r]], need.council[r]
        size, priority = float(need.amount[r]), float(need.priority[r])
        return f"{product} for council {council} (need {size:.6g}, priority {priority:g})"

    raise PlanError(
        f"the needs cannot all be met, and their sizes are too far apart to weigh their "
        f"shortfalls in one plan: a unit of {named(small)} weighs {float(weight.min()):.3g} "
        f"of a unit of {named(large)}, below what the {solver} solver resolves ({floor:g}); "
        f"state the large need nearer what can be made"
        + (", or use method 'highs'" if solver == "pdlp" else "")
    )


def _binding_limits(economy, limit: ResolvedLimits, sol1: LpSolution) -> list[tuple]:
    """(label, kind, index, dual) of each limit whose relaxation would lessen the shortfall:
    a dual above 10^-12 of the greatest need's weight per unit, which is 1 (the least
    weight a need can have is 10^-9 of it; see :func:`_check_weighable`)."""
    split = _split_duals(economy, limit, sol1)
    scale = 1e-12
    found = []
    for kind, duals, ids in (
        ("labour", split.labour, economy.labour_ids),
        ("resource", split.resources, economy.resource_ids),
        ("capacity", split.capacity, economy.technique_ids),
    ):
        for i in np.flatnonzero(duals > scale):
            found.append((f"{kind} {ids[i]}", kind, int(i), float(duals[i])))
    found.sort(key=lambda item: -item[3])
    return found


def _shortfall_table(economy, need: Needs, rows, short, activity, binding) -> pd.DataFrame:
    """One row per need not fully met, with the binding limits its production uses."""
    tol = 1e-9 * (1.0 + need.amount[rows])
    unmet = np.flatnonzero(short > tol)
    columns = ["product", "council", "priority", "need", "met", "short", "binding"]
    if unmet.size == 0:
        return pd.DataFrame(columns=columns)
    uses = _embodied_use(economy, activity, binding[:50])
    records = []
    for i in unmet:
        r = rows[i]
        j = need.product[r]
        # Most binding first: the limit's shortfall dual times how much of it j embodies.
        pairs = zip(binding[:50], uses, strict=True)
        weight = [(dual * use[j], label) for (label, _, _, dual), use in pairs]
        named = [label for w, label in sorted(weight, key=lambda item: -item[0]) if w > 0]
        records.append(
            {
                "product": economy.product_ids[j],
                "council": need.council[r],
                "priority": need.priority[r],
                "need": need.amount[r],
                "met": need.amount[r] - short[i],
                "short": short[i],
                "binding": "; ".join(named) if named else "; ".join(b[0] for b in binding[:3]),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)


def _embodied_use(economy: Economy, activity: np.ndarray, binding) -> list[np.ndarray]:
    """Per binding limit, how much of it one unit of each product embodies (directly and
    through its inputs; 0 below rounding), under the plan's mix of techniques; a product
    not made in the plan is counted with all its techniques alike."""
    if not binding:
        return []
    n, t = economy.n_products, economy.n_techniques
    made = economy.technique_product
    out = economy.technique_output
    produced = activity * out
    total = np.bincount(made, weights=produced, minlength=n)
    count = np.bincount(made, minlength=n)
    share = np.where(
        total[made] > 0,
        produced / np.where(total[made] > 0, total[made], 1.0),
        1.0 / count[made],
    )
    per_unit = share / out  # activity of technique t per unit of its product
    mix = sp.csc_array((per_unit, (np.arange(t), made)), shape=(t, n))
    a = sp.csc_array(economy.inputs @ mix)
    a.data = np.abs(a.data)
    uses = []
    direct = []
    for _, kind, i, _ in binding:
        if kind == "labour":
            row = economy.labour[i] @ mix
        elif kind == "resource":
            row = economy.resource_use[i] @ mix
        else:
            row = np.asarray(mix[[i], :].todense()).reshape(-1)
        direct.append(np.asarray(row, dtype=np.float64).reshape(-1))
    # Embodied use z solves z = direct + z A (the same system as labour values). Any
    # positive entry marks the product; a reachability test would do, but the solve also
    # weighs and is the model's own quantity.
    from councilplan.planning.values import LeontiefSystem

    system = LeontiefSystem(a)
    for row in direct:
        z, _, _ = system.solve_values(row, tol=1e-10)
        uses.append(np.where(z > 1e-12 * max(1.0, float(np.max(np.abs(z), initial=0.0))), z, 0.0))
    return uses
