"""PostgreSQL: ``councilplan_cast_vote`` locks the ballot's votes with a shared advisory lock
instead of ``FOR SHARE`` on the ballot's row.

Concurrent share locks on one row cost PostgreSQL a MultiXact and a WAL record each, and every
vote on a ballot queued on that one row. Now the function takes
``pg_advisory_xact_lock_shared(1129335874, ballot)`` (1129335874 is "CPLB", councilplan's key
space), and whatever changes a ballot takes the same key in exclusive mode before it locks the
row for update (``SqlRecords.get`` with ``lock="update"``): a close still waits for the votes
in flight, and later votes wait for the close, then see it. The function is otherwise 0006's,
taken from there with the one statement replaced, so the two cannot drift apart; the
downgrade puts 0006's back.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _function_0006() -> str:
    # Alembic loads revisions by path; their module names (0006_...) cannot be imported.
    path = Path(__file__).with_name("0006_vote_function.py")
    spec = importlib.util.spec_from_file_location("councilplan_migration_0006", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FUNCTION


ROW_LOCK = """\
    -- A share lock, as in the general path: a concurrent close waits for votes in flight.
    SELECT * INTO b FROM ballots WHERE id = p_ballot FOR SHARE;
"""

ADVISORY_LOCK = """\
    -- The ballot's votes locked in share mode until commit: whatever changes a ballot locks it
    -- in exclusive mode first (SqlRecords.get with lock="update"), so a close waits for the
    -- votes in flight and later votes wait for the close, then see it. An advisory lock rather
    -- than FOR SHARE on the ballot's row: concurrent share locks on one row cost a MultiXact
    -- and a WAL record each, and every vote on a ballot would queue on that one row.
    PERFORM pg_advisory_xact_lock_shared(1129335874, p_ballot);
    SELECT * INTO b FROM ballots WHERE id = p_ballot;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: the service's general path, statement by statement
    function = _function_0006()
    if function.count(ROW_LOCK) != 1:
        raise RuntimeError("0006's councilplan_cast_vote is not the one 0008 replaces")
    op.execute(function.replace(ROW_LOCK, ADVISORY_LOCK))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function_0006())
