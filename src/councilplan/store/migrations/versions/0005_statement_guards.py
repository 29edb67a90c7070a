"""PostgreSQL: the closed-ballot guards on inserts and updates of votes, ballot_participation and
open_votes check once per statement (over its transition tables) instead of once per row.

The rule is unchanged: no insert, update or delete of a closed ballot's rows. Closing a secret
ballot rewrites all its vote rows in key order in one statement; with row triggers that was one
PL/pgSQL call and one ballots lookup per vote and per direction. Deletes keep their row trigger:
it fires before the foreign-key checks, so a refused delete still names the closed ballot.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VOTE_TABLES = ("votes", "ballot_participation", "open_votes")

FUNCTIONS = """
CREATE OR REPLACE FUNCTION councilplan_refuse_closed_ballot_new_rows() RETURNS trigger AS $$
DECLARE
    b integer;
BEGIN
    SELECT r.ballot_id INTO b FROM new_rows r JOIN ballots ON ballots.id = r.ballot_id
        WHERE ballots.status = 'closed' LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ballot % is closed: its votes cannot change', b
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_closed_ballot_changed_rows() RETURNS trigger AS $$
DECLARE
    b integer;
BEGIN
    SELECT r.ballot_id INTO b FROM (
        SELECT ballot_id FROM old_rows UNION SELECT ballot_id FROM new_rows
    ) r JOIN ballots ON ballots.id = r.ballot_id
        WHERE ballots.status = 'closed' LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ballot % is closed: its votes cannot change', b
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's guards are WHEN-clause triggers, cheap per row
    op.execute(FUNCTIONS)
    for table in VOTE_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_closed_ballot_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION councilplan_refuse_closed_ballot_new_rows()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_closed_ballot_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_closed_ballot_votes()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_closed_ballot_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION councilplan_refuse_closed_ballot_changed_rows()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in VOTE_TABLES:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot_{event} ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_closed_ballot BEFORE INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_closed_ballot_votes()"
        )
    for suffix in ("new_rows", "changed_rows"):
        op.execute(f"DROP FUNCTION IF EXISTS councilplan_refuse_closed_ballot_{suffix}()")
