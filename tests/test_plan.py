"""The plan: least labour, every need met, every limit kept, prices that prove optimality.

Each plan is checked against an independent solve of the same linear program by SciPy's
``linprog`` (HiGHS), built here from the economy's arrays, and against the LP's
optimality conditions (feasibility, dual feasibility, complementary slackness).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from councilplan.economy.synthetic import generate_economy
from councilplan.planning import Limits, Plan, plan

TOL = 1e-9


def reference_labour(economy, needs, labour_limits, resource_limits, capacity, weights=None):
    """Least weighted labour by scipy.optimize.linprog (HiGHS) on the full LP, or None."""
    t = economy.n_techniques
    made = sp.csc_array(
        (economy.technique_output, (economy.technique_product, np.arange(t))),
        shape=(economy.n_products, t),
    )
    net = sp.csc_array(made - economy.inputs)
    w = np.ones(economy.n_labour_kinds) if weights is None else np.asarray(weights)
    kl, kr = np.isfinite(labour_limits), np.isfinite(resource_limits)
    a_ub = sp.vstack([-net, economy.labour[kl], economy.resource_use[kr]], format="csc")
    b_ub = np.concatenate([-needs, labour_limits[kl], resource_limits[kr]])
    res = linprog(
        w @ economy.labour,
        A_ub=a_ub,
        b_ub=b_ub,
        bounds=np.column_stack([np.zeros(t), np.where(np.isfinite(capacity), capacity, np.inf)]),
        # Interior point with crossover: the dual simplex keeps its tolerances on the scaled
        # program and can be 1e-8 off unscaled; this reference must be good to 1e-9.
        method="highs-ipm",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    return res.fun if res.status == 0 else None


def check_optimality(economy, p: Plan, tol: float = TOL) -> None:
    """Feasibility, dual feasibility and complementary slackness of a plan, to ``tol``."""
    d = p.needs
    # Needs met (relative to the gross quantities net output is the difference of), limits
    # kept.
    gross = p.output + abs(economy.inputs) @ p.activity
    assert np.all(p.net_output >= d - tol * (1 + np.abs(d) + gross))
    assert np.all(p.labour <= p.labour_limits * (1 + tol) + tol)
    assert np.all(p.resources <= p.resource_limits * (1 + tol) + tol)
    assert np.all(p.activity <= p.capacity * (1 + tol) + tol)
    assert np.all(p.activity >= 0)
    # Dual feasibility: prices and limit duals >= 0; no technique cheaper than its price.
    assert np.all(p.prices >= 0) and np.all(p.labour_duals >= 0)
    assert np.all(p.resource_duals >= 0) and np.all(p.capacity_duals >= 0)
    cost = p.labour_weights @ economy.labour
    t = economy.n_techniques
    made = sp.csc_array(
        (economy.technique_output, (economy.technique_product, np.arange(t))),
        shape=(economy.n_products, t),
    )
    net = sp.csc_array(made - economy.inputs)
    reduced = (
        cost
        - net.T @ p.prices
        + economy.labour.T @ p.labour_duals
        + economy.resource_use.T @ p.resource_duals
        + p.capacity_duals
    )
    scale = 1 + np.abs(cost) + np.abs(net).T @ p.prices
    assert np.all(reduced >= -tol * scale)
    # Complementary slackness: a technique in use earns its cost; a need over-met or a
    # limit with slack has a zero price.
    used = p.activity > tol * (1 + p.activity.max())
    assert np.all(np.abs(reduced[used]) <= 10 * tol * scale[used])
    over = p.net_output - d
    assert np.all(p.prices * over <= 10 * tol * (1 + np.abs(d)) * (1 + p.prices))
    slack = np.where(np.isfinite(p.labour_limits), p.labour_limits - p.labour, 0)
    assert np.all(
        p.labour_duals * slack <= 10 * tol * (1 + np.abs(p.labour)) * (1 + p.labour_duals)
    )
    # Strong duality: what the needs are worth at the prices, less the limits' worth, is
    # the labour spent.
    bound = p.prices @ d
    bound -= (
        p.labour_duals[np.isfinite(p.labour_limits)] @ p.labour_limits[np.isfinite(p.labour_limits)]
    )
    bound -= (
        p.resource_duals[np.isfinite(p.resource_limits)]
        @ p.resource_limits[np.isfinite(p.resource_limits)]
    )
    bound -= p.capacity_duals[np.isfinite(p.capacity)] @ p.capacity[np.isfinite(p.capacity)]
    assert abs(bound - p.objective) <= 10 * tol * (1 + abs(p.objective))


def needs_for(economy, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 10.0, economy.n_products)


def binding_limits(economy, needs, kinds: int, resources: int):
    """Limits half way between the unconstrained plan's use and that of the plan using the
    least of them all together: the half-way plan keeps them (so the plan is feasible) and
    the unconstrained plan breaks at least one (so they bind)."""
    free = plan(economy, needs, method="highs")
    t = economy.n_techniques
    made = sp.csc_array(
        (economy.technique_output, (economy.technique_product, np.arange(t))),
        shape=(economy.n_products, t),
    )
    net = sp.csc_array(made - economy.inputs)
    use = np.vstack([economy.labour[:kinds], economy.resource_use[:resources]])
    free_use = np.concatenate([free.labour[:kinds], free.resources[:resources]])
    least = linprog((use / np.maximum(free_use, 1e-12)[:, None]).sum(axis=0), A_ub=-net,
                    b_ub=-needs, method="highs")  # fmt: skip
    limit = 0.5 * (free_use + use @ least.x)
    labour = np.full(economy.n_labour_kinds, np.inf)
    labour[:kinds] = limit[:kinds]
    res = np.full(economy.n_resources, np.inf)
    res[:resources] = limit[kinds:]
    return labour, res


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=50, max_value=2000),
    techniques=st.integers(min_value=1, max_value=3),
    kinds=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_labour_only_plans_match_the_full_lp(n, techniques, kinds, seed):
    economy = generate_economy(
        n, inputs_per_product=5, techniques_per_product=techniques, labour_kinds=kinds, seed=seed
    )
    needs = needs_for(economy, seed)
    best = reference_labour(
        economy, needs, economy.labour_limits, economy.resource_limits, economy.capacity
    )
    for method in ("auto", "labour", "highs"):
        p = plan(economy, needs, method=method)
        assert p.status == "optimal"
        assert p.method == ("highs" if method == "highs" else "labour")
        assert p.objective == pytest.approx(best, rel=TOL)
        check_optimality(economy, p)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=50, max_value=400),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_binding_labour_kinds_and_resources_match_the_full_lp(n, seed):
    economy = generate_economy(
        n, inputs_per_product=6, techniques_per_product=2, labour_kinds=3, resources=2, seed=seed
    )
    needs = needs_for(economy, seed)
    labour, res = binding_limits(economy, needs, kinds=2, resources=2)
    limits = Limits(
        labour=dict(zip(economy.labour_ids, labour, strict=True)),
        resources=dict(zip(economy.resource_ids, res, strict=True)),
    )
    best = reference_labour(economy, needs, labour, res, economy.capacity)
    assert best is not None
    auto = plan(economy, needs, limits)
    assert auto.method == "decomposition" and auto.status == "optimal"
    assert any("labour-only plan not used" in note for note in auto.diagnostics.notes)
    for p in (auto, plan(economy, needs, limits, method="highs")):
        assert p.objective == pytest.approx(best, rel=TOL)
        check_optimality(economy, p)
        assert np.any(p.labour_duals > 0) or np.any(p.resource_duals > 0)


def test_decomposition_with_every_limit_binding_matches_the_full_lp():
    # Limits set to the use of the least-cost plan at costs c + mu U (mu > 0 on all five)
    # all bind (mu is one set of duals; at such a vertex there are others).
    economy = generate_economy(
        300, inputs_per_product=6, techniques_per_product=3, labour_kinds=3, resources=2, seed=5
    )
    needs = needs_for(economy, 5)
    mu = np.array([0.3, 0.5, 0.2, 0.4, 0.6])
    p0 = plan(economy, needs)
    augmented = (1 + mu[:3]) @ economy.labour + mu[3:] @ economy.resource_use
    # The plan at costs c + mu U, on a one-kind copy of the economy.
    from councilplan.economy.model import make_economy

    priced = make_economy(
        products=economy.product_ids, techniques=economy.technique_ids,
        technique_product=economy.technique_product, inputs=economy.inputs.copy(),
        labour=augmented, check_productive=False,
    )  # fmt: skip
    x = plan(priced, needs).activity
    labour = economy.labour @ x
    res = economy.resource_use @ x
    limits = {"labour": dict(zip(economy.labour_ids, labour, strict=True)),
              "resources": dict(zip(economy.resource_ids, res, strict=True))}  # fmt: skip
    best = reference_labour(economy, needs, labour, res, economy.capacity)
    p = plan(economy, needs, limits, method="decomposition")
    assert p.method == "decomposition" and p.objective > p0.objective
    assert p.objective == pytest.approx(best, rel=TOL)
    check_optimality(economy, p)
    assert p.limits_table()["binding"].sum() == 5
    assert np.count_nonzero(np.r_[p.labour_duals, p.resource_duals]) >= 2


@pytest.mark.slow
def test_pdlp_matches_the_full_lp_to_its_reported_gap():
    economy = generate_economy(
        120, inputs_per_product=6, techniques_per_product=2, labour_kinds=3, resources=2, seed=7
    )
    needs = needs_for(economy, 7)
    labour, res = binding_limits(economy, needs, kinds=2, resources=1)
    limits = {"labour": dict(zip(economy.labour_ids, labour, strict=True)),
              "resources": dict(zip(economy.resource_ids, res, strict=True))}  # fmt: skip
    best = reference_labour(economy, needs, labour, res, economy.capacity)
    p = plan(economy, needs, limits, method="pdlp", tol=1e-8)
    d = p.diagnostics
    assert p.method == "pdlp" and p.status == "optimal"
    assert d.relative_gap <= 1e-8 and d.primal_residual <= 1e-6
    # The gap bounds the distance to the optimum from both sides.
    assert abs(p.objective - best) <= 10 * (d.relative_gap + d.primal_residual) * (1 + best)
    check_optimality(economy, p, tol=1e-5)


def test_labour_method_with_an_exceeded_limit_switches_technique_rather_than_fail():
    economy = generate_economy(60, inputs_per_product=5, techniques_per_product=2, seed=3)
    needs = needs_for(economy, 3)
    free = plan(economy, needs, method="labour")
    tight = 0.999 * free.total_labour
    p = plan(economy, needs, Limits(labour={"labour": tight}), method="labour")
    best = reference_labour(economy, needs, np.array([tight]), economy.resource_limits,
                            economy.capacity)  # fmt: skip
    if best is None:
        assert p.status == "shortfall"
    else:
        assert p.status == "optimal" and p.objective == pytest.approx(best, rel=TOL)
    assert "above its limit" in p.diagnostics.notes[0]


def test_plan_tables_and_report_are_labelled():
    economy = generate_economy(30, inputs_per_product=4, labour_kinds=2, resources=1, seed=1)
    p = plan(economy, {"p00": 5.0, "p07": 2.5})
    tables = p.tables()
    assert set(tables) == {"activity", "output", "labour", "resources", "prices"}
    out = tables["output"].set_index("product")
    assert out.loc["p00", "needs"] == 5.0 and out.loc["p01", "needs"] == 0.0
    assert out.loc["p00", "net_output"] == pytest.approx(5.0, rel=1e-12)
    assert list(tables["labour"]["id"]) == ["labour0", "labour1"]
    act = tables["activity"]
    assert act["labour_labour0"].sum() + act["labour_labour1"].sum() == pytest.approx(
        p.total_labour
    )
    text = p.report()
    assert "status: **optimal**" in text and "total labour" in text


def test_needs_by_council_are_kept_apart_and_summed():
    economy = generate_economy(20, inputs_per_product=3, seed=2)
    import pandas as pd

    needs = pd.DataFrame(
        {"product": ["p01", "p01", "p02"], "amount": [1.0, 2.0, 4.0], "council": ["a", "b", "a"]}
    )
    p = plan(economy, needs)
    assert p.needs[1] == 3.0 and p.needs[2] == 4.0
    assert list(p.consumption["council"]) == ["a", "b", "a"]
    assert p.consumption["met"].tolist() == [1.0, 2.0, 4.0]
