"""Councils for the participatory rounds, calibrated to a town's optimal plan.

Worker councils run the plan's techniques: at the reference prices each one's best answer is
the planned output made with the technique's inputs. Consumer councils' utilities follow the
needs' budget shares. The rounds then start from labour values, and the labour the councils
ask for is compared with the least labour that makes the same final consumption. Default
economy: the shipped demo (``economy/demo/``). docs/rounds.md ("Councils calibrated to a
plan") says why each choice was made.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from councilplan.economy.model import Economy
from councilplan.economy.pequod import (
    INTERMEDIATE,
    LABOUR,
    NATURE,
    PRIVATE,
    PUBLIC,
    Experiment,
    make_experiment,
)
from councilplan.errors import Where
from councilplan.planning.needs import as_needs
from councilplan.planning.plan import Plan, plan
from councilplan.planning.rounds.procedure import (
    RoundsError,
    RoundSettings,
    RoundsResult,
    run_rounds,
)
from councilplan.planning.values import LeontiefSystem, labour_values

#: Final goods the whole town shares (the procedure charges every consumer council an equal
#: share of a public good): care, teaching, health, the common networks and investment.
TOWN_PUBLIC_GOODS = (
    "health_care", "dental_care", "medicines", "schooling", "childcare", "elder_care",
    "library", "transit", "sewage", "waste_collection", "postal", "machinery",
)  # fmt: skip
#: θ: a worker council's input exponents sum to this at most (the authors draw 0.75..0.85):
#: the share of its revenue it spends on inputs. The rest rewards effort, so prices carry a
#: markup 1/θ over labour values. At 0.85 a council's output answers a 1 % price change with
#: 7 %, and rounds started from plain labour values do not balance in 200 rounds; at 0.75
#: (3.4 %) they balance in about 40.
RETURNS = 0.75
#: Effort exponent c and disutility exponent k are drawn from the authors' ranges.
EFFORT_RANGE = (0.05, 0.1)
DISUTILITY_RANGE = (3.0, 4.0)
#: Rent of a resource whose limit does not bind, as a share of the value made with it: small,
#: but positive, or no council would ask for the resource and its market could not balance.
RENT_FLOOR = 0.01


@dataclass(frozen=True, eq=False)
class CalibratedTown:
    """An economy's plan mapped onto the procedure's goods and councils.

    Attributes:
        experiment: the councils and goods the rounds run on.
        economy, plan: the economy and its optimal plan for the needs (the calibration).
        needs: (n,) units of each product the councils asked for.
        good_labels: (5G,) what each good is: ``electricity (households)``, ``electricity
            (inputs)``, ``schooling (public)``, ``labour general``, ``co2``, or ``absent``.
        good_product: (5G,) product index of each private, public and intermediate good, or
            of a by-product handed over as a fixed supply (nature); -1 otherwise.
        labour_goods: (k,) good index of each labour kind (-1: the plan uses none of it).
        resource_goods: (r,) good index of each resource (-1: unused).
        reference_prices: (5G,) hours per unit at which every council's answer is the plan:
            labour values with the markup 1/θ compounded through the inputs.
        labour_value_prices: (5G,) plain labour values (hours per unit; labour 1, resources
            at their rent), where the rounds start.
        worker_technique: (W,) the technique each worker council runs.
        worker_planned_output: (W,) units each council makes in the plan.
    """

    experiment: Experiment
    economy: Economy
    plan: Plan
    needs: np.ndarray
    good_labels: tuple[str, ...]
    good_product: np.ndarray
    labour_goods: np.ndarray
    resource_goods: np.ndarray
    reference_prices: np.ndarray
    labour_value_prices: np.ndarray
    worker_technique: np.ndarray
    worker_planned_output: np.ndarray


@dataclass(frozen=True)
class OptimumComparison:
    """The labour the participatory plan uses against the least labour that makes the same.

    Attributes:
        rounds, converged, worst_imbalance (percent): how the rounds ended.
        labour_ids: the labour kinds.
        participatory_labour: (k,) hours of each kind the worker councils ask for in the last
            round (the labour goods' demand).
        optimal_labour: (k,) hours of each kind in ``planning.plan(economy, consumption)``.
        optimal_status: that plan's status ("optimal", or "shortfall" if the economy's limits
            cannot make the consumption with its techniques).
        product_ids: the products.
        consumption: (n,) what the worker councils' last proposals make for final use: the
            private and public goods they supply, plus the intermediate goods they make beyond
            what they use (negative where they ask for more than is made).
        asked: (n,) what the consumer councils ask for at the last prices.
        needs: (n,) what the needs asked for (the calibration).
    """

    rounds: int
    converged: bool
    worst_imbalance: float
    labour_ids: tuple[str, ...]
    participatory_labour: np.ndarray
    optimal_labour: np.ndarray
    optimal_status: str
    product_ids: tuple[str, ...]
    consumption: np.ndarray
    asked: np.ndarray
    needs: np.ndarray

    @property
    def participatory_total(self) -> float:
        return float(self.participatory_labour.sum())

    @property
    def optimal_total(self) -> float:
        return float(self.optimal_labour.sum())

    @property
    def ratio(self) -> float:
        """Participatory hours per hour of the optimum."""
        return self.participatory_total / self.optimal_total

    def report(self) -> list[str]:
        """The comparison in a few lines a council can read."""
        state = "balanced" if self.converged else "NOT balanced"
        lines = [
            f"Participatory rounds: {state} after {self.rounds} rounds "
            f"(worst imbalance {self.worst_imbalance:.3g}% of a good's traded volume).",
            f"Labour the councils' proposals use: {self.participatory_total:,.0f} hours.",
            "Least labour that makes the same goods (the planner's optimum): "
            f"{self.optimal_total:,.0f} hours"
            + ("" if self.optimal_status == "optimal" else f" ({self.optimal_status})")
            + ".",
            f"The participatory plan uses {self.ratio:.4f} hours per hour of the optimum "
            f"({100 * (self.ratio - 1):+.2f}%).",
        ]
        for kind, ours, best in zip(
            self.labour_ids, self.participatory_labour, self.optimal_labour, strict=True
        ):
            lines.append(f"  {kind}: {ours:,.0f} hours against {best:,.0f}")
        asked = self.needs > 0
        change = 100 * (self.consumption[asked] / self.needs[asked] - 1)
        lines.append(
            f"What the plan makes for use, against the stated needs: {change.min():+.1f}% to "
            f"{change.max():+.1f}% by product (median {np.median(change):+.1f}%)."
        )
        return lines


def _default_inputs(economy, needs):
    if economy is None:
        from councilplan.economy.bundle import DEMO_BUNDLE, load_demo
        from councilplan.planning.needs import read_needs

        economy = load_demo()
        if needs is None:
            needs = read_needs(DEMO_BUNDLE / "needs" / "town.csv", economy)
    if needs is None:
        raise RoundsError(
            "needs are required with an economy other than the shipped demo economy",
            Where(economy.name, field="needs"),
        )
    return economy, as_needs(economy, needs)


def _reference_prices(economy, choice, running, rent, as_nature, returns):
    """(n,) hours per unit at which every running technique spends at most ``returns`` of its
    revenue on inputs, and the technique that sets each product's price.

    θ P_j = Σ P_i a_ij + l_j + ρ·r_j per unit of the price-setting technique: the labour values
    of the input matrix A/θ with direct costs (l + ρ r)/θ. The price-setter is the dearest
    running technique of the product (found by switching to it until none is dearer), so that
    every other one spends at most θ of its revenue at P (a Cobb-Douglas council cannot spend
    more). By-products handed over as a fixed supply earn their maker nothing in the rounds,
    so they get no credit here.
    """
    n, made = economy.n_products, economy.technique_product
    credit_free = economy.inputs.copy()
    if as_nature.any():
        credited = np.isin(credit_free.indices, np.flatnonzero(as_nature))
        credit_free.data[credited & (credit_free.data < 0)] = 0.0
    direct_all = economy.labour.sum(axis=0) + rent @ economy.resource_use
    for _ in range(n + 1):
        per_unit = sp.csc_array(credit_free[:, choice] / economy.technique_output[choice])
        direct = direct_all[choice] / economy.technique_output[choice]
        reference, residual, _ = LeontiefSystem(per_unit / returns).solve_values(direct / returns)
        if not (np.all(np.isfinite(reference)) and np.all(reference > 0) and residual < 1e-8):
            raise RoundsError(
                f"no positive prices with the markup 1/{returns}: raise returns",
                Where(economy.name, field="returns"),
            )
        cost = credit_free.T @ reference + direct_all
        ratio = np.where(running, cost / (reference[made] * economy.technique_output), 0.0)
        dearest = choice.copy()
        for j in range(n):
            ts = np.flatnonzero(made == j)
            if running[ts].any() and ratio[ts].max() > returns * (1 + 1e-9):
                dearest[j] = ts[np.argmax(ratio[ts])]
        if np.array_equal(dearest, choice):
            break
        choice = dearest
    return reference, choice


def productivity_for_output(q, own_price, log_price_term, total_b, c, k, s):
    """(W,) productivity a at which a council answers prices with output q: the closed form
    for ln q (docs/rounds.md, "Worker councils") solved for a.

    ``log_price_term`` is Σ b_i (ln p_i − ln b_i) over the council's inputs, ``total_b`` Σ b_i.
    """
    denominator = c - k * (1 - total_b)
    rest = (
        -c * np.log(c) + c * np.log(k) + c * np.log(s) - c * np.log(own_price)
        + k * (log_price_term - total_b * np.log(own_price))
    )  # fmt: skip
    return np.exp((rest - denominator * np.log(q)) / k)


def calibrate_town(
    economy: Economy | None = None,
    needs=None,
    *,
    consumer_councils: int = 30,
    workers_per_technique: int = 10,
    seed: int = 0,
    public_goods: Collection[str] = TOWN_PUBLIC_GOODS,
    returns: float = RETURNS,
    spread: float = 0.1,
) -> CalibratedTown:
    """Map ``economy`` (default: the shipped demo economy) and ``needs`` (default: its needs
    file) onto the procedure's goods, and calibrate councils to the optimal plan for the needs.

    ``workers_per_technique`` councils share each running technique's output for each use
    (households, the town, other workplaces); ``consumer_councils`` consumer councils share the
    needs, each with exponents drawn around the town's budget shares (log-normal, standard
    deviation ``spread``). Reproducible from ``seed``.
    """
    economy, need = _default_inputs(economy, needs)
    if not 0 < returns < 1 - EFFORT_RANGE[1]:
        raise RoundsError(f"returns must be in (0, {1 - EFFORT_RANGE[1]}), got {returns}")
    if consumer_councils < 1 or workers_per_technique < 1:
        raise RoundsError("need at least one consumer council and one worker council each")
    optimum = plan(economy, need)
    if not optimum.feasible:
        raise RoundsError(
            "the needs cannot all be met within the limits; calibrate to needs the optimal "
            "plan meets (see plan(...).shortfall)",
            Where(economy.name, field="needs"),
        )
    n, k, r = economy.n_products, economy.n_labour_kinds, economy.n_resources
    made = economy.technique_product
    activity = optimum.activity
    running = activity > 1e-9 * max(float(activity.max()), 1.0)
    inputs = economy.inputs.toarray() if n * economy.n_techniques <= 10**7 else None
    if inputs is None:
        raise RoundsError("the calibration is for town-sized economies (dense inputs)")
    positive = np.where(inputs > 0, inputs, 0.0)

    # the plan's main technique per product fixes its labour value and reference price
    choice = np.empty(n, dtype=np.int64)
    for j in range(n):
        ts = np.flatnonzero(made == j)
        choice[j] = ts[np.argmax(activity[ts])]
    values = labour_values(economy, choice=choice).values

    # resources: the plan's shadow price, at least RENT_FLOOR of the value made with them
    resource_use = optimum.resources
    rent = np.zeros(r)
    for i in range(r):
        using = running & (economy.resource_use[i] > 0)
        if resource_use[i] > 0:
            value_made = values[made[using]] * economy.technique_output[using] * activity[using]
            floor = RENT_FLOOR * float(value_made.sum()) / float(resource_use[i])
            rent[i] = max(float(optimum.resource_duals[i]), floor)

    # a by-product that no running technique makes is a fixed supply, like a resource
    byproduct_supply = np.zeros(n)
    for pid in economy.byproducts:
        j = economy.product_index(pid)
        if not running[made == j].any():
            byproduct_supply[j] = float(-(np.minimum(inputs[j], 0) * activity).sum())
    as_nature = byproduct_supply > 0

    reference, choice = _reference_prices(economy, choice, running, rent, as_nature, returns)

    # goods: a product the households ask for is private, one the town shares is public,
    # one workplaces use is intermediate; a product with several uses is split into goods
    public = np.isin(economy.product_ids, list(public_goods))
    final = need.total > 0
    used = (positive[:, running] * activity[running]).sum(axis=1)
    used[as_nature] = 0.0
    uses = {
        PRIVATE: np.flatnonzero(final & ~public),
        PUBLIC: np.flatnonzero(final & public),
        INTERMEDIATE: np.flatnonzero(used > 0),
    }
    bad = np.flatnonzero(as_nature & final)
    if bad.size:
        raise RoundsError(
            f"by-product {economy.product_ids[bad[0]]!r} is asked for as a final need but no "
            "technique of it runs in the plan; the rounds cannot hand it to consumers",
            Where(economy.name, id=str(economy.product_ids[bad[0]])),
        )
    labour_used = optimum.labour > 0
    nature_items = [("resource", i) for i in np.flatnonzero(resource_use > 0)] + [
        ("byproduct", j) for j in np.flatnonzero(as_nature)
    ]
    g = max(
        len(uses[PRIVATE]),
        len(uses[PUBLIC]),
        len(uses[INTERMEDIATE]),
        len(nature_items),
        int(labour_used.sum()),
    )
    n_goods = 5 * g
    labels = ["absent"] * n_goods
    good_product = np.full(n_goods, -1, dtype=np.int64)
    where = {c: np.full(n, -1, dtype=np.int64) for c in (PRIVATE, PUBLIC, INTERMEDIATE)}
    suffix = {PRIVATE: "households", PUBLIC: "public", INTERMEDIATE: "inputs"}
    for c, products in uses.items():
        where[c][products] = c * g + np.arange(products.size)
        good_product[where[c][products]] = products
        for j, at in zip(products, where[c][products], strict=True):
            labels[at] = f"{economy.product_ids[j]} ({suffix[c]})"
    resource_goods = np.full(r, -1, dtype=np.int64)
    nature_supply = np.zeros(g)
    ref_prices = np.ones(n_goods)
    lv_prices = np.ones(n_goods)
    byproduct_good = np.full(n, -1, dtype=np.int64)
    for slot, (what, i) in enumerate(nature_items):
        at = NATURE * g + slot
        if what == "resource":
            resource_goods[i] = at
            labels[at] = str(economy.resource_ids[i])
            nature_supply[slot] = resource_use[i]
            ref_prices[at] = lv_prices[at] = rent[i]
        else:
            byproduct_good[i] = at
            good_product[at] = i
            labels[at] = f"{economy.product_ids[i]} (by-product)"
            nature_supply[slot] = byproduct_supply[i]
            ref_prices[at], lv_prices[at] = reference[i], values[i]
    labour_goods = np.full(k, -1, dtype=np.int64)
    labour_supply = np.zeros(g)
    for slot, kind in enumerate(np.flatnonzero(labour_used)):
        labour_goods[kind] = LABOUR * g + slot
        labels[LABOUR * g + slot] = f"labour {economy.labour_ids[kind]}"
        labour_supply[slot] = optimum.labour[kind]
    products = good_product >= 0
    ref_prices[products] = reference[good_product[products]]
    lv_prices[products] = values[good_product[products]]
    input_good = where[INTERMEDIATE].copy()
    input_good[as_nature] = byproduct_good[as_nature]

    # worker councils: per running technique and use of its product, a block of councils
    rng = np.random.default_rng(seed)
    part = np.zeros((3, n))  # units of each product going to households, the town, inputs
    part[0, uses[PRIVATE]] = need.total[uses[PRIVATE]]
    part[1, uses[PUBLIC]] = need.total[uses[PUBLIC]]
    part[2] = used
    part_goods = np.stack([where[PRIVATE], where[PUBLIC], where[INTERMEDIATE]])
    industry_of = {PRIVATE: 0, INTERMEDIATE: 1, PUBLIC: 2}
    rows = []  # (technique, good, units per council)
    for t in np.flatnonzero(running):
        j = made[t]
        shares = part[:, j] / part[:, j].sum() if part[:, j].sum() > 0 else np.zeros(3)
        for use in np.flatnonzero(shares > 0):
            units = economy.technique_output[t] * activity[t] * shares[use]
            rows.append((t, int(part_goods[use, j]), units / workers_per_technique))
    w_tech = np.repeat([t for t, _, _ in rows], workers_per_technique)
    w_good = np.repeat([gd for _, gd, _ in rows], workers_per_technique)
    w_units = np.repeat([u for _, _, u in rows], workers_per_technique)
    w = w_tech.size

    # exponents: each input's cost at the reference prices per unit of revenue
    indptr = [0]
    goods, exps, log_p_sum = [], [], []
    for t, own in zip(w_tech, w_good, strict=True):
        ins = np.flatnonzero(positive[:, t] > 0)
        ins = ins[input_good[ins] >= 0]
        kinds = np.flatnonzero(economy.labour[:, t] > 0)
        res = np.flatnonzero((economy.resource_use[:, t] > 0) & (resource_goods >= 0))
        at = np.r_[input_good[ins], labour_goods[kinds], resource_goods[res]]
        cost = np.r_[
            reference[ins] * positive[ins, t], economy.labour[kinds, t],
            rent[res] * economy.resource_use[res, t],
        ]  # fmt: skip
        b = cost / (ref_prices[own] * economy.technique_output[t])
        order = np.argsort(at)
        goods.extend(at[order].tolist())
        exps.extend(b[order].tolist())
        indptr.append(len(goods))
        log_p_sum.append(float((b * (np.log(ref_prices[at]) - np.log(b))).sum()))
    input_exponents = np.asarray(exps)
    total_b = np.add.reduceat(input_exponents, np.asarray(indptr[:-1]))
    c = rng.uniform(*EFFORT_RANGE, size=w)
    du = rng.uniform(*DISUTILITY_RANGE, size=w)
    s = np.ones(w)
    # productivity a: at the reference prices each council answers with its planned output
    productivity = productivity_for_output(
        w_units, ref_prices[w_good], np.asarray(log_p_sum), total_b, c, du, s
    )

    # consumer councils: Cobb-Douglas exponents = budget shares of the needs, spread a little
    spending = np.zeros(n_goods)
    for cat in (PRIVATE, PUBLIC):
        at = where[cat][uses[cat]]
        spending[at] = ref_prices[at] * need.total[uses[cat]]
    noise = np.exp(spread * rng.standard_normal((consumer_councils, n_goods)) - spread**2 / 2)
    weights = spending / spending.sum() * noise
    income = np.full(consumer_councils, spending.sum() / consumer_councils)

    present = np.zeros(n_goods, dtype=bool)
    present[good_product >= 0] = True
    present[labour_goods[labour_goods >= 0]] = True
    present[resource_goods[resource_goods >= 0]] = True
    weights[:, ~present] = 0.0
    category = np.arange(n_goods) // g
    experiment = make_experiment(
        name=f"{economy.name}-councils",
        goods_per_category=g,
        consumer_income=income,
        utility_exponents=weights[:, category == PRIVATE],
        public_good_exponents=weights[:, category == PUBLIC],
        industry=[industry_of[int(gd) // g] for gd in w_good],
        product=w_good % g + 1,
        input_indptr=indptr,
        input_goods=goods,
        input_exponents=input_exponents,
        productivity=productivity,
        effort_exponent=c,
        disutility_exponent=du,
        disutility_scale=s,
        nature_supply=nature_supply,
        labour_supply=labour_supply,
        source=f"calibrate_town({economy.name}, seed={seed})",
        absent_goods=np.flatnonzero(~present),
    )
    return CalibratedTown(
        experiment=experiment,
        economy=economy,
        plan=optimum,
        needs=need.total.copy(),
        good_labels=tuple(labels),
        good_product=good_product,
        labour_goods=labour_goods,
        resource_goods=resource_goods,
        reference_prices=ref_prices,
        labour_value_prices=lv_prices,
        worker_technique=w_tech,
        worker_planned_output=w_units,
    )


def calibrated_experiment(
    economy: Economy | None = None,
    needs=None,
    *,
    consumer_councils: int = 30,
    workers_per_technique: int = 10,
    seed: int = 0,
) -> Experiment:
    """The calibrated councils as an :class:`Experiment` (see :func:`calibrate_town`)."""
    return calibrate_town(
        economy,
        needs,
        consumer_councils=consumer_councils,
        workers_per_technique=workers_per_technique,
        seed=seed,
    ).experiment


def final_consumption(town: CalibratedTown, result: RoundsResult) -> tuple[np.ndarray, np.ndarray]:
    """(n,) units the worker councils' last proposals make for final use (final goods made,
    plus intermediate goods made beyond what they use), and (n,) units the consumer councils
    ask for at the last prices (a public good: the level the town gets)."""
    g = town.experiment.goods_per_category
    n = town.economy.n_products
    made, asked = np.zeros(n), np.zeros(n)
    product = town.good_product
    for cat in (PRIVATE, PUBLIC, INTERMEDIATE):
        at = np.arange(cat * g, (cat + 1) * g)
        at = at[product[at] >= 0]
        spare = result.supply[at] - (result.demand[at] if cat == INTERMEDIATE else 0.0)
        np.add.at(made, product[at], spare)
        if cat != INTERMEDIATE:
            np.add.at(asked, product[at], result.demand[at])
    return made, asked


def rounds_against_optimum(
    economy: Economy | None = None,
    needs=None,
    *,
    consumer_councils: int = 30,
    workers_per_technique: int = 10,
    seed: int = 0,
    threshold: float = 3.0,
    max_rounds: int = 200,
) -> tuple[RoundsResult, OptimumComparison]:
    """Run the calibrated councils' rounds from labour-value prices to balance (``threshold``
    percent) and compare the labour they use with ``planning.plan`` for the same final
    consumption."""
    town = calibrate_town(
        economy,
        needs,
        consumer_councils=consumer_councils,
        workers_per_technique=workers_per_technique,
        seed=seed,
    )
    settings = RoundSettings(
        threshold=threshold,
        max_rounds=max_rounds,
        seed=seed,
        initial_prices=town.labour_value_prices,
    )
    result = run_rounds(town.experiment, settings)
    return result, compare_with_optimum(town, result)


def compare_with_optimum(town: CalibratedTown, result: RoundsResult) -> OptimumComparison:
    """The labour the rounds' last proposals use against the optimum for what they make."""
    economy = town.economy
    consumption, asked = final_consumption(town, result)
    best = plan(economy, consumption)
    ours = np.zeros(economy.n_labour_kinds)
    has = town.labour_goods >= 0
    ours[has] = result.demand[town.labour_goods[has]]
    return OptimumComparison(
        rounds=result.iterations,
        converged=result.converged,
        worst_imbalance=result.worst_imbalance,
        labour_ids=tuple(str(x) for x in economy.labour_ids),
        participatory_labour=ours,
        optimal_labour=np.asarray(best.labour, dtype=np.float64),
        optimal_status=best.status,
        product_ids=tuple(str(x) for x in economy.product_ids),
        consumption=consumption,
        asked=asked,
        needs=town.needs,
    )


__all__ = [
    "TOWN_PUBLIC_GOODS",
    "OptimumComparison",
    "CalibratedTown",
    "compare_with_optimum",
    "calibrate_town",
    "calibrated_experiment",
    "rounds_against_optimum",
    "final_consumption",
    "productivity_for_output",
]
