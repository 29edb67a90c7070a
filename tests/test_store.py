"""The store on real databases: guards in the database itself, secret-ballot tables, concurrency,
and the audit log checked after someone with database rights has tampered with it."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from councilplan.councils import service as s
from councilplan.store import tables

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def town(store, n):
    ids = [
        s.register_account(
            store, username=f"m{i:03d}", display_name=f"M{i}", password_hash="h", now=T0
        )
        for i in range(n)
    ]
    council = s.create_council(store, name="Works", kind="workplace", founder_id=ids[0], now=T0)
    for a in ids[1:]:
        s.join_council(store, council_id=council.id, account_id=a, now=T0)
    return ids, council


def raw(store, sql, **params):
    with store.engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def test_one_vote_per_member_is_enforced_by_the_database(council_store):
    ids, council = town(council_store, 2)
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
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ids[0], choice="yes", now=T0)
    with pytest.raises(sa.exc.IntegrityError):  # bypassing the service changes nothing
        raw(
            council_store,
            "INSERT INTO ballot_participation (ballot_id, account_id) VALUES (:b, :a)",
            b=ballot.id,
            a=ids[0],
        )


def test_a_closed_ballot_cannot_change_even_by_hand(council_store):
    ids, council = town(council_store, 3)
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Q",
        rule="yes_no",
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    s.cast_vote(council_store, ballot_id=ballot.id, voter_id=ids[0], choice="yes", now=T0)
    s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    attempts = [
        (
            "INSERT INTO votes (id, ballot_id, choice, weight) VALUES (:v, :b, '\"no\"', 1)",
            {"v": str(uuid.uuid4()), "b": ballot.id},
        ),
        ("UPDATE votes SET choice = '\"no\"' WHERE ballot_id = :b", {"b": ballot.id}),
        ("DELETE FROM votes WHERE ballot_id = :b", {"b": ballot.id}),
        ("DELETE FROM ballot_participation WHERE ballot_id = :b", {"b": ballot.id}),
        ("UPDATE ballots SET status = 'open' WHERE id = :b", {"b": ballot.id}),
        ("UPDATE ballots SET tally = NULL WHERE id = :b", {"b": ballot.id}),
    ]
    for sql, params in attempts:
        with pytest.raises(DBAPIError, match="closed"):
            raw(council_store, sql, **params)
    assert s.recount(council_store, ballot.id)["matches"]


def test_secret_ballot_rows_cannot_be_joined_back_to_voters(council_store):
    ids, council = town(council_store, 8)
    options = ["a", "b", "c", "d"]
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Q",
        rule="schulze",
        options=options,
        secret=True,
        closes_at=T0 + timedelta(days=1),
        now=T0,
    )
    cast_order = []
    for i, a in enumerate(ids):
        choice = [options[(i + k) % 4] for k in range(1 + i % 4)]
        s.cast_vote(
            council_store,
            ballot_id=ballot.id,
            voter_id=a,
            choice=choice,
            now=T0 + timedelta(minutes=i),
        )
        cast_order.append(choice)
    s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    # The votes table has no column that names, orders or dates a voter.
    columns = {c["name"] for c in sa.inspect(council_store.engine).get_columns("votes")}
    assert columns == {"id", "ballot_id", "choice", "weight"}
    assert set(tables.votes.c.keys()) == columns
    with council_store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.open_votes)).scalar() == 0
        # Rows as the database returns them without ORDER BY: in key order, not casting order.
        stored = conn.execute(
            sa.text("SELECT id, choice FROM votes WHERE ballot_id = :b"), {"b": ballot.id}
        ).all()
        participants = conn.execute(
            sa.text("SELECT account_id FROM ballot_participation WHERE ballot_id = :b"),
            {"b": ballot.id},
        ).all()
    keys = [r.id for r in stored]
    assert all(uuid.UUID(k).version == 4 for k in keys)
    assert keys == sorted(keys)
    assert sorted(map(str, [r.choice for r in stored])) != [] and len(participants) == 8
    # The audit log records participation only.
    for e in council_store.audit_entries():
        if e.kind == "ballot.voted":
            assert set(e.payload) == {"ballot_id", "account_id"}


def tamper(store, sql, **params):
    """Edit the audit log as someone with the database owner's rights would."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only_delete")
        for statement in sql.split(";"):
            conn.execute(sa.text(statement), params)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def test_audit_log_refuses_changes_by_the_application(council_store):
    town(council_store, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        raw(council_store, "UPDATE audit_log SET kind = 'x' WHERE seq = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        raw(council_store, "DELETE FROM audit_log WHERE seq = 1")
    assert council_store.verify_audit().ok


@pytest.mark.parametrize(
    ("sql", "problem", "seq"),
    [
        (
            "UPDATE audit_log SET payload = replace(payload, '\"m002\"', '\"mallory\"') "
            "WHERE seq = 3",
            "altered",
            3,
        ),
        ("DELETE FROM audit_log WHERE seq = 4", "removed", 4),
        (
            "UPDATE audit_log SET seq = -3 WHERE seq = 3;"
            "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
            "UPDATE audit_log SET seq = 4 WHERE seq = -3",
            "reordered",
            3,
        ),
        ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", "removed", 7),
    ],
    ids=["edited", "deleted", "swapped", "truncated"],
)
def test_audit_verify_names_the_first_bad_entry(council_store, sql, problem, seq):
    town(council_store, 3)  # 3 accounts, 1 council, 2 joins: 6 entries
    s.create_council(council_store, name="Second", kind="consumer", founder_id=1, now=T0)
    assert council_store.verify_audit().ok
    tamper(council_store, sql)
    result = council_store.verify_audit()
    assert not result.ok
    assert (result.problem, result.first_bad_seq) == (problem, seq), result.message


def test_concurrent_double_votes_are_refused_and_none_is_lost(council_store):
    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("the concurrency acceptance test is for PostgreSQL")
    ids, council = town(council_store, 100)
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
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def vote(voter):
        barrier.wait()
        try:
            s.cast_vote(council_store, ballot_id=ballot.id, voter_id=voter, choice="yes", now=T0)
            result = "ok"
        except s.Conflict as refused:
            result = refused.reason
        with lock:
            outcomes.append(result)

    # 100 concurrent requests by one member: exactly one vote counts.
    threads = [threading.Thread(target=vote, args=(ids[5],)) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1 and outcomes.count("already_voted") == 99
    # 100 concurrent requests by 100 members (one of them again): 99 new votes, none lost.
    outcomes.clear()
    barrier = threading.Barrier(100)
    threads = [threading.Thread(target=vote, args=(a,)) for a in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 99 and outcomes.count("already_voted") == 1
    closed = s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    assert closed.tally["counts"]["yes"] == 100
    assert len(s.participation(council_store, ballot.id)) == 100
    assert council_store.verify_audit().ok


def test_migrations_go_down_and_up_again(tmp_path):
    """Every migration downgrades cleanly and the schema comes back the same (SQLite file, and
    PostgreSQL in a throwaway schema when available)."""
    from alembic import command

    from councilplan.store import migrate
    from councilplan.store.repository import make_engine

    urls = [(f"sqlite:///{tmp_path / 'm.sqlite'}", None)]
    if os.environ.get("COUNCILPLAN_TEST_DATABASE_URL"):
        urls.append((os.environ["COUNCILPLAN_TEST_DATABASE_URL"], f"cp_mig_{uuid.uuid4().hex[:8]}"))
    for url, schema in urls:
        admin = sa.create_engine(url)
        if schema:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine = make_engine(url, schema=schema, pool_size=1)
        try:
            migrate.upgrade(engine)
            before = sorted(sa.inspect(engine).get_table_names())
            with engine.begin() as conn:
                config = migrate.alembic_config(url)
                config.attributes["connection"] = conn
                command.downgrade(config, "base")
            assert sa.inspect(engine).get_table_names() == ["alembic_version"]
            migrate.upgrade(engine)
            assert sorted(sa.inspect(engine).get_table_names()) == before
            assert migrate.current_revision(engine) == "0006"
        finally:
            engine.dispose()
            if schema:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


def test_an_event_left_staged_by_a_crash_is_chained_and_checked(council_store):
    """PostgreSQL chains audit events by group commit after each act commits; an event whose
    act committed but whose process died before chaining is chained by the next act (or by
    verify) and checked like any other."""
    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite appends to the chain inside the act's own transaction")
    ids, _ = town(council_store, 2)
    raw(
        council_store,
        "INSERT INTO audit_pending (kind, payload, recorded_at) "
        "VALUES ('account.registered', :p, '2026-03-01T09:00:00.000000+00:00')",
        p='{"account_id":99,"username":"orphan"}',
    )
    s.create_council(council_store, name="Second", kind="consumer", founder_id=ids[0], now=T0)
    entries = council_store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-2].payload == {"account_id": 99, "username": "orphan"}
    assert entries[-1].kind == "council.created"
    raw(
        council_store,
        "INSERT INTO audit_pending (kind, payload, recorded_at) "
        "VALUES ('member.left', '{}', '2026-03-01T09:00:00.000000+00:00')",
    )
    result = council_store.verify_audit()
    assert result.ok and result.checked == len(entries) + 1
    assert raw(council_store, "SELECT count(*) FROM audit_pending").scalar() == 0
