"""What a ballot decides, and the acts that make it decide: closing a ballot (counting it and
carrying out its outcome) and casting a vote (a recall decided by a majority of its electorate
closes at once).

One place for every purpose: an election seats its winners, a recall ends a mandate and opens
a by-election, a budget stores its allocation, an admission admits its applicants, an
affiliation admits a council to a federation, a rules ballot changes the council's rules, a
period ballot opens a planning period, a statement ballot puts a council's statement in force,
an adoption ballot adopts a plan variant. The
modules that open those ballots (``ballots``, ``delegation``, ``budgets``, ``councils``) sit
below this one and know nothing of closing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from councilplan.audit.chain import utc_timestamp
from councilplan.councils import counting, rules
from councilplan.councils.service.ballots import (
    cast_vote_general,
    count_or_void,
    insert_ballot,
    seal_box,
    unbox,
    void_tally,
    votes_digest,
)
from councilplan.councils.service.budgets import count_budget
from councilplan.councils.service.councils import (
    admit_member,
    affiliate_council,
    change_rules,
    refuse_application,
)
from councilplan.councils.service.mandates import end_mandate
from councilplan.councils.service.planning import adopt_plan, adopt_statement, open_period
from councilplan.councils.service.records import Conflict, existing, now_utc, record
from councilplan.councils.service.repository import Records, Store
from councilplan.councils.service.results import Ballot, Recount, VoteReceipt, ballot_result
from councilplan.councils.service.sections import settle_section_motion

# ---------------------------------------------------------------------------------------------
# Casting a vote.


def cast_vote(
    store: Store,
    *,
    ballot_id: int,
    voter_id: int,
    choice: Any,
    now: datetime | None = None,
) -> VoteReceipt:
    """Cast one vote. One member, one vote: the participation table's primary key refuses a
    second. A secret ballot stores the choice in ``votes`` with no link to the voter. Only the
    ballot's electorate, fixed when it opened, votes (``ballots.entitled_weight``)."""
    now = now_utc(now)
    receipt, purpose = cast_vote_general(store, ballot_id, voter_id, choice, now)
    if purpose == "recall":
        close_recall_if_decided(store, ballot_id, now)
    return receipt


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
    now = now_utc(now)
    request = _quick_request(ballot_id, voter_id, choice, now)
    quick = await store.quick_vote_async(**request) if request is not None else None
    if quick is None:
        return await asyncio.to_thread(
            cast_vote, store, ballot_id=ballot_id, voter_id=voter_id, choice=choice, now=now
        )
    if quick.purpose == "recall":
        await asyncio.to_thread(close_recall_if_decided, store, ballot_id, now)
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


def close_recall_if_decided(store: Store, ballot_id: int, now: datetime) -> None:
    """Close a recall ballot as soon as more than half its electorate (fixed at opening) has
    voted yes: the outcome cannot change, and the delegate must lose their rights at once."""
    with store.transaction() as tx:
        ballot = tx.ballot(ballot_id, lock="update")
        if ballot is None or ballot["purpose"] != "recall" or ballot["status"] != "open":
            return
        yes = sum(1 for choice, _ in tx.ballot_votes(ballot_id) if choice == "yes")
        if yes * 2 > (ballot["electorate"] or 0):
            _close(tx, ballot, now)


# ---------------------------------------------------------------------------------------------
# Closing and counting.


def close_ballot(store: Store, *, ballot_id: int, now: datetime | None = None) -> Ballot:
    """Close a ballot whose time is up, count it, store the tally, and carry out what it
    decided. Anyone may ask; nobody may close a ballot before its closing time."""
    now = now_utc(now)
    with store.transaction() as tx:
        ballot = existing(tx.ballot, ballot_id, "ballot", "ballot_id", lock="update")
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
    if ballot["secret"]:
        votes, digest = seal_box(tx, ballot_id)
    else:
        votes = tx.ballot_votes(ballot_id)
        digest = votes_digest(votes)
    # The electorate was fixed at opening; every vote came from it.
    electorate = max(ballot["electorate"] or 0, len(votes))
    tally, counted = _tally(tx, ballot, votes, electorate)
    tx.close_ballot_row(
        ballot_id, closed_at=now, electorate=electorate, tally=tally, votes_digest=digest
    )
    record(
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
    carry_out = DECIDES.get(ballot["purpose"])
    if carry_out is not None:
        carry_out(tx, ballot, tally, counted, now)
    return ballot_result(tx.ballot(ballot_id))


def close_due_ballots(store: Store, *, now: datetime | None = None) -> list[int]:
    """Close every open ballot whose closing time has passed; returns their ids."""
    now = now_utc(now)
    with store.transaction() as tx:
        due = [b["id"] for b in tx.open_ballots() if b["closes_at"] <= now]
    closed = []
    for ballot_id in due:
        try:
            close_ballot(store, ballot_id=ballot_id, now=now)
            closed.append(ballot_id)
        except Conflict:
            pass  # closed meanwhile by someone else
    return closed


def recount(store: Store, ballot_id: int) -> Recount:
    """Count a closed ballot again from its stored votes and compare with the stored tally."""
    with store.transaction() as tx:
        ballot = existing(tx.ballot, ballot_id, "ballot", "ballot_id")
        if ballot["status"] != "closed":
            raise Conflict(
                "ballot_still_open", f"ballot {ballot_id} is open; it has no tally yet", "ballot_id"
            )
        box = tx.ballot_box(ballot["id"])
        if box is not None:
            votes, digest = unbox(box)
        else:
            votes = tx.ballot_votes(ballot["id"])
            digest = votes_digest(votes)
        tally = _tally(tx, ballot, votes, ballot["electorate"])[0]
        return Recount(
            ballot_id=ballot_id,
            matches=tally == ballot["tally"] and digest == ballot["votes_digest"],
            tally=tally,
            stored_tally=ballot["tally"],
            votes_digest=digest,
            stored_votes_digest=ballot["votes_digest"],
        )


def _tally(
    tx: Records, ballot: Mapping[str, Any], votes: Sequence[Sequence[Any]], electorate: int
) -> tuple[dict, counting.Tally | None]:
    """The tally as stored, and the count behind it (None for a budget or a void ballot)."""
    if ballot["purpose"] == "budget":
        return count_budget(tx, ballot, votes), None
    counted = count_or_void(ballot, votes, electorate)
    if counted is None:
        return void_tally(ballot, votes, electorate), None
    return counted.to_dict(), counted


# ---------------------------------------------------------------------------------------------
# What each kind of ballot decides.

Decision = Callable[[Records, dict, Mapping[str, Any], "counting.Tally | None", datetime], None]


def _carried(counted: counting.Tally | None) -> bool:
    return counted is not None and counted.outcome == counting.CARRIED


def seat_winners(
    tx: Records, ballot: dict, tally: Mapping[str, Any], _counted: Any, now: datetime
) -> None:
    """An election: the winners become the council's delegates, replacing the current ones
    (a by-election adds to them)."""
    subject = ballot["subject"]
    federation_id = subject["federation_id"]
    if not tally.get("winners"):
        return
    if not subject.get("by_election"):
        for d in tx.delegates(federation_id=federation_id, council_id=ballot["council_id"]):
            end_mandate(tx, d, "replaced", now)
    for name in tally["winners"]:
        account = tx.account_by_username(name)
        delegate_id = tx.add_delegate(
            {
                "federation_id": federation_id,
                "council_id": ballot["council_id"],
                "account_id": account["id"],
                "mandate": subject["mandate"],
                "election_ballot_id": ballot["id"],
                "elected_at": now,
            }
        )
        record(
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


#: A by-election after a recall: nominations for 3 days, then votes for 7 (or the council's
#: minimum ballot time, if longer).
BY_ELECTION_NOMINATION_DAYS = 3
BY_ELECTION_VOTING_DAYS = 7


def apply_recall(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """A recall carried by a majority of votes cast ends the mandate (and every right from it)
    and opens a by-election; otherwise the delegate keeps it."""
    recall_id = ballot["subject"]["recall_id"]
    if counted is None or not rules.recall_carried(counted):
        tx.set_recall_status(recall_id, "kept")
        record(tx, "recall.failed", {"recall_id": recall_id, "ballot_id": ballot["id"]}, now)
        return
    delegate = tx.delegate(ballot["subject"]["delegate_id"])
    end_mandate(tx, delegate, "recalled", now)
    council = tx.council(ballot["council_id"])
    opens_at = now + timedelta(days=BY_ELECTION_NOMINATION_DAYS)
    days = max(BY_ELECTION_VOTING_DAYS, council["min_ballot_days"])
    by_election = insert_ballot(
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
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=days),
        now=now,
    )
    tx.set_recall_status(recall_id, "recalled", by_election_ballot_id=by_election.id)
    record(
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


def fund_budget(
    tx: Records, ballot: dict, tally: Mapping[str, Any], _counted: Any, _now: datetime
) -> None:
    """A budget: the allocation by equal shares is the budget's result."""
    tx.set_budget_result(ballot["subject"]["budget_id"], tally)


def admit_applicants(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """An admission carried: each applicant still waiting becomes a member now; not carried:
    their applications are refused (they may ask again)."""
    for application_id in ballot["subject"]["application_ids"]:
        application = tx.application(application_id)
        if application is None or application["status"] != "pending":
            continue  # withdrawn, or admitted meanwhile by invitation
        if _carried(counted) and not tx.current_membership(
            application["council_id"], application["account_id"]
        ):
            admit_member(tx, application, now, how="decision")
        else:
            refuse_application(tx, application, now)


def affiliate_applicants(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """An affiliation carried by the federation's delegates: each applying council joins it."""
    for application_id in ballot["subject"]["application_ids"]:
        application = tx.application(application_id)
        if application is None or application["status"] != "pending":
            continue
        if _carried(counted) and not tx.affiliation(
            application["council_id"], application["applicant_council_id"]
        ):
            affiliate_council(tx, application, now, how="decision")
        else:
            refuse_application(tx, application, now)


def adopt_rules(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """A rules ballot carried: the council's rules change now."""
    if _carried(counted):
        change_rules(tx, ballot["council_id"], ballot["subject"]["rules"], ballot["id"], now)


DECIDES: dict[str, Decision] = {
    "election": seat_winners,
    "recall": apply_recall,
    "budget": fund_budget,
    "admission": admit_applicants,
    "affiliation": affiliate_applicants,
    "rules": adopt_rules,
    "period": open_period,
    "statement": adopt_statement,
    "adoption": adopt_plan,
    # A motion's ballot decides nothing by itself; a section's motion records its outcome.
    "motion": settle_section_motion,
}
