"""The shared ground of the councils' acts: the named refusals, results as JSON, the councils'
rules and their defaults, and small helpers (who stands in a council, who may vote in a ballot
opening now). What the acts need from a database is in ``repository``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from councilplan.audit.chain import Entry, utc_timestamp
from councilplan.councils import rules
from councilplan.councils.service.repository import Records

COUNCIL_KINDS = ("workplace", "consumer", "federation")
MOTION_RULES = ("yes_no", "approval", "schulze")
DEFAULT_RECALL_SHARE = rules.DEFAULT_RECALL_SHARE

# The rules a council sets for itself, by its own ballot (purpose "rules"); docs/councils.md
# says why each default protects members.
#: How members are admitted: by the council's decision (a ballot), by a member's invitation,
#: or, for a consumer council only, open to whoever asks.
ADMISSION_RULES = ("decision", "invitation", "open")
DEFAULT_ADMISSION = "decision"
#: Days a member must have belonged when a ballot opens to vote in it (or to support a recall).
DEFAULT_MIN_STANDING_DAYS = 7
MIN_STANDING_DAYS_RANGE = (0, 365)
#: Days a ballot stays open for votes at least.
DEFAULT_MIN_BALLOT_DAYS = 3
MIN_BALLOT_DAYS_RANGE = (1, 60)
#: Days within which a council's vote on a motion one of its sections tabled must be over.
DEFAULT_SECTION_MOTION_DAYS = 14
SECTION_MOTION_DAYS_RANGE = (1, 90)


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


# ---------------------------------------------------------------------------------------------
# Results as JSON (the results themselves are in ``results``).


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


def now_utc(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def record(tx: Records, kind: str, payload: Mapping[str, Any], now: datetime) -> Entry:
    return tx.append_event(kind, as_dict(payload), utc_timestamp(now))


#: Numbers written as text are read only up to this length, with an exponent (``e``) of at most
#: ``_MAX_EXPONENT``: ``Fraction("1e-10000000")`` computes 10**10000000 (6.8 s of CPU; a larger
#: exponent, hours) and a Decimal of that form turns into such a Fraction when counted.
_MAX_NUMBER_TEXT = 40
_MAX_EXPONENT = 30
_EXPONENT = re.compile(r"[eE]\s*([+-]?[0-9_]*)")


def bounded_number_text(value: Any) -> str | None:
    """``value`` (text, a Decimal, a float) as text short enough, and with an exponent small
    enough, for Fraction or Decimal to read at bounded cost; None when it is not."""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an int of more than sys.get_int_max_str_digits() digits
        return None
    if len(text) > _MAX_NUMBER_TEXT:
        return None
    exponent = _EXPONENT.search(text)
    if exponent is not None:
        digits = exponent[1].lstrip("+-").replace("_", "")
        if not digits or len(digits) > 3 or int(digits) > _MAX_EXPONENT:
            return None
    return text


def exact(value: Any, field: str, reason: str, what: str) -> Fraction:
    """``value`` as an exact Fraction, read at bounded cost: an int or Fraction as it is; text
    (or a Decimal, a float) as ``Fraction(str(value))``, at most 40 characters, exponent at most
    30. Refused as ``reason``, naming ``field``, when it is not such a number."""
    if isinstance(value, int | Fraction) and not isinstance(value, bool):
        return Fraction(value)
    text = None if isinstance(value, bool) else bounded_number_text(value)
    try:
        if text is None:
            raise ValueError(text)
        return Fraction(text)
    except (ValueError, ZeroDivisionError, TypeError):
        raise Invalid(reason, f"{field}: {shown(value)} is not {what}", field) from None


def shown(value: Any) -> str:
    """``value`` for a message: text quoted, a number as written, cut at 60 characters."""
    try:
        text = repr(value) if isinstance(value, str) else str(value)
    except ValueError:  # an int of more than sys.get_int_max_str_digits() digits
        return "a number too long to write"
    return text if len(text) <= 60 else text[:60] + "..."


def read_share(value: Fraction | str | int, field: str, *, allow_zero: bool = True) -> Fraction:
    share = exact(value, field, "bad_share", "a share; write e.g. '1/4' or '0.25'")
    if share < 0 or share > 1 or (share == 0 and not allow_zero):
        low = "[0" if allow_zero else "(0"
        raise Invalid("bad_share", f"{field}: {shown(share)} must lie in {low}, 1]", field)
    return share


def read_hours(value: Any, field: str) -> Decimal:
    text = None if isinstance(value, bool | Fraction) else bounded_number_text(value)
    try:
        if text is None:
            raise InvalidOperation(text)
        hours = Decimal(text)
    except InvalidOperation:
        raise Invalid(
            "bad_hours", f"{field}: {shown(value)} is not a number of hours", field
        ) from None
    if not hours.is_finite() or hours <= 0:
        raise Invalid("bad_hours", f"{field}: {shown(value)} hours must be positive", field)
    return hours


def text_field(value: str, field: str, *, limit: int = 20_000) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid("empty", f"{field}: must not be empty", field)
    if len(value) > limit:
        raise Invalid("too_long", f"{field}: {len(value)} characters, at most {limit}", field)
    return value


def existing(
    read: Callable[..., dict | None], key: Any, what: str, field: str, **options: Any
) -> dict:
    """``read(key, **options)`` (e.g. ``tx.ballot``), or :class:`NotFound` naming ``field``
    when there is no such ``what`` (a key that is not a whole number names none)."""
    row = read(key, **options) if isinstance(key, int) else None
    if row is None:
        raise NotFound(f"no_such_{what}", f"{field}: there is no {what} {key!r}", field)
    return row


def get_account(tx: Records, account_id: int, field: str = "account_id") -> dict:
    return existing(tx.account, account_id, "account", field)


def current_delegate(tx: Records, federation_id: int, account_id: int) -> dict | None:
    rows = tx.delegates(federation_id=federation_id, account_id=account_id)
    return rows[0] if rows else None


def standing(tx: Records, council: Mapping[str, Any], account_id: int) -> int | None:
    """1 if ``account_id`` may act in ``council`` now (table a motion, open a ballot), else None:
    a current member of a workplace or consumer council, a current delegate to a federation.
    Who may vote in a ballot is fixed when it opens (:func:`electorate_at`)."""
    if council["kind"] != "federation":
        return 1 if tx.current_membership(council["id"], account_id) else None
    return 1 if current_delegate(tx, council["id"], account_id) else None


def require_standing(tx: Records, council: Mapping[str, Any], account_id: int, act: str) -> int:
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


def members_since(council: Mapping[str, Any], at: datetime) -> datetime:
    """Who has belonged to ``council`` since this moment (or earlier) has the standing to vote
    at ``at``: ``at`` less the council's minimum standing, or less the council's age when the
    council is younger (its founder, and whoever it admitted at once, vote from the start)."""
    rule = timedelta(days=council["min_standing_days"])
    age = max(timedelta(0), at - council["created_at"])
    return at - min(rule, age)


def counted_members(tx: Records, council: Mapping[str, Any], at: datetime) -> list[dict]:
    """The current memberships of a workplace or consumer council with the standing to vote at
    ``at`` (its counted members: its electorate, and its weight in a federation)."""
    since = members_since(council, at)
    return [m for m in tx.memberships(council["id"]) if m["joined_at"] <= since]


def require_counted(
    tx: Records, council: Mapping[str, Any], account_id: int, act: str, at: datetime
) -> None:
    """Refuse, naming the council's minimum standing, unless ``account_id`` is a counted member
    of ``council`` at ``at`` (a recall's supporter, a member inviting another)."""
    membership = tx.current_membership(council["id"], account_id)
    if membership is None:
        require_standing(tx, council, account_id, act)  # refuses: not a member
    if membership["joined_at"] > members_since(council, at):
        raise Refused(
            "short_standing",
            f"account {account_id} joined council {council['id']} ({council['name']}) at "
            f"{utc_timestamp(membership['joined_at'])}; the council's rule is that members "
            f"{act} after {council['min_standing_days']} days of membership",
            "account_id",
        )


@dataclass(frozen=True)
class Electorate:
    """Who may vote in a ballot, fixed when it opens: ``size`` (the quorum's base); in a
    workplace or consumer council, members since ``members_since``; in a federation, delegates
    (mandate begun by the opening) of the councils in ``weights`` ({council id: weight})."""

    size: int
    members_since: datetime | None
    weights: dict[str, int] | None


def electorate_at(tx: Records, council: Mapping[str, Any], at: datetime) -> Electorate:
    """The electorate of a ballot of ``council`` opening at ``at``.

    A federation's members are its councils: those affiliated for the federation's minimum
    standing count, each weighing (where the federation weighs votes) as many as its own
    counted members at ``at``, never a declared number; a council with none counts not at all.
    """
    if council["kind"] != "federation":
        return Electorate(len(counted_members(tx, council, at)), members_since(council, at), None)
    since = members_since(council, at)
    weights: dict[str, int] = {}
    for seat in tx.affiliations(council["id"]):
        if seat["joined_at"] > since:
            continue
        member_council = tx.council(seat["council_id"])
        counted = len(counted_members(tx, member_council, at))
        if counted:
            weights[str(seat["council_id"])] = counted if council["weighted_votes"] else 1
    size = sum(
        1
        for d in tx.delegates(federation_id=council["id"])
        if d["elected_at"] <= at and str(d["council_id"]) in weights
    )
    return Electorate(size, None, weights)
