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
        s.join_council(store, council_id=council_id, account_id=a, now=when).id for a in accounts
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


def federation_with(store, founder: int, groups, *, at: datetime, weighted: bool = False):
    """A federation (founded by ``founder`` 40 days before ``at``) of councils with the given
    member groups, affiliated by its rules (the founder admits the first, whose delegate puts
    the others to the federation's vote), each with its first member elected delegate, every
    ballot of theirs lasting a day from 15 days before ``at``. Returns (federation, councils)."""
    day = timedelta(days=1)
    fed = s.create_council(
        store,
        name="Fed",
        kind="federation",
        founder_id=founder,
        weighted_votes=weighted,
        now=at - 40 * day,
    )
    councils = [
        council_with_members(store, g[0], g[1:], name=f"C{k}", at=at - 10 * day, min_ballot_days=1)
        for k, g in enumerate(groups)
    ]
    t = at - 26 * day
    asked = [
        s.apply_for_affiliation(
            store, federation_id=fed.id, council_id=c.id, actor_id=g[0], now=t
        ).id
        for c, g in zip(councils, groups, strict=True)
    ]
    s.admit_first_council(store, application_id=asked[0], actor_id=founder, now=t)
    _elect(store, fed, councils[0], groups[0], t)
    if len(councils) > 1:
        t = at - 19 * day
        ballot = s.open_admission(
            store,
            council_id=fed.id,
            opened_by=groups[0][0],
            application_ids=asked[1:],
            closes_at=t + 3 * day,
            now=t,
        )
        s.cast_vote(store, ballot_id=ballot.id, voter_id=groups[0][0], choice="yes", now=t)
        t += 3 * day
        s.close_ballot(store, ballot_id=ballot.id, now=t)
        for c, g in zip(councils[1:], groups[1:], strict=True):
            _elect(store, fed, c, g, t)
    change_rules(store, fed.id, [groups[0][0]], at - 15 * day, min_ballot_days=1)
    return s.get_council(store, fed.id), councils


def _elect(store, fed, council, group, when):
    day = timedelta(days=1)
    ballot = s.open_election(
        store,
        council_id=council.id,
        federation_id=fed.id,
        opened_by=group[0],
        candidates=[group[0]],
        mandate="M",
        closes_at=when + day,
        now=when,
    )
    for a in group:
        name = s.get_ballot(store, ballot.id).options[0]
        s.cast_vote(store, ballot_id=ballot.id, voter_id=a, choice=[name], now=when)
    s.close_ballot(store, ballot_id=ballot.id, now=when + day)


def database_before_the_state_record(url: str) -> None:
    """A SQLite database at migration 0010, before entries kept their states: one account and
    the one entry that registered it, chained."""
    from councilplan.audit.chain import canonical_json, entry_after
    from councilplan.store import make_engine, migrate

    engine = make_engine(url)
    migrate.upgrade(engine, "0010")
    first = entry_after(0, "0" * 64, "account.registered", {"account_id": 1, "username": "ada"})
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, username, name_key, display_name, password_hash, "
            "created_at) VALUES (1, 'ada', 'ada', 'Ada', 'h', '2026-01-01 00:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO audit_log (seq, kind, payload, recorded_at, prev_hash, hash) VALUES "
            f"(1, 'account.registered', '{canonical_json(first.payload).decode()}', "
            f"'{first.recorded_at}', '{first.prev_hash}', '{first.hash}')"
        )
        conn.exec_driver_sql(f"UPDATE audit_head SET seq = 1, hash = '{first.hash}' WHERE id = 1")
    engine.dispose()
