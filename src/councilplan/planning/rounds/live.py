"""Participatory rounds one round at a time, with state a service keeps as JSON between rounds.

The councils service runs the rounds as acts: a round opens at the indicative prices, its
councils answer through the API, and at its close every council that did not answer is
answered for by its calibrated (computed) response. :func:`start_rounds` calibrates the
town's councils (``calibration.calibrate_town``) and ties the service's council keys to the
procedure's councils; :meth:`LiveRounds.step` runs one round from a JSON state dict; and
:func:`replay` re-runs the whole procedure from the setup and every round's answers, with
the very same ``planning_round`` calls, so it gives bitwise the numbers stepping gave.
docs/rounds.md ("Rounds one at a time") describes the setup and state records.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from councilplan.economy.model import Economy
from councilplan.economy.pequod import INTERMEDIATE, LABOUR, PRIVATE, PUBLIC
from councilplan.errors import Where
from councilplan.planning.plan import Plan
from councilplan.planning.rounds.calibration import (
    CalibratedTown,
    calibrate_town,
    compare_with_optimum,
)
from councilplan.planning.rounds.procedure import (
    CouncilKey,
    PriceState,
    Proposal,
    RoundRecord,
    RoundsError,
    RoundSettings,
    RoundsResult,
    consumer_demand,
    council_terms,
    initial_state,
    planning_round,
    run_rounds,
    worker_inputs,
    worker_output,
)

#: The ``format`` of a setup record; a record of another format is refused.
SETUP_FORMAT = "councilplan.rounds.live/1"
#: How many goods a round's outcome lists (the worst balanced first).
WORST_GOODS = 10
_STATE_KEYS = ("round", "prices", "damping", "untouched", "finished")


@dataclass(frozen=True)
class GoodBalance:
    """One good in one round: supply and demand (units) at ``price``, the imbalance (percent
    of traded volume) and the price the next round opens at."""

    label: str
    price: float
    supply: float
    demand: float
    imbalance: float
    new_price: float


@dataclass(frozen=True)
class RoundOutcome:
    """What one round did.

    Attributes:
        state: the state the next round starts from (a JSON-able dict, see docs/rounds.md).
        number: this round's number (1, 2, ...).
        colour: the authors' colour of the round (blue: every imbalance under 3 %, ...).
        worst_imbalance: the largest imbalance, percent of a good's traded volume.
        balanced: every good within the threshold; ``finished``: balanced or the round cap.
        answered: the service's council keys whose answers replaced a computed response.
        worst_goods: the ``WORST_GOODS`` goods with the largest imbalance, worst first.
        record: the procedure's record of the round (all goods, in the experiment's order).
    """

    state: dict
    number: int
    colour: str
    worst_imbalance: float
    balanced: bool
    finished: bool
    answered: tuple[str, ...]
    worst_goods: tuple[GoodBalance, ...]
    record: RoundRecord = field(repr=False)

    def summary(self) -> dict:
        """The outcome without the state and the record, as a JSON-able dict to publish."""
        return {
            "round": self.number,
            "colour": self.colour,
            "worst_imbalance": self.worst_imbalance,
            "balanced": self.balanced,
            "finished": self.finished,
            "answered": list(self.answered),
            "worst_goods": [vars(good).copy() for good in self.worst_goods],
        }


@dataclass(frozen=True, eq=False)
class _Split:
    """How a workplace's units of one good are shared among its procedure worker councils."""

    positions: np.ndarray  # worker positions (rows of the experiment's worker councils)
    shares: np.ndarray  # their shares, summing to 1


@dataclass(frozen=True, eq=False)
class _Workplace:
    positions: np.ndarray  # its procedure worker councils, ascending
    entries: np.ndarray  # their input entries (CSR positions of experiment.workers)
    supplies: dict[int, _Split]  # good it makes -> split
    demands: dict[int, _Split]  # input it uses -> split


def _fail(message: str, key: str | None = None, field_name: str | None = None):
    raise RoundsError(message, Where(id=key, field=field_name))


def _fingerprint(town: CalibratedTown) -> str:
    """sha256 of everything the rounds compute with: the calibrated councils, the goods and
    the starting prices. Two calibrations with the same fingerprint run identical rounds."""
    exp = town.experiment
    cc, wc = exp.consumers, exp.workers
    digest = hashlib.sha256()
    digest.update(f"{exp.goods_per_category}|{'|'.join(town.good_labels)}".encode())
    arrays = (
        cc.ids, cc.income, cc.utility_exponents, cc.public_good_exponents,
        wc.ids, wc.industry, wc.product, wc.input_indptr, wc.input_goods, wc.input_exponents,
        wc.productivity, wc.effort_exponent, wc.disutility_exponent, wc.disutility_scale,
        exp.nature_supply, exp.labour_supply, town.labour_value_prices, town.worker_technique,
        town.worker_planned_output, town.reference_prices,
    )  # fmt: skip
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _check_key(key, where_field: str) -> str:
    if not (isinstance(key, str) and key):
        _fail(f"a council key must be non-empty text, got {key!r}", None, where_field)
    return key


def _check_setup_values(consumers, workplaces, threshold, max_rounds, seed, workers_per_technique):
    if isinstance(consumers, (str, bytes)) or not isinstance(consumers, Sequence):
        _fail("consumers must be a list of council keys (text)", None, "consumers")
    if not consumers:
        _fail("the rounds need at least one consumer council", None, "consumers")
    seen: dict[str, str] = {}
    for i, key in enumerate(consumers):
        _check_key(key, f"consumers[{i}]")
        if key in seen:
            _fail(f"consumer council {key!r} is listed twice", key, f"consumers[{i}]")
        seen[key] = "consumers"
    if not isinstance(workplaces, Mapping):
        _fail("workplaces must map a council key to the technique ids it runs", None, "workplaces")
    for key, techniques in workplaces.items():
        _check_key(key, "workplaces")
        if key in seen:
            _fail(
                f"council {key!r} is both a consumer council and a workplace; a key answers "
                "for one council",
                key,
                "workplaces",
            )
        seen[key] = "workplaces"
        if isinstance(techniques, (str, bytes)) or not isinstance(techniques, Sequence):
            _fail("a workplace's techniques must be a list of technique ids", key, "workplaces")
        if not techniques:
            _fail("the workplace lists no techniques", key, f"workplaces[{key}]")
    for name, value in (("max_rounds", max_rounds), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            _fail(f"{name} must be a whole number, got {value!r}", None, name)
    per = workers_per_technique
    if isinstance(per, bool) or not isinstance(per, numbers.Integral) or per < 1:
        _fail(
            f"workers_per_technique must be a whole number >= 1, got {per!r}",
            None,
            "workers_per_technique",
        )
    if seed < 0:
        _fail(f"seed must be at least 0, got {seed}", None, "seed")
    if max_rounds < 1:
        _fail(f"max_rounds must be at least 1, got {max_rounds}", None, "max_rounds")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        _fail(f"threshold must be a number (percent), got {threshold!r}", None, "threshold")
    if not (math.isfinite(threshold) and threshold > 0):
        _fail(f"threshold must be a positive percentage, got {threshold!r}", None, "threshold")


def start_rounds(
    economy: Economy,
    needs,
    *,
    consumers: Sequence[str],
    workplaces: Mapping[str, Sequence[str]],
    threshold: float = 3.0,
    max_rounds: int = 200,
    seed: int = 0,
    workers_per_technique: int = 10,
) -> LiveRounds:
    """Calibrate the town's councils to ``economy`` and ``needs`` and tie the service's
    council keys to them; the rounds open at the labour values (as in
    ``calibration.rounds_against_optimum``) and run phase 1 only.

    ``needs``: what ``planning.as_needs`` reads (product, amount, council, priority). The
    calibration uses the town's total needs: ``len(consumers)`` consumer councils share
    them, each with exponents drawn around the town's budget shares (``seed``), not around
    its own needs; the i-th key of ``consumers`` answers for the i-th of them.

    ``workplaces`` maps a workplace council's key to the ids of the techniques it runs. It
    answers for every procedure worker council of those techniques (``workers_per_technique``
    per technique and use of its product); a technique the optimal plan does not run has
    none. A technique claimed by two workplaces is refused: each procedure worker council
    answers through one workplace. Councils of techniques no workplace claims are always
    answered for by their computed response.

    ``threshold`` (percent) and ``max_rounds``: the rounds finish when every good balances
    within the threshold, or after ``max_rounds`` rounds. Raises :class:`RoundsError`
    naming the key and field of the first problem.
    """
    _check_setup_values(consumers, workplaces, threshold, max_rounds, seed, workers_per_technique)
    technique_at = {str(t): i for i, t in enumerate(economy.technique_ids)}
    claimed: dict[int, str] = {}
    for key in sorted(workplaces):
        for i, tid in enumerate(workplaces[key]):
            where = f"workplaces[{key}][{i}]"
            if not isinstance(tid, str) or tid not in technique_at:
                _fail(f"technique {tid!r} is not in economy {economy.name!r}", key, where)
            t = technique_at[tid]
            if t in claimed:
                other = claimed[t]
                _fail(
                    f"technique {tid!r} is claimed by workplaces {other!r} and {key!r}; "
                    "name each technique under the one workplace whose council answers for it",
                    key,
                    where,
                )
            claimed[t] = key
    settings = RoundSettings(threshold=float(threshold), max_rounds=int(max_rounds), seed=int(seed))
    town = calibrate_town(
        economy,
        needs,
        consumer_councils=len(consumers),
        workers_per_technique=int(workers_per_technique),
        seed=int(seed),
    )
    return LiveRounds(
        town,
        consumers=tuple(consumers),
        workplaces={key: tuple(workplaces[key]) for key in sorted(workplaces)},
        claimed=claimed,
        settings=replace(settings, initial_prices=town.labour_value_prices),
        workers_per_technique=int(workers_per_technique),
    )


class LiveRounds:
    """The rounds of one calibrated town, run one at a time from JSON state dicts.

    Build with :func:`start_rounds` or :meth:`from_setup`. Every method is a pure function
    of its arguments and the setup: the service may build one per request.
    """

    def __init__(
        self,
        town: CalibratedTown,
        *,
        consumers: tuple[str, ...],
        workplaces: dict[str, tuple[str, ...]],
        claimed: dict[int, str],
        settings: RoundSettings,
        workers_per_technique: int,
    ):
        self.town = town
        self.settings = settings
        self.consumers = consumers
        self.workplaces = workplaces
        self._workers_per_technique = workers_per_technique
        self._fingerprint = _fingerprint(town)
        exp = town.experiment
        self.experiment = exp
        self.terms = council_terms(exp)
        g = exp.goods_per_category
        self._category = np.arange(exp.n_goods) // g
        labels = town.good_labels
        self._present = np.array([label != "absent" for label in labels])
        self._label_at = {label: j for j, label in enumerate(labels) if label != "absent"}
        self.goods = tuple(label for label in labels if label != "absent")
        self._consumer_id = {
            key: int(i) for key, i in zip(consumers, exp.consumers.ids, strict=True)
        }
        self._order = consumers + tuple(workplaces)  # canonical: answers are read in this order
        self._workplace = {key: self._workplace_of(key, claimed) for key in workplaces}
        self._service_key: dict[CouncilKey, str] = {
            ("consumer", i): key for key, i in self._consumer_id.items()
        }
        for key, place in self._workplace.items():
            for pos in place.positions:
                self._service_key[("worker", int(exp.workers.ids[pos]))] = key

    def _workplace_of(self, key: str, claimed: dict[int, str]) -> _Workplace:
        """The procedure worker councils a workplace answers for, and how its numbers split:
        a good it makes in proportion to each council's planned output, an input in proportion
        to each council's use of it at the reference prices (exponent x revenue)."""
        town, wc = self.town, self.experiment.workers
        mine = np.array([claimed.get(t) == key for t in town.worker_technique.tolist()], bool)
        positions = np.flatnonzero(mine)
        own = self.terms.output_goods
        planned = town.worker_planned_output
        supplies = {}
        for j in np.unique(own[positions]).tolist():
            at = positions[own[positions] == j]
            supplies[j] = _Split(at, planned[at] / planned[at].sum())
        rows = wc.input_rows()
        entries = np.flatnonzero(mine[rows])
        revenue = town.reference_prices[own] * planned
        demands = {}
        for j in np.unique(wc.input_goods[entries]).tolist():
            at = entries[wc.input_goods[entries] == j]
            weight = wc.input_exponents[at] * revenue[rows[at]]
            demands[j] = _Split(rows[at], weight / weight.sum())
        return _Workplace(positions, entries, supplies, demands)

    # ------------------------------------------------------------------ the records

    @property
    def setup(self) -> dict:
        """The JSON-able record :meth:`from_setup` rebuilds these rounds from."""
        return {
            "format": SETUP_FORMAT,
            "consumers": list(self.consumers),
            "workplaces": {key: list(t) for key, t in self.workplaces.items()},
            "threshold": self.settings.threshold,
            "max_rounds": self.settings.max_rounds,
            "seed": self.settings.seed,
            "workers_per_technique": self._workers_per_technique,
            "calibration": self._fingerprint,
        }

    @classmethod
    def from_setup(cls, economy: Economy, needs, setup: Mapping) -> LiveRounds:
        """Rebuild the rounds a ``setup`` record describes, from the same economy and needs.

        Refuses a record of another format, and an economy or needs that calibrate otherwise
        than the record's (its ``calibration`` fingerprint differs).
        """
        if not isinstance(setup, Mapping):
            _fail("the setup record must be a mapping (a JSON object)", None, "setup")
        if setup.get("format") != SETUP_FORMAT:
            _fail(
                f"the setup record's format is {setup.get('format')!r}, not {SETUP_FORMAT!r}",
                None,
                "setup.format",
            )
        wanted = ("consumers", "workplaces", "threshold", "max_rounds", "seed")
        wanted += ("workers_per_technique", "calibration")
        missing = [name for name in wanted if name not in setup]
        if missing:
            _fail(f"the setup record lacks {', '.join(missing)}", None, f"setup.{missing[0]}")
        live = start_rounds(
            economy,
            needs,
            consumers=setup["consumers"],
            workplaces=setup["workplaces"],
            threshold=setup["threshold"],
            max_rounds=setup["max_rounds"],
            seed=setup["seed"],
            workers_per_technique=setup["workers_per_technique"],
        )
        if live._fingerprint != setup["calibration"]:
            _fail(
                "this economy and these needs calibrate other councils than the record's "
                f"(fingerprint {live._fingerprint[:12]}..., the record's "
                f"{str(setup['calibration'])[:12]}...): give the economy and needs the rounds "
                "started with",
                None,
                "setup.calibration",
            )
        return live

    def initial_state(self) -> dict:
        """The state the first round opens with: the labour-value prices, damping 0.25."""
        return self._state_dict(
            initial_state(self.experiment, self.settings.initial_prices), finished=False
        )

    @staticmethod
    def _state_dict(state: PriceState, *, finished: bool) -> dict:
        return {
            "round": state.iteration,
            "prices": state.prices.tolist(),
            "damping": state.damping.tolist(),
            "untouched": state.untouched.tolist(),
            "finished": finished,
        }

    def _read_state(self, state: Mapping) -> tuple[PriceState, bool]:
        if not isinstance(state, Mapping):
            _fail("a round state must be a mapping (a JSON object)", None, "state")
        missing = [name for name in _STATE_KEYS if name not in state]
        if missing:
            _fail(f"the round state lacks {', '.join(missing)}", None, f"state.{missing[0]}")
        n = self.experiment.n_goods
        number = state["round"]
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            _fail(f"round must be a whole number >= 0, got {number!r}", None, "state.round")
        arrays = {}
        for name, kind in (("prices", float), ("damping", float), ("untouched", bool)):
            values = state[name]
            if not isinstance(values, Sequence) or len(values) != n:
                _fail(f"{name} must be a list of {n} entries, one per good", None, f"state.{name}")
            ok = (lambda v: isinstance(v, bool)) if kind is bool else _is_number
            bad = next((i for i, v in enumerate(values) if not ok(v)), None)
            if bad is not None:
                _fail(f"{name}[{bad}] is {values[bad]!r}", None, f"state.{name}[{bad}]")
            arrays[name] = np.array(values, dtype=np.float64 if kind is float else bool)
        prices, damping = arrays["prices"], arrays["damping"]
        bad = np.flatnonzero(~(np.isfinite(prices) & (prices > 0)))
        if bad.size:
            j = int(bad[0])
            _fail(f"price {prices[j]!r} must be positive and finite", None, f"state.prices[{j}]")
        bad = np.flatnonzero(~((damping >= 0) & (damping <= 0.25)))
        if bad.size:
            j = int(bad[0])
            _fail(f"damping {damping[j]!r} must be in [0, 0.25]", None, f"state.damping[{j}]")
        if not isinstance(state["finished"], bool):
            _fail("finished must be true or false", None, "state.finished")
        if not state["finished"] and number >= self.settings.max_rounds:
            _fail(
                f"round {number} is not finished, but these rounds stop after "
                f"{self.settings.max_rounds}",
                None,
                "state.round",
            )
        return PriceState(prices, damping, number, arrays["untouched"]), state["finished"]

    def prices(self, state: Mapping) -> dict[str, float]:
        """The indicative price of each good (not the absent ones) the round opens at, in the
        rounds' unit of account per unit (hours at the labour values it starts from)."""
        prices = self._read_state(state)[0].prices
        return {label: float(prices[j]) for label, j in self._label_at.items()}

    # ------------------------------------------------------------------ answers

    def answer_goods(self, council_key: str) -> dict[str, tuple[str, ...]]:
        """The labels a council may answer with: ``{"supplies": ..., "demands": ...}``.

        A consumer council demands private goods (``... (households)``) and public goods
        (``... (public)``, the level it asks for the town); a workplace supplies the goods its
        techniques make and demands the inputs, labour and resources they use.
        """
        kind = self._kind(council_key)
        labels = self.town.good_labels
        if kind == "consumer":
            cat = self._category
            wanted = self._present & ((cat == PRIVATE) | (cat == PUBLIC))
            return {"supplies": (), "demands": tuple(labels[j] for j in np.flatnonzero(wanted))}
        place = self._workplace[council_key]
        return {
            "supplies": tuple(labels[j] for j in sorted(place.supplies)),
            "demands": tuple(labels[j] for j in sorted(place.demands)),
        }

    def _kind(self, council_key) -> str:
        if isinstance(council_key, str) and council_key in self._consumer_id:
            return "consumer"
        if isinstance(council_key, str) and council_key in self._workplace:
            return "workplace"
        _fail(
            f"council {council_key!r} is neither a consumer council nor a workplace of these "
            "rounds",
            str(council_key),
            "council",
        )

    def _units(self, key: str, answer: Mapping, side: str) -> list[tuple[int, float]]:
        """(good, units) of one side of an answer, ascending by good; refuses a label that
        is not a good and a quantity that is not a finite number >= 0."""
        entries = answer.get(side, {})
        if not isinstance(entries, Mapping):
            _fail(f"{side} must map good labels to units", key, side)
        out = []
        for label, value in entries.items():
            where = f"{side}[{label}]"
            if label not in self._label_at:
                _fail(f"{label!r} is not a good of these rounds (see goods)", key, where)
            if not _is_number(value):
                _fail(f"units of {label!r} must be a number, got {value!r}", key, where)
            units = float(value)
            if not (math.isfinite(units) and units >= 0):
                _fail(
                    f"units of {label!r} must be finite and not negative, got {units!r}", key, where
                )
            out.append((self._label_at[label], units))
        return sorted(out)

    def read_answer(self, council_key: str, answer: Mapping) -> dict[CouncilKey, Proposal]:
        """A service council's answer in labels, as the procedure's overrides.

        A consumer council answers ``{"demands": {label: units}}``: its private goods and
        the public-good levels it asks for. A workplace answers ``{"supplies": {...},
        "demands": {...}}`` for all the procedure worker councils it runs: units of a good it
        makes are shared among its councils that make it in proportion to their planned
        output, units of an input among its councils that use it in proportion to their use
        at the reference prices. An answer is the whole proposal: a good left out counts as
        zero. Raises :class:`RoundsError` whose ``where`` names the key and the field.
        """
        kind = self._kind(council_key)
        key = council_key
        if not isinstance(answer, Mapping):
            _fail("an answer must be a mapping with supplies and/or demands", key, "answer")
        allowed = ("demands",) if kind == "consumer" else ("supplies", "demands")
        for name in answer:
            if kind == "consumer" and name == "supplies":
                if answer[name]:
                    _fail(
                        "a consumer council states demands only; move its entries from "
                        "supplies to demands or drop them",
                        key,
                        "supplies",
                    )
            elif name not in allowed:
                _fail(
                    f"an answer has no field {name!r}; it has {' and '.join(allowed)}",
                    key,
                    str(name),
                )
        cat = self._category
        labels = self.town.good_labels
        if kind == "consumer":
            demands = self._units(key, answer, "demands")
            for j, _ in demands:
                if cat[j] not in (PRIVATE, PUBLIC):
                    _fail(
                        f"{labels[j]!r} is not a good a consumer council asks for (a "
                        "household or public good)",
                        key,
                        f"demands[{labels[j]}]",
                    )
            return {("consumer", self._consumer_id[key]): Proposal(demands=dict(demands))}

        place = self._workplace[key]
        per_council = {int(p): ({}, {}) for p in place.positions}
        for side, name in enumerate(("supplies", "demands")):
            splits = (place.supplies, place.demands)[side]
            for j, units in self._units(key, answer, name):
                if j not in splits:
                    _fail(self._not_theirs(key, j, side), key, f"{name}[{labels[j]}]")
                split = splits[j]
                for p, share in zip(split.positions.tolist(), split.shares.tolist(), strict=True):
                    per_council[p][side][j] = units * share
        ids = self.experiment.workers.ids
        return {
            ("worker", int(ids[p])): Proposal(supplies=s, demands=d)
            for p, (s, d) in sorted(per_council.items(), key=lambda item: int(ids[item[0]]))
        }

    def _not_theirs(self, key: str, j: int, side: int) -> str:
        """Why workplace ``key`` cannot supply (side 0) or demand (side 1) good ``j``."""
        labels, place = self.town.good_labels, self._workplace[key]
        if side == 1 and not INTERMEDIATE <= self._category[j] <= LABOUR:
            return (
                f"{labels[j]!r} is not an input; a workplace demands goods for workplaces "
                "(inputs), labour and resources"
            )
        verb = ("make", "use")[side]
        listed = ", ".join(labels[i] for i in sorted((place.supplies, place.demands)[side]))
        return (
            f"workplace {key!r} does not {verb} {labels[j]!r}; its techniques {verb} "
            f"{listed or 'nothing in these rounds (the plan runs none of them)'}"
        )

    def _overrides(self, answers: Mapping) -> tuple[dict[CouncilKey, Proposal], tuple[str, ...]]:
        """The overrides of one round, in a fixed order (the setup's, whatever the order of
        ``answers``: a JSONB column does not keep it), and the keys that replaced a response."""
        if not isinstance(answers, Mapping):
            _fail("a round's answers must map council keys to answers", None, "answers")
        for key in answers:
            self._kind(key)
        overrides: dict[CouncilKey, Proposal] = {}
        answered = []
        for key in self._order:
            if key in answers:
                fragment = self.read_answer(key, answers[key])
                if fragment:
                    answered.append(key)
                overrides.update(fragment)
        order = {"consumer": 0, "worker": 1}
        ordered = dict(sorted(overrides.items(), key=lambda item: (order[item[0][0]], item[0][1])))
        return ordered, tuple(answered)

    def computed_answer(self, state: Mapping, council_key: str) -> dict:
        """The calibrated response of a service council at the state's prices, as an answer
        in labels (what the council is answered for with if it does not answer)."""
        kind = self._kind(council_key)
        prices = self._read_state(state)[0].prices
        labels = self.town.good_labels
        if kind == "consumer":
            private, public = consumer_demand(self.experiment, prices)
            i = int(np.searchsorted(self.experiment.consumers.ids, self._consumer_id[council_key]))
            units = np.concatenate([private[i], public[i]])
            g = self.experiment.goods_per_category
            goods = np.r_[np.arange(PRIVATE * g, (PRIVATE + 1) * g), np.arange(PUBLIC * g, 5 * g)]
            asked = {labels[j]: float(u) for j, u in zip(goods, units, strict=True) if u > 0}
            return {"demands": asked}
        place = self._workplace[council_key]
        q, revenue = worker_output(self.terms, prices)
        x = worker_inputs(self.terms, prices, revenue)
        n = self.experiment.n_goods
        own = self.terms.output_goods[place.positions]
        made = np.bincount(own, weights=q[place.positions], minlength=n)
        goods = self.experiment.workers.input_goods[place.entries]
        used = np.bincount(goods, weights=x[place.entries], minlength=n)
        return {
            "supplies": {labels[j]: float(made[j]) for j in sorted(place.supplies)},
            "demands": {labels[j]: float(used[j]) for j in sorted(place.demands)},
        }

    # ------------------------------------------------------------------ rounds

    def step(
        self, state: Mapping, answers: Mapping[str, Mapping], *, worst_goods: int = WORST_GOODS
    ) -> RoundOutcome:
        """Run one round from ``state``: the councils in ``answers`` (service key -> answer,
        see :meth:`read_answer`) answer themselves, every other council is answered for by
        its computed response. Refuses a finished state."""
        price_state, finished = self._read_state(state)
        if finished:
            _fail(
                f"the rounds finished with round {price_state.iteration}; there is no next round",
                None,
                "state.finished",
            )
        overrides, answered = self._overrides(answers)
        new_state, record, _ = planning_round(self.terms, price_state, overrides=overrides)
        balanced = not (record.imbalance > self.settings.threshold).any()
        finished = balanced or new_state.iteration >= self.settings.max_rounds
        present = np.flatnonzero(self._present)
        worst = present[np.argsort(-record.imbalance[present], kind="stable")[:worst_goods]]
        labels = self.town.good_labels
        return RoundOutcome(
            state=self._state_dict(new_state, finished=finished),
            number=record.iteration,
            colour=record.colour,
            worst_imbalance=record.worst_imbalance,
            balanced=balanced,
            finished=finished,
            answered=answered,
            worst_goods=tuple(
                GoodBalance(
                    label=labels[j],
                    price=float(record.start_prices[j]),
                    supply=float(record.supply[j]),
                    demand=float(record.demand[j]),
                    imbalance=float(record.imbalance[j]),
                    new_price=float(record.prices[j]),
                )
                for j in worst.tolist()
            ),
            record=record,
        )

    def rerun(self, answers_by_round: Sequence[Mapping[str, Mapping]]) -> RoundsResult:
        """The whole procedure from the first round, with round i's answers
        ``answers_by_round[i - 1]``: ``run_rounds`` with those overrides, so the rounds are
        the very calls :meth:`step` made. Refuses a record with answers for more rounds than
        the procedure ran, or too few for it to finish."""
        if isinstance(answers_by_round, Mapping) or not isinstance(answers_by_round, Sequence):
            _fail("answers_by_round must be a list: one mapping of answers per round")
        overrides = []
        for number, answers in enumerate(answers_by_round, start=1):
            try:
                overrides.append(self._overrides(answers)[0])
            except RoundsError as err:
                raise RoundsError(
                    f"round {number}: {err.message}",
                    Where(source=f"round {number}", id=err.where.id, field=err.where.field),
                ) from None

        def of_round(phase: int, iteration: int, prices: np.ndarray):
            if iteration > len(overrides):
                _fail(
                    f"the record has answers for {len(overrides)} rounds, but the rounds had "
                    f"not finished after round {len(overrides)}",
                    None,
                    "answers_by_round",
                )
            return overrides[iteration - 1]

        result = run_rounds(self.experiment, self.settings, overrides=of_round)
        if result.iterations != len(overrides):
            _fail(
                f"the rounds finished after round {result.iterations}, but the record has "
                f"answers for {len(overrides)} rounds",
                None,
                "answers_by_round",
            )
        return result

    def result(self, answers_by_round: Sequence[Mapping[str, Mapping]]) -> tuple[Plan, dict]:
        """The finished procedure (:meth:`rerun`) as a plan variant (method ``"rounds"``,
        goods by their labels) and a JSON-able summary with the labour the councils' last
        proposals use against the least labour that makes the same (``compare_with_optimum``)."""
        outcome = self.rerun(answers_by_round)
        comparison = compare_with_optimum(self.town, outcome)
        labels = np.array(self.town.good_labels, dtype=object)
        names = self.experiment.good_names()
        label_of = {
            name: (label if label != "absent" else name)
            for name, label in zip(names, labels, strict=True)
        }
        plan = outcome.to_plan()
        technique_ids = self.town.economy.technique_ids
        relabel = np.vectorize(label_of.__getitem__, otypes=[object])
        shortfall = plan.shortfall.assign(product=relabel(plan.shortfall["product"].to_numpy()))
        plan = replace(
            plan,
            product_ids=relabel(plan.product_ids),
            labour_ids=relabel(plan.labour_ids),
            resource_ids=relabel(plan.resource_ids),
            technique_ids=np.array(
                [
                    f"{name} ({technique_ids[t]})"
                    for name, t in zip(plan.technique_ids, self.town.worker_technique, strict=True)
                ],
                dtype=object,
            ),
            shortfall=shortfall,
        )
        answered = sorted(
            {self._service_key[key] for key in outcome.self_answered if key in self._service_key},
            key=self._order.index,
        )
        summary = {
            "rounds": outcome.iterations,
            "converged": outcome.converged,
            "threshold": outcome.threshold,
            "worst_imbalance": outcome.worst_imbalance,
            "colour": outcome.rows[-1].colour,
            "unbalanced": {label_of[name]: pct for name, pct in outcome.unbalanced},
            "answered": answered,
            "labour": {
                "hours": comparison.participatory_total,
                "optimal_hours": comparison.optimal_total,
                "ratio": comparison.ratio,
                "optimal_status": comparison.optimal_status,
                "by_kind": {
                    kind: {"hours": float(ours), "optimal_hours": float(best)}
                    for kind, ours, best in zip(
                        comparison.labour_ids,
                        comparison.participatory_labour,
                        comparison.optimal_labour,
                        strict=True,
                    )
                },
            },
            "report": comparison.report(),
        }
        return plan, summary


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def replay(
    economy: Economy,
    needs,
    setup: Mapping,
    answers_by_round: Sequence[Mapping[str, Mapping]],
) -> tuple[Plan, dict]:
    """Re-run the rounds a ``setup`` record describes with every round's answers and return
    the plan variant and its summary (:meth:`LiveRounds.result`): the numbers stepping gave."""
    return LiveRounds.from_setup(economy, needs, setup).result(answers_by_round)


__all__ = [
    "SETUP_FORMAT",
    "WORST_GOODS",
    "GoodBalance",
    "LiveRounds",
    "RoundOutcome",
    "replay",
    "start_rounds",
]
