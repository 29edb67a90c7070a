"""Database guards: a closed ballot never changes; the audit log is append-only.

The service refuses these acts in code; the triggers refuse them again in the database, so a
bug, a second program or a hand-typed SQL statement cannot change a closed ballot's votes or
rewrite the record.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VOTE_TABLES = ("votes", "ballot_participation", "open_votes")

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION councilplan_refuse_closed_ballot_votes() RETURNS trigger AS $$
DECLARE
    b integer;
BEGIN
    IF TG_OP = 'DELETE' THEN b := OLD.ballot_id; ELSE b := NEW.ballot_id; END IF;
    IF EXISTS (SELECT 1 FROM ballots WHERE id = b AND status = 'closed') THEN
        RAISE EXCEPTION 'ballot % is closed: its votes cannot change', b
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_closed_ballot() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'closed' THEN
        RAISE EXCEPTION 'ballot % is closed: it cannot change', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: entry % cannot be changed', OLD.seq
        USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    # The head of the audit chain: seq 0 and the genesis hash until the first event.
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
        for table in VOTE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_closed_ballot BEFORE INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_closed_ballot_votes()"
            )
        op.execute(
            "CREATE TRIGGER ballots_closed BEFORE UPDATE OR DELETE ON ballots "
            "FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_closed_ballot()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_audit_change()"
        )
        return
    for table in VOTE_TABLES:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER {table}_closed_ballot_{event.lower()} BEFORE {event} ON {table} "
                f"WHEN (SELECT status FROM ballots WHERE id = {row}.ballot_id) = 'closed' "
                "BEGIN SELECT RAISE(ABORT, 'ballot is closed: its votes cannot change'); END"
            )
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER ballots_closed_{event.lower()} BEFORE {event} ON ballots "
            "WHEN OLD.status = 'closed' "
            "BEGIN SELECT RAISE(ABORT, 'ballot is closed: it cannot change'); END"
        )
        op.execute(
            f"CREATE TRIGGER audit_log_append_only_{event.lower()} BEFORE {event} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade() -> None:
    op.execute("DELETE FROM audit_head WHERE id = 1")
    if op.get_bind().dialect.name == "postgresql":
        for table in VOTE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot ON {table}")
        op.execute("DROP TRIGGER IF EXISTS ballots_closed ON ballots")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS councilplan_refuse_closed_ballot_votes()")
        op.execute("DROP FUNCTION IF EXISTS councilplan_refuse_closed_ballot()")
        op.execute("DROP FUNCTION IF EXISTS councilplan_refuse_audit_change()")
        return
    for table in VOTE_TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot_{event}")
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS ballots_closed_{event}")
        op.execute(f"DROP TRIGGER IF EXISTS audit_log_append_only_{event}")
