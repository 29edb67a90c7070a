"""Accounts and who is asking: argon2 password hashes, session cookies, bearer tokens.

A token is 32 random bytes shown to the client once; the store keeps only its SHA-256, so a copy
of the database logs nobody in. Browsers get it as an HttpOnly, SameSite=Lax cookie (cross-site
form posts carry no cookie); scripts send it as ``Authorization: Bearer <token>``.

Logging in is throttled (:class:`LoginThrottle`): failed attempts are counted per account and per
client address, and past the limit the answer is 429 before any password is checked. The argon2
check (tens of milliseconds of CPU) runs outside every database transaction: on SQLite an open
write transaction holds the one write lock, and concurrent logins stalled every other act.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import secrets
import time
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from councilplan.councils import names
from councilplan.councils.service import Invalid, Records, Store
from councilplan.councils.service.records import record

COOKIE = "councilplan_session"
SESSION_DAYS = 14
BEARER_DAYS = 30.0  # default lifetime of a bearer token; $COUNCILPLAN_TOKEN_DAYS overrides it


def bearer_days() -> float:
    """How long a new bearer token lasts, in days: $COUNCILPLAN_TOKEN_DAYS, else BEARER_DAYS."""
    text = os.environ.get("COUNCILPLAN_TOKEN_DAYS")
    if not text:
        return BEARER_DAYS
    days = float(text)
    if not (days > 0 and math.isfinite(days)):
        raise ValueError(f"COUNCILPLAN_TOKEN_DAYS must be a positive number of days, not {text!r}")
    return days


_hasher = PasswordHasher()
bearer_scheme = HTTPBearer(auto_error=False, description="A token from POST /api/tokens")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; parameters from argon2-cffi's defaults)."""
    return _hasher.hash(password)


def refuse_weak_password(
    password: str, *, username: str, display_name: str = "", field: str = "password"
) -> None:
    """Invalid (422) when a password a member chooses is too easy to guess (councils/names.py:
    zxcvbn, her own names counting as words an attacker knows)."""
    unfit = names.unfit_password(password, field, user_inputs=(username, display_name))
    if unfit is not None:
        raise Invalid(unfit.reason, unfit.message, unfit.field)


def hash_new_password(password: str, *, username: str, display_name: str = "") -> str:
    """:func:`hash_password` for a password chosen when registering: refused when weak."""
    refuse_weak_password(password, username=username, display_name=display_name)
    return hash_password(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class LoginThrottle:
    """Failed password checks per account and per client address, in this process.

    At most ``per_account`` failures per account name and ``per_address`` per client address
    within ``window``; past either, the attempt is refused (429, Retry-After) without checking
    the password. Counted with the ``limits`` library (fixed windows, in-memory storage: its
    counters expire by themselves). An attempt takes its place in both counts *before* the
    password is checked, so a burst of concurrent guesses cannot all pass the limit at once; a
    right password gives the address's place back and clears the account's count.

    Per process: with ``--workers N`` each worker counts on its own (up to N times the limits).
    Behind a reverse proxy every client has the proxy's address; the address limit then applies
    to all of them together.
    """

    def __init__(
        self,
        per_account: str = "10 per 15 minutes",
        per_address: str = "50 per 15 minutes",
    ):
        self.storage = MemoryStorage()
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.account: RateLimitItem = parse(per_account)
        self.address: RateLimitItem = parse(per_address)

    def acquire(self, username: str, address: str | None) -> None:
        """Count an attempt on ``username`` from ``address``; 429 when either is at its limit."""
        if not self.limiter.hit(self.account, "account", username):
            raise self._too_many(self.account, "account", username)
        if address is not None and not self.limiter.hit(self.address, "address", address):
            self._give_back(self.account, "account", username)
            raise self._too_many(self.address, "address", address)

    def succeeded(self, username: str, address: str | None) -> None:
        """The password was right: the account's failures are forgotten, the address's place
        given back (its other failures stay counted)."""
        self.limiter.clear(self.account, "account", username)
        if address is not None:
            self._give_back(self.address, "address", address)

    def _give_back(self, item: RateLimitItem, *ids: str) -> None:
        key = item.key_for(*ids)
        if self.storage.get(key) > 0:
            self.storage.decr(key)

    def _too_many(self, item: RateLimitItem, *ids: str) -> HTTPException:
        reset_at = self.limiter.get_window_stats(item, *ids).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return HTTPException(
            status_code=429,
            detail={
                "reason": "too_many_logins",
                "field": "password" if ids[0] == "account" else None,
                "message": f"too many failed logins for this {ids[0]}; "
                f"try again in {retry_after} s",
            },
            headers={"Retry-After": str(retry_after)},
        )


def throttle_for(app) -> LoginThrottle:  # noqa: ANN001
    """The app's :class:`LoginThrottle` (made on first use)."""
    throttle = getattr(app.state, "login_throttle", None)
    if throttle is None:
        throttle = app.state.login_throttle = LoginThrottle()
    return throttle


def check_password(
    store: Store,
    username: str,
    password: str,
    *,
    address: str | None = None,
    throttle: LoginThrottle | None = None,
) -> tuple[int, str] | None:
    """(account id, the stored hash) when ``password`` is ``username``'s, else None. The hash is
    read and the transaction ended before argon2 runs; ``throttle`` refuses (429) past its limits
    before anything is read. Any spelling of the name finds the account ("ADA", "Ａｄａ": see
    names.name_key), and the throttle counts them all as one."""
    key = names.name_key(username)
    if throttle is not None:
        throttle.acquire(key, address)
    with store.reading() as tx:
        account = tx.account_by_name_key(key)
    # Verify against a dummy hash when the name is unknown, so timing does not tell.
    stored = account["password_hash"] if account is not None else _DUMMY_HASH
    if not password_matches(stored, password) or account is None:
        return None
    if throttle is not None:
        throttle.succeeded(key, address)
    return account["id"], stored


def login(
    store: Store,
    username: str,
    password: str,
    *,
    kind: str,
    address: str | None = None,
    throttle: LoginThrottle | None = None,
) -> tuple[int, str] | None:
    """(account id, new token) when the password is right, else None (429 from ``throttle``)."""
    found = check_password(store, username, password, address=address, throttle=throttle)
    if found is None:
        return None
    account_id, checked = found
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    days = SESSION_DAYS if kind == "session" else bearer_days()
    with store.transaction() as tx:
        account = tx.account(account_id)
        if account is None or account["password_hash"] != checked:
            return None  # the password changed while it was being checked
        tx.add_token(
            {
                "token_hash": _digest(token),
                "account_id": account_id,
                "kind": kind,
                "created_at": now,
                "expires_at": now + timedelta(days=days),
            },
        )
        # On record without the account: who logs in when is nobody else's business; the
        # token's row, which the state commitment fixes, names it.
        record(tx, "token.issued", {"kind": kind}, now)
    return account_id, token


def change_password(
    store: Store,
    account_id: int,
    old_password: str,
    new_password: str,
    *,
    keep_token: str | None = None,
    address: str | None = None,
    throttle: LoginThrottle | None = None,
) -> int | None:
    """Set ``account_id``'s password when ``old_password`` is right (None when it is not, 429
    from ``throttle`` as for logging in) and revoke every token of the account but
    ``keep_token``; the number revoked. Invalid (422) for a new password too easy to guess."""
    with store.reading() as tx:
        account = tx.account(account_id)
    if account is None:
        return None
    refuse_weak_password(
        new_password,
        username=account["username"],
        display_name=account["display_name"],
        field="new_password",
    )
    found = check_password(
        store, account["username"], old_password, address=address, throttle=throttle
    )
    if found is None or found[0] != account_id:
        return None
    new_hash = hash_password(new_password)  # outside the transaction, as the check was
    keep = _digest(keep_token) if keep_token else None
    with store.transaction() as tx:
        current = tx.account(account_id)
        if current is None or current["password_hash"] != found[1]:
            return None  # changed meanwhile by another request
        tx.set_password_hash(account_id, new_hash)
        revoked = _revoke(tx, account_id, keep=keep)
        record(tx, "account.password_changed", {"account_id": account_id}, datetime.now(UTC))
    _recent.forget_account(store, account_id, keep=keep)
    return revoked


def revoke_all(store: Store, account_id: int) -> int:
    """Delete every token of ``account_id`` (cookies and bearer tokens); how many there were.
    This process forgets them at once; another worker may accept one for TOKEN_CACHE_S more."""
    with store.transaction() as tx:
        revoked = _revoke(tx, account_id, keep=None)
        if revoked:
            record(tx, "tokens.revoked", {}, datetime.now(UTC))
    _recent.forget_account(store, account_id, keep=None)
    return revoked


def _revoke(tx: Records, account_id: int, *, keep: str | None) -> int:
    revoked = 0
    for row in tx.tokens_of(account_id):
        if row["token_hash"] != keep:
            revoked += tx.delete_token(row["token_hash"])
    return revoked


def logout(store: Store, token: str) -> None:
    with store.transaction() as tx:
        if tx.delete_token(_digest(token)):
            record(tx, "tokens.revoked", {}, datetime.now(UTC))
    _recent.forget(store, _digest(token))


def account_for_token(store: Store, token: str) -> int | None:
    with store.reading() as tx:
        return _owner(tx.token(_digest(token)))


async def account_or_401_async(store: Store, token: str | None) -> int:
    """:func:`account_or_401` for a caller on an event loop."""
    if token:
        account_id = await account_for_token_async(store, token)
        if account_id is not None:
            return account_id
        if await asyncio.to_thread(token_expired, store, token):
            raise _expired()
    raise _not_logged_in()


def token_expired(store: Store, token: str) -> bool:
    """Whether ``token`` is one the store knows whose time has run out."""
    with store.reading() as tx:
        row = tx.token(_digest(token))
    return row is not None and row["expires_at"] <= datetime.now(UTC)


async def account_for_token_async(store: Store, token: str) -> int | None:
    """:func:`account_for_token` for a caller on an event loop: awaited there when the store can
    (``is_async``, ``token_async``), else looked up in a worker thread. On the loop, a token found
    valid is trusted for :data:`TOKEN_CACHE_S` seconds in this process (:class:`_TokenCache`)."""
    if not store.is_async:
        return await asyncio.to_thread(account_for_token, store, token)
    digest = _digest(token)
    account_id = _recent.get(store, digest)
    if account_id is None:
        row = await store.token_async(digest)
        account_id = _owner(row)
        if account_id is not None:
            _recent.put(store, digest, account_id, row["expires_at"])
    return account_id


TOKEN_CACHE_S = 5.0


class _TokenCache:
    """Tokens this process found valid in the last few seconds: the vote endpoint's token
    lookup was a third of its database round trips. Logging out here forgets the token at
    once; a token deleted by another process (another uvicorn worker) may still be accepted
    here for up to TOKEN_CACHE_S seconds. Expiry is checked on every use."""

    def __init__(self, size: int = 100_000):
        self.size = size
        self.entries: dict[tuple[int, str], tuple[int, datetime, float]] = {}

    def get(self, store: Store, digest: str) -> int | None:
        hit = self.entries.get((id(store), digest))
        if hit is None:
            return None
        account_id, expires_at, until = hit
        if time.monotonic() > until or expires_at <= datetime.now(UTC):
            self.entries.pop((id(store), digest), None)
            return None
        return account_id

    def put(self, store: Store, digest: str, account_id: int, expires_at: datetime) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[(id(store), digest)] = (
            account_id,
            expires_at,
            time.monotonic() + TOKEN_CACHE_S,
        )

    def forget(self, store: Store, digest: str) -> None:
        self.entries.pop((id(store), digest), None)

    def forget_account(self, store: Store, account_id: int, *, keep: str | None) -> None:
        """Forget every token of ``account_id`` here but ``keep`` (a digest)."""
        for key, (owner, _expires_at, _until) in list(self.entries.items()):
            if owner == account_id and key[0] == id(store) and key[1] != keep:
                self.entries.pop(key, None)


_recent = _TokenCache()


def _owner(row: dict | None) -> int | None:
    if row is None or row["expires_at"] <= datetime.now(UTC):
        return None
    return row["account_id"]


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


async def presented_token(  # async: no I/O, so FastAPI runs it without a thread hop
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return request.cookies.get(COOKIE)


def current_account(request: Request, token: str | None = Depends(presented_token)) -> int:
    """The account making the request; 401 when there is none or the token has expired."""
    return account_or_401(request.app.state.store, token)


async def required_token(token: str | None = Depends(presented_token)) -> str:
    """The token presented, or 401 when there is none (checked before the body is read)."""
    if not token:
        raise _not_logged_in()
    return token


def account_or_401(store: Store, token: str | None) -> int:
    """The account owning ``token``; 401 when there is none or the token has expired."""
    if token:
        account_id = account_for_token(store, token)
        if account_id is not None:
            return account_id
        if token_expired(store, token):  # a second look only on the way to a refusal
            raise _expired()
    raise _not_logged_in()


def _not_logged_in() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={
            "reason": "not_logged_in",
            "field": "Authorization",
            "message": "log in: POST /api/session (cookie) or POST /api/tokens (bearer)",
        },
        headers={"WWW-Authenticate": "Bearer"},
    )


def _expired() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={
            "reason": "token_expired",
            "field": "Authorization",
            "message": "this token has expired; log in again: POST /api/session or /api/tokens",
        },
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
