"""Accounts in hours and the transfers between them: a double-entry, append-only book.

Every movement is a :class:`Transfer` of a positive amount from one account (``debit``) to
another (``credit``), so the hours in all accounts always sum to exactly zero. Nothing is
edited or deleted: a mistake is undone by a reversal, a transfer that refers to the
original and moves the same amount back. :meth:`Book.apply` takes a batch whole or not at
all, and refuses any batch that would take an account below zero where its kind may not
go there (members, a workplace's means and materials funds, the common fund, goods).
docs/ledger.md describes the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from councilplan.errors import Where
from councilplan.ledger.errors import LedgerError, Reason
from councilplan.ledger.hours import EXACT, ZERO, read_hours, show

__all__ = [
    "MAY_GO_NEGATIVE",
    "ROUTES",
    "Account",
    "AccountKind",
    "Book",
    "Transfer",
    "TransferKind",
    "workplace_accounts",
]

#: The longest transfer id, account owner or period taken.
MAX_ID = 200


class AccountKind(StrEnum):
    """Whose hours an account holds."""

    MEMBER = "member"  # a member's own hours
    LABOUR_FUND = "labour_fund"  # a workplace's planned hours, paid out to its members
    MEANS_FUND = "means_fund"  # a workplace's hours for means of production
    MATERIALS_FUND = "materials_fund"  # a workplace's hours for its planned inputs
    COMMON_FUND = "common_fund"  # a federation's levy, for public goods and reserves
    ISSUE = "issue"  # a federation's plan for one period: where allotments come from
    GOODS = "goods"  # a federation's goods: where drawn hours return


#: Kinds whose balance may go below zero. A labour fund goes below zero when its members
#: work more hours than planned (their hours are still credited; the fund shows it over
#: plan); the issue account goes below zero by what the plan issued. No other may.
MAY_GO_NEGATIVE = frozenset({AccountKind.LABOUR_FUND, AccountKind.ISSUE})

_WHY_NOT_NEGATIVE = {
    AccountKind.MEMBER: "a member cannot overdraw",
    AccountKind.MEANS_FUND: "a workplace draws only what its plan allotted",
    AccountKind.MATERIALS_FUND: "a workplace draws only what its plan allotted",
    AccountKind.COMMON_FUND: "the common fund gives out only what the levy brought in",
    AccountKind.GOODS: "only hours that were drawn can be returned",
}


@dataclass(frozen=True, order=True)
class Account:
    """An account: its kind, whose it is (member id, workplace key or federation id) and,
    for an :attr:`AccountKind.ISSUE` account only, the planning period."""

    kind: AccountKind
    owner: str
    period: str | None = None

    def __post_init__(self) -> None:
        where = Where("account", id=str(self.owner))
        try:
            kind = AccountKind(self.kind)
        except ValueError:
            raise LedgerError(
                Reason.BAD_ACCOUNT,
                f"unknown account kind {self.kind!r}; use one of "
                + ", ".join(k.value for k in AccountKind),
                where,
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.owner, str) or not self.owner or len(self.owner) > MAX_ID:
            raise LedgerError(
                Reason.BAD_ACCOUNT,
                f"the owner of a {kind.value} account is {self.owner!r}; give the member, "
                f"workplace or federation id as text of 1 to {MAX_ID} characters",
                where,
            )
        if kind is AccountKind.ISSUE:
            if not isinstance(self.period, str) or not self.period or len(self.period) > MAX_ID:
                raise LedgerError(
                    Reason.BAD_ACCOUNT,
                    f"the issue account of {self.owner!r} needs its planning period as text, "
                    f"not {self.period!r}",
                    where,
                )
        elif self.period is not None:
            raise LedgerError(
                Reason.BAD_ACCOUNT,
                f"a {kind.value} account has no period (only an issue account has one); "
                f"leave out period {self.period!r}",
                where,
            )

    @property
    def may_go_negative(self) -> bool:
        return self.kind in MAY_GO_NEGATIVE

    def __str__(self) -> str:
        if self.period is None:
            return f"{self.kind.value}:{self.owner}"
        return f"{self.kind.value}:{self.owner}:{self.period}"


def workplace_accounts(workplace: str) -> tuple[Account, Account, Account]:
    """A workplace's labour fund, means fund and materials fund."""
    return (
        Account(AccountKind.LABOUR_FUND, workplace),
        Account(AccountKind.MEANS_FUND, workplace),
        Account(AccountKind.MATERIALS_FUND, workplace),
    )


class TransferKind(StrEnum):
    """What act made a transfer."""

    ALLOTMENT = "allotment"  # the adopted plan issues a workplace its funds
    HOURS = "hours"  # a member is credited hours worked, less the levy
    LEVY = "levy"  # the levy on hours worked goes to the common fund
    DRAW = "draw"  # a member or workplace draws a product at its labour value
    REVERSAL = "reversal"  # a transfer undone: the same amount moved back


_A = AccountKind
#: From which kind of account to which each kind of transfer may go (a reversal goes
#: back along its original's route).
ROUTES: Mapping[TransferKind, frozenset[tuple[AccountKind, AccountKind]]] = MappingProxyType(
    {
        TransferKind.ALLOTMENT: frozenset(
            {(_A.ISSUE, _A.LABOUR_FUND), (_A.ISSUE, _A.MEANS_FUND), (_A.ISSUE, _A.MATERIALS_FUND)}
        ),
        TransferKind.HOURS: frozenset({(_A.LABOUR_FUND, _A.MEMBER)}),
        TransferKind.LEVY: frozenset({(_A.LABOUR_FUND, _A.COMMON_FUND)}),
        TransferKind.DRAW: frozenset(
            {(_A.MEMBER, _A.GOODS), (_A.MATERIALS_FUND, _A.GOODS), (_A.MEANS_FUND, _A.GOODS)}
        ),
    }
)


@dataclass(frozen=True)
class Transfer:
    """``amount`` hours (> 0, on the quantum) moved from ``debit`` to ``credit``.

    ``kind`` says which act made it; ``reverses`` is the id of the transfer a reversal
    undoes (None for any other kind); ``reason`` says why (required for a reversal);
    ``ref`` holds the act's details as JSON-able values (a draw's product and quantity, the
    hours and levy rate of hours worked, the dispute a reversal cites). The amount may be
    given as text or an int; it is kept as a ``Decimal`` with four decimal places.
    """

    id: str
    debit: Account
    credit: Account
    amount: Decimal
    kind: TransferKind
    reverses: str | None = None
    reason: str = ""
    ref: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or len(self.id) > MAX_ID:
            raise LedgerError(
                Reason.BAD_TRANSFER,
                f"transfer id {self.id!r} is not text of 1 to {MAX_ID} characters",
                Where("transfer", id=repr(self.id)),
            )
        where = Where("transfer", id=self.id)
        for name in ("debit", "credit"):
            if not isinstance(getattr(self, name), Account):
                raise LedgerError(
                    Reason.BAD_TRANSFER,
                    f"{name} is {getattr(self, name)!r}, not an Account",
                    Where("transfer", id=self.id, field=name),
                )
        if self.debit == self.credit:
            raise LedgerError(
                Reason.WRONG_ACCOUNTS,
                f"transfer from {self.debit} to itself; a transfer moves hours between two "
                "accounts",
                where,
            )
        amount = read_hours(self.amount, Where("transfer", id=self.id, field="amount"))
        if amount <= 0:
            raise LedgerError(
                Reason.NOT_POSITIVE,
                f"amount {show(amount)} h is not above 0; a transfer moves at least 0.0001 h",
                Where("transfer", id=self.id, field="amount"),
            )
        object.__setattr__(self, "amount", amount)
        try:
            kind = TransferKind(self.kind)
        except ValueError:
            raise LedgerError(
                Reason.BAD_TRANSFER,
                f"unknown transfer kind {self.kind!r}; use one of "
                + ", ".join(k.value for k in TransferKind),
                Where("transfer", id=self.id, field="kind"),
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.reason, str):
            raise LedgerError(
                Reason.BAD_TRANSFER,
                f"reason {self.reason!r} is not text",
                Where("transfer", id=self.id, field="reason"),
            )
        if kind is TransferKind.REVERSAL:
            if not isinstance(self.reverses, str) or not self.reverses:
                raise LedgerError(
                    Reason.BAD_TRANSFER,
                    f"a reversal must name the transfer it reverses, not {self.reverses!r}",
                    Where("transfer", id=self.id, field="reverses"),
                )
            if not self.reason.strip():
                raise LedgerError(
                    Reason.BAD_TRANSFER,
                    "a reversal needs a reason: say what was mistaken",
                    Where("transfer", id=self.id, field="reason"),
                )
        else:
            if self.reverses is not None:
                raise LedgerError(
                    Reason.BAD_TRANSFER,
                    f"a {kind.value} transfer reverses nothing; only a reversal names "
                    f"{self.reverses!r}",
                    Where("transfer", id=self.id, field="reverses"),
                )
            if (self.debit.kind, self.credit.kind) not in ROUTES[kind]:
                routes = "; ".join(f"{a.value} to {b.value}" for a, b in sorted(ROUTES[kind]))
                raise LedgerError(
                    Reason.WRONG_ACCOUNTS,
                    f"a {kind.value} transfer cannot go from {self.debit} to {self.credit}; "
                    f"it goes {routes}",
                    where,
                )
        if not isinstance(self.ref, Mapping):
            raise LedgerError(
                Reason.BAD_TRANSFER,
                f"ref is {type(self.ref).__name__}, not a mapping of the act's details",
                Where("transfer", id=self.id, field="ref"),
            )
        object.__setattr__(self, "ref", MappingProxyType(dict(self.ref)))


class Book:
    """Open accounts, their balances (hours) and every transfer applied, in order.

    Balances are kept up to date as transfers are applied, never re-summed; each equals
    the hours credited to the account less the hours debited from it.
    """

    def __init__(self) -> None:
        self._balances: dict[Account, Decimal] = {}
        self._transfers: dict[str, Transfer] = {}
        self._reversed_by: dict[str, str] = {}
        self._entries: dict[Account, list[Transfer]] = {}

    @classmethod
    def replay(cls, accounts: Iterable[Account], transfers: Sequence[Transfer]) -> Book:
        """The book that opening ``accounts`` and applying ``transfers`` in order gives (a
        book rebuilt from its record); refuses what :meth:`open` and :meth:`apply` refuse."""
        book = cls()
        book.open(*accounts)
        book.apply(transfers)
        return book

    # -- reading ---------------------------------------------------------------------------

    @property
    def balances(self) -> Mapping[Account, Decimal]:
        """Every open account's balance in hours (a read-only view)."""
        return MappingProxyType(self._balances)

    @property
    def transfers(self) -> Mapping[str, Transfer]:
        """Every transfer applied, by id, in the order applied (a read-only view)."""
        return MappingProxyType(self._transfers)

    def is_open(self, account: Account) -> bool:
        return account in self._balances

    def balance(self, account: Account) -> Decimal:
        """``account``'s balance in hours; refuses an account that is not open."""
        self._require_open(account, Where("account", id=str(account)))
        return self._balances[account]

    def entries(self, account: Account) -> tuple[Transfer, ...]:
        """The transfers into or out of ``account``, in the order applied (its statement)."""
        self._require_open(account, Where("account", id=str(account)))
        return tuple(self._entries[account])

    def reversal_of(self, transfer_id: str) -> Transfer | None:
        """The reversal of transfer ``transfer_id``, or None when it stands."""
        by = self._reversed_by.get(transfer_id)
        return None if by is None else self._transfers[by]

    def over_plan(self, labour_fund: Account) -> Decimal:
        """Hours a workplace's labour fund has paid out beyond what its plans allotted (0
        when it is within its plan)."""
        if labour_fund.kind is not AccountKind.LABOUR_FUND:
            raise LedgerError(
                Reason.BAD_ACCOUNT,
                f"{labour_fund} is not a labour fund; only a labour fund can be over plan",
                Where("account", id=str(labour_fund)),
            )
        balance = self.balance(labour_fund)
        return ZERO if balance >= 0 else -balance

    # -- writing ---------------------------------------------------------------------------

    def open(self, *accounts: Account) -> None:
        """Open ``accounts`` at a balance of 0 h; all or none (an account already open, or
        given twice, is refused)."""
        seen: set[Account] = set()
        for account in accounts:
            if not isinstance(account, Account):
                raise LedgerError(
                    Reason.BAD_ACCOUNT,
                    f"{account!r} is not an Account",
                    Where("account", id=repr(account)),
                )
            if account in self._balances or account in seen:
                raise LedgerError(
                    Reason.ACCOUNT_OPEN,
                    f"account {account} is already open",
                    Where("account", id=str(account)),
                )
            seen.add(account)
        for account in accounts:
            self._balances[account] = ZERO
            self._entries[account] = []

    def check(self, transfers: Sequence[Transfer]) -> dict[Account, Decimal]:
        """The balances the batch ``transfers`` would leave in the accounts it touches,
        without applying it; raises the :class:`LedgerError` :meth:`apply` would raise."""
        if isinstance(transfers, Transfer) or not isinstance(transfers, Sequence):
            raise LedgerError(
                Reason.BAD_TRANSFER,
                f"give a sequence of transfers (a batch), not {type(transfers).__name__}",
                Where("transfers"),
            )
        balances: dict[Account, Decimal] = {}
        batch: dict[str, Transfer] = {}
        reversed_here: dict[str, str] = {}
        for row, transfer in enumerate(transfers, start=1):
            if not isinstance(transfer, Transfer):
                raise LedgerError(
                    Reason.BAD_TRANSFER,
                    f"{transfer!r} is not a Transfer",
                    Where("transfers", row=row),
                )
            where = Where("transfers", row=row, id=transfer.id)
            if transfer.id in self._transfers or transfer.id in batch:
                raise LedgerError(
                    Reason.DUPLICATE_TRANSFER,
                    f"transfer id {transfer.id!r} is already in the book; every transfer "
                    "has an id of its own",
                    where,
                )
            self._require_open(transfer.debit, where)
            self._require_open(transfer.credit, where)
            if transfer.kind is TransferKind.REVERSAL:
                self._check_reversal(transfer, batch, reversed_here, where)
                reversed_here[transfer.reverses] = transfer.id
            with_debit = self._after(balances, transfer.debit, -transfer.amount)
            if with_debit < 0 and not transfer.debit.may_go_negative:
                before = balances.get(transfer.debit, self._balances[transfer.debit])
                raise LedgerError(
                    Reason.OVERDRAWN,
                    f"{transfer.debit} has {show(before)} h; {transfer.kind.value} "
                    f"{transfer.id!r} takes {show(transfer.amount)} h from it, which would "
                    f"leave {show(with_debit)} h: {_WHY_NOT_NEGATIVE[transfer.debit.kind]}",
                    Where("transfers", row=row, id=transfer.id, field="amount"),
                )
            balances[transfer.debit] = with_debit
            balances[transfer.credit] = self._after(balances, transfer.credit, transfer.amount)
            batch[transfer.id] = transfer
        return balances

    def apply(self, transfers: Sequence[Transfer]) -> None:
        """Apply the batch ``transfers`` in order, all or none.

        Refused whole (:class:`LedgerError`, the book unchanged) when a transfer's id is
        already used, an account is not open, a reversal breaks the reversal rules (see
        :meth:`check`), or a transfer would take an account below zero whose kind may not
        go there, at any point in the batch; the error names the account, its balance and
        the amount.
        """
        balances = self.check(transfers)
        for transfer in transfers:
            self._transfers[transfer.id] = transfer
            self._entries[transfer.debit].append(transfer)
            self._entries[transfer.credit].append(transfer)
            if transfer.kind is TransferKind.REVERSAL:
                self._reversed_by[transfer.reverses] = transfer.id
        self._balances.update(balances)

    # -- rules -----------------------------------------------------------------------------

    def _require_open(self, account: Account, where: Where) -> None:
        if account not in self._balances:
            raise LedgerError(
                Reason.UNKNOWN_ACCOUNT, f"account {account} is not open; open it first", where
            )

    def _after(self, balances: dict[Account, Decimal], account: Account, change: Decimal):
        return EXACT.add(balances.get(account, self._balances[account]), change)

    def _check_reversal(
        self,
        reversal: Transfer,
        batch: Mapping[str, Transfer],
        reversed_here: Mapping[str, str],
        where: Where,
    ) -> None:
        """A reversal undoes a transfer that is in the book (or earlier in its batch), that
        is not itself a reversal and not reversed yet, moving the same amount back between
        the same two accounts."""
        original = self._transfers.get(reversal.reverses) or batch.get(reversal.reverses)
        if original is None:
            raise LedgerError(
                Reason.UNKNOWN_TRANSFER,
                f"reversal {reversal.id!r} reverses transfer {reversal.reverses!r}, which is "
                "not in the book",
                where,
            )
        if original.kind is TransferKind.REVERSAL:
            raise LedgerError(
                Reason.REVERSAL_OF_REVERSAL,
                f"transfer {original.id!r} is itself a reversal and is not reversed; correct "
                "a mistaken reversal with a new ordinary entry",
                where,
            )
        by = self._reversed_by.get(original.id) or reversed_here.get(original.id)
        if by is not None:
            raise LedgerError(
                Reason.ALREADY_REVERSED,
                f"transfer {original.id!r} was already reversed by {by!r}; a transfer is "
                "reversed at most once",
                where,
            )
        if (reversal.debit, reversal.credit, reversal.amount) != (
            original.credit,
            original.debit,
            original.amount,
        ):
            raise LedgerError(
                Reason.REVERSAL_MISMATCH,
                f"reversal {reversal.id!r} moves {show(reversal.amount)} h from "
                f"{reversal.debit} to {reversal.credit}; reversing {original.id!r} moves "
                f"{show(original.amount)} h from {original.credit} back to {original.debit}",
                where,
            )
