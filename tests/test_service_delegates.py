"""Delegates: elections with a mandate, weighted federation votes, and recall from below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from council_setup import change_rules, council_with_members
from councilplan.councils import service as s

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def setup_federation(store, sizes=(8, 3), weighted=True):
    """Councils of the given sizes (members since 37 days before T0, ballots of a day),
    affiliated to one federation by its rules: its founder admits the first, whose delegate
    puts the others to the federation's vote once the first has a week's standing there; each
    council elects one delegate (its first member), and the federation's ballots last a day.
    Every council's weight in a ballot opened at T0 is its size, derived from its members.
    Returns (federation, councils, members)."""
    n = sum(sizes)
    start = T0 - 40 * DAY
    ids = [
        s.register_account(
            store, username=f"p{i:02d}", display_name=f"P{i}", password_hash="h", now=start
        )
        for i in range(n)
    ]
    fed = s.create_council(
        store,
        name="Federation",
        kind="federation",
        founder_id=ids[0],
        weighted_votes=weighted,
        now=start,
    )
    councils, members, first = [], [], 0
    for k, size in enumerate(sizes):
        group = ids[first : first + size]
        first += size
        councils.append(
            council_with_members(
                store, group[0], group[1:], name=f"Council {k}", at=T0 - 10 * DAY, min_ballot_days=1
            )
        )
        members.append(group)
    t = T0 - 26 * DAY
    asked = [
        s.apply_for_affiliation(
            store, federation_id=fed.id, council_id=c.id, actor_id=g[0], now=t
        ).id
        for c, g in zip(councils, members, strict=True)
    ]
    s.admit_first_council(store, application_id=asked[0], actor_id=ids[0], now=t)
    elect(store, fed, councils[0], members[0], 0, t)
    if len(councils) > 1:
        t = T0 - 19 * DAY
        admit = s.open_admission(
            store,
            council_id=fed.id,
            opened_by=members[0][0],
            application_ids=asked[1:],
            closes_at=t + 3 * DAY,
            now=t,
        )
        s.cast_vote(store, ballot_id=admit.id, voter_id=members[0][0], choice="yes", now=t)
        t += 3 * DAY
        assert s.close_ballot(store, ballot_id=admit.id, now=t).tally["outcome"] == "carried"
        for k in range(1, len(councils)):
            elect(store, fed, councils[k], members[k], k, t)
    change_rules(store, fed.id, [members[0][0]], T0 - 15 * DAY, min_ballot_days=1)
    return fed, councils, members


def elect(store, fed, council, group, k, when):
    """Council ``k`` elects its first member as its delegate (a ballot of a day)."""
    b = s.open_election(
        store,
        council_id=council.id,
        federation_id=fed.id,
        opened_by=group[0],
        candidates=group[:2],
        mandate=f"Mandate of council {k}",
        closes_at=when + DAY,
        now=when,
    )
    for a in group:
        s.cast_vote(
            store,
            ballot_id=b.id,
            voter_id=a,
            choice=[f"p{group[0] - 1:02d}", f"p{group[1] - 1:02d}"],
            now=when,
        )
    s.close_ballot(store, ballot_id=b.id, now=when + DAY)


def test_election_seats_the_winner_with_the_mandate(council_store):
    fed, councils, members = setup_federation(council_store)
    current = s.delegates(council_store, federation_id=fed.id)
    assert [(d.council_id, d.account_id) for d in current] == [
        (councils[0].id, members[0][0]),
        (councils[1].id, members[1][0]),
    ]
    assert current[0].mandate == "Mandate of council 0"
    # a federation's members are its delegates; nobody joins it directly
    with pytest.raises(s.Refused) as err:
        s.join_council(council_store, council_id=fed.id, account_id=members[0][3])
    assert err.value.reason == "federation_has_delegates"


def test_several_seats_are_elected_by_stv(council_store):
    ids = [
        s.register_account(
            council_store, username=f"v{i}", display_name="V", password_hash="h", now=T0
        )
        for i in range(9)
    ]
    fed = s.create_council(council_store, name="F", kind="federation", founder_id=ids[0], now=T0)
    c = council_with_members(
        council_store, ids[0], ids[1:], name="C", kind="consumer", at=T0, min_ballot_days=1
    )
    asked = s.apply_for_affiliation(
        council_store, federation_id=fed.id, council_id=c.id, actor_id=ids[0], seats=2, now=T0
    )
    s.admit_first_council(council_store, application_id=asked.id, actor_id=ids[0], now=T0)
    b = s.open_election(
        council_store,
        council_id=c.id,
        federation_id=fed.id,
        opened_by=ids[0],
        candidates=ids[:3],
        mandate="M",
        closes_at=T0 + DAY,
        now=T0,
    )
    assert b.rule == "stv" and b.seats == 2
    for i, a in enumerate(ids):
        s.cast_vote(
            council_store,
            ballot_id=b.id,
            voter_id=a,
            choice=["v0", "v1"] if i < 5 else ["v2", "v1"],
            now=T0,
        )
    s.close_ballot(council_store, ballot_id=b.id, now=T0 + DAY)
    elected = {d.account_id for d in s.delegates(council_store, federation_id=fed.id)}
    assert elected == {ids[0], ids[2]}


def test_federation_votes_carry_each_councils_weight(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(8, 3))
    big, small = members[0][0], members[1][0]
    b = s.open_ballot(
        council_store,
        council_id=fed.id,
        opened_by=small,
        title="New line",
        rule="yes_no",
        closes_at=T0 + 3 * DAY,
        now=T0 + 2 * DAY,
    )
    assert (
        s.cast_vote(
            council_store, ballot_id=b.id, voter_id=big, choice="no", now=T0 + 2 * DAY
        ).weight
        == 8
    )
    s.cast_vote(council_store, ballot_id=b.id, voter_id=small, choice="yes", now=T0 + 2 * DAY)
    tally = s.close_ballot(council_store, ballot_id=b.id, now=T0 + 3 * DAY).tally
    assert tally["counts"]["no"] == 8 and tally["counts"]["yes"] == 3
    assert tally["outcome"] == "defeated"
    # ordinary members of a sending council do not act in the federation
    with pytest.raises(s.Refused) as err:
        s.table_motion(
            council_store,
            council_id=fed.id,
            member_id=members[0][3],
            title="T",
            text="x",
            now=T0 + 3 * DAY,
        )
    assert err.value.reason == "not_a_current_delegate"
    with pytest.raises(s.Invalid) as err:
        s.open_ballot(
            council_store,
            council_id=fed.id,
            opened_by=small,
            title="Q",
            rule="yes_no",
            secret=True,
            closes_at=T0 + 9 * DAY,
            now=T0 + 3 * DAY,
        )
    assert err.value.field == "secret"


def test_recall_succeeds_and_the_delegates_next_federation_vote_is_refused(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(8, 3))
    council, group = councils[0], members[0]
    delegate = s.delegates(council_store, council_id=council.id)[0]
    t = T0 + 2 * DAY
    fed_ballot = s.open_ballot(
        council_store,
        council_id=fed.id,
        opened_by=members[1][0],
        title="Plan variant B",
        rule="yes_no",
        closes_at=t + 5 * DAY,
        now=t,
    )
    # outsiders cannot open a recall; only the sending council's members can
    with pytest.raises(s.Refused) as err:
        s.open_recall(
            council_store, delegate_id=delegate.id, member_id=members[1][1], reason="x", now=t
        )
    assert err.value.reason == "not_a_member"
    recall = s.open_recall(
        council_store,
        delegate_id=delegate.id,
        member_id=group[5],
        reason="Voted against the mandate",
        now=t,
    )
    assert (recall.status, recall.support, recall.needed) == ("collecting", 1, 2)
    recall = s.support_recall(council_store, recall_id=recall.id, member_id=group[6], now=t)
    assert recall.status == "balloting"
    ballot_id = recall.ballot_id
    with pytest.raises(s.Conflict):
        s.support_recall(council_store, recall_id=recall.id, member_id=group[7], now=t)
    # The delegate still acts until the recall is decided.
    s.cast_vote(council_store, ballot_id=fed_ballot.id, voter_id=members[1][0], choice="yes", now=t)
    for a in group[3:8]:  # 5 of 8: a majority of the whole council, decided at once
        s.cast_vote(
            council_store, ballot_id=ballot_id, voter_id=a, choice="yes", now=t + timedelta(hours=1)
        )
    assert s.get_ballot(council_store, ballot_id).status == "closed"
    assert s.get_recall(council_store, recall.id).status == "recalled"
    ended = s.delegates(council_store, council_id=council.id, current=False)[0]
    assert ended.end_reason == "recalled"
    assert ended.ended_at == t + timedelta(hours=1)
    with pytest.raises(s.Refused) as err:
        s.cast_vote(
            council_store,
            ballot_id=fed_ballot.id,
            voter_id=group[0],
            choice="no",
            now=t + timedelta(hours=2),
        )
    assert err.value.reason == "not_a_current_delegate"
    # A by-election opens for the seat; members nominate, then vote.
    by_election = s.get_recall(council_store, recall.id).by_election_ballot_id
    b = s.nominate(
        council_store,
        ballot_id=by_election,
        member_id=group[5],
        candidate_id=group[5],
        now=t + 2 * DAY,
    )
    s.nominate(
        council_store,
        ballot_id=by_election,
        member_id=group[5],
        candidate_id=group[6],
        now=t + 2 * DAY,
    )
    for a in group:
        s.cast_vote(
            council_store,
            ballot_id=b.id,
            voter_id=a,
            choice=[f"p{group[6] - 1:02d}"],
            now=t + 4 * DAY,
        )
    s.close_ballot(council_store, ballot_id=b.id, now=t + 11 * DAY)
    (new,) = s.delegates(council_store, council_id=council.id)
    assert new.account_id == group[6] and new.mandate == "Mandate of council 0"
    assert council_store.verify_audit().ok


def test_a_recall_the_council_votes_down_keeps_the_delegate(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(4, 3))
    group = members[0]
    delegate = s.delegates(council_store, council_id=councils[0].id)[0]
    t = T0 + 2 * DAY
    recall = s.open_recall(
        council_store, delegate_id=delegate.id, member_id=group[1], reason="r", now=t
    )
    assert recall.status == "balloting"  # 1 of 4 is a quarter
    for i, a in enumerate(group):
        s.cast_vote(
            council_store,
            ballot_id=recall.ballot_id,
            voter_id=a,
            choice="yes" if i == 1 else "no",
            now=t,
        )
    s.close_ballot(council_store, ballot_id=recall.ballot_id, now=t + 7 * DAY)
    assert s.get_recall(council_store, recall.id).status == "kept"
    assert s.delegates(council_store, council_id=councils[0].id)[0].id == delegate.id


def test_a_delegate_who_leaves_their_council_loses_the_mandate(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(3, 3))
    s.leave_council(
        council_store, council_id=councils[0].id, account_id=members[0][0], now=T0 + 2 * DAY
    )
    assert s.delegates(council_store, council_id=councils[0].id) == []


def test_a_by_election_nobody_stands_in_closes_void(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(4, 3))
    group = members[0]
    delegate = s.delegates(council_store, council_id=councils[0].id)[0]
    t = T0 + 2 * DAY
    recall = s.open_recall(
        council_store, delegate_id=delegate.id, member_id=group[1], reason="r", now=t
    )
    for a in group[1:]:
        s.cast_vote(council_store, ballot_id=recall.ballot_id, voter_id=a, choice="yes", now=t)
    by_election = s.get_recall(council_store, recall.id).by_election_ballot_id
    closed = s.close_ballot(council_store, ballot_id=by_election, now=t + 11 * DAY)
    assert closed.tally["outcome"] == "void" and closed.tally["winners"] == []
    assert s.delegates(council_store, council_id=councils[0].id) == []
    assert s.recount(council_store, by_election).matches


def commission_of(store, fed, council, workplace, planning, per_side):
    """A commission between ``council`` and ``fed`` with the given seat holders."""
    c = s.create_commission(
        store,
        name="Rates",
        workplace_council_id=council.id,
        federation_id=fed.id,
        actor_id=workplace[0],
        seats_per_side=per_side,
        now=T0 + DAY,
    )
    for side, holders in (("workplace", workplace), ("planning", planning)):
        for a in holders:
            s.take_commission_seat(store, commission_id=c.id, account_id=a, side=side, now=T0 + DAY)
    return c


def test_one_commissioner_cannot_decide_for_all_nor_sit_on_her_own_case(council_store):
    """Issue 12, "Capture": each seat votes for itself, and a party does not sit."""
    fed, councils, members = setup_federation(council_store, sizes=(3, 3))
    worker, other = members[1][1], members[1][2]
    d0, d1 = members[0][0], members[1][0]  # the councils' delegates to the federation
    c = commission_of(council_store, fed, councils[1], [worker, other], [d0, d1], 2)
    t = T0 + 2 * DAY
    d = s.file_dispute(
        council_store,
        commission_id=c.id,
        filer_id=worker,
        subject="work_norm",
        target="bread",
        current_hours="1/2",
        claimed_hours="3/4",
        now=t,
    )
    assert d.commission == s.DisputeSeats(
        workplace_seats=(str(other),), federation_seats=(str(d0),)
    )
    assert d.excluded == (str(worker),)
    did = d.dispute_id
    s.hear_dispute(council_store, dispute_id=did, actor_id=other, present=[other, d0], now=t)
    with pytest.raises(TypeError):  # no map of everybody's votes any more
        s.decide_dispute(
            council_store,
            dispute_id=did,
            actor_id=other,
            hours="3/4",
            votes={other: "yes", d0: "yes"},
            now=t,
        )
    with pytest.raises(s.Refused) as err:  # the worker is a party: she does not sit
        s.decide_dispute(
            council_store, dispute_id=did, actor_id=worker, hours="3/4", vote="yes", now=t
        )
    assert err.value.reason == "not_a_commissioner" and "party" in err.value.message
    one = s.decide_dispute(
        council_store, dispute_id=did, actor_id=other, hours="3/4", vote="yes", now=t
    )
    assert one.state == "heard" and one.votes == ((str(other), "3/4", "yes"),)
    both = s.decide_dispute(
        council_store, dispute_id=did, actor_id=d0, hours="3/4", vote="yes", now=t
    )
    assert both.state == "decided" and both.decision.effect.hours == "3/4"
    # The council files: its own delegate d1 is a party and does not sit for the federation.
    d = s.file_dispute(
        council_store,
        commission_id=c.id,
        filer_id=other,
        subject="recorded_hours",
        target="shift-1",
        worker_id=worker,
        for_council=True,
        current_hours=6,
        claimed_hours=7,
        now=t,
    )
    assert d.commission.federation_seats == (str(d0),)
    assert sorted(d.excluded) == sorted([str(worker), str(d1)])


def test_a_recalled_delegate_loses_her_commission_seat_at_once(council_store):
    """Issue 12: the mandate's end ends the commission seat that came from it."""
    fed, councils, members = setup_federation(council_store, sizes=(3, 3))
    d0 = members[0][0]
    c = commission_of(council_store, fed, councils[1], [members[1][1]], [d0], 1)
    t = T0 + 2 * DAY
    d = s.file_dispute(
        council_store,
        commission_id=c.id,
        filer_id=members[1][2],
        subject="work_norm",
        target="bread",
        current_hours="1/2",
        claimed_hours="3/4",
        now=t,
    )
    did = d.dispute_id
    s.hear_dispute(council_store, dispute_id=did, actor_id=d0, present=[members[1][1], d0], now=t)
    s.decide_dispute(council_store, dispute_id=did, actor_id=d0, hours="1/2", vote="yes", now=t)
    delegate = s.delegates(council_store, council_id=councils[0].id)[0]
    recall = s.open_recall(
        council_store, delegate_id=delegate.id, member_id=members[0][1], reason="r", now=t
    )
    for a in members[0][1:]:
        s.cast_vote(council_store, ballot_id=recall.ballot_id, voter_id=a, choice="yes", now=t)
    assert s.get_recall(council_store, recall.id).status == "recalled"
    with pytest.raises(s.Refused) as err:
        s.decide_dispute(council_store, dispute_id=did, actor_id=d0, hours="1/2", vote="yes", now=t)
    assert err.value.reason == "seat_ended" and "vacant" in err.value.message
    view = s.get_dispute(council_store, dispute_id=did, viewer_id=members[1][1])
    assert view.vacant == (str(d0),) and view.votes == ()  # her earlier vote is struck
    with council_store.transaction() as tx:
        assert tx.commission_seats(c.id, side="planning") == []
    # The one seat left cannot decide alone.
    one = s.decide_dispute(
        council_store, dispute_id=did, actor_id=members[1][1], hours="1/2", vote="yes", now=t
    )
    assert one.state == "heard"


def test_leaving_the_council_ends_the_commission_seats(council_store):
    fed, councils, members = setup_federation(council_store, sizes=(3, 3))
    d0 = members[0][0]
    c = commission_of(council_store, fed, councils[1], [members[1][1]], [d0], 1)
    s.leave_council(council_store, council_id=councils[0].id, account_id=d0, now=T0 + 2 * DAY)
    s.leave_council(
        council_store, council_id=councils[1].id, account_id=members[1][1], now=T0 + 2 * DAY
    )
    with council_store.transaction() as tx:
        assert tx.commission_seats(c.id) == []
