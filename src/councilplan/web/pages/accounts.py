"""Signing in and out, signing up, my profile: password, language and time zone."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from councilplan.councils import service as svc
from councilplan.web import auth
from councilplan.web.pages import base
from councilplan.web.pages.base import Page, PageRoute, form, go, member, one, page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Form = Annotated[dict, Depends(form)]


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _safe_next(target: str) -> str:
    """Only a path of this site (no scheme, no host, no "//"), else home. Control characters
    are refused too: browsers drop tabs and newlines from a URL, so "/\t/evil.example" would
    go to another site."""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(" " < c != "\x7f" for c in target)
    ):
        return target
    return "/"


def sign_in_page(p: Page, status: int = 200, error: str | None = None, username: str = ""):
    return render(
        p,
        "signin.html",
        status=status,
        error=error,
        username=username,
        next=_safe_next(p.request.query_params.get("next", "/")),
    )


@router.post("/signin")
def sign_in(request: Request, fields: Form, p: Page = Depends(page)) -> Response:
    username, password = one(fields, "username"), (fields.get("password") or [""])[0]
    if not username or not password:
        return sign_in_page(p, 422, p._("Give your username and your password."), username)
    try:
        found = auth.login(
            p.store,
            username,
            password,
            kind="session",
            address=_address(request),
            throttle=auth.throttle_for(request.app),
        )
    except Exception as error:  # 429 from the throttle
        status = getattr(error, "status_code", None)
        if status != 429:
            raise
        return sign_in_page(
            p, 429, p._("Too many failed sign-ins. Wait a few minutes and try again."), username
        )
    if found is None:
        return sign_in_page(p, 401, p._("That username or password is wrong."), username)
    p.cookies.append(
        (auth.COOKIE, found[1], {"samesite": "lax", "max_age": auth.SESSION_DAYS * 86400})
    )
    zone = one(fields, "tz")
    if zone and base.valid_zone(zone) and not request.cookies.get(base.TZ_COOKIE):
        p.cookies.append((base.TZ_COOKIE, zone, {"max_age": 365 * 86400}))
    return go(p, _safe_next(one(fields, "next", "/")))


@router.post("/signout")
def sign_out(fields: Form, p: Page = Depends(page)) -> Response:
    """End this session (this browser)."""
    if p.session:
        auth.logout(p.store, p.session)
    response = go(p, "/", "signed_out")
    response.delete_cookie(auth.COOKIE, path="/")
    return response


@router.post("/signout/everywhere")
def sign_out_everywhere(fields: Form, p: Page = Depends(member)) -> Response:
    """End every session and revoke every token of mine, this one included."""
    auth.revoke_all(p.store, p.account_id)
    response = go(p, "/", "signed_out_everywhere")
    response.delete_cookie(auth.COOKIE, path="/")
    return response


@router.get("/signup")
def sign_up_form(p: Page = Depends(page)) -> Response:
    return render(p, "signup.html", error=None, values={})


@router.post("/signup")
def sign_up(request: Request, fields: Form, p: Page = Depends(page)) -> Response:
    """Open an account; a council then admits her (by its ballot, or at once when a member
    has invited her: she asks to join on the council's page)."""
    values = {k: one(fields, k) for k in ("username", "display_name")}
    password = (fields.get("password") or [""])[0]
    if password != (fields.get("password_again") or [""])[0]:
        return render(p, "signup.html", 422, error=p._("The two passwords differ."), values=values)
    try:
        svc.register_account(
            p.store,
            username=values["username"],
            display_name=values["display_name"] or values["username"],
            password_hash=auth.hash_new_password(
                password, username=values["username"], display_name=values["display_name"]
            ),
        )
    except svc.Refused as refused:
        return render(p, "signup.html", refused.status, error=refused.message, values=values)
    found = auth.login(p.store, values["username"], password, kind="session")
    if found is not None:
        p.cookies.append(
            (auth.COOKIE, found[1], {"samesite": "lax", "max_age": auth.SESSION_DAYS * 86400})
        )
    return go(p, "/", "welcome")


@router.get("/profile")
def profile(p: Page = Depends(member)) -> Response:
    mine = svc.my_account(p.store, p.account_id)
    return render(p, "profile.html", mine=mine, error=None, zones=_zones(), groups=_groups(p))


@router.post("/profile/password")
def change_password(request: Request, fields: Form, p: Page = Depends(member)) -> Response:
    old, new = (fields.get("old_password") or [""])[0], (fields.get("new_password") or [""])[0]
    mine = svc.my_account(p.store, p.account_id)
    try:
        revoked = auth.change_password(
            p.store,
            p.account_id,
            old,
            new,
            keep_token=p.session,
            address=_address(request),
            throttle=auth.throttle_for(request.app),
        )
    except svc.Refused as refused:
        return render(
            p,
            "profile.html",
            refused.status,
            mine=mine,
            error=refused.message,
            zones=_zones(),
            groups=_groups(p),
        )
    if revoked is None:
        return render(
            p,
            "profile.html",
            403,
            mine=mine,
            zones=_zones(),
            groups=_groups(p),
            error=p._("Your present password is wrong."),
        )
    return go(p, "/profile", "password_changed")


@router.post("/profile/settings")
def settings(fields: Form, p: Page = Depends(page)) -> Response:
    """Language and time zone (cookies: they are the browser's, and asked for signed out)."""
    lang, zone = one(fields, "lang"), one(fields, "tz")
    if lang in base.LANGUAGES:
        p.cookies.append((base.LANG_COOKIE, lang, {"max_age": 365 * 86400}))
    if zone and base.valid_zone(zone):
        p.cookies.append((base.TZ_COOKIE, zone, {"max_age": 365 * 86400}))
    back = _safe_next(one(fields, "next", "/profile" if p.account_id else "/"))
    return go(p, back, "settings_saved")


def _groups(p: Page):
    from councilplan.web.pages.sections import declared

    return declared(p)


@cache
def _zones() -> tuple[str, ...]:
    """The time zones to choose from (read from the system's database once: 600 files)."""
    from zoneinfo import available_timezones

    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))
