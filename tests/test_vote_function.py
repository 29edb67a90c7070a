"""PostgreSQL's one-call vote (``councilplan_cast_vote``, migration 0006) against the service's
general path: for every case, the function accepts exactly the votes the general path accepts,
stores them the same way, and writes nothing when it refuses."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from council_setup import admit, council_with_members
from councilplan.councils import service as s
from test_service_delegates import setup_federation

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OPTIONS = ["Zed", "apple", "Äpfel", "é", "e", "banana"]  # code-point order differs from locale


@pytest.fixture
def pg_store(council_store):
    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("the one-call vote is PostgreSQL's; SQLite always takes the general path")
    return council_store


class GeneralPath:
    """The same database without the one-call vote: cast_vote takes its general path."""

    def __init__(self, store):
        self.transaction = store.transaction


def general(store, ballot_id, voter, choice, now):
    try:
        receipt = s.cast_vote(
            GeneralPath(store), ballot_id=ballot_id, voter_id=voter, choice=choice, now=now
        )
    except s.Refused as refusal:
        return None, refusal.reason
    return receipt.weight, None


def quick(store, ballot_id, voter, choice, now):
    before = written(store)
    (done,) = asyncio.run(_cast_together(store, [(ballot_id, voter, choice)], now))
    if isinstance(done, Exception):
        raise done
    if done is None:
        assert written(store) == before, "a refused vote wrote something"
        return None
    return done.weight


async def _cast_together(store, votes, now=T0):
    """``votes`` (ballot, voter, choice) all at once through the one-call vote (the store's
    async path), so that they go in one batch; each one's QuickVote, None (refused) or
    exception."""
    await store.open_async()
    try:
        return await asyncio.gather(
            *(
                store.quick_vote_async(
                    ballot_id=b, voter_id=v, choice=c, now=now, recorded_at=now.isoformat()
                )
                for b, v, c in votes
            ),
            return_exceptions=True,
        )
    finally:
        await store.close_async()


def written(store):
    with store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("ballot_participation", "votes", "open_votes", "audit_pending", "audit_log")
        )


def stored_choices(store, ballot_id):
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT choice, weight FROM votes WHERE ballot_id = :b"), {"b": ballot_id}
        )
        return sorted((json.dumps(choice), weight) for choice, weight in rows)


def voted_payloads(store, ballot_id):
    store.seal_audit()
    return sorted(
        # The commitment to each vote's state differs by its salt; the states themselves are
        # checked against the tables by verify_record.
        json.dumps(
            {k: v for k, v in e.payload.items() if k not in ("ballot_id", "state_sha256")},
            sort_keys=True,
        )
        for e in store.audit_entries()
        if e.kind == "ballot.voted" and e.payload["ballot_id"] == ballot_id
    )


def open_ballots(store, council, opener, n, closes_at=T0 + DAY, **kw):
    """``n`` identical open ballots (ids), closing a day after T0."""
    return [
        s.open_ballot(
            store,
            council_id=council.id,
            opened_by=opener,
            title=f"Q{i}",
            closes_at=closes_at,
            now=T0,
            **kw,
        ).id
        for i in range(n)
    ]


def twins(store, council, opener, **kw):
    """Two identical open ballots: one for each path."""
    return open_ballots(store, council, opener, 2, **kw)


def agree(store, pair, voter, choice, now=T0):
    q, g = pair
    quick_weight = quick(store, q, voter, choice, now)
    general_weight, reason = general(store, g, voter, choice, now)
    assert quick_weight == general_weight, f"{choice!r} by {voter}: general path says {reason}"
    assert stored_choices(store, q) == stored_choices(store, g)
    assert voted_payloads(store, q) == voted_payloads(store, g)
    assert store.verify_record().ok, store.verify_record().message
    return reason


@pytest.fixture
def town(pg_store):
    ids = [
        s.register_account(pg_store, username=f"v{i}", display_name="V", password_hash="h", now=T0)
        for i in range(4)
    ]
    council = council_with_members(
        pg_store, ids[0], ids[1:3], name="Works", at=T0, min_ballot_days=1
    )
    return pg_store, council, ids


def test_standing_and_time_are_checked_alike(town):
    store, council, (a, b, c, outsider) = town
    secret = twins(store, council, a, closes_at=T0 + 3 * DAY, rule="yes_no", secret=True)
    assert agree(store, secret, a, "yes") is None
    assert agree(store, secret, a, "no") == "already_voted"
    assert agree(store, secret, outsider, "yes") == "not_a_member"
    assert agree(store, secret, b, "yes", now=T0 - timedelta(minutes=1)) == "ballot_not_open"
    assert agree(store, secret, b, "yes", now=T0 + 3 * DAY) == "ballot_closed"
    joined = admit(store, council.id, a, [outsider], T0 + timedelta(hours=1))
    late = joined + timedelta(hours=1)
    assert agree(store, secret, outsider, "yes", now=late) == "joined_after_ballot_opened"
    s.leave_council(store, council_id=council.id, account_id=c, now=late)
    assert agree(store, secret, c, "yes", now=late) == "not_a_member"
    public = twins(store, council, a, rule="yes_no", secret=False)
    assert agree(store, public, b, "abstain") is None  # open: the voter's choice on record too


def test_federation_delegates_vote_with_their_councils_weight(pg_store):
    fed, councils, members = setup_federation(pg_store)  # weights 8 and 3
    pair = twins(pg_store, fed, members[0][0], rule="yes_no", secret=False)
    assert agree(pg_store, pair, members[0][0], "yes") is None
    assert agree(pg_store, pair, members[1][0], "no") is None
    assert agree(pg_store, pair, members[0][1], "no") == "not_a_current_delegate"
    assert stored_choices(pg_store, pair[0]) == [('"no"', 3), ('"yes"', 8)]


@pytest.mark.parametrize("rule", ["approval", "schulze"])
@given(
    choice=st.one_of(
        st.lists(st.sampled_from([*OPTIONS, "not an option"]), max_size=5),
        st.sampled_from(["yes", "apple", ""]),
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_choices_are_checked_and_stored_alike(town, rule, choice):
    store, council, (a, *_) = town
    pair = twins(store, council, a, rule=rule, options=OPTIONS, secret=False)
    reason = agree(store, pair, a, choice)
    assert (reason is None) == (
        isinstance(choice, list)
        and len(set(choice)) == len(choice)
        and set(choice) <= set(OPTIONS)
        and (bool(choice) or rule == "approval")
    )


def race(store, ballot_id, voters):
    """Every voter votes (the one-call vote, in one go on an event loop) while the ballot is
    closed in a thread; (accepted, refused)."""

    async def votes_and_close():
        await store.open_async()
        try:
            closing = asyncio.create_task(asyncio.to_thread(close))
            outcomes = await asyncio.gather(
                *(
                    store.quick_vote_async(
                        ballot_id=ballot_id,
                        voter_id=voter,
                        choice="yes",
                        now=T0,
                        recorded_at=T0.isoformat(),
                    )
                    for voter in voters
                )
            )
            await closing
            return outcomes
        finally:
            await store.close_async()

    def close():
        time.sleep(0.005)  # a close among the votes, not before them all
        s.close_ballot(store, ballot_id=ballot_id, now=T0 + DAY)

    outcomes = asyncio.run(votes_and_close())
    accepted = [v for v, o in zip(voters, outcomes, strict=True) if o is not None]
    refused = [v for v, o in zip(voters, outcomes, strict=True) if o is None]
    for voter in refused:
        assert general(store, ballot_id, voter, "yes", T0) == (None, "ballot_closed")
    return accepted, refused


def test_a_close_racing_votes_counts_every_vote_it_let_in(town):
    """Votes in flight when a ballot closes: each one is either refused as closed or stored
    and counted; none is stored but left out of the tally."""
    store, council, ids = town
    voters = [
        s.register_account(store, username=f"r{i}", display_name="R", password_hash="h", now=T0)
        for i in range(40)
    ]
    admit(store, council.id, ids[0], voters, T0 - 10 * DAY)  # members with standing at T0
    for round_ in range(4):
        ballot = s.open_ballot(
            store,
            council_id=council.id,
            opened_by=ids[0],
            title=f"Race {round_}",
            rule="yes_no",
            secret=round_ % 2 == 1,
            closes_at=T0 + DAY,
            now=T0,
        )
        accepted, refused = race(store, ballot.id, voters)
        closed = s.get_ballot(store, ballot.id)
        assert len(accepted) + len(refused) == len(voters)
        assert closed.tally["ballots_cast"] == len(accepted)
        assert sorted(s.participation(store, ballot.id)) == sorted(accepted)
        assert s.recount(store, ballot.id).matches


# -- votes awaited on an event loop: cast and chained in batches (PostgresStore.quick_vote_async)


def test_a_batch_of_votes_is_decided_vote_by_vote(town):
    """One batch with votes accepted, refused and doubled: each gets its own outcome, as
    alone; every accepted vote is chained, each at its own place in the log."""
    store, council, ids = town
    q, r = twins(store, council, ids[0], rule="approval", options=OPTIONS)
    votes = [
        (q, ids[1], ["apple", "Zed"]),
        (q, ids[2], ["banana"]),
        (q, ids[2], ["e"]),  # a second vote by the same member, in the same batch
        (q, ids[3], ["apple"]),  # not a member
        (q, ids[0], ["nope"]),  # no such option
        (r, ids[0], []),
    ]
    outcomes = asyncio.run(_cast_together(store, votes))
    accepted = [o for o in outcomes if o is not None]
    assert [o is None for o in outcomes] == [False, False, True, True, True, False]
    assert all(isinstance(o, s.QuickVote) for o in accepted)
    assert len({o.audit_seq for o in accepted}) == 3
    assert stored_choices(store, q) == sorted(
        [(json.dumps(["Zed", "apple"]), 1), (json.dumps(["banana"]), 1)]
    )
    assert written(store)[3] == 0  # nothing left staged: chained in the batch's transaction
    assert store.verify_audit().ok


def test_a_batch_that_fails_is_retried_vote_by_vote(town):
    """A vote that makes the batch's statement fail (here an id past PostgreSQL's integer) gets
    the error; the others in its batch are cast alone and stored."""
    store, council, ids = town
    q, _ = twins(store, council, ids[0], rule="yes_no")
    votes = [(q, ids[1], "yes"), (q, 2**40, "no"), (q, ids[2], "no")]
    outcomes = asyncio.run(_cast_together(store, votes))
    assert isinstance(outcomes[0], s.QuickVote) and isinstance(outcomes[2], s.QuickVote)
    assert isinstance(outcomes[1], Exception)
    assert stored_choices(store, q) == [('"no"', 1), ('"yes"', 1)]
    assert store.verify_audit().ok


def test_votes_one_after_another_are_each_answered(town):
    """Each vote awaited after the last was answered (a runner that has just finished must not
    leave the next vote waiting); a minute's timeout turns a hang into a failure."""
    store, council, ids = town
    ballots = open_ballots(store, council, ids[0], 5, rule="yes_no")

    async def one_by_one():
        await store.open_async()
        try:
            async with asyncio.timeout(60):  # no task of its own: the timing as in a request
                return [
                    await store.quick_vote_async(
                        ballot_id=b, voter_id=ids[1], choice="yes", now=T0, recorded_at="t"
                    )
                    for b in ballots
                ]
        finally:
            await store.close_async()

    assert all(isinstance(v, s.QuickVote) for v in asyncio.run(one_by_one()))
