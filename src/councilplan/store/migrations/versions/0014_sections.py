"""Sections and declared groups (issue 17): sections of a council, their members, their own
ballots and delegates, the motions they table in their council with the council's deadline;
the councils' rule ``section_motion_days``; members' declared groups (kept on the record as a
salted digest only, store/record.py SEALED).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.add_column(
        "councils",
        sa.Column("section_motion_days", sa.Integer, nullable=False, server_default="14"),
    )
    op.create_table(
        "sections",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("council_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("founded_by", sa.Integer, nullable=False),
        sa.Column("founded_at", _moment(), nullable=False),
        sa.Column("dissolved_at", _moment(), nullable=True),
        sa.Column("dissolution_ballot_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sections"),
        _fk("sections", "council_id", "councils.id"),
        _fk("sections", "founded_by", "accounts.id"),
    )
    op.create_index("ix_sections_council_id", "sections", ["council_id"])
    op.create_index(
        "uq_sections_council_name",
        "sections",
        ["council_id", "name"],
        unique=True,
        sqlite_where=sa.text("dissolved_at IS NULL"),
        postgresql_where=sa.text("dissolved_at IS NULL"),
    )
    op.create_table(
        "section_members",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("section_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("joined_at", _moment(), nullable=False),
        sa.Column("left_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_section_members"),
        _fk("section_members", "section_id", "sections.id"),
        _fk("section_members", "account_id", "accounts.id"),
    )
    op.create_index("ix_section_members_section_id", "section_members", ["section_id"])
    op.create_index(
        "uq_section_members_current",
        "section_members",
        ["section_id", "account_id"],
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )
    op.create_table(
        "section_ballots",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("section_id", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("options", _json(), nullable=False),
        sa.Column("electorate", _json(), nullable=False),
        sa.Column("opened_by", sa.Integer, nullable=False),
        sa.Column("opened_at", _moment(), nullable=False),
        sa.Column("closes_at", _moment(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("tally", _json(), nullable=True),
        sa.Column("closed_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_section_ballots"),
        _fk("section_ballots", "section_id", "sections.id"),
        _fk("section_ballots", "opened_by", "accounts.id"),
        sa.CheckConstraint(
            "purpose in ('election', 'dissolution')", name="ck_section_ballots_purpose"
        ),
        sa.CheckConstraint("status in ('open', 'closed')", name="ck_section_ballots_status"),
    )
    op.create_index("ix_section_ballots_section_id", "section_ballots", ["section_id"])
    op.create_table(
        "section_votes",
        sa.Column("ballot_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("choice", _json(), nullable=False),
        sa.Column("cast_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("ballot_id", "account_id", name="pk_section_votes"),
        _fk("section_votes", "ballot_id", "section_ballots.id"),
        _fk("section_votes", "account_id", "accounts.id"),
    )
    op.create_table(
        "section_delegates",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("section_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("ballot_id", sa.Integer, nullable=False),
        sa.Column("elected_at", _moment(), nullable=False),
        sa.Column("ended_at", _moment(), nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_section_delegates"),
        _fk("section_delegates", "section_id", "sections.id"),
        _fk("section_delegates", "account_id", "accounts.id"),
        _fk("section_delegates", "ballot_id", "section_ballots.id"),
    )
    op.create_index("ix_section_delegates_section_id", "section_delegates", ["section_id"])
    op.create_table(
        "section_motions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("section_id", sa.Integer, nullable=False),
        sa.Column("council_id", sa.Integer, nullable=False),
        sa.Column("motion_id", sa.Integer, nullable=False),
        sa.Column("tabled_by", sa.Integer, nullable=False),
        sa.Column("tabled_at", _moment(), nullable=False),
        sa.Column("deadline", _moment(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("ballot_id", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("decided_at", _moment(), nullable=True),
        sa.Column("breached_at", _moment(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_section_motions"),
        sa.UniqueConstraint("motion_id", name="uq_section_motions_motion_id"),
        _fk("section_motions", "section_id", "sections.id"),
        _fk("section_motions", "council_id", "councils.id"),
        _fk("section_motions", "motion_id", "motions.id"),
        _fk("section_motions", "tabled_by", "accounts.id"),
        sa.CheckConstraint("status in ('waiting', 'decided')", name="ck_section_motions_status"),
    )
    op.create_index("ix_section_motions_section_id", "section_motions", ["section_id"])
    op.create_table(
        "declared_groups",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("gender", sa.String(100), nullable=True),
        sa.Column("group_text", sa.String(200), nullable=True),
        sa.Column("group_key", sa.String(200), nullable=True),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("declared_at", _moment(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_declared_groups"),
        _fk("declared_groups", "account_id", "accounts.id"),
    )


def downgrade() -> None:
    for table in (
        "declared_groups",
        "section_motions",
        "section_delegates",
        "section_votes",
        "section_ballots",
        "section_members",
        "sections",
    ):
        op.drop_table(table)
    # In place (SQLite 3.35 and later), as 0013 drops its column.
    op.execute("ALTER TABLE councils DROP COLUMN section_motion_days")
