"""Votes over HTTP under concurrency, through the app as served (its lifespan run, so on
PostgreSQL the vote endpoint takes its path on the event loop): one member, one vote, and no
vote lost. Every test runs twice: votes answered by the fast path (``web/fastpath.py``, as
served) and by the FastAPI route alone; the two must give the same answers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher, profiles

from councilplan.councils import service as s
from councilplan.web import auth
from councilplan.web.app import create_app
from test_service_ballots import people, workplace


@pytest.fixture
def members(council_store, monkeypatch):
    """100 members of one council with a bearer token each, and an open secret ballot."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    before = datetime.now(UTC) - timedelta(minutes=1)
    hashed = auth.hash_password("a password")
    names = [f"m{i}" for i in range(100)]
    ids = people(council_store, *names, password_hash=hashed, now=before)
    council = workplace(council_store, ids[0], ids[1:], name="Works", now=before)
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


@pytest.fixture(params=[True, False], ids=["fast_path", "route"])
def fast_votes(request, monkeypatch):
    """Which of the two answers votes in this test's app (see :func:`serving`)."""
    monkeypatch.setattr(SERVED, "fast_votes", request.param)
    return request.param


class SERVED:
    fast_votes = True


def beside(store, ballot, **kw):
    """Another ballot of ``ballot``'s council, open over the same time."""
    return s.open_ballot(
        store,
        council_id=ballot.council_id,
        opened_by=1,
        closes_at=ballot.closes_at,
        now=ballot.opens_at,
        **kw,
    )


@contextlib.asynccontextmanager
async def serving(store, fast_votes=None):
    """An HTTP client of the app over ``store``, its lifespan run as uvicorn runs it; votes
    answered by the fast path or the route, as the ``fast_votes`` fixture (or argument) says."""
    if fast_votes is None:
        fast_votes = SERVED.fast_votes
    app = create_app(store, close_every_s=None, fast_votes=fast_votes)
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


def test_concurrent_votes_over_http_one_member_one_vote_none_lost(members, fast_votes):
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


def test_refusals_over_http_name_the_rule(members, fast_votes):
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


def test_a_token_logged_out_is_refused_at_once(members, fast_votes):
    store, ballot, tokens = members
    url = f"/api/ballots/{ballot.id}/votes"
    second = beside(store, ballot, title="Q2", rule="yes_no")

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


def test_the_fast_path_serves_well_formed_votes_and_hands_on_the_rest(members, monkeypatch):
    """Well-formed votes never reach the route's endpoint (which looks the token up with
    account_or_401_async); the rest go on to the route and get its answers."""
    store, ballot, tokens = members
    url = f"/api/ballots/{ballot.id}/votes"
    reached = []
    route_lookup = auth.account_or_401_async

    async def spied(store, token):
        reached.append(token)
        return await route_lookup(store, token)

    monkeypatch.setattr(auth, "account_or_401_async", spied)

    async def send():
        async with serving(store, fast_votes=True) as http:
            good = [
                await http.post(url, json={"choice": c}, headers=_bearer(tokens[i]))
                for i, c in [(1, "yes"), (1, "no"), (2, "abstain")]
            ]
            odd = await http.post(url, json={"choice": "maybe"}, headers=_bearer(tokens[4]))
            unknown = await http.post(url, json={"choice": "yes"}, headers=_bearer("bogus"))
            http.cookies.set(auth.COOKIE, tokens[3])  # a browser's session
            cookie = await http.post(url, json={"choice": "no"})
            return good, odd, unknown, cookie

    good, odd, unknown, cookie = asyncio.run(send())
    assert [r.status_code for r in good] == [201, 409, 201]
    assert (odd.status_code, unknown.status_code, cookie.status_code) == (422, 401, 201)
    # The body that did not validate was refused by the route before its endpoint ran; the
    # unknown token was handed on and looked up there; the rest were served by the fast path.
    assert reached == ["bogus"]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_fast_path_and_the_route_give_the_same_answers(members):
    """The same requests, well-formed or not, to two identical ballots: one app answering votes
    by the fast path, the other by the route. Answers must match in status, headers and body
    (the ballot's id and the audit seq aside)."""
    store, ballot, tokens = members
    twin = beside(store, ballot, title="Q", rule="yes_no", secret=True)
    ranked = {
        b: beside(store, ballot, title="R", rule="schulze", options=["a", "b", "c"]).id
        for b in (ballot.id, twin.id)
    }
    json_type = {"Content-Type": "application/json"}
    # (path after /api/ballots/, token index or None, body bytes, extra headers)
    cases = [
        ("{b}/votes", 1, b'{"choice":"yes"}', {}),
        ("{b}/votes", 1, b'{"choice":"no"}', {}),  # 409 already_voted
        ("{b}/votes", 2, b'{"choice":["yes"]}', {}),  # 422 bad_choice (a ranking on yes/no)
        ("{b}/votes", 3, b'{"choice":"perhaps"}', {}),  # 422 from the schema
        ("{b}/votes", 3, b'{"choice":"yes","extra":1}', {}),  # 422: extra field
        ("{b}/votes", 3, b'{"choice":', {}),  # 422: not JSON
        ("{b}/votes", 3, b"\xff\xfe", {}),  # 422: not UTF-8
        ("{b}/votes", 3, b"[]", {}),  # 422: not an object
        ("{b}/votes", None, b'{"choice":"yes"}', {}),  # 401: no token
        ("{b}/votes", "bogus", b'{"choice":"yes"}', {}),  # 401: unknown token
        ("{b}/votes", 4, b'{"choice":"yes"}', {"Content-Type": "text/plain"}),
        ("{r}/votes", 5, b'{"choice":["b","a"]}', {}),  # a ranking on a Schulze ballot
        ("{r}/votes", 6, b'{"choice":["b","b"]}', {}),  # 422: ranked twice
        ("{r}/votes", 7, b'{"choice":["zz"]}', {}),  # 422: no such option
        ("999999/votes", 8, b'{"choice":"yes"}', {}),  # 404 no_such_ballot
        ("0/votes", 8, b'{"choice":"yes"}', {}),  # 422: id below 1
        ("99999999999/votes", 8, b'{"choice":"yes"}', {}),  # 422: id too large
        ("007/votes", 9, b'{"choice":"yes"}', {}),  # as the route reads it: ballot 7
    ]

    async def answers(ballot_id, fast):
        out = []
        async with serving(store, fast_votes=fast) as http:
            for path, who, body, headers in cases:
                path = path.format(b=ballot_id, r=ranked[ballot_id])
                token = tokens[who] if isinstance(who, int) else who
                sent = {**json_type, **headers, **(_bearer(token) if token else {})}
                r = await http.post(f"/api/ballots/{path}", content=body, headers=sent)
                out.append((r.status_code, dict(r.headers), r.json()))
        return out

    fast = asyncio.run(answers(ballot.id, True))
    route = asyncio.run(answers(twin.id, False))

    def same_shape(answer, ballot_id):
        status, headers, body = answer
        names = {ballot_id: "B", ranked[ballot_id]: "R"}

        def named(value):  # the ballots' ids, in fields and in messages, by name
            if isinstance(value, dict):
                return {k: named(v) for k, v in value.items() if k != "audit_seq"}
            if isinstance(value, list):
                return [named(v) for v in value]
            if isinstance(value, str):
                return re.sub(r"(?<=ballot )\d+", lambda m: names.get(int(m[0]), m[0]), value)
            return value

        body = named(body)
        if isinstance(body, dict) and body.get("ballot_id") in names:
            body["ballot_id"] = names[body["ballot_id"]]
        headers.pop("content-length")  # the ids' lengths may differ
        return status, headers, body

    for case, f, r in zip(cases, fast, route, strict=True):
        assert same_shape(f, ballot.id) == same_shape(r, twin.id), case
    assert [a[0] for a in fast] == [
        201, 409, 422, 422, 422, 422, 422, 422, 401, 401, 422, 201, 422, 422, 404, 422, 422, 404
    ]  # fmt: skip
