"""Issue 12, a server that a few bytes cannot stop: each test replays an attack through the API
and expects a prompt 4xx naming the field, never a 500 or a stall.

The attacks: a twelve-character share ("1e-10000000") that Fraction turned into a number of ten
million digits (6.8 s of CPU, before any permission check; larger exponents, hours); hours of the
same form that passed validation and would have stalled the budget's close; a 200 MiB body read
whole, and a 422 that echoed it, password included; a lone surrogate, JSON nested 1,000 deep, a
non-finite number or a date past 9999 that ended in a 500. No test asserts a time: run before the
fix, the share tests alone took minutes.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient

from councilplan.councils import service as s
from councilplan.web import auth, guards
from councilplan.web.app import create_app
from test_api import account

# Beyond a council's minimum ballot time (3 days by default).
SOON = (datetime.now(UTC) + timedelta(days=4)).isoformat()
LATER = (datetime.now(UTC) + timedelta(days=8)).isoformat()
JSON = {"Content-Type": "application/json"}
HUGE_EXPONENTS = ["1e-10000000", "1e+10000000", "1E-999999999", "1e-5000"]
LONE_SURROGATE = b'"\\ud800"'  # the JSON escape of U+D800, which is no character


@pytest.fixture
def client(council_store, monkeypatch):
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


@pytest.fixture(params=[True, False], ids=["fast_path", "route"])
def vote_client(request, council_store, monkeypatch):
    """A client whose votes are answered by the fast path (web/fastpath.py) or the route."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    app = create_app(council_store, close_every_s=None, fast_votes=request.param)
    with TestClient(app) as c:
        yield c


def field_named(r) -> str | list:
    """The field a 4xx names: a refusal's ``field``, or the ``loc`` of the first schema error."""
    detail = r.json()["detail"]
    if isinstance(detail, dict):
        return detail["field"]
    assert isinstance(detail, list) and detail, detail
    return detail[0]["loc"]


def town(client):
    """ada, a member of the workplace council Bakery; bea, a member of nothing."""
    _, ada = account(client, "ada")
    _, bea = account(client, "bea")
    council = client.post(
        "/api/councils", json={"name": "Bakery", "kind": "workplace"}, headers=ada
    )
    return council.json()["id"], ada, bea


def post_json(client, url, raw: bytes, headers):
    return client.post(url, content=raw, headers={**JSON, **headers})


# -- 1. numbers at bounded cost ------------------------------------------------------------------


@pytest.mark.parametrize("share", HUGE_EXPONENTS)
def test_a_share_with_a_huge_exponent_is_refused_by_name(client, share):
    council, ada, bea = town(client)
    r = client.post(
        "/api/councils", json={"name": "X", "kind": "workplace", "recall_share": share}, headers=ada
    )
    assert r.status_code == 422, r.text
    assert field_named(r) == ["body", "recall_share"]
    for field in ("quorum", "majority"):
        body = {"title": "Q", "rule": "yes_no", "closes_at": SOON, field: share}
        # bea may not open a ballot there: the input is refused before anything else is asked
        for who in (ada, bea):
            r = client.post(f"/api/councils/{council}/ballots", json=body, headers=who)
            assert r.status_code == 422, r.text
            assert field_named(r) == ["body", field]
    assert [c.name for c in s.list_councils(client.app.state.store)] == ["Bakery"]


@pytest.mark.parametrize("share", ["0", "1.5", "7/3", "1/0", "-1/4"])
def test_a_share_outside_zero_to_one_is_refused_by_name(client, share):
    _, ada, _ = town(client)
    r = client.post(
        "/api/councils", json={"name": "X", "kind": "workplace", "recall_share": share}, headers=ada
    )
    assert r.status_code == 422, r.text
    assert field_named(r) in ("recall_share", ["body", "recall_share"])


def test_shares_as_written_in_the_docs_are_accepted(client):
    council, ada, _ = town(client)
    for share in ("1/4", "0.25", "1", ".5", "2/3"):
        r = client.post(
            "/api/councils",
            json={"name": f"X {share}", "kind": "workplace", "recall_share": share},
            headers=ada,
        )
        assert r.status_code == 201, (share, r.text)
    body = {"title": "Q", "rule": "yes_no", "closes_at": SOON, "quorum": "0", "majority": "2/3"}
    r = client.post(f"/api/councils/{council}/ballots", json=body, headers=ada)
    assert r.status_code == 201, r.text
    assert (r.json()["quorum"], r.json()["majority"]) == ("0", "2/3")


@pytest.mark.parametrize("hours", [*HUGE_EXPONENTS, "1E-1000000000", "NaN", "-0"])
def test_hours_with_a_huge_exponent_are_refused_by_name(client, hours):
    """'1e-1000000000' hours passed the schema and were stored: the budget's close would have
    turned them into a Fraction of a billion digits."""
    council, ada, _ = town(client)
    budget = {"title": "B", "proposals_close_at": SOON, "closes_at": LATER}
    r = client.post(
        f"/api/councils/{council}/budgets", json={**budget, "hours": hours}, headers=ada
    )
    assert r.status_code == 422, r.text
    assert field_named(r) == ["body", "hours"]
    b = client.post(f"/api/councils/{council}/budgets", json={**budget, "hours": "40"}, headers=ada)
    assert b.status_code == 201, b.text
    r = client.post(
        f"/api/budgets/{b.json()['id']}/proposals",
        json={"title": "P", "cost_hours": hours},
        headers=ada,
    )
    assert r.status_code == 422, r.text
    assert field_named(r) == ["body", "cost_hours"]
    assert client.get(f"/api/budgets/{b.json()['id']}", headers=ada).json()["proposals"] == []


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"Infinity", b"NaN"])
def test_non_finite_numbers_are_refused_by_name(client, number):
    council, ada, _ = town(client)
    raw = b'{"title":"B","proposals_close_at":"%s","closes_at":"%s","hours":%s}' % (
        SOON.encode(),
        LATER.encode(),
        number,
    )
    r = post_json(client, f"/api/councils/{council}/budgets", raw, ada)
    assert r.status_code == 422, r.text
    assert field_named(r) == ["body", "hours"]
    raw = b'{"council_id":%d,"weight":%s}' % (council, number)
    r = post_json(client, f"/api/federations/{council}/councils", raw, ada)
    assert r.status_code == 422, r.text
    assert field_named(r) == ["body", "weight"]


def test_integers_too_long_to_read_are_refused(client):
    council, ada, _ = town(client)
    raw = b'{"council_id":%d,"weight":%s}' % (council, b"9" * 5000)  # over Python's 4,300 digits
    r = post_json(client, f"/api/federations/{council}/councils", raw, ada)
    assert r.status_code == 422, r.text
    assert field_named(r)[0] == "body"
    r = client.get(f"/api/councils/{'9' * 5000}", headers=ada)
    assert r.status_code == 422 and field_named(r) == ["path", "council_id"]
    assert "9" * 100 not in r.text  # what was sent is not sent back


def test_the_service_parses_numbers_at_bounded_cost(council_store):
    """The service, which the CLI and scripts call too, refuses the same numbers by name."""
    from decimal import Decimal

    ada = s.register_account(council_store, username="ada", display_name="Ada", password_hash="h")
    for share in ["1e-10000000", Decimal("1e-10000000"), "1" * 5000 + "/" + "9" * 5000]:
        with pytest.raises(s.Invalid) as err:
            s.create_council(
                council_store, name="X", kind="workplace", founder_id=ada, recall_share=share
            )
        assert err.value.field == "recall_share"
    council = s.create_council(council_store, name="C", kind="workplace", founder_id=ada)
    for hours in ["1e-10000000", Decimal("1E-1000000000"), "9" * 5000]:
        with pytest.raises(s.Invalid) as err:
            s.open_budget(
                council_store,
                council_id=council.id,
                opened_by=ada,
                title="B",
                hours=hours,
                proposals_close_at=datetime.now(UTC) + timedelta(days=1),
                closes_at=datetime.now(UTC) + timedelta(days=5),
            )
        assert err.value.field == "hours"


# -- 2. bodies: a limit, and nothing sent back ---------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413(client):
    limit = guards.MAX_BODY_BYTES
    password = "x" * (limit + 1)
    r = client.post("/api/session", json={"username": "ada", "password": password})
    assert r.status_code == 413, r.text[:200]
    assert field_named(r) == "body" and r.json()["detail"]["reason"] == "body_too_large"
    assert "xxxx" not in r.text
    assert r.headers["connection"] == "close"  # the rest of the body is not read
    # A body of just under the limit is read and validated as ever.
    filler = "y" * (limit - 100)
    r = client.post("/api/session", json={"username": "ada", "password": "p", "filler": filler})
    assert r.status_code == 422 and field_named(r) == ["body", "filler"]


def _asgi(app, headers: list[tuple[bytes, bytes]], chunks: int, chunk: bytes):
    """Send ``chunks`` pieces of body to ``app`` by ASGI as a server would; returns (status,
    body, how many pieces the app asked for)."""
    asked = 0
    sent: list[dict] = []

    async def receive():
        nonlocal asked
        asked += 1
        if asked > chunks:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": asked < chunks}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/session",
        "raw_path": b"/api/session",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"councilplan.test"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("councilplan.test", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), asked


def test_200_mib_declared_are_refused_before_a_byte_is_read(council_store):
    app = create_app(council_store, close_every_s=None)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"209715200")]
    status, body, asked = _asgi(app, headers, chunks=3200, chunk=b"x" * 65536)
    assert (status, body["detail"]["field"], asked) == (413, "body", 0)


def test_a_chunked_body_is_cut_off_at_the_limit(council_store):
    """No Content-Length (chunked transfer): the body is counted as it arrives and refused once
    past the limit; the rest of the 200 MiB is never asked for."""
    app = create_app(council_store, close_every_s=None)
    headers = [(b"content-type", b"application/json")]
    status, body, asked = _asgi(app, headers, chunks=3200, chunk=b"x" * 65536)
    assert (status, body["detail"]["field"]) == (413, "body")
    assert asked <= guards.MAX_BODY_BYTES // 65536 + 1


def test_the_limit_is_a_setting(council_store, monkeypatch):
    monkeypatch.setenv("COUNCILPLAN_MAX_BODY_BYTES", "2000")
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        long_password = "correct horse battery staple " * 34  # 1,020 characters
        r = c.post("/api/accounts", json={"username": "ada", "password": long_password})
        assert r.status_code == 201, r.text
        r = c.post("/api/accounts", json={"username": "bea", "password": "p" * 2500})
        assert r.status_code == 413
    with TestClient(create_app(council_store, close_every_s=None, max_body_bytes=100)) as c:
        r = c.post("/api/accounts", json={"username": "cai", "password": "p" * 200})
        assert r.status_code == 413


@pytest.mark.parametrize(
    "url, body",
    [
        ("/api/session", {"username": "ada", "password": "s3cret-" * 200}),  # too long
        ("/api/tokens", {"username": "ada", "password": "s3cret-" * 200}),
        ("/api/accounts", {"username": "ada", "password": "s3cret"}),  # too short
        ("/api/accounts", {"username": "a d a", "password": "s3cret-horse"}),  # bad username
        ("/api/session", {"username": "ada", "password": "s3cret\x00"}),  # NUL
        ("/api/session", {"username": "ada", "password": ["s3cret"]}),  # not a string
        ("/api/session", {"username": "ada", "password": "s3cret", "code": "s3cret"}),  # extra
    ],
)
def test_a_refused_login_does_not_echo_the_password(client, url, body):
    r = client.post(url, json=body)
    assert r.status_code == 422, r.text
    assert "s3cret" not in r.text
    assert all("input" not in error for error in r.json()["detail"])
    assert field_named(r)[:1] == ["body"]


# -- 3. no 500s ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, template, field",
    [
        ("/api/accounts", b'{"username":%s,"password":"correct horse"}', "username"),
        ("/api/accounts", b'{"username":"ada","password":%s}', "password"),
        ("/api/session", b'{"username":%s,"password":"correct horse"}', "username"),
        ("/api/session", b'{"username":"ada","password":%s}', "password"),
        ("/api/councils", b'{"name":%s,"kind":"workplace"}', "name"),
        ("/api/councils", b'{"name":"X","kind":%s}', "kind"),
        ("/api/councils", b'{"name":"X","kind":"workplace","recall_share":%s}', "recall_share"),
        ("/api/councils/{c}/motions", b'{"title":"T","text":%s}', "text"),
        ("/api/disputes/1/decision", b'{"hours":"1","vote":%s}', "vote"),
        ("/api/councils", b'{"name":"X","kind":"workplace",%s:1}', None),  # an extra field
    ],
)
def test_a_lone_surrogate_is_refused_by_name(client, url, template, field):
    council, ada, _ = town(client)
    r = post_json(client, url.format(c=council), template % LONE_SURROGATE, ada)
    assert r.status_code == 422, r.text
    loc = field_named(r)
    assert loc[:2] == ["body", field] if field else loc[0] == "body"


def test_a_date_past_the_calendar_is_refused_by_name(client):
    council, ada, _ = town(client)
    for moment in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        body = {"title": "Q", "rule": "yes_no", "closes_at": moment}
        r = client.post(f"/api/councils/{council}/ballots", json=body, headers=ada)
        assert r.status_code == 422, r.text
        assert field_named(r) in (["body", "closes_at"], "closes_at")


@pytest.fixture
def ballot(vote_client):
    council, ada, _ = town(vote_client)
    body = {"title": "Q", "rule": "schulze", "options": ["a", "b"], "closes_at": SOON}
    b = vote_client.post(f"/api/councils/{council}/ballots", json=body, headers=ada)
    assert b.status_code == 201, b.text
    return f"/api/ballots/{b.json()['id']}/votes", ada


@pytest.mark.parametrize("depth", [1_000, 50_000])
def test_json_nested_deep_on_the_vote_route_is_refused(vote_client, ballot, depth):
    url, ada = ballot
    raw = b'{"choice":' + b"[" * depth + b"]" * depth + b"}"
    r = post_json(vote_client, url, raw, ada)
    assert r.status_code == 422, r.text
    assert field_named(r)[0] == "body"
    r = post_json(vote_client, url, b'{"choice":["a","b"]}', ada)
    assert r.status_code == 201, r.text  # and the server still votes


def test_json_nested_deep_elsewhere_is_refused(client):
    council, ada, _ = town(client)
    for depth in (1_000, 50_000):
        raw = b'{"title":"T","text":' + b"[" * depth + b"]" * depth + b"}"
        r = post_json(client, f"/api/councils/{council}/motions", raw, ada)
        assert r.status_code == 422, r.text
        assert field_named(r)[0] == "body"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"choice":%s}' % LONE_SURROGATE,
        b'{"choice":[%s]}' % LONE_SURROGATE,
        b'{"choice":["a"],%s:1}' % LONE_SURROGATE,
        b'{"choice":1e400}',
        b'{"choice":' + b"9" * 5000 + b"}",
        b'{"choice":"\xed\xa0\x80"}',  # U+D800 as UTF-8 bytes: not UTF-8
    ],
)
def test_bad_votes_are_refused_by_name(vote_client, ballot, raw):
    url, ada = ballot
    r = post_json(vote_client, url, raw, ada)
    assert r.status_code == 422, r.text
    assert field_named(r)[0] == "body"


def test_a_vote_over_the_limit_is_refused_with_413(vote_client, ballot):
    url, ada = ballot
    choice = ["a"] * (guards.MAX_BODY_BYTES // 4)
    r = vote_client.post(url, json={"choice": choice}, headers=ada)
    assert r.status_code == 413 and field_named(r) == "body"
