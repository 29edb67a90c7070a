"""Logging in under attack (issue 12): failed logins throttled per account and per address,
the password checked outside every transaction, tokens that expire, a password changed and
every token revoked. Each test replays the attack through the API."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from councilplan.councils import service as s
from councilplan.web import auth
from councilplan.web.app import create_app
from test_api import account, detail
from test_api_votes import beside, fast_votes, members, serving  # noqa: F401  (fixtures)


@pytest.fixture
def client(council_store, monkeypatch):
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


@pytest.fixture
def counted(monkeypatch):
    """How many times argon2 verified a password."""
    calls = []
    checked = auth.password_matches

    def counting(stored, password):
        calls.append(password)
        return checked(stored, password)

    monkeypatch.setattr(auth, "password_matches", counting)
    return calls


def test_failed_logins_are_throttled_per_account_then_per_address(client, counted):
    account(client, "ada")
    account(client, "bea")
    for _ in range(10):
        r = client.post("/api/tokens", json={"username": "ada", "password": "guess"})
        assert r.status_code == 401
    checks = len(counted)
    # The 11th try within 15 minutes, even with the right password: 429, and argon2 not run.
    r = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
    assert r.status_code == 429
    assert detail(r)["reason"] == "too_many_logins"
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    assert client.post("/api/session", json={"username": "ada", "password": "x"}).status_code == 429
    assert len(counted) == checks
    # Another account from the same address still gets in (10 of the address's 50 used) ...
    r = client.post("/api/tokens", json={"username": "bea", "password": "correct horse"})
    assert r.status_code == 201
    # ... until the address has failed 50 times, over any names.
    for i in range(40):
        r = client.post("/api/tokens", json={"username": f"nobody{i % 4}", "password": "guess"})
        assert r.status_code == 401, i
    r = client.post("/api/tokens", json={"username": "bea", "password": "correct horse"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_a_right_password_clears_the_accounts_failures(client):
    account(client, "ada")
    for _ in range(3):
        for _ in range(9):
            client.post("/api/tokens", json={"username": "ada", "password": "typo"})
        r = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
        assert r.status_code == 201


def test_concurrent_guesses_run_argon2_at_most_the_limit(council_store, monkeypatch, counted):
    """40 guesses at once: 10 are checked, 30 refused before argon2 (the attempt is counted
    before the check, so concurrent guesses cannot all slip under the limit)."""
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    app = create_app(council_store, close_every_s=None)
    with TestClient(app) as c:
        account(c, "ada")
    counted.clear()

    async def guesses():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://councilplan.test"
        ) as http:
            return await asyncio.gather(
                *(
                    http.post("/api/tokens", json={"username": "ada", "password": f"g{i}"})
                    for i in range(40)
                )
            )

    codes = sorted(r.status_code for r in asyncio.run(guesses()))
    assert codes == [401] * 10 + [429] * 30
    assert len(counted) == 10


def test_the_password_is_checked_outside_any_transaction(client, council_store, monkeypatch):
    """While argon2 runs for one login, another act writes (SQLite: one writer at a time)."""
    account(client, "ada")
    verifying, release, written = threading.Event(), threading.Event(), threading.Event()
    checked = auth.password_matches

    def slow(stored, password):
        verifying.set()
        assert release.wait(30)
        return checked(stored, password)

    monkeypatch.setattr(auth, "password_matches", slow)
    answers = []
    login = threading.Thread(
        target=lambda: answers.append(
            client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
        )
    )
    login.start()
    try:
        assert verifying.wait(10)

        def write():
            s.register_account(council_store, username="bea", display_name="B", password_hash="x")
            written.set()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        # The write completes while the verify is still running.
        assert written.wait(10), "a write waited for a password check"
        assert not release.is_set()
    finally:
        release.set()
        login.join(30)
    assert answers[0].status_code == 201


def test_tokens_expire(client, council_store, monkeypatch):
    ada, bearer = account(client, "ada")
    with council_store.transaction() as tx:
        (row,) = tx.tokens_of(ada)
    # A new bearer token lasts 30 days by default.
    lifetime = row["expires_at"] - row["created_at"]
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=5)
    # Thirty days pass (the clock moved by hand, behind the record's back).
    with council_store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE auth_tokens SET expires_at = :now WHERE token_hash = :token"),
            {"now": datetime.now(UTC), "token": row["token_hash"]},
        )
    r = client.get("/api/me", headers=bearer)
    assert r.status_code == 401 and detail(r)["reason"] == "token_expired"
    r = client.get("/api/me", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and detail(r)["reason"] == "not_logged_in"
    # COUNCILPLAN_TOKEN_DAYS sets the lifetime.
    monkeypatch.setenv("COUNCILPLAN_TOKEN_DAYS", "0.5")
    r = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
    with council_store.transaction() as tx:
        rows = tx.tokens_of(ada)
    newest = max(rows, key=lambda row: row["created_at"])
    assert abs(newest["expires_at"] - newest["created_at"] - timedelta(hours=12)) < timedelta(
        seconds=5
    )
    monkeypatch.setenv("COUNCILPLAN_TOKEN_DAYS", "-1")
    with pytest.raises(ValueError, match="COUNCILPLAN_TOKEN_DAYS"):
        auth.bearer_days()


def test_an_expired_token_cannot_vote_on_either_path(members, fast_votes, monkeypatch):  # noqa: F811
    """The fast path hands an expired token on; the route refuses it by name. A token the fast
    path cached as valid is refused once its time runs out too."""
    store, ballot, _tokens = members
    second = beside(store, ballot, title="Q2", rule="yes_no")
    monkeypatch.setenv("COUNCILPLAN_TOKEN_DAYS", str(1.5 / 86400))  # 1.5 seconds
    token = auth.login(store, "m3", "a password", kind="bearer")[1]
    headers = {"Authorization": f"Bearer {token}"}
    with store.transaction() as tx:
        expires_at = tx.token(auth._digest(token))["expires_at"]

    async def vote_expire_vote():
        async with serving(store) as http:
            first = await http.post(
                f"/api/ballots/{ballot.id}/votes", json={"choice": "yes"}, headers=headers
            )
            left = (expires_at - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(min(max(0.0, left) + 0.1, 3.0))
            again = await http.post(
                f"/api/ballots/{second.id}/votes", json={"choice": "yes"}, headers=headers
            )
            return first.status_code, again.status_code, again.json()["detail"]["reason"]

    assert asyncio.run(vote_expire_vote()) == (201, 401, "token_expired")


def test_revoking_every_token_refuses_them_all_at_once(members, fast_votes):  # noqa: F811
    """Within one process, a revoked token is refused at once, also by the fast path's cache."""
    store, ballot, tokens = members
    second = beside(store, ballot, title="Q2", rule="yes_no")
    other = auth.login(store, "m4", "a password", kind="bearer")[1]
    mine = {"Authorization": f"Bearer {tokens[4]}"}

    async def vote_revoke_vote():
        async with serving(store) as http:
            first = await http.post(
                f"/api/ballots/{ballot.id}/votes", json={"choice": "yes"}, headers=mine
            )
            out = await http.delete("/api/tokens", headers=mine)
            answers = [
                await http.post(
                    f"/api/ballots/{second.id}/votes",
                    json={"choice": "yes"},
                    headers={"Authorization": f"Bearer {t}"},
                )
                for t in (tokens[4], other)
            ]
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {other}"})
            return first.status_code, out.json(), [a.status_code for a in answers], me.status_code

    assert asyncio.run(vote_revoke_vote()) == (201, {"revoked": 2}, [401, 401], 401)


def test_changing_the_password_needs_the_old_one_and_revokes_the_other_tokens(client):
    _, bearer = account(client, "ada")
    other = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
    other = {"Authorization": f"Bearer {other.json()['token']}"}
    r = client.post(
        "/api/me/password",
        json={"old_password": "wrong", "new_password": "battery staple"},
        headers=bearer,
    )
    assert r.status_code == 403 and detail(r)["reason"] == "wrong_password"
    r = client.post(
        "/api/me/password",
        json={"old_password": "correct horse", "new_password": "short"},
        headers=bearer,
    )
    assert r.status_code == 422
    r = client.post(
        "/api/me/password",
        json={"old_password": "correct horse", "new_password": "battery staple"},
        headers=bearer,
    )
    assert r.status_code == 200 and r.json() == {"changed": True, "revoked": 1}
    assert client.get("/api/me", headers=bearer).status_code == 200  # the one used stays
    assert client.get("/api/me", headers=other).status_code == 401
    old = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
    assert old.status_code == 401
    new = client.post("/api/tokens", json={"username": "ada", "password": "battery staple"})
    assert new.status_code == 201


def test_guessing_the_old_password_is_throttled_too(client):
    _, bearer = account(client, "ada")
    body = {"old_password": "guess", "new_password": "battery staple"}
    codes = [
        client.post("/api/me/password", json=body, headers=bearer).status_code for _ in range(11)
    ]
    assert codes == [403] * 10 + [429]


# -- names and passwords that pass for others (issue 12, Passwords) ----------------------------


def test_a_common_password_is_refused_at_password_change(client):
    _, h = account(client, "ada")
    r = client.post(
        "/api/me/password",
        json={"old_password": "correct horse", "new_password": "password"},
        headers=h,
    )
    assert r.status_code == 422
    assert detail(r)["reason"] == "weak_password" and detail(r)["field"] == "new_password"
    assert detail(r)["message"].startswith(
        "new_password: this is one of the most common passwords; choose another"
    )
    assert client.get("/api/me", headers=h).status_code == 200  # nothing was revoked
    r = client.post("/api/tokens", json={"username": "ada", "password": "correct horse"})
    assert r.status_code == 201


def test_a_common_password_is_refused_at_registration(client):
    r = client.post("/api/accounts", json={"username": "ada", "password": "password"})
    assert r.status_code == 422 and detail(r)["reason"] == "weak_password"


def test_a_username_in_another_case_is_taken(client):
    account(client, "Ada")
    r = client.post("/api/accounts", json={"username": "ada", "password": "correct horse"})
    assert r.status_code == 409
    assert detail(r)["reason"] == "username_taken" and detail(r)["field"] == "username"


def test_any_spelling_of_a_name_logs_in_and_is_throttled_as_one(client):
    """ "ada", "ADA" and fullwidth "Ａｄａ" are Ada's name; ten wrong guesses spread over ten
    spellings count as ten against her account, not one against each spelling."""
    ada, _ = account(client, "Ada")
    for spelling in ("ada", "ADA", "Ａｄａ"):
        r = client.post("/api/tokens", json={"username": spelling, "password": "correct horse"})
        assert r.status_code == 201 and r.json()["account_id"] == ada
    spellings = ["ada", "ADA", "Ada", "aDa", "adA", "ADa", "AdA", "aDA", "Ａｄａ", "ＡＤＡ"]
    for spelling in spellings:
        r = client.post("/api/tokens", json={"username": spelling, "password": "guess"})
        assert r.status_code == 401
    r = client.post("/api/tokens", json={"username": "ａｄａ", "password": "correct horse"})
    assert r.status_code == 429


@pytest.mark.parametrize(
    "name, char",
    [
        ("Bakery\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("B\u0430kery", "U+0430 CYRILLIC SMALL LETTER A"),
    ],
)
def test_a_council_name_passing_for_another_is_refused(client, name, char):
    _, h = account(client, "ada")
    r = client.post("/api/councils", json={"name": name, "kind": "workplace"}, headers=h)
    assert r.status_code == 422
    assert detail(r)["field"] == "name" and detail(r)["message"].startswith(f"name: {char}")


@pytest.mark.parametrize(
    "display_name, char",
    [
        ("Ada\u2066Admin", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\u0410da", "U+0410 CYRILLIC CAPITAL LETTER A"),
    ],
)
def test_a_display_name_passing_for_another_is_refused(client, display_name, char):
    body = {"username": "ada", "password": "correct horse", "display_name": display_name}
    r = client.post("/api/accounts", json=body)
    assert r.status_code == 422 and detail(r)["field"] == "display_name"
    assert detail(r)["message"].startswith(f"display_name: {char}")
