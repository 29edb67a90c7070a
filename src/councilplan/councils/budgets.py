"""Participatory budgeting of a labour budget (hours) by the Method of Equal Shares.

Members approve proposals; the budget is split equally among voters and each proposal is
bought by its supporters, cheapest-per-unit-of-satisfaction first (Peters and Skowron 2020,
"Proportionality and the limits of welfarism"; Peters, Pierczyński and Skowron 2021,
"Proportional participatory budgeting with additive utilities", NeurIPS). Exact arithmetic
with Fraction throughout.

This is hand-written rather than a call to pabutools because pabutools pulls in a
proprietary solver package and gmpy2; it is matched against pabutools exactly in the tests
(tie-breaking by proposal id, the ``voter_budget_increment`` completion and
``greedy_utilitarian_welfare`` fill). See docs/councils.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from councilplan.councils.counting import jsonable
from councilplan.errors import Where

__all__ = ["COMPLETIONS", "UTILITIES", "BudgetError", "BudgetResult", "equal_shares"]

Number = int | Fraction

COMPLETIONS = ("none", "add1", "utilitarian", "add1_utilitarian")
UTILITIES = ("cost", "cardinality")


class BudgetError(ValueError):
    """A budget, cost or approval ballot that cannot be counted; ``where`` says which."""

    def __init__(self, message: str, where: Where | None = None):
        self.message = message
        self.where = where or Where()
        located = str(self.where)
        super().__init__(f"{located}: {message}" if located else message)


@dataclass(frozen=True)
class BudgetResult:
    """Which proposals are funded from the labour budget.

    ``selected`` in the order they were chosen; ``spent`` and ``budget`` in hours;
    ``per_voter_payments`` (aligned with the approval ballots, hours) is what each voter's
    equal share paid towards proposals chosen by equal shares in the final run; proposals added
    by the utilitarian fill are paid from the common remainder and appear in ``filled``.
    ``voter_budget`` is the per-voter share used in the final equal-shares run (hours),
    ``increments`` how many times the completion raised it.
    """

    selected: tuple[str, ...]
    spent: Number
    budget: Number
    per_voter_payments: tuple[Number, ...]
    explanation: str
    by_equal_shares: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    voter_budget: Number = 0
    increments: int = 0
    completion: str = "add1_utilitarian"
    utility: str = "cost"
    approvals: Mapping[str, int] = field(default_factory=dict)

    @property
    def leftover(self) -> Number:
        return self.budget - self.spent

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "selected": list(self.selected),
                "spent": self.spent,
                "budget": self.budget,
                "leftover": self.leftover,
                "per_voter_payments": list(self.per_voter_payments),
                "by_equal_shares": list(self.by_equal_shares),
                "filled": list(self.filled),
                "voter_budget": self.voter_budget,
                "increments": self.increments,
                "completion": self.completion,
                "utility": self.utility,
                "approvals": dict(self.approvals),
                "explanation": self.explanation,
            }
        )


def _whole(x: Number) -> Number:
    return x.numerator if isinstance(x, Fraction) and x.denominator == 1 else x


def _exact(x: Any, where: Where, what: str) -> Number:
    if isinstance(x, bool) or not isinstance(x, int | Fraction):
        raise BudgetError(f"{what} {x!r} is not an int or Fraction of hours", where)
    if x < 0:
        raise BudgetError(f"{what} {x} is negative", where)
    return _whole(x)


def _support(
    groups: list[tuple[frozenset, int]], util: Mapping[str, Number], candidates: list[str]
) -> tuple[dict[str, list[int]], dict[str, Number]]:
    """Supporting voter groups of each proposal and their total utility."""
    supporters: dict[str, list[int]] = {p: [] for p in candidates}
    for g, (ballot, _) in enumerate(groups):
        for p in ballot:
            if p in supporters:
                supporters[p].append(g)
    total = {p: sum(groups[g][1] for g in supporters[p]) * util[p] for p in candidates}
    return supporters, total


def _mes_run(
    voter_budget: Number,
    groups: list[tuple[frozenset, int]],
    costs: Mapping[str, Number],
    util: Mapping[str, Number],
    candidates: list[str],
    rank: Mapping[str, int],
    support: tuple[dict[str, list[int]], dict[str, Number]],
) -> tuple[list[str], list[Number]]:
    """One run of equal shares with ``voter_budget`` hours per voter. Returns the proposals
    bought (in order) and what each voter group paid per voter. Ties in affordability go to
    the proposal first in ``rank`` (pabutools: lexicographic by id)."""
    budgets: list[Number] = [voter_budget] * len(groups)
    paid: list[Number] = [0] * len(groups)
    supporters, total_util = support
    # Affordability only rises as budgets are spent, so last round's value is a lower bound
    # that lets a round stop early (as pabutools does); the result is the exact minimum.
    lower = {p: Fraction(costs[p]) / total_util[p] for p in candidates}
    remaining = set(candidates)
    bought: list[str] = []
    while True:
        best: Fraction | None = None
        tied: list[str] = []
        for p in sorted(remaining, key=lambda q: (lower[q], rank[q])):
            cost, u = costs[p], util[p]
            if sum(groups[g][1] * budgets[g] for g in supporters[p]) < cost:
                remaining.discard(p)  # its supporters can never afford it again
                continue
            if best is not None and lower[p] > best:
                break
            contributed: Number = 0
            denominator = total_util[p]
            rho = None
            for g in sorted(supporters[p], key=lambda g: budgets[g]):
                rho = Fraction(cost - contributed) / denominator
                if rho * u <= budgets[g]:
                    break
                contributed += groups[g][1] * budgets[g]
                denominator -= groups[g][1] * u
            lower[p] = rho
            if best is None or rho < best:
                best, tied = rho, [p]
            elif rho == best:
                tied.append(p)
        if not tied:
            return bought, paid
        pick = min(tied, key=rank.__getitem__)
        bought.append(pick)
        remaining.discard(pick)
        for g in supporters[pick]:
            pay = min(budgets[g], best * util[pick])
            budgets[g] = _whole(budgets[g] - pay)
            paid[g] = _whole(paid[g] + pay)


def equal_shares(
    budget: Number,
    costs: Mapping[str, Number],
    approvals: Sequence[Collection[str]],
    completion: str = "add1_utilitarian",
    *,
    utility: str = "cost",
    increment: Number = 1,
    fund_unapproved: bool = False,
    tie_break: Sequence[str] | None = None,
) -> BudgetResult:
    """Fund proposals from ``budget`` hours by the Method of Equal Shares.

    ``costs``: hours per proposal id; ``approvals``: one collection of approved ids per voter.
    ``utility``: "cost" (a voter values a proposal at its cost; pabutools ``Cost_Sat``) or
    "cardinality" (1 per approved proposal; ``Cardinality_Sat``). ``completion``:
    "none" (plain equal shares); "add1" (pabutools ``voter_budget_increment``: rerun with each
    voter's share raised by ``increment`` hours until the result is exhaustive, keeping the
    last result within the real budget); "utilitarian" (then ``greedy_utilitarian_welfare``:
    add proposals by approvals-weighted satisfaction per hour while they fit);
    "add1_utilitarian" (both, as ``completion_by_rule_combination``). Proposals nobody approved
    are never funded unless ``fund_unapproved`` (pabutools' greedy would fund them last).
    ``tie_break``: proposal ids in order of precedence; default lexicographic by id, as
    pabutools' ``lexico_tie_breaking``.
    """
    if completion not in COMPLETIONS:
        raise BudgetError(
            f"unknown completion {completion!r}; use one of {', '.join(COMPLETIONS)}",
            Where(field="completion"),
        )
    if utility not in UTILITIES:
        raise BudgetError(
            f"unknown utility {utility!r}; use one of {', '.join(UTILITIES)}",
            Where(field="utility"),
        )
    budget = _exact(budget, Where(field="budget"), "budget")
    increment = _exact(increment, Where(field="increment"), "increment")
    if increment == 0 and completion.startswith("add1"):
        raise BudgetError("increment must be more than 0 hours", Where(field="increment"))
    costs = {
        p: _exact(c, Where(source="costs", id=str(p), field="cost"), "cost")
        for p, c in costs.items()
    }
    listed = list(tie_break or ())
    for p in listed:
        if p not in costs:
            raise BudgetError(f"tie-break order names unknown proposal {p!r}", Where(id=str(p)))
    order = listed + sorted(p for p in costs if p not in set(listed))
    rank = {p: i for i, p in enumerate(order)}

    ballots: list[frozenset] = []
    for row, a in enumerate(approvals):
        if isinstance(a, str):
            raise BudgetError(
                "an approval ballot is a collection of proposal ids, not one string",
                Where(source="approvals", row=row + 1),
            )
        b = frozenset(a)
        unknown = sorted(str(p) for p in b if p not in costs)
        if unknown:
            raise BudgetError(
                f"ballot approves unknown proposal {unknown[0]!r}; approve only listed proposals",
                Where(source="approvals", row=row + 1, id=unknown[0]),
            )
        ballots.append(b)
    n = len(ballots)
    multiplicity = Counter(ballots)
    groups = list(multiplicity.items())
    approved = Counter(p for b, m in groups for p in b for _ in range(m))
    util = {p: (costs[p] if utility == "cost" else 1) for p in costs}

    # Proposals with approvals and positive utility are bought with shares; supported proposals
    # costing nothing are funded outright (pabutools puts them in the initial allocation).
    candidates = [p for p in order if approved[p] and util[p] > 0 and costs[p] > 0]
    free = [p for p in order if approved[p] and util[p] > 0 and costs[p] == 0]

    def cost_of(ps: Collection[str]) -> Number:
        return sum((costs[p] for p in ps), 0)

    def exhaustive(chosen: list[str], among: Collection[str]) -> bool:
        spent = cost_of(chosen)
        return all(p in chosen or costs[p] + spent > budget for p in among)

    increments = 0
    voter_budget: Number = _whole(Fraction(budget) / n) if n else 0
    chosen, paid = list(free), [0] * len(groups)
    if n:
        support = _support(groups, util, candidates)
        bought, paid = _mes_run(voter_budget, groups, costs, util, candidates, rank, support)
        chosen = free + bought
        if completion.startswith("add1"):
            share = voter_budget
            while not exhaustive(chosen, candidates):
                share = _whole(share + increment)
                more, more_paid = _mes_run(share, groups, costs, util, candidates, rank, support)
                if cost_of(free + more) > budget:
                    break  # keep the last result within the real budget
                chosen, paid, voter_budget = free + more, more_paid, share
                increments += 1
    by_equal_shares = tuple(chosen)

    filled: list[str] = []
    pool = [p for p in order if fund_unapproved or approved[p]]
    if completion.endswith("utilitarian") and not exhaustive(chosen, pool):

        def density(p: str) -> Fraction | float:
            total = approved[p] * util[p]
            if total > 0:
                return Fraction(total, 1) / costs[p] if costs[p] > 0 else float("inf")
            return 0

        left = budget - cost_of(chosen)
        for p in sorted((p for p in pool if p not in chosen), key=lambda p: (-density(p), rank[p])):
            if costs[p] <= left:
                filled.append(p)
                left -= costs[p]
    selected = tuple(chosen) + tuple(filled)
    spent = _whole(cost_of(selected))

    payments_by_group = dict(zip((b for b, _ in groups), paid, strict=True))
    per_voter = tuple(payments_by_group.get(b, 0) for b in ballots)
    explanation = _explain(
        budget, n, voter_budget, increments, by_equal_shares, tuple(filled), spent, completion
    )
    return BudgetResult(
        selected=selected,
        spent=spent,
        budget=budget,
        per_voter_payments=per_voter,
        explanation=explanation,
        by_equal_shares=by_equal_shares,
        filled=tuple(filled),
        voter_budget=voter_budget,
        increments=increments,
        completion=completion,
        utility=utility,
        approvals=dict(sorted(((p, approved[p]) for p in costs), key=lambda x: rank[x[0]])),
    )


def _hours(x: Number) -> str:
    if isinstance(x, Fraction) and x.denominator != 1:
        return f"{float(x):.2f}"
    return str(x)


def _explain(budget, n, voter_budget, increments, by_shares, filled, spent, completion) -> str:
    if n == 0:
        head = f"No ballots were cast; {_hours(budget)} hours to allocate."
    else:
        head = (
            f"{_hours(budget)} hours shared equally among {n} voter(s)"
            + (
                f"; each share raised {increments} time(s) to {_hours(voter_budget)} hours "
                "so less is left unspent"
                if increments
                else f" ({_hours(voter_budget)} hours each)"
            )
            + ". "
            + (
                f"Bought by equal shares: {', '.join(by_shares)}."
                if by_shares
                else "No proposal could be paid for by its supporters' shares."
            )
        )
    tail = f" Added to use the remainder: {', '.join(filled)}." if filled else ""
    return f"{head}{tail} Spent {_hours(spent)} of {_hours(budget)} hours ({completion})."
