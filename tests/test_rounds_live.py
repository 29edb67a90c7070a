"""Participatory rounds one round at a time (planning.rounds.live) on the shipped demo town:
stepping agrees with run_rounds, the JSON state and setup carry everything, replay gives
bitwise the numbers stepping gave, and wrong answers are refused naming council and label."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from councilplan.economy import DEMO_BUNDLE, load_demo
from councilplan.planning import read_needs
from councilplan.planning.rounds import RoundsError, RoundSettings, run_rounds
from councilplan.planning.rounds.calibration import calibrate_town
from councilplan.planning.rounds.live import LiveRounds, replay, start_rounds

CONSUMERS = ["12", "13", "14"]
WORKPLACES = {"40": ["bakery"], "41": ["wind_farm", "coal_power"], "50": ["chipper"]}


@pytest.fixture(scope="module")
def economy():
    return load_demo()


@pytest.fixture(scope="module")
def needs(economy):
    return read_needs(DEMO_BUNDLE / "needs" / "town.csv", economy)


@pytest.fixture(scope="module")
def live(economy, needs):
    return start_rounds(economy, needs, consumers=CONSUMERS, workplaces=WORKPLACES)


def through_json(value):
    return json.loads(json.dumps(value))


def reversed_order(answers: dict) -> dict:
    """The same answers with every mapping's keys in reverse order (as a JSONB column may
    give them back)."""
    if not isinstance(answers, dict):
        return answers
    return {key: reversed_order(answers[key]) for key in reversed(list(answers))}


def run_to_end(live, answers_of_round):
    """Step from the initial state until finished; the state goes through JSON each time.
    Returns the outcomes and the answers of each round."""
    state, outcomes, record = live.initial_state(), [], []
    while True:
        answers = answers_of_round(state["round"] + 1, state)
        outcome = live.step(state, answers)
        outcomes.append(outcome)
        record.append(answers)
        state = through_json(outcome.state)
        if outcome.finished:
            return outcomes, record


def scaled(answer: dict, factor: float) -> dict:
    return {side: {k: v * factor for k, v in units.items()} for side, units in answer.items()}


# --------------------------------------------------------------------------- stepping


def test_stepping_without_answers_is_run_rounds(economy, needs, live):
    town = calibrate_town(economy, needs, consumer_councils=len(CONSUMERS), seed=0)
    result = run_rounds(town.experiment, RoundSettings(initial_prices=town.labour_value_prices))
    outcomes, _ = run_to_end(live, lambda number, state: {})
    assert len(outcomes) == result.iterations > 10
    for outcome, row in zip(outcomes, result.rows, strict=True):
        assert np.array_equal(np.array(outcome.state["prices"]), row.prices)
        assert np.array_equal(np.array(outcome.state["damping"]), row.damping)
        assert (outcome.number, outcome.colour) == (row.iteration, row.colour)
        assert outcome.answered == ()
    last = outcomes[-1]
    assert last.finished and last.balanced == result.converged
    assert last.worst_imbalance == result.worst_imbalance
    assert all(not o.finished for o in outcomes[:-1])


def test_goods_and_prices_are_labelled(live):
    state = live.initial_state()
    labels = live.town.good_labels
    assert live.goods == tuple(label for label in labels if label != "absent")
    assert len(live.goods) < len(labels)
    prices = live.prices(state)
    assert list(prices) == list(live.goods)
    bread = labels.index("bread (households)")
    assert prices["bread (households)"] == live.town.labour_value_prices[bread]


def test_a_council_answering_itself_changes_the_round(live):
    state = live.initial_state()
    quiet = live.step(state, {})
    asked = live.computed_answer(state, "13")
    asked["demands"]["bread (households)"] *= 3
    loud = live.step(state, {"13": asked})
    assert loud.answered == ("13",)
    assert loud.record.self_answered == (("consumer", 2),)
    assert (
        live.prices(loud.state)["bread (households)"]
        > live.prices(quiet.state)["bread (households)"]
    )
    # only the bread market moved: the rest is what the computed response asks
    bread = live.town.good_labels.index("bread (households)")
    others = np.arange(live.experiment.n_goods) != bread
    assert np.allclose(loud.record.demand[others], quiet.record.demand[others], rtol=1e-12)


def test_the_ith_consumer_key_answers_for_the_ith_consumer_council(live):
    state = live.initial_state()
    for i, key in enumerate(CONSUMERS):
        assert list(live.read_answer(key, {"demands": {}})) == [("consumer", i + 1)]
    quiet = live.step(state, {})
    # each answering with its own computed response changes nothing but the record
    own = {key: live.computed_answer(state, key) for key in CONSUMERS}
    same = live.step(state, own)
    assert same.answered == tuple(CONSUMERS)
    assert np.allclose(same.record.demand, quiet.record.demand, rtol=1e-12, atol=0)
    # the first key's response given for the second is another council's: demand moves
    swapped = live.step(state, {"13": own["12"]})
    assert not np.allclose(swapped.record.demand, quiet.record.demand, rtol=1e-6, atol=0)


def test_a_workplace_answers_for_its_techniques_councils(live):
    town = live.town
    bakery = list(town.economy.technique_ids).index("bakery")
    fragment = live.read_answer(
        "40",
        {"supplies": {"bread (households)": 100.0}, "demands": {"labour general": 50.0}},
    )
    ids = live.experiment.workers.ids
    assert sorted(i for _, i in fragment) == sorted(ids[town.worker_technique == bakery].tolist())
    assert len(fragment) == 20  # two uses of bread, 10 councils each
    households = town.good_labels.index("bread (households)")
    labour = town.good_labels.index("labour general")
    making = [p for p in fragment.values() if p.supplies]
    assert len(making) == 10
    assert math.isclose(sum(p.supplies[households] for p in making), 100.0, rel_tol=1e-12)
    assert math.isclose(sum(p.demands[labour] for p in fragment.values()), 50.0, rel_tol=1e-12)
    assert all(not p.supplies for p in fragment.values() if p not in making)


def test_workplaces_answering_their_computed_response_change_no_total(live):
    state = through_json(live.step(live.initial_state(), {}).state)
    quiet = live.step(state, {})
    answers = {key: live.computed_answer(state, key) for key in ("41", "40")}
    same = live.step(state, answers)
    assert same.answered == ("40", "41")
    assert np.allclose(same.record.supply, quiet.record.supply, rtol=1e-12, atol=1e-9)
    assert np.allclose(same.record.demand, quiet.record.demand, rtol=1e-12, atol=1e-9)
    # making 20 % less bread is a shortage the next prices answer
    less = live.step(state, {"40": scaled(answers["40"], 0.8)})
    assert (
        live.prices(less.state)["bread (households)"]
        > live.prices(quiet.state)["bread (households)"]
    )


def test_a_workplace_whose_techniques_do_not_run_answers_for_nothing(live):
    assert live.answer_goods("50") == {"supplies": (), "demands": ()}
    outcome = live.step(live.initial_state(), {"50": {}})
    assert outcome.answered == ()


def test_state_survives_json(live):
    state = live.initial_state()
    for number in range(1, 4):
        answers = {"12": {"demands": {"bread (households)": 250.0 + number}}}
        direct = live.step(state, answers)
        stored = live.step(through_json(state), through_json(answers))
        assert direct.state == stored.state
        for name in ("prices", "damping"):
            assert np.array_equal(np.array(direct.state[name]), np.array(stored.state[name]))
        assert direct.summary() == stored.summary() == through_json(stored.summary())
        state = through_json(direct.state)


def test_a_finished_state_is_refused(economy, needs):
    short = start_rounds(
        economy, needs, consumers=["1"], workplaces={}, max_rounds=2, workers_per_technique=1
    )
    state = short.initial_state()
    first = short.step(state, {})
    second = short.step(first.state, {})
    assert (first.finished, second.finished, second.balanced) == (False, True, False)
    with pytest.raises(RoundsError, match="finished with round 2") as err:
        short.step(second.state, {})
    assert err.value.where.field == "state.finished"


# --------------------------------------------------------------------------- replay


def answers_of(live):
    """Answers in rounds 2, 3 and 5 from a consumer and two workplaces."""

    def of_round(number, state):
        if number == 2:
            return {"12": scaled(live.computed_answer(state, "12"), 1.3)}
        if number == 3:
            return {"40": scaled(live.computed_answer(state, "40"), 0.9)}
        if number == 5:
            return {
                "41": scaled(live.computed_answer(state, "41"), 1.1),
                "14": live.computed_answer(state, "14"),
            }
        return {}

    return of_round


def test_replay_is_stepping(economy, needs, live):
    outcomes, record = run_to_end(live, answers_of(live))
    assert [o.answered for o in outcomes[:5]] == [(), ("12",), ("40",), (), ("14", "41")]
    rerun = live.rerun(record)
    assert rerun.iterations == len(outcomes)
    for outcome, row in zip(outcomes, rerun.rows, strict=True):
        assert np.array_equal(np.array(outcome.state["prices"]), row.prices)
        assert np.array_equal(outcome.record.supply, row.supply)
        assert np.array_equal(outcome.record.demand, row.demand)
    plan, summary = live.result(record)
    # from the stored records alone, keys in any order
    again, again_summary = replay(
        economy,
        needs,
        through_json(live.setup),
        [reversed_order(a) for a in through_json(record)],
    )
    assert again_summary == summary == through_json(summary)
    for name in ("activity", "output", "net_output", "labour", "prices", "needs"):
        assert np.array_equal(getattr(plan, name), getattr(again, name)), name
    assert plan.method == "rounds"
    assert "bread (households)" in set(plan.product_ids)
    assert summary["rounds"] == len(outcomes)
    assert summary["converged"] is outcomes[-1].balanced
    assert summary["answered"] == ["12", "14", "40", "41"]
    assert 1.0 <= summary["labour"]["ratio"] < 1.02
    assert summary["labour"]["hours"] == pytest.approx(plan.total_labour, rel=1e-12)


def test_replay_refuses_a_record_of_the_wrong_length(live):
    _, record = run_to_end(live, answers_of(live))
    with pytest.raises(RoundsError, match="had not finished after round"):
        live.rerun(record[:-1])
    with pytest.raises(RoundsError, match="finished after round"):
        live.rerun([*record, {}])
    with pytest.raises(RoundsError, match="round 2: .*not a good") as err:
        live.rerun([{}, {"12": {"demands": {"bred": 1.0}}}])
    assert (err.value.where.source, err.value.where.id) == ("round 2", "12")


def test_setup_rebuilds_the_rounds(economy, needs, live):
    setup = through_json(live.setup)
    assert setup == live.setup
    assert setup["consumers"] == CONSUMERS and setup["workplaces"] == WORKPLACES
    # the service's own needs table: council keys as text
    table = pd.read_csv(DEMO_BUNDLE / "needs" / "town.csv", dtype={"council": str})
    table["council"] = table["council"].map({"north": "12", "south": "13", "riverside": "14"})
    table["council"] = table["council"].fillna("town")
    again = LiveRounds.from_setup(economy, table, setup)
    state = live.initial_state()
    assert again.initial_state() == state
    answers = {"40": {"supplies": {"bread (households)": 90.0}}}
    assert again.step(state, answers).state == live.step(state, answers).state


def test_setup_refuses_other_needs_or_a_changed_record(economy, needs, live):
    table = pd.read_csv(DEMO_BUNDLE / "needs" / "town.csv")
    table["amount"] = table["amount"].astype(float)
    table.loc[table["product"] == "bread", "amount"] *= 1.01
    with pytest.raises(RoundsError, match="calibrate other councils") as err:
        LiveRounds.from_setup(economy, table, live.setup)
    assert err.value.where.field == "setup.calibration"
    with pytest.raises(RoundsError, match="calibrate other councils"):
        LiveRounds.from_setup(economy, needs, {**live.setup, "seed": 1})
    with pytest.raises(RoundsError, match="format"):
        LiveRounds.from_setup(economy, needs, {**live.setup, "format": "other/1"})
    with pytest.raises(RoundsError, match="lacks max_rounds"):
        LiveRounds.from_setup(
            economy, needs, {k: v for k, v in live.setup.items() if k != "max_rounds"}
        )


# --------------------------------------------------------------------------- refusals


MILK = "milk (households)"
POWER = "electricity (households)"


@pytest.mark.parametrize(
    ("key", "answer", "field", "message"),
    [
        ("99", {}, "council", "neither a consumer council nor a workplace"),
        ("12", ["bread"], "answer", "must be a mapping"),
        ("12", {"demands": {"bred (households)": 1.0}}, "demands[bred (households)]", "not a good"),
        ("12", {"demands": {"absent": 1.0}}, "demands[absent]", "not a good"),
        ("12", {"supplies": {"bread (households)": 1.0}}, "supplies", "demands only"),
        ("12", {"demands": {"grain (inputs)": 1.0}}, "demands[grain (inputs)]", "consumer"),
        ("12", {"wishes": {}}, "wishes", "no field 'wishes'"),
        ("12", {"demands": {MILK: -1.0}}, f"demands[{MILK}]", "not negative"),
        ("12", {"demands": {MILK: math.nan}}, f"demands[{MILK}]", "finite"),
        ("12", {"demands": {MILK: math.inf}}, f"demands[{MILK}]", "finite"),
        ("12", {"demands": {MILK: "12"}}, f"demands[{MILK}]", "must be a number"),
        ("12", {"demands": {MILK: True}}, f"demands[{MILK}]", "must be a number"),
        ("40", {"supplies": {POWER: 1.0}}, f"supplies[{POWER}]", f"does not make '{POWER}'"),
        ("40", {"demands": {"co2": 1.0}}, "demands[co2]", "does not use 'co2'"),
        (
            "40",
            {"demands": {"bread (households)": 1.0}},
            "demands[bread (households)]",
            "not an input",
        ),
        ("40", {"supplies": {"bread (inputs)": -2}}, "supplies[bread (inputs)]", "not negative"),
        ("40", {"effort": 3.0}, "effort", "no field 'effort'"),
        ("50", {"supplies": {"milk (inputs)": 1.0}}, "supplies[milk (inputs)]", "make nothing"),
    ],
)
def test_wrong_answers_are_refused_naming_council_and_label(live, key, answer, field, message):
    with pytest.raises(RoundsError, match=re.escape(message)) as err:
        live.read_answer(key, answer)
    assert (err.value.where.id, err.value.where.field) == (key, field)
    # the same through a round
    with pytest.raises(RoundsError, match=re.escape(message)):
        live.step(live.initial_state(), {key: answer})


@pytest.mark.parametrize(
    ("consumers", "workplaces", "settings", "field", "message"),
    [
        ([], {}, {}, "consumers", "at least one consumer council"),
        (["1", "1"], {}, {}, "consumers[1]", "listed twice"),
        (["1", 2], {}, {}, "consumers[1]", "non-empty text"),
        (["1"], {"1": ["bakery"]}, {}, "workplaces", "both a consumer council and a workplace"),
        (["1"], {"9": ["bakery"], "8": ["bakery"]}, {}, "workplaces[9][0]", "claimed by"),
        (["1"], {"9": ["baker"]}, {}, "workplaces[9][0]", "not in economy"),
        (["1"], {"9": []}, {}, "workplaces[9]", "no techniques"),
        (["1"], {}, {"threshold": 0}, "threshold", "positive"),
        (["1"], {}, {"max_rounds": 0}, "max_rounds", "at least 1"),
        (["1"], {}, {"seed": 1.5}, "seed", "whole number"),
    ],
)
def test_wrong_setups_are_refused(economy, needs, consumers, workplaces, settings, field, message):
    with pytest.raises(RoundsError, match=message) as err:
        start_rounds(economy, needs, consumers=consumers, workplaces=workplaces, **settings)
    assert err.value.where.field == field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s.pop("damping"), "state.damping"),
        (lambda s: s["prices"].pop(), "state.prices"),
        (lambda s: s["prices"].__setitem__(3, -1.0), "state.prices[3]"),
        (lambda s: s["prices"].__setitem__(4, "700"), "state.prices[4]"),
        (lambda s: s.__setitem__("round", -1), "state.round"),
        (lambda s: s.__setitem__("round", 200), "state.round"),
    ],
)
def test_broken_states_are_refused(live, change, field):
    state = live.initial_state()
    change(state)
    with pytest.raises(RoundsError) as err:
        live.step(state, {})
    assert err.value.where.field == field
