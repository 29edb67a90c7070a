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


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): on SQLite a batch rebuild would drop the log's triggers.
    for table in ("audit_log", "audit_pending"):
        op.add_column(table, sa.Column("state", sa.Text, nullable=True))
        op.add_column(table, sa.Column("mac", sa.String(64), nullable=True))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place, keeping the triggers.
    for table in ("audit_log", "audit_pending"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN mac")
        op.execute(f"ALTER TABLE {table} DROP COLUMN state")
