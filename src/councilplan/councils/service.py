"""The councils' use cases: one function per act, one transaction per act, each act on record.

Every function takes a :class:`Store` (anything with ``transaction()``), the acting account and
the time ``now`` explicitly, checks who may do it, changes the records and appends an audit
event in the same transaction, and returns plain data. A refusal raises :class:`Refused` with a
named ``reason`` and the ``field`` at fault, and nothing is written.

Persistence is reached only through the small :class:`Records` interface defined here
(``store.repository`` implements it for SQLite and PostgreSQL), so this module imports nothing
from ``store`` or ``web``. Counting is done only by :func:`councilplan.councils.counting.count`
(and ``budgets.equal_shares`` for budgets).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Protocol

from argon2 import PasswordHasher

from councilplan.audit.chain import Entry, utc_timestamp
from councilplan.councils import budgets, counting, disputes, rules

COUNCIL_KINDS = ("workplace", "consumer", "federation")
MOTION_RULES = ("yes_no", "approval", "schulze")
DEFAULT_RECALL_SHARE = rules.DEFAULT_RECALL_SHARE


# ---------------------------------------------------------------------------------------------
# Errors: named reasons a member can read.


class Refused(Exception):
    """An act that may not be done. ``reason`` is a stable name (e.g. ``already_voted``),
    ``field`` the input at fault, ``message`` says what was wrong and what to do."""

    status = 403

    def __init__(self, reason: str, message: str, field: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


class NotFound(Refused):
    status = 404


class Invalid(Refused):
    status = 422


class Conflict(Refused):
    status = 409


class Duplicate(Exception):
    """Raised by a :class:`Records` implementation when a unique key is already taken."""

    def __init__(self, table: str, detail: str = ""):
        super().__init__(f"{table}: {detail}")
        self.table = table


class GuardRefused(Exception):
    """Raised by a :class:`Records` implementation when a database guard (trigger) refuses."""


# ---------------------------------------------------------------------------------------------
# The repository interface the use cases need. Rows are plain dicts keyed by column name;
# ``where`` maps columns to values, ``None`` meaning SQL NULL; datetimes are UTC-aware.


class Records(Protocol):
    def insert(self, table: str, values: Mapping[str, Any]) -> Any:
        """Insert one row and return its primary key; raise :class:`Duplicate` on a taken key."""

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def ballot_votes(self, ballot_id: int) -> list[dict]:
        """The stored votes of a ballot (``choice``, ``weight``), in key order."""

    def settle_votes(self, ballot_id: int) -> None:
        """Store the ballot's votes so that not even their physical order follows the order
        in which members voted (PostgreSQL heaps keep insertion order)."""

    def get(self, table: str, key: Any, *, lock: str | None = None) -> dict | None:
        """The row with primary key ``key``; ``lock`` "share" or "update" locks it (PostgreSQL)."""

    def find(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[dict]: ...

    def count(self, table: str, where: Mapping[str, Any] | None = None) -> int: ...

    def update(self, table: str, key: Any, values: Mapping[str, Any]) -> None: ...

    def delete(self, table: str, where: Mapping[str, Any]) -> int: ...

    def append_event(self, kind: str, payload: Mapping[str, Any], recorded_at: str) -> Entry:
        """Append to the audit log after the current head (locking it) and return the entry.
        A store may write it as the transaction commits; its ``seq`` and hashes are then
        readable once the transaction has committed."""


class Store(Protocol):
    def transaction(self) -> AbstractContextManager[Records]:
        """One transaction: commits when the block ends, rolls back if it raises."""


# ---------------------------------------------------------------------------------------------
# Plain results.


@dataclass(frozen=True)
class Council:
    id: int
    name: str
    kind: str
    description: str
    recall_share: str
    weighted_votes: bool
    created_at: datetime


@dataclass(frozen=True)
class Ballot:
    id: int
    council_id: int
    purpose: str
    title: str
    subject: Mapping[str, Any]
    rule: str
    options: tuple[str, ...]
    seats: int
    quorum: str
    majority: str
    secret: bool
    weighted: bool
    opened_by: int | None
    created_at: datetime
    opens_at: datetime
    closes_at: datetime
    status: str
    closed_at: datetime | None
    electorate: int | None
    tally: Mapping[str, Any] | None
    votes_digest: str | None


@dataclass(frozen=True)
class VoteReceipt:
    """Proof of participation; for secret ballots it names no choice."""

    ballot_id: int
    account_id: int
    weight: int
    audit_seq: int


def _council(row: dict) -> Council:
    return Council(
        row["id"],
        row["name"],
        row["kind"],
        row["description"],
        row["recall_share"],
        bool(row["weighted_votes"]),
        row["created_at"],
    )


def _ballot(row: dict) -> Ballot:
    fields = {k: row[k] for k in Ballot.__dataclass_fields__}
    fields["options"] = tuple(row["options"])
    fields["secret"] = bool(row["secret"])
    fields["weighted"] = bool(row["weighted"])
    return Ballot(**fields)


def as_dict(value: Any) -> Any:
    """A plain JSON-ready form of a result (datetimes as ISO strings, Fractions as 'p/q')."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_dict(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, datetime):
        return utc_timestamp(value)
    if isinstance(value, timedelta):
        return f"{value.total_seconds():.0f}s"
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value}"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [as_dict(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


# ---------------------------------------------------------------------------------------------
# Small helpers shared by the acts.


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _record(tx: Records, kind: str, payload: Mapping[str, Any], now: datetime) -> Entry:
    return tx.append_event(kind, as_dict(payload), utc_timestamp(now))


def _share(value: Fraction | str | int, field: str, *, allow_zero: bool = True) -> Fraction:
    try:
        share = Fraction(value)
    except (ValueError, ZeroDivisionError, TypeError):
        raise Invalid(
            "bad_share", f"{field}: {value!r} is not a share; write e.g. '1/4' or '0.25'", field
        ) from None
    if share < 0 or share > 1 or (share == 0 and not allow_zero):
        raise Invalid("bad_share", f"{field}: {value} must lie in (0, 1]", field)
    return share


def _hours(value: Any, field: str) -> Decimal:
    try:
        hours = Decimal(str(value))
    except InvalidOperation:
        raise Invalid("bad_hours", f"{field}: {value!r} is not a number of hours", field) from None
    if not hours.is_finite() or hours <= 0:
        raise Invalid("bad_hours", f"{field}: {value} hours must be positive", field)
    return hours


def _text(value: str, field: str, *, limit: int = 20_000) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid("empty", f"{field}: must not be empty", field)
    if len(value) > limit:
        raise Invalid("too_long", f"{field}: {len(value)} characters, at most {limit}", field)
    return value


def _get(tx: Records, table: str, key: Any, what: str, field: str, lock: str | None = None) -> dict:
    row = tx.get(table, key, lock=lock) if isinstance(key, int) else None
    if row is None:
        raise NotFound(f"no_such_{what}", f"{field}: there is no {what} {key!r}", field)
    return row


def _account(tx: Records, account_id: int, field: str = "account_id") -> dict:
    return _get(tx, "accounts", account_id, "account", field)


def _current_membership(tx: Records, council_id: int, account_id: int) -> dict | None:
    rows = tx.find(
        "memberships", {"council_id": council_id, "account_id": account_id, "left_at": None}
    )
    return rows[0] if rows else None


def _current_delegate(tx: Records, federation_id: int, account_id: int) -> dict | None:
    rows = tx.find(
        "delegates", {"federation_id": federation_id, "account_id": account_id, "ended_at": None}
    )
    return rows[0] if rows else None


def _seat_of(tx: Records, federation_id: int, council_id: int) -> dict | None:
    rows = tx.find(
        "federation_members",
        {"federation_id": federation_id, "council_id": council_id, "left_at": None},
    )
    return rows[0] if rows else None


def standing(tx: Records, council: Mapping[str, Any], account_id: int) -> int | None:
    """The weight with which ``account_id`` acts in ``council`` now, or None if they may not.

    In a workplace or consumer council every current member counts once. In a federation only
    current delegates act; each carries their council's weight when the federation weighs votes.
    """
    if council["kind"] != "federation":
        return 1 if _current_membership(tx, council["id"], account_id) else None
    delegate = _current_delegate(tx, council["id"], account_id)
    if delegate is None:
        return None
    if not council["weighted_votes"]:
        return 1
    seat = _seat_of(tx, council["id"], delegate["council_id"])
    return seat["weight"] if seat else None


def _require_standing(tx: Records, council: Mapping[str, Any], account_id: int, act: str) -> int:
    weight = standing(tx, council, account_id)
    if weight is None:
        if council["kind"] == "federation":
            raise Refused(
                "not_a_current_delegate",
                f"account {account_id} is not a current delegate to federation "
                f"{council['id']} ({council['name']}) and may not {act} there",
                "account_id",
            )
        raise Refused(
            "not_a_member",
            f"account {account_id} is not a member of council {council['id']} "
            f"({council['name']}) and may not {act} there; join it first",
            "account_id",
        )
    return weight


def _electorate(tx: Records, council: Mapping[str, Any], since: datetime) -> list[tuple[int, int]]:
    """(account, weight) of everyone who may vote on a ballot created at ``since``, now."""
    if council["kind"] == "federation":
        seats = {
            s["council_id"]: s["weight"]
            for s in tx.find(
                "federation_members", {"federation_id": council["id"], "left_at": None}
            )
        }
        result = []
        for d in tx.find("delegates", {"federation_id": council["id"], "ended_at": None}):
            weight = seats.get(d["council_id"], 1) if council["weighted_votes"] else 1
            result.append((d["account_id"], weight))
        return result
    return [
        (m["account_id"], 1)
        for m in tx.find("memberships", {"council_id": council["id"], "left_at": None})
        if m["joined_at"] <= since
    ]


# ---------------------------------------------------------------------------------------------
# Accounts and councils.


def register_account(
    store: Store,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    now: datetime | None = None,
) -> int:
    """Create an account (the password is hashed by the caller, e.g. argon2) and return its id."""
    now = _now(now)
    username = _text(username, "username", limit=64)
    if not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid(
            "bad_username", "username: use letters, digits, '.', '_' and '-' only", "username"
        )
    display_name = _text(display_name or username, "display_name", limit=200)
    with store.transaction() as tx:
        try:
            account_id = tx.insert(
                "accounts",
                {
                    "username": username,
                    "display_name": display_name,
                    "password_hash": password_hash,
                    "created_at": now,
                },
            )
        except Duplicate:
            raise Conflict(
                "username_taken", f"username: {username!r} is taken; choose another", "username"
            ) from None
        _record(tx, "account.registered", {"account_id": account_id, "username": username}, now)
    return account_id


def create_council(
    store: Store,
    *,
    name: str,
    kind: str,
    founder_id: int,
    description: str = "",
    recall_share: Fraction | str = DEFAULT_RECALL_SHARE,
    weighted_votes: bool = False,
    now: datetime | None = None,
) -> Council:
    """Found a council. The founder of a workplace or consumer council is its first member; a
    federation has no members of its own, only delegates of the councils that join it."""
    now = _now(now)
    name = _text(name, "name", limit=200)
    if kind not in COUNCIL_KINDS:
        raise Invalid(
            "bad_kind", f"kind: {kind!r} is not one of {', '.join(COUNCIL_KINDS)}", "kind"
        )
    share = _share(recall_share, "recall_share", allow_zero=False)
    if weighted_votes and kind != "federation":
        raise Invalid(
            "weights_need_federation",
            "weighted_votes: only a federation weighs its delegates' votes",
            "weighted_votes",
        )
    with store.transaction() as tx:
        _account(tx, founder_id, "founder_id")
        try:
            council_id = tx.insert(
                "councils",
                {
                    "name": name,
                    "kind": kind,
                    "description": description or "",
                    "recall_share": str(share),
                    "weighted_votes": weighted_votes,
                    "created_at": now,
                },
            )
        except Duplicate:
            raise Conflict(
                "name_taken", f"name: a council called {name!r} exists already", "name"
            ) from None
        if kind != "federation":
            tx.insert(
                "memberships",
                {"council_id": council_id, "account_id": founder_id, "joined_at": now},
            )
        _record(
            tx,
            "council.created",
            {
                "council_id": council_id,
                "name": name,
                "kind": kind,
                "founder_id": founder_id,
                "recall_share": str(share),
                "weighted_votes": weighted_votes,
            },
            now,
        )
        return _council(tx.get("councils", council_id))


def get_council(store: Store, council_id: int) -> Council:
    with store.transaction() as tx:
        return _council(_get(tx, "councils", council_id, "council", "council_id"))


def list_councils(store: Store) -> list[Council]:
    with store.transaction() as tx:
        return [_council(r) for r in tx.find("councils", order_by="id")]


def join_council(
    store: Store, *, council_id: int, account_id: int, now: datetime | None = None
) -> dict:
    """Join a workplace or consumer council (everyone who works or lives there may)."""
    now = _now(now)
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        _account(tx, account_id)
        if council["kind"] == "federation":
            raise Refused(
                "federation_has_delegates",
                f"council_id: {council_id} is a federation; its members are delegates elected "
                "by the councils that join it",
                "council_id",
            )
        if _current_membership(tx, council_id, account_id):
            raise Conflict(
                "already_a_member",
                f"account {account_id} is already a member of council {council_id}",
                "council_id",
            )
        try:
            membership_id = tx.insert(
                "memberships",
                {"council_id": council_id, "account_id": account_id, "joined_at": now},
            )
        except Duplicate:
            raise Conflict(
                "already_a_member",
                f"account {account_id} is already a member of council {council_id}",
                "council_id",
            ) from None
        _record(tx, "member.joined", {"council_id": council_id, "account_id": account_id}, now)
        return tx.get("memberships", membership_id)


def leave_council(
    store: Store, *, council_id: int, account_id: int, now: datetime | None = None
) -> dict:
    """Leave a council. A delegate who leaves the council that sent them loses the mandate."""
    now = _now(now)
    with store.transaction() as tx:
        _get(tx, "councils", council_id, "council", "council_id")
        membership = _current_membership(tx, council_id, account_id)
        if membership is None:
            raise Refused(
                "not_a_member",
                f"account {account_id} is not a member of council {council_id}",
                "council_id",
            )
        tx.update("memberships", membership["id"], {"left_at": now})
        ended = []
        for d in tx.find(
            "delegates", {"council_id": council_id, "account_id": account_id, "ended_at": None}
        ):
            tx.update("delegates", d["id"], {"ended_at": now, "end_reason": "left_council"})
            ended.append(d["id"])
        _record(
            tx,
            "member.left",
            {"council_id": council_id, "account_id": account_id, "delegacies_ended": ended},
            now,
        )
        return tx.get("memberships", membership["id"])


def members(store: Store, council_id: int, *, current: bool = True) -> list[dict]:
    """Memberships of a council with join and leave dates (federations: current delegates)."""
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        if council["kind"] == "federation":
            where = {"federation_id": council_id}
            if current:
                where["ended_at"] = None
            return tx.find("delegates", where, order_by="id")
        where = {"council_id": council_id}
        if current:
            where["left_at"] = None
        return tx.find("memberships", where, order_by="id")


def join_federation(
    store: Store,
    *,
    federation_id: int,
    council_id: int,
    actor_id: int,
    seats: int = 1,
    weight: int = 1,
    now: datetime | None = None,
) -> dict:
    """Affiliate a council with a federation with ``seats`` delegates, each voting with
    ``weight`` where the federation weighs votes. Done by a member of the joining council."""
    now = _now(now)
    if not 1 <= seats <= 100:
        raise Invalid("bad_seats", f"seats: {seats} must be between 1 and 100", "seats")
    if not 1 <= weight <= 1_000_000:
        raise Invalid("bad_weight", f"weight: {weight} must be between 1 and 1000000", "weight")
    with store.transaction() as tx:
        federation = _get(tx, "councils", federation_id, "council", "federation_id")
        council = _get(tx, "councils", council_id, "council", "council_id")
        if federation["kind"] != "federation":
            raise Invalid(
                "not_a_federation",
                f"federation_id: council {federation_id} is not a federation",
                "federation_id",
            )
        _require_standing(tx, council, actor_id, "affiliate it")
        if council["kind"] == "federation" and council_id == federation_id:
            raise Invalid(
                "self_affiliation", "council_id: a federation cannot join itself", "council_id"
            )
        if _seat_of(tx, federation_id, council_id):
            raise Conflict(
                "already_affiliated",
                f"council {council_id} already belongs to federation {federation_id}",
                "council_id",
            )
        seat_id = tx.insert(
            "federation_members",
            {
                "federation_id": federation_id,
                "council_id": council_id,
                "seats": seats,
                "weight": weight,
                "joined_at": now,
            },
        )
        _record(
            tx,
            "federation.joined",
            {
                "federation_id": federation_id,
                "council_id": council_id,
                "seats": seats,
                "weight": weight,
                "by": actor_id,
            },
            now,
        )
        return tx.get("federation_members", seat_id)


# ---------------------------------------------------------------------------------------------
# Motions and ballots.


def table_motion(
    store: Store,
    *,
    council_id: int,
    member_id: int,
    title: str,
    text: str,
    now: datetime | None = None,
) -> dict:
    """A member (a delegate, in a federation) tables a motion."""
    now = _now(now)
    title = _text(title, "title", limit=300)
    text = _text(text, "text")
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        _require_standing(tx, council, member_id, "table a motion")
        motion_id = tx.insert(
            "motions",
            {
                "council_id": council_id,
                "tabled_by": member_id,
                "title": title,
                "text": text,
                "tabled_at": now,
            },
        )
        _record(
            tx,
            "motion.tabled",
            {
                "motion_id": motion_id,
                "council_id": council_id,
                "by": member_id,
                "title": title,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            },
            now,
        )
        return tx.get("motions", motion_id)


def amend_motion(
    store: Store, *, motion_id: int, member_id: int, text: str, now: datetime | None = None
) -> dict:
    """A member tables an amendment to a motion of their council."""
    now = _now(now)
    text = _text(text, "text")
    with store.transaction() as tx:
        motion = _get(tx, "motions", motion_id, "motion", "motion_id")
        council = tx.get("councils", motion["council_id"])
        _require_standing(tx, council, member_id, "amend a motion")
        amendment_id = tx.insert(
            "amendments",
            {"motion_id": motion_id, "tabled_by": member_id, "text": text, "tabled_at": now},
        )
        _record(
            tx,
            "motion.amended",
            {
                "motion_id": motion_id,
                "amendment_id": amendment_id,
                "by": member_id,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
            },
            now,
        )
        return tx.get("amendments", amendment_id)


def motion(store: Store, motion_id: int) -> dict:
    """A motion with its amendments and ballots."""
    with store.transaction() as tx:
        row = _get(tx, "motions", motion_id, "motion", "motion_id")
        row["amendments"] = tx.find("amendments", {"motion_id": motion_id}, order_by="id")
        row["ballots"] = [
            b["id"]
            for b in tx.find("ballots", {"council_id": row["council_id"]}, order_by="id")
            if b["subject"].get("motion_id") == motion_id
        ]
        return row


def _check_options(rule: str, options: Sequence[str] | None) -> tuple[str, ...]:
    if rule == "yes_no":
        return counting.YES_NO_CHOICES
    opts = tuple(str(o).strip() for o in (options or ()))
    if len(opts) < 2:
        raise Invalid(
            "too_few_options", f"options: rule {rule} needs at least two options", "options"
        )
    if len(set(opts)) != len(opts) or any(not o for o in opts):
        raise Invalid("bad_options", "options: options must be distinct and non-empty", "options")
    if len(opts) > 200:
        raise Invalid("too_many_options", "options: at most 200 options", "options")
    return opts


def open_ballot(
    store: Store,
    *,
    council_id: int,
    opened_by: int,
    title: str,
    rule: str,
    closes_at: datetime,
    options: Sequence[str] | None = None,
    motion_id: int | None = None,
    quorum: Fraction | str = Fraction(0),
    majority: Fraction | str = Fraction(1, 2),
    secret: bool = False,
    seats: int = 1,
    now: datetime | None = None,
) -> Ballot:
    """Put a question (usually a motion) to the council's vote until ``closes_at``.

    ``rule``: yes_no (options yes/no/abstain, carried by ``majority`` of yes among yes+no),
    approval or schulze over ``options``. ``quorum``: share of the electorate that must vote.
    Federations that weigh votes vote openly, so each council can check its delegates.
    """
    now = _now(now)
    title = _text(title, "title", limit=300)
    if rule not in MOTION_RULES:
        raise Invalid("bad_rule", f"rule: {rule!r} is not one of {', '.join(MOTION_RULES)}", "rule")
    opts = _check_options(rule, options)
    quorum_share = _share(quorum, "quorum")
    majority_share = _share(majority, "majority", allow_zero=False)
    if majority_share < Fraction(1, 2):
        raise Invalid("bad_majority", "majority: must be at least 1/2", "majority")
    if not 1 <= seats < max(2, len(opts)):
        raise Invalid(
            "bad_seats",
            f"seats: {seats} must be at least 1 and fewer than the {len(opts)} options",
            "seats",
        )
    closes_at = _now(closes_at)
    if closes_at <= now:
        raise Invalid("closes_in_past", "closes_at: must lie in the future", "closes_at")
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        _require_standing(tx, council, opened_by, "open a ballot")
        if motion_id is not None:
            m = _get(tx, "motions", motion_id, "motion", "motion_id")
            if m["council_id"] != council_id:
                raise Invalid(
                    "motion_elsewhere",
                    f"motion_id: motion {motion_id} belongs to "
                    f"council {m['council_id']}, not {council_id}",
                    "motion_id",
                )
        weighted = bool(council["weighted_votes"])
        if weighted and secret:
            raise Invalid(
                "weighted_votes_are_open",
                "secret: delegates with weighted votes vote openly, so their councils can "
                "check them against the mandate",
                "secret",
            )
        return _insert_ballot(
            tx,
            council=council,
            purpose="motion",
            title=title,
            subject={"motion_id": motion_id},
            rule=rule,
            options=opts,
            seats=seats,
            quorum=quorum_share,
            majority=majority_share,
            secret=secret,
            opened_by=opened_by,
            opens_at=now,
            closes_at=closes_at,
            now=now,
        )


def _insert_ballot(
    tx: Records,
    *,
    council,
    purpose,
    title,
    subject,
    rule,
    options,
    seats,
    quorum,
    majority,
    secret,
    opened_by,
    opens_at,
    closes_at,
    now,
) -> Ballot:
    ballot_id = tx.insert(
        "ballots",
        {
            "council_id": council["id"],
            "purpose": purpose,
            "title": title,
            "subject": dict(subject),
            "rule": rule,
            "options": list(options),
            "seats": seats,
            "quorum": str(quorum),
            "majority": str(majority),
            "secret": secret,
            "weighted": bool(council["weighted_votes"]),
            "opened_by": opened_by,
            "created_at": now,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "status": "open",
        },
    )
    _record(
        tx,
        "ballot.opened",
        {
            "ballot_id": ballot_id,
            "council_id": council["id"],
            "purpose": purpose,
            "subject": subject,
            "rule": rule,
            "options": list(options),
            "seats": seats,
            "quorum": str(quorum),
            "majority": str(majority),
            "secret": secret,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "by": opened_by,
        },
        now,
    )
    return _ballot(tx.get("ballots", ballot_id))


def get_ballot(store: Store, ballot_id: int) -> Ballot:
    with store.transaction() as tx:
        return _ballot(_get(tx, "ballots", ballot_id, "ballot", "ballot_id"))


def list_ballots(store: Store, council_id: int) -> list[Ballot]:
    with store.transaction() as tx:
        _get(tx, "councils", council_id, "council", "council_id")
        return [_ballot(b) for b in tx.find("ballots", {"council_id": council_id}, order_by="id")]


def check_choice(rule: str, options: Sequence[str], choice: Any) -> Any:
    """The choice in its stored form, or :class:`Invalid` naming what is wrong with it."""
    if rule == "yes_no":
        if choice not in counting.YES_NO_CHOICES:
            raise Invalid("bad_choice", "choice: answer 'yes', 'no' or 'abstain'", "choice")
        return choice
    if not isinstance(choice, list | tuple) or not all(isinstance(c, str) for c in choice):
        raise Invalid("bad_choice", "choice: give a list of option names", "choice")
    unknown = [c for c in choice if c not in options]
    if unknown:
        raise Invalid(
            "bad_choice",
            f"choice: {unknown[0]!r} is not an option of this ballot; "
            f"options: {', '.join(options)}",
            "choice",
        )
    if len(set(choice)) != len(choice):
        raise Invalid("bad_choice", "choice: an option appears twice", "choice")
    if rule == "approval":
        return sorted(choice)  # a set: order carries nothing and must not leak anything
    if not choice:
        raise Invalid(
            "bad_choice", "choice: rank at least one option, most preferred first", "choice"
        )
    return list(choice)


def cast_vote(
    store: Store,
    *,
    ballot_id: int,
    voter_id: int,
    choice: Any,
    now: datetime | None = None,
) -> VoteReceipt:
    """Cast one vote. One member, one vote: the participation table's primary key refuses a
    second. A secret ballot stores the choice in ``votes`` with no link to the voter."""
    now = _now(now)
    with store.transaction() as tx:
        # A share lock: a concurrent close waits for votes in flight, and votes wait for it.
        ballot = _get(tx, "ballots", ballot_id, "ballot", "ballot_id", lock="share")
        if ballot["status"] != "open" or now >= ballot["closes_at"]:
            raise Conflict(
                "ballot_closed",
                f"ballot {ballot_id} is closed; votes are no longer taken",
                "ballot_id",
            )
        if now < ballot["opens_at"]:
            raise Conflict(
                "ballot_not_open",
                f"ballot {ballot_id} opens for votes at {utc_timestamp(ballot['opens_at'])}",
                "ballot_id",
            )
        council = tx.get("councils", ballot["council_id"])
        if council["kind"] == "federation":
            weight = _require_standing(tx, council, voter_id, "vote")
        else:
            membership = _current_membership(tx, council["id"], voter_id)
            if membership is None:
                _require_standing(tx, council, voter_id, "vote")  # refuses: not a member
            weight = 1
            if membership["joined_at"] > ballot["created_at"]:
                raise Refused(
                    "joined_after_ballot_opened",
                    f"account {voter_id} joined council {council['id']} after ballot "
                    f"{ballot_id} was opened and may vote on later ballots",
                    "voter_id",
                )
        stored = check_choice(ballot["rule"], ballot["options"], choice)
        if not ballot["weighted"]:
            weight = 1
        try:
            tx.insert("ballot_participation", {"ballot_id": ballot_id, "account_id": voter_id})
        except Duplicate:
            raise Conflict(
                "already_voted",
                f"account {voter_id} has already voted on ballot {ballot_id}; one member, one vote",
                "voter_id",
            ) from None
        vote_id = str(uuid.uuid4())
        tx.insert(
            "votes", {"id": vote_id, "ballot_id": ballot_id, "choice": stored, "weight": weight}
        )
        payload: dict[str, Any] = {"ballot_id": ballot_id, "account_id": voter_id}
        if not ballot["secret"]:
            tx.insert(
                "open_votes", {"vote_id": vote_id, "ballot_id": ballot_id, "account_id": voter_id}
            )
            payload.update(choice=stored, weight=weight)
        entry = _record(tx, "ballot.voted", payload, now)
    receipt = VoteReceipt(ballot_id, voter_id, weight, entry.seq)  # seq is final after commit
    if ballot["purpose"] == "recall":
        _close_recall_if_decided(store, ballot_id, now)
    return receipt


def _votes_digest(votes: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 over the stored votes in a canonical order, published when a ballot closes.
    Choices are strings or lists of strings (``check_choice``), so plain ``json.dumps`` is
    canonical for them."""
    encode = (
        _COMPACT_JSON.encode
    )  # one encoder for all: json.dumps(..., separators) builds one per call
    items = sorted(encode([v["choice"], v["weight"]]) for v in votes)
    return hashlib.sha256("\n".join(items).encode()).hexdigest()


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _count(
    ballot: Mapping[str, Any], votes: Sequence[Mapping[str, Any]], electorate: int
) -> counting.Tally:
    weights = [v["weight"] for v in votes] if ballot["weighted"] else None
    return counting.count(
        ballot["rule"],
        [v["choice"] for v in votes],
        options=tuple(ballot["options"]),
        seats=ballot["seats"],
        weights=weights,
        electorate=max(electorate, len(votes)),
        quorum_share=Fraction(ballot["quorum"]) or None,
        majority=Fraction(ballot["majority"]),
    )


def _count_or_void(
    ballot: Mapping[str, Any], votes: Sequence[Mapping[str, Any]], electorate: int
) -> counting.Tally | None:
    """The tally, or None when the ballot cannot be counted (an election nobody stood in, more
    seats than candidates): it closes void rather than staying open for ever."""
    try:
        return _count(ballot, votes, electorate)
    except counting.CountingError:
        return None


def _void(ballot: Mapping[str, Any], votes: Sequence[Mapping[str, Any]], electorate: int) -> dict:
    try:
        _count(ballot, votes, electorate)
        why = ""
    except counting.CountingError as error:
        why = str(error)
    return {
        "rule": ballot["rule"],
        "options": list(ballot["options"]),
        "seats": ballot["seats"],
        "winners": [],
        "outcome": "void",
        "ballots_cast": len(votes),
        "explanation": f"the ballot could not be counted and closes void: {why}",
    }


def close_ballot(store: Store, *, ballot_id: int, now: datetime | None = None) -> Ballot:
    """Close a ballot whose time is up, count it, store the tally, and carry out what it
    decided (seat delegates, recall one, fund budget proposals). Anyone may ask; nobody may
    close a ballot before its closing time."""
    now = _now(now)
    with store.transaction() as tx:
        ballot = _get(tx, "ballots", ballot_id, "ballot", "ballot_id", lock="update")
        if ballot["status"] == "closed":
            raise Conflict("ballot_closed", f"ballot {ballot_id} is already closed", "ballot_id")
        if now < ballot["closes_at"]:
            raise Conflict(
                "ballot_still_open",
                f"ballot {ballot_id} closes at "
                f"{utc_timestamp(ballot['closes_at'])}; it cannot be closed earlier",
                "ballot_id",
            )
        return _close(tx, ballot, now)


def _close(tx: Records, ballot: dict, now: datetime) -> Ballot:
    ballot_id = ballot["id"]
    council = tx.get("councils", ballot["council_id"])
    votes = tx.ballot_votes(ballot_id)
    if ballot["secret"] and votes:
        tx.settle_votes(ballot_id)
    electorate = len(_electorate(tx, council, ballot["created_at"]))
    electorate = max(electorate, len(votes))
    digest = _votes_digest(votes)
    counted = None
    if ballot["purpose"] == "budget":
        tally = _count_budget(tx, ballot, votes)
    else:
        counted = _count_or_void(ballot, votes, electorate)
        tally = counted.to_dict() if counted is not None else _void(ballot, votes, electorate)
    tx.update(
        "ballots",
        ballot_id,
        {
            "status": "closed",
            "closed_at": now,
            "electorate": electorate,
            "tally": tally,
            "votes_digest": digest,
        },
    )
    _record(
        tx,
        "ballot.closed",
        {
            "ballot_id": ballot_id,
            "electorate": electorate,
            "ballots_cast": len(votes),
            "votes_digest": digest,
            "tally": tally,
        },
        now,
    )
    if ballot["purpose"] == "election":
        _seat_winners(tx, ballot, tally, now)
    elif ballot["purpose"] == "recall":
        _apply_recall(tx, ballot, counted, now)
    elif ballot["purpose"] == "budget":
        tx.update("budgets", ballot["subject"]["budget_id"], {"result": tally})
    return _ballot(tx.get("ballots", ballot_id))


def close_due_ballots(store: Store, *, now: datetime | None = None) -> list[int]:
    """Close every open ballot whose closing time has passed; returns their ids."""
    now = _now(now)
    with store.transaction() as tx:
        due = [b["id"] for b in tx.find("ballots", {"status": "open"}) if b["closes_at"] <= now]
    closed = []
    for ballot_id in due:
        try:
            close_ballot(store, ballot_id=ballot_id, now=now)
            closed.append(ballot_id)
        except Conflict:
            pass  # closed meanwhile by someone else
    return closed


def recount(store: Store, ballot_id: int) -> dict:
    """Count a closed ballot again from its stored votes and compare with the stored tally."""
    with store.transaction() as tx:
        ballot = _get(tx, "ballots", ballot_id, "ballot", "ballot_id")
        if ballot["status"] != "closed":
            raise Conflict(
                "ballot_still_open", f"ballot {ballot_id} is open; it has no tally yet", "ballot_id"
            )
        votes = tx.ballot_votes(ballot_id)
        if ballot["purpose"] == "budget":
            tally = _count_budget(tx, ballot, votes)
        else:
            counted = _count_or_void(ballot, votes, ballot["electorate"])
            tally = (
                counted.to_dict()
                if counted is not None
                else _void(ballot, votes, ballot["electorate"])
            )
        digest = _votes_digest(votes)
        return {
            "ballot_id": ballot_id,
            "matches": tally == ballot["tally"] and digest == ballot["votes_digest"],
            "tally": tally,
            "stored_tally": ballot["tally"],
            "votes_digest": digest,
            "stored_votes_digest": ballot["votes_digest"],
        }


def participation(store: Store, ballot_id: int) -> list[int]:
    """Who voted (never what, on a secret ballot): account ids in id order."""
    with store.transaction() as tx:
        _get(tx, "ballots", ballot_id, "ballot", "ballot_id")
        return sorted(
            r["account_id"] for r in tx.find("ballot_participation", {"ballot_id": ballot_id})
        )


def open_votes(store: Store, ballot_id: int) -> list[dict]:
    """Who voted what on an open ballot; refused for a secret ballot."""
    with store.transaction() as tx:
        ballot = _get(tx, "ballots", ballot_id, "ballot", "ballot_id")
        if ballot["secret"]:
            raise Refused(
                "secret_ballot",
                f"ballot {ballot_id} is secret: who voted what is not on record",
                "ballot_id",
            )
        choices = {v["id"]: v for v in tx.find("votes", {"ballot_id": ballot_id})}
        return sorted(
            (
                {
                    "account_id": o["account_id"],
                    "choice": choices[o["vote_id"]]["choice"],
                    "weight": choices[o["vote_id"]]["weight"],
                }
                for o in tx.find("open_votes", {"ballot_id": ballot_id})
            ),
            key=lambda r: r["account_id"],
        )


# ---------------------------------------------------------------------------------------------
# Delegates: elections and recall.


def open_election(
    store: Store,
    *,
    council_id: int,
    federation_id: int,
    opened_by: int,
    mandate: str,
    closes_at: datetime,
    candidates: Sequence[int] = (),
    seats: int | None = None,
    nominations_close_at: datetime | None = None,
    now: datetime | None = None,
) -> Ballot:
    """Elect the council's delegates to a federation, with a written mandate. One seat: ranked
    ballots, majority with run-off; several: single transferable vote. The winners replace the
    council's current delegates there. Without ``candidates``, members nominate until
    ``nominations_close_at``."""
    now = _now(now)
    mandate = _text(mandate, "mandate")
    closes_at = _now(closes_at)
    opens_at = _now(nominations_close_at) if nominations_close_at else now
    if not now <= opens_at < closes_at:
        raise Invalid(
            "bad_times",
            "closes_at: must follow nominations_close_at, both in the future",
            "closes_at",
        )
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        _require_standing(tx, council, opened_by, "open an election")
        seat = _seat_of(tx, federation_id, council_id)
        if seat is None:
            raise Refused(
                "not_affiliated",
                f"federation_id: council {council_id} does not "
                f"belong to federation {federation_id}; join it first",
                "federation_id",
            )
        seats = seat["seats"] if seats is None else seats
        if not 1 <= seats <= seat["seats"]:
            raise Invalid(
                "bad_seats",
                f"seats: council {council_id} has {seat['seats']} "
                f"seat(s) in federation {federation_id}",
                "seats",
            )
        names = []
        for candidate in candidates:
            names.append(_candidate_name(tx, council, candidate))
        if candidates and len(set(names)) != len(names):
            raise Invalid("bad_candidates", "candidates: a candidate appears twice", "candidates")
        if not candidates and nominations_close_at is None:
            raise Invalid(
                "no_candidates",
                "candidates: name candidates, or give "
                "nominations_close_at for members to nominate them",
                "candidates",
            )
        return _insert_ballot(
            tx,
            council=council,
            purpose="election",
            title=f"Election of {seats} delegate(s) to federation {federation_id}",
            subject={"federation_id": federation_id, "mandate": mandate, "by_election": False},
            rule=rules.delegate_seat_rule(seats),
            options=names,
            seats=seats,
            quorum=Fraction(0),
            majority=Fraction(1, 2),
            secret=True,
            opened_by=opened_by,
            opens_at=opens_at,
            closes_at=closes_at,
            now=now,
        )


def _candidate_name(tx: Records, council: Mapping[str, Any], candidate: int) -> str:
    account = _account(tx, candidate, "candidates")
    if not _current_membership(tx, council["id"], candidate):
        raise Invalid(
            "candidate_not_member",
            f"candidates: account {candidate} is not a member of council {council['id']}",
            "candidates",
        )
    return account["username"]


def nominate(
    store: Store,
    *,
    ballot_id: int,
    member_id: int,
    candidate_id: int,
    now: datetime | None = None,
) -> Ballot:
    """Nominate a member as candidate in an election before its nominations close."""
    now = _now(now)
    with store.transaction() as tx:
        ballot = _get(tx, "ballots", ballot_id, "ballot", "ballot_id", lock="update")
        if ballot["purpose"] != "election":
            raise Invalid(
                "not_an_election", f"ballot_id: ballot {ballot_id} is not an election", "ballot_id"
            )
        if ballot["status"] != "open" or now >= ballot["opens_at"]:
            raise Conflict(
                "nominations_closed", f"nominations for ballot {ballot_id} are closed", "ballot_id"
            )
        council = tx.get("councils", ballot["council_id"])
        _require_standing(tx, council, member_id, "nominate")
        name = _candidate_name(tx, council, candidate_id)
        if name in ballot["options"]:
            raise Conflict(
                "already_nominated", f"candidate_id: {name} is already a candidate", "candidate_id"
            )
        tx.update("ballots", ballot_id, {"options": [*ballot["options"], name]})
        _record(
            tx,
            "election.nominated",
            {"ballot_id": ballot_id, "candidate_id": candidate_id, "by": member_id},
            now,
        )
        return _ballot(tx.get("ballots", ballot_id))


def _seat_winners(tx: Records, ballot: dict, tally: Mapping[str, Any], now: datetime) -> None:
    subject = ballot["subject"]
    federation_id = subject["federation_id"]
    if not tally.get("winners"):
        return
    if not subject.get("by_election"):
        for d in tx.find(
            "delegates",
            {"federation_id": federation_id, "council_id": ballot["council_id"], "ended_at": None},
        ):
            tx.update("delegates", d["id"], {"ended_at": now, "end_reason": "replaced"})
    for name in tally["winners"]:
        account = tx.find("accounts", {"username": name})[0]
        delegate_id = tx.insert(
            "delegates",
            {
                "federation_id": federation_id,
                "council_id": ballot["council_id"],
                "account_id": account["id"],
                "mandate": subject["mandate"],
                "election_ballot_id": ballot["id"],
                "elected_at": now,
            },
        )
        _record(
            tx,
            "delegate.elected",
            {
                "delegate_id": delegate_id,
                "federation_id": federation_id,
                "council_id": ballot["council_id"],
                "account_id": account["id"],
                "ballot_id": ballot["id"],
                "mandate": subject["mandate"],
            },
            now,
        )


def delegates(
    store: Store,
    *,
    federation_id: int | None = None,
    council_id: int | None = None,
    current: bool = True,
) -> list[dict]:
    """Delegates with their mandates, for a federation or a sending council."""
    where: dict[str, Any] = {}
    if federation_id is not None:
        where["federation_id"] = federation_id
    if council_id is not None:
        where["council_id"] = council_id
    if current:
        where["ended_at"] = None
    with store.transaction() as tx:
        return tx.find("delegates", where, order_by="id")


def open_recall(
    store: Store,
    *,
    delegate_id: int,
    member_id: int,
    reason: str,
    ballot_days: float = 7,
    now: datetime | None = None,
) -> dict:
    """Any member of the sending council opens a recall of its delegate and supports it."""
    now = _now(now)
    reason = _text(reason, "reason")
    with store.transaction() as tx:
        delegate = _get(tx, "delegates", delegate_id, "delegate", "delegate_id")
        council = tx.get("councils", delegate["council_id"])
        if delegate["ended_at"] is not None:
            raise Conflict(
                "delegate_not_current",
                f"delegate {delegate_id} no longer holds the mandate",
                "delegate_id",
            )
        _require_standing(tx, council, member_id, "recall its delegate")
        if tx.find("recalls", {"delegate_id": delegate_id, "status": "collecting"}) or tx.find(
            "recalls", {"delegate_id": delegate_id, "status": "balloting"}
        ):
            raise Conflict(
                "recall_under_way",
                f"a recall of delegate {delegate_id} is under way already; support it instead",
                "delegate_id",
            )
        recall_id = tx.insert(
            "recalls",
            {
                "delegate_id": delegate_id,
                "council_id": council["id"],
                "opened_by": member_id,
                "reason": reason,
                "opened_at": now,
                "status": "collecting",
            },
        )
        _record(
            tx,
            "recall.opened",
            {"recall_id": recall_id, "delegate_id": delegate_id, "by": member_id, "reason": reason},
            now,
        )
        return _support(tx, recall_id, member_id, ballot_days, now)


def support_recall(
    store: Store,
    *,
    recall_id: int,
    member_id: int,
    ballot_days: float = 7,
    now: datetime | None = None,
) -> dict:
    """A member supports an open recall; at the council's threshold its ballot runs."""
    now = _now(now)
    with store.transaction() as tx:
        recall = _get(tx, "recalls", recall_id, "recall", "recall_id", lock="update")
        council = tx.get("councils", recall["council_id"])
        _require_standing(tx, council, member_id, "support a recall")
        if recall["status"] != "collecting":
            raise Conflict(
                "recall_not_collecting",
                f"recall {recall_id} is {recall['status']}; support is no longer collected",
                "recall_id",
            )
        return _support(tx, recall_id, member_id, ballot_days, now)


def _support(
    tx: Records, recall_id: int, member_id: int, ballot_days: float, now: datetime
) -> dict:
    try:
        tx.insert(
            "recall_supporters",
            {"recall_id": recall_id, "account_id": member_id, "supported_at": now},
        )
    except Duplicate:
        raise Conflict(
            "already_supported",
            f"account {member_id} already supports recall {recall_id}",
            "member_id",
        ) from None
    recall = tx.get("recalls", recall_id)
    council = tx.get("councils", recall["council_id"])
    support = tx.count("recall_supporters", {"recall_id": recall_id})
    members_now = tx.count("memberships", {"council_id": council["id"], "left_at": None})
    needed = rules.recall_threshold(members_now, Fraction(council["recall_share"]))
    _record(
        tx,
        "recall.supported",
        {"recall_id": recall_id, "by": member_id, "support": support, "needed": needed},
        now,
    )
    if support >= needed:
        delegate = tx.get("delegates", recall["delegate_id"])
        ballot = _insert_ballot(
            tx,
            council=council,
            purpose="recall",
            title=f"Recall delegate {delegate['id']} (account {delegate['account_id']})",
            subject={"recall_id": recall_id, "delegate_id": delegate["id"]},
            rule="yes_no",
            options=counting.YES_NO_CHOICES,
            seats=1,
            quorum=Fraction(0),
            majority=Fraction(1, 2),
            secret=True,
            opened_by=None,
            opens_at=now,
            closes_at=now + timedelta(days=ballot_days),
            now=now,
        )
        tx.update("recalls", recall_id, {"status": "balloting", "ballot_id": ballot.id})
    row = tx.get("recalls", recall_id)
    row["support"], row["needed"] = support, needed
    return row


def _close_recall_if_decided(store: Store, ballot_id: int, now: datetime) -> None:
    """Close a recall ballot as soon as more than half the electorate has voted yes: the
    outcome cannot change, and the delegate must lose their rights at that moment."""
    with store.transaction() as tx:
        ballot = tx.get("ballots", ballot_id, lock="update")
        if ballot["status"] != "open":
            return
        council = tx.get("councils", ballot["council_id"])
        electorate = len(_electorate(tx, council, ballot["created_at"]))
        yes = sum(1 for v in tx.find("votes", {"ballot_id": ballot_id}) if v["choice"] == "yes")
        if yes * 2 > electorate:
            _close(tx, ballot, now)


def _apply_recall(tx: Records, ballot: dict, tally: counting.Tally | None, now: datetime) -> None:
    recall_id = ballot["subject"]["recall_id"]
    if tally is None or not rules.recall_carried(tally):
        tx.update("recalls", recall_id, {"status": "kept"})
        _record(tx, "recall.failed", {"recall_id": recall_id, "ballot_id": ballot["id"]}, now)
        return
    delegate = tx.get("delegates", ballot["subject"]["delegate_id"])
    if delegate["ended_at"] is None:
        tx.update("delegates", delegate["id"], {"ended_at": now, "end_reason": "recalled"})
    council = tx.get("councils", ballot["council_id"])
    by_election = _insert_ballot(
        tx,
        council=council,
        purpose="election",
        title=f"By-election after the recall of delegate {delegate['id']}",
        subject={
            "federation_id": delegate["federation_id"],
            "mandate": delegate["mandate"],
            "by_election": True,
            "recall_id": recall_id,
        },
        rule=rules.delegate_seat_rule(1),
        options=(),
        seats=1,
        quorum=Fraction(0),
        majority=Fraction(1, 2),
        secret=True,
        opened_by=None,
        opens_at=now + timedelta(days=3),
        closes_at=now + timedelta(days=10),
        now=now,
    )
    tx.update("recalls", recall_id, {"status": "recalled", "by_election_ballot_id": by_election.id})
    _record(
        tx,
        "delegate.recalled",
        {
            "delegate_id": delegate["id"],
            "recall_id": recall_id,
            "federation_id": delegate["federation_id"],
            "by_election_ballot_id": by_election.id,
        },
        now,
    )


def get_recall(store: Store, recall_id: int) -> dict:
    with store.transaction() as tx:
        row = _get(tx, "recalls", recall_id, "recall", "recall_id")
        row["support"] = tx.count("recall_supporters", {"recall_id": recall_id})
        return row


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
) -> dict:
    """Allocate ``hours`` of labour among proposals: members propose until
    ``proposals_close_at``, then approve proposals until ``closes_at``."""
    now = _now(now)
    title = _text(title, "title", limit=300)
    total = _hours(hours, "hours")
    opens_at, closes_at = _now(proposals_close_at), _now(closes_at)
    if not now < opens_at < closes_at:
        raise Invalid(
            "bad_times",
            "closes_at: must follow proposals_close_at, both in the future",
            "closes_at",
        )
    with store.transaction() as tx:
        council = _get(tx, "councils", council_id, "council", "council_id")
        _require_standing(tx, council, opened_by, "open a budget")
        ballot = _insert_ballot(
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
        budget_id = tx.insert(
            "budgets",
            {
                "council_id": council_id,
                "title": title,
                "hours": str(total),
                "ballot_id": ballot.id,
                "created_at": now,
            },
        )
        # The ballot is open, so this one update is allowed; it links the ballot back.
        tx.update("ballots", ballot.id, {"subject": {"budget_id": budget_id}})
        _record(
            tx,
            "budget.opened",
            {"budget_id": budget_id, "ballot_id": ballot.id, "hours": str(total), "by": opened_by},
            now,
        )
        return tx.get("budgets", budget_id)


def propose_project(
    store: Store,
    *,
    budget_id: int,
    member_id: int,
    title: str,
    cost_hours: Any,
    now: datetime | None = None,
) -> dict:
    """A member proposes a project costing ``cost_hours`` of labour."""
    now = _now(now)
    title = _text(title, "title", limit=300)
    cost = _hours(cost_hours, "cost_hours")
    with store.transaction() as tx:
        budget = _get(tx, "budgets", budget_id, "budget", "budget_id")
        ballot = tx.get("ballots", budget["ballot_id"], lock="update")
        council = tx.get("councils", budget["council_id"])
        _require_standing(tx, council, member_id, "propose")
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
        proposal_id = tx.insert(
            "budget_proposals",
            {
                "budget_id": budget_id,
                "title": title,
                "cost_hours": str(cost),
                "proposed_by": member_id,
                "proposed_at": now,
            },
        )
        tx.update("ballots", ballot["id"], {"options": [*ballot["options"], str(proposal_id)]})
        _record(
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
        return tx.get("budget_proposals", proposal_id)


def _count_budget(tx: Records, ballot: Mapping[str, Any], votes: Sequence[Mapping]) -> dict:
    budget = tx.get("budgets", ballot["subject"]["budget_id"])
    proposals = tx.find("budget_proposals", {"budget_id": budget["id"]}, order_by="id")
    costs = {str(p["id"]): Fraction(p["cost_hours"]) for p in proposals}
    approvals = [list(v["choice"]) for v in votes]
    result = budgets.equal_shares(Fraction(budget["hours"]), costs, approvals)
    plain = result.to_dict() if hasattr(result, "to_dict") else result
    return as_dict(plain)


def get_budget(store: Store, budget_id: int) -> dict:
    with store.transaction() as tx:
        row = _get(tx, "budgets", budget_id, "budget", "budget_id")
        row["proposals"] = tx.find("budget_proposals", {"budget_id": budget_id}, order_by="id")
        return row


# ---------------------------------------------------------------------------------------------
# Demo hook.


def create_demo_town(
    store: Store,
    *,
    hash_password: Callable[[str], str] | None = None,
    password: str = "demo",
    now: datetime | None = None,
) -> dict:
    """Populate ``store`` (e.g. ``councilplan.store.repository.open_store(url)``) with a small
    town: two workplace councils and a neighbourhood council with members, a planning
    federation they send delegates to (elections held and closed), and a motion voted on in the
    neighbourhood. Every account's password is ``password``, hashed by ``hash_password``
    (default: argon2id, as the web login expects). Returns the ids made. All acts go on record.
    """
    start = _now(now) - timedelta(days=30)
    people = ["ada", "bea", "cai", "dan", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lee"]
    if hash_password is None:
        hash_password = PasswordHasher().hash  # the same hasher as councilplan.web.auth
    hashed = hash_password(password)
    ids = {
        p: register_account(
            store, username=p, display_name=p.title(), password_hash=hashed, now=start
        )
        for p in people
    }
    bakery = create_council(
        store, name="Bakery workers", kind="workplace", founder_id=ids["ada"], now=start
    )
    clinic = create_council(
        store, name="Clinic workers", kind="workplace", founder_id=ids["eve"], now=start
    )
    hood = create_council(
        store, name="Riverside neighbourhood", kind="consumer", founder_id=ids["ivy"], now=start
    )
    federation = create_council(
        store,
        name="Town planning federation",
        kind="federation",
        founder_id=ids["ada"],
        weighted_votes=True,
        now=start,
    )
    groups = {bakery.id: people[:4], clinic.id: people[4:8], hood.id: people[8:] + ["ada", "eve"]}
    for council_id, names in groups.items():
        for p in names[1:]:
            join_council(
                store, council_id=council_id, account_id=ids[p], now=start + timedelta(hours=1)
            )
    t = start + timedelta(days=1)
    elections = {}
    for council_id, names in groups.items():
        join_federation(
            store,
            federation_id=federation.id,
            council_id=council_id,
            actor_id=ids[names[0]],
            seats=1,
            weight=len(names),
            now=t,
        )
        ballot = open_election(
            store,
            council_id=council_id,
            federation_id=federation.id,
            opened_by=ids[names[0]],
            candidates=[ids[n] for n in names[:2]],
            mandate="Press for the clinic's new wing; report back monthly.",
            closes_at=t + timedelta(days=2),
            now=t,
        )
        for i, voter in enumerate(names):
            first, second = (names[0], names[1]) if i % 3 else (names[1], names[0])
            cast_vote(
                store,
                ballot_id=ballot.id,
                voter_id=ids[voter],
                choice=[first, second],
                now=t + timedelta(hours=2),
            )
        elections[council_id] = close_ballot(
            store, ballot_id=ballot.id, now=t + timedelta(days=2)
        ).id
    t = start + timedelta(days=5)
    m = table_motion(
        store,
        council_id=hood.id,
        member_id=ids["ivy"],
        title="Extend the library's opening hours",
        text="The library opens until 21:00 on weekdays from next month.",
        now=t,
    )
    vote = open_ballot(
        store,
        council_id=hood.id,
        opened_by=ids["ivy"],
        title=m["title"],
        rule="yes_no",
        motion_id=m["id"],
        secret=True,
        closes_at=t + timedelta(days=3),
        now=t,
    )
    for i, voter in enumerate(groups[hood.id]):
        cast_vote(
            store,
            ballot_id=vote.id,
            voter_id=ids[voter],
            choice=("yes", "yes", "no")[i % 3],
            now=t + timedelta(hours=1),
        )
    close_ballot(store, ballot_id=vote.id, now=t + timedelta(days=3))
    return {
        "accounts": ids,
        "councils": {
            "bakery": bakery.id,
            "clinic": clinic.id,
            "neighbourhood": hood.id,
            "federation": federation.id,
        },
        "elections": elections,
        "motion": m["id"],
        "motion_ballot": vote.id,
    }


# ---------------------------------------------------------------------------------------------
# The rates-and-conflicts commission. A dispute is stored as the list of acts done on it; its
# state is rebuilt by replaying them through the pure ``disputes`` state machine, so the stored
# record and the rules can never disagree. The rebuilt view is stored alongside for reading.

_REASON_STATUS = {
    rules.Reason.NOT_A_COMMISSIONER: Refused,
    rules.Reason.NOT_A_PARTY: Refused,
    rules.Reason.NOT_A_MEMBER: Refused,
    rules.Reason.WRONG_STATE: Conflict,
    rules.Reason.DEADLINE_PASSED: Conflict,
    rules.Reason.NO_MAJORITY: Conflict,
    rules.Reason.SIDE_ABSENT: Conflict,
    rules.Reason.UNEQUAL_COMMISSION: Conflict,
}


def _refusal(rejection: rules.Rejection) -> Refused:
    kind = _REASON_STATUS.get(rejection.reason, Invalid)
    return kind(str(rejection.reason), rejection.message, rejection.field)


def _workplace_party(council_id: int) -> str:
    return f"council-{council_id}"


def create_commission(
    store: Store,
    *,
    name: str,
    workplace_council_id: int,
    federation_id: int,
    actor_id: int,
    seats_per_side: int = 1,
    now: datetime | None = None,
) -> dict:
    """Set up a rates-and-conflicts commission between a workplace council and a planning
    federation, with ``seats_per_side`` seats for each. Done by a member of the workplace
    council or a delegate to the federation."""
    now = _now(now)
    name = _text(name, "name", limit=200)
    if not 1 <= seats_per_side <= 50:
        raise Invalid("bad_seats", "seats_per_side: between 1 and 50", "seats_per_side")
    with store.transaction() as tx:
        workplace = _get(tx, "councils", workplace_council_id, "council", "workplace_council_id")
        federation = _get(tx, "councils", federation_id, "council", "federation_id")
        if workplace["kind"] != "workplace":
            raise Invalid(
                "not_a_workplace",
                f"workplace_council_id: council {workplace_council_id} is not a workplace council",
                "workplace_council_id",
            )
        if federation["kind"] != "federation":
            raise Invalid(
                "not_a_federation",
                f"federation_id: council {federation_id} is not a federation",
                "federation_id",
            )
        if standing(tx, workplace, actor_id) is None and standing(tx, federation, actor_id) is None:
            raise Refused(
                "not_a_member",
                f"account {actor_id} is neither a member of council "
                f"{workplace_council_id} nor a delegate to federation {federation_id}",
                "actor_id",
            )
        try:
            commission_id = tx.insert(
                "commissions",
                {
                    "name": name,
                    "workplace_council_id": workplace_council_id,
                    "federation_id": federation_id,
                    "seats_per_side": seats_per_side,
                    "created_at": now,
                },
            )
        except Duplicate:
            raise Conflict(
                "name_taken", f"name: a commission called {name!r} exists", "name"
            ) from None
        _record(
            tx,
            "commission.created",
            {
                "commission_id": commission_id,
                "workplace_council_id": workplace_council_id,
                "federation_id": federation_id,
                "seats_per_side": seats_per_side,
                "by": actor_id,
            },
            now,
        )
        return tx.get("commissions", commission_id)


def take_commission_seat(
    store: Store,
    *,
    commission_id: int,
    account_id: int,
    side: str,
    now: datetime | None = None,
) -> dict:
    """Seat ``account_id`` for its side: a workplace seat for a member of the workplace
    council, a planning seat for a current delegate to the federation."""
    now = _now(now)
    if side not in ("workplace", "planning"):
        raise Invalid("bad_side", "side: 'workplace' or 'planning'", "side")
    with store.transaction() as tx:
        commission = _get(
            tx, "commissions", commission_id, "commission", "commission_id", lock="update"
        )
        council_id = (
            commission["workplace_council_id"]
            if side == "workplace"
            else commission["federation_id"]
        )
        council = tx.get("councils", council_id)
        _require_standing(tx, council, account_id, f"sit for the {side} side")
        seats = tx.find("commission_seats", {"commission_id": commission_id, "left_at": None})
        if any(s["account_id"] == account_id for s in seats):
            raise Conflict(
                "already_seated",
                f"account {account_id} already holds a seat on commission {commission_id}",
                "account_id",
            )
        if sum(s["side"] == side for s in seats) >= commission["seats_per_side"]:
            raise Conflict(
                "side_full",
                f"the {side} side of commission {commission_id} has "
                f"all its {commission['seats_per_side']} seat(s) filled",
                "side",
            )
        seat_id = tx.insert(
            "commission_seats",
            {
                "commission_id": commission_id,
                "account_id": account_id,
                "side": side,
                "seated_at": now,
            },
        )
        _record(
            tx,
            "commission.seated",
            {"commission_id": commission_id, "account_id": account_id, "side": side},
            now,
        )
        return tx.get("commission_seats", seat_id)


def _seat_ids(tx: Records, commission_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    seats = tx.find(
        "commission_seats", {"commission_id": commission_id, "left_at": None}, order_by="id"
    )
    return (
        tuple(str(s["account_id"]) for s in seats if s["side"] == "workplace"),
        tuple(str(s["account_id"]) for s in seats if s["side"] == "planning"),
    )


def _replay(acts: Sequence[Mapping[str, Any]]) -> disputes.Dispute | rules.Rejection:
    """Rebuild a dispute from its recorded acts (inputs as stored: strings and 'p/q' hours)."""
    dispute: Any = None
    for act in acts:
        at = datetime.fromisoformat(act["at"])
        if act["act"] == "file":
            a = dict(act["args"])
            a["commission"] = disputes.Commission(
                tuple(a.pop("workplace_seats")), tuple(a.pop("federation_seats"))
            )
            for key in ("current_hours", "claimed_hours"):
                a[key] = Fraction(a[key])
            dispute = disputes.file_dispute(now=at, **a)
        elif act["act"] == "hear":
            dispute = disputes.hear(dispute, at, present=act["present"])
        elif act["act"] == "decide":
            dispute = disputes.decide(dispute, at, hours=Fraction(act["hours"]), votes=act["votes"])
        elif act["act"] == "appeal":
            dispute = disputes.appeal(dispute, at, by=act["by"], grounds=act["grounds"])
        elif act["act"] == "finalise":
            hours = Fraction(act["hours"]) if act.get("hours") is not None else None
            dispute = disputes.finalise(dispute, at, hours=hours, votes=act.get("votes"))
        elif act["act"] == "deadlines":
            dispute = disputes.apply_deadlines(dispute, at)
        if isinstance(dispute, rules.Rejection):
            return dispute
    return dispute


def _dispute_view(row: Mapping[str, Any]) -> dict:
    view = dict(row["state"]["view"])
    view["dispute_id"] = row["id"]
    view["commission_id"] = row["commission_id"]
    return view


def _dispute_act(tx: Records, row: dict, act: dict, now: datetime, kind: str) -> dict:
    """Apply one more act: replay with it, refuse if the rules refuse, else store it."""
    acts = [*row["state"]["acts"], act]
    dispute = _replay(acts)
    if isinstance(dispute, rules.Rejection):
        raise _refusal(dispute)
    state = {"acts": acts, "view": as_dict(dispute)}
    tx.update(
        "disputes", row["id"], {"state": state, "status": str(dispute.state), "updated_at": now}
    )
    effect = dispute.effect
    _record(
        tx,
        kind,
        {
            "dispute_id": row["id"],
            "act": act,
            "state": str(dispute.state),
            "effect": as_dict(effect) if effect else None,
        },
        now,
    )
    return _dispute_view(tx.get("disputes", row["id"]))


def _hours_text(value: Any, field: str) -> str:
    try:
        hours = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise Invalid("bad_hours", f"{field}: {value!r} is not a number of hours", field) from None
    if hours < 0 or hours.denominator > 10_000 or hours > 10**9:
        raise Invalid(
            "bad_hours",
            f"{field}: {value} must be between 0 and 10^9 hours, to 1/10000 hour",
            field,
        )
    return str(hours)


def file_dispute(
    store: Store,
    *,
    commission_id: int,
    filer_id: int,
    subject: str,
    target: str,
    current_hours: Any,
    claimed_hours: Any,
    grounds: str = "",
    worker_id: int | None = None,
    for_council: bool = False,
    now: datetime | None = None,
) -> dict:
    """File a dispute about a work norm (``target`` a product id) or recorded hours
    (``target`` a record id). A worker of the workplace files for themselves; with
    ``for_council`` a member files for the workplace council about ``worker_id``."""
    now = _now(now)
    target = _text(target, "target", limit=200)
    with store.transaction() as tx:
        commission = _get(tx, "commissions", commission_id, "commission", "commission_id")
        workplace = tx.get("councils", commission["workplace_council_id"])
        _require_standing(tx, workplace, filer_id, "file a dispute")
        workplace_seats, federation_seats = _seat_ids(tx, commission_id)
        args = {
            "id": "pending",
            "subject": subject,
            "filed_by": "workplace_council" if for_council else "worker",
            "filer_id": _workplace_party(workplace["id"]) if for_council else str(filer_id),
            "workplace_id": _workplace_party(workplace["id"]),
            "target": target,
            "current_hours": _hours_text(current_hours, "current_hours"),
            "claimed_hours": _hours_text(claimed_hours, "claimed_hours"),
            "grounds": grounds or "",
            "worker_id": str(worker_id) if worker_id is not None else None,
            "workplace_seats": list(workplace_seats),
            "federation_seats": list(federation_seats),
        }
        act = {"act": "file", "at": utc_timestamp(now), "args": args}
        dispute = _replay([act])
        if isinstance(dispute, rules.Rejection):
            raise _refusal(dispute)
        dispute_id = tx.insert(
            "disputes",
            {
                "commission_id": commission_id,
                "filed_by": filer_id,
                "status": str(dispute.state),
                "state": {"acts": [], "view": {}},
                "filed_at": now,
                "updated_at": now,
            },
        )
        args["id"] = str(dispute_id)
        row = tx.get("disputes", dispute_id)
        return _dispute_act(tx, row, act, now, "dispute.filed")


def _seat_holder(tx: Records, row: Mapping[str, Any], account_id: int) -> None:
    seats = tx.find(
        "commission_seats",
        {"commission_id": row["commission_id"], "account_id": account_id, "left_at": None},
    )
    if not seats:
        raise Refused(
            "not_a_commissioner",
            f"account {account_id} holds no seat on commission {row['commission_id']}",
            "account_id",
        )


def hear_dispute(
    store: Store,
    *,
    dispute_id: int,
    actor_id: int,
    present: Sequence[int],
    now: datetime | None = None,
) -> dict:
    """Record the hearing (a commissioner records who was present; both sides must be)."""
    now = _now(now)
    with store.transaction() as tx:
        row = _get(tx, "disputes", dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        act = {"act": "hear", "at": utc_timestamp(now), "present": [str(p) for p in present]}
        return _dispute_act(tx, row, act, now, "dispute.heard")


def decide_dispute(
    store: Store,
    *,
    dispute_id: int,
    actor_id: int,
    hours: Any,
    votes: Mapping[int, str],
    now: datetime | None = None,
) -> dict:
    """Record the commission's vote on ``hours``; it decides with a majority of all seats."""
    now = _now(now)
    with store.transaction() as tx:
        row = _get(tx, "disputes", dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        act = {
            "act": "decide",
            "at": utc_timestamp(now),
            "hours": _hours_text(hours, "hours"),
            "votes": {str(k): v for k, v in votes.items()},
        }
        return _dispute_act(tx, row, act, now, "dispute.decided")


def appeal_dispute(
    store: Store, *, dispute_id: int, actor_id: int, grounds: str = "", now: datetime | None = None
) -> dict:
    """A party appeals: the worker or filer, a commissioner of the planning side, or any
    member of the workplace council on its behalf."""
    now = _now(now)
    with store.transaction() as tx:
        row = _get(tx, "disputes", dispute_id, "dispute", "dispute_id", lock="update")
        commission = tx.get("commissions", row["commission_id"])
        view = row["state"]["view"]
        by = str(actor_id)
        parties = {
            view.get("filer_id"),
            view.get("worker_id"),
            *view.get("commission", {}).get("federation_seats", []),
        }
        if by not in parties and _current_membership(
            tx, commission["workplace_council_id"], actor_id
        ):
            by = _workplace_party(commission["workplace_council_id"])
        act = {"act": "appeal", "at": utc_timestamp(now), "by": by, "grounds": grounds or ""}
        return _dispute_act(tx, row, act, now, "dispute.appealed")


def finalise_dispute(
    store: Store,
    *,
    dispute_id: int,
    actor_id: int,
    hours: Any = None,
    votes: Mapping[int, str] | None = None,
    now: datetime | None = None,
) -> dict:
    """Make a decided dispute final after its appeal window, or decide an appeal."""
    now = _now(now)
    with store.transaction() as tx:
        row = _get(tx, "disputes", dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        act = {
            "act": "finalise",
            "at": utc_timestamp(now),
            "hours": _hours_text(hours, "hours") if hours is not None else None,
            "votes": {str(k): v for k, v in votes.items()} if votes is not None else None,
        }
        return _dispute_act(tx, row, act, now, "dispute.finalised")


def apply_dispute_deadlines(store: Store, *, now: datetime | None = None) -> list[int]:
    """Apply every passed deadline to open disputes; returns the ids that changed."""
    now = _now(now)
    changed = []
    with store.transaction() as tx:
        for row in tx.find("disputes", order_by="id"):
            if row["status"] == "final":
                continue
            deadline = row["state"]["view"].get("deadline")
            if deadline and datetime.fromisoformat(deadline) < now:
                act = {"act": "deadlines", "at": utc_timestamp(now)}
                _dispute_act(tx, row, act, now, "dispute.deadline")
                changed.append(row["id"])
    return changed


def _may_see(tx: Records, row: Mapping[str, Any], viewer_id: int) -> bool:
    if row["filed_by"] == viewer_id or row["state"]["view"].get("worker_id") == str(viewer_id):
        return True
    return bool(
        tx.find(
            "commission_seats",
            {"commission_id": row["commission_id"], "account_id": viewer_id, "left_at": None},
        )
    )


def get_dispute(store: Store, *, dispute_id: int, viewer_id: int) -> dict:
    """A dispute, for its commissioners and the worker and filer concerned only."""
    with store.transaction() as tx:
        row = _get(tx, "disputes", dispute_id, "dispute", "dispute_id")
        if not _may_see(tx, row, viewer_id):
            raise Refused(
                "not_a_commissioner",
                f"dispute {dispute_id} is seen by its commission's seats and its parties only",
                "dispute_id",
            )
        return _dispute_view(row)


def my_disputes(store: Store, *, viewer_id: int) -> list[dict]:
    """The cases before the commissions where ``viewer_id`` holds a seat, and their own."""
    with store.transaction() as tx:
        return [
            _dispute_view(r)
            for r in tx.find("disputes", order_by="id")
            if _may_see(tx, r, viewer_id)
        ]
