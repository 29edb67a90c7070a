"""Budgets for common goods: approval ballots counted by the method of equal shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from councilplan.councils import budgets
from councilplan.councils.service.ballots import insert_ballot
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    as_dict,
    existing,
    now_utc,
    read_hours,
    record,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Records, Store
from councilplan.councils.service.results import (
    Budget,
    BudgetDetail,
    BudgetProposal,
    budget_detail,
    budget_proposal_result,
    budget_result,
)

# ---------------------------------------------------------------------------------------------
# Budgets for common goods: approval ballots counted by the method of equal shares.


def open_budget(
    store: Store,
    *,
    council_id: int,
    opened_by: int,
    title: str,
    hours: Any,
    proposals_close_at: datetime,
    closes_at: datetime,
    now: datetime | None = None,
) -> Budget:
    """Allocate ``hours`` of labour among proposals: members propose until
    ``proposals_close_at``, then approve proposals until ``closes_at``."""
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    total = read_hours(hours, "hours")
    opens_at, closes_at = now_utc(proposals_close_at), now_utc(closes_at)
    if not now < opens_at < closes_at:
        raise Invalid(
            "bad_times",
            "closes_at: must follow proposals_close_at, both in the future",
            "closes_at",
        )
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, opened_by, "open a budget")
        ballot = insert_ballot(
            tx,
            council=council,
            purpose="budget",
            title=title,
            subject={},
            rule="approval",
            options=(),
            seats=1,
            quorum=Fraction(0),
            majority=Fraction(1, 2),
            secret=not council["weighted_votes"],
            opened_by=opened_by,
            opens_at=opens_at,
            closes_at=closes_at,
            now=now,
        )
        budget_id = tx.add_budget(
            {
                "council_id": council_id,
                "title": title,
                "hours": str(total),
                "ballot_id": ballot.id,
                "created_at": now,
            },
        )
        # The ballot is open, so this one update is allowed; it links the ballot back.
        tx.set_ballot_subject(ballot.id, {"budget_id": budget_id})
        record(
            tx,
            "budget.opened",
            {"budget_id": budget_id, "ballot_id": ballot.id, "hours": str(total), "by": opened_by},
            now,
        )
        return budget_result(tx.budget(budget_id))


def propose_project(
    store: Store,
    *,
    budget_id: int,
    member_id: int,
    title: str,
    cost_hours: Any,
    now: datetime | None = None,
) -> BudgetProposal:
    """A member proposes a project costing ``cost_hours`` of labour."""
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    cost = read_hours(cost_hours, "cost_hours")
    with store.transaction() as tx:
        budget = existing(tx.budget, budget_id, "budget", "budget_id")
        ballot = tx.ballot(budget["ballot_id"], lock="update")
        council = tx.council(budget["council_id"])
        require_standing(tx, council, member_id, "propose")
        if ballot["status"] != "open" or now >= ballot["opens_at"]:
            raise Conflict(
                "proposals_closed", f"proposals for budget {budget_id} are closed", "budget_id"
            )
        if cost > Decimal(budget["hours"]):
            raise Invalid(
                "over_budget",
                f"cost_hours: {cost} exceeds the whole budget of {budget['hours']} hours",
                "cost_hours",
            )
        proposal_id = tx.add_budget_proposal(
            {
                "budget_id": budget_id,
                "title": title,
                "cost_hours": str(cost),
                "proposed_by": member_id,
                "proposed_at": now,
            },
        )
        tx.set_ballot_options(ballot["id"], [*ballot["options"], str(proposal_id)])
        record(
            tx,
            "budget.proposed",
            {
                "budget_id": budget_id,
                "proposal_id": proposal_id,
                "title": title,
                "cost_hours": str(cost),
                "by": member_id,
            },
            now,
        )
        return budget_proposal_result(tx.budget_proposal(proposal_id))


def count_budget(tx: Records, ballot: Mapping[str, Any], votes: Sequence[Sequence]) -> dict:
    budget = tx.budget(ballot["subject"]["budget_id"])
    proposals = tx.budget_proposals(budget["id"])
    costs = {str(p["id"]): Fraction(p["cost_hours"]) for p in proposals}
    approvals = [list(choice) for choice, _ in votes]
    result = budgets.equal_shares(Fraction(budget["hours"]), costs, approvals)
    plain = result.to_dict() if hasattr(result, "to_dict") else result
    return as_dict(plain)


def get_budget(store: Store, budget_id: int) -> BudgetDetail:
    """A budget with its proposals."""
    with store.transaction() as tx:
        row = existing(tx.budget, budget_id, "budget", "budget_id")
        return budget_detail(row, tx.budget_proposals(budget_id))
