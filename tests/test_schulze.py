"""Schulze with several unbeaten options (issue 12), seat by seat, against the definition.

Schulze, M. (2011). "A new monotonic, clone-independent, reversal symmetric, and
Condorcet-consistent single-winner election method". Social Choice and Welfare 36:267-303:
d[X,Y] = ballots ranking X above Y; a link X->Y of strength d[X,Y] when d[X,Y] > d[Y,X]
(winning votes); p[X,Y] = strength of the strongest path; X beats Y iff p[X,Y] > p[Y,X].
Each seat goes to the tie-break favourite among the remaining options that no other
remaining option beats.
"""

from __future__ import annotations

import random
from itertools import combinations

from councilplan.councils.counting import count

# --- issue 12: the profile that was counted wrongly -----------------------------------------

ISSUE_12 = [("A", "B", "C"), ("B", "C", "A")]


def test_two_unbeaten_options_the_published_order_decides_and_the_tie_is_reported():
    """A-B 1:1, A-C 1:1, B beats C 2:0: A and B are both unbeaten. The default order
    (lexicographic ids) favours A, so A is elected, and the outcome says it was a tie."""
    t = count("schulze", ISSUE_12, options="ABC")
    assert t.details["potential_winners"] == ("A", "B")
    assert t.details["seat_by_seat"][0]["unbeaten"] == ("A", "B")
    assert t.winners == ("A",)
    assert t.outcome == "tie" and t.tie_broken
    assert "A and B" in t.explanation and "tie-break order" in t.explanation


def test_an_explicit_tie_break_order_decides_between_the_unbeaten():
    a = count("schulze", ISSUE_12, options="ABC", tie_break=["A", "B", "C"])
    assert a.winners == ("A",) and a.outcome == "tie" and a.tie_broken
    b = count("schulze", ISSUE_12, options="ABC", tie_break=["B", "A", "C"])
    assert b.winners == ("B",) and b.outcome == "tie" and b.tie_broken
    assert b.details["seat_by_seat"][0]["unbeaten"] == ("B", "A")  # favourite first
    for t in (a, b):
        assert "A and B" in t.explanation or "B and A" in t.explanation


def test_the_next_seat_is_filled_from_the_remaining_options_the_same_way():
    """Two seats: A (tie-break favourite of A, B), then B (beats C). The order decided who
    sat: with C favoured over A, B and C are elected (C is beaten by B only)."""
    t = count("schulze", ISSUE_12, options="ABC", seats=2)
    assert t.winners == ("A", "B") and t.outcome == "tie"
    assert [s["unbeaten"] for s in t.details["seat_by_seat"]] == [("A", "B"), ("B",)]
    other = count("schulze", ISSUE_12, options="ABC", seats=2, tie_break=["B", "C", "A"])
    assert other.winners == ("B", "C") and other.outcome == "tie"
    assert [s["unbeaten"] for s in other.details["seat_by_seat"]] == [("B", "A"), ("C", "A")]


def test_two_unbeaten_options_both_elected_is_no_tie():
    """A and B tie each other and both beat C: with two seats they are elected whatever the
    order, so the order decided only which seat is listed first, which is not a tie."""
    t = count("schulze", [("A", "B", "C"), ("B", "A", "C")], options="ABC", seats=2)
    assert t.winners == ("A", "B")
    assert t.details["seat_by_seat"][0]["unbeaten"] == ("A", "B")
    assert t.outcome == "elected" and not t.tie_broken
    one = count("schulze", [("A", "B", "C"), ("B", "A", "C")], options="ABC")
    assert one.winners == ("A",) and one.outcome == "tie"


# --- against an independent computation from the definition ---------------------------------


def reference(ballots, options, seats, tie_break):
    """Plain O(n^3) Schulze from the definition, seat by seat. Returns (p, unbeaten per seat
    in tie-break order, winners, tie), where tie says whether another tie-break order could
    elect another set of options: more than one set of ``seats`` options is closed under
    'is beaten by' (every such set is the top of some order extending the beat relation)."""
    d = {x: dict.fromkeys(options, 0) for x in options}
    for b in ballots:
        place = {o: (b.index(o) if o in b else len(b)) for o in options}  # unranked: all last
        for x in options:
            for y in options:
                if place[x] < place[y]:
                    d[x][y] += 1
    p = {x: {y: (d[x][y] if d[x][y] > d[y][x] else 0) for y in options} for x in options}
    for i in options:
        for j in options:
            if j == i:
                continue
            for k in options:
                if k not in (i, j):
                    p[j][k] = max(p[j][k], min(p[j][i], p[i][k]))
    beats = {x: {y: p[x][y] > p[y][x] for y in options} for x in options}
    order = list(tie_break) + sorted(set(options) - set(tie_break))
    if not any(ballots):
        return p, [], (), False
    remaining, unbeaten_by_seat, winners = list(order), [], []
    for _ in range(seats):
        unbeaten = [x for x in remaining if not any(beats[y][x] for y in remaining)]
        unbeaten_by_seat.append(tuple(unbeaten))
        winners.append(unbeaten[0])
        remaining.remove(unbeaten[0])
    closed = [
        s
        for s in combinations(options, seats)
        if all(y in s for x in s for y in options if beats[y][x])
    ]
    assert set(winners) in [set(s) for s in closed]  # the seats filled are such a set
    return p, unbeaten_by_seat, tuple(winners), len(closed) > 1


def random_profile(rng: random.Random):
    n = rng.randint(3, 7)
    options = [chr(ord("A") + i) for i in range(n)]
    rng.shuffle(options)  # the order options are listed in must not matter
    # A few distinct rankings, often each as many times: ties between options are common.
    pool = [tuple(rng.sample(options, rng.randint(0, n))) for _ in range(rng.randint(1, 6))]
    if rng.random() < 0.5:
        ballots = pool * rng.randint(1, 60 // len(pool))
    else:
        ballots = [rng.choice(pool) for _ in range(rng.randint(1, 60))]
    seats = rng.randint(1, 3)
    tie_break = rng.sample(options, rng.randint(0, n))  # unlisted follow by id
    return ballots, options, seats, tie_break


def test_seats_unbeaten_sets_winners_and_ties_agree_with_the_definition():
    rng = random.Random(12)
    ties = one_seat_ties = several_unbeaten = elected_with_several_unbeaten = 0
    for _ in range(600):
        ballots, options, seats, tie_break = random_profile(rng)
        p, unbeaten, winners, tie = reference(ballots, options, seats, tie_break)
        t = count("schulze", ballots, options=options, seats=seats, tie_break=tie_break)
        case = (ballots, options, seats, tie_break)
        assert t.winners == winners, case
        paths = t.rounds[0]["strongest_paths"]
        assert all(paths[x][y] == p[x][y] for x in options for y in options if x != y), case
        assert [s["unbeaten"] for s in t.details["seat_by_seat"]] == unbeaten, case
        assert [s["elected"] for s in t.details["seat_by_seat"]] == list(winners), case
        assert t.tie_broken == tie, case
        if winners:
            assert t.outcome == ("tie" if tie else "elected"), case
            assert set(t.details["potential_winners"]) == set(unbeaten[0]), case
            assert t.ranking[:seats] == winners and sorted(t.ranking) == sorted(options), case
        else:
            assert t.outcome == "none elected", case
        ties += tie
        one_seat_ties += tie and seats == 1
        several = any(len(u) > 1 for u in unbeaten)
        several_unbeaten += several
        elected_with_several_unbeaten += several and not tie
        # Another order electing other options means the order decided: a tie was reported.
        flipped = count(
            "schulze", ballots, options=options, seats=seats, tie_break=list(reversed(options))
        )
        if set(flipped.winners) != set(t.winners):
            assert t.tie_broken and flipped.tie_broken, case
    # The profiles exercise what they are meant to.
    assert ties > 100 and one_seat_ties > 20
    assert several_unbeaten > ties and elected_with_several_unbeaten > 10
