"""What the councils' acts need from a database, in their own words: :class:`Records` (one
transaction's reads and writes) and :class:`Store` (where transactions come from). ``store/``
implements both for SQLite and PostgreSQL; the tests' in-memory fake implements them too.

A row comes back as a plain dict of the thing's fields (a ballot's ``status``, a membership's
``joined_at``...), datetimes UTC-aware; ``add_*`` takes such fields and returns the new id.
Lists come in the order things were made (by id) unless said otherwise. ``lock`` ("share" or
"update") locks what is read until the act ends, where the database can (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from councilplan.audit.chain import Entry


class Duplicate(Exception):
    """Raised by a :class:`Records` implementation when a unique key is already taken."""

    def __init__(self, table: str, detail: str = ""):
        super().__init__(f"{table}: {detail}")
        self.table = table


class GuardRefused(Exception):
    """Raised by a :class:`Records` implementation when a database guard (trigger) refuses."""


@dataclass(frozen=True)
class QuickVote:
    """What a store's ``quick_vote_async`` reports of a vote it cast."""

    weight: int
    audit_seq: int
    purpose: str


Row = dict[str, Any]
Fields = Mapping[str, Any]


class Records(Protocol):
    # -- accounts and their login tokens -------------------------------------------------------
    def account(self, account_id: int) -> Row | None: ...
    def account_by_name_key(self, name_key: str) -> Row | None:
        """The account whose username folds to ``name_key`` (councils/names.py)."""

    def account_by_username(self, username: str) -> Row | None: ...
    def add_account(self, fields: Fields) -> int:
        """Raises :class:`Duplicate` when the username (or its folded key) is taken."""

    def set_password_hash(self, account_id: int, password_hash: str) -> None: ...
    def set_account_identity(self, account_id: int, fields: Fields) -> None:
        """New username, name_key, display_name and password_hash (anonymising)."""

    def add_token(self, fields: Fields) -> None: ...
    def token(self, token_hash: str) -> Row | None: ...
    def tokens_of(self, account_id: int) -> list[Row]: ...
    def delete_token(self, token_hash: str) -> bool:
        """Whether there was such a token."""

    # -- councils, membership, applications, federations ---------------------------------------
    def council(self, council_id: int) -> Row | None: ...
    def councils(self) -> list[Row]: ...
    def add_council(self, fields: Fields) -> int:
        """Raises :class:`Duplicate` when the name is taken."""

    def set_council_rules(self, council_id: int, rules: Fields) -> None: ...
    def membership(self, membership_id: int) -> Row | None: ...
    def current_membership(self, council_id: int, account_id: int) -> Row | None: ...
    def memberships(self, council_id: int, *, current: bool = True) -> list[Row]: ...
    def memberships_of(self, account_id: int) -> list[Row]:
        """``account_id``'s current memberships."""

    def add_membership(self, council_id: int, account_id: int, joined_at: datetime) -> int:
        """Raises :class:`Duplicate` when the account is a current member already."""

    def end_membership(self, membership_id: int, left_at: datetime) -> None: ...
    def application(self, application_id: int) -> Row | None: ...
    def applications(self, council_id: int) -> list[Row]: ...
    def application_with_status(self, council_id: int, account_id: int, status: str) -> Row | None:
        """An account's application to a council in ``status`` (pending, invited...)."""

    def add_application(self, fields: Fields) -> int:
        """Raises :class:`Duplicate` when the same application waits already."""

    def set_application_inviter(self, application_id: int, invited_by: int) -> None: ...
    def decide_application(self, application_id: int, status: str, decided_at: datetime) -> None:
        """``status``: admitted or refused."""

    def put_application_to_ballot(self, application_id: int, ballot_id: int) -> None: ...
    def affiliation(self, federation_id: int, council_id: int) -> Row | None:
        """``council_id``'s current seat in ``federation_id``."""

    def affiliations(self, federation_id: int) -> list[Row]:
        """The councils currently affiliated with ``federation_id``."""

    def add_affiliation(self, fields: Fields) -> int: ...

    # -- delegates and recalls -----------------------------------------------------------------
    def delegate(self, delegate_id: int) -> Row | None: ...
    def delegates(
        self,
        *,
        federation_id: int | None = None,
        council_id: int | None = None,
        account_id: int | None = None,
        current: bool = True,
    ) -> list[Row]:
        """Mandates matching what is given; only those not ended when ``current``."""

    def add_delegate(self, fields: Fields) -> int: ...
    def end_delegate(self, delegate_id: int, ended_at: datetime, reason: str) -> None: ...
    def recall(self, recall_id: int, *, lock: str | None = None) -> Row | None: ...
    def recall_with_status(self, delegate_id: int, status: str) -> Row | None: ...
    def add_recall(self, fields: Fields) -> int: ...
    def set_recall_status(
        self,
        recall_id: int,
        status: str,
        *,
        ballot_id: int | None = None,
        by_election_ballot_id: int | None = None,
    ) -> None:
        """``status``, and the ballot ids given (those not given stay as they are)."""

    def add_recall_supporter(self, recall_id: int, account_id: int, at: datetime) -> None:
        """Raises :class:`Duplicate` when the account supports the recall already."""

    def recall_support(self, recall_id: int) -> int:
        """How many support the recall."""

    # -- motions and ballots -------------------------------------------------------------------
    def motion(self, motion_id: int) -> Row | None: ...
    def add_motion(self, fields: Fields) -> int: ...
    def amendment(self, amendment_id: int) -> Row | None: ...
    def amendments(self, motion_id: int) -> list[Row]: ...
    def add_amendment(self, fields: Fields) -> int: ...
    def ballot(self, ballot_id: int, *, lock: str | None = None) -> Row | None:
        """``lock="update"`` also waits for, and excludes, votes in flight."""

    def ballots(self, council_id: int) -> list[Row]: ...
    def open_ballots(self) -> list[Row]:
        """Every ballot not yet closed, of all councils."""

    def add_ballot(self, fields: Fields) -> int: ...
    def set_ballot_options(self, ballot_id: int, options: Sequence[str]) -> None: ...
    def set_ballot_subject(self, ballot_id: int, subject: Fields) -> None: ...
    def close_ballot_row(
        self,
        ballot_id: int,
        *,
        closed_at: datetime,
        electorate: int,
        tally: Fields,
        votes_digest: str,
    ) -> None:
        """Mark the ballot closed with its count; the database refuses changes after."""

    def record_participation(self, ballot_id: int, account_id: int) -> None:
        """That ``account_id`` voted; raises :class:`Duplicate` on a second vote."""

    def participants(self, ballot_id: int) -> list[int]:
        """The accounts that voted, in no particular order."""

    def add_vote(self, vote_id: str, ballot_id: int, choice: Any, weight: int) -> None: ...
    def add_open_vote(self, vote_id: str, ballot_id: int, account_id: int) -> None:
        """Name the voter of an open (not secret) ballot's vote."""

    def open_votes(self, ballot_id: int) -> list[Row]:
        """An open ballot's votes with their voters: account_id, choice, weight."""

    def ballot_votes(self, ballot_id: int) -> list[Sequence[Any]]:
        """A ballot's stored votes as (choice, weight) pairs, in the votes' key order: an open
        ballot's, or a closed open ballot's. A closed secret ballot has none: its votes are in
        its ballot box."""

    def take_votes(self, ballot_id: int) -> list[Sequence[Any]]:
        """Delete a ballot's stored votes and return them as (choice, weight) pairs, in no
        particular order: closing a secret ballot seals them in its ballot box. Fast at any
        size (PostgreSQL: one aggregate read and one delete)."""

    def add_ballot_box(self, ballot_id: int, votes: str) -> None: ...
    def ballot_box(self, ballot_id: int) -> str | None:
        """A closed secret ballot's sealed votes (``ballots.seal_box``), or None."""

    # -- participatory budgets -----------------------------------------------------------------
    def budget(self, budget_id: int) -> Row | None: ...
    def add_budget(self, fields: Fields) -> int: ...
    def set_budget_result(self, budget_id: int, result: Fields) -> None: ...
    def budget_proposal(self, proposal_id: int) -> Row | None: ...
    def budget_proposals(self, budget_id: int) -> list[Row]: ...
    def add_budget_proposal(self, fields: Fields) -> int: ...

    # -- rates-and-conflicts commissions and their disputes ------------------------------------
    def commission(self, commission_id: int, *, lock: str | None = None) -> Row | None: ...
    def commissions(
        self, *, federation_id: int | None = None, workplace_council_id: int | None = None
    ) -> list[Row]: ...
    def add_commission(self, fields: Fields) -> int:
        """Raises :class:`Duplicate` when the name is taken."""

    def commission_seat(self, seat_id: int) -> Row | None: ...
    def commission_seats(
        self,
        commission_id: int | None = None,
        *,
        account_id: int | None = None,
        side: str | None = None,
        current: bool = True,
    ) -> list[Row]:
        """Seats matching what is given; only those not left when ``current``."""

    def add_commission_seat(self, fields: Fields) -> int: ...
    def end_commission_seat(self, seat_id: int, left_at: datetime) -> None: ...
    def dispute(self, dispute_id: int, *, lock: str | None = None) -> Row | None: ...
    def disputes(self, commission_id: int | None = None) -> list[Row]: ...
    def add_dispute(self, fields: Fields) -> int: ...
    def set_dispute_state(
        self, dispute_id: int, state: Fields, status: str, updated_at: datetime
    ) -> None: ...

    # -- planning periods: bundles, periods, statements, variants, rounds ---------------------
    def bundle(self, digest: str, *, archive: bool = False) -> Row | None:
        """A bundle's fields; its ``archive`` bytes only when asked for."""

    def add_bundle(self, fields: Fields) -> str: ...
    def period(self, period_id: int, *, lock: str | None = None) -> Row | None: ...
    def ledger_persons(self, period_id: int) -> str | None:
        """The rule ``ledger_persons`` of the federation whose period it is (None: no period)."""

    def periods(self, federation_id: int | None = None) -> list[Row]: ...
    def add_period(self, fields: Fields) -> int: ...
    def update_period(self, period_id: int, values: Fields) -> None: ...
    def statement(self, statement_id: int) -> Row | None: ...
    def statements(
        self, period_id: int, *, council_id: int | None = None, status: str | None = None
    ) -> list[Row]: ...
    def add_statement(self, fields: Fields) -> int: ...
    def set_statement_status(
        self, statement_id: int, status: str, decided_at: datetime
    ) -> None: ...

    def variant(
        self, variant_id: int, *, lock: str | None = None, result: bool = False
    ) -> Row | None:
        """A variant's fields; its published ``result`` only when asked for (it may be large)."""

    def variants(self, period_id: int) -> list[Row]:
        """A period's variants, without their results."""

    def add_variant(self, fields: Fields) -> int:
        """Raises :class:`Duplicate` when the period has a variant of that name."""

    def claim_variant(
        self, worker: str, started_at: datetime, stale_before: datetime | None = None
    ) -> Row | None:
        """The oldest queued variant (or running one whose worker was last heard of before
        ``stale_before``), now running under ``worker``; None when there is none. Two workers
        never claim the same one."""

    def update_variant(self, variant_id: int, values: Fields) -> None: ...
    def set_progress(self, variant_id: int, stage: str, done: float, at: datetime) -> None:
        """How far a job is (not on the record: operational)."""

    def progress(self, variant_id: int) -> Row | None: ...
    def plan_round(self, round_id: int, *, lock: str | None = None) -> Row | None: ...
    def plan_rounds(self, period_id: int) -> list[Row]: ...
    def plan_round_number(self, period_id: int, number: int) -> Row | None: ...
    def add_plan_round(self, fields: Fields) -> int: ...
    def update_plan_round(self, round_id: int, values: Fields) -> None: ...
    def round_answers(self, round_id: int) -> list[Row]: ...
    def round_answer(self, round_id: int, council_id: int) -> Row | None: ...
    def add_round_answer(self, fields: Fields) -> int: ...
    def update_round_answer(self, answer_id: int, values: Fields) -> None: ...

    # -- labour-time accounts ------------------------------------------------------------------
    def ledger_account(self, key: str, *, lock: str | None = None) -> Row | None:
        """The account whose key is ``key`` (``str(ledger.Account)``)."""

    def ledger_account_by_id(self, account_id: int) -> Row | None: ...
    def ledger_accounts(
        self, *, kind: str | None = None, owner: str | None = None
    ) -> list[Row]: ...

    def open_ledger_account(self, fields: Fields) -> None:
        """Open the account unless one with its key is open (a concurrent act's)."""

    def set_ledger_balance(self, account_id: int, balance: int) -> None: ...
    def add_transfer(self, fields: Fields) -> int: ...
    def transfer(self, tid: str) -> Row | None: ...
    def reversal_of(self, tid: str) -> Row | None: ...
    def transfers_of(
        self, ledger_account_id: int, *, limit: int, before: int | None = None
    ) -> list[Row]:
        """The account's transfers, newest first, ``before`` a transfer's id if given."""

    def levy(self, period_id: int) -> Row | None: ...
    def add_levy(self, fields: Fields) -> None: ...

    # -- the record ----------------------------------------------------------------------------
    def append_event(self, kind: str, payload: Mapping[str, Any], recorded_at: str) -> Entry:
        """Append to the audit log after the current head and return the entry. A store may
        chain it as the transaction commits; its ``seq`` and hashes are then readable once the
        transaction has committed."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Records]:
        """One act: commits when the block ends, rolls back if it raises."""

    def reading(self) -> AbstractContextManager[Records]:
        """Single reads that need no consistency with anything else (a token's owner); a store
        may serve them more cheaply than a transaction."""

    @property
    def is_async(self) -> bool:
        """Whether the ``*_async`` methods below answer on the caller's event loop now."""

    async def open_async(self) -> None:
        """Start answering on the event loop (the web app's lifespan); may do nothing."""

    async def close_async(self) -> None: ...

    async def token_async(self, token_hash: str) -> Row | None:
        """:meth:`Records.token` awaited on the event loop (only while :attr:`is_async`)."""

    def post_ledger_act(
        self, act: Mapping[str, Any], event: Callable[[dict[str, int]], Mapping[str, Any]]
    ) -> tuple[str, dict[str, int]] | None:
        """One recording of hours or one draw in one step, where the store has one (PostgreSQL:
        ``councilplan_ledger_post``, acts of concurrent callers batched in one transaction).
        ``act``: ``check`` (what the caller computed the transfers from, checked against the
        act's rules there), ``accounts`` (opened on first use and locked in the order given),
        ``transfers``, ``now`` and ``kind`` (of its audit event, whose payload is
        ``event({account key: id})``). ``("posted", ids)`` once posted, chained and committed;
        any other outcome (``refused``, ``stale``, ``overdrawn``) has written nothing, and the
        caller takes its general path. None: the store has no such step."""

    async def quick_vote_async(
        self, *, ballot_id: int, voter_id: int, choice: Any, now: datetime, recorded_at: str
    ) -> QuickVote | None:
        """Cast a vote in one awaited step (PostgreSQL: one database call) when every rule of
        ``cast_vote`` allows it, with its audit event; None, having written nothing, when any
        rule refuses it or the store has no such step: ``cast_vote`` then takes its general
        path, which names the refusal."""
