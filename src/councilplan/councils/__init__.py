"""The democratic domain as plain Python: counting votes, participatory budgets of hours,
the rules of membership, delegates and recall, and the rates-and-conflicts commission.

No database and no web here: plain data in, plain data out (see docs/councils.md).
"""

from councilplan.councils.budgets import BudgetError, BudgetResult, equal_shares
from councilplan.councils.counting import RULES, CountingError, Tally, count
from councilplan.councils.disputes import (
    Commission,
    DeadlinePolicy,
    Decision,
    Dispute,
    Effect,
    appeal,
    apply_deadlines,
    decide,
    file_dispute,
    finalise,
    hear,
)
from councilplan.councils.rules import (
    Electorate,
    Reason,
    RecallPetition,
    Rejection,
    ballot_weights,
    delegate_seat_rule,
    open_recall,
    recall_carried,
    recall_threshold_reached,
    support_recall,
    voting_weight,
)

__all__ = [
    "RULES",
    "BudgetError",
    "BudgetResult",
    "Commission",
    "CountingError",
    "DeadlinePolicy",
    "Decision",
    "Dispute",
    "Effect",
    "Electorate",
    "Reason",
    "RecallPetition",
    "Rejection",
    "Tally",
    "appeal",
    "apply_deadlines",
    "ballot_weights",
    "count",
    "decide",
    "delegate_seat_rule",
    "equal_shares",
    "file_dispute",
    "finalise",
    "hear",
    "open_recall",
    "recall_carried",
    "recall_threshold_reached",
    "support_recall",
    "voting_weight",
]
