"""The planning cycle through the service (issue 14): economy bundles kept by their digest,
planning periods, councils' statements, plan variants and their jobs, the participatory
rounds and the councils' own answers; the councils' rule ``statements_by``.

Guards, both databases: a bundle is written once (no update or delete); a computed variant
(done or failed) does not change.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


PG_FUNCTIONS = """
CREATE FUNCTION councilplan_bundle_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'bundles are append-only: bundle % is never changed or removed',
        OLD.digest;
END $$;
CREATE FUNCTION councilplan_variant_computed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('done', 'failed') THEN
        RAISE EXCEPTION 'variant % is computed, append-only: it does not change', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bundles_written_once BEFORE UPDATE OR DELETE ON bundles
    FOR EACH ROW EXECUTE FUNCTION councilplan_bundle_written_once();
CREATE TRIGGER variants_computed BEFORE UPDATE ON variants
    FOR EACH ROW EXECUTE FUNCTION councilplan_variant_computed();
"""

SQLITE_TRIGGERS = (
    "CREATE TRIGGER bundles_written_once_update BEFORE UPDATE ON bundles "
    "BEGIN SELECT RAISE(ABORT, 'bundles are append-only: never changed or removed'); END",
    "CREATE TRIGGER bundles_written_once_delete BEFORE DELETE ON bundles "
    "BEGIN SELECT RAISE(ABORT, 'bundles are append-only: never changed or removed'); END",
    "CREATE TRIGGER variants_computed BEFORE UPDATE ON variants "
    "WHEN OLD.status IN ('done', 'failed') "
    "BEGIN SELECT RAISE(ABORT, 'a computed variant is append-only: it does not change'); END",
)


def upgrade() -> None:
    # The councils' rule for statements (docs/councils.md); existing councils keep the default.
    op.add_column(
        "councils",
        sa.Column("statements_by", sa.String(10), nullable=False, server_default="delegate"),
    )
    op.create_table(
        "bundles",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("archive", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("added_by", sa.Integer, nullable=False),
        sa.Column("added_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_bundles"),
        sa.ForeignKeyConstraint(["added_by"], ["accounts.id"], name="fk_bundles_added_by_accounts"),
    )
    op.create_table(
        "periods",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("federation_id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("bundle_digest", sa.String(64), nullable=False),
        sa.Column("starts_on", sa.String(10), nullable=False),
        sa.Column("ends_on", sa.String(10), nullable=False),
        sa.Column("limits", _json(), nullable=False),
        sa.Column("rounds", _json(), nullable=True),
        sa.Column("stating_closes_at", _moment(), nullable=False),
        sa.Column("proposing_closes_at", _moment(), nullable=False),
        sa.Column("deciding_closes_at", _moment(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("proposed_by", sa.Integer, nullable=False),
        sa.Column("proposed_at", _moment(), nullable=False),
        sa.Column("ballot_id", sa.Integer, nullable=True),
        sa.Column("opened_at", _moment(), nullable=True),
        sa.Column("adoption_ballot_id", sa.Integer, nullable=True),
        sa.Column("adopted_variant_id", sa.Integer, nullable=True),
        sa.Column("plan_digest", sa.String(64), nullable=True),
        sa.Column("adopted_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_periods"),
        sa.ForeignKeyConstraint(
            ["federation_id"], ["councils.id"], name="fk_periods_federation_id_councils"
        ),
        sa.ForeignKeyConstraint(
            ["bundle_digest"], ["bundles.digest"], name="fk_periods_bundle_digest_bundles"
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"], ["accounts.id"], name="fk_periods_proposed_by_accounts"
        ),
        sa.CheckConstraint(
            "status in ('proposed', 'open', 'refused', 'adopted')", name="ck_periods_status"
        ),
    )
    op.create_index("ix_periods_federation_id", "periods", ["federation_id"])
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("period_id", sa.Integer, nullable=False),
        sa.Column("council_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("content", _json(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("stated_by", sa.Integer, nullable=False),
        sa.Column("delegate_id", sa.Integer, nullable=True),
        sa.Column("ballot_id", sa.Integer, nullable=True),
        sa.Column("stated_at", _moment(), nullable=False),
        sa.Column("decided_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_statements"),
        sa.ForeignKeyConstraint(
            ["period_id"], ["periods.id"], name="fk_statements_period_id_periods"
        ),
        sa.ForeignKeyConstraint(
            ["council_id"], ["councils.id"], name="fk_statements_council_id_councils"
        ),
        sa.ForeignKeyConstraint(
            ["stated_by"], ["accounts.id"], name="fk_statements_stated_by_accounts"
        ),
        sa.CheckConstraint("kind in ('needs', 'techniques')", name="ck_statements_kind"),
        sa.CheckConstraint(
            "status in ('proposed', 'in_force', 'superseded', 'refused')",
            name="ck_statements_status",
        ),
    )
    op.create_index("ix_statements_period_id_council_id", "statements", ["period_id", "council_id"])
    op.create_table(
        "variants",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("period_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("constraints", _json(), nullable=False),
        sa.Column("requested_by", sa.Integer, nullable=True),
        sa.Column("requested_at", _moment(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("started_at", _moment(), nullable=True),
        sa.Column("finished_at", _moment(), nullable=True),
        sa.Column("inputs_digest", sa.String(64), nullable=True),
        sa.Column("plan_digest", sa.String(64), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_variants"),
        sa.ForeignKeyConstraint(
            ["period_id"], ["periods.id"], name="fk_variants_period_id_periods"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["accounts.id"], name="fk_variants_requested_by_accounts"
        ),
        sa.UniqueConstraint("period_id", "name", name="uq_variants_period_name"),
        sa.CheckConstraint("kind in ('plan', 'rounds')", name="ck_variants_kind"),
        sa.CheckConstraint(
            "status in ('queued', 'running', 'done', 'failed')", name="ck_variants_status"
        ),
    )
    op.create_index("ix_variants_period_id", "variants", ["period_id"])
    op.create_table(
        "job_progress",
        sa.Column("variant_id", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("done", sa.Float, nullable=False),
        sa.Column("updated_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("variant_id", name="pk_job_progress"),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variants.id"], name="fk_job_progress_variant_id_variants"
        ),
    )
    op.create_table(
        "plan_rounds",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("period_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("opened_at", _moment(), nullable=False),
        sa.Column("closes_at", _moment(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("state", _json(), nullable=False),
        sa.Column("outcome", _json(), nullable=True),
        sa.Column("closed_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_rounds"),
        sa.ForeignKeyConstraint(
            ["period_id"], ["periods.id"], name="fk_plan_rounds_period_id_periods"
        ),
        sa.UniqueConstraint("period_id", "number", name="uq_plan_rounds_period_number"),
        sa.CheckConstraint("status in ('open', 'closed')", name="ck_plan_rounds_status"),
    )
    op.create_index("ix_plan_rounds_period_id", "plan_rounds", ["period_id"])
    op.create_table(
        "round_answers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("round_id", sa.Integer, nullable=False),
        sa.Column("council_id", sa.Integer, nullable=False),
        sa.Column("answered_by", sa.Integer, nullable=False),
        sa.Column("answer", _json(), nullable=False),
        sa.Column("answered_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_round_answers"),
        sa.ForeignKeyConstraint(
            ["round_id"], ["plan_rounds.id"], name="fk_round_answers_round_id_plan_rounds"
        ),
        sa.ForeignKeyConstraint(
            ["council_id"], ["councils.id"], name="fk_round_answers_council_id_councils"
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["accounts.id"], name="fk_round_answers_answered_by_accounts"
        ),
        sa.UniqueConstraint("round_id", "council_id", name="uq_round_answers_round_council"),
    )
    op.create_index("ix_round_answers_round_id", "round_answers", ["round_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTIONS)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS variants_computed ON variants")
        op.execute("DROP TRIGGER IF EXISTS bundles_written_once ON bundles")
        op.execute("DROP FUNCTION IF EXISTS councilplan_variant_computed()")
        op.execute("DROP FUNCTION IF EXISTS councilplan_bundle_written_once()")
    for table in (
        "round_answers",
        "plan_rounds",
        "job_progress",
        "variants",
        "statements",
        "periods",
        "bundles",
    ):
        op.drop_table(table)
    # In place on both databases (SQLite 3.35 and later): a batch copy of councils would trip
    # the triggers of 0010 that name it.
    op.execute("ALTER TABLE councils DROP COLUMN statements_by")
