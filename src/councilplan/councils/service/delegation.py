"""Delegates: elections to a federation, nominations, and recall by the delegate's own council."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from councilplan.councils import counting, rules
from councilplan.councils.service.ballots import _close, _insert_ballot
from councilplan.councils.service.mandates import end_mandate
from councilplan.councils.service.records import (
    Ballot,
    Conflict,
    Duplicate,
    Invalid,
    Records,
    Refused,
    Store,
    _account,
    _ballot,
    _current_membership,
    _electorate,
    _get,
    _now,
    _record,
    _require_standing,
    _seat_of,
    _text,
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
            end_mandate(tx, d, "replaced", now)
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
    end_mandate(tx, delegate, "recalled", now)
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
