"""Votes over HTTP under concurrency, through the app as served (its lifespan run, so on
PostgreSQL the vote endpoint takes its path on the event loop): one member, one vote, and no
vote lost."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher, profiles

from councilplan.councils import service as s
from councilplan.web import auth
from councilplan.web.app import create_app


@pytest.fixture
def members(council_store, monkeypatch):
    """100 members of one council with a bearer token each, and an open secret ballot."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    before = datetime.now(UTC) - timedelta(minutes=1)
    hashed = auth.hash_password("a password")
    ids = [
        s.register_account(
            council_store, username=f"m{i}", display_name="M", password_hash=hashed, now=before
        )
        for i in range(100)
    ]
    council = s.create_council(
        council_store, name="Works", kind="workplace", founder_id=ids[0], now=before
    )
    for a in ids[1:]:
        s.join_council(council_store, council_id=council.id, account_id=a, now=before)
    ballot = s.open_ballot(
        council_store,
        council_id=council.id,
        opened_by=ids[0],
        title="Q",
        rule="yes_no",
        secret=True,
        closes_at=before + timedelta(days=1),
        now=before,
    )
    tokens = [
        auth.login(council_store, f"m{i}", "a password", kind="bearer")[1] for i in range(100)
    ]
    return council_store, ballot, tokens


@contextlib.asynccontextmanager
async def serving(store):
    """An HTTP client of the app over ``store``, its lifespan run as uvicorn runs it."""
    app = create_app(store, close_every_s=None)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://councilplan.test") as http,
    ):
        yield http


async def served(store, requests):
    """Send ``requests`` (url, token, choice) all at once to the app, lifespan and all."""
    async with serving(store) as http:
        return await asyncio.gather(
            *(
                http.post(url, json={"choice": choice}, headers={"Authorization": f"Bearer {t}"})
                for url, t, choice in requests
            )
        )


def test_concurrent_votes_over_http_one_member_one_vote_none_lost(members):
    store, ballot, tokens = members
    url = f"/api/ballots/{ballot.id}/votes"
    # 100 concurrent requests by one member: exactly one vote counts.
    answers = asyncio.run(served(store, [(url, tokens[5], "yes")] * 100))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 99
    assert {r.json()["detail"]["reason"] for r in answers if r.status_code == 409} == {
        "already_voted"
    }
    # 100 members at once (one of them again): 99 new votes, none lost; each receipt names its
    # own place in the audit chain.
    answers = asyncio.run(served(store, [(url, t, "no") for t in tokens]))
    accepted = [r.json() for r in answers if r.status_code == 201]
    assert len(accepted) == 99
    assert len({r["audit_seq"] for r in accepted}) == 99
    closed = s.close_ballot(store, ballot_id=ballot.id, now=ballot.closes_at)
    assert (closed.tally["counts"]["yes"], closed.tally["counts"]["no"]) == (1, 99)
    assert len(s.participation(store, ballot.id)) == 100
    assert store.verify_audit().ok


def test_refusals_over_http_name_the_rule(members):
    store, ballot, tokens = members
    url = f"/api/ballots/{ballot.id}/votes"
    answers = asyncio.run(
        served(
            store,
            [
                (url, tokens[1], "perhaps"),  # refused by the body's schema
                (url, tokens[2], ["yes"]),
                (url, "not a token", "yes"),
                ("/api/ballots/999999/votes", tokens[3], "yes"),
            ],
        )
    )
    assert [r.status_code for r in answers] == [422, 422, 401, 404]
    assert answers[1].json()["detail"]["reason"] == "bad_choice"
    assert answers[3].json()["detail"]["reason"] == "no_such_ballot"


def test_a_token_logged_out_is_refused_at_once(members):
    store, ballot, tokens = members
    url = f"/api/ballots/{ballot.id}/votes"
    second = s.open_ballot(
        store,
        council_id=ballot.council_id,
        opened_by=1,
        title="Q2",
        rule="yes_no",
        closes_at=ballot.closes_at,
        now=ballot.opens_at,
    )

    async def vote_log_out_vote():
        headers = {"Authorization": f"Bearer {tokens[7]}"}
        async with serving(store) as http:
            first = await http.post(url, json={"choice": "yes"}, headers=headers)
            out = await http.delete("/api/session", headers=headers)
            again = await http.post(
                f"/api/ballots/{second.id}/votes", json={"choice": "yes"}, headers=headers
            )
            return first.status_code, out.status_code, again.status_code

    assert asyncio.run(vote_log_out_vote()) == (201, 200, 401)
