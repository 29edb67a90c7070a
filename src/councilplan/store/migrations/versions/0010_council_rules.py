"""Council rules: admission, minimum standing, minimum ballot time; the electorate and the
federation weights fixed when a ballot opens (issue 12).

- ``councils``: the rules ``admission`` (decision, invitation, open), ``min_standing_days``,
  ``min_ballot_days``, and ``founded_by`` (the founder's membership is the one not admitted
  by an application).
- ``applications``: an account asking to join a council, a council asking to join a
  federation; the council decides.
- ``ballots``: ``members_since`` and ``weights`` fix who votes, with what weight, at opening;
  ``electorate`` is now written at opening. Open ballots get them from the old rule (members
  who joined by the opening; each affiliated council weighted by its current members).
- Guards, both databases: a membership needs an admitted application (or is the founder's at
  founding); an affiliation needs an admitted application and carries weight 1; a ballot
  stays open at least its council's minimum ballot time; the rules stay in range.
- PostgreSQL: ``councilplan_cast_vote`` in full, with the electorate fixed at opening (the
  service's general path is tests/test_vote_function.py's reference). The downgrade restores
  0008's text, also in full here.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RULES_OK = (
    "(admission = 'decision' OR (admission = 'invitation' AND kind <> 'federation') "
    "OR (admission = 'open' AND kind = 'consumer')) "
    "AND min_standing_days BETWEEN 0 AND 365 AND min_ballot_days BETWEEN 1 AND 60"
)

# SQLite's trigger conditions name the row's columns through NEW.
NEW_RULES_OK = (
    RULES_OK.replace("admission", "NEW.admission")
    .replace("kind", "NEW.kind")
    .replace("min_", "NEW.min_")
)

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

FUNCTION_0008 = """
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

PG_GUARDS = """
CREATE OR REPLACE FUNCTION councilplan_refuse_unadmitted_member() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM applications a WHERE a.council_id = NEW.council_id
            AND a.account_id = NEW.account_id AND a.status = 'admitted'
            AND a.decided_at = NEW.joined_at)
        OR EXISTS (SELECT 1 FROM councils c WHERE c.id = NEW.council_id
            AND c.founded_by = NEW.account_id AND c.created_at = NEW.joined_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'membership refused: account % was not admitted to council %',
        NEW.account_id, NEW.council_id USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_unadmitted_council() RETURNS trigger AS $$
BEGIN
    IF NEW.weight = 1 AND EXISTS (SELECT 1 FROM applications a
            WHERE a.council_id = NEW.federation_id AND a.applicant_council_id = NEW.council_id
            AND a.status = 'admitted' AND a.decided_at = NEW.joined_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'affiliation refused: council % was not admitted to federation % '
        '(or a weight was declared)', NEW.council_id, NEW.federation_id
        USING ERRCODE = 'check_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION councilplan_refuse_short_ballot() RETURNS trigger AS $$
BEGIN
    IF NEW.closes_at < NEW.opens_at + make_interval(days => (
            SELECT min_ballot_days FROM councils WHERE id = NEW.council_id)) THEN
        RAISE EXCEPTION 'ballot refused: it closes before council %''s minimum ballot time',
            NEW.council_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_admitted BEFORE INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_unadmitted_member();
CREATE TRIGGER federation_members_admitted BEFORE INSERT OR UPDATE ON federation_members
    FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_unadmitted_council();
CREATE TRIGGER ballots_min_time BEFORE INSERT ON ballots
    FOR EACH ROW EXECUTE FUNCTION councilplan_refuse_short_ballot();
"""

PG_GUARDS_DOWN = """
DROP TRIGGER IF EXISTS memberships_admitted ON memberships;
DROP TRIGGER IF EXISTS federation_members_admitted ON federation_members;
DROP TRIGGER IF EXISTS ballots_min_time ON ballots;
DROP FUNCTION IF EXISTS councilplan_refuse_unadmitted_member();
DROP FUNCTION IF EXISTS councilplan_refuse_unadmitted_council();
DROP FUNCTION IF EXISTS councilplan_refuse_short_ballot();
"""

SQLITE_GUARDS = (
    "CREATE TRIGGER memberships_admitted BEFORE INSERT ON memberships "
    "WHEN NOT EXISTS (SELECT 1 FROM applications a WHERE a.council_id = NEW.council_id "
    "AND a.account_id = NEW.account_id AND a.status = 'admitted' "
    "AND a.decided_at = NEW.joined_at) "
    "AND NOT EXISTS (SELECT 1 FROM councils c WHERE c.id = NEW.council_id "
    "AND c.founded_by = NEW.account_id AND c.created_at = NEW.joined_at) "
    "BEGIN SELECT RAISE(ABORT, 'membership refused: the account was not admitted'); END",
    "CREATE TRIGGER federation_members_admitted_insert BEFORE INSERT ON federation_members "
    "WHEN NEW.weight <> 1 OR NOT EXISTS (SELECT 1 FROM applications a "
    "WHERE a.council_id = NEW.federation_id AND a.applicant_council_id = NEW.council_id "
    "AND a.status = 'admitted' AND a.decided_at = NEW.joined_at) "
    "BEGIN SELECT RAISE(ABORT, 'affiliation refused: the council was not admitted'); END",
    "CREATE TRIGGER federation_members_weight_update BEFORE UPDATE OF weight "
    "ON federation_members WHEN NEW.weight <> 1 "
    "BEGIN SELECT RAISE(ABORT, 'affiliation refused: a weight is derived, never declared'); END",
    # julianday reads SQLAlchemy's 'YYYY-MM-DD HH:MM:SS.ffffff'; a second's slack for rounding.
    "CREATE TRIGGER ballots_min_time BEFORE INSERT ON ballots "
    "WHEN julianday(NEW.closes_at) - julianday(NEW.opens_at) < "
    "(SELECT min_ballot_days FROM councils WHERE id = NEW.council_id) - 0.00001 "
    "BEGIN SELECT RAISE(ABORT, 'ballot refused: shorter than the minimum ballot time'); END",
    f"CREATE TRIGGER councils_rules_insert BEFORE INSERT ON councils WHEN NOT ({NEW_RULES_OK}) "
    "BEGIN SELECT RAISE(ABORT, 'council rules out of range'); END",
    f"CREATE TRIGGER councils_rules_update BEFORE UPDATE ON councils WHEN NOT ({NEW_RULES_OK}) "
    "BEGIN SELECT RAISE(ABORT, 'council rules out of range'); END",
)

SQLITE_TRIGGERS = (
    "memberships_admitted",
    "federation_members_admitted_insert",
    "federation_members_weight_update",
    "ballots_min_time",
    "councils_rules_insert",
    "councils_rules_update",
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.add_column(
        "councils",
        sa.Column("admission", sa.String(12), nullable=False, server_default="decision"),
    )
    op.add_column(
        "councils",
        sa.Column("min_standing_days", sa.Integer(), nullable=False, server_default="7"),
    )
    op.add_column(
        "councils", sa.Column("min_ballot_days", sa.Integer(), nullable=False, server_default="3")
    )
    # No foreign key on SQLite (ALTER TABLE cannot add one); the service writes it.
    founded_by = (
        sa.Column("founded_by", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=True)
        if postgres
        else sa.Column("founded_by", sa.Integer(), nullable=True)
    )
    op.add_column("councils", founded_by)
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.add_column("ballots", sa.Column("members_since", sa.DateTime(timezone=True)))
    op.add_column("ballots", sa.Column("weights", json_type))
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("applicant_council_id", sa.Integer(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ballot_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(account_id IS NULL) <> (applicant_council_id IS NULL)",
            name=op.f("ck_applications_one_applicant"),
        ),
        sa.CheckConstraint(
            "status in ('pending', 'invited', 'admitted', 'refused', 'withdrawn')",
            name=op.f("ck_applications_status"),
        ),
        sa.ForeignKeyConstraint(
            ["council_id"], ["councils.id"], name=op.f("fk_applications_council_id_councils")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_applications_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["applicant_council_id"],
            ["councils.id"],
            name=op.f("fk_applications_applicant_council_id_councils"),
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["accounts.id"], name=op.f("fk_applications_invited_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    op.create_index(op.f("ix_applications_council_id"), "applications", ["council_id"])
    op.create_index(
        "uq_applications_account_open",
        "applications",
        ["council_id", "account_id"],
        unique=True,
        sqlite_where=sa.text("account_id IS NOT NULL AND status IN ('pending', 'invited')"),
        postgresql_where=sa.text("account_id IS NOT NULL AND status IN ('pending', 'invited')"),
    )
    op.create_index(
        "uq_applications_council_open",
        "applications",
        ["council_id", "applicant_council_id"],
        unique=True,
        sqlite_where=sa.text("applicant_council_id IS NOT NULL AND status = 'pending'"),
        postgresql_where=sa.text("applicant_council_id IS NOT NULL AND status = 'pending'"),
    )
    _fix_open_ballots(bind, json_type)
    # Affiliations from before: weight 1 (weights are derived per ballot now).
    bind.execute(sa.text("UPDATE federation_members SET weight = 1 WHERE weight <> 1"))
    if postgres:
        op.create_check_constraint("admission", "councils", RULES_OK.split(" AND min_")[0])
        op.create_check_constraint(
            "rule_days",
            "councils",
            "min_standing_days BETWEEN 0 AND 365 AND min_ballot_days BETWEEN 1 AND 60",
        )
        op.execute(PG_GUARDS)
        op.execute(FUNCTION)
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def _fix_open_ballots(bind, json_type) -> None:
    """Open ballots get the electorate of the rule they were opened under: members who joined
    by the opening; a federation's delegates then, each council weighted by its members."""
    open_ballots = bind.execute(
        sa.text(
            "SELECT b.id, b.council_id, b.created_at, c.kind FROM ballots b "
            "JOIN councils c ON c.id = b.council_id WHERE b.status = 'open'"
        )
    ).all()
    update = sa.text(
        "UPDATE ballots SET members_since = :since, weights = :weights, electorate = :n "
        "WHERE id = :id"
    ).bindparams(sa.bindparam("weights", type_=json_type))
    for ballot_id, council_id, created_at, kind in open_ballots:
        if kind != "federation":
            n = bind.execute(
                sa.text(
                    "SELECT count(*) FROM memberships WHERE council_id = :c "
                    "AND left_at IS NULL AND joined_at <= :t"
                ),
                {"c": council_id, "t": created_at},
            ).scalar_one()
            bind.execute(update, {"since": created_at, "weights": None, "n": n, "id": ballot_id})
            continue
        weights = {}
        for (member_council,) in bind.execute(
            sa.text(
                "SELECT council_id FROM federation_members "
                "WHERE federation_id = :f AND left_at IS NULL"
            ),
            {"f": council_id},
        ):
            members = bind.execute(
                sa.text(
                    "SELECT count(*) FROM memberships WHERE council_id = :c AND left_at IS NULL"
                ),
                {"c": member_council},
            ).scalar_one()
            if members:
                weights[str(member_council)] = members
        n = sum(
            1
            for (d_council,) in bind.execute(
                sa.text(
                    "SELECT council_id FROM delegates WHERE federation_id = :f "
                    "AND ended_at IS NULL AND elected_at <= :t"
                ),
                {"f": council_id, "t": created_at},
            )
            if str(d_council) in weights
        )
        bind.execute(update, {"since": None, "weights": weights, "n": n, "id": ballot_id})


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(FUNCTION_0008)
        op.execute(PG_GUARDS_DOWN)
        op.drop_constraint(op.f("ck_councils_admission"), "councils", type_="check")
        op.drop_constraint(op.f("ck_councils_rule_days"), "councils", type_="check")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("uq_applications_council_open", table_name="applications")
    op.drop_index("uq_applications_account_open", table_name="applications")
    op.drop_index(op.f("ix_applications_council_id"), table_name="applications")
    op.drop_table("applications")
    for column in ("weights", "members_since"):
        op.drop_column("ballots", column)
    for column in ("founded_by", "min_ballot_days", "min_standing_days", "admission"):
        op.drop_column("councils", column)
