"""Council rules: admission, minimum standing, minimum ballot time, electorate fixed at opening, derived federation weights (issue 12)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
