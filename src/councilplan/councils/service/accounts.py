"""Accounts: opening one."""

from __future__ import annotations

from datetime import datetime

from councilplan.councils.service.records import (
    Conflict,
    Duplicate,
    Invalid,
    Store,
    _now,
    _record,
    _text,
)

# ---------------------------------------------------------------------------------------------
# Accounts and councils.


def register_account(
    store: Store,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    now: datetime | None = None,
) -> int:
    """Create an account (the password is hashed by the caller, e.g. argon2) and return its id."""
    now = _now(now)
    username = _text(username, "username", limit=64)
    if not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid(
            "bad_username", "username: use letters, digits, '.', '_' and '-' only", "username"
        )
    display_name = _text(display_name or username, "display_name", limit=200)
    with store.transaction() as tx:
        try:
            account_id = tx.insert(
                "accounts",
                {
                    "username": username,
                    "display_name": display_name,
                    "password_hash": password_hash,
                    "created_at": now,
                },
            )
        except Duplicate:
            raise Conflict(
                "username_taken", f"username: {username!r} is taken; choose another", "username"
            ) from None
        _record(tx, "account.registered", {"account_id": account_id, "username": username}, now)
    return account_id
