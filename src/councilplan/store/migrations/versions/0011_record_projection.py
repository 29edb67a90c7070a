"""The record covers the state: each entry keeps the changes its act made to the governed
tables (``state``: canonical JSON of the changes and the salt of the commitment its payload
carries) and the service's signature of the event (``mac``, HMAC-SHA-256 under a key the
database never holds). Staged events carry both from the act that staged them.

Entries made before this revision have neither; the store records the tables as they stand
(a ``record.began`` event) the first time it opens such a database, and replays from there.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The one-call vote (PostgreSQL) stages its event with the state it made; otherwise 0010's.
FUNCTION = """CREATE OR REPLACE FUNCTION councilplan_cast_vote(
    p_ballot integer, p_voter integer, p_choice jsonb, p_now timestamptz, p_recorded_at text
) RETURNS TABLE (outcome text, weight integer, event_id bigint, purpose text)
LANGUAGE plpgsql AS $$
DECLARE
    b ballots%ROWTYPE;
    c councils%ROWTYPE;
    w integer := 1;
    seat_of integer;
    joined timestamptz;
    stored jsonb := p_choice;
    n integer;
    n_distinct integer;
    vote_id text;
    payload jsonb;
    changes jsonb;
BEGIN
    -- The ballot's votes locked in share mode until commit: whatever changes a ballot locks it
    -- in exclusive mode first (SqlRecords.get with lock="update"), so a close waits for the
    -- votes in flight and later votes wait for the close, then see it. An advisory lock rather
    -- than FOR SHARE on the ballot's row: concurrent share locks on one row cost a MultiXact
    -- and a WAL record each, and every vote on a ballot would queue on that one row.
    PERFORM pg_advisory_xact_lock_shared(1129335874, p_ballot);
    SELECT * INTO b FROM ballots WHERE id = p_ballot;
    IF NOT FOUND THEN
        outcome := 'no_such_ballot'; RETURN NEXT; RETURN;
    END IF;
    purpose := b.purpose;
    IF b.status <> 'open' OR p_now >= b.closes_at THEN
        outcome := 'ballot_closed'; RETURN NEXT; RETURN;
    END IF;
    IF p_now < b.opens_at THEN
        outcome := 'ballot_not_open'; RETURN NEXT; RETURN;
    END IF;

    -- The electorate, fixed when the ballot opened (councils.service.ballots, docs/councils.md).
    -- A workplace or consumer council: a current member whose membership began at or before
    -- the ballot's members_since (its opening less the council's minimum standing). A
    -- federation: a current delegate whose mandate began by the opening, for a council
    -- counted in the ballot's weights; the vote carries that council's fixed weight. Where
    -- one account holds several such mandates, the oldest counts.
    SELECT * INTO c FROM councils WHERE id = b.council_id;
    IF c.kind = 'federation' THEN
        SELECT d.council_id INTO seat_of FROM delegates d
            WHERE d.federation_id = c.id AND d.account_id = p_voter AND d.ended_at IS NULL
                AND d.elected_at <= b.created_at AND b.weights ? d.council_id::text
            ORDER BY d.id LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_in_electorate'; RETURN NEXT; RETURN;
        END IF;
        IF b.weighted THEN
            w := (b.weights ->> seat_of::text)::integer;
        END IF;
    ELSE
        SELECT m.joined_at INTO joined FROM memberships m
            WHERE m.council_id = c.id AND m.account_id = p_voter AND m.left_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_member'; RETURN NEXT; RETURN;
        END IF;
        IF b.members_since IS NULL OR joined > b.members_since THEN
            outcome := 'not_in_electorate'; RETURN NEXT; RETURN;
        END IF;
    END IF;

    -- The choice (councils.service.check_choice): yes/no/abstain, or distinct options of
    -- the ballot; an approval set is stored sorted (by code point, as Python sorts), a ranking
    -- as given and never empty.
    IF b.rule = 'yes_no' THEN
        IF jsonb_typeof(p_choice) <> 'string'
                OR p_choice #>> '{}' NOT IN ('yes', 'no', 'abstain') THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
    ELSE
        IF jsonb_typeof(p_choice) <> 'array' OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(p_choice) e
            WHERE jsonb_typeof(e) <> 'string' OR NOT (b.options @> jsonb_build_array(e))
        ) THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
        SELECT count(DISTINCT e), count(*) INTO n_distinct, n FROM jsonb_array_elements(p_choice) e;
        IF n_distinct <> n OR (n = 0 AND b.rule <> 'approval') THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
        IF b.rule = 'approval' THEN
            SELECT coalesce(jsonb_agg(e ORDER BY e COLLATE "C"), '[]'::jsonb) INTO stored
                FROM jsonb_array_elements_text(p_choice) e;
        END IF;
    END IF;
    IF NOT b.weighted THEN
        w := 1;
    END IF;

    -- One member, one vote: the participation key refuses a second (a concurrent second
    -- waits for the first to commit, then finds the key taken).
    INSERT INTO ballot_participation (ballot_id, account_id) VALUES (p_ballot, p_voter)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        outcome := 'already_voted'; RETURN NEXT; RETURN;
    END IF;
    vote_id := gen_random_uuid()::text;
    INSERT INTO votes (id, ballot_id, choice, weight) VALUES (vote_id, p_ballot, stored, w);
    payload := jsonb_build_object('ballot_id', p_ballot, 'account_id', p_voter);
    -- What the vote changed, as the record keeps it (store/record.py): a secret ballot's vote
    -- without its key and choice.
    changes := jsonb_build_array(jsonb_build_array('insert', 'ballot_participation',
        jsonb_build_object('ballot_id', p_ballot, 'account_id', p_voter)));
    IF NOT b.secret THEN
        INSERT INTO open_votes (vote_id, ballot_id, account_id) VALUES (vote_id, p_ballot, p_voter);
        payload := payload || jsonb_build_object('choice', stored, 'weight', w);
        changes := changes || jsonb_build_array(
            jsonb_build_array('insert', 'votes', jsonb_build_object(
                'id', vote_id, 'ballot_id', p_ballot, 'choice', stored, 'weight', w)),
            jsonb_build_array('insert', 'open_votes', jsonb_build_object(
                'vote_id', vote_id, 'ballot_id', p_ballot, 'account_id', p_voter)));
    ELSE
        changes := changes || jsonb_build_array(jsonb_build_array('insert', 'votes',
            jsonb_build_object('ballot_id', p_ballot, 'weight', w)));
    END IF;
    -- Staged for the audit chain with its state and no signature: the database cannot sign.
    -- The caller chains it in this same transaction, signing it there (store/postgres.py).
    INSERT INTO audit_pending (kind, payload, recorded_at, state)
        VALUES ('ballot.voted', payload::text, p_recorded_at,
                jsonb_build_object('changes', changes)::text)
        RETURNING id INTO event_id;
    outcome := 'voted';
    weight := w;
    RETURN NEXT;
END $$;
"""

FUNCTION_0010 = """CREATE OR REPLACE FUNCTION councilplan_cast_vote(
    p_ballot integer, p_voter integer, p_choice jsonb, p_now timestamptz, p_recorded_at text
) RETURNS TABLE (outcome text, weight integer, event_id bigint, purpose text)
LANGUAGE plpgsql AS $$
DECLARE
    b ballots%ROWTYPE;
    c councils%ROWTYPE;
    w integer := 1;
    seat_of integer;
    joined timestamptz;
    stored jsonb := p_choice;
    n integer;
    n_distinct integer;
    vote_id text;
    payload jsonb;
BEGIN
    -- The ballot's votes locked in share mode until commit: whatever changes a ballot locks it
    -- in exclusive mode first (SqlRecords.get with lock="update"), so a close waits for the
    -- votes in flight and later votes wait for the close, then see it. An advisory lock rather
    -- than FOR SHARE on the ballot's row: concurrent share locks on one row cost a MultiXact
    -- and a WAL record each, and every vote on a ballot would queue on that one row.
    PERFORM pg_advisory_xact_lock_shared(1129335874, p_ballot);
    SELECT * INTO b FROM ballots WHERE id = p_ballot;
    IF NOT FOUND THEN
        outcome := 'no_such_ballot'; RETURN NEXT; RETURN;
    END IF;
    purpose := b.purpose;
    IF b.status <> 'open' OR p_now >= b.closes_at THEN
        outcome := 'ballot_closed'; RETURN NEXT; RETURN;
    END IF;
    IF p_now < b.opens_at THEN
        outcome := 'ballot_not_open'; RETURN NEXT; RETURN;
    END IF;

    -- The electorate, fixed when the ballot opened (councils.service.ballots, docs/councils.md).
    -- A workplace or consumer council: a current member whose membership began at or before
    -- the ballot's members_since (its opening less the council's minimum standing). A
    -- federation: a current delegate whose mandate began by the opening, for a council
    -- counted in the ballot's weights; the vote carries that council's fixed weight. Where
    -- one account holds several such mandates, the oldest counts.
    SELECT * INTO c FROM councils WHERE id = b.council_id;
    IF c.kind = 'federation' THEN
        SELECT d.council_id INTO seat_of FROM delegates d
            WHERE d.federation_id = c.id AND d.account_id = p_voter AND d.ended_at IS NULL
                AND d.elected_at <= b.created_at AND b.weights ? d.council_id::text
            ORDER BY d.id LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_in_electorate'; RETURN NEXT; RETURN;
        END IF;
        IF b.weighted THEN
            w := (b.weights ->> seat_of::text)::integer;
        END IF;
    ELSE
        SELECT m.joined_at INTO joined FROM memberships m
            WHERE m.council_id = c.id AND m.account_id = p_voter AND m.left_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_member'; RETURN NEXT; RETURN;
        END IF;
        IF b.members_since IS NULL OR joined > b.members_since THEN
            outcome := 'not_in_electorate'; RETURN NEXT; RETURN;
        END IF;
    END IF;

    -- The choice (councils.service.check_choice): yes/no/abstain, or distinct options of
    -- the ballot; an approval set is stored sorted (by code point, as Python sorts), a ranking
    -- as given and never empty.
    IF b.rule = 'yes_no' THEN
        IF jsonb_typeof(p_choice) <> 'string'
                OR p_choice #>> '{}' NOT IN ('yes', 'no', 'abstain') THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
    ELSE
        IF jsonb_typeof(p_choice) <> 'array' OR EXISTS (
            SELECT 1 FROM jsonb_array_elements(p_choice) e
            WHERE jsonb_typeof(e) <> 'string' OR NOT (b.options @> jsonb_build_array(e))
        ) THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
        SELECT count(DISTINCT e), count(*) INTO n_distinct, n FROM jsonb_array_elements(p_choice) e;
        IF n_distinct <> n OR (n = 0 AND b.rule <> 'approval') THEN
            outcome := 'bad_choice'; RETURN NEXT; RETURN;
        END IF;
        IF b.rule = 'approval' THEN
            SELECT coalesce(jsonb_agg(e ORDER BY e COLLATE "C"), '[]'::jsonb) INTO stored
                FROM jsonb_array_elements_text(p_choice) e;
        END IF;
    END IF;
    IF NOT b.weighted THEN
        w := 1;
    END IF;

    -- One member, one vote: the participation key refuses a second (a concurrent second
    -- waits for the first to commit, then finds the key taken).
    INSERT INTO ballot_participation (ballot_id, account_id) VALUES (p_ballot, p_voter)
        ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        outcome := 'already_voted'; RETURN NEXT; RETURN;
    END IF;
    vote_id := gen_random_uuid()::text;
    INSERT INTO votes (id, ballot_id, choice, weight) VALUES (vote_id, p_ballot, stored, w);
    payload := jsonb_build_object('ballot_id', p_ballot, 'account_id', p_voter);
    IF NOT b.secret THEN
        INSERT INTO open_votes (vote_id, ballot_id, account_id) VALUES (vote_id, p_ballot, p_voter);
        payload := payload || jsonb_build_object('choice', stored, 'weight', w);
    END IF;
    -- Staged for the audit chain like every other act's event (see 0004); the chainer
    -- writes the payload in canonical form.
    INSERT INTO audit_pending (kind, payload, recorded_at)
        VALUES ('ballot.voted', payload::text, p_recorded_at)
        RETURNING id INTO event_id;
    outcome := 'voted';
    weight := w;
    RETURN NEXT;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
    # Plain ADD COLUMN (no batch copy): on SQLite a batch rebuild would drop the log's triggers.
    for table in ("audit_log", "audit_pending"):
        op.add_column(table, sa.Column("state", sa.Text, nullable=True))
        op.add_column(table, sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION_0010)
    # SQLite >= 3.35 drops a column in place, keeping the triggers.
    for table in ("audit_log", "audit_pending"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN mac")
        op.execute(f"ALTER TABLE {table} DROP COLUMN state")
