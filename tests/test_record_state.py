"""The record covers the state: an operator who edits a table behind the record's back, or
slips an event into it, is named by ``audit verify`` (issue 12, "The record covers the state").

Each test builds the demo town through the service, then does what an operator with write
access to the database could do, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from council_setup import database_before_the_state_record
from councilplan.audit.chain import canonical_json, entry_after
from councilplan.councils.service import (
    cast_vote,
    create_demo_town,
    leave_council,
    open_ballot,
    register_account,
)


def _hash(password: str) -> str:
    return "plain$" + password  # the town's accounts never log in here


@pytest.fixture
def town(council_store):
    ids = create_demo_town(council_store, hash_password=_hash)
    assert council_store.verify_record().ok
    return council_store, ids


def _sql(store, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _one(store, query: str):
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(query).scalar_one()


_DISABLED: list[tuple] = []


@pytest.fixture(autouse=True)
def _guards_back():
    """PostgreSQL's test schema lives for the whole session: guards switched off by a test
    are switched on again after it."""
    yield
    while _DISABLED:
        store, table, name = _DISABLED.pop()
        _sql(store, f"ALTER TABLE {table} ENABLE TRIGGER {name}")


def _drop_trigger(store, table: str, *names: str) -> list[str]:
    """What an operator with the owner's rights does first: switch the database's guards off
    (dropped on SQLite, whose test database is the test's own)."""
    if store.engine.dialect.name == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
    _DISABLED.extend((store, table, name) for name in names)
    return [f"ALTER TABLE {table} DISABLE TRIGGER {name}" for name in names]


def _named(store, *words: str) -> str:
    check = store.verify_record()
    assert not check.ok, "verify said intact after an edit behind the record's back"
    for word in words:
        assert word in check.message, check.message
    return check.message


def test_a_membership_added_in_the_database_is_named(town):
    store, ids = town
    bakery, outsider = ids["councils"]["bakery"], ids["accounts"]["kim"]
    _sql(
        store,
        *_drop_trigger(store, "memberships", "memberships_admitted"),
        "INSERT INTO memberships (council_id, account_id, joined_at) "
        f"VALUES ({bakery}, {outsider}, '2026-01-01 00:00:00+00:00')",
    )
    _named(store, "memberships id=", "no event on record made it")


def test_a_mandate_un_ended_in_the_database_is_named(town):
    """A delegate who left her council lost her mandate; the operator gives it back."""
    store, _ = town
    delegate = _one(store, "SELECT min(id) FROM delegates")
    with store.engine.connect() as conn:
        council, account = conn.exec_driver_sql(
            f"SELECT council_id, account_id FROM delegates WHERE id = {delegate}"
        ).one()
    leave_council(store, council_id=council, account_id=account)
    assert _one(store, f"SELECT ended_at FROM delegates WHERE id = {delegate}") is not None
    assert store.verify_record().ok
    _sql(store, f"UPDATE delegates SET ended_at = NULL, end_reason = NULL WHERE id = {delegate}")
    _named(store, f"delegates id={delegate}", "in the table but")


def test_a_raised_federation_weight_is_named(town):
    store, _ = town
    _sql(
        store,
        *_drop_trigger(
            store,
            "federation_members",
            *(
                ["federation_members_admitted"]
                if store.engine.dialect.name == "postgresql"
                else ["federation_members_admitted_insert", "federation_members_weight_update"]
            ),
        ),
        "UPDATE federation_members SET weight = 1000000",
    )
    _named(store, "federation_members", "weight", "1000000")


def test_a_swapped_password_hash_is_named(town):
    store, ids = town
    _sql(store, f"UPDATE accounts SET password_hash = 'x' WHERE id = {ids['accounts']['ada']}")
    _named(store, f"accounts id={ids['accounts']['ada']}", "password_hash")


def test_a_changed_vote_on_an_open_ballot_is_named(town):
    store, ids = town
    now = datetime.now(UTC)
    hood, ivy, jo = (
        ids["councils"]["neighbourhood"],
        ids["accounts"]["ivy"],
        ids["accounts"]["jo"],
    )
    ballot = open_ballot(
        store,
        council_id=hood,
        opened_by=ivy,
        title="Paint the hall",
        rule="yes_no",
        closes_at=now + timedelta(days=10),
        now=now,
    )
    cast_vote(store, ballot_id=ballot.id, voter_id=jo, choice="no", now=now)
    assert store.verify_record().ok
    _sql(store, f"UPDATE votes SET choice = '\"yes\"' WHERE ballot_id = {ballot.id}")
    _named(store, "votes id=", "choice")


def test_a_rewritten_ballot_box_with_its_tally_and_digest_is_named(town):
    store, ids = town
    ballot = ids["motion_ballot"]
    forged_box = '["yes",1]'
    if store.engine.dialect.name == "sqlite":
        drop = [
            *_drop_trigger(store, "ballot_boxes", "ballot_boxes_sealed_update"),
            *_drop_trigger(store, "ballots", "ballots_closed_update"),
        ]
    else:
        drop = [
            *_drop_trigger(store, "ballot_boxes", "ballot_boxes_sealed"),
            *_drop_trigger(store, "ballots", "ballots_closed"),
        ]
    tally = json.dumps({"outcome": "carried", "winners": ["yes"]})
    _sql(
        store,
        *drop,
        f"UPDATE ballot_boxes SET votes = '{forged_box}' WHERE ballot_id = {ballot}",
        f"UPDATE ballots SET tally = '{tally}', "
        f"votes_digest = '{hashlib.sha256(forged_box.encode()).hexdigest()}' WHERE id = {ballot}",
    )
    _named(store, f"id={ballot}")


def test_an_event_forged_at_the_head_of_the_chain_is_named(town):
    """Someone with the database but not the service's key appends an entry whose hash is
    right: the chain verifies, its signature does not."""
    store, _ = town
    seq, head = store.audit_head()
    forged = entry_after(seq, head, "member.joined", {"council_id": 1, "account_id": 12})
    payload = canonical_json(forged.payload).decode()
    _sql(
        store,
        "INSERT INTO audit_log (seq, kind, payload, recorded_at, prev_hash, hash) VALUES "
        f"({forged.seq}, 'member.joined', '{payload}', '{forged.recorded_at}', "
        f"'{forged.prev_hash}', '{forged.hash}')",
        f"UPDATE audit_head SET seq = {forged.seq}, hash = '{forged.hash}', "
        f"prev_hash = '{forged.prev_hash}' WHERE id = 1",
    )
    assert store.verify_audit().ok  # the hashes alone cannot tell
    _named(store, f"entry {forged.seq}", "signature")


def test_a_forged_staged_event_is_never_chained(council_store):
    store = council_store
    if store.engine.dialect.name != "postgresql":
        pytest.skip("events are staged only on PostgreSQL")
    create_demo_town(store, hash_password=_hash)
    _sql(
        store,
        "INSERT INTO audit_pending (kind, payload, recorded_at) VALUES "
        "('member.joined', '{\"account_id\":12,\"council_id\":1}', "
        "'2026-01-01T00:00:00.000000+00:00')",
    )
    before = store.audit_head()
    store.seal_audit()
    assert store.audit_head() == before  # not chained
    _named(store, "staged event", "signature")
    # and an act after it does not carry it into the chain either
    register_account(store, username="zoe", display_name="Zoe", password_hash=_hash("z"))
    assert store.audit_head()[0] == before[0] + 1
    assert all("state_sha256" in e.payload for e in store.audit_entries())  # the forged has none


def test_a_database_older_than_the_state_record_is_recorded_once_as_it_stands(tmp_path):
    """Entries made before migration 0011 keep no states: the service records the tables once
    (record.began) and replays from there; an edit after that is named as any other."""
    from councilplan.store import open_store

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    database_before_the_state_record(url)

    store = open_store(url)
    try:
        entries = store.audit_entries()
        assert [e.kind for e in entries] == ["account.registered", "record.began"]
        assert entries[1].payload["tables"]["accounts"] == 1
        assert store.verify_record().ok
        assert not store.begin_record()  # once only
        _sql(store, "UPDATE accounts SET password_hash = 'swapped' WHERE id = 1")
        _named(store, "accounts id=1", "password_hash")
    finally:
        store.dispose()
    reopened = open_store(url)  # a restart does not launder the edit
    try:
        assert len(reopened.audit_entries()) == 2
        assert not reopened.verify_record().ok
    finally:
        reopened.dispose()


def test_a_secret_vote_is_kept_on_record_without_its_choice_or_key(town):
    """The state beside a secret ballot's vote says who took part and with what weight, never
    what she chose, nor the key of the vote's row that would join the two."""
    store, ids = town
    now = datetime.now(UTC)
    ballot = open_ballot(
        store,
        council_id=ids["councils"]["neighbourhood"],
        opened_by=ids["accounts"]["ivy"],
        title="Close the street to cars on Sundays",
        rule="yes_no",
        secret=True,
        closes_at=now + timedelta(days=10),
        now=now,
    )
    cast_vote(store, ballot_id=ballot.id, voter_id=ids["accounts"]["jo"], choice="no", now=now)
    with store.engine.connect() as conn:
        state, payload = conn.exec_driver_sql(
            "SELECT state, payload FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).one()
        (vote_id,) = conn.exec_driver_sql(
            f"SELECT id FROM votes WHERE ballot_id = {ballot.id}"
        ).one()
    assert "no" not in json.loads(payload).values()
    changes = json.loads(state)["changes"]
    assert ["insert", "votes", {"ballot_id": ballot.id, "weight": 1}] in changes
    assert '"no"' not in state and vote_id not in state
    assert store.verify_record().ok
