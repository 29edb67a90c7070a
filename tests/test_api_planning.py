"""The planning cycle through the JSON API, on SQLite and PostgreSQL: the demo town is made
through the service, and then every planning step is a request by the delegate (or member)
whose act it is: the bundle uploaded, the period proposed and opened by the federation's
ballot, needs stated by three neighbourhoods, techniques by two workplaces, variants asked for
and computed by the job runner between requests, participatory rounds with one council
answering itself, a Schulze vote on adoption, and each council's targets read back; the plan
computed again from the record has the same digest. Refusals name their reason and store
nothing.

The period's stages last days, and so do the federation's ballots (its minimum ballot time).
The tests run the service on a clock of their own (:class:`Clock`): every act the API runs
reads the time from ``now_utc`` when it is given none, the ballot endpoints' votes and closes
included, so one clock moved forward carries the whole cycle through its deadlines in
seconds. Logins and tokens keep the real clock (web/auth.py)."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from councilplan.councils import service as s
from councilplan.councils.service import records
from councilplan.economy import DEMO_BUNDLE
from councilplan.economy.archive import pack_bundle
from councilplan.web import auth
from councilplan.web.app import create_app
from councilplan.web.routers import planning
from planning_setup import DAY, OFFERED, WORKPLACES, demo_needs

HOUR = DAY / 24
NEIGHBOURHOODS = ("north", "south", "neighbourhood")  # the demo town's riverside is its key
ARCHIVE = pack_bundle(DEMO_BUNDLE)


class Clock:
    """The time the service's acts read (``records.now_utc`` without a ``now``), moved by the
    test; it starts at the real time."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now_utc(self, now: datetime | None) -> datetime:
        return _real_now_utc(now or self.at)

    def to(self, at: datetime) -> None:
        assert at >= self.at, "the clock only moves forward"
        self.at = at


_real_now_utc = records.now_utc


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    # Each act's module holds now_utc by name (from ... import now_utc): set it in each.
    patched = []
    for name, module in list(sys.modules.items()):
        if name.startswith("councilplan.") and getattr(module, "now_utc", None) is _real_now_utc:
            monkeypatch.setattr(module, "now_utc", clock.now_utc)
            patched.append(name)
    for needed in ("ballots", "decisions", "planning"):
        assert f"councilplan.councils.service.{needed}" in patched, patched
    return clock


@pytest.fixture
def client(council_store, clock, monkeypatch):
    # argon2's cheapest parameters (its own profile for tests): the same code path, faster.
    from argon2 import PasswordHasher, profiles

    monkeypatch.setattr(auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c


class Town:
    """The demo town made through the service two days before the clock's start; ``login``
    holds a bearer header for the delegate of each council (by its key)."""

    def __init__(self, client: TestClient, clock: Clock):
        store = client.app.state.store
        made = s.create_demo_town(store, hash_password=auth.hash_password, now=clock.at - 2 * DAY)
        self.accounts: dict[str, int] = made["accounts"]
        self.councils: dict[str, int] = made["councils"]
        self.federation = self.councils["federation"]
        names = {account: name for name, account in self.accounts.items()}
        self.delegate: dict[str, int] = {}
        self.login: dict[str, dict[str, str]] = {}
        for key, council in self.councils.items():
            if key == "federation":
                continue
            (mandate,) = s.delegates(store, federation_id=self.federation, council_id=council)
            self.delegate[key] = mandate.account_id
            self.login[key] = log_in(client, names[mandate.account_id])


def log_in(client: TestClient, username: str, password: str = "demo") -> dict[str, str]:
    r = client.post("/api/tokens", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def ok(r, status: int = 200):
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def refusal(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()["detail"]


def at(moment: datetime) -> str:
    return moment.isoformat()


def upload_bundle(client: TestClient, headers: dict) -> dict:
    return ok(
        client.post(
            "/api/bundles",
            params={"name": "demo town"},
            content=ARCHIVE,
            headers={**headers, "Content-Type": "application/zip"},
        ),
        201,
    )


def open_period(client: TestClient, clock: Clock, town: Town, **extra) -> dict:
    """Upload the demo bundle, propose the period at the clock's time (t0), every delegate
    votes yes, and the ballot is closed at t0 + 4 days: stating until t0 + 10 days, proposing
    until t0 + 20, deciding until t0 + 30. The period, as the API answers it then."""
    proposer = town.login["bakery"]
    bundle = upload_bundle(client, proposer)
    t0 = clock.at
    period = ok(
        client.post(
            f"/api/federations/{town.federation}/periods",
            headers=proposer,
            json={
                "title": "The town's plan",
                "bundle_digest": bundle["digest"],
                "starts_on": "2027-01-01",
                "ends_on": "2027-12-31",
                "ballot_closes_at": at(t0 + 4 * DAY),
                "stating_closes_at": at(t0 + 10 * DAY),
                "proposing_closes_at": at(t0 + 20 * DAY),
                "deciding_closes_at": at(t0 + 30 * DAY),
                **extra,
            },
        ),
        201,
    )
    assert (period["status"], period["stage"]) == ("proposed", "proposed")
    ballot = period["ballot_id"]
    for headers in town.login.values():
        ok(
            client.post(f"/api/ballots/{ballot}/votes", json={"choice": "yes"}, headers=headers),
            201,
        )
    clock.to(t0 + 4 * DAY)
    closed = ok(client.post(f"/api/ballots/{ballot}/close", headers=proposer))
    assert closed["tally"]["outcome"] == "carried", closed["tally"]
    period = ok(client.get(f"/api/periods/{period['id']}", headers=proposer))
    assert (period["status"], period["stage"]) == ("open", "stating")
    return {**period, "t0": t0}


def record_head(store) -> tuple[int, str]:
    store.seal_audit()
    return store.audit_head()


def numbers(mapping) -> dict[str, float]:
    """A JSON object of numbers as the API writes them (floats as their repr text)."""
    return {key: float(value) for key, value in mapping.items()}


def test_the_whole_cycle_through_the_api(client, clock):
    store = client.app.state.store
    town = Town(client, clock)
    fed = town.login["bakery"]  # the bakery's delegate speaks for the federation's steps
    period = open_period(client, clock, town, rounds={"round_hours": 1, "max_rounds": 80})
    pid, t0 = period["id"], period["t0"]
    assert period["rounds"] == {"round_hours": 1, "max_rounds": 80, "threshold": "3"}
    archive = client.get(f"/api/bundles/{period['bundle_digest']}/archive", headers=fed)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert hashlib.sha256(archive.content).hexdigest() == period["bundle_digest"]
    assert archive.content == ARCHIVE

    # Stating: three neighbourhoods state needs (South's as JSON numbers, the others' as
    # decimal text), two workplaces their techniques and hours.
    clock.to(t0 + 5 * DAY)
    needs = demo_needs()
    for key in NEIGHBOURHOODS:
        rows = needs[key]
        if key == "south":
            rows = [
                {**r, "quantity": float(r["quantity"]), "priority": int(r["priority"])}
                for r in rows
            ]
        stated = ok(
            client.post(
                f"/api/periods/{pid}/councils/{town.councils[key]}/needs",
                headers=town.login[key],
                json={"needs": rows},
            ),
            201,
        )
        assert (stated["status"], stated["stated_by"]) == ("in_force", town.delegate[key])
        # Kept as decimal text, whether sent as text or as JSON numbers.
        kept = stated["content"]["needs"]
        assert all(isinstance(r["quantity"], str) for r in kept)
        assert [Decimal(r["quantity"]) for r in kept] == [Decimal(str(r["quantity"])) for r in rows]
    for key in WORKPLACES:
        stated = ok(
            client.post(
                f"/api/periods/{pid}/councils/{town.councils[key]}/techniques",
                headers=town.login[key],
                json={"techniques": WORKPLACES[key], "hours": OFFERED[key]},
            ),
            201,
        )
        assert stated["content"]["hours"] == OFFERED[key]
    in_force = ok(client.get(f"/api/periods/{pid}/statements", headers=fed))
    assert sorted(x["council_id"] for x in in_force) == sorted(
        town.councils[k] for k in (*NEIGHBOURHOODS, *WORKPLACES)
    )
    north_only = ok(
        client.get(
            f"/api/periods/{pid}/statements",
            params={"council_id": town.councils["north"]},
            headers=fed,
        )
    )
    assert [x["kind"] for x in north_only] == ["needs"]

    # Proposing: two variants asked for, queued; the rounds.
    clock.to(t0 + 11 * DAY)
    queued = ok(
        client.post(f"/api/periods/{pid}/variants", headers=fed, json={"name": "least-labour"}),
        202,
    )
    assert queued["status"] == "queued"
    ok(
        client.post(
            f"/api/periods/{pid}/variants",
            headers=town.login["north"],
            json={"name": "low-carbon", "constraints": {"resources": {"co2": "17000"}}},
        ),
        202,
    )
    first = ok(client.post(f"/api/periods/{pid}/rounds", headers=fed), 201)
    assert first["number"] == 1 and first["status"] == "open"
    prices = numbers(first["prices"])
    assert prices["labour general"] == 1.0 and prices["bread (households)"] > 0

    # North answers round 1 itself: 5% more than it stated, of each good the round prices for
    # households or the public. South and Riverside do not: their calibrated answers count.
    asked: dict[str, float] = {}
    for row in needs["north"]:
        label = next(
            f"{row['product']} ({side})"
            for side in ("households", "public")
            if f"{row['product']} ({side})" in prices
        )
        asked[label] = asked.get(label, 0.0) + float(row["quantity"]) * 1.05
    clock.to(clock.at + HOUR / 2)
    north = town.councils["north"]
    answer = ok(
        client.post(
            f"/api/rounds/{first['id']}/councils/{north}/answer",
            headers=town.login["north"],
            json={"demands": asked},
        )
    )
    assert (answer["council_id"], answer["answered_by"]) == (north, town.delegate["north"])
    current = first
    while True:
        clock.to(clock.at + HOUR)
        ok(client.post(f"/api/rounds/{current['id']}/close", headers=town.login["south"]))
        latest = ok(client.get(f"/api/periods/{pid}/rounds/current", headers=fed))
        rounds = ok(client.get(f"/api/periods/{pid}/rounds", headers=fed))
        assert latest == rounds[-1]
        if rounds[-1]["status"] == "closed":
            break
        current = rounds[-1]
        assert ok(client.get(f"/api/rounds/{current['id']}", headers=fed))["status"] == "open"
    assert rounds[0]["outcome"]["answered"] == [str(north)]
    assert all(r["outcome"]["answered"] == [] for r in rounds[1:])

    # The variants are computed outside the requests, by the job runner.
    listed = ok(client.get(f"/api/periods/{pid}/variants", headers=fed))
    assert {v["name"]: v["status"] for v in listed} == {
        "least-labour": "queued",
        "low-carbon": "queued",
        "rounds": "queued",
    }
    refused = refusal(client.get(f"/api/variants/{listed[0]['id']}/plan", headers=fed), 409)
    assert refused["reason"] == "not_computed"
    computed = 0
    while s.run_next_job(store, worker="test-worker") is not None:
        computed += 1
    assert computed == 3
    variants = {v["name"]: ok(client.get(f"/api/variants/{v['id']}", headers=fed)) for v in listed}
    assert {v["status"] for v in variants.values()} == {"done"}, [
        v["error"] for v in variants.values()
    ]
    least, low = variants["least-labour"], variants["low-carbon"]
    assert least["summary"]["status"] == "optimal" and least["worker"] == "test-worker"
    assert float(low["summary"]["total_labour"]) > float(least["summary"]["total_labour"])
    plan = ok(client.get(f"/api/variants/{least['id']}/plan", headers=fed))
    assert float(plan["values"]["bread"]) > 0

    # Deciding: the federation ranks the variants (Schulze) through the ballot endpoints.
    clock.to(t0 + 20 * DAY)
    ballot = ok(
        client.post(
            f"/api/periods/{pid}/adoption",
            headers=fed,
            json={"closes_at": at(t0 + 23 * DAY), "rule": "schulze"},
        ),
        201,
    )
    assert ballot["purpose"] == "adoption" and ballot["rule"] == "schulze"
    assert set(ballot["options"]) == {"least-labour", "low-carbon", "rounds"}
    clock.to(clock.at + HOUR)
    for key, headers in town.login.items():
        ranking = ["low-carbon", "least-labour", "rounds"] if key != "clinic" else ["rounds"]
        ok(
            client.post(
                f"/api/ballots/{ballot['id']}/votes", json={"choice": ranking}, headers=headers
            ),
            201,
        )
    clock.to(t0 + 23 * DAY)
    closed = ok(client.post(f"/api/ballots/{ballot['id']}/close", headers=fed))
    assert closed["tally"]["winners"] == ["low-carbon"]
    adopted = ok(client.get(f"/api/periods/{pid}", headers=fed))
    assert (adopted["status"], adopted["plan_digest"]) == ("adopted", low["plan_digest"])

    # Every council reads what the plan means for it.
    for key in WORKPLACES:
        targets = ok(
            client.get(
                f"/api/periods/{pid}/councils/{town.councils[key]}/targets",
                headers=town.login[key],
            )
        )
        assert targets["variant"] == "low-carbon" and targets["consumption"] is None
        techniques = {t["technique"] for t in targets["workplace"]["techniques"]}
        assert techniques and techniques <= {t["technique"] for t in WORKPLACES[key]}
        assert targets["workplace"]["hours"]
    for key in NEIGHBOURHOODS:
        targets = ok(
            client.get(
                f"/api/periods/{pid}/councils/{town.councils[key]}/targets",
                headers=town.login[key],
            )
        )
        assert targets["workplace"] is None
        stated = {r["product"]: float(r["quantity"]) for r in needs[key]}
        got = {r["product"]: float(r["need"]) for r in targets["consumption"]}
        assert got == pytest.approx(stated, rel=1e-11)
        assert all(
            float(r["met"]) == pytest.approx(float(r["need"])) for r in targets["consumption"]
        )
    values = ok(client.get(f"/api/periods/{pid}/values", headers=fed))
    assert values["plan_digest"] == adopted["plan_digest"] and float(values["values"]["bread"]) > 0

    # The plan computed again from the record alone: the same digests.
    again = {r.name: r for r in s.recompute_period(store, pid)}
    assert set(again) == {"least-labour", "low-carbon", "rounds"}
    assert all(r.matches for r in again.values()), again
    assert again["low-carbon"].plan_digest == adopted["plan_digest"]
    assert store.verify_record().ok


def test_statements_refused_by_name_store_nothing(client, clock):
    store = client.app.state.store
    town = Town(client, clock)
    period = open_period(client, clock, town)
    pid, t0 = period["id"], period["t0"]
    north = town.councils["north"]
    outsider_id = ok(
        client.post("/api/accounts", json={"username": "zed", "password": "correct horse"}), 201
    )["id"]
    outsider = log_in(client, "zed", "correct horse")
    clock.to(t0 + 5 * DAY)

    def stated():
        return ok(client.get(f"/api/periods/{pid}/statements?all=true", headers=outsider))

    def state(headers=town.login["north"], needs=None):
        body = {"needs": needs or [{"product": "bread", "quantity": "10"}]}
        return client.post(f"/api/periods/{pid}/councils/{north}/needs", json=body, headers=headers)

    def refused(status, reason, field, headers=town.login["north"], needs=None):
        before, statements = record_head(store), stated()
        detail = refusal(state(headers, needs), status)
        assert (detail["reason"], detail["field"]) == (reason, field), detail
        assert record_head(store) == before
        assert stated() == statements
        return detail

    stranger = refused(403, "not_a_member", "actor_id", headers=outsider)
    assert str(outsider_id) in stranger["message"]
    caviar = refused(
        422, "unknown_product", "needs[0].product", needs=[{"product": "caviar", "quantity": 1}]
    )
    assert "caviar" in caviar["message"]
    refused(422, "bad_number", "needs[0].quantity", needs=[{"product": "bread", "quantity": "-1"}])
    refused(403, "no_mandate", "actor_id", headers=log_in(client, "oz"))  # North's, no mandate
    assert stated() == []
    before = record_head(store)
    ok(state(), 201)  # the same request by North's delegate, before the deadline, is kept
    assert record_head(store) != before and len(stated()) == 1
    # A statement larger than the server's default body limit (128 KiB) is read: statements
    # have a limit of their own; the same size elsewhere is refused at the door.
    from councilplan.economy import load_demo

    many = [
        {"product": str(p), "quantity": "1.5", "priority": str(k)}
        for p in load_demo().product_ids
        for k in range(1, 61)
    ]
    big = {"needs": many}
    assert len(json.dumps(big)) > 128 * 1024
    kept = ok(state(needs=many), 201)
    assert len(kept["content"]["needs"]) == len(many)
    motion = {"title": "t", "text": "x" * 100, "padding": big}
    r = client.post(f"/api/councils/{north}/motions", json=motion, headers=town.login["north"])
    assert r.status_code == 413 and r.json()["detail"]["reason"] == "body_too_large"
    clock.to(t0 + 10 * DAY)  # stating closes
    late = refused(409, "not_stating", "period_id")
    assert "stating_closes_at" in late["message"]
    # A body the schema refuses never reaches the service: a misspelt field is named.
    r = client.post(
        f"/api/periods/{pid}/councils/{north}/needs",
        json={"needs": [{"product": "bread", "quantitiy": "1"}]},
        headers=town.login["north"],
    )
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} >= {
        ("body", "needs", 0, "quantity"),
        ("body", "needs", 0, "quantitiy"),
    }


def test_bundles_are_checked_at_the_door(client, clock, monkeypatch):
    store = client.app.state.store
    town = Town(client, clock)
    member = log_in(client, "oz")  # a member of North who holds no mandate

    def upload(content, headers, media_type="application/zip"):
        return client.post(
            "/api/bundles",
            params={"name": "town"},
            content=content,
            headers={**headers, "Content-Type": media_type},
        )

    before = record_head(store)
    assert refusal(upload(b"PK not a zip", town.login["bakery"]), 422)["reason"] == "bad_bundle"
    assert refusal(upload(ARCHIVE, member), 403)["reason"] == "not_a_current_delegate"
    wrong = refusal(upload(ARCHIVE, town.login["bakery"], "application/json"), 415)
    assert (wrong["reason"], wrong["field"]) == ("unsupported_media_type", "content-type")
    monkeypatch.setattr(planning, "MAX_BUNDLE_UPLOAD_BYTES", len(ARCHIVE) - 1)
    big = refusal(upload(ARCHIVE, town.login["bakery"]), 413)
    assert (big["reason"], big["field"]) == ("bundle_too_large", "body")
    assert record_head(store) == before
    monkeypatch.setattr(planning, "MAX_BUNDLE_UPLOAD_BYTES", len(ARCHIVE))
    bundle = upload_bundle(client, town.login["bakery"])
    assert bundle["digest"] == hashlib.sha256(ARCHIVE).hexdigest()
    assert bundle["size"] == len(ARCHIVE) and bundle["added_by"] == town.delegate["bakery"]
    assert upload_bundle(client, town.login["clinic"]) == bundle  # kept once
    assert ok(client.get(f"/api/bundles/{bundle['digest']}", headers=member)) == bundle
    unknown = refusal(client.get(f"/api/bundles/{'0' * 64}", headers=member), 404)
    assert unknown["reason"] == "no_such_bundle"
    assert client.get("/api/bundles/not-a-digest", headers=member).status_code == 422
