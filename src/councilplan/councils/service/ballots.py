"""Motions and ballots: tabling and amending motions, opening ballots (with their electorate
fixed at opening and the council's minimum ballot time), taking a vote, sealing and counting a
ballot's votes. What a closed ballot decides, and closing it, are in ``decisions``."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from json.encoder import encode_basestring as _encode_string  # what json.dumps uses
from typing import Any

from councilplan.audit.chain import utc_timestamp
from councilplan.councils import counting
from councilplan.councils.service.records import (
    MOTION_RULES,
    Conflict,
    Invalid,
    Refused,
    electorate_at,
    existing,
    now_utc,
    read_share,
    record,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Records, Store
from councilplan.councils.service.results import (
    Amendment,
    Ballot,
    Motion,
    MotionDetail,
    OpenVote,
    VoteReceipt,
    amendment_result,
    ballot_result,
    motion_detail,
    motion_result,
    open_vote_result,
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
) -> Motion:
    """A member (a delegate, in a federation) tables a motion."""
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    text = text_field(text, "text")
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, member_id, "table a motion")
        motion_id = tx.add_motion(
            {
                "council_id": council_id,
                "tabled_by": member_id,
                "title": title,
                "text": text,
                "tabled_at": now,
            }
        )
        record(
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
        return motion_result(tx.motion(motion_id))


def amend_motion(
    store: Store, *, motion_id: int, member_id: int, text: str, now: datetime | None = None
) -> Amendment:
    """A member tables an amendment to a motion of their council."""
    now = now_utc(now)
    text = text_field(text, "text")
    with store.transaction() as tx:
        motion = existing(tx.motion, motion_id, "motion", "motion_id")
        council = tx.council(motion["council_id"])
        require_standing(tx, council, member_id, "amend a motion")
        amendment_id = tx.add_amendment(
            {"motion_id": motion_id, "tabled_by": member_id, "text": text, "tabled_at": now}
        )
        record(
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
        return amendment_result(tx.amendment(amendment_id))


def motion(store: Store, motion_id: int) -> MotionDetail:
    """A motion with its amendments and ballots."""
    with store.transaction() as tx:
        row = existing(tx.motion, motion_id, "motion", "motion_id")
        ballot_ids = [
            b["id"]
            for b in tx.ballots(row["council_id"])
            if b["subject"].get("motion_id") == motion_id
        ]
        return motion_detail(row, tx.amendments(motion_id), ballot_ids)


def check_options(rule: str, options: Sequence[str] | None) -> tuple[str, ...]:
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
    Federations that weigh votes vote openly, so each council can check its delegates. The
    ballot stays open at least the council's minimum ballot time; who may vote is fixed now.
    """
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    if rule not in MOTION_RULES:
        raise Invalid("bad_rule", f"rule: {rule!r} is not one of {', '.join(MOTION_RULES)}", "rule")
    opts = check_options(rule, options)
    quorum_share = read_share(quorum, "quorum")
    majority_share = read_share(majority, "majority", allow_zero=False)
    if majority_share < Fraction(1, 2):
        raise Invalid("bad_majority", "majority: must be at least 1/2", "majority")
    if not 1 <= seats < max(2, len(opts)):
        raise Invalid(
            "bad_seats",
            f"seats: {seats} must be at least 1 and fewer than the {len(opts)} options",
            "seats",
        )
    closes_at = now_utc(closes_at)
    if closes_at <= now:
        raise Invalid("closes_in_past", "closes_at: must lie in the future", "closes_at")
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, opened_by, "open a ballot")
        if motion_id is not None:
            m = existing(tx.motion, motion_id, "motion", "motion_id")
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
        return insert_ballot(
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


def require_ballot_time(
    council: Mapping[str, Any], opens_at: datetime, closes_at: datetime, field: str = "closes_at"
) -> None:
    """Refuse a ballot open for votes for less than ``council``'s minimum ballot time."""
    days = council["min_ballot_days"]
    if closes_at - opens_at < timedelta(days=days):
        raise Invalid(
            "ballot_too_short",
            f"{field}: the ballot would close at {utc_timestamp(closes_at)}, "
            f"{(closes_at - opens_at) / timedelta(days=1):.2f} days after it opens for votes "
            f"at {utc_timestamp(opens_at)}; "
            f"council {council['id']} ({council['name']})'s rule is that ballots stay open at "
            f"least {days} days (min_ballot_days), so every member has time to vote",
            field,
        )


def insert_ballot(
    tx: Records,
    *,
    council: Mapping[str, Any],
    purpose: str,
    title: str,
    subject: Mapping[str, Any],
    rule: str,
    options: Sequence[str],
    seats: int,
    quorum: Fraction,
    majority: Fraction,
    secret: bool,
    opened_by: int | None,
    opens_at: datetime,
    closes_at: datetime,
    now: datetime,
) -> Ballot:
    """Open a ballot of ``council`` now, for votes from ``opens_at`` to ``closes_at`` (at least
    the council's minimum ballot time). Its electorate is fixed now, and published in its
    ``ballot.opened`` event with the federation weights it will count."""
    require_ballot_time(council, opens_at, closes_at)
    electorate = electorate_at(tx, council, now)
    ballot_id = tx.add_ballot(
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
            "electorate": electorate.size,
            "members_since": electorate.members_since,
            "weights": electorate.weights,
        },
    )
    record(
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
            "electorate": electorate.size,
            "members_since": electorate.members_since,
            "weights": electorate.weights,
        },
        now,
    )
    return ballot_result(tx.ballot(ballot_id))


def yes_no_ballot(
    tx: Records,
    *,
    council: Mapping[str, Any],
    purpose: str,
    title: str,
    subject: Mapping[str, Any],
    opened_by: int | None,
    closes_at: datetime,
    now: datetime,
    secret: bool = False,
) -> Ballot:
    """A yes/no question of ``council`` (admission, affiliation, rules, recall, a planning
    period, a statement), open for votes from ``now`` to ``closes_at``, carried by a majority
    of the votes cast, with no quorum."""
    return insert_ballot(
        tx,
        council=council,
        purpose=purpose,
        title=title,
        subject=subject,
        rule="yes_no",
        options=counting.YES_NO_CHOICES,
        seats=1,
        quorum=Fraction(0),
        majority=Fraction(1, 2),
        secret=secret,
        opened_by=opened_by,
        opens_at=now,
        closes_at=closes_at,
        now=now,
    )


def get_ballot(store: Store, ballot_id: int) -> Ballot:
    with store.transaction() as tx:
        return ballot_result(existing(tx.ballot, ballot_id, "ballot", "ballot_id"))


def list_ballots(store: Store, council_id: int) -> list[Ballot]:
    with store.transaction() as tx:
        existing(tx.council, council_id, "council", "council_id")
        return [ballot_result(b) for b in tx.ballots(council_id)]


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


def entitled_weight(
    tx: Records, ballot: Mapping[str, Any], council: Mapping[str, Any], voter_id: int
) -> int:
    """The weight of ``voter_id``'s vote in ``ballot``, or :class:`Refused` naming why they are
    not in its electorate, which was fixed when it opened (docs/councils.md): a member who
    joined after, or had not yet the council's minimum standing, votes in later ballots; one
    who left since, or a delegate whose mandate has ended, does not vote. In a federation, the
    oldest current mandate begun by the opening, of a council counted then, with its fixed
    weight. PostgreSQL's ``councilplan_cast_vote`` (migration 0010) applies the same rule."""
    ballot_id = ballot["id"]
    if council["kind"] == "federation":
        mandates = tx.delegates(federation_id=council["id"], account_id=voter_id)
        if not mandates:
            require_standing(tx, council, voter_id, "vote")  # refuses: not a current delegate
        weights = ballot["weights"] or {}
        for d in mandates:
            if d["elected_at"] <= ballot["created_at"] and str(d["council_id"]) in weights:
                return weights[str(d["council_id"])] if ballot["weighted"] else 1
        raise Refused(
            "not_in_electorate",
            f"account {voter_id}'s mandate to federation {council['id']} began after ballot "
            f"{ballot_id} opened, or its council was not counted when the ballot opened "
            f"(councils counted: {', '.join(weights) or 'none'}); it votes in later ballots",
            "voter_id",
        )
    membership = tx.current_membership(council["id"], voter_id)
    if membership is None:
        require_standing(tx, council, voter_id, "vote")  # refuses: not a member
    if membership["joined_at"] > ballot["created_at"]:
        raise Refused(
            "joined_after_ballot_opened",
            f"account {voter_id} joined council {council['id']} after ballot "
            f"{ballot_id} was opened and may vote on later ballots",
            "voter_id",
        )
    since = ballot["members_since"]
    if since is None or membership["joined_at"] > since:
        raise Refused(
            "short_standing",
            f"account {voter_id} had been a member of council {council['id']} for less than "
            f"its minimum standing when ballot {ballot_id} opened at "
            f"{utc_timestamp(ballot['created_at'])} (members since "
            f"{utc_timestamp(since) if since else 'its opening'} vote); it votes in later ballots",
            "voter_id",
        )
    return 1


def cast_vote_general(
    store: Store, ballot_id: int, voter_id: int, choice: Any, now: datetime
) -> tuple[VoteReceipt, str]:
    """A vote the general way: statement by statement through :class:`Records`, naming any
    refusal; the receipt and the ballot's purpose. ``decisions.cast_vote`` is the way in (it
    also closes a recall its vote decides)."""
    with store.transaction() as tx:
        # A share lock: a concurrent close waits for votes in flight, and votes wait for it.
        ballot = existing(tx.ballot, ballot_id, "ballot", "ballot_id", lock="share")
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
        council = tx.council(ballot["council_id"])
        weight = entitled_weight(tx, ballot, council, voter_id)
        stored = check_choice(ballot["rule"], ballot["options"], choice)
        try:
            tx.record_participation(ballot_id, voter_id)
        except Duplicate:
            raise Conflict(
                "already_voted",
                f"account {voter_id} has already voted on ballot {ballot_id}; one member, one vote",
                "voter_id",
            ) from None
        vote_id = str(uuid.uuid4())
        tx.add_vote(vote_id, ballot_id, stored, weight)
        payload: dict[str, Any] = {"ballot_id": ballot_id, "account_id": voter_id}
        if not ballot["secret"]:
            tx.add_open_vote(vote_id, ballot_id, voter_id)
            payload.update(choice=stored, weight=weight)
        entry = record(tx, "ballot.voted", payload, now)
    # seq is final after commit
    return VoteReceipt(ballot_id, voter_id, weight, entry.seq), ballot["purpose"]


def votes_digest(votes: Sequence[Sequence[Any]]) -> str:
    """SHA-256 over the stored votes in canonical form (:func:`_box`), published when a ballot
    closes."""
    return sha256_text(_box(votes)[0])


def _box(votes: Sequence[Sequence[Any]]) -> tuple[str, list]:
    """The canonical form of a ballot's votes, as sealed in its ballot box: one compact JSON
    ``[choice, weight]`` per line, the lines sorted (so no order of voting survives) and
    joined by newlines (JSON escapes any newline inside a choice); and the votes in that
    order. Choices are strings or lists of strings (``check_choice``), so the encoder's output
    is canonical for them."""
    lines = _json_lines(votes)
    order = sorted(range(len(lines)), key=lines.__getitem__)
    return "\n".join([lines[i] for i in order]), [votes[i] for i in order]


def unbox(box: str) -> tuple[list, str]:
    """The votes in a ballot box, in its order, and their digest: the SHA-256 of its lines
    sorted, which is of the box itself for every box a close writes (a box moved from vote
    rows by migration 0007 keeps the key order its ballot was counted in)."""
    pairs = json.loads("[" + box.replace("\n", ",") + "]")  # one parse for the whole box
    digest = sha256_text("\n".join(sorted(box.split("\n"))))
    return pairs, digest


def seal_box(tx: Records, ballot_id: int) -> tuple[list, str]:
    """Move a closing secret ballot's votes out of their rows into its ballot box. The rows were
    written as members voted, in the same transactions (and physical order) as their
    participation rows; the box, written at close and sorted, shares neither. Returns the
    votes in box order and their digest."""
    box, votes = _box(tx.take_votes(ballot_id))
    tx.add_ballot_box(ballot_id, box)
    return votes, sha256_text(box)


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


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def count_votes(
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


def count_or_void(
    ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int
) -> counting.Tally | None:
    """The tally, or None when the ballot cannot be counted (an election nobody stood in, more
    seats than candidates): it closes void rather than staying open for ever."""
    try:
        return count_votes(ballot, votes, electorate)
    except counting.CountingError:
        return None


def void_tally(ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int) -> dict:
    try:
        count_votes(ballot, votes, electorate)
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


def participation(store: Store, ballot_id: int) -> list[int]:
    """Who voted (never what, on a secret ballot): account ids in id order."""
    with store.transaction() as tx:
        existing(tx.ballot, ballot_id, "ballot", "ballot_id")
        return sorted(tx.participants(ballot_id))


def open_votes(store: Store, ballot_id: int) -> list[OpenVote]:
    """Who voted what on an open ballot; refused for a secret ballot."""
    with store.transaction() as tx:
        ballot = existing(tx.ballot, ballot_id, "ballot", "ballot_id")
        if ballot["secret"]:
            raise Refused(
                "secret_ballot",
                f"ballot {ballot_id} is secret: who voted what is not on record",
                "ballot_id",
            )
        rows = sorted(tx.open_votes(ballot_id), key=lambda r: r["account_id"])
        return [open_vote_result(r) for r in rows]


# Older names, still read by tests of the ballot box and the store.
_votes_digest = votes_digest
_count = count_votes
_unbox = unbox
