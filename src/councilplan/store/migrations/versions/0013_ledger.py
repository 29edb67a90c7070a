"""Labour-time accounts (issue 15): ledger accounts with maintained balances, append-only
transfers, the levy of each adopted plan; a period's public goods and common reserves; the
workplace councils' rule ``hours_recorded_by``.

Guards, both databases: a transfer is never changed or removed (a mistake is undone by a
reversing transfer); an account that may not go below zero does not (a check constraint).
A federation's rule ``ledger_persons`` says how its transfers show persons.
PostgreSQL also gets ``councilplan_ledger_post(_many)``: recordings of hours and draws, one
call for a batch of them.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


PG_GUARD = """
CREATE FUNCTION councilplan_transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'transfers are append-only: transfer % is never changed or removed; '
        'undo it by a reversing transfer', OLD.tid;
END $$;
CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION councilplan_transfers_append_only();
"""

# One recording of hours or one draw in one call (PostgreSQL): the act's rules checked against
# what the caller computed its transfers from, then its accounts opened, locked, moved and its
# transfers kept, as ``councils.service.ledger.post`` does (docs/ledger.md). It answers
# ``posted`` with the changes it made, as the record keeps them (store/record.py), and the ids
# of the act's accounts; anything else (``refused``, ``stale``, ``overdrawn``) is rolled back
# (``councilplan_ledger_post_many``) and the caller takes the general path, which names the
# refusal or acts on what is now in force. tests/test_ledger_function.py compares the two.
PG_POST = """
CREATE FUNCTION councilplan_ledger_post(
    p_check jsonb, p_accounts jsonb, p_transfers jsonb, p_now timestamptz, p_now_text text
) RETURNS TABLE (outcome text, changes jsonb, ids jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    c councils%ROWTYPE;
    v_act text := p_check ->> 'act';
    v_member integer := (p_check ->> 'member')::integer;
    v_actor integer := (p_check ->> 'actor')::integer;
    v_period integer := (p_check ->> 'period')::integer;
    found_period integer;
    found_rate text;
    found_variant integer;
    found_persons text;
    a jsonb;
    t jsonb;
    v_id integer;
    v_balance bigint;
    new_id integer;
    tr_id integer;
    amount bigint;
    kinds jsonb := '{}';
    bal jsonb := '{}';
    before jsonb := '{}';
    ch jsonb := '[]';
BEGIN
    changes := NULL; ids := NULL;
    IF v_act = 'hours' THEN
        -- record_hours: a workplace council; never one's own hours; the recorder in standing
        -- (a current member; a current delegate where the rule hours_recorded_by says so);
        -- the worker a current member; the plan in force, its levy and its federation's rule
        -- ledger_persons (the act's public record follows it) those the caller used.
        SELECT * INTO c FROM councils WHERE id = (p_check ->> 'workplace')::integer;
        IF NOT FOUND OR c.kind <> 'workplace' OR v_actor = v_member
            OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.council_id = c.id
                           AND m.account_id = v_actor AND m.left_at IS NULL)
            OR (c.hours_recorded_by = 'delegate' AND NOT EXISTS (
                SELECT 1 FROM delegates d WHERE d.council_id = c.id
                    AND d.account_id = v_actor AND d.ended_at IS NULL))
            OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.council_id = c.id
                           AND m.account_id = v_member AND m.left_at IS NULL) THEN
            outcome := 'refused'; RETURN NEXT; RETURN;
        END IF;
        SELECT p.id, l.rate, fc.ledger_persons INTO found_period, found_rate, found_persons
            FROM periods p LEFT JOIN levies l ON l.period_id = p.id
            JOIN councils fc ON fc.id = p.federation_id
            WHERE p.status = 'adopted' AND (p.federation_id = c.id OR EXISTS (
                SELECT 1 FROM federation_members f WHERE f.federation_id = p.federation_id
                    AND f.council_id = c.id AND f.left_at IS NULL))
            ORDER BY p.adopted_at DESC, p.id LIMIT 1;
        IF found_period IS DISTINCT FROM v_period
                OR found_rate IS DISTINCT FROM p_check ->> 'rate'
                OR found_persons IS DISTINCT FROM p_check ->> 'persons' THEN
            outcome := 'stale'; RETURN NEXT; RETURN;
        END IF;
    ELSIF v_act = 'draw' THEN
        -- draw_goods: an account that belongs to a council; the plan in force for her (the
        -- latest adopted, with its levy, of a federation one of her councils belongs to), its
        -- adopted variant and its federation's rule ledger_persons those the caller used.
        SELECT q.id, q.adopted_variant_id, q.ledger_persons
            INTO found_period, found_variant, found_persons FROM (
            SELECT DISTINCT ON (m.id) m.id AS membership, p.id, p.adopted_at,
                   p.adopted_variant_id, l.period_id AS levied, fc.ledger_persons
            FROM memberships m
            JOIN periods p ON p.status = 'adopted' AND (p.federation_id = m.council_id
                OR EXISTS (SELECT 1 FROM federation_members f
                           WHERE f.federation_id = p.federation_id
                               AND f.council_id = m.council_id AND f.left_at IS NULL))
            LEFT JOIN levies l ON l.period_id = p.id
            JOIN councils fc ON fc.id = p.federation_id
            WHERE m.account_id = v_member AND m.left_at IS NULL
            ORDER BY m.id, p.adopted_at DESC, p.id
        ) q WHERE q.levied IS NOT NULL ORDER BY q.adopted_at DESC, q.membership LIMIT 1;
        IF NOT FOUND THEN
            outcome := 'refused'; RETURN NEXT; RETURN;
        END IF;
        IF found_period IS DISTINCT FROM v_period
                OR found_variant IS DISTINCT FROM (p_check ->> 'variant')::integer
                OR found_persons IS DISTINCT FROM p_check ->> 'persons' THEN
            outcome := 'stale'; RETURN NEXT; RETURN;
        END IF;
    ELSE
        RAISE EXCEPTION 'councilplan_ledger_post: no act %', v_act;
    END IF;

    -- The accounts, in the caller's order (councils.service.ledger._lock_order), opened on
    -- first use and locked.
    FOR a IN SELECT value FROM jsonb_array_elements(p_accounts) LOOP
        SELECT id, balance INTO v_id, v_balance FROM ledger_accounts
            WHERE key = a ->> 'key' FOR UPDATE;
        IF NOT FOUND THEN
            new_id := NULL;
            INSERT INTO ledger_accounts (key, kind, owner, period, balance, opened_at)
                VALUES (a ->> 'key', a ->> 'kind', a ->> 'owner', a ->> 'period', 0, p_now)
                ON CONFLICT (key) DO NOTHING RETURNING id INTO new_id;
            IF new_id IS NOT NULL THEN  -- else another act opened it first: theirs on record
                ch := ch || jsonb_build_array(jsonb_build_array('insert', 'ledger_accounts',
                    jsonb_build_object('id', new_id, 'key', a -> 'key', 'kind', a -> 'kind',
                        'owner', a -> 'owner', 'period', a -> 'period', 'balance', 0,
                        'opened_at', p_now_text)));
            END IF;
            SELECT id, balance INTO v_id, v_balance FROM ledger_accounts
                WHERE key = a ->> 'key' FOR UPDATE;
        END IF;
        ids := coalesce(ids, '{}') || jsonb_build_object(a ->> 'key', v_id);
        bal := bal || jsonb_build_object(a ->> 'key', v_balance);
        kinds := kinds || jsonb_build_object(a ->> 'key', a -> 'kind');
    END LOOP;
    before := bal;

    -- The balances moved; an account that may not go below zero refuses the act.
    FOR t IN SELECT value FROM jsonb_array_elements(p_transfers) LOOP
        amount := (t ->> 'amount')::bigint;
        bal := bal || jsonb_build_object(
            t ->> 'debit', (bal ->> (t ->> 'debit'))::bigint - amount);
        bal := bal || jsonb_build_object(
            t ->> 'credit', (bal ->> (t ->> 'credit'))::bigint + amount);
        IF (bal ->> (t ->> 'debit'))::bigint < 0
                AND kinds ->> (t ->> 'debit') NOT IN ('labour_fund', 'issue') THEN
            outcome := 'overdrawn'; ids := NULL; RETURN NEXT; RETURN;
        END IF;
    END LOOP;
    FOR a IN SELECT value FROM jsonb_array_elements(p_accounts) LOOP
        IF bal -> (a ->> 'key') <> before -> (a ->> 'key') THEN
            UPDATE ledger_accounts SET balance = (bal ->> (a ->> 'key'))::bigint
                WHERE id = (ids ->> (a ->> 'key'))::integer;
            ch := ch || jsonb_build_array(jsonb_build_array('update', 'ledger_accounts',
                (ids -> (a ->> 'key')), jsonb_build_object('balance', bal -> (a ->> 'key'))));
        END IF;
    END LOOP;

    -- The transfers kept, as the record keeps a row (every column).
    FOR t IN SELECT value FROM jsonb_array_elements(p_transfers) LOOP
        INSERT INTO transfers (tid, debit_id, credit_id, amount, kind, reverses, reason, ref,
                               made_by, made_at, period_id)
            VALUES (t ->> 'tid', (ids ->> (t ->> 'debit'))::integer,
                    (ids ->> (t ->> 'credit'))::integer, (t ->> 'amount')::bigint,
                    t ->> 'kind', NULL, t ->> 'reason', t -> 'ref',
                    (t ->> 'made_by')::integer, p_now, v_period)
            RETURNING id INTO tr_id;
        ch := ch || jsonb_build_array(jsonb_build_array('insert', 'transfers', jsonb_build_object(
            'id', tr_id, 'tid', t -> 'tid', 'debit_id', ids -> (t ->> 'debit'),
            'credit_id', ids -> (t ->> 'credit'), 'amount', t -> 'amount', 'kind', t -> 'kind',
            'reverses', NULL, 'reason', t -> 'reason', 'ref', t -> 'ref',
            'made_by', t -> 'made_by', 'made_at', p_now_text, 'period_id', v_period)));
    END LOOP;
    outcome := 'posted';
    changes := ch;
    RETURN NEXT;
END $$;

-- Several acts in one statement (a batch of store.postgres.LedgerPoster), each in order and
-- each in a subtransaction of its own: an act not posted leaves nothing behind (an account
-- it opened, the locks it took), and the rest are posted. All the batch's accounts are locked
-- first, in the one order every act locks in (the service's _lock_order: a federation's
-- accounts last, each group by key as Python orders text, which is collation "C"), so that
-- batches and single acts never wait on each other in a circle.
CREATE FUNCTION councilplan_ledger_post_many(p_acts jsonb)
RETURNS TABLE (outcome text, changes jsonb, ids jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    a jsonb;
    r record;
BEGIN
    PERFORM 1 FROM ledger_accounts WHERE key IN (
        SELECT jsonb_array_elements(b -> 'accounts') ->> 'key'
        FROM jsonb_array_elements(p_acts) AS b)
    ORDER BY kind IN ('common_fund', 'goods', 'issue'), key COLLATE "C" FOR UPDATE;
    FOR a IN SELECT value FROM jsonb_array_elements(p_acts) LOOP
        BEGIN
            SELECT * INTO r FROM councilplan_ledger_post(a -> 'check', a -> 'accounts',
                a -> 'transfers', (a ->> 'now')::timestamptz, a ->> 'now_text');
            IF r.outcome <> 'posted' THEN
                RAISE EXCEPTION USING ERRCODE = 'CPL01', MESSAGE = r.outcome;
            END IF;
            outcome := r.outcome; changes := r.changes; ids := r.ids;
        EXCEPTION WHEN SQLSTATE 'CPL01' THEN
            outcome := SQLERRM; changes := NULL; ids := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
"""

SQLITE_GUARDS = tuple(
    f"CREATE TRIGGER transfers_append_only_{event} BEFORE {event.upper()} ON transfers "
    "BEGIN SELECT RAISE(ABORT, 'transfers are append-only: undo one by a reversing transfer'); "
    "END"
    for event in ("update", "delete")
)


def upgrade() -> None:
    op.add_column(
        "councils",
        sa.Column("hours_recorded_by", sa.String(10), nullable=False, server_default="member"),
    )
    op.add_column(
        "councils",
        sa.Column("ledger_persons", sa.String(10), nullable=False, server_default="numbered"),
    )
    op.add_column("periods", sa.Column("public_goods", _json(), nullable=True))
    op.add_column("periods", sa.Column("reserve_hours", sa.String(40), nullable=True))
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("period", sa.String(40), nullable=True),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("opened_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("key", name="uq_ledger_accounts_key"),
        sa.CheckConstraint(
            "balance >= 0 OR kind IN ('labour_fund', 'issue')",
            name="ck_ledger_accounts_not_overdrawn",
        ),
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("tid", sa.String(250), nullable=False),
        sa.Column("debit_id", sa.Integer, nullable=False),
        sa.Column("credit_id", sa.Integer, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("reverses", sa.String(250), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ref", _json(), nullable=False),
        sa.Column("made_by", sa.Integer, nullable=True),
        sa.Column("made_at", _moment(), nullable=False),
        sa.Column("period_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_transfers"),
        sa.UniqueConstraint("tid", name="uq_transfers_tid"),
        sa.UniqueConstraint("reverses", name="uq_transfers_reverses"),
        sa.ForeignKeyConstraint(
            ["debit_id"], ["ledger_accounts.id"], name="fk_transfers_debit_id_ledger_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["ledger_accounts.id"], name="fk_transfers_credit_id_ledger_accounts"
        ),
        sa.ForeignKeyConstraint(["made_by"], ["accounts.id"], name="fk_transfers_made_by_accounts"),
        sa.CheckConstraint("amount > 0", name="ck_transfers_positive"),
        sa.CheckConstraint("debit_id <> credit_id", name="ck_transfers_two_accounts"),
    )
    op.create_index("ix_transfers_debit_id_id", "transfers", ["debit_id", "id"])
    op.create_index("ix_transfers_credit_id_id", "transfers", ["credit_id", "id"])
    op.create_table(
        "levies",
        sa.Column("period_id", sa.Integer, nullable=False),
        sa.Column("federation_id", sa.Integer, nullable=False),
        sa.Column("rate", sa.String(100), nullable=False),
        sa.Column("derivation", _json(), nullable=False),
        sa.Column("computed_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("period_id", name="pk_levies"),
        sa.ForeignKeyConstraint(["period_id"], ["periods.id"], name="fk_levies_period_id_periods"),
        sa.ForeignKeyConstraint(
            ["federation_id"], ["councils.id"], name="fk_levies_federation_id_councils"
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARD)
        op.execute(PG_POST)
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS transfers_append_only ON transfers")
        op.execute("DROP FUNCTION IF EXISTS councilplan_transfers_append_only()")
        op.execute("DROP FUNCTION IF EXISTS councilplan_ledger_post_many(jsonb)")
        op.execute(
            "DROP FUNCTION IF EXISTS "
            "councilplan_ledger_post(jsonb, jsonb, jsonb, timestamptz, text)"
        )
    for table in ("levies", "transfers", "ledger_accounts"):
        op.drop_table(table)
    # In place (SQLite 3.35 and later), as 0012 drops its column.
    op.execute("ALTER TABLE periods DROP COLUMN reserve_hours")
    op.execute("ALTER TABLE periods DROP COLUMN public_goods")
    op.execute("ALTER TABLE councils DROP COLUMN ledger_persons")
    op.execute("ALTER TABLE councils DROP COLUMN hours_recorded_by")
