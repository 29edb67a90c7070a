"""Ballot boxes: a closed secret ballot's votes sealed in one row of ``ballot_boxes``.

Closing a secret ballot used to rewrite all its vote rows in key order (delete and insert in
one statement) so that their physical order no longer followed the order of voting. At
100,000 votes that took over 2 s: a foreign-key check per deleted row (from
``open_votes.vote_id``), a guard trigger per deleted row, and 100,000 rows re-inserted with
their indexes. Now closing deletes the rows and writes their votes, sorted, as one text
value; a recount reads one row.

- ``ballot_boxes(ballot_id, votes)``: one compact JSON ``[choice, weight]`` per line, in the
  order they were counted (new boxes: sorted, so the SHA-256 of the text is the published
  ``votes_digest``). The database refuses an insert once the ballot is closed, and any update
  or delete (PostgreSQL functions; SQLite ``RAISE(ABORT)``).
- ``open_votes.vote_id`` is no longer a foreign key to ``votes``: PostgreSQL checked it once per
  deleted vote. Open ballots' votes are never deleted (their rows stay, for accountability),
  and a closed ballot's rows cannot change, so the pairing written by ``cast_vote`` stands.
- PostgreSQL: the closed-ballot guards on deletes from ``votes``, ``ballot_participation`` and
  ``open_votes`` check once per statement over the deleted rows (0005 did this for inserts and
  updates). 0005 kept a row trigger for deletes because it fired before the foreign-key check
  from ``open_votes``, so a refused delete named the closed ballot; with that key gone, nothing
  else refuses such a delete first.
- Existing data: each closed secret ballot's vote rows move into its box, in key order (the
  order in which they were counted when it closed, which a budget's tally depends on).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

VOTE_TABLES = ("votes", "ballot_participation", "open_votes")

# The canonical form of one vote, as councils.service.ballots writes it (copied: a migration
# must not change when the code does).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION councilplan_refuse_closed_ballot_old_rows() RETURNS trigger AS $$
DECLARE
    b integer;
BEGIN
    -- The distinct ballots first: a closing ballot deletes 100,000 rows of one ballot.
    SELECT id INTO b FROM ballots
        WHERE id = ANY (ARRAY(SELECT DISTINCT ballot_id FROM old_rows)) AND status = 'closed'
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ballot % is closed: its votes cannot change', b
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_ballot_box_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM ballots WHERE id = NEW.ballot_id AND status = 'closed') THEN
            RAISE EXCEPTION 'ballot % is closed: its ballot box is sealed', NEW.ballot_id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ballot % is closed: its ballot box is sealed', OLD.ballot_id
        USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;
"""

LZ4_AVAILABLE = sa.text(
    "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)

SQLITE_GUARD = (
    "CREATE TRIGGER {table}_closed_ballot_{event} BEFORE {EVENT} ON {table} "
    "WHEN (SELECT status FROM ballots WHERE id = {row}.ballot_id) = 'closed' "
    "BEGIN SELECT RAISE(ABORT, 'ballot is closed: its votes cannot change'); END"
)
ROW = {"insert": "NEW", "update": "NEW", "delete": "OLD"}


def _sqlite_guard(table: str, event: str) -> None:
    op.execute(SQLITE_GUARD.format(table=table, event=event, EVENT=event.upper(), row=ROW[event]))


def _move_into_boxes(bind: sa.Connection) -> None:
    """Every closed secret ballot's vote rows into its box, in key order."""
    postgres = bind.dialect.name == "postgresql"
    choice = "choice::text" if postgres else "choice"
    ballots = bind.execute(
        sa.text("SELECT id FROM ballots WHERE status = 'closed' AND secret ORDER BY id")
    ).scalars()
    for ballot_id in list(ballots):
        rows = bind.execute(
            sa.text(f"SELECT id, {choice}, weight FROM votes WHERE ballot_id = :b"),
            {"b": ballot_id},
        ).all()
        rows.sort()  # key order, by Python's string order, as ballot_votes read them
        lines = [_COMPACT_JSON.encode([json.loads(c), w]) for _, c, w in rows]
        bind.execute(
            sa.text("INSERT INTO ballot_boxes (ballot_id, votes) VALUES (:b, :v)"),
            {"b": ballot_id, "v": "\n".join(lines)},
        )
        bind.execute(sa.text("DELETE FROM votes WHERE ballot_id = :b"), {"b": ballot_id})


def _move_out_of_boxes(bind: sa.Connection) -> None:
    """Every box back into vote rows, with fresh random keys inserted in key order (as 0005's
    schema kept a closed secret ballot), in the order of the box."""
    postgres = bind.dialect.name == "postgresql"
    value = "CAST(:c AS jsonb)" if postgres else ":c"
    boxes = bind.execute(sa.text("SELECT ballot_id, votes FROM ballot_boxes")).all()
    for ballot_id, text in boxes:
        votes = json.loads("[" + text.replace("\n", ",") + "]") if text else []
        keys = sorted(str(uuid.uuid4()) for _ in votes)
        rows = [
            {"id": k, "b": ballot_id, "c": json.dumps(c), "w": w}
            for k, (c, w) in zip(keys, votes, strict=True)
        ]
        if rows:
            bind.execute(
                sa.text(
                    "INSERT INTO votes (id, ballot_id, choice, weight) "
                    f"VALUES (:id, :b, {value}, :w)"
                ),
                rows,
            )


def _open_votes_without_vote_key_sqlite() -> None:
    """SQLite drops a foreign key only by rebuilding the table, which drops its triggers."""
    with op.batch_alter_table("open_votes", recreate="always") as batch:
        batch.drop_constraint("fk_open_votes_vote_id_votes", type_="foreignkey")
    for event in ROW:
        _sqlite_guard("open_votes", event)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "ballot_boxes",
        sa.Column("ballot_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ballot_id"], ["ballots.id"], name=op.f("fk_ballot_boxes_ballot_id_ballots")
        ),
        sa.PrimaryKeyConstraint("ballot_id", name=op.f("pk_ballot_boxes")),
    )
    if postgres and bind.execute(LZ4_AVAILABLE).first():
        # A 100,000-vote box is 7.7 MB of text: lz4 stores it in a quarter of pglz's time.
        op.execute("ALTER TABLE ballot_boxes ALTER COLUMN votes SET COMPRESSION lz4")
    # The delete guards come off while the closed ballots' rows move into their boxes, and go
    # back on (per statement, on PostgreSQL) before anything else can run.
    if postgres:
        op.drop_constraint("fk_open_votes_vote_id_votes", "open_votes", type_="foreignkey")
        for table in VOTE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot_delete ON {table}")
    else:
        _open_votes_without_vote_key_sqlite()
        op.execute("DROP TRIGGER IF EXISTS votes_closed_ballot_delete")
    _move_into_boxes(bind)
    if postgres:
        op.execute(PG_FUNCTIONS)
        for table in VOTE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_closed_ballot_delete AFTER DELETE ON {table} "
                "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION councilplan_refuse_closed_ballot_old_rows()"
            )
        op.execute(
            "CREATE TRIGGER ballot_boxes_sealed BEFORE INSERT OR UPDATE OR DELETE "
            "ON ballot_boxes FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_ballot_box_change()"
        )
        return
    _sqlite_guard("votes", "delete")
    op.execute(
        "CREATE TRIGGER ballot_boxes_sealed_insert BEFORE INSERT ON ballot_boxes "
        "WHEN (SELECT status FROM ballots WHERE id = NEW.ballot_id) = 'closed' "
        "BEGIN SELECT RAISE(ABORT, 'ballot is closed: its ballot box is sealed'); END"
    )
    for event in ("update", "delete"):
        op.execute(
            f"CREATE TRIGGER ballot_boxes_sealed_{event} BEFORE {event.upper()} ON ballot_boxes "
            "BEGIN SELECT RAISE(ABORT, 'ballot is closed: its ballot box is sealed'); END"
        )


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    # The boxes' votes go back into rows of their (closed) ballots: the insert guard on votes
    # is lifted meanwhile.
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS ballot_boxes_sealed ON ballot_boxes")
        op.execute("ALTER TABLE votes DISABLE TRIGGER votes_closed_ballot_insert")
        _move_out_of_boxes(bind)
        op.execute("ALTER TABLE votes ENABLE TRIGGER votes_closed_ballot_insert")
        for table in VOTE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_closed_ballot_delete ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_closed_ballot_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_closed_ballot_votes()"
            )
        op.execute("DROP FUNCTION IF EXISTS councilplan_refuse_closed_ballot_old_rows()")
        op.execute("DROP FUNCTION IF EXISTS councilplan_refuse_ballot_box_change()")
        op.create_foreign_key(
            "fk_open_votes_vote_id_votes", "open_votes", "votes", ["vote_id"], ["id"]
        )
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS ballot_boxes_sealed_{event}")
        op.execute("DROP TRIGGER IF EXISTS votes_closed_ballot_insert")
        _move_out_of_boxes(bind)
        _sqlite_guard("votes", "insert")
        with op.batch_alter_table("open_votes", recreate="always") as batch:
            batch.create_foreign_key("fk_open_votes_vote_id_votes", "votes", ["vote_id"], ["id"])
        for event in ROW:
            _sqlite_guard("open_votes", event)
    op.drop_table("ballot_boxes")
