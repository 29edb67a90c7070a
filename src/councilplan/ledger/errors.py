"""What the ledger refuses: a stable reason code, a message a member can act on, and where."""

from __future__ import annotations

from enum import StrEnum

from councilplan.errors import Where

__all__ = ["LedgerError", "Reason"]


class Reason(StrEnum):
    """Why the ledger refuses something (the code the service and the audit log record)."""

    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    NEGATIVE = "negative"
    NOT_POSITIVE = "not_positive"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"
    BAD_ACCOUNT = "bad_account"
    ACCOUNT_OPEN = "account_open"
    UNKNOWN_ACCOUNT = "unknown_account"
    BAD_TRANSFER = "bad_transfer"
    DUPLICATE_TRANSFER = "duplicate_transfer"
    WRONG_ACCOUNTS = "wrong_accounts"
    OVERDRAWN = "overdrawn"
    UNKNOWN_TRANSFER = "unknown_transfer"
    ALREADY_REVERSED = "already_reversed"
    REVERSAL_OF_REVERSAL = "reversal_of_reversal"
    REVERSAL_MISMATCH = "reversal_mismatch"
    TOO_SMALL = "too_small"
    BAD_RATE = "bad_rate"
    NOT_IN_PLAN = "not_in_plan"
    BAD_PLAN = "bad_plan"


class LedgerError(ValueError):
    """An amount, account, transfer or plan the ledger cannot take: ``reason`` (a
    :class:`Reason`), ``message`` (what was wrong and what to do) and ``where`` (which
    transfer, account or field)."""

    def __init__(self, reason: Reason, message: str, where: Where | None = None):
        self.reason = reason
        self.message = message
        self.where = where or Where()
        located = str(self.where)
        super().__init__(f"{located}: {message}" if located else message)
