"""Participatory budgeting of hours by the Method of Equal Shares, checked by hand and
against pabutools."""

from __future__ import annotations

import json
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.councils.budgets import BudgetError, equal_shares

COSTS = {"A": 60, "B": 40, "C": 30}
BALLOTS = [{"A", "C"}, {"A", "C"}, {"A"}, {"B"}]


def test_plain_equal_shares_by_hand():
    """100 hours, 4 voters with 25 each. A (60 h) is shared by 3 supporters at 20 each
    (affordability 1/3 beats C's 1/2); then C's supporters have 5 + 5 < 30 left and B's one
    supporter 25 < 40, so equal shares alone buys only A."""
    r = equal_shares(100, COSTS, BALLOTS, completion="none")
    assert r.selected == ("A",)
    assert r.spent == 60 and r.leftover == 40
    assert r.per_voter_payments == (20, 20, 20, 0)
    assert r.voter_budget == 25


def test_add1_completion_raises_shares_until_exhaustive():
    """Raising each share by 1 hour at a time, at 35 hours C's supporters have 15 + 15 left
    after A, enough for C; A + C = 90 hours leaves no room for B (40): exhaustive."""
    r = equal_shares(100, COSTS, BALLOTS, completion="add1")
    assert r.selected == ("A", "C")
    assert r.voter_budget == 35 and r.increments == 10
    assert r.per_voter_payments == (35, 35, 20, 0)
    assert r.spent == 90


def test_utilitarian_fill_adds_by_approvals_per_hour():
    """After A, 40 hours remain; with cost utilities the fill ranks by approvals, so C (2)
    before B (1); C fits, then B (40) no longer does."""
    r = equal_shares(100, COSTS, BALLOTS, completion="utilitarian")
    assert r.by_equal_shares == ("A",) and r.filled == ("C",)
    assert r.selected == ("A", "C")
    assert "Added to use the remainder: C" in r.explanation


def test_equal_shares_is_proportional_not_majoritarian():
    """Four members want a-proposals, two want b-proposals, all 10 hours, budget 30: equal
    shares gives the larger group two and the smaller one, where a utilitarian count would
    give the larger group everything."""
    costs = {f"{g}{i}": 10 for g in "ab" for i in (1, 2, 3)}
    ballots = [{"a1", "a2", "a3"}] * 4 + [{"b1", "b2", "b3"}] * 2
    r = equal_shares(30, costs, ballots)
    assert sorted(r.selected) == ["a1", "a2", "b1"]
    assert sum(r.per_voter_payments[:4]) == 20 and sum(r.per_voter_payments[4:]) == 10


def test_cardinality_utility_prefers_cheap_popular_proposals():
    costs = {"big": 90, "small1": 30, "small2": 30, "small3": 30}
    ballots = [{"big", "small1", "small2", "small3"}] * 3
    by_cost = equal_shares(90, costs, ballots, completion="none", utility="cost")
    by_count = equal_shares(90, costs, ballots, completion="none", utility="cardinality")
    assert by_cost.selected == ("big",)  # ties at affordability 1/3: lexicographic id
    assert by_count.selected == ("small1", "small2", "small3")


def test_tie_break_order_decides_equal_affordability():
    costs = {"x": 10, "y": 10}
    ballots = [{"x", "y"}] * 2
    assert equal_shares(10, costs, ballots).selected == ("x",)
    assert equal_shares(10, costs, ballots, tie_break=["y"]).selected == ("y",)


def test_unapproved_proposals_are_not_funded_unless_asked():
    costs = {"wanted": 10, "nobody": 5}
    r = equal_shares(20, costs, [{"wanted"}])
    assert r.selected == ("wanted",)
    assert equal_shares(20, costs, [{"wanted"}], fund_unapproved=True).selected == (
        "wanted",
        "nobody",
    )


def test_fractional_hours_are_exact():
    """7/2 hours, 3 voters: 7/6 each. p (7/3 h) is exactly affordable by its two supporters
    (7/6 + 7/6); q (5/2 h) is not (7/3 < 5/2). No rounding may turn either around."""
    costs = {"p": Fraction(7, 3), "q": Fraction(5, 2)}
    r = equal_shares(Fraction(7, 2), costs, [{"p"}, {"p", "q"}, {"q"}], completion="none")
    assert r.selected == ("p",)
    assert r.spent == Fraction(7, 3)
    assert r.per_voter_payments == (Fraction(7, 6), Fraction(7, 6), 0)
    json.dumps(r.to_dict())


def test_no_ballots_funds_nothing():
    r = equal_shares(10, {"a": 5}, [])
    assert r.selected == () and r.spent == 0
    assert "No ballots" in r.explanation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approvals": [{"A"}, {"Z"}]}, "row 2.*unknown proposal 'Z'"),
        ({"costs": {"A": -1}}, "id 'A'.*negative"),
        ({"budget": 1.5}, "not an int or Fraction"),
        ({"completion": "greedy"}, "unknown completion"),
        ({"utility": "happiness"}, "unknown utility"),
        ({"approvals": ["A"]}, "row 1.*not one string"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    args = {"budget": 10, "costs": {"A": 5}, "approvals": [{"A"}]} | kwargs
    with pytest.raises(BudgetError, match=message):
        equal_shares(args.pop("budget"), args.pop("costs"), args.pop("approvals"), **args)


# --- properties ----------------------------------------------------------------------------

PROPOSALS = ["p0", "p1", "p2", "p3", "p4"]
instances = st.tuples(
    st.integers(min_value=0, max_value=60),
    st.lists(st.integers(min_value=0, max_value=25), min_size=5, max_size=5),
    st.lists(st.sets(st.sampled_from(PROPOSALS)), max_size=10),
    st.sampled_from(["none", "add1", "utilitarian", "add1_utilitarian"]),
    st.sampled_from(["cost", "cardinality"]),
)


@settings(max_examples=120, deadline=None)
@given(instances)
def test_never_exceeds_the_budget_and_shares_pay_exactly(instance):
    budget, cost_list, ballots, completion, utility = instance
    costs = dict(zip(PROPOSALS, cost_list, strict=True))
    r = equal_shares(budget, costs, ballots, completion, utility=utility)
    assert r.spent == sum(costs[p] for p in r.selected) <= budget
    assert len(set(r.selected)) == len(r.selected)
    # each voter pays at most their share, and shares pay exactly for what they bought
    assert all(0 <= pay <= r.voter_budget for pay in r.per_voter_payments)
    assert sum(r.per_voter_payments) == sum(costs[p] for p in r.by_equal_shares)
    # nobody-approved proposals are never funded
    approved = set().union(*ballots) if ballots else set()
    assert set(r.selected) <= approved


# --- cross-check against pabutools ---------------------------------------------------------


def _pabutools_outcome(budget, costs, approvals, completion, utility):
    pabu = pytest.importorskip("pabutools")  # noqa: F841
    from pabutools.election import (
        ApprovalBallot,
        ApprovalProfile,
        Cardinality_Sat,
        Cost_Sat,
        Instance,
        Project,
    )
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    projects = {p: Project(p, c) for p, c in costs.items()}
    instance = Instance(projects.values(), budget_limit=budget)
    profile = ApprovalProfile(
        [ApprovalBallot([projects[p] for p in a]) for a in approvals], instance=instance
    )
    sat = Cost_Sat if utility == "cost" else Cardinality_Sat
    mes = {"sat_class": sat}
    if completion.startswith("add1"):
        mes["voter_budget_increment"] = 1
    if completion.endswith("utilitarian"):
        outcome = completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [mes, {"sat_class": sat}],
        )
    else:
        outcome = method_of_equal_shares(instance, profile, **mes)
    return sorted(p.name for p in outcome)


@pytest.mark.parametrize("completion", ["none", "add1", "utilitarian", "add1_utilitarian"])
@pytest.mark.parametrize("utility", ["cost", "cardinality"])
def test_agrees_with_pabutools_on_random_instances(completion, utility):
    """Random instances (seeded): the same proposals as pabutools' method_of_equal_shares
    (voter_budget_increment=1 for add1) and completion_by_rule_combination with
    greedy_utilitarian_welfare, with unapproved proposals funded as pabutools does."""
    pytest.importorskip("pabutools")
    rng = random.Random(f"{completion}-{utility}")
    for _ in range(40):
        m, n = rng.randint(1, 7), rng.randint(0, 12)
        costs = {
            f"p{i}": rng.randint(0, 30) if rng.random() < 0.1 else rng.randint(1, 30)
            for i in range(m)
        }
        budget = rng.randint(0, 90)
        approvals = [set(rng.sample(sorted(costs), rng.randint(0, m))) for _ in range(n)]
        ours = equal_shares(
            budget, costs, approvals, completion, utility=utility, fund_unapproved=True
        )
        assert sorted(ours.selected) == _pabutools_outcome(
            budget, costs, approvals, completion, utility
        ), (budget, costs, approvals)
        # default: same as pabutools on the proposals somebody approved
        approved = set().union(*approvals) if approvals else set()
        only = {p: c for p, c in costs.items() if p in approved}
        if only:
            assert sorted(
                equal_shares(budget, costs, approvals, completion, utility=utility).selected
            ) == (_pabutools_outcome(budget, only, approvals, completion, utility))
