"""Motions and ballots: tabling and amending motions, opening ballots, casting, closing and
recounting votes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from json.encoder import encode_basestring as _encode_string  # what json.dumps uses
from typing import Any

from councilplan.audit.chain import utc_timestamp
from councilplan.councils import counting
from councilplan.councils.service.records import (
    MOTION_RULES,
    Ballot,
    Conflict,
    Duplicate,
    Invalid,
    Records,
    Refused,
    Store,
    VoteReceipt,
    _ballot,
    _current_membership,
    _electorate,
    _get,
    _now,
    _record,
    _require_standing,
    _share,
    _text,
    no_cycle_collection,
)

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
    quick_vote = getattr(store, "quick_vote", None)
    request = _quick_request(ballot_id, voter_id, choice, now)
    quick = quick_vote(**request) if quick_vote is not None and request is not None else None
    if quick is None:
        return _cast_vote(store, ballot_id, voter_id, choice, now)
    if quick.purpose == "recall":
        _close_recall_if_decided(store, ballot_id, now)
    return VoteReceipt(ballot_id, voter_id, quick.weight, quick.audit_seq)


async def cast_vote_async(
    store: Store,
    *,
    ballot_id: int,
    voter_id: int,
    choice: Any,
    now: datetime | None = None,
) -> VoteReceipt:
    """:func:`cast_vote` for a caller on an event loop (the web API's busiest request). A store
    that can vote in one awaited call (``quick_vote_async``) does so on the loop; whatever else
    there is to do (a refusal to name, SQLite, counting a recall) runs in a worker thread."""
    now = _now(now)
    quick_vote = getattr(store, "quick_vote_async", None)
    request = _quick_request(ballot_id, voter_id, choice, now)
    quick = None
    if quick_vote is not None and request is not None:
        quick = await quick_vote(**request)
    if quick is None:
        return await asyncio.to_thread(_cast_vote, store, ballot_id, voter_id, choice, now)
    if quick.purpose == "recall":
        await asyncio.to_thread(_close_recall_if_decided, store, ballot_id, now)
    return VoteReceipt(ballot_id, voter_id, quick.weight, quick.audit_seq)


def _quick_request(ballot_id: int, voter_id: int, choice: Any, now: datetime) -> dict | None:
    """The arguments of a store's one-step vote (see :class:`Store`), or None when the choice is
    neither a text nor a list of texts: then only the general path, which names what is wrong
    with it, takes it."""
    if isinstance(choice, list | tuple) and all(isinstance(c, str) for c in choice):
        choice = list(choice)
    elif not isinstance(choice, str):
        return None
    return {
        "ballot_id": ballot_id,
        "voter_id": voter_id,
        "choice": choice,
        "now": now,
        "recorded_at": utc_timestamp(now),
    }


def _cast_vote(
    store: Store, ballot_id: int, voter_id: int, choice: Any, now: datetime
) -> VoteReceipt:
    """The general path: statement by statement through :class:`Records`, naming refusals."""
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


def _votes_digest(votes: Sequence[Sequence[Any]]) -> str:
    """SHA-256 over the stored votes in canonical form (:func:`_box`), published when a ballot
    closes."""
    return _sha256(_box(votes)[0])


def _box(votes: Sequence[Sequence[Any]]) -> tuple[str, list]:
    """The canonical form of a ballot's votes, as sealed in its ballot box: one compact JSON
    ``[choice, weight]`` per line, the lines sorted (so no order of voting survives) and
    joined by newlines (JSON escapes any newline inside a choice); and the votes in that
    order. Choices are strings or lists of strings (``check_choice``), so the encoder's output
    is canonical for them."""
    lines = _json_lines(votes)
    order = sorted(range(len(lines)), key=lines.__getitem__)
    return "\n".join([lines[i] for i in order]), [votes[i] for i in order]


def _unbox(box: str) -> tuple[list, str]:
    """The votes in a ballot box, in its order, and their digest: the SHA-256 of its lines
    sorted, which is of the box itself for every box a close writes (a box moved from vote
    rows by migration 0007 keeps the key order its ballot was counted in)."""
    pairs = json.loads("[" + box.replace("\n", ",") + "]")  # one parse for the whole box
    digest = _sha256("\n".join(sorted(box.split("\n"))))
    return pairs, digest


def _seal(tx: Records, ballot_id: int) -> tuple[list, str]:
    """Move a closing secret ballot's votes out of their rows into its ballot box. The rows were
    written as members voted, in the same transactions (and physical order) as their
    participation rows; the box, written at close and sorted, shares neither. Returns the
    votes in box order and their digest."""
    box, votes = _box(tx.take_votes(ballot_id))
    tx.insert("ballot_boxes", {"ballot_id": ballot_id, "votes": box})
    return votes, _sha256(box)


def _json_lines(votes: Sequence[Sequence[Any]]) -> list[str]:
    """Each vote as compact JSON, exactly as ``json.dumps([choice, weight], separators=(",",
    ":"), ensure_ascii=False)`` writes it (a tested property), twice as fast: the few distinct
    option names are encoded once each by json's own string encoder, the brackets and commas
    around them written here."""
    strings: dict[str, str] = {}
    lines = []
    for choice, weight in votes:
        if isinstance(choice, str):
            text = strings.get(choice) or strings.setdefault(choice, _encode_string(choice))
        else:
            parts = []
            for option in choice:
                encoded = strings.get(option)
                if encoded is None:
                    encoded = strings[option] = _encode_string(option)
                parts.append(encoded)
            text = "[" + ",".join(parts) + "]"
        lines.append(f"[{text},{int(weight)}]")
    return lines


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _count(
    ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int
) -> counting.Tally:
    weights = [weight for _, weight in votes] if ballot["weighted"] else None
    return counting.count(
        ballot["rule"],
        [choice for choice, _ in votes],
        options=tuple(ballot["options"]),
        seats=ballot["seats"],
        weights=weights,
        electorate=max(electorate, len(votes)),
        quorum_share=Fraction(ballot["quorum"]) or None,
        majority=Fraction(ballot["majority"]),
    )


def _count_or_void(
    ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int
) -> counting.Tally | None:
    """The tally, or None when the ballot cannot be counted (an election nobody stood in, more
    seats than candidates): it closes void rather than staying open for ever."""
    try:
        return _count(ballot, votes, electorate)
    except counting.CountingError:
        return None


def _void(ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int) -> dict:
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
        with no_cycle_collection():  # over a whole ballot's votes, freed before it resumes
            return _close(tx, ballot, now)


def _close(tx: Records, ballot: dict, now: datetime) -> Ballot:
    ballot_id = ballot["id"]
    council = tx.get("councils", ballot["council_id"])
    if ballot["secret"]:
        votes, digest = _seal(tx, ballot_id)
    else:
        votes = tx.ballot_votes(ballot_id)
        digest = _votes_digest(votes)
    electorate = len(_electorate(tx, council, ballot["created_at"]))
    electorate = max(electorate, len(votes))
    tally, counted = _tally(tx, ballot, votes, electorate)
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
        with no_cycle_collection():  # over a whole ballot's votes, freed before it resumes
            tally, digest = _recount(tx, ballot)
        return {
            "ballot_id": ballot_id,
            "matches": tally == ballot["tally"] and digest == ballot["votes_digest"],
            "tally": tally,
            "stored_tally": ballot["tally"],
            "votes_digest": digest,
            "stored_votes_digest": ballot["votes_digest"],
        }


def _recount(tx: Records, ballot: dict) -> tuple[dict, str]:
    """The tally and the votes digest of a closed ballot's stored votes: a secret ballot's
    from its box, an open ballot's from its rows."""
    box = tx.get("ballot_boxes", ballot["id"])
    if box is not None:
        votes, digest = _unbox(box["votes"])
    else:
        votes = tx.ballot_votes(ballot["id"])
        digest = _votes_digest(votes)
    return _tally(tx, ballot, votes, ballot["electorate"])[0], digest


def _tally(
    tx: Records, ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int
) -> tuple[dict, counting.Tally | None]:
    """The tally as stored, and the count behind it (None for a budget or a void ballot)."""
    if ballot["purpose"] == "budget":
        return _count_budget(tx, ballot, votes), None
    counted = _count_or_void(ballot, votes, electorate)
    if counted is None:
        return _void(ballot, votes, electorate), None
    return counted.to_dict(), counted


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


# Imported last: budgets and delegation open ballots through this module, and closing a ballot
# carries out what it decided there (the package imports this module before them).
from councilplan.councils.service.budgets import _count_budget  # noqa: E402
from councilplan.councils.service.delegation import (  # noqa: E402
    _apply_recall,
    _close_recall_if_decided,
    _seat_winners,
)
