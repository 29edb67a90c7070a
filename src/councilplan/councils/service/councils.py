"""Councils and membership: founding a council, joining and leaving it, councils joining a
federation."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from councilplan.councils.service.accounts import checked_name
from councilplan.councils.service.mandates import end_mandate, end_seats
from councilplan.councils.service.records import (
    COUNCIL_KINDS,
    DEFAULT_RECALL_SHARE,
    Conflict,
    Council,
    Duplicate,
    Invalid,
    Refused,
    Store,
    _account,
    _council,
    _current_membership,
    _get,
    _now,
    _record,
    _require_standing,
    _seat_of,
    _share,
    _text,
)


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
    name = checked_name(_text(name, "name", limit=200), "name")
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
            end_mandate(tx, d, "left_council", now)
            ended.append(d["id"])
        # The workplace seats held by virtue of membership end with it.
        end_seats(
            tx,
            account_id=account_id,
            side="workplace",
            council_id=council_id,
            why="left the council",
            now=now,
        )
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
