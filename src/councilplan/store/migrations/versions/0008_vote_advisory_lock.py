"""PostgreSQL: ``councilplan_cast_vote`` locks the ballot's votes with a shared advisory lock
(``pg_advisory_xact_lock_shared(1129335874, ballot)``, "CPLB") instead of ``FOR SHARE`` on the
ballot's row; whatever changes a ballot takes the same key in exclusive mode first. Concurrent
share locks on one row cost a MultiXact and a WAL record each. The downgrade restores 0006's.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION councilplan_cast_vote(
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

    -- Standing: a current member of a workplace or consumer council who joined before the
    -- ballot opened; in a federation, a current delegate (with their council's weight).
    SELECT * INTO c FROM councils WHERE id = b.council_id;
    IF c.kind = 'federation' THEN
        SELECT d.council_id INTO seat_of FROM delegates d
            WHERE d.federation_id = c.id AND d.account_id = p_voter AND d.ended_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_current_delegate'; RETURN NEXT; RETURN;
        END IF;
        IF c.weighted_votes THEN
            SELECT f.weight INTO w FROM federation_members f
                WHERE f.federation_id = c.id AND f.council_id = seat_of AND f.left_at IS NULL
                LIMIT 1;
            IF NOT FOUND THEN
                outcome := 'not_a_current_delegate'; RETURN NEXT; RETURN;
            END IF;
        END IF;
    ELSE
        SELECT m.joined_at INTO joined FROM memberships m
            WHERE m.council_id = c.id AND m.account_id = p_voter AND m.left_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_member'; RETURN NEXT; RETURN;
        END IF;
        IF joined > b.created_at THEN
            outcome := 'joined_after_ballot_opened'; RETURN NEXT; RETURN;
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

# 0006's function, put back by the downgrade.
FUNCTION_0006 = """
CREATE OR REPLACE FUNCTION councilplan_cast_vote(
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
    -- A share lock, as in the general path: a concurrent close waits for votes in flight.
    SELECT * INTO b FROM ballots WHERE id = p_ballot FOR SHARE;
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

    -- Standing: a current member of a workplace or consumer council who joined before the
    -- ballot opened; in a federation, a current delegate (with their council's weight).
    SELECT * INTO c FROM councils WHERE id = b.council_id;
    IF c.kind = 'federation' THEN
        SELECT d.council_id INTO seat_of FROM delegates d
            WHERE d.federation_id = c.id AND d.account_id = p_voter AND d.ended_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_current_delegate'; RETURN NEXT; RETURN;
        END IF;
        IF c.weighted_votes THEN
            SELECT f.weight INTO w FROM federation_members f
                WHERE f.federation_id = c.id AND f.council_id = seat_of AND f.left_at IS NULL
                LIMIT 1;
            IF NOT FOUND THEN
                outcome := 'not_a_current_delegate'; RETURN NEXT; RETURN;
            END IF;
        END IF;
    ELSE
        SELECT m.joined_at INTO joined FROM memberships m
            WHERE m.council_id = c.id AND m.account_id = p_voter AND m.left_at IS NULL
            LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'not_a_member'; RETURN NEXT; RETURN;
        END IF;
        IF joined > b.created_at THEN
            outcome := 'joined_after_ballot_opened'; RETURN NEXT; RETURN;
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
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: the service's general path, statement by statement
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION_0006)
