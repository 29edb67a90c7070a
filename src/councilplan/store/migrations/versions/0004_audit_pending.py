"""Group commit of the audit chain on PostgreSQL: acts stage their events in audit_pending and
the events are chained into audit_log in batches, so no act holds the chain's head across its
own commit. audit_log.event_id says which staged event an entry came from.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_pending")),
    )
    # Plain ADD COLUMN (no batch copy): on SQLite a batch rebuild would drop the log's triggers.
    op.add_column("audit_log", sa.Column("event_id", sa.BigInteger, nullable=True))
    op.create_index("uq_audit_log_event_id", "audit_log", ["event_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_audit_log_event_id", table_name="audit_log")
    # SQLite >= 3.35 drops a column in place, keeping the triggers.
    op.execute("ALTER TABLE audit_log DROP COLUMN event_id")
    op.drop_table("audit_pending")
