"""Councils, membership, motions and ballots through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from council_setup import admit, council_with_members
from councilplan.councils import service as s

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def people(store, *names, password_hash="h", now=T0):
    return [
        s.register_account(
            store, username=n, display_name=n.title(), password_hash=password_hash, now=now
        )
        for n in names
    ]


def workplace(store, founder, others=(), name="Bakery", now=T0):
    """A council whose members have the standing to vote at ``now``, with ballots of a day."""
    return council_with_members(store, founder, others, name=name, at=now, min_ballot_days=1)


def test_council_membership_is_recorded_with_dates(council_store):
    ada, bea = people(council_store, "ada", "bea")
    council = workplace(council_store, ada, [bea])
    rows = s.members(council_store, council.id)
    assert [r.account_id for r in rows] == [ada, bea]
    left = s.leave_council(
        council_store, council_id=council.id, account_id=bea, now=T0 + timedelta(days=3)
    )
    assert left.left_at == T0 + timedelta(days=3)
    assert [r.account_id for r in s.members(council_store, council.id)] == [ada]
    assert len(s.members(council_store, council.id, current=False)) == 2
    # a person can belong to several councils
    hood = s.create_council(
        council_store, name="Riverside", kind="consumer", founder_id=bea, now=T0
    )
    admit(council_store, hood.id, bea, [ada], T0)
    assert len(s.members(council_store, hood.id)) == 2
    with pytest.raises(s.Conflict) as err:
        s.join_council(council_store, council_id=hood.id, account_id=ada, now=T0)
    assert err.value.reason == "already_a_member"


def test_bad_inputs_are_refused_naming_the_field(council_store):
    (ada,) = people(council_store, "ada")
    with pytest.raises(s.Invalid) as err:
        s.create_council(council_store, name="X", kind="guild", founder_id=ada)
    assert err.value.field == "kind"
    with pytest.raises(s.Invalid) as err:
        s.create_council(
            council_store, name="X", kind="workplace", founder_id=ada, recall_share="2/1"
        )
    assert err.value.field == "recall_share"
    with pytest.raises(s.NotFound) as err:
        s.join_council(council_store, council_id=999, account_id=ada)
    assert err.value.field == "council_id"
    with pytest.raises(s.Conflict):
        s.register_account(council_store, username="ada", display_name="A", password_hash="h")
    assert s.list_councils(council_store) == []  # nothing half-written


def test_members_vote_once_and_the_tally_can_be_recounted(council_store):
    ada, bea, cai, dan = people(council_store, "ada", "bea", "cai", "dan")
    council = workplace(council_store, ada, [bea, cai])
    motion = s.table_motion(
        council_store,
        council_id=council.id,
        member_id=bea,
        title="Four-day week",
        text="We work four days.",
        now=T0,
    )
    s.amend_motion(council_store, motion_id=motion.id, member_id=cai, text="From June.", now=T0)
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=bea,
        title="Four-day week",
        rule="yes_no",
        motion_id=motion.id,
        closes_at=T0 + timedelta(days=2),
        now=T0 + timedelta(hours=1),
    )
    later = T0 + timedelta(hours=2)
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ada, choice="yes", now=later)
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=bea, choice="yes", now=later)
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=cai, choice="no", now=later)
    with pytest.raises(s.Conflict) as err:
        s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ada, choice="no", now=later)
    assert err.value.reason == "already_voted"
    with pytest.raises(s.Refused) as err:
        s.cast_vote(council_store, ballot_id=ballot.id, voter_id=dan, choice="yes", now=later)
    assert err.value.reason == "not_a_member"
    with pytest.raises(s.Invalid) as err:
        s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ada, choice="maybe", now=later)
    assert err.value.field == "choice"
    with pytest.raises(s.Conflict) as err:
        s.close_ballot(council_store, ballot_id=ballot.id, now=later)
    assert err.value.reason == "ballot_still_open"
    closed = s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=2))
    assert closed.status == "closed"
    assert closed.tally["outcome"] == "carried"
    assert closed.tally["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert s.recount(council_store, ballot.id).matches
    assert s.participation(council_store, ballot.id) == sorted([ada, bea, cai])
    assert [v.account_id for v in s.open_votes(council_store, ballot.id)] == sorted([ada, bea, cai])
    with pytest.raises(s.Conflict) as err:
        s.cast_vote(
            council_store,
            ballot_id=ballot.id,
            voter_id=ada,
            choice="yes",
            now=T0 + timedelta(days=1),
        )
    assert err.value.reason == "ballot_closed"
    assert council_store.verify_audit().ok


def test_a_member_who_joined_after_the_ballot_opened_waits_for_the_next(council_store):
    ada, bea = people(council_store, "ada", "bea")
    council = workplace(council_store, ada)
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ada,
        title="Q",
        rule="approval",
        options=["a", "b", "c"],
        closes_at=T0 + timedelta(days=3),
        now=T0,
    )
    joined = admit(council_store, council.id, ada, [bea], T0 + timedelta(hours=1))
    with pytest.raises(s.Refused) as err:
        s.cast_vote(
            council_store,
            ballot_id=ballot.id,
            voter_id=bea,
            choice=["a"],
            now=joined + timedelta(hours=1),
        )
    assert err.value.reason == "joined_after_ballot_opened"


def test_schulze_and_qualified_majority(council_store):
    ids = people(council_store, *"abcde")
    council = workplace(council_store, ids[0], ids[1:])
    ranked = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Site",
        rule="schulze",
        options=["north", "south", "east"],
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    for i, a in enumerate(ids):
        order = ["south", "north", "east"] if i < 3 else ["east", "north", "south"]
        s.cast_vote(council_store, ballot_id=ranked.id, voter_id=a, choice=order, now=T0)
    tally = s.close_ballot(council_store, ballot_id=ranked.id, now=T0 + timedelta(days=1)).tally
    assert tally["winners"] == ["south"]
    qualified = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Change the statutes",
        rule="yes_no",
        majority="2/3",
        closes_at=T0 + timedelta(days=3),
        now=T0 + timedelta(days=2),
    )
    for i, a in enumerate(ids):
        s.cast_vote(
            council_store,
            ballot_id=qualified.id,
            voter_id=a,
            choice="yes" if i < 3 else "no",
            now=T0 + timedelta(days=2),
        )
    tally = s.close_ballot(council_store, ballot_id=qualified.id, now=T0 + timedelta(days=3)).tally
    assert tally["outcome"] == "defeated"  # 3 of 5 is short of two thirds


def test_quorum_is_a_share_of_the_electorate(council_store):
    ids = people(council_store, *"abcd")
    council = workplace(council_store, ids[0], ids[1:])
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Q",
        rule="yes_no",
        quorum="1/2",
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ids[0], choice="yes", now=T0)
    closed = s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    assert closed.electorate == 4
    assert closed.tally["outcome"] == "no quorum"


def test_secret_ballot_keeps_choices_off_the_record_of_who_voted(council_store):
    ids = people(council_store, *"abcdefgh")
    council = workplace(council_store, ids[0], ids[1:])
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Q",
        rule="yes_no",
        secret=True,
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    for i, a in enumerate(ids):
        s.cast_vote(
            council_store,
            ballot_id=ballot.id,
            voter_id=a,
            choice=["yes", "no", "abstain"][i % 3],
            now=T0 + timedelta(minutes=i),
        )
    with pytest.raises(s.Refused) as err:
        s.open_votes(council_store, ballot.id)
    assert err.value.reason == "secret_ballot"
    voted = [
        e
        for e in council_store.audit_entries()
        if e.kind == "ballot.voted" and e.payload["ballot_id"] == ballot.id
    ]
    assert len(voted) == 8 and all("choice" not in e.payload for e in voted)
    s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    assert s.recount(council_store, ballot.id).matches


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    attempts=st.lists(
        st.tuples(st.integers(0, 9), st.sampled_from(["yes", "no", "abstain"])), max_size=25
    )
)
def test_one_member_one_vote_whatever_the_attempts(council_store, attempts):
    # One store for all examples (a new ballot each): members 0-5, outsiders 6-9.
    if not s.list_councils(council_store):
        ids = people(council_store, *[f"x{i}" for i in range(10)])
        workplace(council_store, ids[0], ids[1:6])
    council = s.list_councils(council_store)[0]
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=1,
        title="Q",
        rule="yes_no",
        secret=True,
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    first: dict[int, str] = {}
    for who, choice in attempts:
        try:
            s.cast_vote(council_store, ballot_id=ballot.id, voter_id=who + 1, choice=choice, now=T0)
            first[who] = choice
        except s.Refused as refused:
            assert refused.reason in ("already_voted", "not_a_member")
            assert who in first or who >= 6
    assert set(first) == {w for w, _ in attempts if w < 6}
    assert s.participation(council_store, ballot.id) == sorted(w + 1 for w in first)
    tally = s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1)).tally
    for option in ("yes", "no", "abstain"):
        assert tally["counts"][option] == sum(c == option for c in first.values())


def test_due_ballots_are_closed_by_the_scheduler(council_store):
    ids = people(council_store, "ada", "bea")
    council = workplace(council_store, ids[0], ids[1:])
    soon = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="A",
        rule="yes_no",
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    later = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="B",
        rule="yes_no",
        closes_at=T0 + timedelta(days=3),
        now=T0,
    )
    assert s.close_due_ballots(council_store, now=T0 + timedelta(days=1)) == [soon.id]
    assert s.get_ballot(council_store, soon.id).status == "closed"
    assert s.get_ballot(council_store, later.id).status == "open"
    assert s.close_due_ballots(council_store, now=T0 + timedelta(days=1)) == []
