"""The equality reports' arithmetic: Gini and Lorenz against values worked by hand, and
suppression that never lets a group under the threshold be read, neither from a cell nor by
subtracting the published cells from the public totals (a Hypothesis property over random
populations, checked by an attacker's exact bounds, independent of how cells were chosen)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from councilplan.audit import equality as eq
from councilplan.audit.equality import ACTIVITIES, HIDDEN, Person


def test_gini_of_known_distributions():
    assert eq.gini([5, 5, 5, 5]) == 0
    assert eq.gini([0, 0, 0, 10]) == Fraction(3, 4)  # one of n holds all: (n - 1) / n
    assert eq.gini([1, 2, 3, 4]) == Fraction(1, 4)  # sum |xi - xj| = 20, 2 n^2 mean = 80
    assert eq.gini([1, 3]) == Fraction(1, 4)  # |1 - 3| * 2 / (2 * 4 * 2)
    # The pairwise definition, computed the slow way, on an uneven list.
    xs = [Fraction(v) for v in (7, 0, 3, 3, 12, Fraction(1, 2))]
    pairs = sum(abs(a - b) for a in xs for b in xs)
    assert eq.gini(xs) == pairs / (2 * len(xs) ** 2 * (sum(xs) / len(xs)))
    with pytest.raises(ValueError):
        eq.gini([0, 0])


def test_lorenz_of_known_distributions():
    assert eq.lorenz([1, 1]) == ((0, 0), (Fraction(1, 2), Fraction(1, 2)), (1, 1))
    assert eq.lorenz([3, 1]) == ((0, 0), (Fraction(1, 2), Fraction(1, 4)), (1, 1))
    # The Gini is one less twice the area under the Lorenz curve (trapezoids, exact).
    xs = [2, 9, 0, 4, 4, 1]
    points = eq.lorenz(xs)
    area = sum(
        (x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False)
    )
    assert eq.gini(xs) == 1 - 2 * area


def test_inequality_is_withheld_for_too_few_or_nothing():
    few = [Person(hours=Fraction(h)) for h in (1, 2, 3)]
    assert eq.inequality(few, "hours", 5).gini is None
    nothing = [Person() for _ in range(6)]
    shown = eq.inequality(nothing, "hours", 5)
    assert shown.gini is None and "no hours" in shown.reason


def _people(spec):
    """People from (gender, group, workplace, flags) tuples."""
    return [
        Person(gender=g, group=r, workplace=w, **dict(zip(ACTIVITIES, flags, strict=True)))
        for g, r, w, flags in spec
    ]


def test_a_small_group_is_hidden_with_a_complement():
    # 9 women, 20 men, 2 non-binary: the 2 are hidden, and with them the smallest other (9),
    # so the 2 cannot be had by subtracting the women from the total.
    people = _people(
        [("woman", None, None, (True, True, False, False))] * 9
        + [("man", None, None, (True, True, True, False))] * 20
        + [("non-binary", None, None, (False, True, False, False))] * 2
    )
    table = eq.participation(people, "gender", 5)
    assert [r.category for r in table.rows] == ["man", HIDDEN]
    assert table.hidden_categories == 2
    assert table.totals["members"] == 31
    text = eq.table_csv(table)
    assert "non-binary" not in text and "woman" not in text


def test_a_small_count_is_suppressed_with_a_complement():
    # Of 10 women 2 are delegates, of 12 men 0, of 15 not declared 6.
    people = _people(
        [("woman", None, None, (False, False, True, False))] * 2
        + [("woman", None, None, (False, False, False, False))] * 8
        + [("man", None, None, (False, False, False, False))] * 12
        + [(None, None, None, (False, False, True, False))] * 6
        + [(None, None, None, (False, False, False, False))] * 9
    )
    table = eq.participation(people, "gender", 5)
    cells = {r.category: r.cells["delegate"] for r in table.rows}
    assert cells["woman"].suppressed == eq.SMALL_CELL
    assert cells["man"].suppressed == eq.COMPLEMENTARY  # the smallest other count: 0
    assert cells[eq.NOT_DECLARED].value == 6
    assert table.totals["delegate"] == 8


# ---------------------------------------------------------------------------------------------
# The property: nothing under k can be read, from cells or from totals.


def _bounds(unknowns):
    """Exact integer bounds of each unknown x_i given sum x_i = s and 0 <= x_i <= ub_i: the
    attacker's knowledge of one column (one linear equation, box constraints)."""
    s = sum(value for value, _ in unknowns)
    ubs = [ub for _, ub in unknowns]
    out = []
    for _, ub in unknowns:
        others = sum(ubs) - ub
        out.append((max(0, s - others), min(ub, s)))
    return out


def _check_table(people, table, k):
    members = {}
    for p in people:
        members[p.category(table.dimension)] = members.get(p.category(table.dimension), 0) + 1
    visible = {r.category: r for r in table.rows if r.category != HIDDEN}
    hidden = [c for c in members if c not in visible]
    # Rows: every shown category has k members or more; the hidden ones together, too.
    for c, row in visible.items():
        assert row.cells["members"].value == members[c] >= k
    if hidden:
        assert any(r.category == HIDDEN for r in table.rows)
        assert sum(members[c] for c in hidden) >= k or not visible
        shown = {line.split(",")[0] for line in eq.table_csv(table).splitlines()}
        assert not shown & {c for c in hidden if c is not None}
    if not visible:
        return  # every category hidden: the hidden row is the public totals, nothing more
    n = len(people)
    hidden_members = n - sum(members[c] for c in visible)
    for activity in ACTIVITIES:
        truth = {
            c: sum(1 for p in people if p.category(table.dimension) == c and getattr(p, activity))
            for c in members
        }
        total = table.totals[activity]
        assert total == sum(truth.values())
        unknown = []  # (true value, upper bound known to the attacker, what it is)
        for c, row in visible.items():
            cell = row.cells[activity]
            if cell.suppressed:
                unknown.append((truth[c], members[c], c))
            else:
                # A published count is never small, on either side.
                assert cell.value == truth[c]
                assert not (0 < truth[c] < k) and not (0 < members[c] - truth[c] < k)
        if hidden:
            unknown.append((sum(truth[c] for c in hidden), hidden_members, HIDDEN))
        bounds = _bounds([(v, ub) for v, ub, _ in unknown])
        # What the totals alone tell (every cell unknown): a value pinned by them is public.
        alone = _bounds([(truth[c], members[c]) for c in members]) if members else []
        pinned_alone = all(lo == hi for lo, hi in alone)
        for (value, ub, what), (lo, hi) in zip(unknown, bounds, strict=True):
            assert lo <= value <= hi
            small = 0 < value < k or 0 < ub - value < k
            if small and not pinned_alone:
                assert lo < hi, (activity, what, value, ub, lo, hi, table)


CATEGORIES = st.sampled_from(["woman", "man", "non-binary", None, "trans woman", "agender"])


@st.composite
def populations(draw):
    n = draw(st.integers(0, 60))
    weights = draw(st.lists(st.floats(0.05, 1), min_size=6, max_size=6))
    rates = draw(st.lists(st.floats(0, 1), min_size=4, max_size=4))
    options = ["woman", "man", "non-binary", None, "trans woman", "agender"]
    people = []
    for _ in range(n):
        pick = draw(st.floats(0, sum(weights)))
        running, gender = 0.0, options[-1]
        for option, w in zip(options, weights, strict=True):
            running += w
            if pick <= running:
                gender = option
                break
        flags = [draw(st.floats(0, 1)) < r for r in rates]
        group = draw(st.sampled_from([None, "night shift", "apprentices", "Roma"]))
        people.append(
            Person(gender=gender, group=group, **dict(zip(ACTIVITIES, flags, strict=True)))
        )
    return people


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(populations(), st.integers(2, 8))
def test_suppression_never_reveals_a_small_group(people, k):
    for dimension in ("gender", "group"):
        table = eq.participation(people, dimension, k)
        _check_table(people, table, k)
        dist = eq.distribution(people, dimension, k)
        for row in dist.rows:
            if row.category != HIDDEN:
                assert row.cells["members"].value >= k


def test_the_report_as_json_and_csv():
    people = [
        Person(gender="woman" if i % 2 else "man", hours=Fraction(i), drawn=Fraction(i, 2))
        for i in range(12)
    ]
    report = eq.equality_report(people, scope={"council": "Works"}, k=5)
    data = eq.report_json(report)
    assert data["members"] == 12
    (hours, drawn) = data["inequality"]
    assert hours["gini"] == f"{float(eq.gini([Fraction(i) for i in range(12)])):.4f}"
    text = eq.table_csv(report.participation[0])
    assert text.splitlines()[0] == "gender,members,stated,voted,delegate,commission,suppressed"
    with pytest.raises(ValueError):
        eq.equality_report(people, scope={}, k=1)


def test_a_long_lorenz_curve_is_thinned_to_exact_points():
    people = [Person(hours=Fraction(i % 97)) for i in range(5000)]
    curve = eq.inequality(people, "hours", 5)
    full = eq.lorenz([p.hours for p in people])
    assert len(curve.lorenz) == eq.LORENZ_POINTS + 1
    assert curve.lorenz[0] == (0, 0) and curve.lorenz[-1] == (1, 1)
    assert set(curve.lorenz) <= set(full)
    assert curve.gini == eq.gini([p.hours for p in people])
