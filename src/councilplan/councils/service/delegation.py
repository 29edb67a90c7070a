"""Delegates: elections to a federation, nominations, and recall by the delegate's own council.
Seating the elected and carrying out a recall are what those ballots decide (``decisions``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from councilplan.councils import rules
from councilplan.councils.service.ballots import insert_ballot, require_ballot_time, yes_no_ballot
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    Refused,
    counted_members,
    existing,
    get_account,
    now_utc,
    record,
    require_counted,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Records, Store
from councilplan.councils.service.results import (
    Ballot,
    Delegate,
    Recall,
    RecallProgress,
    ballot_result,
    delegate_result,
    recall_progress,
    recall_result,
)

#: Days a recall's ballot runs unless asked otherwise (never less than the council's rule).
RECALL_BALLOT_DAYS = 7

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
    now = now_utc(now)
    mandate = text_field(mandate, "mandate")
    closes_at = now_utc(closes_at)
    opens_at = now_utc(nominations_close_at) if nominations_close_at else now
    if not now <= opens_at < closes_at:
        raise Invalid(
            "bad_times",
            "closes_at: must follow nominations_close_at, both in the future",
            "closes_at",
        )
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, opened_by, "open an election")
        seat = tx.affiliation(federation_id, council_id)
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
        return insert_ballot(
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
    account = get_account(tx, candidate, "candidates")
    if not tx.current_membership(council["id"], candidate):
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
    now = now_utc(now)
    with store.transaction() as tx:
        ballot = existing(tx.ballot, ballot_id, "ballot", "ballot_id", lock="update")
        if ballot["purpose"] != "election":
            raise Invalid(
                "not_an_election", f"ballot_id: ballot {ballot_id} is not an election", "ballot_id"
            )
        if ballot["status"] != "open" or now >= ballot["opens_at"]:
            raise Conflict(
                "nominations_closed", f"nominations for ballot {ballot_id} are closed", "ballot_id"
            )
        council = tx.council(ballot["council_id"])
        require_standing(tx, council, member_id, "nominate")
        name = _candidate_name(tx, council, candidate_id)
        if name in ballot["options"]:
            raise Conflict(
                "already_nominated", f"candidate_id: {name} is already a candidate", "candidate_id"
            )
        tx.set_ballot_options(ballot_id, [*ballot["options"], name])
        record(
            tx,
            "election.nominated",
            {"ballot_id": ballot_id, "candidate_id": candidate_id, "by": member_id},
            now,
        )
        return ballot_result(tx.ballot(ballot_id))


def delegates(
    store: Store,
    *,
    federation_id: int | None = None,
    council_id: int | None = None,
    current: bool = True,
) -> list[Delegate]:
    """Delegates with their mandates, for a federation or a sending council."""
    with store.transaction() as tx:
        rows = tx.delegates(federation_id=federation_id, council_id=council_id, current=current)
        return [delegate_result(r) for r in rows]


def open_recall(
    store: Store,
    *,
    delegate_id: int,
    member_id: int,
    reason: str,
    ballot_days: float = RECALL_BALLOT_DAYS,
    now: datetime | None = None,
) -> RecallProgress:
    """A member of the sending council with its minimum standing opens a recall of its
    delegate and supports it. Once ``recall_share`` of the council's counted members support
    it, its ballot runs ``ballot_days`` (at least the council's minimum ballot time); who votes
    in it is fixed then."""
    now = now_utc(now)
    reason = text_field(reason, "reason")
    with store.transaction() as tx:
        delegate = existing(tx.delegate, delegate_id, "delegate", "delegate_id")
        council = tx.council(delegate["council_id"])
        if delegate["ended_at"] is not None:
            raise Conflict(
                "delegate_not_current",
                f"delegate {delegate_id} no longer holds the mandate",
                "delegate_id",
            )
        require_counted(tx, council, member_id, "open a recall", now)
        _check_recall_days(council, ballot_days, now)
        if tx.recall_with_status(delegate_id, "collecting") or tx.recall_with_status(
            delegate_id, "balloting"
        ):
            raise Conflict(
                "recall_under_way",
                f"a recall of delegate {delegate_id} is under way already; support it instead",
                "delegate_id",
            )
        recall_id = tx.add_recall(
            {
                "delegate_id": delegate_id,
                "council_id": council["id"],
                "opened_by": member_id,
                "reason": reason,
                "opened_at": now,
                "status": "collecting",
            }
        )
        record(
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
    ballot_days: float = RECALL_BALLOT_DAYS,
    now: datetime | None = None,
) -> RecallProgress:
    """A member with the council's minimum standing supports an open recall; at the council's
    threshold (a share of its counted members) its ballot runs."""
    now = now_utc(now)
    with store.transaction() as tx:
        recall = existing(tx.recall, recall_id, "recall", "recall_id", lock="update")
        council = tx.council(recall["council_id"])
        require_counted(tx, council, member_id, "support a recall", now)
        _check_recall_days(council, ballot_days, now)
        if recall["status"] != "collecting":
            raise Conflict(
                "recall_not_collecting",
                f"recall {recall_id} is {recall['status']}; support is no longer collected",
                "recall_id",
            )
        return _support(tx, recall_id, member_id, ballot_days, now)


def _check_recall_days(council: Mapping[str, Any], ballot_days: float, now: datetime) -> None:
    if isinstance(ballot_days, bool) or not isinstance(ballot_days, int | float):
        raise Invalid("bad_days", "ballot_days: give a number of days", "ballot_days")
    if not 0 < ballot_days <= 366:
        raise Invalid("bad_days", "ballot_days: between 0 and 366 days", "ballot_days")
    require_ballot_time(council, now, now + timedelta(days=ballot_days), "ballot_days")


def _support(
    tx: Records, recall_id: int, member_id: int, ballot_days: float, now: datetime
) -> RecallProgress:
    try:
        tx.add_recall_supporter(recall_id, member_id, now)
    except Duplicate:
        raise Conflict(
            "already_supported",
            f"account {member_id} already supports recall {recall_id}",
            "member_id",
        ) from None
    recall = tx.recall(recall_id)
    council = tx.council(recall["council_id"])
    support = tx.recall_support(recall_id)
    counted = len(counted_members(tx, council, now))
    needed = rules.recall_threshold(counted, Fraction(council["recall_share"]))
    record(
        tx,
        "recall.supported",
        {"recall_id": recall_id, "by": member_id, "support": support, "needed": needed},
        now,
    )
    if support >= needed:
        delegate = tx.delegate(recall["delegate_id"])
        ballot = yes_no_ballot(
            tx,
            council=council,
            purpose="recall",
            title=f"Recall delegate {delegate['id']} (account {delegate['account_id']})",
            subject={"recall_id": recall_id, "delegate_id": delegate["id"]},
            opened_by=None,
            closes_at=now + timedelta(days=ballot_days),
            now=now,
            secret=True,
        )
        tx.set_recall_status(recall_id, "balloting", ballot_id=ballot.id)
    return recall_progress(tx.recall(recall_id), support, needed)


def get_recall(store: Store, recall_id: int) -> Recall:
    """A recall with the number of members supporting it."""
    with store.transaction() as tx:
        row = existing(tx.recall, recall_id, "recall", "recall_id")
        return recall_result(row, tx.recall_support(recall_id))
