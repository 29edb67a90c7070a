"""Issue 12, Capture: each attack replayed through the API, on SQLite and PostgreSQL. Before the
council rules, every one of them succeeded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from council_setup import change_rules, federation_with
from councilplan.councils import service as s
from councilplan.web import auth
from councilplan.web.app import create_app

NOW = datetime.now(UTC)
PAST = NOW - timedelta(days=20)
DAY = timedelta(days=1)


@pytest.fixture
def client(council_store, monkeypatch):
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


def account(client, name, password="correct horse"):
    r = client.post("/api/accounts", json={"username": name, "password": password})
    assert r.status_code == 201, r.text
    token = client.post("/api/tokens", json={"username": name, "password": password}).json()
    return r.json()["id"], {"Authorization": f"Bearer {token['token']}"}


def in_two_seconds():
    return (datetime.now(UTC) + timedelta(seconds=2)).isoformat()


def town(store):
    """A weighted federation of a bakery (4 members) and a clinic (3), each with a delegate,
    all made through the rules before PAST."""
    ids = [
        s.register_account(
            store, username=f"w{i}", display_name="W", password_hash="h", now=PAST - 40 * DAY
        )
        for i in range(7)
    ]
    groups = [ids[:4], ids[4:]]
    fed, councils = federation_with(store, ids[0], groups, at=PAST, weighted=True)
    return fed, councils, groups


def test_throwaway_accounts_cannot_join_and_recall_a_delegate(client):
    store = client.app.state.store
    fed, (bakery, _), groups = town(store)
    (delegate,) = s.delegates(store, council_id=bakery.id)
    throwaway = [account(client, f"sock{i}") for i in range(5)]
    for _, headers in throwaway:
        r = client.post(f"/api/councils/{bakery.id}/join", headers=headers)
        assert r.status_code == 201 and r.json()["status"] == "pending"  # the council decides
    r = client.post(
        f"/api/delegates/{delegate.id}/recalls", json={"reason": "gone"}, headers=throwaway[0][1]
    )
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "not_a_member"
    assert [d.id for d in s.delegates(store, council_id=bakery.id)] == [delegate.id]
    # Even admitted (by the council's own ballot), a new member supports no recall at once.
    asked = [a.id for a in s.applications(store, bakery.id)]
    ballot = s.open_admission(
        store,
        council_id=bakery.id,
        opened_by=groups[0][0],
        application_ids=asked,
        closes_at=NOW + 2 * DAY,
    )
    for voter in groups[0]:
        s.cast_vote(store, ballot_id=ballot.id, voter_id=voter, choice="yes")
    s.close_ballot(store, ballot_id=ballot.id, now=NOW + 2 * DAY)
    with pytest.raises(s.Refused) as refused:
        s.open_recall(
            store,
            delegate_id=delegate.id,
            member_id=throwaway[0][0],
            reason="gone",
            now=NOW + 2 * DAY,
        )
    assert refused.value.reason == "short_standing"


def test_a_new_council_cannot_take_over_a_weighted_federation(client):
    store = client.app.state.store
    fed, (bakery, clinic), groups = town(store)
    me, h = account(client, "mallory")
    mine = client.post("/api/councils", json={"name": "Mine", "kind": "workplace"}, headers=h)
    mine = mine.json()
    # A declared weight is no longer a field of the request.
    r = client.post(
        f"/api/federations/{fed.id}/councils",
        json={"council_id": mine["id"], "weight": 1_000_000},
        headers=h,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/federations/{fed.id}/councils", json={"council_id": mine["id"]}, headers=h
    )
    assert r.status_code == 201 and r.json()["status"] == "pending"
    # Affiliation is the federation's decision: not the applicant's.
    r = client.post(f"/api/applications/{r.json()['id']}/admit", headers=h)
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "not_the_founder"
    r = client.post(
        f"/api/councils/{mine['id']}/elections",
        json={
            "federation_id": fed.id,
            "candidates": [me],
            "mandate": "mine",
            "closes_at": in_two_seconds(),
        },
        headers=h,
    )
    assert r.status_code in (403, 422)
    # A 2-second ballot is refused by name, in its own council too.
    r = client.post(
        f"/api/councils/{mine['id']}/ballots",
        json={
            "title": "T",
            "rule": "yes_no",
            "closes_at": in_two_seconds(),
        },
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] == "ballot_too_short"
    assert r.json()["detail"]["field"] == "closes_at" and "min_ballot_days" in r.text
    # Federation ballots count derived weights, fixed and published when they open.
    ballot = s.open_ballot(
        store,
        council_id=fed.id,
        opened_by=groups[0][0],
        title="Q",
        rule="yes_no",
        closes_at=NOW + 2 * DAY,
    )
    assert ballot.weights == {str(bakery.id): 4, str(clinic.id): 3}
    assert ballot.electorate == 2
    opened = [e for e in store.audit_entries() if e.kind == "ballot.opened"][-1]
    assert opened.payload["weights"] == {str(bakery.id): 4, str(clinic.id): 3}
    r = client.post(f"/api/ballots/{ballot.id}/votes", json={"choice": "yes"}, headers=h)
    assert r.status_code == 403


def test_a_member_who_joined_after_a_ballot_opened_does_not_vote_in_it(client):
    store = client.app.state.store
    fed, (bakery, _), groups = town(store)
    change_rules(store, bakery.id, groups[0], PAST, admission="invitation")
    founder = groups[0][0]
    ballot = s.open_ballot(
        store,
        council_id=bakery.id,
        opened_by=founder,
        title="Q",
        rule="yes_no",
        closes_at=NOW + 4 * DAY,
    )
    newcomer, h = account(client, "newcomer")
    assert client.post(f"/api/councils/{bakery.id}/join", headers=h).json()["status"] == "pending"
    s.invite_member(store, council_id=bakery.id, member_id=founder, account_id=newcomer)
    assert newcomer in [m.account_id for m in s.members(store, bakery.id)]
    r = client.post(f"/api/ballots/{ballot.id}/votes", json={"choice": "yes"}, headers=h)
    assert r.status_code == 403
    assert r.json()["detail"]["reason"] == "joined_after_ballot_opened"
    assert s.get_ballot(store, ballot.id).electorate == 4  # fixed at opening


def test_rules_are_read_and_changed_only_by_the_councils_ballot(client):
    ada, h = account(client, "ada")
    c = client.post("/api/councils", json={"name": "Hood", "kind": "consumer"}, headers=h).json()
    rules = client.get(f"/api/councils/{c['id']}/rules", headers=h).json()
    assert rules["admission"] == "decision"
    assert (rules["min_standing_days"], rules["min_ballot_days"]) == (7, 3)
    assert rules["statements_by"] == "delegate"
    r = client.post(
        f"/api/councils/{c['id']}/rules",
        json={
            "admission": "open",
            "statements_by": "ballot",
            "closes_at": (NOW + 4 * DAY).isoformat(),
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["purpose"] == "rules"
    assert r.json()["subject"]["rules"] == {"admission": "open", "statements_by": "ballot"}
    assert client.get(f"/api/councils/{c['id']}/rules", headers=h).json()["admission"] == (
        "decision"  # until the ballot carries
    )


def test_an_outsider_can_neither_admit_nor_invite_nor_change_rules_nor_affiliate(client):
    """A throwaway account tries every act by which membership and rules change, on a council
    and a federation it does not belong to: each is refused and nothing is stored."""
    ada, h_ada = account(client, "ada")
    hood = client.post(
        "/api/councils", json={"name": "Hood", "kind": "consumer"}, headers=h_ada
    ).json()
    fed = client.post(
        "/api/councils", json={"name": "Town", "kind": "federation"}, headers=h_ada
    ).json()
    mallory, h_mal = account(client, "mallory")
    application = client.post(f"/api/councils/{hood['id']}/join", headers=h_mal).json()
    assert application["status"] == "pending"
    soon = (NOW + 4 * DAY).isoformat()
    before = len(client.get("/api/audit", headers=h_ada).json())
    attempts = [
        (f"/api/councils/{hood['id']}/invitations", {"account_id": mallory}),
        (
            f"/api/councils/{hood['id']}/admissions",
            {"application_ids": [application["id"]], "closes_at": soon},
        ),
        (f"/api/councils/{hood['id']}/rules", {"admission": "open", "closes_at": soon}),
        (f"/api/federations/{fed['id']}/councils", {"council_id": hood["id"]}),
    ]
    for url, body in attempts:
        r = client.post(url, json=body, headers=h_mal)
        assert r.status_code == 403, (url, r.status_code, r.text)
    assert len(client.get("/api/audit", headers=h_ada).json()) == before  # nothing stored
    members = client.get(f"/api/councils/{hood['id']}/members", headers=h_ada).json()
    assert [m["account_id"] for m in members] == [ada]
    assert (
        client.get(f"/api/councils/{hood['id']}/rules", headers=h_ada).json()["admission"]
        == "decision"
    )


def test_under_admission_by_invitation_only_a_member_of_standing_invites(client, council_store):
    founder = s.register_account(
        council_store, username="ada", display_name="Ada", password_hash="h", now=PAST
    )
    works = s.create_council(
        council_store, name="Works", kind="workplace", founder_id=founder, now=PAST
    )
    change_rules(council_store, works.id, [founder], PAST + DAY, admission="invitation")
    mallory, h_mal = account(client, "mallory")
    r = client.post(
        f"/api/councils/{works.id}/invitations", json={"account_id": mallory}, headers=h_mal
    )
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "not_a_member", r.text
    r = client.post(f"/api/councils/{works.id}/join", headers=h_mal)
    assert r.status_code == 201 and r.json()["status"] == "pending"  # not a member: asked
