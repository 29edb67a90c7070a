"""The rates-and-conflicts commission: its seats, and disputes heard, decided and appealed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from councilplan.audit.chain import utc_timestamp
from councilplan.councils import disputes, rules
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    Refused,
    as_dict,
    exact,
    existing,
    now_utc,
    record,
    require_standing,
    standing,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Records, Store
from councilplan.councils.service.results import (
    Commission,
    CommissionSeat,
    DisputeView,
    commission_result,
    commission_seat_result,
    dispute_view,
)

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
    rules.Reason.SEAT_VACANT: Refused,
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
) -> Commission:
    """Set up a rates-and-conflicts commission between a workplace council and a planning
    federation, with ``seats_per_side`` seats for each. Done by a member of the workplace
    council or a delegate to the federation."""
    now = now_utc(now)
    name = text_field(name, "name", limit=200)
    if not 1 <= seats_per_side <= 50:
        raise Invalid("bad_seats", "seats_per_side: between 1 and 50", "seats_per_side")
    with store.transaction() as tx:
        workplace = existing(tx.council, workplace_council_id, "council", "workplace_council_id")
        federation = existing(tx.council, federation_id, "council", "federation_id")
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
            commission_id = tx.add_commission(
                {
                    "name": name,
                    "workplace_council_id": workplace_council_id,
                    "federation_id": federation_id,
                    "seats_per_side": seats_per_side,
                    "created_at": now,
                }
            )
        except Duplicate:
            raise Conflict(
                "name_taken", f"name: a commission called {name!r} exists", "name"
            ) from None
        record(
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
        return commission_result(tx.commission(commission_id))


def take_commission_seat(
    store: Store,
    *,
    commission_id: int,
    account_id: int,
    side: str,
    now: datetime | None = None,
) -> CommissionSeat:
    """Seat ``account_id`` for its side: a workplace seat for a member of the workplace
    council, a planning seat for a current delegate to the federation."""
    now = now_utc(now)
    if side not in ("workplace", "planning"):
        raise Invalid("bad_side", "side: 'workplace' or 'planning'", "side")
    with store.transaction() as tx:
        commission = existing(
            tx.commission, commission_id, "commission", "commission_id", lock="update"
        )
        council_id = (
            commission["workplace_council_id"]
            if side == "workplace"
            else commission["federation_id"]
        )
        council = tx.council(council_id)
        require_standing(tx, council, account_id, f"sit for the {side} side")
        seats = tx.commission_seats(commission_id)
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
        seat_id = tx.add_commission_seat(
            {
                "commission_id": commission_id,
                "account_id": account_id,
                "side": side,
                "seated_at": now,
            }
        )
        record(
            tx,
            "commission.seated",
            {"commission_id": commission_id, "account_id": account_id, "side": side},
            now,
        )
        return commission_seat_result(tx.commission_seat(seat_id))


def _seat_ids(tx: Records, commission_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    seats = tx.commission_seats(commission_id)
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
            a["parties"] = tuple(a.get("parties", ()))
            dispute = disputes.file_dispute(now=at, **a)
        elif act["act"] == "hear":
            dispute = disputes.hear(dispute, at, present=act["present"])
        elif act["act"] == "decide":
            dispute = disputes.decide(dispute, at, hours=Fraction(act["hours"]), votes=act["votes"])
        elif act["act"] == "vote":
            dispute = disputes.cast_vote(
                dispute, at, seat=act["seat"], hours=Fraction(act["hours"]), choice=act["choice"]
            )
        elif act["act"] == "vacate":
            dispute = disputes.vacate_seat(dispute, at, seat=act["seat"], why=act.get("why", ""))
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


_VOTE_OUTCOME = {"decided": "dispute.decided", "final": "dispute.finalised"}


def dispute_act(tx: Records, row: dict, act: dict, now: datetime, kind: str) -> DisputeView:
    """Apply one more act: replay with it, refuse if the rules refuse, else store it. A seat's
    vote that carries the decision is recorded as the decision (or the appeal's)."""
    acts = [*row["state"]["acts"], act]
    dispute = _replay(acts)
    if isinstance(dispute, rules.Rejection):
        raise _refusal(dispute)
    if kind == "dispute.voted" and str(dispute.state) != row["status"]:
        kind = _VOTE_OUTCOME.get(str(dispute.state), kind)
    state = {"acts": acts, "view": as_dict(dispute)}
    tx.set_dispute_state(row["id"], state, str(dispute.state), now)
    # The public record names the dispute, its commission, the step and its new state; the
    # grounds, hours, seats' votes and effect are the parties' and the commission's to read
    # (they are in the dispute's row, which the event's state commitment fixes).
    record(
        tx,
        kind,
        {
            "dispute_id": row["id"],
            "commission_id": row["commission_id"],
            "act": act["act"],
            "state": str(dispute.state),
        },
        now,
    )
    return dispute_view(tx.dispute(row["id"]))


def _hours_text(value: Any, field: str) -> str:
    hours = exact(value, field, "bad_hours", "a number of hours")
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
) -> DisputeView:
    """File a dispute about a work norm (``target`` a product id) or recorded hours
    (``target`` a record id). A worker of the workplace files for themselves; with
    ``for_council`` a member files for the workplace council about ``worker_id``."""
    now = now_utc(now)
    target = text_field(target, "target", limit=200)
    with store.transaction() as tx:
        commission = existing(tx.commission, commission_id, "commission", "commission_id")
        workplace = tx.council(commission["workplace_council_id"])
        require_standing(tx, workplace, filer_id, "file a dispute")
        workplace_seats, federation_seats = _seat_ids(tx, commission_id)
        # The filing council's delegates to the federation are its agents: party to its case.
        parties = (
            sorted(
                str(d["account_id"])
                for d in tx.delegates(
                    federation_id=commission["federation_id"], council_id=workplace["id"]
                )
            )
            if for_council
            else []
        )
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
            "parties": parties,
        }
        act = {"act": "file", "at": utc_timestamp(now), "args": args}
        dispute = _replay([act])
        if isinstance(dispute, rules.Rejection):
            raise _refusal(dispute)
        dispute_id = tx.add_dispute(
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
        row = tx.dispute(dispute_id)
        return dispute_act(tx, row, act, now, "dispute.filed")


def _seat_holder(tx: Records, row: Mapping[str, Any], account_id: int) -> None:
    seats = tx.commission_seats(row["commission_id"], account_id=account_id)
    if not seats:
        ended = tx.commission_seats(row["commission_id"], account_id=account_id, current=False)
        if ended:
            seat = ended[-1]
            raise Refused(
                "seat_ended",
                f"account {account_id}'s {seat['side']} seat on commission "
                f"{row['commission_id']} ended at {utc_timestamp(seat['left_at'])}, with the "
                "mandate or membership it came from; the seat is vacant",
                "account_id",
            )
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
) -> DisputeView:
    """Record the hearing (a commissioner records who was present; both sides must be)."""
    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.dispute, dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        act = {"act": "hear", "at": utc_timestamp(now), "present": [str(p) for p in present]}
        return dispute_act(tx, row, act, now, "dispute.heard")


def _vote_act(hours: Any, vote: str, actor_id: int, now: datetime) -> dict:
    if vote not in ("yes", "no", "abstain"):
        raise Invalid("bad_vote", "vote: 'yes', 'no' or 'abstain'", "vote")
    return {
        "act": "vote",
        "at": utc_timestamp(now),
        "seat": str(actor_id),
        "hours": _hours_text(hours, "hours"),
        "choice": vote,
    }


def decide_dispute(
    store: Store,
    *,
    dispute_id: int,
    actor_id: int,
    hours: Any,
    vote: str,
    now: datetime | None = None,
) -> DisputeView:
    """A commissioner casts her own seat's vote on ``hours``; the dispute is decided when more
    than half of all its seats have voted yes on the same hours."""
    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.dispute, dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        act = _vote_act(hours, vote, actor_id, now)
        return dispute_act(tx, row, act, now, "dispute.voted")


def appeal_dispute(
    store: Store, *, dispute_id: int, actor_id: int, grounds: str = "", now: datetime | None = None
) -> DisputeView:
    """A party appeals: the worker or filer, a commissioner of the planning side, or any
    member of the workplace council on its behalf."""
    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.dispute, dispute_id, "dispute", "dispute_id", lock="update")
        commission = tx.commission(row["commission_id"])
        view = row["state"]["view"]
        by = str(actor_id)
        parties = {
            view.get("filer_id"),
            view.get("worker_id"),
            *view.get("commission", {}).get("federation_seats", []),
        }
        if by not in parties and tx.current_membership(
            commission["workplace_council_id"], actor_id
        ):
            by = _workplace_party(commission["workplace_council_id"])
        act = {"act": "appeal", "at": utc_timestamp(now), "by": by, "grounds": grounds or ""}
        return dispute_act(tx, row, act, now, "dispute.appealed")


def finalise_dispute(
    store: Store,
    *,
    dispute_id: int,
    actor_id: int,
    hours: Any = None,
    vote: str | None = None,
    now: datetime | None = None,
) -> DisputeView:
    """Make a decided dispute final after its appeal window (no hours or vote), or cast one's
    own seat's vote on an appeal: it is decided, and final, when more than half of all seats
    have voted yes on the same hours."""
    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.dispute, dispute_id, "dispute", "dispute_id", lock="update")
        _seat_holder(tx, row, actor_id)
        if vote is not None or hours is not None:
            if vote is None or hours is None:
                raise Invalid("bad_vote", "vote: give both hours and your vote", "vote")
            act = _vote_act(hours, vote, actor_id, now)
            return dispute_act(tx, row, act, now, "dispute.voted")
        act = {"act": "finalise", "at": utc_timestamp(now), "hours": None, "votes": None}
        return dispute_act(tx, row, act, now, "dispute.finalised")


def apply_dispute_deadlines(store: Store, *, now: datetime | None = None) -> list[int]:
    """Apply every passed deadline to open disputes; returns the ids that changed."""
    now = now_utc(now)
    changed = []
    with store.transaction() as tx:
        for row in tx.disputes():
            if row["status"] == "final":
                continue
            deadline = row["state"]["view"].get("deadline")
            if deadline and datetime.fromisoformat(deadline) < now:
                act = {"act": "deadlines", "at": utc_timestamp(now)}
                dispute_act(tx, row, act, now, "dispute.deadline")
                changed.append(row["id"])
    return changed


def _may_see(tx: Records, row: Mapping[str, Any], viewer_id: int) -> bool:
    if row["filed_by"] == viewer_id or row["state"]["view"].get("worker_id") == str(viewer_id):
        return True
    return bool(tx.commission_seats(row["commission_id"], account_id=viewer_id))


def get_dispute(store: Store, *, dispute_id: int, viewer_id: int) -> DisputeView:
    """A dispute, for its commissioners and the worker and filer concerned only."""
    with store.transaction() as tx:
        row = existing(tx.dispute, dispute_id, "dispute", "dispute_id")
        if not _may_see(tx, row, viewer_id):
            raise Refused(
                "not_a_commissioner",
                f"dispute {dispute_id} is seen by its commission's seats and its parties only",
                "dispute_id",
            )
        return _current_view(row)


def my_disputes(store: Store, *, viewer_id: int) -> list[DisputeView]:
    """The cases before the commissions where ``viewer_id`` holds a seat, and their own."""
    with store.transaction() as tx:
        return [_current_view(r) for r in tx.disputes() if _may_see(tx, r, viewer_id)]


def _current_view(row: Mapping[str, Any]) -> DisputeView:
    """A dispute as its acts make it under today's rules: replayed, not read from the view
    stored with its last act, which a row written by an older version may lack fields of."""
    dispute = _replay(row["state"]["acts"])
    if isinstance(dispute, rules.Rejection):  # acts the rules accepted when they were made
        return dispute_view(row)
    return dispute_view({**row, "state": {**row["state"], "view": as_dict(dispute)}})
