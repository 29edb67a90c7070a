"""Councils for tests, made through the councils' own rules: founded 30 days before ``at``, their
members admitted by the founder's admission ballot (3 days), so they have the default minimum
standing (7 days) at ``at``; a council's other rules (e.g. ``min_ballot_days=1`` for tests that
close ballots after a day) changed by a rules ballot all members carry, closed before ``at``."""

from __future__ import annotations

from datetime import datetime, timedelta

from councilplan.councils import service as s

FOUNDED_BEFORE = timedelta(days=30)


def council_with_members(
    store, founder: int, members=(), *, name: str, kind: str = "workplace", at: datetime, **rules
):
    council, _ = s.found_council_with_members(
        store,
        name=name,
        kind=kind,
        founder_id=founder,
        member_ids=list(members),
        founded_at=at - FOUNDED_BEFORE,
    )
    if rules:
        change_rules(store, council.id, [founder, *members], at - timedelta(days=20), **rules)
    return s.get_council(store, council.id)


def change_rules(store, council_id: int, voters, when: datetime, **rules) -> None:
    """Change a council's rules by its ballot, opened at ``when``, every voter voting yes."""
    council = s.get_council(store, council_id)
    closes = when + timedelta(days=council.min_ballot_days)
    ballot = s.open_rules_ballot(
        store, council_id=council_id, opened_by=voters[0], rules=rules, closes_at=closes, now=when
    )
    for voter in voters:
        s.cast_vote(store, ballot_id=ballot.id, voter_id=voter, choice="yes", now=when)
    closed = s.close_ballot(store, ballot_id=ballot.id, now=closes)
    assert closed.tally["outcome"] == "carried", closed.tally


def admit(store, council_id: int, opener: int, accounts, when: datetime, voters=None) -> datetime:
    """Admit ``accounts`` to a council by its decision: they ask at ``when``, ``opener`` opens
    the admission ballot, ``voters`` (default: the opener) vote yes; returns when they joined."""
    council = s.get_council(store, council_id)
    asked = [
        s.join_council(store, council_id=council_id, account_id=a, now=when)["id"] for a in accounts
    ]
    closes = when + timedelta(days=council.min_ballot_days)
    ballot = s.open_admission(
        store,
        council_id=council_id,
        opened_by=opener,
        application_ids=asked,
        closes_at=closes,
        now=when,
    )
    for voter in voters or [opener]:
        s.cast_vote(store, ballot_id=ballot.id, voter_id=voter, choice="yes", now=when)
    s.close_ballot(store, ballot_id=ballot.id, now=closes)
    return closes
