"""Sections, declared groups and the equality report through the JSON API, on SQLite and
PostgreSQL, as their adversaries would use it: a member reading another's groups, anyone
reading who belongs to a section, an operator reading the audit log (public payloads and the
states beside them) for what members declared, an operator editing a declared group behind
the record's back, a stranger joining. The report answers as JSON, CSV and SVG."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import test_api_planning
from councilplan.councils import service as s
from councilplan.web import auth
from planning_setup import DAY
from test_api_planning import log_in, ok, refusal

clock = test_api_planning.clock
client = test_api_planning.client


class Town:
    def __init__(self, client, clock):
        self.client = client
        self.store = client.app.state.store
        made = s.create_demo_town(
            self.store, hash_password=auth.hash_password, now=clock.at - 2 * DAY
        )
        self.accounts = made["accounts"]
        self.councils = made["councils"]
        self._logins = {}

    def login(self, name):
        if name not in self._logins:
            self._logins[name] = log_in(self.client, name)
        return self._logins[name]


@pytest.fixture
def town(client, clock):
    return Town(client, clock)


DECLARED = {
    "ada": ("Woman", "Night  Shift"),
    "bea": ("woman", "night shift"),
    "cai": ("man", "Sámi"),
}


def test_declared_groups_are_for_ones_own_eyes(town, client):
    for name, (gender, group) in DECLARED.items():
        said = ok(
            client.put(
                "/api/me/groups", json={"gender": gender, "group": group}, headers=town.login(name)
            )
        )
        assert said["group"] == " ".join(group.split()) and said["gender"] == gender.lower()
    # Each reads back her own, and there is no way to name anyone else's.
    assert ok(client.get("/api/me/groups", headers=town.login("cai")))["group"] == "Sámi"
    assert ok(client.get("/api/me/groups", headers=town.login("dan")))["gender"] is None
    # No route takes anyone's id: the API's and the profile page's are for one's own groups.
    own = {"/api/me/groups", "/profile/groups"}
    assert all("/groups" not in r.path or r.path in own for r in client.app.routes)
    # Not required, changeable, removable.
    ok(client.put("/api/me/groups", json={"gender": "non-binary"}, headers=town.login("bea")))
    assert ok(client.get("/api/me/groups", headers=town.login("bea")))["group"] is None
    ok(client.delete("/api/me/groups", headers=town.login("bea")))
    assert ok(client.get("/api/me/groups", headers=town.login("bea")))["gender"] is None
    # Bad input is named.
    bad = refusal(
        client.put("/api/me/groups", json={"gender": "x\u200by"}, headers=town.login("dan")), 422
    )
    assert bad["field"] == "gender"
    # The public record names no one and says nothing declared ...
    entries = ok(client.get("/api/audit", params={"limit": 1000}, headers=town.login("dan")))
    entries = entries["entries"] if isinstance(entries, dict) else entries
    declared = [e for e in entries if e["kind"] == "groups.declared"]
    assert len(declared) == 5
    text = json.dumps(entries)
    for word in ("Sámi", "Night", "night shift", "non-binary", "woman"):
        assert word not in text
    for e in declared:
        assert set(e["payload"]) == {"state_sha256"}
    # ... and neither does the state an operator reads beside it: only a salted digest.
    with town.store.engine.connect() as connection:
        states = (
            connection.execute(
                sa.text("SELECT state FROM audit_log WHERE kind = 'groups.declared'")
            )
            .scalars()
            .all()
        )
        row_salts = connection.execute(sa.text("SELECT salt FROM declared_groups")).scalars().all()
    assert len(states) == 5 and len(row_salts) == 2  # ada's and cai's are left
    for state in states:
        for word in ("Sámi", "sámi", "night", "Night", "woman", "Woman", "non-binary", *row_salts):
            assert word not in state, state
        changes = json.loads(state)["changes"]
        assert all(set(c[2]) <= {"account_id", "declared_at", "sealed"} for c in changes)
    assert town.store.verify_record().ok


def test_an_operator_who_edits_a_declared_group_is_caught(town, client):
    ok(client.put("/api/me/groups", json={"gender": "woman"}, headers=town.login("ada")))
    with town.store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE declared_groups SET gender = 'man'"))
    verified = town.store.verify_record()
    assert not verified.ok and "declared_groups" in verified.message


def test_sections_through_the_api(town, client, clock):
    bakery = town.councils["bakery"]
    section = ok(
        client.post(
            f"/api/councils/{bakery}/sections",
            json={"name": "Apprentices", "purpose": "learning the trade"},
            headers=town.login("ada"),
        ),
        201,
    )
    sid = section["id"]
    ok(client.post(f"/api/sections/{sid}/join", headers=town.login("bea")), 201)
    # A member of another council is no member of the bakery: she cannot join.
    stranger = refusal(client.post(f"/api/sections/{sid}/join", headers=town.login("ivy")), 403)
    assert stranger["reason"] == "not_a_member"
    # Who belongs: for the section's members, not for the rest of the council.
    assert ok(client.get(f"/api/sections/{sid}/members", headers=town.login("bea"))) == [
        town.accounts["ada"],
        town.accounts["bea"],
    ]
    refusal(client.get(f"/api/sections/{sid}/members", headers=town.login("cai")), 403)
    listed = ok(client.get(f"/api/councils/{bakery}/sections", headers=town.login("cai")))
    assert listed[0]["members"] == 2 and "member_ids" not in listed[0]
    # Its delegate, by its own ballot; the council's member outside it cannot open one.
    refusal(
        client.post(
            f"/api/sections/{sid}/ballots",
            json={"purpose": "dissolution", "closes_at": (clock.at + 4 * DAY).isoformat()},
            headers=town.login("cai"),
        ),
        403,
    )
    ballot = ok(
        client.post(
            f"/api/sections/{sid}/ballots",
            json={
                "purpose": "election",
                "candidates": [town.accounts["bea"]],
                "closes_at": (clock.at + 3 * DAY).isoformat(),
            },
            headers=town.login("ada"),
        ),
        201,
    )
    for name in ("ada", "bea"):
        ok(
            client.post(
                f"/api/section-ballots/{ballot['id']}/votes",
                json={"choice": [str(town.accounts["bea"])]},
                headers=town.login(name),
            ),
            201,
        )
    refusal(
        client.post(f"/api/section-ballots/{ballot['id']}/close", headers=town.login("cai")), 409
    )
    clock.to(clock.at + 3 * DAY)
    ok(client.post(f"/api/section-ballots/{ballot['id']}/close", headers=town.login("cai")))
    assert (
        ok(client.get(f"/api/sections/{sid}", headers=town.login("cai")))["delegate_id"]
        == (town.accounts["bea"])
    )
    motion = ok(
        client.post(
            f"/api/sections/{sid}/motions",
            json={"title": "Paid study hours", "text": "Two hours a week."},
            headers=town.login("bea"),
        ),
        201,
    )
    assert motion["status"] == "waiting"
    shown = ok(client.get(f"/api/councils/{bakery}/section-motions", headers=town.login("cai")))
    assert shown[0]["deadline"] == motion["deadline"]


def test_the_equality_report_as_json_csv_and_svg(town, client):
    federation = town.councils["federation"]
    for name in ("ada", "bea", "eve", "fay", "ivy", "lee"):
        ok(client.put("/api/me/groups", json={"gender": "woman"}, headers=town.login(name)))
    headers = town.login("cai")
    report = ok(
        client.get("/api/reports/equality", params={"federation_id": federation}, headers=headers)
    )
    assert report["members"] == 18
    (gender,) = [t for t in report["participation"] if t["dimension"] == "gender"]
    rows = {r["gender"]: r for r in gender["rows"]}
    assert rows["woman"]["members"] == 6 and rows["(not declared)"]["members"] == 12
    assert rows["(all members)"]["members"] == 18
    csv_text = client.get(
        "/api/reports/equality/participation_gender.csv",
        params={"federation_id": federation},
        headers=headers,
    )
    assert csv_text.status_code == 200 and csv_text.text.startswith("gender,members,")
    svg = client.get(
        "/api/reports/equality/charts/lorenz.svg",
        params={"federation_id": federation},
        headers=headers,
    )
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    # Exactly one scope, and k within bounds.
    refusal(client.get("/api/reports/equality", headers=headers), 422)
    refusal(
        client.get(
            "/api/reports/equality",
            params={"federation_id": federation, "council_id": 1},
            headers=headers,
        ),
        422,
    )
    refusal(
        client.get(
            "/api/reports/equality", params={"federation_id": federation, "k": 1}, headers=headers
        ),
        422,
    )
    # Nobody lowers the threshold: k = 2 would show a group of two; it may only be raised.
    ok(client.put("/api/me/groups", json={"group": "Sámi"}, headers=town.login("cai")))
    for k in (2, 4):
        lowered = client.get(
            "/api/reports/equality", params={"federation_id": federation, "k": k}, headers=headers
        )
        assert lowered.status_code == 422, lowered.text
    for k in (5, 9):
        report = ok(
            client.get(
                "/api/reports/equality",
                params={"federation_id": federation, "k": k},
                headers=headers,
            )
        )
        assert "Sámi" not in json.dumps(report) and "sámi" not in json.dumps(report)
