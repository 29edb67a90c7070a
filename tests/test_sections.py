"""Sections of a council, replayed as their adversaries would try them: a non-member joining,
the council dissolving a section or outvoting it by joining en masse, a council letting a
section's motion lie past its deadline, someone tabling for a section without its mandate, an
operator editing a section behind the record's back. Each attack fails with a named reason
and writes nothing; the record shows what became of every motion. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from council_setup import change_rules, council_with_members
from councilplan.councils import service as s
from councilplan.councils.service import sections as sec

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _accounts(store, *names):
    return {
        n: s.register_account(
            store, username=n, display_name=n.title(), password_hash="x", now=T0 - 60 * DAY
        )
        for n in names
    }


def _refused(store, reason, act, **kwargs):
    before = store.audit_head()
    with pytest.raises(s.Refused) as caught:
        act(store, **kwargs)
    assert caught.value.reason == reason, caught.value.message
    assert store.audit_head() == before, "a refused act wrote to the record"
    return caught.value


@pytest.fixture
def works(council_store):
    """A workplace of six (ada founds it) and a stranger; ballots last a day."""
    store = council_store
    people = _accounts(store, "ada", "bea", "cat", "dot", "eve", "fay", "stranger")
    council = council_with_members(
        store,
        people["ada"],
        [people[n] for n in ("bea", "cat", "dot", "eve", "fay")],
        name="Works",
        at=T0,
        min_ballot_days=1,
    )
    return store, council, people


def _section_with_delegate(store, council, people, names=("ada", "bea", "cat")):
    """A section of ``names`` (founded 10 days before T0) with ``names[0]`` elected delegate."""
    founded = T0 - 10 * DAY
    section = sec.create_section(
        store,
        council_id=council.id,
        founder_id=people[names[0]],
        name="Women workers",
        purpose="childcare at the works",
        now=founded,
    )
    for n in names[1:]:
        sec.join_section(store, section_id=section.id, account_id=people[n], now=founded)
    at = T0 - 2 * DAY
    ballot = sec.open_section_ballot(
        store,
        section_id=section.id,
        opened_by=people[names[0]],
        purpose="election",
        candidates=[people[names[0]]],
        closes_at=at + DAY,
        now=at,
    )
    for n in names:
        sec.cast_section_vote(
            store, ballot_id=ballot.id, voter_id=people[n], choice=[str(people[names[0]])], now=at
        )
    sec.close_section_ballot(store, ballot_id=ballot.id, now=at + DAY)
    return sec.get_section(store, section.id)


def test_members_join_by_their_own_act_and_elect_their_delegate(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    assert section.members == 3
    assert section.delegate_id == people["ada"]
    assert sec.section_members(store, section_id=section.id, viewer_id=people["bea"]) == [
        people["ada"],
        people["bea"],
        people["cat"],
    ]
    # Who belongs is the section's own business: not on the public record, not for others.
    _refused(
        store, "not_in_section", sec.section_members, section_id=section.id, viewer_id=people["dot"]
    )
    for entry in store.audit_entries():
        if entry.kind in ("section.founded", "section.joined"):
            assert set(entry.payload) <= {
                "section_id",
                "council_id",
                "name",
                "members",
                "state_sha256",
            }
    assert store.verify_record().ok


def test_a_non_member_cannot_join(works):
    store, council, people = works
    section = sec.create_section(
        store, council_id=council.id, founder_id=people["ada"], name="Night shift", now=T0
    )
    _refused(
        store,
        "not_a_member",
        sec.join_section,
        section_id=section.id,
        account_id=people["stranger"],
        now=T0,
    )
    _refused(
        store,
        "not_a_member",
        sec.create_section,
        council_id=council.id,
        founder_id=people["stranger"],
        name="Outsiders",
        now=T0,
    )
    # Nor can she stand for it, or vote in its ballots.
    with pytest.raises(s.Invalid) as caught:
        sec.open_section_ballot(
            store,
            section_id=section.id,
            opened_by=people["ada"],
            purpose="election",
            candidates=[people["stranger"]],
            closes_at=T0 + 2 * DAY,
            now=T0,
        )
    assert caught.value.reason == "bad_candidate"


def test_leaving_the_council_leaves_its_sections_and_the_mandate(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    s.leave_council(store, council_id=council.id, account_id=people["ada"], now=T0)
    section = sec.get_section(store, section.id)
    assert section.members == 2 and section.delegate_id is None
    assert store.verify_record().ok


def test_the_council_cannot_dissolve_a_section(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    # A member of the council outside the section opens no ballot of it.
    _refused(
        store,
        "not_in_section",
        sec.open_section_ballot,
        section_id=section.id,
        opened_by=people["dot"],
        purpose="dissolution",
        closes_at=T0 + 2 * DAY,
        now=T0,
    )
    # The council's rules are no way in: no rule names a section.
    with pytest.raises(s.Invalid):
        s.open_rules_ballot(
            store,
            council_id=council.id,
            opened_by=people["dot"],
            rules={"sections": []},
            closes_at=T0 + 2 * DAY,
            now=T0,
        )
    # Packing: the rest of the council joins on the day and votes to dissolve. The ballot's
    # electorate is the section's members of the council's minimum standing (7 days), so the
    # newcomers have no vote, and two of three original members voting no keep it.
    for n in ("dot", "eve", "fay"):
        sec.join_section(store, section_id=section.id, account_id=people[n], now=T0)
    ballot = sec.open_section_ballot(
        store,
        section_id=section.id,
        opened_by=people["dot"],
        purpose="dissolution",
        closes_at=T0 + DAY,
        now=T0,
    )
    assert ballot.electorate == 3
    for n in ("dot", "eve", "fay"):
        _refused(
            store,
            "not_in_electorate",
            sec.cast_section_vote,
            ballot_id=ballot.id,
            voter_id=people[n],
            choice="yes",
            now=T0,
        )
    sec.cast_section_vote(store, ballot_id=ballot.id, voter_id=people["ada"], choice="no", now=T0)
    sec.cast_section_vote(store, ballot_id=ballot.id, voter_id=people["cat"], choice="yes", now=T0)
    closed = sec.close_section_ballot(store, ballot_id=ballot.id, now=T0 + DAY)
    assert closed.tally["counts"]["yes"] == 1
    assert sec.get_section(store, section.id).dissolved_at is None


def test_a_section_dissolves_itself_by_a_majority_of_its_members(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    ballot = sec.open_section_ballot(
        store,
        section_id=section.id,
        opened_by=people["bea"],
        purpose="dissolution",
        closes_at=T0 + DAY,
        now=T0,
    )
    # One yes of three is a majority of votes cast but not of the members: it stays.
    sec.cast_section_vote(store, ballot_id=ballot.id, voter_id=people["bea"], choice="yes", now=T0)
    sec.close_section_ballot(store, ballot_id=ballot.id, now=T0 + DAY)
    assert sec.get_section(store, section.id).dissolved_at is None
    at = T0 + 2 * DAY
    ballot = sec.open_section_ballot(
        store,
        section_id=section.id,
        opened_by=people["bea"],
        purpose="dissolution",
        closes_at=at + DAY,
        now=at,
    )
    for n in ("bea", "cat"):
        sec.cast_section_vote(store, ballot_id=ballot.id, voter_id=people[n], choice="yes", now=at)
    with pytest.raises(s.Conflict):
        sec.cast_section_vote(
            store, ballot_id=ballot.id, voter_id=people["cat"], choice="no", now=at
        )
    sec.close_section_ballot(store, ballot_id=ballot.id, now=at + DAY)
    gone = sec.get_section(store, section.id)
    assert gone.dissolved_at == at + DAY and gone.delegate_id is None
    with pytest.raises(s.Conflict):
        sec.join_section(store, section_id=section.id, account_id=people["dot"], now=at + 2 * DAY)
    assert [e.kind for e in store.audit_entries()][-1] == "section.dissolved"
    assert store.verify_record().ok


def test_only_the_sections_delegate_tables_for_it(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    for who in ("bea", "dot", "stranger"):
        _refused(
            store,
            "not_section_delegate",
            sec.table_section_motion,
            section_id=section.id,
            delegate_id=people[who],
            title="Kindergarten",
            text="A kindergarten at the works.",
            now=T0,
        )


def _motion(store, council, people, section, at=T0):
    return sec.table_section_motion(
        store,
        section_id=section.id,
        delegate_id=people["ada"],
        title="A kindergarten at the works",
        text="The works opens a kindergarten for its workers' children.",
        now=at,
    )


def test_a_motion_voted_within_its_deadline_is_on_record_with_its_outcome(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    motion = _motion(store, council, people, section)
    assert motion.deadline == T0 + 14 * DAY and motion.status == "waiting"
    at = T0 + 5 * DAY
    ballot = s.open_ballot(
        store,
        council_id=council.id,
        opened_by=people["dot"],
        title="Kindergarten",
        rule="yes_no",
        motion_id=motion.motion_id,
        closes_at=at + 2 * DAY,
        now=at,
    )
    for n in ("ada", "bea", "cat", "dot"):
        s.cast_vote(store, ballot_id=ballot.id, voter_id=people[n], choice="yes", now=at)
    s.close_due_ballots(store, now=at + 2 * DAY)
    assert sec.check_section_deadlines(store, now=T0 + 30 * DAY) == []
    (done,) = sec.section_motions(store, council_id=council.id)
    assert (done.status, done.outcome, done.in_time, done.breached_at) == (
        "decided",
        "carried",
        True,
        None,
    )
    decided = [e for e in store.audit_entries() if e.kind == "section.motion_decided"]
    assert decided[0].payload["outcome"] == "carried" and decided[0].payload["in_time"] is True
    assert store.verify_record().ok


def test_a_council_that_lets_the_deadline_pass_is_shown_in_breach(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    motion = _motion(store, council, people, section)
    # The council lengthens its rule afterwards: the motion's deadline stays where it was.
    voters = [people[n] for n in ("ada", "bea", "cat", "dot", "eve", "fay")]
    change_rules(store, council.id, voters, T0 + DAY, section_motion_days=60)
    assert s.council_rules(store, council.id).section_motion_days == 60
    assert sec.check_section_deadlines(store, now=motion.deadline) == []
    # A ballot that closes after the deadline does not save it.
    late = motion.deadline - DAY
    s.open_ballot(
        store,
        council_id=council.id,
        opened_by=people["dot"],
        title="Kindergarten, later",
        rule="yes_no",
        motion_id=motion.motion_id,
        closes_at=motion.deadline + 5 * DAY,
        now=late,
    )
    after = motion.deadline + timedelta(seconds=1)
    assert sec.check_section_deadlines(store, now=after) == [motion.id]
    assert sec.check_section_deadlines(store, now=after + DAY) == []  # once per motion
    (entry,) = [e for e in store.audit_entries() if e.kind == "section.motion_overdue"]
    assert entry.payload["council_id"] == council.id
    assert entry.payload["motion_id"] == motion.motion_id
    (shown,) = sec.section_motions(store, section_id=section.id)
    assert shown.breached_at == after and shown.status == "waiting"
    # Voted at last: the outcome is recorded, late, and the breach stays on record.
    s.close_due_ballots(store, now=motion.deadline + 5 * DAY)
    (shown,) = sec.section_motions(store, section_id=section.id)
    assert shown.status == "decided" and shown.in_time is False and shown.breached_at == after
    assert store.verify_record().ok


def test_an_operator_who_edits_a_section_is_caught(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE sections SET dissolved_at = :t WHERE id = :i"),
            {"t": T0, "i": section.id},
        )
    verified = store.verify_record()
    assert not verified.ok and "sections" in verified.message


def test_section_motion_days_is_the_councils_rule(works):
    store, council, people = works
    for bad in (0, 91, "7"):
        with pytest.raises(s.Invalid):
            s.open_rules_ballot(
                store,
                council_id=council.id,
                opened_by=people["ada"],
                rules={"section_motion_days": bad},
                closes_at=T0 + 2 * DAY,
                now=T0,
            )
    assert s.council_rules(store, council.id).section_motion_days == 14


def test_a_vote_over_by_the_deadline_is_no_breach_even_if_counted_late(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    motion = _motion(store, council, people, section)
    at = motion.deadline - 2 * DAY
    s.open_ballot(
        store,
        council_id=council.id,
        opened_by=people["dot"],
        title="Kindergarten",
        rule="yes_no",
        motion_id=motion.motion_id,
        closes_at=motion.deadline,
        now=at,
    )
    # Nobody has closed it yet when the deadlines are checked: its vote was over in time.
    assert sec.check_section_deadlines(store, now=motion.deadline + DAY) == []
    s.close_due_ballots(store, now=motion.deadline + 2 * DAY)
    (shown,) = sec.section_motions(store, section_id=section.id)
    assert shown.status == "decided" and shown.in_time is True and shown.breached_at is None
    assert shown.outcome == "not_carried"  # no votes: no majority


def test_a_member_who_left_votes_no_more(works):
    store, council, people = works
    section = _section_with_delegate(store, council, people)
    ballot = sec.open_section_ballot(
        store,
        section_id=section.id,
        opened_by=people["bea"],
        purpose="dissolution",
        closes_at=T0 + DAY,
        now=T0,
    )
    sec.leave_section(store, section_id=section.id, account_id=people["cat"], now=T0)
    _refused(
        store,
        "not_in_electorate",
        sec.cast_section_vote,
        ballot_id=ballot.id,
        voter_id=people["cat"],
        choice="yes",
        now=T0,
    )
    # Her ballot paper cannot be filled in by anyone else either: one can only vote as oneself,
    # and the electorate is fixed.
    assert sec.get_section_ballot(store, ballot.id).electorate == 3
