"""The interactive API docs (``/docs``) served by the server itself (issue 12).

FastAPI's Swagger UI page loads its JavaScript and CSS from a CDN (jsdelivr) without an integrity
hash: whoever serves or alters that file runs code on the docs page, with the session cookie of
whoever is logged in there. Here the assets come from the ``fastapi-offline`` package's copy of
Swagger UI 5 (which reads OpenAPI 3.1, the version FastAPI writes), under :data:`ASSETS`, and
the page's one inline script (Swagger UI's start-up) is allowed by its SHA-256 in the page's
Content-Security-Policy, nothing else inline. ReDoc (also from a CDN) and the OAuth2 redirect
page (no OAuth2 here) are not served.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from councilplan.web import links

#: Where Swagger UI's files are served.
ASSETS = "/docs-assets"
_INLINE = re.compile(r"<script>(.*?)</script>", re.S)


def csp(script_hashes: list[str]) -> str:
    """The docs page's Content-Security-Policy: the API's (guards.CSP) plus the inline scripts
    by hash; Swagger UI sets style attributes, hence 'unsafe-inline' for styles only."""
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes)
    return (
        f"default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def install(app: FastAPI) -> None:
    """Replace FastAPI's docs pages on ``app`` by one whose assets the server serves, and put
    the links between operations in the document they show (:mod:`.links`)."""
    links.install(app)
    docs_url = app.docs_url or "/docs"
    dropped = {docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes[:] = [
        r for r in app.router.routes if not (isinstance(r, Route) and r.path in dropped)
    ]
    app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url = docs_url, None, None
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="swagger-ui")
    parameters = {**(app.swagger_ui_parameters or {}), "validatorUrl": None}  # no swagger.io

    @app.get(docs_url, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=parameters,
        )
        text = bytes(page.body).decode()
        hashes = [
            base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
            for s in _INLINE.findall(text)
        ]
        page.headers["Content-Security-Policy"] = csp(hashes)
        return page
