"""Participatory planning rounds (Hahnel and Szczepanczyk): councils propose, prices adjust.

Each round, at the current indicative prices, consumer councils say what they want and
worker councils what they would make and what inputs and labour they need. The facilitation
step then raises the price of each good in short supply and lowers the price of each good in
surplus, by a step damped by last round's imbalance. Rounds repeat until every good balances
within a threshold (percent of its traded volume). The procedure and its quirks follow the
authors' pequod-cljs ``csvgen`` run exactly (docs/rounds.md); every sum over councils is one
vectorised call (a sparse mat-vec or a bincount), never a Python loop over councils.

Any council may answer a round by itself: a :class:`Proposal` submitted by its members
replaces the computed Cobb-Douglas response for that round, and the record of the round
says which councils did so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

from councilplan.economy.errors import EconomyError
from councilplan.economy.pequod import (
    INTERMEDIATE,
    LABOUR,
    NATURE,
    PRIVATE,
    PUBLIC,
    Experiment,
    perturb_exponents,
)
from councilplan.errors import Where

#: The authors' colour scale: the colour of a round is the first whose bound every imbalance
#: (percent) is under.
COLOURS = ((3.0, "blue"), (5.0, "green"), (10.0, "yellow"), (20.0, "orange"))
#: Step-size floor and the cap of the damping list ("0.25 substitution").
DELTA_FLOOR = 0.001
DAMPING_CAP = 0.25

CouncilKind = Literal["consumer", "worker"]
#: A council in an overrides mapping: ("consumer" or "worker", council id).
CouncilKey = tuple[CouncilKind, int]


class RoundsError(EconomyError):
    """Input the rounds cannot run with (a price, a proposal); ``where`` says which."""


@dataclass(frozen=True)
class Proposal:
    """What a council's members submitted for a round, in place of the computed response.

    Keys are global good indices (``Experiment.good_names()`` gives the labels); values are
    units per planning period, not negative. A consumer council lists private goods it wants
    and the level of each public good it asks for (the public level is averaged over all
    consumer councils, as in the computed response). A worker council lists its own product
    under ``supplies`` and its intermediate, nature and labour inputs under ``demands``;
    ``effort`` is optional (it is only reported). Goods left out count as zero.
    """

    supplies: Mapping[int, float] = field(default_factory=dict)
    demands: Mapping[int, float] = field(default_factory=dict)
    effort: float | None = None


Overrides = Mapping[CouncilKey, Proposal]
#: Overrides for one round, given (phase, iteration about to run, prices at its start).
OverridesSource = Overrides | Callable[[int, int, np.ndarray], Overrides]


@dataclass(frozen=True, eq=False)
class PriceState:
    """What carries over from one round to the next: prices, damping list and counter.

    Attributes:
        prices: (5G,) indicative price of each good, in the unit of account per unit.
        damping: (5G,) the authors' PD list: last round's relative imbalance, capped at 0.25.
        iteration: rounds run so far in this phase.
        untouched: (5G,) True while a price is still its initial whole number (the authors
            print those as integers).
    """

    prices: np.ndarray
    damping: np.ndarray
    iteration: int = 0
    untouched: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class RoundRecord:
    """One round, one row of the authors' log (columns explained in docs/rounds.md).

    ``prices``/``deltas``/``damping`` are after the update; ``supply``, ``demand``,
    ``surplus`` and ``imbalance`` (percent of traded volume) are at the prices of the start
    of the round. ``worker_output``/``worker_effort`` (W,) are present when the run was asked
    for council rows. ``self_answered`` lists the councils that submitted a proposal.
    """

    phase: int
    iteration: int
    colour: str
    prices: np.ndarray
    deltas: np.ndarray
    damping: np.ndarray
    supply: np.ndarray
    demand: np.ndarray
    surplus: np.ndarray
    imbalance: np.ndarray
    untouched_prices: np.ndarray
    start_prices: np.ndarray
    self_answered: tuple[CouncilKey, ...] = ()
    worker_output: np.ndarray | None = None
    worker_effort: np.ndarray | None = None

    @property
    def worst_imbalance(self) -> float:
        return float(self.imbalance.max())

    def without_councils(self) -> RoundRecord:
        return replace(self, worker_output=None, worker_effort=None)


# --------------------------------------------------------------------------- the councils


@dataclass(frozen=True, eq=False)
class CouncilTerms:
    """Everything about the councils that does not change from round to round.

    Built once per phase by :func:`council_terms`; a round then costs two sparse mat-vecs,
    a bincount and a few elementwise passes over the worker councils.
    """

    experiment: Experiment
    consumer_private_spending: np.ndarray  # (G,) K_j = Σ_i m_i u_ij / S_i
    consumer_public_spending: np.ndarray  # (G,) G_j = Σ_i m_i g_ij / S_i
    output_goods: np.ndarray  # (W,) global index of each worker council's product
    exponents: sp.csr_array  # (W, 5G) input exponents b
    exponents_t: sp.csr_array  # (5G, W) its transpose, for the input demand sums
    constant: np.ndarray  # (W,) −k ln a − c ln c + c ln k + c ln s − k Σ b ln b
    slope: np.ndarray  # (W,) c + k B, the coefficient of −ln λ
    denominator: np.ndarray  # (W,) D = c − k (1 − B) < 0
    effort_factor: np.ndarray  # (W,) 1, or (s k)^(2B/D) for 8-input councils (the quirk)
    fixed_supply: np.ndarray  # (5G,) nature and labour supply, 0 elsewhere
    worker_order: np.ndarray  # argsort of worker ids, to find a council by id
    consumer_order: np.ndarray


def council_terms(experiment: Experiment, *, effort_quirk: bool = True) -> CouncilTerms:
    """Precompute the round-invariant terms of the closed-form council responses.

    ``effort_quirk`` reproduces the sign typo in the authors' 8-input effort formula
    (effort is only reported; outputs and inputs are unaffected).
    """
    wc, g = experiment.workers, experiment.goods_per_category
    n_goods = 5 * g
    b = wc.input_exponents
    rows = wc.input_rows()
    a, c, k, s = wc.productivity, wc.effort_exponent, wc.disutility_exponent, wc.disutility_scale
    exponents = sp.csr_array((b, wc.input_goods, wc.input_indptr), shape=(wc.n, n_goods))
    total = np.add.reduceat(b, wc.input_indptr[:-1])
    b_log_b = np.bincount(rows, weights=b * np.log(b), minlength=wc.n)
    constant = -k * np.log(a) - c * np.log(c) + c * np.log(k) + c * np.log(s) - k * b_log_b
    denominator = c - k + k * total
    effort_factor = np.ones(wc.n)
    if effort_quirk:
        eight = wc.n_inputs == 8
        effort_factor[eight] = (s[eight] * k[eight]) ** (2 * total[eight] / denominator[eight])
    fixed = np.zeros(n_goods)
    fixed[NATURE * g : (NATURE + 1) * g] = experiment.nature_supply
    fixed[LABOUR * g : (LABOUR + 1) * g] = experiment.labour_supply
    private, public = experiment.consumers.total_spending()
    return CouncilTerms(
        experiment=experiment,
        consumer_private_spending=private,
        consumer_public_spending=public,
        output_goods=wc.output_goods(g),
        exponents=exponents,
        exponents_t=exponents.T.tocsr(),
        constant=constant,
        slope=c + k * total,
        denominator=denominator,
        effort_factor=effort_factor,
        fixed_supply=fixed,
        worker_order=np.argsort(wc.ids, kind="stable"),
        consumer_order=np.argsort(experiment.consumers.ids, kind="stable"),
    )


def worker_output(terms: CouncilTerms, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W,) profit-maximising output q of each worker council, and (W,) λ·q (revenue).

    ln q = [const − (c + kB) ln λ + k Σ b_i ln p_i] / D: the stationary point of
    λq − Σ p_i x_i − s e^k for q = a e^c Π x_i^{b_i}, unique since c + B < 1.
    """
    log_prices = np.log(prices)
    own = prices[terms.output_goods]
    log_q = (
        terms.constant
        - terms.slope * log_prices[terms.output_goods]
        + terms.experiment.workers.disutility_exponent * (terms.exponents @ log_prices)
    ) / terms.denominator
    q = np.exp(log_q)
    return q, own * q


def worker_effort(terms: CouncilTerms, prices: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(W,) effort e = (λ c q / (s k))^(1/k), times the 8-input quirk factor when enabled."""
    wc = terms.experiment.workers
    own = prices[terms.output_goods]
    k = wc.disutility_exponent
    e = (own * wc.effort_exponent * q / (wc.disutility_scale * k)) ** (1.0 / k)
    return e * terms.effort_factor


def worker_inputs(terms: CouncilTerms, prices: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """(nnz,) units of each input of each worker council, x_i = λ q b_i / p_i (CSR order)."""
    wc = terms.experiment.workers
    return wc.input_exponents * revenue[wc.input_rows()] / prices[wc.input_goods]


def consumer_demand(experiment: Experiment, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, G) private goods each consumer council asks for, and (N, G) public-good levels.

    Cobb-Douglas: spending / price; a public good is charged at price / N (an equal share).
    """
    g, n = experiment.goods_per_category, experiment.consumers.n
    private, public = experiment.consumers.spending()
    private /= prices[PRIVATE * g : (PRIVATE + 1) * g]
    public *= n / prices[PUBLIC * g : (PUBLIC + 1) * g]
    return private, public


# --------------------------------------------------------------------------- one round


def _positions(order: np.ndarray, ids: np.ndarray, wanted: np.ndarray, kind: str) -> np.ndarray:
    at = np.searchsorted(ids[order], wanted)
    at = np.minimum(at, max(ids.size - 1, 0))
    found = ids[order][at] == wanted if ids.size else np.zeros(wanted.shape, bool)
    if not found.all():
        missing = int(wanted[~found][0])
        raise RoundsError(
            f"a proposal names {kind} council {missing}, which is not in the experiment",
            Where(id=f"{kind} {missing}"),
        )
    return order[at]


def _proposal_arrays(
    keys: list[CouncilKey], proposals: list[Proposal], side: str, allowed: np.ndarray, n_goods: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, goods, units = [], [], []
    for i, (key, proposal) in enumerate(zip(keys, proposals, strict=True)):
        for good, value in getattr(proposal, side).items():
            where = Where(id=f"{key[0]} {key[1]}", field=f"{side}[{good}]")
            if not (isinstance(good, (int, np.integer)) and 0 <= good < n_goods):
                raise RoundsError(f"good index {good!r} is not 0..{n_goods - 1}", where)
            if not allowed[good]:
                raise RoundsError(f"a {key[0]} council cannot list good {good} under {side}", where)
            value = float(value)
            if not (np.isfinite(value) and value >= 0):
                raise RoundsError(f"quantity {value!r} must be finite and not negative", where)
            rows.append(i)
            goods.append(int(good))
            units.append(value)
    return np.asarray(rows, np.int64), np.asarray(goods, np.int64), np.asarray(units, float)


def _apply_overrides(
    terms: CouncilTerms,
    prices: np.ndarray,
    overrides: Overrides,
    supply: np.ndarray,
    demand: np.ndarray,
    q: np.ndarray,
    revenue: np.ndarray,
) -> tuple[tuple[CouncilKey, ...], np.ndarray, np.ndarray]:
    """Swap the computed responses of councils that answered by themselves for their proposals.

    Returns the keys, the worker positions that answered, and their proposed output/effort.
    """
    exp = terms.experiment
    g, n_goods = exp.goods_per_category, exp.n_goods
    category = np.arange(n_goods) // g
    by_kind: dict[str, list[tuple[CouncilKey, Proposal]]] = {"consumer": [], "worker": []}
    for key, proposal in overrides.items():
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] in by_kind):
            raise RoundsError(
                f"override key {key!r} must be ('consumer', id) or ('worker', id)", Where()
            )
        if not isinstance(proposal, Proposal):
            raise RoundsError(f"override for {key!r} is not a Proposal", Where(id=str(key)))
        by_kind[key[0]].append((key, proposal))

    consumers = by_kind["consumer"]
    if consumers:
        keys = [k for k, _ in consumers]
        at = _positions(
            terms.consumer_order,
            exp.consumers.ids,
            np.array([k[1] for k in keys], np.int64),
            "consumer",
        )
        props = [p for _, p in consumers]
        for key, p in zip(keys, props, strict=True):
            if p.supplies:
                raise RoundsError(
                    "a consumer council states demands only; move its entries from supplies "
                    "to demands or drop them",
                    Where(id=f"consumer {key[1]}", field="supplies"),
                )
        private_allowed = (category == PRIVATE) | (category == PUBLIC)
        rows, goods, units = _proposal_arrays(keys, props, "demands", private_allowed, n_goods)
        cc = exp.consumers
        share = cc.income[at] / (
            cc.utility_exponents[at].sum(axis=1) + cc.public_good_exponents[at].sum(axis=1)
        )
        n = cc.n
        # a public good's computed level is N·spending/price; its mean share is spending/price
        # take the computed responses out ...
        demand[PRIVATE * g : (PRIVATE + 1) * g] -= (cc.utility_exponents[at] * share[:, None]).sum(
            axis=0
        ) / prices[PRIVATE * g : (PRIVATE + 1) * g]
        demand[PUBLIC * g : (PUBLIC + 1) * g] -= (
            cc.public_good_exponents[at] * share[:, None]
        ).sum(axis=0) / prices[PUBLIC * g : (PUBLIC + 1) * g]
        # ... and put the proposals in (a public-good level counts as 1/N of the mean)
        weight = np.where(category[goods] == PUBLIC, 1.0 / n, 1.0)
        np.add.at(demand, goods, units * weight)

    workers = by_kind["worker"]
    worker_at = np.zeros(0, np.int64)
    worker_q = np.zeros(0)
    worker_e = np.zeros(0)
    if workers:
        keys = [k for k, _ in workers]
        worker_at = _positions(
            terms.worker_order, exp.workers.ids, np.array([k[1] for k in keys], np.int64), "worker"
        )
        props = [p for _, p in workers]
        own = terms.output_goods[worker_at]
        rows, goods, units = _proposal_arrays(
            keys, props, "supplies", np.ones(n_goods, bool), n_goods
        )
        wrong = goods != own[rows]
        if wrong.any():
            key = keys[rows[wrong][0]]
            raise RoundsError(
                f"a worker council can only supply its own product (good {own[rows[wrong][0]]})",
                Where(id=f"worker {key[1]}", field=f"supplies[{goods[wrong][0]}]"),
            )
        worker_q = np.bincount(rows, weights=units, minlength=len(keys))
        input_allowed = (category >= INTERMEDIATE) & (category <= LABOUR)
        rows_d, goods_d, units_d = _proposal_arrays(keys, props, "demands", input_allowed, n_goods)
        # take the computed responses out ...
        np.subtract.at(supply, own, q[worker_at])
        wc = exp.workers
        starts, ends = wc.input_indptr[worker_at], wc.input_indptr[worker_at + 1]
        counts = ends - starts
        first = np.cumsum(counts) - counts  # where each council's entries start in `entry`
        entry = np.repeat(starts - first, counts) + np.arange(counts.sum())
        entry_row = np.repeat(worker_at, counts)
        computed_x = wc.input_exponents[entry] * revenue[entry_row] / prices[wc.input_goods[entry]]
        np.subtract.at(demand, wc.input_goods[entry], computed_x)
        # ... and put the proposals in
        np.add.at(supply, own, worker_q)
        np.add.at(demand, goods_d, units_d)
        worker_e = np.array([np.nan if p.effort is None else float(p.effort) for p in props])
        bad = ~np.isnan(worker_e) & ~(np.isfinite(worker_e) & (worker_e >= 0))
        if bad.any():
            key = keys[int(np.flatnonzero(bad)[0])]
            raise RoundsError(
                "effort must be finite and not negative (or left out)",
                Where(id=f"worker {key[1]}", field="effort"),
            )
    keys_all = tuple(k for k, _ in consumers) + tuple(k for k, _ in workers)
    return keys_all, worker_at, np.stack([worker_q, worker_e]) if workers else np.zeros((2, 0))


def colour_of(imbalance: np.ndarray) -> str:
    """The authors' colour for a round: blue if every imbalance < 3 %, ... , else red."""
    worst = float(imbalance.max())
    for bound, colour in COLOURS:
        if worst < bound:
            return colour
    return "red"


def planning_round(
    terms: CouncilTerms,
    state: PriceState,
    *,
    phase: int = 1,
    overrides: Overrides | None = None,
    council_rows: bool = False,
) -> tuple[PriceState, RoundRecord, tuple[np.ndarray, np.ndarray]]:
    """One round: every council answers at ``state.prices``, then prices move.

    Returns the next state, the round's record (a log row) and (q, revenue) of the worker
    councils (with the computed, not the proposed, values).
    """
    exp = terms.experiment
    g = exp.goods_per_category
    prices = state.prices
    q, revenue = worker_output(terms, prices)

    supply = terms.fixed_supply.copy()
    supply += np.bincount(terms.output_goods, weights=q, minlength=exp.n_goods)
    demand = terms.exponents_t @ revenue
    demand /= prices
    demand[PRIVATE * g : (PRIVATE + 1) * g] = (
        terms.consumer_private_spending / prices[PRIVATE * g : (PRIVATE + 1) * g]
    )
    demand[PUBLIC * g : (PUBLIC + 1) * g] = (
        terms.consumer_public_spending / prices[PUBLIC * g : (PUBLIC + 1) * g]
    )

    answered: tuple[CouncilKey, ...] = ()
    worker_at, proposed = np.zeros(0, np.int64), np.zeros((2, 0))
    if overrides:
        answered, worker_at, proposed = _apply_overrides(
            terms, prices, overrides, supply, demand, q, revenue
        )

    surplus = supply - demand
    volume = demand + supply
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(volume > 0, np.abs(2 * surplus) / volume, 0.0)
        half = np.where(volume > 0, surplus / (volume / 2), 0.0)
    step = 1.05 - 0.5**ratio
    deltas = np.maximum(DELTA_FLOOR, np.minimum(step, np.abs(step * state.damping)))
    new_prices = np.where(
        surplus > 0, prices * (1 - deltas), np.where(surplus < 0, prices * (1 + deltas), prices)
    )
    damping = np.where((half > DAMPING_CAP) | (half < -DAMPING_CAP), DAMPING_CAP, np.abs(half))
    imbalance = 100 * ratio
    untouched = state.untouched if state.untouched is not None else np.zeros(prices.shape, bool)
    untouched = untouched & (surplus == 0)

    output = effort = None
    if council_rows:
        output = q.copy()
        effort = worker_effort(terms, prices, q)
        output[worker_at] = proposed[0]
        effort[worker_at] = proposed[1]

    iteration = state.iteration + 1
    record = RoundRecord(
        phase=phase,
        iteration=iteration,
        colour=colour_of(imbalance),
        prices=new_prices,
        deltas=deltas,
        damping=damping,
        supply=supply,
        demand=demand,
        surplus=surplus,
        imbalance=imbalance,
        untouched_prices=untouched,
        start_prices=prices,
        self_answered=answered,
        worker_output=output,
        worker_effort=effort,
    )
    return PriceState(new_prices, damping, iteration, untouched), record, (q, revenue)


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, eq=False)
class RoundsResult:
    """The outcome of a run: the last round's state and its council responses, and the log.

    Attributes:
        experiment: the experiment of the last phase (after phase 2's perturbation).
        prices: (5G,) the prices the final proposals answered (start of the last round).
        updated_prices: (5G,) the prices after the last update (the last log row).
        supply, demand, surplus: (5G,) units, at ``prices``.
        imbalance: (5G,) percent of traded volume, 100·|2·surplus|/(supply+demand).
        worker_output: (W,) units each worker council makes (its proposal if it made one).
        worker_inputs: (nnz,) its computed inputs, aligned with
            ``experiment.workers.input_goods``.
        worker_effort: (W,) effort (the authors' 8-input quirk when it was on).
        rows: every round's record (council columns only with ``keep_council_rows``).
        exponent_sums: the exponent-sum row of each phase, (W,) each.
        converged: every good balanced within ``threshold`` percent at the end.
        iterations: rounds in the last phase; ``phase_iterations`` per phase.
        threshold: the stopping threshold, percent.
        unbalanced: (good name, imbalance %) of each good still above the threshold.
        self_answered: every council that answered some round by itself.
        seconds: wall time of the run (not the loading), with the per-phase set-up, the
            phase-2 perturbation and the callbacks (log writing).
        round_seconds: the part spent in the rounds themselves (councils' answers and the
            price update); ``round_seconds / rounds`` is the time per round.
    """

    experiment: Experiment
    prices: np.ndarray
    updated_prices: np.ndarray
    supply: np.ndarray
    demand: np.ndarray
    surplus: np.ndarray
    imbalance: np.ndarray
    worker_output: np.ndarray
    worker_inputs: np.ndarray
    worker_effort: np.ndarray
    rows: tuple[RoundRecord, ...]
    exponent_sums: tuple[np.ndarray, ...]
    converged: bool
    iterations: int
    phase_iterations: tuple[int, ...]
    threshold: float
    unbalanced: tuple[tuple[str, float], ...]
    self_answered: frozenset[CouncilKey]
    seconds: float
    round_seconds: float = 0.0

    @cached_property
    def consumption(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, G) private goods and (N, G) public-good levels each consumer council asked for
        at ``prices`` (computed on first use: 2·N·G numbers)."""
        return consumer_demand(self.experiment, self.prices)

    @property
    def worst_imbalance(self) -> float:
        return float(self.imbalance.max())

    @property
    def rounds(self) -> int:
        return len(self.rows)

    def to_plan(self, *, by_council: bool = False):
        """This outcome as a :class:`councilplan.planning.plan.Plan` (method ``"rounds"``).

        Products are the private, intermediate and public goods; each worker council is one
        technique (activity = its output); labour kinds are the labour goods, resources the
        nature goods, with the fixed supplies as limits. Needs are the consumer councils'
        final demand (a public good: the mean level asked for). Careful: ``prices`` and the
        duals are the indicative prices in the experiment's unit of account, not hours; the
        diagnostics say so. Goods whose demand exceeds supply are listed as shortfalls.
        ``by_council`` adds the per-council consumption table (N · 2G rows).
        """
        import pandas as pd

        from councilplan.planning.plan import Diagnostics, Plan

        exp = self.experiment
        g, n_goods = exp.goods_per_category, exp.n_goods
        names = np.array(exp.good_names(), dtype=object)
        products = np.r_[
            np.arange(PRIVATE * g, (PRIVATE + 1) * g),
            np.arange(INTERMEDIATE * g, (INTERMEDIATE + 1) * g),
            np.arange(PUBLIC * g, (PUBLIC + 1) * g),
        ]
        where_product = np.full(n_goods, -1)
        where_product[products] = np.arange(products.size)
        labour_goods = np.arange(LABOUR * g, (LABOUR + 1) * g)
        nature_goods = np.arange(NATURE * g, (NATURE + 1) * g)
        wc = exp.workers
        technique_product = where_product[wc.output_goods(g)]
        used = np.bincount(wc.input_goods, weights=self.worker_inputs, minlength=n_goods)
        output = self.supply[products]
        needs = np.where(
            (products // g == INTERMEDIATE), 0.0, self.demand[products]
        )  # intermediates are used up in production, not final needs
        net_output = output - used[products]
        demanded = self.demand[products]
        short = demanded - output
        unmet = np.flatnonzero(short > 0)
        shortfall = pd.DataFrame(
            {
                "product": names[products][unmet],
                "council": "all",
                "priority": 1.0,
                "need": demanded[unmet],
                "met": output[unmet],
                "short": short[unmet],
                "binding": "",
            }
        )
        consumption = None
        if by_council:
            private, public = self.consumption
            n = exp.consumers.n
            consumption = pd.DataFrame(
                {
                    "product": np.tile(
                        np.r_[names[PRIVATE * g : (PRIVATE + 1) * g], names[PUBLIC * g :]], n
                    ),
                    "council": np.repeat(exp.consumers.ids.astype(str), 2 * g),
                    "priority": 1.0,
                    "need": np.concatenate([private, public], axis=1).reshape(-1),
                    "met": np.concatenate([private, public], axis=1).reshape(-1),
                }
            )
        labour = used[labour_goods]
        notes = (
            f"participatory rounds (Hahnel and Szczepanczyk): "
            f"{'balanced' if self.converged else 'NOT balanced'} within {self.threshold:g}% "
            f"after {self.iterations} rounds; worst imbalance {self.worst_imbalance:.3g}%",
            "prices and duals are indicative prices in the experiment's unit of account, not hours",
        )
        ro = np.array  # Plan's arrays are plain copies here
        return Plan(
            economy_name=exp.name,
            method="rounds",
            status="optimal" if unmet.size == 0 else "shortfall",
            product_ids=names[products],
            technique_ids=np.array([f"wc {i}" for i in wc.ids.tolist()], dtype=object),
            technique_product=technique_product,
            labour_ids=names[labour_goods],
            resource_ids=names[nature_goods],
            needs=ro(needs),
            activity=ro(self.worker_output),
            output=ro(output),
            net_output=ro(net_output),
            labour=ro(labour),
            resources=ro(used[nature_goods]),
            labour_limits=ro(exp.labour_supply),
            resource_limits=ro(exp.nature_supply),
            capacity=np.full(wc.n, np.inf),
            prices=ro(self.prices[products]),
            labour_duals=ro(self.prices[labour_goods]),
            resource_duals=ro(self.prices[nature_goods]),
            capacity_duals=np.zeros(wc.n),
            labour_weights=np.ones(g),
            price_unit="indicative price in the experiment's unit of account per unit",
            total_labour=float(labour.sum()),
            objective=float(labour.sum()),
            diagnostics=Diagnostics(
                solver="rounds",
                seconds=self.seconds,
                iterations=self.iterations,
                primal_residual=self.worst_imbalance / 100,
                notes=notes,
            ),
            shortfall=shortfall,
            consumption=consumption,
        )

    def report(self) -> str:
        """A short text: converged or not, and which goods did not balance."""
        if self.converged:
            return (
                f"balanced within {self.threshold:g}% after {self.iterations} rounds "
                f"(worst {self.worst_imbalance:.3g}%)"
            )
        listed = ", ".join(f"{name} {pct:.3g}%" for name, pct in self.unbalanced)
        return (
            f"not balanced after {self.iterations} rounds (the cap): "
            f"{len(self.unbalanced)} goods above {self.threshold:g}%: {listed}"
        )


def initial_state(experiment: Experiment, initial_prices=700, damping=DAMPING_CAP) -> PriceState:
    """Start prices (700 for every good in the authors' runs) and the damping list (0.25)."""
    names = experiment.good_names()
    prices = np.broadcast_to(np.asarray(initial_prices, dtype=np.float64), (experiment.n_goods,))
    bad = ~(prices > 0) | ~np.isfinite(prices)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise RoundsError(
            f"initial price {float(prices[j])!r} of good {names[j]} must be positive and finite "
            "(a council's response divides by it)",
            Where(id=names[j], field="price"),
        )
    pd = np.broadcast_to(np.asarray(damping, dtype=np.float64), (experiment.n_goods,))
    if not ((pd > 0).all() and (pd <= DAMPING_CAP).all()):
        raise RoundsError("the initial damping must be in (0, 0.25]", Where(field="damping"))
    return PriceState(prices.copy(), pd.copy(), 0, np.equal(np.mod(prices, 1), 0))


@dataclass(frozen=True, eq=False)
class RoundSettings:
    """How a run goes: when it stops, how many phases, where the prices start.

    Attributes:
        threshold: a phase stops on the first round whose imbalances are all <= this
            (percent of each good's traded volume).
        max_rounds: or after this many rounds.
        phases: 1, or 2: phase 2 perturbs every exponent with draws from
            ``numpy.random.default_rng(seed)`` (the authors' "augmented reset") and goes on
            from phase 1's prices and damping list.
        seed: the seed of phase 2's perturbation.
        initial_prices: the start price of every good (the authors' 700), or (5G,) one each.
        effort_quirk: the authors' effort with its 8-input quirk (docs/rounds.md).
        keep_council_rows: keep each council's output and effort in every record of
            ``RoundsResult.rows`` (W numbers a round), not only the last round's.
    """

    threshold: float = 3.0
    max_rounds: int = 200
    phases: int = 1
    seed: int | None = 0
    initial_prices: float | np.ndarray = 700
    effort_quirk: bool = True
    keep_council_rows: bool = False

    def __post_init__(self) -> None:
        if self.phases not in (1, 2):
            raise RoundsError(f"phases must be 1 or 2, got {self.phases}", Where(field="phases"))
        if self.max_rounds < 1:
            raise RoundsError(f"max_rounds must be at least 1, got {self.max_rounds}")
        if not self.threshold > 0:
            raise RoundsError(f"threshold must be a positive percentage, got {self.threshold}")


class RoundObserver(Protocol):
    """Watches a run as it goes; a :class:`RoundsLogWriter` is one.

    ``wants_council_rows``: the run computes each council's output and effort in every
    record handed to ``on_round`` (W numbers a round; the last round's are always computed).
    """

    wants_council_rows: bool

    def on_round(self, record: RoundRecord) -> None:
        """Each round's record, as it is made."""

    def on_phase_end(self, phase: int, experiment: Experiment, exponent_sums: np.ndarray) -> None:
        """After each phase: its number, its experiment and its (W,) exponent sums."""


def run_rounds(
    experiment: Experiment,
    settings: RoundSettings = RoundSettings(),
    *,
    overrides: OverridesSource | None = None,
    observer: RoundObserver | None = None,
) -> RoundsResult:
    """Run the participatory rounds until every good balances within ``settings.threshold``
    percent, or each phase reaches ``settings.max_rounds`` (see :class:`RoundSettings`).

    ``overrides`` maps ("consumer"|"worker", id) to a :class:`Proposal` used in every round,
    or is a function (phase, iteration, prices) -> such a mapping, called before each round.
    ``observer`` sees each round's record and each phase's end as the run goes.
    """
    threshold, max_rounds = settings.threshold, settings.max_rounds
    keep_council_rows = settings.keep_council_rows
    council_rows = keep_council_rows or (observer is not None and observer.wants_council_rows)
    rng = np.random.default_rng(settings.seed)
    state = initial_state(experiment, settings.initial_prices)
    rows: list[RoundRecord] = []
    sums: list[np.ndarray] = []
    phase_iterations: list[int] = []
    answered: set[CouncilKey] = set()
    in_rounds = 0.0
    started = time.perf_counter()
    for phase in range(1, settings.phases + 1):
        if phase == 2:
            experiment = perturb_exponents(experiment, rng)
            state = replace(state, iteration=0)
        terms = council_terms(experiment, effort_quirk=settings.effort_quirk)
        while True:
            this = (
                overrides(phase, state.iteration + 1, state.prices)
                if callable(overrides)
                else overrides
            )
            round_started = time.perf_counter()
            state, record, (q, revenue) = planning_round(
                terms, state, phase=phase, overrides=this, council_rows=council_rows
            )
            in_rounds += time.perf_counter() - round_started
            answered.update(record.self_answered)
            if observer is not None:
                observer.on_round(record)
            rows.append(record if keep_council_rows else record.without_councils())
            if not (record.imbalance > threshold).any() or state.iteration >= max_rounds:
                break
        phase_iterations.append(state.iteration)
        sums.append(experiment.workers.exponent_sums(experiment.goods_per_category))
        if observer is not None:
            observer.on_phase_end(phase, experiment, sums[-1])
    seconds = time.perf_counter() - started

    last = rows[-1]
    output = q.copy()
    effort = worker_effort(terms, last.start_prices, q)
    if last.self_answered:
        _, worker_at, proposed = _apply_overrides(
            terms,
            last.start_prices,
            {k: v for k, v in (this or {}).items()},
            last.supply.copy(),
            last.demand.copy(),
            q,
            revenue,
        )
        output[worker_at] = proposed[0]
        effort[worker_at] = proposed[1]
    names = experiment.good_names()
    above = np.flatnonzero(last.imbalance > threshold)
    return RoundsResult(
        experiment=experiment,
        prices=last.start_prices,
        updated_prices=last.prices,
        supply=last.supply,
        demand=last.demand,
        surplus=last.surplus,
        imbalance=last.imbalance,
        worker_output=output,
        worker_inputs=worker_inputs(terms, last.start_prices, revenue),
        worker_effort=effort,
        rows=tuple(rows),
        exponent_sums=tuple(sums),
        converged=above.size == 0,
        iterations=state.iteration,
        phase_iterations=tuple(phase_iterations),
        threshold=float(threshold),
        unbalanced=tuple((names[j], float(last.imbalance[j])) for j in above),
        self_answered=frozenset(answered),
        seconds=seconds,
        round_seconds=in_rounds,
    )
