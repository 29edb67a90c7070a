"""Issue 12, what a browser can be made to do: each test replays the attack through the API.

A page on another origin posts a form (or fetch()es with credentials) to the API; the browser
adds the session cookie. join, leave, recall support and close take no body, so nothing but the
request's origin tells the forgery from the real thing: a forged leave unseated a delegate.
Then the headers that tell a browser what a page may do, and the docs page (/docs), which
loaded its code from a CDN without an integrity hash.
"""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from councilplan.web import auth, guards
from councilplan.web.app import create_app
from test_api import account

EVIL = "https://evil.example"
OWN = "http://testserver"  # TestClient's base URL


@pytest.fixture
def client(council_store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    monkeypatch.delenv(guards.ALLOWED_ORIGINS_ENV, raising=False)
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


def bakery_with_ada_logged_in(client):
    """ada (bearer headers returned) founds Bakery, and her browser (the client) holds her
    session cookie."""
    _, ada = account(client, "ada")
    council = client.post(
        "/api/councils", json={"name": "Bakery", "kind": "workplace"}, headers=ada
    )
    r = client.post("/api/session", json={"username": "ada", "password": "correct horse"})
    assert r.status_code == 200 and auth.COOKIE in client.cookies
    return council.json()["id"], ada


def members(client, council, headers):
    r = client.get(f"/api/councils/{council}/members", headers=headers)
    return [m["account_id"] for m in r.json()]


# -- 1. cookie-authenticated requests from another origin ----------------------------------------


@pytest.mark.parametrize(
    "forged",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": f"{EVIL}/page.html"},
        {"Origin": OWN + ":81"},
    ],
    ids=["origin", "null_origin", "referer", "other_port"],
)
def test_a_cross_origin_post_with_the_session_cookie_is_refused_and_changes_nothing(client, forged):
    council, ada = bakery_with_ada_logged_in(client)
    before = members(client, council, ada)
    assert len(before) == 1
    r = client.post(f"/api/councils/{council}/leave", headers=forged)
    assert r.status_code == 403, r.text
    assert r.json()["detail"]["reason"] == "cross_origin"
    assert r.json()["detail"]["field"] == next(iter(forged)).lower()
    assert members(client, council, ada) == before
    # DELETE too: a forged logout leaves the session alone
    assert client.delete("/api/session", headers=forged).status_code == 403
    assert client.get("/api/me").status_code == 200


def test_the_same_origin_post_with_the_session_cookie_works(client):
    council, ada = bakery_with_ada_logged_in(client)
    r = client.post(f"/api/councils/{council}/leave", headers={"Origin": OWN})
    assert r.status_code == 200, r.text
    assert members(client, council, ada) == []
    r = client.post(f"/api/councils/{council}/join", headers={"Referer": f"{OWN}/docs"})
    assert r.status_code == 201, r.text


def test_a_bearer_token_call_is_not_checked_for_its_origin(client):
    council, ada = bakery_with_ada_logged_in(client)
    client.cookies.clear()
    _, bea = account(client, "bea")
    # a token cannot be forged by a browser: what Origin says does not matter (bea's asking
    # to join is an application the council decides)
    r = client.post(f"/api/councils/{council}/join", headers={**bea, "Origin": EVIL})
    assert r.status_code == 201, r.text
    # a bearer token together with a cookie: the token is what authenticates (auth.py), so
    # this is bea asking again (409), not a cross-origin refusal (403)
    client.post("/api/session", json={"username": "ada", "password": "correct horse"})
    r = client.post(f"/api/councils/{council}/join", headers={**bea, "Origin": EVIL})
    assert r.status_code == 409 and r.json()["detail"]["reason"] == "already_applied", r.text


def test_reads_and_requests_without_origin_or_referer_are_not_refused(client):
    council, ada = bakery_with_ada_logged_in(client)
    assert client.get("/api/me", headers={"Origin": EVIL}).status_code == 200
    # browsers send Origin with every POST; a script with a cookie jar may send neither
    assert client.post(f"/api/councils/{council}/leave").status_code == 200


def test_configured_origins_are_allowed(council_store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    monkeypatch.setenv(
        guards.ALLOWED_ORIGINS_ENV, "https://plan.example, https://Other.example:8443"
    )
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        council, _ = bakery_with_ada_logged_in(c)
        r = c.post(f"/api/councils/{council}/leave", headers={"Origin": "https://plan.example"})
        assert r.status_code == 200, r.text
        r = c.post(f"/api/councils/{council}/join", headers={"Origin": EVIL})
        assert r.status_code == 403
        r = c.post(
            f"/api/councils/{council}/join", headers={"Origin": "https://other.example:8443"}
        )
        assert r.status_code == 201, r.text


def test_a_bad_allowed_origins_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(guards.ALLOWED_ORIGINS_ENV, "plan.example")
    with pytest.raises(ValueError, match=guards.ALLOWED_ORIGINS_ENV):
        guards.allowed_origins()


def test_over_https_the_own_origin_is_https(council_store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(
        create_app(council_store, close_every_s=None), base_url="https://testserver"
    ) as c:
        council, _ = bakery_with_ada_logged_in(c)
        r = c.post(f"/api/councils/{council}/leave", headers={"Origin": "http://testserver"})
        assert r.status_code == 403
        r = c.post(f"/api/councils/{council}/leave", headers={"Origin": "https://testserver"})
        assert r.status_code == 200, r.text


# -- 2. security headers -------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client):
    _, ada = account(client, "ada")
    for r in [
        client.get("/api/me", headers=ada),
        client.get("/api/me"),  # 401
        client.get("/api/nothing"),  # 404
        client.post("/api/accounts", content=b"x" * (200 * 1024)),  # 413 from the body limit
        client.get("/openapi.json"),
    ]:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, r.status_code
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in r.headers  # plain http


def test_strict_transport_security_only_over_https(council_store):
    app = create_app(council_store, close_every_s=None)
    with TestClient(app, base_url="https://testserver") as c:
        assert c.get("/api/me").headers["strict-transport-security"].startswith("max-age=")
    with TestClient(app) as c:  # X-Forwarded-Proto is uvicorn's to trust (--forwarded-allow-ips)
        r = c.get("/api/me", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in r.headers


# -- 3. the docs page from the server itself ------------------------------------------------------


def test_the_docs_page_loads_nothing_from_elsewhere_and_its_assets_are_served(client):
    r = client.get("/docs")
    assert r.status_code == 200
    page = r.text
    named = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert named, page
    assert not [u for u in named if re.match(r"(https?:)?//", u)], named
    for url in named:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc came from a CDN too


def test_the_docs_page_reads_the_openapi_version_fastapi_writes(client):
    # Swagger UI 4 (swagger-ui-bundle's) shows "Unable to render this definition" for 3.1;
    # Swagger UI 5 knows 3.1 documents (its code tests for them by the name isOAS31).
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', client.get("/docs").text)
    assert script and "isOAS31" in client.get(script.group(1)).text


def test_the_docs_page_csp_allows_its_own_init_script_and_nothing_inline_else(client):
    import base64
    import hashlib

    r = client.get("/docs")
    csp = dict(
        (d.split(" ", 1) + [""])[:2]
        for d in (p.strip() for p in r.headers["content-security-policy"].split(";"))
        if d
    )
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "frame-ancestors" in csp and csp["frame-ancestors"] == "'none'"
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp["script-src"]
    assert "'self'" in csp["script-src"]
