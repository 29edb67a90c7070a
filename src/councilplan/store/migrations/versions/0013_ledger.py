"""Labour-time accounts (issue 15): ledger accounts with maintained balances, append-only
transfers, the levy of each adopted plan; a period's public goods and common reserves; the
workplace councils' rule ``hours_recorded_by``.

Guards, both databases: a transfer is never changed or removed (a mistake is undone by a
reversing transfer); an account that may not go below zero does not (a check constraint).

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
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS transfers_append_only ON transfers")
        op.execute("DROP FUNCTION IF EXISTS councilplan_transfers_append_only()")
    for table in ("levies", "transfers", "ledger_accounts"):
        op.drop_table(table)
    # In place (SQLite 3.35 and later), as 0012 drops its column.
    op.execute("ALTER TABLE periods DROP COLUMN reserve_hours")
    op.execute("ALTER TABLE periods DROP COLUMN public_goods")
    op.execute("ALTER TABLE councils DROP COLUMN hours_recorded_by")
