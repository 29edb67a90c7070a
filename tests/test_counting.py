"""Counting rules: published worked examples, exact arithmetic, ties, quorum, invariants."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.councils.counting import RULES, CountingError, count, droop_quota


def expand(spec):
    """[(n, ranking), ...] -> n copies of each ranking (strings are read letter by letter)."""
    return [tuple(r) for n, r in spec for _ in range(n)]


# Schulze (2011), "A new monotonic, clone-independent, reversal symmetric, and
# Condorcet-consistent single-winner election method", Social Choice and Welfare 36:267-303.
SCHULZE_EXAMPLE_1 = [
    (5, "ACBED"),
    (5, "ADECB"),
    (8, "BEDAC"),
    (3, "CABED"),
    (7, "CAEBD"),
    (2, "CBADE"),
    (7, "DCEBA"),
    (8, "EBADC"),
]
SCHULZE_EXAMPLE_2 = [
    (5, "ACBD"),
    (2, "ACDB"),
    (3, "ADCB"),
    (4, "BACD"),
    (3, "CBDA"),
    (3, "CDBA"),
    (1, "DACB"),
    (5, "DBAC"),
    (4, "DCBA"),
]
SCHULZE_EXAMPLE_4 = [(3, "ABCD"), (2, "DABC"), (2, "DBCA"), (2, "CBDA")]

# Wikipedia, "Single transferable vote", worked example (food at a party): 20 voters, 3 seats.
FOOD = (
    [("Oranges",)] * 4
    + [("Pears", "Oranges")] * 2
    + [("Chocolate", "Strawberries")] * 8
    + [("Chocolate", "Hamburgers")] * 4
    + [("Strawberries",)]
    + [("Hamburgers",)]
)
FOOD_OPTIONS = ["Oranges", "Pears", "Chocolate", "Strawberries", "Hamburgers"]

# Wikipedia, "Instant-runoff voting" and "Schulze method": the Tennessee capital example,
# per 100 voters. Nashville is the Condorcet winner; instant run-off elects Knoxville.
TENNESSEE = [
    (42, ("Memphis", "Nashville", "Chattanooga", "Knoxville")),
    (26, ("Nashville", "Chattanooga", "Knoxville", "Memphis")),
    (15, ("Chattanooga", "Knoxville", "Nashville", "Memphis")),
    (17, ("Knoxville", "Chattanooga", "Nashville", "Memphis")),
]
CITIES = ["Memphis", "Nashville", "Chattanooga", "Knoxville"]


# --- Schulze -------------------------------------------------------------------------------


def test_schulze_paper_example_1_elects_e_with_published_matrices():
    """Schulze 2011, section 3.1, example 1 (45 voters, 5 candidates): the pairwise matrix d,
    the strongest paths p, the ranking E > A > C > B > D as printed there (the same tables
    are in Wikipedia's "Schulze method" article, against which they were checked)."""
    t = count("schulze", expand(SCHULZE_EXAMPLE_1), options=list("ABCDE"))
    assert t.winners == ("E",)
    assert t.outcome == "elected"
    assert t.ranking == ("E", "A", "C", "B", "D")
    d = t.rounds[0]["pairwise"]
    assert [d["A"][x] for x in "BCDE"] == [20, 26, 30, 22]
    assert [d["B"][x] for x in "ACDE"] == [25, 16, 33, 18]
    assert [d["C"][x] for x in "ABDE"] == [19, 29, 17, 24]
    assert [d["D"][x] for x in "ABCE"] == [15, 12, 28, 14]
    assert [d["E"][x] for x in "ABCD"] == [23, 27, 21, 31]
    p = t.rounds[0]["strongest_paths"]
    assert [p["A"][x] for x in "BCDE"] == [28, 28, 30, 24]
    assert [p["B"][x] for x in "ACDE"] == [25, 28, 33, 24]
    assert [p["C"][x] for x in "ABDE"] == [25, 29, 29, 24]
    assert [p["D"][x] for x in "ABCE"] == [25, 28, 28, 24]
    assert [p["E"][x] for x in "ABCD"] == [25, 28, 28, 31]
    assert t.ballots_cast == 45
    assert "E > A > C > B > D" in t.explanation


def test_schulze_paper_example_2_elects_d():
    """Schulze 2011, section 3.2, example 2 (30 voters, 4 candidates): winner D. (Profile
    transcribed from the paper; unlike example 1 it was not checked against a second
    source.)"""
    t = count("schulze", expand(SCHULZE_EXAMPLE_2), options=list("ABCD"))
    assert t.winners == ("D",)
    assert t.details["potential_winners"] == ("D",)


def test_schulze_paper_example_4_tie_between_b_and_d_is_broken_by_published_order():
    """Schulze 2011, section 3.4, example 4 (9 voters): p[B,D] = p[D,B] = 5, so B and D are
    both potential winners; the tie-break order decides and the outcome says so. (Profile
    transcribed from the paper, not checked against a second source.)"""
    ballots = expand(SCHULZE_EXAMPLE_4)
    t = count("schulze", ballots, options=list("ABCD"))
    assert set(t.details["potential_winners"]) == {"B", "D"}
    assert t.rounds[0]["strongest_paths"]["B"]["D"] == 5
    assert t.rounds[0]["strongest_paths"]["D"]["B"] == 5
    assert t.outcome == "tie" and t.tie_broken
    assert t.winners == ("B",)  # default order: lexicographic ids, B before D
    t2 = count("schulze", ballots, options=list("ABCD"), tie_break=["D", "B"])
    assert t2.winners == ("D",)


def test_schulze_elects_condorcet_winner_of_tennessee_example():
    """Tennessee example (Wikipedia): Nashville beats every other city head to head."""
    t = count("schulze", expand(TENNESSEE), options=CITIES)
    assert t.winners == ("Nashville",)


def test_schulze_truncated_ballots_rank_listed_options_above_unlisted():
    t = count("schulze", [("A",), ("A",), ("B", "C")], options=["A", "B", "C"])
    d = t.rounds[0]["pairwise"]
    assert d["A"]["B"] == 2 and d["B"]["A"] == 1
    assert d["B"]["C"] == 1 and d["C"]["B"] == 0
    assert t.winners == ("A",)


def test_schulze_several_seats_takes_top_of_ranking():
    t = count("schulze", expand(SCHULZE_EXAMPLE_1), options=list("ABCDE"), seats=2)
    assert t.winners == ("E", "A")


# --- majority run-off ------------------------------------------------------------------------


def test_instant_runoff_tennessee_elects_knoxville():
    """Tennessee example (Wikipedia, "Instant-runoff voting"): Chattanooga then Nashville are
    eliminated and Knoxville wins 58 to 42."""
    t = count("majority_runoff", expand(TENNESSEE), options=CITIES)
    assert t.winners == ("Knoxville",)
    assert [r.get("eliminated") for r in t.rounds] == [["Chattanooga"], ["Nashville"], None]
    assert dict(t.rounds[-1]["counts"]) == {"Memphis": 42, "Knoxville": 58}
    assert t.counts["Knoxville"] == 58
    assert "Knoxville elected in round 3" in t.explanation


def test_runoff_first_round_majority_wins_at_once():
    t = count("majority_runoff", [("A",)] * 3 + [("B",)] * 2, options=["A", "B", "C"])
    assert t.winners == ("A",) and len(t.rounds) == 1


def test_runoff_exact_half_is_not_a_majority_and_tie_break_decides():
    t = count("majority_runoff", [("A",), ("B",)], options=["A", "B"], tie_break=["B", "A"])
    assert t.winners == ("B",)
    assert t.outcome == "tie"
    assert t.rounds[0]["eliminated"] == ["A"]


def test_elimination_ties_look_back_to_earlier_rounds_first():
    """B and C tie at 4 in round 2; in round 1 B had 3 and C 4, so B is eliminated
    (backwards tie-breaking), although the lexicographic order would have spared B."""
    ballots = [("A",)] * 6 + [("C",)] * 4 + [("B",)] * 3 + [("D", "B")]
    t = count("majority_runoff", ballots, options=["A", "B", "C", "D"])
    assert t.rounds[1]["counts"]["B"] == t.rounds[1]["counts"]["C"] == 4
    assert t.rounds[1]["eliminated"] == ["B"]
    assert not t.tie_broken and t.outcome == "elected" and t.winners == ("A",)


def test_runoff_rejects_several_seats():
    with pytest.raises(CountingError, match="use 'stv'"):
        count("majority_runoff", [("A",)], options=["A", "B"], seats=2)


# --- STV -----------------------------------------------------------------------------------


def test_stv_wikipedia_food_example():
    """Wikipedia, "Single transferable vote", food example: Droop quota 6; Chocolate's surplus
    of 6 passes at 1/2 (4 to Strawberries, 2 to Hamburgers); Pears is eliminated and
    Oranges elected; Hamburgers is eliminated and Strawberries elected."""
    t = count("stv", FOOD, options=FOOD_OPTIONS, seats=3)
    assert t.winners == ("Chocolate", "Oranges", "Strawberries")
    assert t.details["quota"] == 6
    r1, r2, r3 = t.rounds[:3]
    assert r1["counts"]["Chocolate"] == 12 and r1["elected"] == ["Chocolate"]
    assert r1["transfer_values"] == {"Chocolate": Fraction(1, 2)}
    assert dict(r2["counts"]) == {"Oranges": 4, "Pears": 2, "Strawberries": 5, "Hamburgers": 3}
    assert r2["eliminated"] == ["Pears"]
    assert r3["counts"]["Oranges"] == 6 and r3["elected"] == ["Oranges"]
    assert t.outcome == "elected"


def test_stv_fractional_transfer_values_are_exact():
    # 7 votes for A then B; quota for 2 seats of 10 is 4; surplus 3/7 of each A ballot
    ballots = [("A", "B")] * 7 + [("C",)] * 2 + [("D",)]
    t = count("stv", ballots, options=["A", "B", "C", "D"], seats=2)
    assert t.details["quota"] == droop_quota(10, 2) == 4
    assert t.rounds[0]["transfer_values"]["A"] == Fraction(3, 7)
    assert t.rounds[1]["counts"]["B"] == 3
    assert t.winners == ("A", "B")


def test_stv_elects_remaining_candidates_when_as_many_as_seats():
    t = count("stv", [("A",)] * 5, options=["A", "B", "C"], seats=3)
    assert set(t.winners) == {"A", "B", "C"} and len(t.winners) == 3


def test_stv_weights_are_fractions_of_votes():
    ballots = [("A",), ("B",), ("C",)]
    t = count("stv", ballots, options=["A", "B", "C"], seats=1, weights=[Fraction(1, 2), 1, 2])
    assert t.winners == ("C",)
    assert t.details["valid_votes"] == Fraction(7, 2)


# --- yes / no ------------------------------------------------------------------------------


def test_yes_no_simple_majority_needs_more_than_half():
    t = count("yes_no", ["yes"] * 3 + ["no"] * 2 + ["abstain"] * 10)
    assert t.outcome == "carried" and t.winners == ("yes",)
    assert dict(t.counts) == {"yes": 3, "no": 2, "abstain": 10}
    tie = count("yes_no", ["yes", "no", "abstain"])
    assert tie.outcome == "defeated"
    assert "tie does not carry" in tie.explanation


def test_yes_no_two_thirds_means_at_least_two_thirds():
    two_thirds = Fraction(2, 3)
    assert count("yes_no", ["yes"] * 2 + ["no"], majority=two_thirds).outcome == "carried"
    assert count("yes_no", ["yes"] * 5 + ["no"] * 3, majority=two_thirds).outcome == "defeated"
    # inclusive=False asks for strictly more than two thirds
    strict = count("yes_no", ["yes"] * 2 + ["no"], majority=two_thirds, inclusive=False)
    assert strict.outcome == "defeated"


def test_yes_no_quorum_counts_abstentions():
    ballots = ["yes", "abstain", "abstain"]
    assert count("yes_no", ballots, quorum=3).outcome == "carried"
    t = count("yes_no", ballots, quorum=4)
    assert t.outcome == "no quorum" and not t.quorum_met and t.winners == ()
    assert "4 needed" in t.explanation


def test_yes_no_quorum_share_of_electorate():
    ballots = ["yes"] * 4
    assert count("yes_no", ballots, electorate=10, quorum_share=Fraction(1, 3)).quorum_met
    assert not count("yes_no", ballots, electorate=13, quorum_share=Fraction(1, 3)).quorum_met
    with pytest.raises(CountingError, match="electorate is only 3"):
        count("yes_no", ballots, electorate=3)


def test_yes_no_weighted_delegates():
    """Two delegates with their councils' weights outvote three with weight 1."""
    t = count("yes_no", ["yes", "yes", "no", "no", "no"], weights=[2, Fraction(3, 2), 1, 1, 1])
    assert t.counts["yes"] == Fraction(7, 2)
    assert t.outcome == "carried"


def test_yes_no_all_abstain_is_defeated():
    assert count("yes_no", ["abstain"] * 3).outcome == "defeated"


# --- approval ------------------------------------------------------------------------------


def test_approval_elects_most_approved():
    ballots = [{"A", "B"}, {"A"}, {"B", "C"}, {"A", "C"}, set()]
    t = count("approval", ballots, options=["A", "B", "C"], seats=2)
    assert dict(t.counts) == {"A": 3, "B": 2, "C": 2}
    assert t.winners == ("A", "B")  # B and C tie; lexicographic order favours B
    assert t.outcome == "tie"
    t2 = count("approval", ballots, options=["A", "B", "C"], seats=2, tie_break=["C"])
    assert t2.winners == ("A", "C")
    assert t.ballots_cast == 5


def test_approval_never_elects_an_option_nobody_approved():
    t = count("approval", [{"A"}], options=["A", "B"], seats=2)
    assert t.winners == ("A",)
    assert "1 seat(s) left unfilled" in t.explanation


# --- errors a user can act on --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "ballots", "options", "message"),
    [
        ("yes_no", ["yes", "maybe"], (), "row 2.*'maybe'"),
        ("approval", [{"A"}, {"Z"}], ["A"], "row 2.*'Z'"),
        ("schulze", [("A", "B"), ("A", "A")], ["A", "B"], "row 2.*more than once"),
        ("stv", [("A",), ("X",)], ["A", "B"], "row 2.*'X'"),
        ("majority_runoff", ["AB"], ["A", "B"], "row 1.*not one string"),
    ],
)
def test_bad_ballots_are_named_by_row(rule, ballots, options, message):
    with pytest.raises(CountingError, match=message):
        count(rule, ballots, options=options)


def test_bad_settings_are_named():
    with pytest.raises(CountingError, match="unknown counting rule"):
        count("plurality", [], options=["A"])
    with pytest.raises(CountingError, match="float"):
        count("yes_no", ["yes"], weights=[0.5])
    with pytest.raises(CountingError, match="row 2.*negative"):
        count("yes_no", ["yes", "no"], weights=[1, -1])
    with pytest.raises(CountingError, match="1 weights for 2 ballots"):
        count("yes_no", ["yes", "no"], weights=[1])
    with pytest.raises(CountingError, match="3 seats but only 2 options"):
        count("stv", [], options=["A", "B"], seats=3)
    with pytest.raises(CountingError, match="tie-break order names 'Z'"):
        count("schulze", [], options=["A"], tie_break=["Z"])
    with pytest.raises(CountingError, match="outside"):
        count("yes_no", ["yes"], majority=Fraction(1, 3))


def test_no_ballots_elects_nobody():
    for rule in ("approval", "schulze", "majority_runoff", "stv"):
        t = count(rule, [], options=["A", "B"])
        assert t.winners == () and t.outcome == "none elected", rule


def test_tally_to_dict_is_json_with_exact_fractions():
    t = count("stv", FOOD, options=FOOD_OPTIONS, seats=3)
    data = json.loads(json.dumps(t.to_dict()))
    assert data["winners"] == ["Chocolate", "Oranges", "Strawberries"]
    assert data["rounds"][0]["transfer_values"] == {"Chocolate": "1/2"}
    w = count("yes_no", ["yes"], weights=[Fraction(1, 3)]).to_dict()
    assert w["counts"]["yes"] == "1/3"


def test_large_count_groups_identical_ballots():
    """Many voters, few distinct rankings: the count is the same as on the grouped ballots."""
    big = expand([(n * 1000, r) for n, r in SCHULZE_EXAMPLE_1])
    t = count("schulze", big, options=list("ABCDE"))
    assert t.winners == ("E",) and t.rounds[0]["pairwise"]["A"]["B"] == 20_000
    assert count("stv", big, options=list("ABCDE"), seats=2).ballots_cast == 45_000


# --- properties ----------------------------------------------------------------------------

OPTS = ["A", "B", "C", "D"]
rankings = st.lists(st.sampled_from(OPTS), unique=True, max_size=4).map(tuple)
ranked_profiles = st.lists(rankings, min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(ranked_profiles, st.randoms(use_true_random=False))
def test_counting_is_invariant_to_ballot_order(ballots, rnd):
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    for rule, seats in (("schulze", 1), ("majority_runoff", 1), ("stv", 2)):
        a = count(rule, ballots, options=OPTS, seats=seats)
        b = count(rule, shuffled, options=OPTS, seats=seats)
        assert a.to_dict() == b.to_dict(), rule
    approvals = [set(b) for b in ballots]
    shuffled_approvals = [set(b) for b in shuffled]
    assert (
        count("approval", approvals, options=OPTS).to_dict()
        == count("approval", shuffled_approvals, options=OPTS).to_dict()
    )


@settings(max_examples=80, deadline=None)
@given(ranked_profiles)
def test_schulze_elects_the_condorcet_winner_when_there_is_one(ballots):
    t = count("schulze", ballots, options=OPTS)
    d = t.rounds[0]["pairwise"]
    condorcet = [x for x in OPTS if all(d[x][y] > d[y][x] for y in OPTS if y != x)]
    if condorcet:
        assert t.winners == (condorcet[0],)
        assert not t.tie_broken


@settings(max_examples=80, deadline=None)
@given(ranked_profiles, st.integers(min_value=1, max_value=4))
def test_stv_fills_exactly_the_seats_and_conserves_votes(ballots, seats):
    t = count("stv", ballots, options=OPTS, seats=seats)
    if any(ballots):
        assert len(t.winners) == seats == len(set(t.winners))
        valid, quota = t.details["valid_votes"], t.details["quota"]
        elected_before = 0
        for r in t.rounds:
            # Conservation, exactly: continuing candidates' votes + exhausted votes + one quota
            # kept by each candidate elected in an earlier round = all valid votes.
            held = sum(r["counts"].values()) + r["exhausted"] + quota * elected_before
            assert held == valid
            elected_before += len(r.get("elected", ()))


@settings(max_examples=60, deadline=None)
@given(ranked_profiles, st.permutations(OPTS))
def test_winners_do_not_depend_on_the_order_options_are_listed(ballots, listed):
    for rule, seats in (("schulze", 1), ("majority_runoff", 1), ("stv", 2), ("approval", 2)):
        b = [set(x) for x in ballots] if rule == "approval" else ballots
        assert (
            count(rule, b, options=OPTS, seats=seats).winners
            == count(rule, b, options=listed, seats=seats).winners
        ), rule


@settings(max_examples=60, deadline=None)
@given(ranked_profiles, st.integers(min_value=1, max_value=3))
def test_integer_weight_equals_that_many_copies(ballots, k):
    weighted = count("schulze", ballots, options=OPTS, weights=[k] * len(ballots))
    copies = count("schulze", [b for b in ballots for _ in range(k)], options=OPTS)
    assert weighted.winners == copies.winners
    assert weighted.rounds[0]["pairwise"] == copies.rounds[0]["pairwise"]
    w_stv = count("stv", ballots, options=OPTS, seats=2, weights=[k] * len(ballots))
    c_stv = count("stv", [b for b in ballots for _ in range(k)], options=OPTS, seats=2)
    assert w_stv.winners == c_stv.winners


@settings(max_examples=60, deadline=None)
@given(ranked_profiles)
def test_runoff_winner_has_a_majority_of_votes_in_play(ballots):
    t = count("majority_runoff", ballots, options=OPTS)
    if t.winners and not t.tie_broken:
        last = t.rounds[-1]
        assert 2 * last["counts"][t.winners[0]] > last["active"]


def test_every_rule_is_dispatched():
    for rule in RULES:
        ballots = ["yes"] if rule == "yes_no" else ([{"A"}] if rule == "approval" else [("A",)])
        options = () if rule == "yes_no" else ["A", "B"]
        assert count(rule, ballots, options=options).rule == rule


@settings(max_examples=80, deadline=None)
@given(ranked_profiles)
def test_stv_for_one_seat_elects_the_instant_runoff_winner(ballots):
    """With one seat, STV and instant run-off eliminate in the same order, and a candidate
    with a majority of the votes in play is never the one eliminated: same winner."""
    stv = count("stv", ballots, options=OPTS, seats=1)
    irv = count("majority_runoff", ballots, options=OPTS)
    assert stv.winners == irv.winners


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=8),
    data=st.data(),
)
def test_the_rank_matrix_places_each_option_where_its_ranking_does(n, data):
    """counting._rank_matrix (vectorised) against the definition, ranking by ranking: an
    option's place in the ranking, or n when the ranking leaves it out."""
    from councilplan.councils.counting import _rank_matrix

    opts = tuple(f"o{i}" for i in range(n))
    keys = data.draw(
        st.lists(st.permutations(opts).flatmap(lambda p: st.integers(0, n).map(lambda k: p[:k])))
    )
    ranks = _rank_matrix([tuple(k) for k in keys], opts)
    assert ranks.shape == (len(keys), n)
    for row, ranking in enumerate(keys):
        expected = [ranking.index(o) if o in ranking else n for o in opts]
        assert ranks[row].tolist() == expected
