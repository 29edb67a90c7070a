"""What every page shares: who is asking (the session cookie), the language and time zone she
reads in, the CSRF token of her forms, and rendering a template.

Pages act through the same service functions as the JSON API (``councils.service``); a refusal
(:class:`~councilplan.councils.service.Refused`) is shown on the page with the service's own
message, never as JSON. Forms are plain HTML forms that work without script; htmx only makes a
few of them lighter (the record's verify button, a recall's progress).

CSRF: on top of the Origin check every cookie-authenticated write passes (``guards.OriginCheck``),
every form carries a token. Signed in, it is bound to the session: an HMAC of the session token
(which is HttpOnly and never shown). Signed out (sign in, sign up), it is a double-submit token:
a random value in a SameSite=Strict, HttpOnly cookie that the form must repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape

from councilplan.councils import counting
from councilplan.councils import service as svc
from councilplan.web import auth

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE.parent / "templates"
STATIC = HERE.parent / "static"
LOCALES = HERE.parent.parent / "locale"
#: The languages the pages speak, by their code: English first, each other one a catalogue.
LANGUAGES = {"en": "English", "es": "Español", "ru": "Русский"}
LANG_COOKIE = "councilplan_lang"
TZ_COOKIE = "councilplan_tz"
CSRF_COOKIE = "councilplan_csrf"
CSRF_FIELD = "csrf"
DEFAULT_TZ = "UTC"
#: A form body is small: a vote, a reason, a sheet of hours.
MAX_FORM_BYTES = 64 * 1024


# -- translations and formats -------------------------------------------------------------------


@cache
def translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    return Translations.load(str(LOCALES), [lang], domain="messages")


@cache
def environment(lang: str) -> Environment:
    """A Jinja2 environment per language (autoescaped, gettext installed): one environment
    shared by threads with its translations fixed, not swapped per request."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)
    return env


def pick_language(request: Request) -> str:
    """The member's language: her choice (a cookie), else her browser's first one we speak."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def pick_zone(request: Request) -> ZoneInfo:
    name = request.cookies.get(TZ_COOKIE) or DEFAULT_TZ
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return bool(name) and len(name) < 64


# -- who is asking ------------------------------------------------------------------------------


@dataclass
class Page:
    """One request's reader: her account (None: signed out), language, time zone and CSRF
    token; and what the page says back (``cookies`` to set)."""

    request: Request
    store: svc.Store
    account_id: int | None
    lang: str
    zone: ZoneInfo
    csrf: str
    session: str | None
    cookies: list[tuple[str, str, dict]] = field(default_factory=list)

    def _(self, message: str, **values: Any) -> str:
        text = translations(self.lang).gettext(message)
        return text % values if values else text

    # formats, in the member's language and time zone
    def when(self, moment: datetime | str | None) -> str:
        if moment is None:
            return "—"
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_datetime(moment, "medium", tzinfo=self.zone, locale=self.lang)

    def iso(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()

    def left(self, until: datetime) -> str:
        """Time left until ``until`` (e.g. "3 days"), or that it has passed."""
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        delta = until - datetime.now(UTC)
        if delta <= timedelta(0):
            return self._("closing time has passed")
        return format_timedelta(delta, threshold=1.5, locale=self.lang, add_direction=True)

    def hours(self, value: Any, places: int = 2) -> str:
        if value is None or value == "":
            return "—"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        pattern = "#,##0." + "#" * places if places else "#,##0"
        return format_decimal(round(number, places), format=pattern, locale=self.lang)

    def number(self, value: Any) -> str:
        return self.hours(value, 4)


def store_of(request: Request) -> svc.Store:
    return request.app.state.store


def csrf_for_session(session: str) -> str:
    """The CSRF token of a session's forms: bound to its (secret, HttpOnly) token."""
    return hmac.new(session.encode(), b"councilplan-csrf", hashlib.sha256).hexdigest()


def page(request: Request) -> Page:
    """The request's :class:`Page` (a sync dependency: the token lookup reads the store)."""
    store = store_of(request)
    session = request.cookies.get(auth.COOKIE)
    account_id = auth.account_for_token(store, session) if session else None
    if account_id is None:
        session = None
    cookies: list[tuple[str, str, dict]] = []
    if session:
        csrf = csrf_for_session(session)
    else:
        csrf = request.cookies.get(CSRF_COOKIE) or ""
        if len(csrf) < 32:
            csrf = secrets.token_urlsafe(32)
            cookies.append((CSRF_COOKIE, csrf, {"samesite": "strict"}))
    return Page(
        request=request,
        store=store,
        account_id=account_id,
        lang=pick_language(request),
        zone=pick_zone(request),
        csrf=csrf,
        session=session,
        cookies=cookies,
    )


class SignInFirst(Exception):
    """A page for members only, asked for without a session: to the sign-in page."""


class FormRefused(Exception):
    """A form without its CSRF token (or with another session's): 403."""


def member(request: Request) -> Page:
    """:func:`page` for a signed-in member; to the sign-in page otherwise."""
    p = page(request)
    if p.account_id is None:
        raise SignInFirst()
    return p


async def form(request: Request) -> dict[str, list[str]]:
    """The posted form's fields (urlencoded), its CSRF token checked (:class:`FormRefused`)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefused("the form is too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise FormRefused("the form could not be read") from None
    sent = (fields.get(CSRF_FIELD) or [""])[0]
    session = request.cookies.get(auth.COOKIE)
    expected = csrf_for_session(session) if session else request.cookies.get(CSRF_COOKIE, "")
    # Signed out (sign in, sign up) the double-submit cookie; a session cookie that has
    # expired is checked against that cookie too.
    ok = bool(sent) and hmac.compare_digest(sent, expected)
    if not ok and session and request.cookies.get(CSRF_COOKIE):
        ok = hmac.compare_digest(sent, request.cookies[CSRF_COOKIE])
    if not ok:
        raise FormRefused("the form's security token is missing or belongs to another session")
    return fields


def one(fields: dict[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0].strip() if values else default


# -- answers ------------------------------------------------------------------------------------


def render(p: Page, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    env = environment(p.lang)
    html = env.get_template(template).render(
        p=p,
        me=p.account_id,
        csrf=p.csrf,
        lang=p.lang,
        languages=LANGUAGES,
        locale=Locale.parse(p.lang),
        path=p.request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    finish(p, response)
    return response


def finish(p: Page, response: Response) -> Response:
    secure = p.request.url.scheme == "https"
    for name, value, extra in p.cookies:
        response.set_cookie(
            name,
            value,
            httponly=extra.get("httponly", True),
            samesite=extra.get("samesite", "lax"),
            secure=secure,
            max_age=extra.get("max_age"),
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def go(p: Page, url: str, said: str | None = None) -> Response:
    """To ``url`` after a form was acted on (303: the browser GETs it); ``said`` names the
    message the next page shows (one of :data:`SAID`)."""
    if said:
        url += ("&" if "?" in url else "?") + f"said={said}"
    return finish(p, RedirectResponse(url, status_code=303))


def refusal_text(p: Page, error: Exception) -> str:
    """What a member reads when the service refused her act: its own message (which names
    what was wrong and where)."""
    if isinstance(error, svc.Refused):
        return error.message
    if isinstance(error, counting.CountingError):
        return str(error)
    return str(error)


def status_of(error: Exception) -> int:
    return error.status if isinstance(error, svc.Refused) else 409


REFUSALS = (svc.Refused, svc.GuardRefused, counting.CountingError)


class PageRoute(APIRoute):
    """A route of the pages: a refusal or a missing thing is an HTML page, not the API's JSON;
    a member-only page asked for signed out goes to the sign-in page; a form without its CSRF
    token is refused with 403."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInFirst:
                target = request.url.path
                return RedirectResponse(f"/?next={target}", status_code=303)
            except FormRefused as refused:
                return error_page(request, 403, str(refused), csrf=True)
            except REFUSALS as error:
                return error_page(request, status_of(error), refusal_text(None, error))

        return answered


def error_page(request: Request, status: int, message: str, *, csrf: bool = False) -> Response:
    p = page(request)
    return render(p, "error.html", status=status, message=message, csrf_refused=csrf)


def names_of(store: svc.Store, account_ids) -> dict[int, str]:
    """Display names of accounts, for lists of members and delegates (read through the same
    Records interface the service's acts use)."""
    out: dict[int, str] = {}
    with store.reading() as tx:
        for account_id in set(account_ids):
            if account_id is None:
                continue
            row = tx.account(account_id)
            if row is not None:
                out[account_id] = row["display_name"] or row["username"]
    return out


def usernames_of(store: svc.Store, account_ids) -> dict[int, str]:
    out: dict[int, str] = {}
    with store.reading() as tx:
        for account_id in set(account_ids):
            row = tx.account(account_id) if account_id is not None else None
            if row is not None:
                out[account_id] = row["username"]
    return out


def account_by_username(store: svc.Store, username: str) -> int | None:
    from councilplan.councils import names

    with store.reading() as tx:
        row = tx.account_by_name_key(names.name_key(username))
    return row["id"] if row else None


def councils_by_id(store: svc.Store) -> dict[int, svc.Council]:
    return {c.id: c for c in svc.list_councils(store)}
