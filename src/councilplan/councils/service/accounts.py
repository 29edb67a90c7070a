"""Accounts: opening one. Names follow councils/names.py: compared by their folded key (case
and width ignored), refused when invisible characters or look-alike letters could pass one name
off as another."""

from __future__ import annotations

import secrets
from datetime import datetime

from councilplan.councils import names
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    Refused,
    get_account,
    now_utc,
    record,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Store
from councilplan.councils.service.results import (
    MyAccount,
    commission_seat_result,
    delegate_result,
)

NAME_KEY_LIMIT = 64  # characters of a username's folded key (NFKC can lengthen a name)

# ---------------------------------------------------------------------------------------------
# Accounts and councils.


def checked_name(value: str, field: str) -> str:
    """``value`` when it may name an account or a council; else Invalid naming the character."""
    unfit = names.unfit_name(value, field)
    if unfit is not None:
        raise Invalid(unfit.reason, unfit.message, unfit.field)
    return value


def register_account(
    store: Store,
    *,
    username: str,
    display_name: str,
    password_hash: str,
    now: datetime | None = None,
) -> int:
    """Create an account (the password is hashed by the caller, e.g. argon2) and return its id.
    A username is taken when another's is the same after NFKC and case folding ("Ada", "ada"
    and "Ａｄａ" are one name); the database's unique ``name_key`` says so again."""
    now = now_utc(now)
    username = text_field(username, "username", limit=64)
    if not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid(
            "bad_username", "username: use letters, digits, '.', '_' and '-' only", "username"
        )
    checked_name(username, "username")
    key = names.name_key(username)
    if len(key) > NAME_KEY_LIMIT:
        raise Invalid(
            "too_long",
            f"username: {len(key)} characters once compatibility characters are spelled out "
            f"(NFKC), at most {NAME_KEY_LIMIT}; choose a shorter one",
            "username",
        )
    display_name = checked_name(
        text_field(display_name or username, "display_name", limit=200), "display_name"
    )
    taken = Conflict(
        "username_taken",
        f"username: {username!r} is taken (names are the same whatever their case or width); "
        "choose another",
        "username",
    )
    with store.transaction() as tx:
        if tx.account_by_name_key(key) is not None:
            raise taken
        try:
            account_id = tx.add_account(
                {
                    "username": username,
                    "name_key": key,
                    "display_name": display_name,
                    "password_hash": password_hash,
                    "created_at": now,
                }
            )
        except Duplicate:
            raise taken from None
        record(tx, "account.registered", {"account_id": account_id, "username": username}, now)
    return account_id


def my_account(store: Store, account_id: int) -> MyAccount:
    """``account_id``'s own account: names, current councils, mandates and commission seats."""
    with store.transaction() as tx:
        account = get_account(tx, account_id)
        return MyAccount(
            id=account_id,
            username=account["username"],
            display_name=account["display_name"],
            councils=tuple(m["council_id"] for m in tx.memberships_of(account_id)),
            delegacies=tuple(delegate_result(d) for d in tx.delegates(account_id=account_id)),
            commission_seats=tuple(
                commission_seat_result(c) for c in tx.commission_seats(account_id=account_id)
            ),
        )


def anonymise_account(
    store: Store, *, account_id: int, actor_id: int, now: datetime | None = None
) -> MyAccount:
    """A member who has left every council has her personal data taken out: her username and
    display name become a random "former-…" name, her password and login tokens are gone.
    Her labour-time account and its transfers stay as they are (balanced and auditable: they
    name accounts by number, not persons). Only she asks for it."""
    now = now_utc(now)
    with store.transaction() as tx:
        get_account(tx, account_id)
        if actor_id != account_id:
            raise Refused(
                "not_yours",
                f"account {actor_id} may not anonymise account {account_id}; only its holder",
                "actor_id",
            )
        councils = [m["council_id"] for m in tx.memberships_of(account_id)]
        if councils:
            raise Conflict(
                "still_a_member",
                f"account {account_id} still belongs to councils {councils}; leave them first",
                "account_id",
            )
        name = f"former-{secrets.token_hex(6)}"
        tx.set_account_identity(
            account_id,
            {
                "username": name,
                "name_key": names.name_key(name),
                "display_name": "Former member",
                "password_hash": "!",
            },
        )
        for token in tx.tokens_of(account_id):
            tx.delete_token(token["token_hash"])
        record(tx, "account.anonymised", {"account_id": account_id}, now)
    return my_account(store, account_id)
