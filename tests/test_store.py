"""The store on real databases: guards in the database itself, secret-ballot tables, concurrency,
and the audit log checked after someone with database rights has tampered with it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from council_setup import admit, council_with_members
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
    council = council_with_members(store, ids[0], ids[1:20], name="Works", at=T0, min_ballot_days=1)
    for k in range(20, n, 20):  # admitted in groups: one ballot's title names each application
        admit(store, council.id, ids[0], ids[k : k + 20], T0 - timedelta(days=12))
    return ids, council


def question(store, council, opener, title="Q", **options):
    """A ballot of ``council`` open from T0 for a day: secret yes/no unless ``options`` say."""
    options = {"rule": "yes_no", "secret": True, "closes_at": T0 + timedelta(days=1), **options}
    return s.open_ballot(
        store, council_id=council.id, opened_by=opener, title=title, now=T0, **options
    )


def raw(store, sql, **params):
    with store.engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def test_one_vote_per_member_is_enforced_by_the_database(council_store):
    ids, council = town(council_store, 2)
    ballot = question(council_store, council, ids[0])
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
    ballot = question(council_store, council, ids[0], secret=False)
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
    assert s.recount(council_store, ballot.id).matches


def test_secret_ballot_rows_cannot_be_joined_back_to_voters(council_store):
    ids, council = town(council_store, 8)
    options = ["a", "b", "c", "d"]
    ballot = question(council_store, council, ids[0], rule="schulze", options=options)
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
    closed = s.close_ballot(council_store, ballot_id=ballot.id, now=T0 + timedelta(days=1))
    # The votes table has no column that names, orders or dates a voter.
    columns = {c["name"] for c in sa.inspect(council_store.engine).get_columns("votes")}
    assert columns == {"id", "ballot_id", "choice", "weight"}
    assert set(tables.votes.c.keys()) == columns
    postgres = council_store.engine.dialect.name == "postgresql"
    with council_store.engine.connect() as conn:
        opened = sa.select(sa.func.count()).where(tables.open_votes.c.ballot_id == ballot.id)
        assert conn.execute(opened).scalar() == 0
        # Closed, the votes are no longer rows written as members voted (each in the same
        # transaction as its participation row, and in the same physical order): they sit in
        # one row written by the close, sorted, with no keys.
        left = conn.execute(
            sa.text("SELECT count(*) FROM votes WHERE ballot_id = :b"), {"b": ballot.id}
        ).scalar()
        (box,) = conn.execute(
            sa.text("SELECT votes FROM ballot_boxes WHERE ballot_id = :b"), {"b": ballot.id}
        ).scalars()
        participants = conn.execute(
            sa.text("SELECT account_id FROM ballot_participation WHERE ballot_id = :b"),
            {"b": ballot.id},
        ).all()
        if postgres:  # the transaction that wrote each row
            box_xmin = conn.execute(
                sa.text("SELECT xmin::text FROM ballot_boxes WHERE ballot_id = :b"),
                {"b": ballot.id},
            ).scalar()
            voted_xmins = set(
                conn.execute(
                    sa.text("SELECT xmin::text FROM ballot_participation WHERE ballot_id = :b"),
                    {"b": ballot.id},
                ).scalars()
            )
            assert len(voted_xmins) == 8 and box_xmin not in voted_xmins
    assert left == 0 and len(participants) == 8
    lines = box.split("\n")
    assert lines == sorted(lines)  # canonical order: nothing of the order of voting
    assert [json.loads(line) for line in lines] == sorted(
        ([c, 1] for c in cast_order), key=lambda v: json.dumps(v, separators=(",", ":"))
    )
    assert hashlib.sha256(box.encode()).hexdigest() == closed.votes_digest
    assert s.recount(council_store, ballot.id).matches
    # The audit log records participation only (and the state commitment, which hides it).
    for e in council_store.audit_entries():
        if e.kind == "ballot.voted" and e.payload["ballot_id"] == ballot.id:
            assert set(e.payload) - {"state_sha256"} == {"ballot_id", "account_id"}


def test_a_sealed_ballot_box_cannot_change_even_by_hand(council_store):
    ids, council = town(council_store, 4)
    ballot = question(council_store, council, ids[0])
    for a, choice in zip(ids, ["yes", "no", "yes", "abstain"], strict=True):
        s.cast_vote(council_store, ballot_id=ballot.id, voter_id=a, choice=choice, now=T0)
    later = question(council_store, council, ids[0], "R")  # closed with no votes: empty box
    for b in (ballot, later):
        s.close_ballot(council_store, ballot_id=b.id, now=T0 + timedelta(days=1))
    box = '["yes",1]\n["yes",1]\n["yes",1]\n["yes",1]'
    attempts = [
        ("UPDATE ballot_boxes SET votes = :v WHERE ballot_id = :b", {"v": box, "b": ballot.id}),
        ("DELETE FROM ballot_boxes WHERE ballot_id = :b", {"b": ballot.id}),
        ("DELETE FROM ballot_boxes WHERE ballot_id = :b", {"b": later.id}),
        (
            "INSERT INTO votes (id, ballot_id, choice, weight) VALUES (:v, :b, '\"yes\"', 1)",
            {"v": str(uuid.uuid4()), "b": later.id},
        ),
        ("DELETE FROM ballot_participation WHERE ballot_id = :b", {"b": ballot.id}),
    ]
    for sql, params in attempts:
        with pytest.raises(DBAPIError, match="closed"):
            raw(council_store, sql, **params)
    # A second box for a closed ballot: refused as the ballot is closed (or its key is taken).
    with pytest.raises(DBAPIError, match="closed|unique|UNIQUE|duplicate"):
        raw(council_store, "INSERT INTO ballot_boxes VALUES (:b, :v)", b=ballot.id, v=box)
    opened = question(council_store, council, ids[0], "S", secret=False)
    s.close_ballot(council_store, ballot_id=opened.id, now=T0 + timedelta(days=1))
    with pytest.raises(DBAPIError, match="closed"):  # an open ballot, closed without a box
        raw(council_store, "INSERT INTO ballot_boxes VALUES (:b, :v)", b=opened.id, v=box)
    for b in (ballot, later):
        assert s.recount(council_store, b.id).matches
    assert s.get_ballot(council_store, ballot.id).tally["counts"]["yes"] == 2


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
        ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", "removed", None),
    ],
    ids=["edited", "deleted", "swapped", "truncated"],
)
def test_audit_verify_names_the_first_bad_entry(council_store, sql, problem, seq):
    town(council_store, 3)
    s.create_council(council_store, name="Second", kind="consumer", founder_id=1, now=T0)
    assert council_store.verify_audit().ok
    seq = council_store.audit_head()[0] if seq is None else seq  # None: the last entry
    tamper(council_store, sql)
    result = council_store.verify_audit()
    assert not result.ok
    assert (result.problem, result.first_bad_seq) == (problem, seq), result.message


def test_concurrent_double_votes_are_refused_and_none_is_lost(council_store):
    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("the concurrency acceptance test is for PostgreSQL")
    ids, council = town(council_store, 100)
    ballot = question(council_store, council, ids[0])
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


def scratch_urls(tmp_path):
    """(url, schema) of the databases a migration test runs on: a SQLite file, and PostgreSQL
    in a throwaway schema when available."""
    urls = [(f"sqlite:///{tmp_path / 'm.sqlite'}", None)]
    if os.environ.get("COUNCILPLAN_TEST_DATABASE_URL"):
        urls.append((os.environ["COUNCILPLAN_TEST_DATABASE_URL"], f"cp_mig_{uuid.uuid4().hex[:8]}"))
    return urls


@contextlib.contextmanager
def scratch_engine(url, schema):
    """An engine on ``url`` (in ``schema``, created here and dropped afterwards), unmigrated."""
    from councilplan.store import make_engine

    admin = sa.create_engine(url)
    if schema:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = make_engine(url, schema=schema, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()
        if schema:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_migrations_go_down_and_up_again(tmp_path):
    """Every migration downgrades cleanly and the schema comes back the same (SQLite file, and
    PostgreSQL in a throwaway schema when available)."""
    from alembic import command

    from councilplan.store import migrate

    for url, schema in scratch_urls(tmp_path):
        with scratch_engine(url, schema) as engine:
            migrate.upgrade(engine)
            before = sorted(sa.inspect(engine).get_table_names())
            with engine.begin() as conn:
                config = migrate.alembic_config(url)
                config.attributes["connection"] = conn
                command.downgrade(config, "base")
            assert sa.inspect(engine).get_table_names() == ["alembic_version"]
            migrate.upgrade(engine)
            assert sorted(sa.inspect(engine).get_table_names()) == before
            assert migrate.current_revision(engine) == _head_revision()


def test_migration_0008_swaps_the_vote_functions_row_lock_for_the_advisory_lock(tmp_path):
    """A database migrated before 0008 has 0006's councilplan_cast_vote, which locks the
    ballot's row FOR SHARE; 0008 replaces it with the one taking the shared advisory lock, and
    its downgrade puts 0006's back."""
    from alembic import command

    from councilplan.store import migrate

    url = os.environ.get("COUNCILPLAN_TEST_DATABASE_URL")
    if not url:
        pytest.skip("councilplan_cast_vote is PostgreSQL's: COUNCILPLAN_TEST_DATABASE_URL unset")
    with scratch_engine(url, f"cp_mig_{uuid.uuid4().hex[:8]}") as engine:

        def function() -> str:
            with engine.connect() as conn:
                return conn.exec_driver_sql(
                    "SELECT pg_get_functiondef('councilplan_cast_vote'::regproc)"
                ).scalar()

        row_lock = "FROM ballots WHERE id = p_ballot FOR SHARE;"
        migrate.upgrade(engine, "0007")
        assert row_lock in function() and "pg_advisory" not in function()
        migrate.upgrade(engine)
        assert "pg_advisory_xact_lock_shared(1129335874, p_ballot)" in function()
        assert row_lock not in function()
        with engine.begin() as conn:
            config = migrate.alembic_config(url)
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        assert row_lock in function() and "pg_advisory" not in function()


def test_an_event_left_staged_by_a_crash_is_chained_and_checked(council_store):
    """PostgreSQL chains audit events by group commit after each act commits; an event whose
    act committed but whose process died before chaining is chained by the next act (or by
    verify) and checked like any other. A row slipped into the staging table by hand carries
    no signature and is never chained."""
    from councilplan.store.postgres import PgRecords

    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite appends to the chain inside the act's own transaction")
    ids, _ = town(council_store, 2)
    with council_store.engine.begin() as connection:  # an act that dies after its commit
        records = PgRecords(connection, council_store.key)
        records.add_motion(
            {
                "council_id": 1,
                "tabled_by": ids[0],
                "title": "Orphan",
                "text": "staged",
                "tabled_at": T0,
            }
        )
        records.append_event(
            "motion.tabled", {"title": "Orphan"}, "2026-03-01T09:00:00.000000+00:00"
        )
        records.commit_pg()
    s.create_council(council_store, name="Second", kind="consumer", founder_id=ids[0], now=T0)
    entries = council_store.audit_entries()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-2].kind == "motion.tabled" and entries[-2].payload["title"] == "Orphan"
    assert entries[-1].kind == "council.created"
    raw(
        council_store,
        "INSERT INTO audit_pending (kind, payload, recorded_at) "
        "VALUES ('member.left', '{}', '2026-03-01T09:00:00.000000+00:00')",
    )
    result = council_store.verify_audit()
    assert result.ok and result.checked == len(entries)
    assert raw(council_store, "SELECT count(*) FROM audit_pending").scalar() == 1
    checked = council_store.verify_record()
    assert not checked.ok and "staged event" in checked.message


def _close_as_before_0007(store, ballot_id, now):
    """Close a ballot as the service did before ballot boxes: votes left in their rows (in key
    order on disk), tally and digest of the votes in key order."""
    from councilplan.councils.service.ballots import _count, _votes_digest

    with store.transaction() as tx:
        ballot = tx.ballot(ballot_id)
        votes = tx.ballot_votes(ballot_id)
        tx.close_ballot_row(
            ballot_id,
            closed_at=now,
            electorate=5,
            tally=_count(ballot, votes, 5).to_dict(),
            votes_digest=_votes_digest(votes),
        )
        tx.append_event("ballot.closed", {"ballot_id": ballot_id}, now.isoformat())


def _keys_against_content(engine, ballot_id):
    """Give a ballot's vote rows keys whose order is the reverse of their content's, so that
    a box in counting (key) order differs from one sorted by content whatever keys the
    service drew."""
    votes = tables.votes
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(votes.c.id, votes.c.choice).where(votes.c.ballot_id == ballot_id)
        ).all()
        by_content = sorted(rows, key=lambda row: json.dumps(row.choice), reverse=True)
        for k, row in enumerate(by_content):
            conn.execute(votes.update().where(votes.c.id == row.id).values(id=f"{k:08d}-key-order"))


def test_migration_0007_seals_closed_secret_ballots_and_goes_back(tmp_path):
    """A database with closed ballots from before 0007: each closed secret ballot's vote rows
    move into its box in the order they were counted, recounts still match, the guards hold,
    and the downgrade puts the rows back."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from councilplan.store import migrate, store_for

    for url, schema in scratch_urls(tmp_path):
        config = migrate.alembic_config(url)
        before = ScriptDirectory.from_config(config).get_revision("0007").down_revision
        with scratch_engine(url, schema) as engine:
            # The ballots are made by today's service and closed as before 0007; the database
            # then goes down to 0006 (keeping them) and up again through 0007.
            store = store_for(engine)
            migrate.upgrade(engine)
            ids, council = town(store, 5)
            made = {}
            for name, rule, secret in [
                ("ranked", "schulze", True),
                ("open", "yes_no", False),
                ("pending", "schulze", True),
            ]:
                made[name] = s.open_ballot(
                    store,
                    council_id=council.id,
                    opened_by=ids[0],
                    title=name,
                    rule=rule,
                    options=["a", "b", "c"] if rule == "schulze" else None,
                    secret=secret,
                    closes_at=T0 + timedelta(days=1),
                    now=T0,
                ).id
            rankings = [["a"], ["b", "a"], ["c", "b", "a"], ["a", "c"], ["b"]]
            for a, ranking, yes in zip(
                ids, rankings, ["yes", "no", "yes", "no", "yes"], strict=True
            ):
                s.cast_vote(store, ballot_id=made["ranked"], voter_id=a, choice=ranking, now=T0)
                s.cast_vote(store, ballot_id=made["open"], voter_id=a, choice=yes, now=T0)
            s.cast_vote(store, ballot_id=made["pending"], voter_id=ids[0], choice=["c"], now=T0)
            _keys_against_content(engine, made["ranked"])
            for name in ("ranked", "open"):
                _close_as_before_0007(store, made[name], T0 + timedelta(days=1))
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(
                        tables.votes.c.id, tables.votes.c.choice, tables.votes.c.weight
                    ).where(tables.votes.c.ballot_id == made["ranked"])
                ).all()
            in_key_order = [json.dumps([c, w], separators=(",", ":")) for _, c, w in sorted(rows)]
            assert in_key_order != sorted(in_key_order)  # the box keeps the counting order

            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, before)
            migrate.upgrade(engine)
            (box,) = raw(
                store, "SELECT votes FROM ballot_boxes WHERE ballot_id = :b", b=made["ranked"]
            ).scalars()
            assert box.split("\n") == in_key_order
            left = "SELECT count(*) FROM votes WHERE ballot_id = :b"
            assert raw(store, left, b=made["ranked"]).scalar() == 0
            assert raw(store, left, b=made["open"]).scalar() == 5
            boxed = "SELECT count(*) FROM ballot_boxes WHERE ballot_id = :b"
            assert raw(store, boxed, b=made["open"]).scalar() == 0  # open ballots keep rows
            for name in ("ranked", "open"):
                assert s.recount(store, made[name]).matches
            assert [v.choice for v in s.open_votes(store, made["open"])] == [
                "yes",
                "no",
                "yes",
                "no",
                "yes",
            ]
            s.cast_vote(store, ballot_id=made["pending"], voter_id=ids[1], choice=["b"], now=T0)
            s.close_ballot(store, ballot_id=made["pending"], now=T0 + timedelta(days=1))
            assert s.recount(store, made["pending"]).matches
            for sql in (
                "DELETE FROM votes WHERE ballot_id = :b",
                "DELETE FROM open_votes WHERE ballot_id = :b",
                "DELETE FROM ballot_participation WHERE ballot_id = :b",
                "UPDATE votes SET weight = 2 WHERE ballot_id = :b",
            ):
                with pytest.raises(DBAPIError, match="closed"):
                    raw(store, sql, b=made["open"])
            with pytest.raises(DBAPIError, match="closed"):
                raw(store, "DELETE FROM ballot_boxes WHERE ballot_id = :b", b=made["ranked"])

            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, before)
            assert "ballot_boxes" not in sa.inspect(engine).get_table_names()
            referred = {
                fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("open_votes")
            }
            assert "votes" in referred
            for name in ("ranked", "pending"):
                back = raw(
                    store, "SELECT id, choice FROM votes WHERE ballot_id = :b", b=made[name]
                ).all()
                assert len(back) == (5 if name == "ranked" else 2)
            with pytest.raises(DBAPIError, match="closed"):
                raw(store, "DELETE FROM votes WHERE ballot_id = :b", b=made["ranked"])

            migrate.upgrade(engine)
            for name in ("ranked", "open", "pending"):
                assert s.recount(store, made[name]).matches
            assert raw(store, left, b=made["ranked"]).scalar() == 0
            assert store.verify_audit().ok


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from councilplan.store import migrate as migrations

    return ScriptDirectory.from_config(migrations.alembic_config("sqlite://")).get_current_head()


def test_the_cycle_collector_pauses_over_a_ballots_votes_and_resumes_after_the_act(
    council_store,
):
    import gc

    assert gc.isenabled()
    with council_store.transaction() as tx:
        tx.ballot_votes(1)  # no such ballot: no votes, but the act may count them
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), council_store.transaction() as tx:
        tx.take_votes(1)
        raise RuntimeError("the act fails")
    assert gc.isenabled()
