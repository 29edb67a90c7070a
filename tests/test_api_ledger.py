"""Labour-time accounts through the JSON API, on SQLite and PostgreSQL. The demo town is taken
to an adopted plan through the service (planning_setup.adopted_plan, its levy from the town's
public goods and a reserve); then every act is a request by the member whose act it is: hours
recorded by a co-worker (one entry and a sheet), a self-recording refused, draws, an overdraw
and a public good refused, reversals, a commission's decision carried out, accounts and the
levy read back. A refused act stores nothing: neither the record nor any balance moves.

The plan is adopted a month after the real time now, so the service runs on the test clock of
tests/test_api_planning.py, moved to the day after the adoption."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

import test_api_planning
from councilplan.councils import service as s
from councilplan.ledger import QUANTUM
from planning_setup import DAY, PUBLIC_GOODS, T0, adopted_plan, demo_town
from test_api_planning import Clock, log_in, ok, open_period, refusal
from test_api_planning import Town as PlanningTown

# The planning API's fixtures: its test clock, and a client of the app on it.
clock = test_api_planning.clock
client = test_api_planning.client

AFTER = T0 + 24 * DAY  # the plan is adopted at T0 + 23 days


def hours(text: str) -> Decimal:
    """An amount as the API answers it (``"1,234.5"``)."""
    return Decimal(text.replace(",", ""))


def all_balances(store) -> dict[str, Decimal]:
    with store.reading() as tx:
        return {r["key"]: Decimal(r["balance"]) * QUANTUM for r in tx.ledger_accounts()}


class Adopted:
    """The demo town (passwords argon2-hashed, so its members log in) with the plan adopted
    through the service; ``login(name)`` is a bearer header for a member."""

    def __init__(self, client: TestClient, clock: Clock):
        self.client = client
        self.store = store = client.app.state.store
        self.town = demo_town(store, hash_password=None)
        self.period = adopted_plan(store, self.town)
        assert self.period.status == "adopted"
        self.accounts = self.town.accounts
        self.bakery = self.town.councils["bakery"]
        self._logins: dict[str, dict[str, str]] = {}
        clock.to(AFTER)

    def login(self, name: str) -> dict[str, str]:
        if name not in self._logins:
            self._logins[name] = log_in(self.client, name)
        return self._logins[name]

    def refused(self, response, status: int, reason: str) -> dict:
        """The refusal's detail, once checked that it is ``reason`` with ``status``."""
        detail = refusal(response, status)
        assert detail["reason"] == reason, detail
        return detail


@pytest.fixture
def adopted(client, clock) -> Adopted:
    return Adopted(client, clock)


def record_head(store) -> tuple[int, str]:
    store.seal_audit()
    return store.audit_head()


def test_hours_draws_and_reversals_through_the_api(client, adopted):
    store, a, bakery = adopted.store, adopted.accounts, adopted.bakery
    cai, bea = adopted.login("cai"), adopted.login("bea")

    # One entry, recorded by a co-worker; hours as decimal text.
    act = ok(
        client.post(
            f"/api/workplaces/{bakery}/hours",
            headers=cai,
            json={"member_id": a["bea"], "hours": "7.5", "note": "Monday"},
        ),
        201,
    )
    credit, levy = act["transfers"]
    assert (credit["kind"], levy["kind"]) == ("hours", "levy")
    assert hours(credit["amount"]) + hours(levy["amount"]) == Decimal("7.5")
    assert levy["credit"].startswith("common_fund:") and credit["credit"].startswith("member:#")
    assert "note" not in credit["ref"]  # a note is the council's, not on the public ref

    # A sheet, hours as JSON numbers: whole, in its order.
    sheet = ok(
        client.post(
            f"/api/workplaces/{bakery}/hours",
            headers=cai,
            json={
                "entries": [
                    {"member_id": a["bea"], "hours": 8, "note": "Tuesday"},
                    {"member_id": a["dan"], "hours": 7.25},
                ]
            },
        ),
        201,
    )
    assert [Decimal(act["transfers"][0]["ref"]["hours"]) for act in sheet] == [8, Decimal("7.25")]

    # A sheet with a row refused keeps nothing, and names the row.
    before, balances = record_head(store), all_balances(store)
    detail = adopted.refused(
        client.post(
            f"/api/workplaces/{bakery}/hours",
            headers=cai,
            json={
                "entries": [
                    {"member_id": a["dan"], "hours": "8"},
                    {"member_id": a["bea"], "hours": "1.00001"},
                ]
            },
        ),
        422,
        "too_precise",
    )
    assert detail["field"] == "entries[1].hours"
    # Nobody records her own hours.
    adopted.refused(
        client.post(
            f"/api/workplaces/{bakery}/hours",
            headers=bea,
            json={"member_id": a["bea"], "hours": 40},
        ),
        403,
        "own_hours",
    )
    # One entry or a sheet, not both; and a workplace's hours are for its members.
    mixed = {"member_id": a["dan"], "hours": 1, "entries": [{"member_id": a["dan"], "hours": 1}]}
    r = client.post(f"/api/workplaces/{bakery}/hours", headers=cai, json=mixed)
    assert r.status_code == 422 and "not both" in r.text
    adopted.refused(
        client.post(
            f"/api/workplaces/{bakery}/hours", headers=cai, json={"member_id": a["mo"], "hours": 8}
        ),
        403,
        "not_a_member",
    )
    assert record_head(store) == before and all_balances(store) == balances

    # Bea draws bread (units are tonnes): the quantity is kept exactly as sent.
    mine = ok(client.get("/api/ledger/me", headers=bea))
    held = hours(mine["balance"])
    assert held == hours(credit["amount"]) + hours(sheet[0]["transfers"][0]["amount"])
    drawn = ok(
        client.post(
            "/api/ledger/draws",
            headers=bea,
            json={"product": "bread", "quantity": "0.01000000000000000001"},
        ),
        201,
    )
    (t,) = drawn["transfers"]
    assert (t["kind"], t["ref"]["product"]) == ("draw", "bread")
    assert t["ref"]["quantity"] == "0.01000000000000000001"
    values = ok(client.get(f"/api/periods/{adopted.period.id}/values", headers=bea))["values"]
    value = Decimal(values["bread"])
    assert hours(t["amount"]) == (value / 100).quantize(QUANTUM, rounding="ROUND_DOWN")
    mine = ok(client.get("/api/ledger/me", headers=bea))
    assert hours(mine["balance"]) == held - hours(t["amount"])
    assert mine["shown"] == "you" and mine["transfers"][0]["debit"] == "you"

    # An overdraw and a public good are refused, and store nothing.
    before, balances = record_head(store), all_balances(store)
    adopted.refused(
        client.post("/api/ledger/draws", headers=bea, json={"product": "bread", "quantity": 1000}),
        409,
        "overdrawn",
    )
    adopted.refused(
        client.post(
            "/api/ledger/draws", headers=bea, json={"product": "health_care", "quantity": "1"}
        ),
        403,
        "public_good",
    )
    adopted.refused(
        client.post("/api/ledger/draws", headers=bea, json={"product": "caviar", "quantity": "1"}),
        422,
        "unknown_product",
    )
    assert record_head(store) == before and all_balances(store) == balances

    # Reversals: her draw by her only, once; hours by a co-worker, never by her.
    adopted.refused(
        client.post(f"/api/transfers/{t['tid']}/reversal", headers=cai, json={"reason": "r"}),
        403,
        "not_your_draw",
    )
    undone = ok(
        client.post(
            f"/api/transfers/{t['tid']}/reversal", headers=bea, json={"reason": "wrong loaf"}
        ),
        201,
    )
    assert undone["transfers"][0]["reverses"] == t["tid"]
    assert undone["transfers"][0]["reason"] == "wrong loaf"
    adopted.refused(
        client.post(f"/api/transfers/{t['tid']}/reversal", headers=bea, json={"reason": "again"}),
        409,
        "already_reversed",
    )
    adopted.refused(
        client.post(
            f"/api/transfers/{credit['tid']}/reversal", headers=bea, json={"reason": "mine"}
        ),
        403,
        "own_hours",
    )
    undone = ok(
        client.post(
            f"/api/transfers/{credit['tid']}/reversal",
            headers=adopted.login("dan"),
            json={"reason": "Monday counted twice"},
        ),
        201,
    )
    assert {x["reverses"] for x in undone["transfers"]} == {credit["tid"], levy["tid"]}
    assert hours(ok(client.get("/api/ledger/me", headers=bea))["balance"]) == hours(
        sheet[0]["transfers"][0]["amount"]
    )
    assert sum(all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_workplace_draws_its_inputs(client, adopted):
    bakery, ada = adopted.bakery, adopted.login("ada")
    fund = f"materials_fund:{bakery}"
    held = hours(ok(client.get(f"/api/ledger/accounts/{fund}", headers=ada))["balance"])
    drawn = ok(
        client.post(
            f"/api/workplaces/{bakery}/draws",
            headers=ada,
            json={"product": "flour", "quantity": "2.5"},
        ),
        201,
    )
    (t,) = drawn["transfers"]
    assert (t["debit"], t["credit"]) == (fund, f"goods:{adopted.town.federation}")
    after = ok(client.get(f"/api/ledger/accounts/{fund}", headers=ada))
    assert hours(after["balance"]) == held - hours(t["amount"])
    r = client.post(
        f"/api/workplaces/{bakery}/draws",
        headers=ada,
        json={"fund": "savings", "product": "flour", "quantity": "1"},
    )
    assert r.status_code == 422 and "fund" in r.text
    # A member of another council does not draw for the bakery.
    adopted.refused(
        client.post(
            f"/api/workplaces/{bakery}/draws",
            headers=adopted.login("mo"),
            json={"product": "flour", "quantity": "1"},
        ),
        403,
        "not_a_member",
    )


def test_reading_accounts_and_the_levy(client, adopted):
    store, a, bakery = adopted.store, adopted.accounts, adopted.bakery
    cai, bea = adopted.login("cai"), adopted.login("bea")
    for day in ("Monday", "Tuesday", "Wednesday"):
        ok(
            client.post(
                f"/api/workplaces/{bakery}/hours",
                headers=cai,
                json={"member_id": a["bea"], "hours": "8", "note": day},
            ),
            201,
        )
    mine = ok(client.get("/api/ledger/me", headers=bea))
    key = mine["key"]
    assert key.startswith("member:#") and mine["kind"] == "member"

    # Another member reads Bea's account by its number ('#' sent as %23): not as "you".
    theirs = ok(client.get(f"/api/ledger/accounts/{key.replace('#', '%23')}", headers=cai))
    assert theirs["balance"] == mine["balance"] and theirs["shown"] == key.replace(":", " ")
    assert [t["tid"] for t in theirs["transfers"]] == [t["tid"] for t in mine["transfers"]]
    assert all(t["credit"] == key.replace(":", " ") for t in theirs["transfers"])
    # Paging back by transfer id.
    first = ok(client.get(f"/api/ledger/accounts/{key.replace('#', '%23')}?limit=1", headers=cai))
    (newest,) = first["transfers"]
    older = ok(
        client.get(
            f"/api/ledger/accounts/{key.replace('#', '%23')}",
            params={"limit": 5, "before": newest["id"]},
            headers=cai,
        )
    )
    assert [t["tid"] for t in older["transfers"]] == [t["tid"] for t in mine["transfers"][1:]]
    # A person's account is not found by her account id, nor a key that is none.
    for wrong in (f"member:{a['bea']}", "labour_fund:999"):
        adopted.refused(
            client.get(f"/api/ledger/accounts/{wrong}", headers=cai), 404, "no_such_ledger_account"
        )

    # The bakery's labour fund: what the plan issued, less the hours credited and levied.
    fund = ok(client.get(f"/api/ledger/accounts/labour_fund:{bakery}", headers=bea))
    kinds = [t["kind"] for t in fund["transfers"]]
    assert kinds[-1] == "allotment" and kinds.count("hours") == 3 and kinds.count("levy") == 3
    issued = hours(fund["transfers"][-1]["amount"])
    assert hours(fund["balance"]) == issued - 24
    common = ok(
        client.get(f"/api/ledger/accounts/common_fund:{adopted.town.federation}", headers=bea)
    )
    assert hours(common["balance"]) == sum(
        hours(t["amount"]) for t in fund["transfers"] if t["kind"] == "levy"
    )

    # The levy: its exact rate and its derivation, line by line, the same from the period and
    # from a council it is in force for.
    levy = ok(client.get(f"/api/periods/{adopted.period.id}/levy", headers=bea))
    p, q = (int(x) for x in levy["rate"].split("/"))
    assert 0 < p / q < 1
    assert abs(Decimal(levy["percent"].split()[0]) - Decimal(100 * p) / q) < Decimal("0.0001")
    for good in PUBLIC_GOODS:
        assert any(good in line for line in levy["lines"])
    assert levy["lines"][-1].startswith("levy rate =")
    assert hours(levy["reserve_hours"]) == 20000
    assert ok(client.get(f"/api/councils/{bakery}/levy", headers=bea)) == levy
    adopted.refused(client.get("/api/periods/999/levy", headers=bea), 404, "no_such_period")
    assert sum(all_balances(store).values()) == 0


def test_a_commissions_decision_on_recorded_hours_is_carried_out(client, adopted):
    store, a, bakery = adopted.store, adopted.accounts, adopted.bakery
    cai = adopted.login("cai")
    act = ok(
        client.post(
            f"/api/workplaces/{bakery}/hours", headers=cai, json={"member_id": a["bea"], "hours": 6}
        ),
        201,
    )
    tid = act["transfers"][0]["tid"]
    # The case, decided 9 hours and final, through the service (the commission's own API is
    # tested in tests/test_api.py).
    commission = s.create_commission(
        store,
        name="Bakery rates",
        workplace_council_id=bakery,
        federation_id=adopted.town.federation,
        actor_id=a["ada"],
        now=AFTER,
    )
    seats = (a["dan"], adopted.town.delegate["clinic"])
    for account, side in zip(seats, ("workplace", "planning"), strict=True):
        s.take_commission_seat(
            store, commission_id=commission.id, account_id=account, side=side, now=AFTER
        )
    dispute = s.file_dispute(
        store,
        commission_id=commission.id,
        filer_id=a["bea"],
        subject="recorded_hours",
        target=tid,
        current_hours="6",
        claimed_hours="9",
        now=AFTER,
    )
    case = int(dispute.dispute_id)
    # Before its final word, the decision cannot be carried out.
    adopted.refused(
        client.post(f"/api/disputes/{case}/ledger", headers=cai), 409, "not_a_final_hours_decision"
    )
    s.hear_dispute(store, dispute_id=case, actor_id=seats[0], present=seats, now=AFTER)
    for seat in seats:
        s.decide_dispute(store, dispute_id=case, actor_id=seat, hours="9", vote="yes", now=AFTER)
    s.appeal_dispute(store, dispute_id=case, actor_id=a["bea"], grounds="g", now=AFTER)
    for seat in seats:
        s.finalise_dispute(store, dispute_id=case, actor_id=seat, hours="9", vote="yes", now=AFTER)
    applied = ok(client.post(f"/api/disputes/{case}/ledger", headers=cai), 201)
    assert [t["kind"] for t in applied["transfers"]] == ["reversal", "reversal", "hours", "levy"]
    assert all(t["ref"]["dispute"] == str(case) for t in applied["transfers"])
    assert sum(hours(t["amount"]) for t in applied["transfers"][2:]) == 9
    adopted.refused(
        client.post(f"/api/disputes/{case}/ledger", headers=cai), 409, "already_reversed"
    )
    assert sum(all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_period_proposed_with_public_goods_and_a_reserve(client, clock):
    town = PlanningTown(client, clock)
    period = open_period(
        client, clock, town, public_goods=["transit", "health_care"], reserve_hours="1500.25"
    )
    assert period["public_goods"] == ["health_care", "transit"]
    assert period["reserve_hours"] == "1500.25"
    assert period["rounds"] is None
