"""Plain rules the service enforces: who may vote and with what weight, how delegate seats
are filled, and how a delegate is recalled.

Functions return a value or a :class:`Rejection` (a named reason with a message a member can
read); they never raise for a rule being broken. See docs/councils.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from councilplan.councils.counting import Tally

__all__ = [
    "DEFAULT_RECALL_SHARE",
    "Electorate",
    "Reason",
    "RecallPetition",
    "Rejection",
    "ballot_weights",
    "delegate_seat_rule",
    "electorate_size",
    "entitled_voters",
    "open_recall",
    "recall_carried",
    "recall_threshold",
    "recall_threshold_reached",
    "support_recall",
    "voting_weight",
]

Number = int | Fraction

#: Share of a council's members who must support a recall before it goes to a ballot.
DEFAULT_RECALL_SHARE = Fraction(1, 4)


class Reason(StrEnum):
    """Why the councils' rules refuse something (the code the service and audit log record)."""

    NOT_A_MEMBER = "not_a_member"
    NOT_A_DELEGATE = "not_a_delegate"
    VOTED_TWICE = "voted_twice"
    NO_WEIGHT = "no_weight"
    ALREADY_SUPPORTED = "already_supported"
    INVALID_SEATS = "invalid_seats"
    INVALID_SHARE = "invalid_share"
    WRONG_STATE = "wrong_state"
    DEADLINE_PASSED = "deadline_passed"
    UNEQUAL_COMMISSION = "unequal_commission"
    NOT_A_COMMISSIONER = "not_a_commissioner"
    SIDE_ABSENT = "side_absent"
    NO_MAJORITY = "no_majority"
    NOTHING_IN_DISPUTE = "nothing_in_dispute"
    INVALID_HOURS = "invalid_hours"
    NOT_A_PARTY = "not_a_party"
    MISSING_DETAIL = "missing_detail"
    SEAT_VACANT = "seat_vacant"


@dataclass(frozen=True)
class Rejection:
    """A rule refused the request: ``reason`` (stable code) and ``message`` (what was wrong and
    what to do), with the id and field concerned where there is one."""

    reason: Reason
    message: str
    id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        return {
            "reason": str(self.reason),
            "message": self.message,
            "id": self.id,
            "field": self.field,
        }


# ---------------------------------------------------------------------------------------------
# Who may vote


@dataclass(frozen=True)
class Electorate:
    """Who may vote in one council.

    A workplace or consumer council: its ``members``, one vote each. A federation
    (``is_federation``): only its current ``delegates`` (delegate id -> the council they
    represent); when the federation's rules say so (``weighted``) each votes with their
    council's weight from ``council_weights`` (e.g. its number of members), else 1.
    """

    council_id: str
    members: frozenset[str] = frozenset()
    is_federation: bool = False
    delegates: Mapping[str, str] = field(default_factory=dict)
    weighted: bool = False
    council_weights: Mapping[str, Number] = field(default_factory=dict)


def electorate_size(electorate: Electorate) -> int:
    """How many may vote (for a quorum as a share of the electorate)."""
    return len(electorate.delegates) if electorate.is_federation else len(electorate.members)


def voting_weight(electorate: Electorate, voter: str) -> Number | Rejection:
    """The weight ``voter``'s ballot carries, or why they may not vote."""
    if not electorate.is_federation:
        if voter not in electorate.members:
            return Rejection(
                Reason.NOT_A_MEMBER,
                f"{voter!r} is not a member of council {electorate.council_id!r}; only members "
                "vote in a council",
                id=voter,
            )
        return 1
    council = electorate.delegates.get(voter)
    if council is None:
        return Rejection(
            Reason.NOT_A_DELEGATE,
            f"{voter!r} is not a current delegate to federation {electorate.council_id!r}; only "
            "current delegates vote in a federation",
            id=voter,
        )
    if not electorate.weighted:
        return 1
    weight = electorate.council_weights.get(council)
    if weight is None or isinstance(weight, bool) or not isinstance(weight, int | Fraction):
        return Rejection(
            Reason.NO_WEIGHT,
            f"federation {electorate.council_id!r} weights votes but council {council!r} "
            f"(delegate {voter!r}) has no weight recorded; record its weight first",
            id=council,
            field="council_weights",
        )
    if weight < 0:
        return Rejection(
            Reason.NO_WEIGHT, f"council {council!r} has negative weight {weight}", id=council
        )
    return weight


def ballot_weights(electorate: Electorate, voters: Sequence[str]) -> tuple[Number, ...] | Rejection:
    """Weights for ballots cast by ``voters`` in order (ready for ``counting.count``), or the
    first rule broken: a voter not entitled to vote, or one voting twice."""
    twice = [v for v, c in Counter(voters).items() if c > 1]
    if twice:
        return Rejection(
            Reason.VOTED_TWICE,
            f"{twice[0]!r} cast more than one ballot; one member, one ballot",
            id=twice[0],
        )
    weights = []
    for v in voters:
        w = voting_weight(electorate, v)
        if isinstance(w, Rejection):
            return w
        weights.append(w)
    return tuple(weights)


# ---------------------------------------------------------------------------------------------
# Delegate seats


def delegate_seat_rule(seats: int) -> str | Rejection:
    """Counting rule for electing ``seats`` delegates: one seat by majority with run-off,
    several by single transferable vote (proportional)."""
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        return Rejection(
            Reason.INVALID_SEATS,
            f"{seats!r} seats: a council elects 1 or more delegates",
            field="seats",
        )
    return "majority_runoff" if seats == 1 else "stv"


# ---------------------------------------------------------------------------------------------
# Recall


def recall_threshold(members: int, share: Fraction = DEFAULT_RECALL_SHARE) -> int:
    """Supporters needed before a recall goes to a ballot: ceil(share x members), at least 1."""
    return max(1, math.ceil(Fraction(share) * members))


def recall_threshold_reached(
    supporters: int, members: int, share: Fraction = DEFAULT_RECALL_SHARE
) -> bool:
    """Has the supporting share of members reached the council's threshold (at least
    ``share`` of members, default 1/4)?"""
    return members > 0 and supporters >= recall_threshold(members, share)


@dataclass(frozen=True)
class RecallPetition:
    """A recall of ``delegate`` opened in ``council_id``; ``supporters`` include the opener."""

    council_id: str
    delegate: str
    opened_by: str
    supporters: frozenset[str]
    share: Fraction = DEFAULT_RECALL_SHARE

    def ready_for_ballot(self, members: int) -> bool:
        return recall_threshold_reached(len(self.supporters), members, self.share)


def open_recall(
    electorate: Electorate,
    opener: str,
    delegate: str,
    *,
    share: Fraction = DEFAULT_RECALL_SHARE,
) -> RecallPetition | Rejection:
    """Any member (in a federation: any current delegate) may open a recall of a delegate."""
    if not (0 < Fraction(share) <= 1):
        return Rejection(
            Reason.INVALID_SHARE, f"recall threshold {share} must be in (0, 1]", field="share"
        )
    entitled = voting_weight(electorate, opener)
    if isinstance(entitled, Rejection):
        return entitled
    return RecallPetition(electorate.council_id, delegate, opener, frozenset({opener}), share)


def support_recall(
    petition: RecallPetition, electorate: Electorate, supporter: str
) -> RecallPetition | Rejection:
    """Add a member's support; each member counts once."""
    entitled = voting_weight(electorate, supporter)
    if isinstance(entitled, Rejection):
        return entitled
    if supporter in petition.supporters:
        return Rejection(
            Reason.ALREADY_SUPPORTED,
            f"{supporter!r} already supports the recall of {petition.delegate!r}",
            id=supporter,
        )
    return RecallPetition(
        petition.council_id,
        petition.delegate,
        petition.opened_by,
        petition.supporters | {supporter},
        petition.share,
    )


def recall_carried(tally: Tally) -> bool:
    """A recall carries with a majority of votes cast: quorum met and more yes than no
    (abstentions are not votes cast), whatever majority the ballot was counted with."""
    if tally.rule != "yes_no" or not tally.quorum_met:
        return False
    return tally.counts["yes"] > tally.counts["no"]


def entitled_voters(electorate: Electorate) -> Collection[str]:
    """Everyone who may vote: members, or a federation's current delegates."""
    return tuple(electorate.delegates) if electorate.is_federation else tuple(electorate.members)
