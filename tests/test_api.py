"""The JSON API: authentication, and who may do what at every endpoint."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from council_setup import federation_with
from councilplan.councils import service as s
from councilplan.web import auth
from councilplan.web.app import create_app

NOW = datetime.now(UTC)
PAST = NOW - timedelta(days=20)
DAY = timedelta(days=1)
SOON = (NOW + 4 * DAY).isoformat()  # beyond a council's minimum ballot time (3 days)


@pytest.fixture
def client(council_store, monkeypatch):
    # argon2's cheapest parameters (its own profile for tests): the same code path, faster.
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


def account(client, name, password="correct horse"):
    r = client.post("/api/accounts", json={"username": name, "password": password})
    assert r.status_code == 201, r.text
    token = client.post("/api/tokens", json={"username": name, "password": password}).json()
    return r.json()["id"], {"Authorization": f"Bearer {token['token']}"}


def detail(r):
    return r.json()["detail"]


def test_every_endpoint_but_login_needs_an_account(client):
    open_paths = {("/api/accounts", "POST"), ("/api/session", "POST"), ("/api/tokens", "POST")}
    checked = 0
    for route in client.app.routes:
        if not route.path.startswith("/api/"):
            continue
        for method in route.methods:
            if (route.path, method) in open_paths:
                continue
            path = re.sub(r"\{[a-z_]+\}", "1", route.path)
            r = client.request(method, path, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked > 30


def test_login_by_cookie_and_by_bearer_token(client):
    account(client, "ada")
    r = client.post("/api/session", json={"username": "ada", "password": "wrong"})
    assert r.status_code == 401 and detail(r)["field"] == "password"
    r = client.post("/api/session", json={"username": "ada", "password": "correct horse"})
    assert r.status_code == 200 and "councilplan_session" in r.cookies
    assert "httponly" in r.headers["set-cookie"].lower()
    assert client.get("/api/me").json()["username"] == "ada"
    client.delete("/api/session")
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401
    _, bearer = account(client, "bea")
    assert client.get("/api/me", headers=bearer).json()["username"] == "bea"
    assert client.delete("/api/session", headers=bearer).status_code == 200
    assert client.get("/api/me", headers=bearer).status_code == 401  # token revoked
    r = client.post("/api/accounts", json={"username": "ada", "password": "another one"})
    assert r.status_code == 409 and detail(r)["field"] == "username"


def test_bad_requests_name_the_field(client):
    _, h = account(client, "ada")
    r = client.post("/api/councils", json={"name": "X", "kind": "guild"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "kind"]
    r = client.post(
        "/api/councils", json={"name": "X", "kind": "workplace", "recall_share": "7/3"}, headers=h
    )
    assert r.status_code == 422 and detail(r)["field"] == "recall_share"
    c = client.post("/api/councils", json={"name": "X", "kind": "workplace"}, headers=h).json()
    r = client.post(
        f"/api/councils/{c['id']}/ballots",
        headers=h,
        json={"title": "Q", "rule": "approval", "options": ["a"], "closes_at": SOON},
    )
    assert r.status_code == 422 and detail(r)["field"] == "options"
    r = client.post(
        f"/api/councils/{c['id']}/ballots",
        headers=h,
        json={"title": "Q", "rule": "yes_no", "closes_at": (NOW - DAY).isoformat()},
    )
    assert r.status_code == 422 and detail(r)["field"] == "closes_at"
    assert client.get("/api/ballots/99", headers=h).status_code == 404
    assert s.list_councils(client.app.state.store)[0].name == "X"


def test_only_members_vote_and_only_once(client):
    ada, h_ada = account(client, "ada")
    bea, h_bea = account(client, "bea")
    c = client.post(
        "/api/councils", json={"name": "Bakery", "kind": "workplace"}, headers=h_ada
    ).json()
    r = client.post(
        f"/api/councils/{c['id']}/motions", json={"title": "T", "text": "x"}, headers=h_bea
    )
    assert r.status_code == 403 and detail(r)["reason"] == "not_a_member"
    m = client.post(
        f"/api/councils/{c['id']}/motions", json={"title": "T", "text": "x"}, headers=h_ada
    ).json()
    r = client.post(f"/api/motions/{m['id']}/amendments", json={"text": "y"}, headers=h_bea)
    assert r.status_code == 403
    b = client.post(
        f"/api/councils/{c['id']}/ballots",
        headers=h_ada,
        json={
            "title": "T",
            "rule": "yes_no",
            "closes_at": SOON,
            "motion_id": m["id"],
            "secret": True,
        },
    ).json()
    r = client.post(f"/api/ballots/{b['id']}/votes", json={"choice": "yes"}, headers=h_bea)
    assert r.status_code == 403 and detail(r)["reason"] == "not_a_member"
    assert (
        client.post(
            f"/api/ballots/{b['id']}/votes", json={"choice": "yes"}, headers=h_ada
        ).status_code
        == 201
    )
    r = client.post(f"/api/ballots/{b['id']}/votes", json={"choice": "no"}, headers=h_ada)
    assert r.status_code == 409 and detail(r)["reason"] == "already_voted"
    r = client.get(f"/api/ballots/{b['id']}/votes", headers=h_bea)
    assert r.status_code == 403 and detail(r)["reason"] == "secret_ballot"
    assert client.get(f"/api/ballots/{b['id']}/participation", headers=h_bea).json()["voters"] == [
        ada
    ]
    r = client.post(f"/api/ballots/{b['id']}/close", headers=h_ada)
    assert r.status_code == 409 and detail(r)["reason"] == "ballot_still_open"
    # asking to join waits for the council's decision; leaving is recorded
    r = client.post(f"/api/councils/{c['id']}/join", headers=h_bea)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    r = client.post(f"/api/councils/{c['id']}/leave", headers=h_bea)
    assert r.status_code == 403 and detail(r)["reason"] == "not_a_member"
    assert client.post(f"/api/councils/{c['id']}/leave", headers=h_ada).status_code == 200
    members = client.get(f"/api/councils/{c['id']}/members?current=false", headers=h_ada).json()
    assert [x["account_id"] for x in members] == [ada] and members[0]["left_at"]
    assert client.get("/api/audit/verify", headers=h_bea).json()["ok"]
    kinds = [e["kind"] for e in client.get("/api/audit?limit=1000", headers=h_bea).json()]
    assert kinds.count("ballot.voted") == 1


def federation_in_the_past(store):
    """Via the service and its rules, before PAST (20 days ago): two councils in a federation,
    each with a delegate (its first member); ballots of a day."""
    ids = [
        s.register_account(
            store,
            username=f"u{i}",
            display_name="U",
            password_hash=_hash("correct horse"),
            now=PAST - 40 * DAY,
        )
        for i in range(7)
    ]
    groups = [ids[:4], ids[4:]]
    fed, _ = federation_with(store, ids[0], groups, at=PAST)
    return fed, ids, groups


def _hash(password):
    return auth.hash_password(password)


def login(client, name):
    token = client.post("/api/tokens", json={"username": name, "password": "correct horse"})
    return {"Authorization": f"Bearer {token.json()['token']}"}


def test_recall_through_the_api_and_the_recalled_delegates_vote_is_refused(client):
    store = client.app.state.store
    fed, ids, groups = federation_in_the_past(store)
    delegate_h, member_h = login(client, "u0"), login(client, "u1")
    outsider_h = login(client, "u4")
    # only current delegates act in the federation
    r = client.post(
        f"/api/councils/{fed.id}/motions", json={"title": "T", "text": "x"}, headers=member_h
    )
    assert r.status_code == 403 and detail(r)["reason"] == "not_a_current_delegate"
    b = client.post(
        f"/api/councils/{fed.id}/ballots",
        headers=delegate_h,
        json={"title": "Plan", "rule": "yes_no", "closes_at": SOON},
    ).json()
    delegate = [
        d
        for d in client.get(f"/api/delegates?federation_id={fed.id}", headers=member_h).json()
        if d["account_id"] == ids[0]
    ][0]
    r = client.post(
        f"/api/delegates/{delegate['id']}/recalls", json={"reason": "r"}, headers=outsider_h
    )
    assert r.status_code == 403  # not a member of the sending council
    recall = client.post(
        f"/api/delegates/{delegate['id']}/recalls",
        json={"reason": "ignored the mandate"},
        headers=member_h,
    ).json()
    assert recall["status"] == "balloting"  # 1 of 4 is the default quarter
    for name in ("u1", "u2", "u3"):
        r = client.post(
            f"/api/ballots/{recall['ballot_id']}/votes",
            json={"choice": "yes"},
            headers=login(client, name),
        )
        assert r.status_code == 201
    assert client.get(f"/api/recalls/{recall['id']}", headers=member_h).json()["status"] == (
        "recalled"
    )
    r = client.post(f"/api/ballots/{b['id']}/votes", json={"choice": "yes"}, headers=delegate_h)
    assert r.status_code == 403 and detail(r)["reason"] == "not_a_current_delegate"
    # the other council's delegate still votes
    assert (
        client.post(
            f"/api/ballots/{b['id']}/votes", json={"choice": "no"}, headers=login(client, "u4")
        ).status_code
        == 201
    )


def test_commission_seats_see_their_cases_and_no_one_else(client):
    store = client.app.state.store
    fed, ids, groups = federation_in_the_past(store)
    worker_h, seat_w_h, planner_h = login(client, "u2"), login(client, "u1"), login(client, "u4")
    r = client.post(
        "/api/commissions",
        headers=seat_w_h,
        json={"name": "Rates", "workplace_council_id": 2, "federation_id": fed.id},
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert (
        client.post(
            f"/api/commissions/{cid}/seats", json={"side": "workplace"}, headers=seat_w_h
        ).status_code
        == 201
    )
    r = client.post(f"/api/commissions/{cid}/seats", json={"side": "planning"}, headers=worker_h)
    assert r.status_code == 403  # not a delegate to the federation
    assert (
        client.post(
            f"/api/commissions/{cid}/seats", json={"side": "planning"}, headers=planner_h
        ).status_code
        == 201
    )
    d = client.post(
        f"/api/commissions/{cid}/disputes",
        headers=worker_h,
        json={
            "subject": "work_norm",
            "target": "bread",
            "current_hours": "0.5",
            "claimed_hours": "3/4",
            "grounds": "medical leave, see doctor's note",
        },
    )
    assert d.status_code == 201, d.text
    did = d.json()["dispute_id"]
    stranger_h = login(client, "u3")
    # Issue 12, "Privacy": the public record shows that a dispute was filed, not its grounds.
    record = client.get("/api/audit", headers=stranger_h)
    assert record.status_code == 200
    assert "dispute.filed" in record.text and "doctor" not in record.text
    assert "claimed_hours" not in record.text and "3/4" not in record.text
    assert client.get(f"/api/disputes/{did}", headers=stranger_h).status_code == 403
    assert client.get("/api/disputes", headers=stranger_h).json() == []
    assert [x["dispute_id"] for x in client.get("/api/disputes", headers=planner_h).json()] == [did]
    r = client.post(
        f"/api/disputes/{did}/hearing", json={"present": [ids[1], ids[4]]}, headers=stranger_h
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/disputes/{did}/hearing", json={"present": [ids[1], ids[4]]}, headers=planner_h
    )
    assert r.status_code == 200 and r.json()["state"] == "heard"
    # Issue 12, "Capture": one commissioner cannot cast the whole commission's votes.
    r = client.post(
        f"/api/disputes/{did}/decision",
        headers=seat_w_h,
        json={"hours": "3/4", "votes": {str(ids[1]): "yes", str(ids[4]): "yes"}},
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/disputes/{did}/decision", headers=seat_w_h, json={"hours": "3/4", "vote": "yes"}
    )
    assert r.status_code == 200 and r.json()["state"] == "heard"  # her own seat only
    r = client.post(
        f"/api/disputes/{did}/decision", headers=planner_h, json={"hours": "3/4", "vote": "yes"}
    )
    assert r.status_code == 200 and r.json()["state"] == "decided"
    r = client.post(
        f"/api/disputes/{did}/appeal", json={"grounds": "new evidence"}, headers=stranger_h
    )
    assert r.status_code == 200  # a member of the workplace council appeals on its behalf
    record = client.get("/api/audit", headers=login(client, "u2")).json()
    disputes = [e["payload"] for e in record if e["kind"].startswith("dispute.")]
    assert {p["act"] for p in disputes} == {"file", "hear", "vote", "appeal"}
    for payload in disputes:  # how seats voted, the hours and the grounds stay private
        assert set(payload) == {"dispute_id", "commission_id", "act", "state", "state_sha256"}
    r = client.post(f"/api/disputes/{did}/final", json={}, headers=planner_h)
    assert r.status_code == 422 and detail(r)["reason"] == "missing_detail"


def test_budget_proposals_come_from_members_only(client):
    _, h_ada = account(client, "ada")
    _, h_bea = account(client, "bea")
    c = client.post(
        "/api/councils", json={"name": "Hood", "kind": "consumer"}, headers=h_ada
    ).json()
    budget = client.post(
        f"/api/councils/{c['id']}/budgets",
        headers=h_ada,
        json={
            "title": "Commons",
            "hours": 100,
            "proposals_close_at": SOON,
            "closes_at": (NOW + 8 * DAY).isoformat(),
        },
    )
    assert budget.status_code == 201, budget.text
    bid = budget.json()["id"]
    r = client.post(
        f"/api/budgets/{bid}/proposals", json={"title": "Park", "cost_hours": 50}, headers=h_bea
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/budgets/{bid}/proposals", json={"title": "Park", "cost_hours": 50}, headers=h_ada
    )
    assert r.status_code == 201
    assert [
        p["title"] for p in client.get(f"/api/budgets/{bid}", headers=h_bea).json()["proposals"]
    ] == ["Park"]


def test_a_worker_on_the_commission_does_not_sit_on_her_own_dispute(client):
    store = client.app.state.store
    fed, ids, groups = federation_in_the_past(store)
    seat_w_h, planner_h = login(client, "u1"), login(client, "u4")
    cid = client.post(
        "/api/commissions",
        headers=seat_w_h,
        json={"name": "Rates", "workplace_council_id": 2, "federation_id": fed.id},
    ).json()["id"]
    client.post(f"/api/commissions/{cid}/seats", json={"side": "workplace"}, headers=seat_w_h)
    client.post(f"/api/commissions/{cid}/seats", json={"side": "planning"}, headers=planner_h)
    body = {"subject": "work_norm", "target": "b", "current_hours": "1", "claimed_hours": "2"}
    r = client.post(f"/api/commissions/{cid}/disputes", headers=seat_w_h, json=body)
    # Her seat is skipped and no other workplace seat is filled: no commission can hear it.
    assert r.status_code == 409 and detail(r)["reason"] == "unequal_commission", r.text
    assert "party to the dispute" in detail(r)["message"]
