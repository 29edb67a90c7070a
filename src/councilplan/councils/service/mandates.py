"""The end of a mandate, and of every right that came from it, in one place.

A delegate's mandate ends by recall, by replacement at a new election, by resignation or by
leaving the council that sent them. At that moment every right held by virtue of the mandate
ends with it: the vote in the federation (which needs a current mandate) and the planning
seats on the federation's rates-and-conflicts commissions, which fall vacant, also on the
disputes before them. Every path that ends a mandate calls :func:`end_mandate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from councilplan.audit.chain import utc_timestamp
from councilplan.councils.service.disputes import dispute_act
from councilplan.councils.service.records import record
from councilplan.councils.service.repository import Records
from councilplan.councils.service.results import Delegate, delegate_result


def end_seats(
    tx: Records,
    *,
    account_id: int,
    side: str,
    council_id: int,
    why: str,
    now: datetime,
) -> list[int]:
    """End ``account_id``'s ``side`` seats on the commissions of ``council_id`` (the
    federation for planning seats, the workplace council for workplace seats), and vacate
    them on every open dispute before those commissions. Returns the seat ids ended."""
    if side == "planning":
        commissions = tx.commissions(federation_id=council_id)
    else:
        commissions = tx.commissions(workplace_council_id=council_id)
    ended = []
    for commission in commissions:
        for seat in tx.commission_seats(commission["id"], account_id=account_id, side=side):
            tx.end_commission_seat(seat["id"], now)
            ended.append(seat["id"])
            record(
                tx,
                "commission.seat_ended",
                {
                    "commission_id": commission["id"],
                    "account_id": account_id,
                    "side": side,
                    "why": why,
                },
                now,
            )
            for row in tx.disputes(commission["id"]):
                if row["status"] == "final":
                    continue
                act = {
                    "act": "vacate",
                    "at": utc_timestamp(now),
                    "seat": str(account_id),
                    "why": why,
                }
                dispute_act(tx, row, act, now, "dispute.seat_vacant")
    return ended


def end_mandate(tx: Records, delegate: Mapping[str, Any], reason: str, now: datetime) -> Delegate:
    """End ``delegate``'s mandate (``reason``: recalled, replaced, resigned, left_council) and
    every right that came from it, at ``now``. Idempotent on an ended mandate."""
    if delegate["ended_at"] is not None:
        return delegate_result(delegate)
    tx.end_delegate(delegate["id"], now, reason)
    still_delegate = tx.delegates(
        federation_id=delegate["federation_id"], account_id=delegate["account_id"]
    )
    seats: list[int] = []
    if not still_delegate:  # no other current mandate to the same federation
        seats = end_seats(
            tx,
            account_id=delegate["account_id"],
            side="planning",
            council_id=delegate["federation_id"],
            why=f"mandate {reason}",
            now=now,
        )
    record(
        tx,
        "delegate.mandate_ended",
        {"delegate_id": delegate["id"], "reason": reason, "commission_seats_ended": seats},
        now,
    )
    return delegate_result(tx.delegate(delegate["id"]))
