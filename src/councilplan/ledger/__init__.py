"""Labour-time accounts as plain Python: hours on an exact quantum, accounts and transfers
in a double-entry, append-only book, the transfers each act makes, and the common levy
computed from the adopted plan. See docs/ledger.md.

Nothing here reads or writes a database; the service records each act and calls these
functions to make and check its transfers.
"""

from councilplan.ledger.acts import allotments, draw, hours_worked, reversal, workplace_draw
from councilplan.ledger.book import (
    MAY_GO_NEGATIVE,
    ROUTES,
    Account,
    AccountKind,
    Book,
    Transfer,
    TransferKind,
    workplace_accounts,
)
from councilplan.ledger.errors import LedgerError, Reason
from councilplan.ledger.hours import (
    MAX_HOURS,
    QUANTUM,
    ZERO,
    Rounding,
    read_hours,
    read_quantity,
    show,
    to_quantum,
)
from councilplan.ledger.levy import Levy, PublicGood, levy_from_plan, read_rate

__all__ = [
    "MAX_HOURS",
    "MAY_GO_NEGATIVE",
    "QUANTUM",
    "ROUTES",
    "ZERO",
    "Account",
    "AccountKind",
    "Book",
    "LedgerError",
    "Levy",
    "PublicGood",
    "Reason",
    "Rounding",
    "Transfer",
    "TransferKind",
    "allotments",
    "draw",
    "hours_worked",
    "levy_from_plan",
    "read_hours",
    "read_quantity",
    "read_rate",
    "reversal",
    "show",
    "to_quantum",
    "workplace_accounts",
    "workplace_draw",
]
