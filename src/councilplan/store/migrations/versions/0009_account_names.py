"""Account names compared after NFKC and case folding: ``accounts.name_key``, unique (issue 12).

"Ada", "ada" and fullwidth "Ａｄａ" are one name. The key of each existing account is computed
here (a copy of ``councils.names.name_key`` as of this revision, so that later changes to that
function do not change what this migration did).

Existing names that collide once folded: the migration changes nothing and stops, naming every
account of each collision and what to do (rename all but one, then migrate again). It does not
pick a winner itself: a renamed member could no longer log in by the name she knows.

SQLite: the column is added in place, its uniqueness is a unique index and NOT NULL is kept by
two triggers. Rebuilding the table (Alembic's batch mode) would drop ``accounts``, which every
membership, vote and mandate refers to; with foreign keys on, as councilplan's connections
have them, SQLite refuses that, and they cannot be turned off inside the migration's
transaction.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KEY_LENGTH = 255
SQLITE_NOT_NULL = """
CREATE TRIGGER accounts_name_key_{event} BEFORE {event} ON accounts
WHEN NEW.name_key IS NULL
BEGIN SELECT RAISE(ABORT, 'accounts.name_key must not be NULL'); END
"""


def name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def upgrade() -> None:
    bind = op.get_bind()
    keys = _keys_or_refuse(bind.execute(sa.text("SELECT id, username FROM accounts")).all())
    postgres = bind.dialect.name == "postgresql"
    op.add_column("accounts", sa.Column("name_key", sa.String(KEY_LENGTH), nullable=True))
    if keys:
        bind.execute(
            sa.text("UPDATE accounts SET name_key = :key WHERE id = :id"),
            [{"id": account_id, "key": key} for account_id, key in keys.items()],
        )
    if postgres:
        op.alter_column("accounts", "name_key", existing_type=sa.String(KEY_LENGTH), nullable=False)
        op.create_unique_constraint("uq_accounts_name_key", "accounts", ["name_key"])
        return
    op.create_index("uq_accounts_name_key", "accounts", ["name_key"], unique=True)
    for event in ("INSERT", "UPDATE"):
        op.execute(SQLITE_NOT_NULL.format(event=event))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("uq_accounts_name_key", "accounts", type_="unique")
    else:
        for event in ("INSERT", "UPDATE"):
            op.execute(f"DROP TRIGGER accounts_name_key_{event}")
        op.drop_index("uq_accounts_name_key", "accounts")
    op.drop_column("accounts", "name_key")  # SQLite 3.35 or later


def _keys_or_refuse(accounts) -> dict[int, str]:  # noqa: ANN001
    """{account id: key}; RuntimeError naming the accounts when two keys are the same or a key
    does not fit the column."""
    by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for account_id, username in sorted(accounts):
        by_key[name_key(username)].append((account_id, username))
    problems, to_rename = [], None
    for key, group in by_key.items():
        if len(group) > 1:
            named = " and ".join(f"{account_id} {username!r}" for account_id, username in group)
            problems.append(f"accounts {named} have the same name once folded ({key!r})")
        if len(key) > KEY_LENGTH:
            problems.append(
                f"account {group[0][0]} {group[0][1]!r}: its folded name has {len(key)} "
                f"characters, more than {KEY_LENGTH}"
            )
        if len(group) > 1 or len(key) > KEY_LENGTH:
            to_rename = to_rename or group[-1]
    if problems:
        account_id, username = to_rename
        raise RuntimeError(
            "migration 0009 (account names compared ignoring case and width) stopped and "
            "changed nothing: "
            + "; ".join(problems)
            + ". Rename all but one account of each (for example UPDATE accounts SET "
            f"username = '{username[:20]}-2' WHERE id = {account_id}, and tell that member her "
            "new name), then migrate again."
        )
    return {group[0][0]: key for key, group in by_key.items()}
