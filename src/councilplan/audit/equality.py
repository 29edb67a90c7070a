"""Equality reports: who takes part and who is left behind, by gender, self-described group and
workplace, with small groups never exposed (docs/equality.md).

Plain data in, plain data out: a list of :class:`Person` (what one member declared and did,
with no name or id), and tables of counts and sums by category, where every cell that could
expose fewer than ``k`` people is suppressed, and suppression is shown:

- **participation**: of each category's members, how many stated needs or techniques, voted,
  held a mandate as a delegate, held a commission seat;
- **distribution**: hours credited and goods drawn (hours of labour value) by category;
- **inequality**: the Lorenz curve and Gini coefficient of hours credited and of goods drawn
  over all members in scope.

Suppression (:func:`suppress`), for a table whose column totals are public:

1. *small groups*: a category with fewer than ``k`` members is hidden, row and label; while the
   hidden categories together have fewer than ``k`` members, the smallest visible category is
   hidden too. Hidden categories are shown as one row, ``(hidden)``, with no values: its
   values follow from the totals, and it stands for ``k`` or more people;
2. *small cells*: in a visible row of ``m`` members, a count ``c`` is suppressed when
   ``0 < c < k`` or ``0 < m - c < k`` (few did, or few did not); so is the hidden row's
   count when it is small in the same sense;
3. *complementary*: a column whose total is public and which has exactly one unknown cell
   (a suppressed one, or the hidden row's) gets a second: the visible cell with the smallest
   count. With two or more unknowns whose sum lies strictly between 0 and the sum of their
   rows' members (step 2 guarantees it), no unknown can be recovered from the totals.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

DEFAULT_K = 5
NOT_DECLARED = "(not declared)"
NO_WORKPLACE = "(no workplace)"
HIDDEN = "(hidden)"
ACTIVITIES = ("stated", "voted", "delegate", "commission")
DIMENSIONS = ("gender", "group", "workplace")

SMALL_GROUP = "small_group"
SMALL_CELL = "small_cell"
COMPLEMENTARY = "complementary"


@dataclass(frozen=True)
class Person:
    """One member in scope: what she declared (None: not declared), her workplace (None:
    none), what she did, and hours credited and goods drawn (hours of labour value, net of
    reversals)."""

    gender: str | None = None
    group: str | None = None
    workplace: str | None = None
    stated: bool = False
    voted: bool = False
    delegate: bool = False
    commission: bool = False
    hours: Fraction = Fraction(0)
    drawn: Fraction = Fraction(0)

    def category(self, dimension: str) -> str:
        value = getattr(self, dimension)
        if value is None:
            return NO_WORKPLACE if dimension == "workplace" else NOT_DECLARED
        return value


@dataclass(frozen=True)
class Cell:
    """A value, or None with ``suppressed`` saying why (small_group, small_cell,
    complementary)."""

    value: int | Fraction | None
    suppressed: str | None = None


@dataclass(frozen=True)
class Row:
    category: str
    cells: Mapping[str, Cell]


@dataclass(frozen=True)
class Table:
    """One breakdown: ``rows`` by category of ``dimension`` (visible ones by name, then the
    ``(hidden)`` row standing for ``hidden_categories`` small categories), ``totals`` over all
    members in scope (public: they show nobody's category)."""

    name: str
    dimension: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    totals: Mapping[str, int | Fraction]
    k: int
    hidden_categories: int

    def suppressed_cells(self) -> int:
        return sum(1 for r in self.rows for c in r.cells.values() if c.suppressed)


@dataclass(frozen=True)
class Inequality:
    """The Lorenz curve (population share, share of the total: both from 0 to 1) and Gini
    coefficient of one quantity over the members in scope; ``reason`` instead when they cannot
    be formed (too few members to show, nothing credited)."""

    quantity: str
    members: int
    total: Fraction
    gini: Fraction | None
    lorenz: tuple[tuple[Fraction, Fraction], ...]
    reason: str | None = None


@dataclass(frozen=True)
class MotionOutcome:
    """A section's motion and what became of it (all public on the record)."""

    section: str
    council: str
    title: str
    tabled_at: str
    deadline: str
    status: str
    outcome: str | None
    in_time: bool | None
    breached: bool


@dataclass(frozen=True)
class EqualityReport:
    scope: Mapping[str, Any]
    k: int
    members: int
    participation: tuple[Table, ...]
    distribution: tuple[Table, ...]
    inequality: tuple[Inequality, ...]
    motions: tuple[MotionOutcome, ...] = field(default_factory=tuple)


# ---------------------------------------------------------------------------------------------
# Suppression.


@dataclass(frozen=True)
class Suppression:
    """What :func:`suppress` decided: the hidden categories, and each suppressed cell of a
    visible row (category, column) with its reason."""

    hidden: frozenset[str]
    cells: Mapping[tuple[str, str], str]


def suppress(
    members: Mapping[str, int], counts: Mapping[str, Mapping[str, int]], k: int
) -> Suppression:
    """Decide which categories to hide and which counts to suppress (module docstring).
    ``members``: category -> members; ``counts``: column -> (category -> count, at most its
    members). Deterministic: ties go by category name."""
    if k < 1:
        raise ValueError(f"k: {k} must be at least 1")
    order = sorted(members, key=lambda c: (members[c], c))
    hidden = {c for c in members if members[c] < k}
    if hidden:
        for c in order:
            if sum(members[h] for h in hidden) >= k:
                break
            hidden.add(c)
    visible = [c for c in sorted(members) if c not in hidden]
    cells: dict[tuple[str, str], str] = {}

    def small(c: int, m: int) -> bool:
        return 0 < c < k or 0 < m - c < k

    for column, by_category in counts.items():
        unknown = 0
        for c in visible:
            if small(by_category.get(c, 0), members[c]):
                cells[c, column] = SMALL_CELL
                unknown += 1
        hidden_small = False
        if hidden:
            unknown += 1  # the hidden row's count is never shown
            hidden_small = small(
                sum(by_category.get(c, 0) for c in hidden), sum(members[c] for c in hidden)
            )
        needs_protection = hidden_small or any(
            cells.get((c, column)) == SMALL_CELL for c in visible
        )
        if needs_protection and unknown < 2:
            spare = [c for c in visible if (c, column) not in cells]
            if spare:
                pick = min(spare, key=lambda c: (by_category.get(c, 0), c))
                cells[pick, column] = COMPLEMENTARY
    return Suppression(frozenset(hidden), cells)


def _table(
    name: str,
    dimension: str,
    people: Sequence[Person],
    columns: Sequence[str],
    values: Mapping[str, Any],
    k: int,
    counted: Sequence[str],
) -> Table:
    """A table of ``columns`` by category: ``values[column](people of a category)``; the
    ``counted`` columns are counts subject to cell suppression, the rest (sums, means) are
    shown or hidden with their row."""
    groups: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        groups[p.category(dimension)].append(p)
    members = {c: len(ps) for c, ps in groups.items()}
    raw = {c: {col: values[col](ps) for col in columns} for c, ps in groups.items()}
    decided = suppress(members, {col: {c: raw[c][col] for c in raw} for col in counted}, k)
    rows = []
    for c in sorted(groups):
        if c in decided.hidden:
            continue
        cells = {"members": Cell(members[c])}
        for col in columns:
            why = decided.cells.get((c, col))
            cells[col] = Cell(None, why) if why else Cell(raw[c][col])
        rows.append(Row(c, cells))
    if decided.hidden:
        cells = {col: Cell(None, SMALL_GROUP) for col in ("members", *columns)}
        rows.append(Row(HIDDEN, cells))
    totals = {"members": len(people), **{col: values[col](people) for col in columns}}
    return Table(
        name, dimension, ("members", *columns), tuple(rows), totals, k, len(decided.hidden)
    )


def participation(people: Sequence[Person], dimension: str, k: int = DEFAULT_K) -> Table:
    """Of each category's members: how many stated, voted, held a delegate's mandate, held a
    commission seat."""
    values = {a: (lambda ps, a=a: sum(1 for p in ps if getattr(p, a))) for a in ACTIVITIES}
    return _table(
        f"participation by {dimension}", dimension, people, ACTIVITIES, values, k, ACTIVITIES
    )


def distribution(people: Sequence[Person], dimension: str, k: int = DEFAULT_K) -> Table:
    """Hours credited and goods drawn (hours) by category: totals and per member. Shown only
    for categories of ``k`` members or more (a small group's sum would be a few people's)."""

    def per_member(attr: str):
        def mean(ps: Sequence[Person]) -> Fraction | None:  # None: no one to divide among
            return exact_sum(getattr(p, attr) for p in ps) / len(ps) if ps else None

        return mean

    values = {
        "hours": lambda ps: exact_sum(p.hours for p in ps),
        "hours_per_member": per_member("hours"),
        "drawn": lambda ps: exact_sum(p.drawn for p in ps),
        "drawn_per_member": per_member("drawn"),
    }
    return _table(f"distribution by {dimension}", dimension, people, tuple(values), values, k, ())


# ---------------------------------------------------------------------------------------------
# Lorenz curve and Gini coefficient.


#: The Lorenz curve is shown by at most this many segments (the Gini is computed on all).
LORENZ_POINTS = 1000


def exact_sum(values: Iterable[Fraction | int]) -> Fraction:
    """The exact sum of rationals, added as integers over their common denominator (ledger
    amounts share 1/10000): Fraction addition reduces by a gcd at every step."""
    nums, den = _scaled(values)
    return Fraction(sum(nums), den)


def _scaled(values: Iterable[Fraction | int]) -> tuple[list[int], int]:
    """``values`` as integers over one common denominator."""
    parts = [(v.numerator, v.denominator) for v in values]  # an int has them too (v/1)
    den = math.lcm(*{d for _, d in parts}) if parts else 1
    return [n * (den // d) for n, d in parts], den


def _sorted_checked(values: Sequence[Fraction], what: str) -> list[int]:
    nums, _ = _scaled(values)
    nums.sort()
    if not nums or nums[0] < 0 or sum(nums) <= 0:
        raise ValueError(f"{what}: give non-negative values with a positive total")
    return nums


def lorenz(
    values: Sequence[Fraction], points: int | None = None
) -> tuple[tuple[Fraction, Fraction], ...]:
    """The Lorenz curve of ``values`` (each >= 0, total > 0): the points (i/n, share of the
    total held by the i smallest), i = 0..n; with ``points``, only those at ``points`` + 1
    evenly spaced population shares (each exact), when n is larger."""
    xs = _sorted_checked(values, "lorenz")
    n = len(xs)
    cumulative = list(itertools.accumulate(xs, initial=0))
    total = cumulative[-1]
    shown = (
        range(n + 1)
        if points is None or n <= points
        else (round(j * n / points) for j in range(points + 1))
    )
    return tuple((Fraction(i, n), Fraction(cumulative[i], total)) for i in shown)


def gini(values: Sequence[Fraction]) -> Fraction:
    """The Gini coefficient, exactly: sum over all pairs |x_i - x_j| / (2 n^2 mean), computed
    as 2 sum_i i x_(i) / (n sum x) - (n + 1) / n with x sorted ascending, i from 1. 0: all
    equal; (n - 1) / n: one holds everything."""
    xs = _sorted_checked(values, "gini")
    n = len(xs)
    weighted = sum(i * x for i, x in enumerate(xs, 1))
    return Fraction(2 * weighted, n * sum(xs)) - Fraction(n + 1, n)


def inequality(people: Sequence[Person], quantity: str, k: int = DEFAULT_K) -> Inequality:
    values = [getattr(p, quantity) for p in people]
    total = exact_sum(values)
    if len(values) < k:
        reason = f"fewer than {k} members in scope: not shown"
        return Inequality(quantity, len(values), total, None, (), reason)
    if total <= 0:
        reason = f"no {quantity} on record in scope: no distribution to measure"
        return Inequality(quantity, len(values), total, None, (), reason)
    curve = lorenz(values, LORENZ_POINTS)
    return Inequality(quantity, len(values), total, gini(values), curve)


# ---------------------------------------------------------------------------------------------
# The report, and its plain forms.


def equality_report(
    people: Sequence[Person],
    *,
    scope: Mapping[str, Any],
    k: int = DEFAULT_K,
    motions: Iterable[MotionOutcome] = (),
) -> EqualityReport:
    """Participation and distribution by each dimension, inequality of hours and draws, and the
    sections' motions, for ``people`` in ``scope`` (a description: council, federation or
    period)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k: {k!r}; the threshold is a whole number of people, at least 2")
    return EqualityReport(
        scope=dict(scope),
        k=k,
        members=len(people),
        participation=tuple(participation(people, d, k) for d in DIMENSIONS),
        distribution=tuple(distribution(people, d, k) for d in DIMENSIONS),
        inequality=(inequality(people, "hours", k), inequality(people, "drawn", k)),
        motions=tuple(motions),
    )


def shown(value: Any) -> Any:
    """A value as the JSON and CSV show it: a count as an int, hours as decimal text rounded
    to 4 places (the ledger's quantum), a share to 6."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        return f"{float(value):.4f}"
    return value


def table_rows(table: Table) -> list[dict]:
    """The table as plain rows: each column's value, or "suppressed", with a
    ``suppressed`` column naming why per cell."""
    out = []
    for row in table.rows:
        line: dict[str, Any] = {table.dimension: row.category}
        why = {}
        for col in table.columns:
            cell = row.cells[col]
            line[col] = "suppressed" if cell.suppressed else shown(cell.value)
            if cell.suppressed:
                why[col] = cell.suppressed
        line["suppressed"] = ";".join(f"{c}:{w}" for c, w in why.items())
        out.append(line)
    total = {table.dimension: "(all members)"}
    total.update({c: shown(table.totals[c]) for c in table.columns})
    total["suppressed"] = ""
    out.append(total)
    return out


def table_csv(table: Table) -> str:
    buffer = io.StringIO()
    fields = [table.dimension, *table.columns, "suppressed"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table_rows(table))
    return buffer.getvalue()


def report_json(report: EqualityReport) -> dict:
    """The report as JSON-ready data (numbers as the tables show them)."""

    def table(t: Table) -> dict:
        return {
            "name": t.name,
            "dimension": t.dimension,
            "k": t.k,
            "hidden_categories": t.hidden_categories,
            "suppressed_cells": t.suppressed_cells(),
            "rows": table_rows(t),
        }

    def curve(q: Inequality) -> dict:
        return {
            "quantity": q.quantity,
            "members": q.members,
            "total_hours": shown(q.total),
            "gini": f"{float(q.gini):.4f}" if q.gini is not None else None,
            "lorenz": [[f"{float(x):.6f}", f"{float(y):.6f}"] for x, y in q.lorenz],
            "reason": q.reason,
        }

    motions = [m.__dict__ for m in report.motions]
    return {
        "scope": report.scope,
        "k": report.k,
        "members": report.members,
        "participation": [table(t) for t in report.participation],
        "distribution": [table(t) for t in report.distribution],
        "inequality": [curve(q) for q in report.inequality],
        "motions": motions,
        "motion_outcomes": motion_summary(report.motions),
    }


def motion_summary(motions: Iterable[MotionOutcome]) -> dict[str, int]:
    """How many sections' motions were carried, not carried, void, still waiting, and in how
    many the council was in breach of its deadline."""
    summary = {"tabled": 0, "carried": 0, "not_carried": 0, "void": 0, "waiting": 0, "breached": 0}
    for m in motions:
        summary["tabled"] += 1
        summary[m.outcome or "waiting"] += 1
        summary["breached"] += bool(m.breached)
    return summary
