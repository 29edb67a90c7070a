"""Who may vote, delegate seats and recall."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from councilplan.councils.counting import count
from councilplan.councils.rules import (
    Electorate,
    Reason,
    Rejection,
    ballot_weights,
    delegate_seat_rule,
    electorate_size,
    open_recall,
    recall_carried,
    recall_threshold,
    recall_threshold_reached,
    support_recall,
    voting_weight,
)

BAKERY = Electorate("bakery", members=frozenset({"ana", "ben", "cai", "dee"}))
FEDERATION = Electorate(
    "food-federation",
    is_federation=True,
    delegates={"ana": "bakery", "eve": "mill"},
    weighted=True,
    council_weights={"bakery": 4, "mill": Fraction(3, 2)},
)


def test_members_vote_with_weight_one_and_others_are_refused():
    assert voting_weight(BAKERY, "ana") == 1
    r = voting_weight(BAKERY, "zed")
    assert isinstance(r, Rejection) and r.reason is Reason.NOT_A_MEMBER
    assert "not a member of council 'bakery'" in r.message


def test_federation_admits_only_current_delegates_with_their_councils_weight():
    assert voting_weight(FEDERATION, "ana") == 4
    assert voting_weight(FEDERATION, "eve") == Fraction(3, 2)
    r = voting_weight(FEDERATION, "ben")  # a bakery member, but not its delegate
    assert isinstance(r, Rejection) and r.reason is Reason.NOT_A_DELEGATE
    unweighted = Electorate("f", is_federation=True, delegates={"ana": "bakery"})
    assert voting_weight(unweighted, "ana") == 1


def test_missing_council_weight_is_a_named_rejection():
    fed = Electorate("f", is_federation=True, delegates={"x": "mill"}, weighted=True)
    r = voting_weight(fed, "x")
    assert isinstance(r, Rejection) and r.reason is Reason.NO_WEIGHT
    assert r.id == "mill"


def test_ballot_weights_feed_the_count_and_refuse_double_votes():
    weights = ballot_weights(FEDERATION, ["ana", "eve"])
    assert weights == (4, Fraction(3, 2))
    t = count("yes_no", ["no", "yes"], weights=weights)
    assert t.outcome == "defeated" and t.counts["no"] == 4
    twice = ballot_weights(BAKERY, ["ana", "ben", "ana"])
    assert isinstance(twice, Rejection) and twice.reason is Reason.VOTED_TWICE
    stranger = ballot_weights(BAKERY, ["ana", "zed"])
    assert isinstance(stranger, Rejection) and stranger.id == "zed"


def test_electorate_size():
    assert electorate_size(BAKERY) == 4
    assert electorate_size(FEDERATION) == 2


def test_delegate_seats_rule():
    assert delegate_seat_rule(1) == "majority_runoff"
    assert delegate_seat_rule(3) == "stv"
    r = delegate_seat_rule(0)
    assert isinstance(r, Rejection) and r.reason is Reason.INVALID_SEATS


def test_recall_threshold_default_quarter():
    assert recall_threshold(100) == 25
    assert recall_threshold(10) == 3  # ceil(2.5)
    assert recall_threshold(1) == 1
    assert not recall_threshold_reached(2, 10)
    assert recall_threshold_reached(3, 10)
    assert recall_threshold_reached(2, 10, Fraction(1, 5))
    assert not recall_threshold_reached(0, 0)


def test_recall_petition_grows_to_ballot():
    p = open_recall(BAKERY, "ana", "dee")
    assert not isinstance(p, Rejection) and p.supporters == {"ana"}
    assert p.ready_for_ballot(4)  # the opener alone is a quarter of four members
    assert not p.ready_for_ballot(10)  # of ten members, 3 supporters are needed
    p2 = support_recall(p, BAKERY, "ben")
    assert p2.supporters == {"ana", "ben"}
    again = support_recall(p2, BAKERY, "ben")
    assert isinstance(again, Rejection) and again.reason is Reason.ALREADY_SUPPORTED
    outsider = open_recall(BAKERY, "zed", "dee")
    assert isinstance(outsider, Rejection) and outsider.reason is Reason.NOT_A_MEMBER
    bad = open_recall(BAKERY, "ana", "dee", share=Fraction(0))
    assert isinstance(bad, Rejection) and bad.reason is Reason.INVALID_SHARE


def test_recall_carries_with_a_majority_of_votes_cast():
    assert recall_carried(count("yes_no", ["yes", "yes", "no", "abstain", "abstain"]))
    assert not recall_carried(count("yes_no", ["yes", "no", "abstain"]))
    assert not recall_carried(count("yes_no", ["yes"], quorum=2))
    # counted with a qualified majority by mistake: the recall rule still asks only yes > no
    assert recall_carried(
        count("yes_no", ["yes", "yes", "yes", "no", "no"], majority=Fraction(2, 3))
    )


@given(
    st.integers(min_value=1, max_value=10_000),
    st.fractions(min_value=Fraction(1, 100), max_value=1),
)
def test_threshold_is_the_least_count_reaching_the_share(members, share):
    need = recall_threshold(members, share)
    assert recall_threshold_reached(need, members, share)
    if need > 1:
        assert not recall_threshold_reached(need - 1, members, share)
    assert Fraction(need, members) >= share or need == 1
