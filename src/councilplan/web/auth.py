"""Accounts and who is asking: argon2 password hashes, session cookies, bearer tokens.

A token is 32 random bytes shown to the client once; the store keeps only its SHA-256, so a copy
of the database logs nobody in. Browsers get it as an HttpOnly, SameSite=Lax cookie (cross-site
form posts carry no cookie); scripts send it as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from councilplan.councils.service import Store

COOKIE = "councilplan_session"
SESSION_DAYS = 14
BEARER_DAYS = 365

_hasher = PasswordHasher()
bearer_scheme = HTTPBearer(auto_error=False, description="A token from POST /api/tokens")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; parameters from argon2-cffi's defaults)."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def login(store: Store, username: str, password: str, *, kind: str) -> tuple[int, str] | None:
    """(account id, new token) when the password is right, else None."""
    with store.transaction() as tx:
        rows = tx.find("accounts", {"username": username})
        # Verify against a dummy hash when the name is unknown, so timing does not tell.
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        if not password_matches(stored, password) or not rows:
            return None
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        days = SESSION_DAYS if kind == "session" else BEARER_DAYS
        tx.insert(
            "auth_tokens",
            {
                "token_hash": _digest(token),
                "account_id": rows[0]["id"],
                "kind": kind,
                "created_at": now,
                "expires_at": now + timedelta(days=days),
            },
        )
        return rows[0]["id"], token


def logout(store: Store, token: str) -> None:
    with store.transaction() as tx:
        tx.delete("auth_tokens", {"token_hash": _digest(token)})
    _recent.forget(store, _digest(token))


def account_for_token(store: Store, token: str) -> int | None:
    with getattr(store, "reading", store.transaction)() as tx:
        return _owner(tx.get("auth_tokens", _digest(token)))


async def account_or_401_async(store: Store, token: str | None) -> int:
    """:func:`account_or_401` for a caller on an event loop."""
    if token:
        account_id = await account_for_token_async(store, token)
        if account_id is not None:
            return account_id
    raise _not_logged_in()


async def account_for_token_async(store: Store, token: str) -> int | None:
    """:func:`account_for_token` for a caller on an event loop: awaited there when the store can
    (``is_async``, ``get_async``), else looked up in a worker thread. On the loop, a token found
    valid is trusted for :data:`TOKEN_CACHE_S` seconds in this process (:class:`_TokenCache`)."""
    if not getattr(store, "is_async", False):
        return await asyncio.to_thread(account_for_token, store, token)
    digest = _digest(token)
    account_id = _recent.get(store, digest)
    if account_id is None:
        row = await store.get_async("auth_tokens", digest)
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
