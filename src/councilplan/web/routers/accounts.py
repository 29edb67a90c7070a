"""Accounts, logging in and out (session cookie or bearer token), and who I am."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from councilplan.councils import service as svc
from councilplan.web import auth, guards
from councilplan.web.deps import Me, StoreDep
from councilplan.web.schemas import AccountIn, LoginIn, PasswordIn

router = APIRouter(tags=["accounts"], route_class=guards.JSONRoute)


@router.post("/api/accounts", status_code=201)
def register(body: AccountIn, store: StoreDep) -> dict:
    """Open an account (the password is stored only as an argon2 hash)."""
    account_id = svc.register_account(
        store,
        username=body.username,
        display_name=body.display_name or body.username,
        password_hash=auth.hash_new_password(
            body.password, username=body.username, display_name=body.display_name or ""
        ),
    )
    return {"id": account_id, "username": body.username}


@router.post("/api/session")
def log_in(body: LoginIn, response: Response, request: Request, store: StoreDep) -> dict:
    """Log in a browser: sets an HttpOnly session cookie."""
    found = _log_in(request, store, body, "session")
    response.set_cookie(
        auth.COOKIE,
        found[1],
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=auth.SESSION_DAYS * 86400,
    )
    return {"account_id": found[0]}


@router.delete("/api/session")
def log_out(
    response: Response,
    _me: Me,
    store: StoreDep,
    token: str | None = Depends(auth.presented_token),
) -> dict:
    """End this session (or revoke this bearer token)."""
    if token:
        auth.logout(store, token)
    response.delete_cookie(auth.COOKIE)
    return {"logged_out": True}


@router.post("/api/tokens", status_code=201)
def bearer_token(body: LoginIn, request: Request, store: StoreDep) -> dict:
    """A bearer token for scripts: send ``Authorization: Bearer <token>``."""
    found = _log_in(request, store, body, "bearer")
    return {"account_id": found[0], "token": found[1], "token_type": "bearer"}


@router.delete("/api/tokens")
def revoke_tokens(response: Response, me: Me, store: StoreDep) -> dict:
    """Revoke every token and session of mine, this one included."""
    revoked = auth.revoke_all(store, me)
    response.delete_cookie(auth.COOKIE)
    return {"revoked": revoked}


@router.post("/api/me/password")
def change_password(
    body: PasswordIn,
    request: Request,
    me: Me,
    store: StoreDep,
    token: str | None = Depends(auth.presented_token),
) -> dict:
    """Change my password (the old one required); every other token of mine is revoked."""
    revoked = auth.change_password(
        store,
        me,
        body.old_password,
        body.new_password,
        keep_token=token,
        address=_address(request),
        throttle=auth.throttle_for(request.app),
    )
    if revoked is None:
        raise HTTPException(
            status_code=403,
            detail={
                "reason": "wrong_password",
                "field": "old_password",
                "message": "the old password is wrong",
            },
        )
    return {"changed": True, "revoked": revoked}


@router.get("/api/me")
def me(me: Me, store: StoreDep) -> dict:
    """Who I am, the councils I belong to and the mandates I hold."""
    return svc.as_dict(svc.my_account(store, me))


def _log_in(request: Request, store: svc.Store, body: LoginIn, kind: str) -> tuple[int, str]:
    """(account id, token) for a right password, through the login throttle; else 401."""
    found = auth.login(
        store,
        body.username,
        body.password,
        kind=kind,
        address=_address(request),
        throttle=auth.throttle_for(request.app),
    )
    if found is None:
        raise HTTPException(
            status_code=401,
            detail={
                "reason": "bad_login",
                "field": "password",
                "message": "username or password is wrong",
            },
        )
    return found


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None
