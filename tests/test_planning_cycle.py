"""The planning cycle through the service, on SQLite and PostgreSQL: a period opened by the
federation's ballot, needs and techniques stated by the councils' delegates, variants computed
by the job runner, participatory rounds with one council answering itself, a Schulze vote,
adoption, targets read back, and the plan re-computed from the record, digest for digest."""

from __future__ import annotations

import hashlib

import pytest

from councilplan.councils import service as s
from planning_setup import DAY, T0, demo_needs, demo_town, open_period, state_everything

HOUR = DAY / 24


def test_the_whole_cycle(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town, rounds={"round_hours": 1, "max_rounds": 80})
    assert period.status == "open" and period.stage == "stating"
    state_everything(store, town, period.id)
    assert len(s.list_statements(store, period_id=period.id)) == 5

    t = T0 + 11 * DAY
    fed_delegate = town.delegate["bakery"]
    s.request_variant(store, period_id=period.id, actor_id=fed_delegate, name="least-labour", now=t)
    s.request_variant(
        store,
        period_id=period.id,
        actor_id=town.delegate["north"],
        name="low-carbon",
        constraints={"resources": {"co2": "17000"}},
        now=t,
    )

    first = s.open_rounds(store, period_id=period.id, actor_id=fed_delegate, now=t)
    assert first.number == 1 and first.prices
    from councilplan.councils.service.planning import _live

    with store.reading() as tx:
        live = _live(tx, tx.period(period.id))
        row = tx.plan_round(first.id)
        own = live.computed_answer(row["state"]["state"], str(town.councils["north"]))
    asked = {good: units * 1.05 for good, units in own["demands"].items()}
    s.answer_round(
        store,
        round_id=first.id,
        council_id=town.councils["north"],
        actor_id=town.delegate["north"],
        answer={"demands": asked},
        now=t + HOUR / 2,
    )
    assert s.close_due_rounds(store, now=t + HOUR / 2) == []
    assert s.close_due_rounds(store, now=t + HOUR) == [first.id]  # the worker's loop does this
    current, now = s.current_round(store, period.id), t + 2 * HOUR
    while True:
        closed = s.close_round(store, round_id=current.id, now=now)
        current, now = s.current_round(store, period.id), now + HOUR
        if current.status == "closed":
            break
    rounds = s.list_rounds(store, period.id)
    assert closed.outcome is not None
    assert rounds[0].outcome["answered"] == [str(town.councils["north"])]
    assert all(r.outcome["answered"] == [] for r in rounds[1:])

    names = {v.name: v for v in s.list_variants(store, period.id)}
    assert set(names) == {"least-labour", "low-carbon", "rounds"}
    assert {v.status for v in names.values()} == {"queued"}
    seen = []
    assert (
        s.run_jobs(store, worker="test", once=True, on_progress=lambda st, d: seen.append(d)) == 3
    )
    variants = {v.name: v for v in s.list_variants(store, period.id)}
    assert {v.status for v in variants.values()} == {"done"}, [v.error for v in variants.values()]
    assert seen[-1] >= 0.8
    least = variants["least-labour"]
    assert least.summary["status"] == "optimal"
    with store.reading() as tx:  # the plan is kept as the text its digest is taken of
        kept = tx.variant(least.id, result=True)["result"]
    assert hashlib.sha256(kept.encode()).hexdigest() == least.plan_digest
    assert variants["low-carbon"].summary["total_labour"] > least.summary["total_labour"]

    t = T0 + 20 * DAY
    ballot = s.open_adoption(
        store, period_id=period.id, actor_id=fed_delegate, closes_at=t + 3 * DAY, now=t
    )
    assert set(ballot.options) == {"least-labour", "low-carbon", "rounds"}
    for key, account in town.delegate.items():
        ranking = ["low-carbon", "least-labour", "rounds"] if key != "clinic" else ["rounds"]
        s.cast_vote(store, ballot_id=ballot.id, voter_id=account, choice=ranking, now=t + HOUR)
    closed = s.close_ballot(store, ballot_id=ballot.id, now=t + 3 * DAY)
    assert closed.tally["winners"] == ["low-carbon"]
    adopted = s.get_period(store, period.id, now=t + 3 * DAY)
    assert adopted.status == "adopted"
    assert adopted.plan_digest == variants["low-carbon"].plan_digest

    bakery = s.council_targets(store, period_id=period.id, council_id=town.councils["bakery"])
    assert bakery.workplace is not None and bakery.consumption is None
    assert {t["technique"] for t in bakery.workplace["techniques"]} <= {"bakery", "flour_mill"}
    assert bakery.workplace["hours"]
    north = s.council_targets(store, period_id=period.id, council_id=town.councils["north"])
    stated = {r["product"]: float(r["quantity"]) for r in demo_needs()["north"]}
    got = {r["product"]: r["need"] for r in north.consumption}
    assert got == pytest.approx(stated, rel=1e-11)
    assert all(r["met"] == pytest.approx(r["need"]) for r in north.consumption)
    values = s.plan_values(store, period_id=period.id)
    assert values["values"]["bread"] > 0

    again = s.recompute_period(store, period.id)
    assert len(again) == 3 and all(r.matches for r in again), again
    assert store.verify_record().ok


def test_refusals_name_the_reason_and_store_nothing(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    north, delegate = town.councils["north"], town.delegate["north"]
    at = T0 + 4 * DAY

    def refused(reason, **kwargs):
        before = store.audit_head()
        args = {
            "period_id": period.id,
            "council_id": north,
            "actor_id": delegate,
            "needs": [{"product": "bread", "quantity": "10"}],
            "now": at,
            **kwargs,
        }
        with pytest.raises(s.Refused) as caught:
            s.state_needs(store, **args)
        assert caught.value.reason == reason, caught.value.message
        assert store.audit_head() == before
        assert s.list_statements(store, period_id=period.id, current=False) == []
        return caught.value

    late = refused("not_stating", now=T0 + 10 * DAY)
    assert "stating_closes_at" in late.message
    outsider = s.register_account(store, username="zed", display_name="Zed", password_hash="h")
    refused("not_a_member", actor_id=outsider)
    refused("no_mandate", actor_id=town.accounts["oz"])
    unknown = refused("unknown_product", needs=[{"product": "caviar", "quantity": "1"}])
    assert unknown.field == "needs[0].product" and "caviar" in unknown.message
    refused("bad_number", needs=[{"product": "bread", "quantity": "-1"}])
    refused(
        "wrong_council_kind",
        council_id=town.councils["bakery"],
        actor_id=town.delegate["bakery"],
    )
