"""The guards every request passes: a limit on request bodies, JSON read at bounded cost,
numbers and dates checked by their form before anything is computed from them, 422s that never
send back what was sent, cookie-authenticated changes refused from other origins, and security
headers on every answer. Reference: docs/api.md, Limits and Security.

Each guard answers with a 4xx that names the field at fault:

- :class:`BodyLimit` (ASGI middleware, outermost): a body over :func:`body_limit` bytes gets 413
  ``{"detail": {"reason": "body_too_large", "field": "body", ...}}``. A declared Content-Length
  over the limit is refused before a byte is read; a body without one (chunked) is counted as it
  arrives and refused once past the limit. Either way the connection is closed rather than the
  rest read.
- :class:`JSONRoute`: the routes read JSON with ``json.loads`` as FastAPI does, but what it
  cannot read (arrays nested past Python's recursion limit, an integer of more than 4,300
  digits, bytes that are not UTF-8) is a 422 ``json_invalid`` at ``["body", 0]``, not a 400 or
  a 500.
- :func:`validation_failed`: FastAPI's 422, less the ``input`` of each error. It echoed
  passwords, and whole bodies; a lone surrogate or an infinite number in it made the answer
  itself fail (a 500). Names in ``loc`` are sent back escaped where they are not text.
- :data:`SHARE_PATTERN`, :func:`bounded_hours`, :func:`in_calendar`: shares, hours and dates by
  their form. ``Fraction("1e-10000000")`` computes 10**10000000 (6.8 s of CPU; a larger exponent,
  hours), and pydantic's ``max_digits`` lets ``Decimal("1E-10000000")`` through.
- :class:`OriginCheck`: a POST, PUT, PATCH or DELETE carried by the session cookie (not a bearer
  token) whose Origin, else Referer, is not the server's own or one of
  :func:`allowed_origins` gets 403 ``cross_origin``: a page elsewhere cannot act for a member.
- :class:`SecurityHeaders` (outermost): CSP, nosniff, Referrer-Policy, X-Frame-Options, and HSTS
  on answers over https.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse

Scope = dict[str, Any]
Receive = Callable[[], Coroutine[Any, Any, dict]]
Send = Callable[[dict], Coroutine[Any, Any, None]]

#: The default limit on a request body, in bytes. The largest body the schema accepts that a
#: client is likely to send, a 20,000-character motion or mandate, is 120 KB when its text is
#: written as \\uXXXX escapes (Python's json.dumps does so by default); 64 KiB would refuse it.
MAX_BODY_BYTES = 128 * 1024
#: The environment variable that sets another limit (bytes), for ``councilplan serve`` too.
MAX_BODY_ENV = "COUNCILPLAN_MAX_BODY_BYTES"
#: The bodies that are larger by nature, with their own limits: an economy bundle's archive
#: (a 10^5-product bundle is about 40 MB), a council's statement for a planning period (up to
#: 200,000 rows of about 60 bytes), a round's answer (a town's goods). The routes check them
#: again where they name a reason of their own.
BUNDLE_BYTES = 256 * 1024 * 1024
LARGER_BODIES: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/api/bundles"), BUNDLE_BYTES),
    (
        re.compile(r"/api/periods/[0-9]+/councils/[0-9]+/(needs|techniques|statement-ballots)"),
        32 << 20,
    ),
    (re.compile(r"/api/rounds/[0-9]+/councils/[0-9]+/answer"), 4 << 20),
)


def body_limit(setting: int | None = None) -> int:
    """The body limit in bytes: ``setting``, else $COUNCILPLAN_MAX_BODY_BYTES, else
    :data:`MAX_BODY_BYTES`."""
    if setting is None:
        text = os.environ.get(MAX_BODY_ENV, "").strip()
        if not text:
            return MAX_BODY_BYTES
        if not text.isdigit() or len(text) > 15:
            raise ValueError(f"{MAX_BODY_ENV}={text!r}: write a number of bytes, e.g. 131072")
        setting = int(text)
    if setting < 1:
        raise ValueError(f"the body limit must be at least 1 byte, not {setting}")
    return setting


# -- the body limit ------------------------------------------------------------------------------


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body without a Content-Length passes the limit; FastAPI's
    handler answers it as any HTTPException (413, the detail below, connection closed)."""

    def __init__(self, limit: int):
        super().__init__(413, _too_large(limit), headers={"Connection": "close"})


def _too_large(limit: int) -> dict:
    return {
        "reason": "body_too_large",
        "field": "body",
        "message": f"the request body is over {limit:,} bytes, the most this server reads",
    }


class BodyLimit:
    """ASGI middleware: request bodies over ``limit`` bytes are refused with 413, but for the
    paths of :data:`LARGER_BODIES` (each with its own limit, at least ``limit``)."""

    def __init__(self, app: Callable, *, limit: int):
        self.app = app
        self.limit = limit

    def limit_for(self, path: str) -> int:
        for pattern, larger in LARGER_BODIES:
            if pattern.fullmatch(path):
                return max(larger, self.limit)
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                return await self._refuse(scope, receive, send, limit)
            # The server (uvicorn's h11 or httptools) delivers no more than the declared length:
            # the common case, a JSON body with its length, costs nothing more here.
            return await self.app(scope, receive, send)
        seen = 0
        started = False

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def sending(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:  # read outside a route (a route's own handler answers it)
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            {"detail": _too_large(limit)}, status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else None
    return None


# -- reading JSON --------------------------------------------------------------------------------


class _BoundedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
            except json.JSONDecodeError:
                raise
            except RecursionError:
                raise json.JSONDecodeError("arrays or objects nested too deeply", "", 0) from None
            except UnicodeDecodeError:
                raise json.JSONDecodeError("the body is not UTF-8 text", "", 0) from None
            except ValueError:  # an integer of more than sys.get_int_max_str_digits() digits
                raise json.JSONDecodeError("a number too long to read", "", 0) from None
        return self._json


class JSONRoute(APIRoute):
    """An APIRoute whose JSON body that cannot be read is a 422 json_invalid naming the body
    (FastAPI answers a RecursionError or a ValueError other than JSONDecodeError with a bare
    400, and the vote fast path had none: a 500)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(_BoundedJSONRequest(request.scope, request.receive))

        return bounded


# -- 422s without the input ----------------------------------------------------------------------


async def validation_failed(_request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 ``{"detail": [{"type", "loc", "msg", "ctx"?}]}`` without ``input``."""
    return JSONResponse({"detail": [_public(e) for e in error.errors()]}, status_code=422)


def _public(error: dict) -> dict:
    out = {
        "type": _text(error.get("type", "")),
        "loc": [p if isinstance(p, int) else _text(p) for p in error.get("loc", ())],
        "msg": _text(error.get("msg", "")),
    }
    ctx = error.get("ctx")
    if ctx:
        out["ctx"] = {_text(k): _plain(v) for k, v in ctx.items()}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int) and abs(value) < 2**53:
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    return _text(value)


def _text(value: Any, limit: int = 200) -> str:
    """``value`` as text that encodes (lone surrogates escaped), at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# -- shares, hours and dates by their form -------------------------------------------------------

#: A share as the API takes it: a decimal ("0.25", ".5", "1") or a fraction ("1/4"), 9 digits a
#: part at most. No exponent: "1e-10000000" is refused before any number is made of it.
SHARE_PATTERN = r"^(?:[0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9}|[0-9]{1,9}/[0-9]{1,9})$"


def bounded_hours(hours: Decimal) -> Decimal:
    """``hours`` if it has at most 10 digits before the point and 4 after. Pydantic's
    ``max_digits`` and ``decimal_places`` let Decimal("1E-10000000") through; a budget of it was
    stored, and its close would have made a Fraction of ten million digits."""
    if not hours.is_finite():
        raise ValueError("must be a finite number")
    _, digits, exponent = hours.as_tuple()
    text = "".join(map(str, digits))
    zeros = len(text) - len(text.rstrip("0"))  # trailing zeros after the point do not count
    dropped = min(zeros, max(0, -exponent))
    exponent += dropped
    places = max(0, -exponent)
    whole = max(0, len(text) - dropped + exponent)
    if places > 4 or whole > 10:
        raise ValueError("must have at most 10 digits before the decimal point and 4 after it")
    return hours


def in_calendar(moment: datetime) -> datetime:
    """``moment`` if it lies between the years 1 and 9999 in UTC too (the record keeps times in
    UTC; "9999-12-31T23:59:59-23:59" is past the end of Python's calendar there)."""
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("must lie between the years 1 and 9999 in UTC") from None
    return moment


# -- requests that a browser was made to send ---------------------------------------------------

#: The environment variable naming other origins whose pages may act with the session cookie:
#: ``https://plan.example, https://app.example:8443`` (scheme, host and port as a browser's
#: Origin header writes them). The server's own origin is always allowed.
ALLOWED_ORIGINS_ENV = "COUNCILPLAN_ALLOWED_ORIGINS"
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_origins(setting: str | None = None) -> frozenset[str]:
    """The origins in ``setting`` (else $COUNCILPLAN_ALLOWED_ORIGINS), written as
    ``scheme://host[:port]`` and separated by commas or spaces, normalised by :func:`origin`."""
    text = os.environ.get(ALLOWED_ORIGINS_ENV, "") if setting is None else setting
    out = set()
    for item in text.replace(",", " ").split():
        parts = urlsplit(item)
        normal = origin(item)
        if normal is None or parts.path not in ("", "/") or parts.query or "@" in parts.netloc:
            raise ValueError(
                f"{ALLOWED_ORIGINS_ENV}: {item!r} is not an origin; write scheme://host[:port], "
                "e.g. https://plan.example"
            )
        out.add(normal)
    return frozenset(out)


def origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` (lower case, without a default port) for http and
    https; None for anything else ("null", a path, a bad port)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class OriginCheck:
    """ASGI middleware: a state-changing request (POST, PUT, PATCH, DELETE) authenticated by the
    session cookie must come from the server's own origin or one of ``allowed``, by its Origin
    header, else its Referer; else 403 ``cross_origin``. The cookie authenticates when it is
    sent without a bearer token (``auth.presented_token``: a token wins). Requests with neither
    header go on: browsers send Origin with every POST, PUT, PATCH and DELETE."""

    def __init__(self, app: Callable, *, cookie: str, allowed: frozenset[str]):
        self.app = app
        self.cookie = cookie
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _STATE_CHANGING:
            return await self.app(scope, receive, send)
        headers = {}
        for name, value in scope["headers"]:
            if name in (b"cookie", b"authorization", b"origin", b"referer", b"host"):
                headers.setdefault(name, value.decode("latin-1"))
        if not self._by_cookie(headers):
            return await self.app(scope, receive, send)
        field, claimed = "origin", headers.get(b"origin")
        if claimed is None:
            field, claimed = "referer", headers.get(b"referer")
        if claimed is None:
            return await self.app(scope, receive, send)
        own = _own_origin(scope, headers.get(b"host"))
        sent = origin(claimed)
        if sent is not None and (sent == own or sent in self.allowed):
            return await self.app(scope, receive, send)
        response = JSONResponse(
            {
                "detail": {
                    "reason": "cross_origin",
                    "field": field,
                    "message": f"a request made with the session cookie must come from this "
                    f"server's own pages ({own}), not {_text(claimed, 100)!r}; scripts send "
                    "Authorization: Bearer <token>",
                }
            },
            status_code=403,
        )
        await response(scope, receive, send)

    def _by_cookie(self, headers: dict[bytes, str]) -> bool:
        scheme, _, token = headers.get(b"authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return False
        return bool(cookie_parser(headers.get(b"cookie", "")).get(self.cookie))


def _own_origin(scope: Scope, host: str | None) -> str | None:
    if not host and scope.get("server"):
        server_host, port = scope["server"]
        host = f"{server_host}:{port}" if port else server_host
    return origin(f"{scope.get('scheme', 'http')}://{host}") if host else None


# -- what a browser may do with the answers ------------------------------------------------------

#: The Content-Security-Policy of every answer but the docs page (which adds its init script's
#: hash, see :mod:`councilplan.web.apidocs`): the API's JSON is no page, so nothing else runs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: A year; sent only with answers to https requests.
HSTS = "max-age=31536000"


class SecurityHeaders:
    """ASGI middleware: every answer gets Content-Security-Policy (unless the route set its
    own), X-Content-Type-Options: nosniff, Referrer-Policy: same-origin, X-Frame-Options: DENY,
    and over https (the request's scheme: uvicorn takes it from X-Forwarded-Proto only from the
    proxies that ``--forwarded-allow-ips`` trusts) Strict-Transport-Security."""

    _ALWAYS = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self._ALWAYS
        if scope.get("scheme") == "https":
            extra += ((b"strict-transport-security", HSTS.encode()),)

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


# -- all of it, on an app ------------------------------------------------------------------------


def install(app: FastAPI, *, max_body_bytes: int | None = None) -> None:
    """Guard ``app``: call after its other middleware is added (the body limit must be outside
    it, the security headers outermost) and before its routes are declared (they take
    :class:`JSONRoute`). Also serves the docs page from the package (:mod:`.apidocs`)."""
    from councilplan.web import apidocs, auth  # auth and apidocs import nothing from here

    app.router.route_class = JSONRoute
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_middleware(OriginCheck, cookie=auth.COOKIE, allowed=allowed_origins())
    app.add_middleware(BodyLimit, limit=body_limit(max_body_bytes))
    app.add_middleware(SecurityHeaders)  # its 413s get the headers too
    apidocs.install(app)
