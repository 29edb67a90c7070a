"""Who could do what in the planning cycle who should not: a recalled delegate, a member of
another council, a member without a mandate, anyone closing early, an operator editing the
database. Each attack is replayed and must fail with a named reason, writing nothing. Also: a
statement by the council's own ballot, a work norm made final by the commission changing the
next plan (and cited there), and two workers never computing the same variant."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from councilplan.councils import service as s
from planning_setup import DAY, T0, demo_town, open_period, state_everything

HOUR = DAY / 24


def _refused(store, reason, act, **kwargs):
    before = store.audit_head()
    with pytest.raises(s.Refused) as caught:
        act(store, **kwargs)
    assert caught.value.reason == reason, caught.value.message
    assert store.audit_head() == before
    return caught.value


def test_a_recalled_delegate_states_nothing(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    north = town.councils["north"]
    (mandate,) = s.delegates(store, federation_id=town.federation, council_id=north)
    at = T0 + 4 * DAY
    recall = s.open_recall(
        store, delegate_id=mandate.id, member_id=town.accounts["ned"], reason="r", now=at
    )
    recall = s.get_recall(store, recall.id)
    assert recall.ballot_id is not None  # one of North's three is the share that opens it
    for name in ("ned", "oz"):  # two of North's three: a majority closes the recall at once
        s.cast_vote(
            store, ballot_id=recall.ballot_id, voter_id=town.accounts[name], choice="yes", now=at
        )
    assert s.get_recall(store, recall.id).status == "recalled"
    _refused(
        store,
        "no_mandate",
        s.state_needs,
        period_id=period.id,
        council_id=north,
        actor_id=mandate.account_id,
        needs=[{"product": "bread", "quantity": "1"}],
        now=at + HOUR,
    )


def test_only_the_councils_own_speak_for_it(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town, rounds={"round_hours": 1, "max_rounds": 5})
    state_everything(store, town, period.id)
    north, south = town.councils["north"], town.councils["south"]
    at = T0 + 4 * DAY
    # South's delegate speaks for North: not a member of North.
    _refused(
        store,
        "not_a_member",
        s.state_needs,
        period_id=period.id,
        council_id=north,
        actor_id=town.delegate["south"],
        needs=[{"product": "bread", "quantity": "1"}],
        now=at,
    )
    t = T0 + 11 * DAY
    outsider = s.register_account(store, username="zed", display_name="Zed", password_hash="h")
    for act, args in (
        (s.request_variant, {"period_id": period.id, "name": "mine", "now": t}),
        (s.open_rounds, {"period_id": period.id, "now": t}),
    ):
        _refused(store, "not_a_current_delegate", act, actor_id=outsider, **args)
        _refused(store, "not_a_current_delegate", act, actor_id=town.accounts["oz"], **args)
    first = s.open_rounds(store, period_id=period.id, actor_id=town.delegate["bakery"], now=t)
    _refused(  # North's delegate answers for South
        store,
        "not_a_member",
        s.answer_round,
        round_id=first.id,
        council_id=south,
        actor_id=town.delegate["north"],
        answer={"demands": {}},
        now=t,
    )
    _refused(  # a workplace's answer names a good it does not make
        store,
        "bad_answer",
        s.answer_round,
        round_id=first.id,
        council_id=town.councils["bakery"],
        actor_id=town.delegate["bakery"],
        answer={"supplies": {"health_care (households)": 1.0}},
        now=t,
    )
    _refused(store, "round_still_open", s.close_round, round_id=first.id, now=t + HOUR / 2)
    _refused(  # the period's stages follow one another: no adoption while proposing
        store,
        "not_deciding",
        s.open_adoption,
        period_id=period.id,
        actor_id=town.delegate["bakery"],
        closes_at=t + 3 * DAY,
        now=t,
    )
    _refused(  # nobody states once stating has closed, not even a delegate
        store,
        "not_stating",
        s.state_needs,
        period_id=period.id,
        council_id=north,
        actor_id=town.delegate["north"],
        needs=[{"product": "bread", "quantity": "1"}],
        now=t,
    )


def test_a_statement_by_the_councils_own_ballot(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    south = town.councils["south"]
    at = T0 + 4 * DAY
    member = town.accounts["quinn"]  # a member of South, not its delegate
    proposed = s.propose_statement(
        store,
        period_id=period.id,
        council_id=south,
        actor_id=member,
        kind="needs",
        content={"needs": [{"product": "bread", "quantity": 250, "priority": 2}]},
        closes_at=at + 3 * DAY,
        now=at,
    )
    assert proposed.status == "proposed" and proposed.ballot_id is not None
    assert s.list_statements(store, period_id=period.id) == []
    for name in ("pat", "quinn", "rae"):
        s.cast_vote(
            store,
            ballot_id=proposed.ballot_id,
            voter_id=town.accounts[name],
            choice="yes",
            now=at + HOUR,
        )
    s.close_ballot(store, ballot_id=proposed.ballot_id, now=at + 3 * DAY)
    (in_force,) = s.list_statements(store, period_id=period.id)
    assert in_force.id == proposed.id and in_force.status == "in_force"
    assert in_force.content == {"needs": [{"product": "bread", "quantity": "250", "priority": "2"}]}
    # A ballot closing after stating has closed is refused.
    _refused(
        store,
        "ballot_after_stating",
        s.propose_statement,
        period_id=period.id,
        council_id=south,
        actor_id=member,
        kind="needs",
        content={"needs": [{"product": "bread", "quantity": "1"}]},
        closes_at=T0 + 11 * DAY,
        now=at,
    )


def test_a_final_work_norm_changes_the_next_plan_and_is_cited(council_store):
    store = council_store
    town = demo_town(store)
    bakery = town.councils["bakery"]
    commission = s.create_commission(
        store,
        name="Bakery rates",
        workplace_council_id=bakery,
        federation_id=town.federation,
        actor_id=town.accounts["ada"],
        now=T0,
    )
    worker_seat, planning_seat = town.accounts["bea"], town.delegate["clinic"]
    for account, side in ((worker_seat, "workplace"), (planning_seat, "planning")):
        s.take_commission_seat(
            store, commission_id=commission.id, account_id=account, side=side, now=T0
        )
    period = open_period(store, town)
    t = T0 + 4 * DAY
    dispute = s.file_dispute(
        store,
        commission_id=commission.id,
        filer_id=town.accounts["cai"],
        subject="work_norm",
        target="bread",
        current_hours="65",
        claimed_hours="80",
        grounds="the new ovens need tending",
        now=t,
    )
    seats = (worker_seat, planning_seat)
    s.hear_dispute(store, dispute_id=dispute.dispute_id, actor_id=worker_seat, present=seats, now=t)
    for seat in seats:
        s.decide_dispute(
            store, dispute_id=dispute.dispute_id, actor_id=seat, hours="70", vote="yes", now=t
        )
    s.appeal_dispute(
        store, dispute_id=dispute.dispute_id, actor_id=town.accounts["cai"], grounds="g", now=t
    )
    for seat in seats:
        final = s.finalise_dispute(
            store,
            dispute_id=dispute.dispute_id,
            actor_id=seat,
            hours="72",
            vote="yes",
            now=t + DAY,
        )
    assert final.state == "final"
    state_everything(store, town, period.id)
    t = T0 + 11 * DAY
    s.request_variant(
        store, period_id=period.id, actor_id=town.delegate["bakery"], name="normed", now=t
    )
    s.run_jobs(store, worker="test", once=True)
    (variant,) = s.list_variants(store, period.id)
    assert variant.status == "done", variant.error
    plan = s.variant_result(store, variant.id)
    (cited,) = plan["norms"]
    assert cited["dispute_id"] == int(dispute.dispute_id)
    assert (cited["technique"], cited["hours"]) == ("bakery", "72")
    ours = plan["workplaces"][str(bakery)]
    (oven,) = [t for t in ours["techniques"] if t["technique"] == "bakery"]
    used = sum(hours for hours in ours["hours"].values())
    flour = [t for t in ours["techniques"] if t["technique"] == "flour_mill"]
    # The bakery's hours per loaf are the norm (flour milling's hours, at the bundle's
    # coefficients, counted apart); the bundle's own are 65.
    milling = sum(_hours_of("flour_mill", t["activity"]) for t in flour)
    assert (used - milling) / oven["output"] == pytest.approx(72, rel=1e-9)
    assert _hours_of("bakery", 1.0) == 65


def _hours_of(technique, activity):
    from councilplan.economy import load_demo

    economy = load_demo()
    t = list(economy.technique_ids).index(technique)
    return float(economy.labour[:, t].sum()) * activity


def test_two_workers_never_compute_the_same_variant(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    state_everything(store, town, period.id)
    t = T0 + 11 * DAY
    for name in ("a", "b", "c", "d"):
        s.request_variant(
            store, period_id=period.id, actor_id=town.delegate["bakery"], name=name, now=t
        )
    computed: list[str] = []
    barrier = threading.Barrier(2)

    def work(worker):
        barrier.wait()
        while (v := s.run_next_job(store, worker=worker)) is not None:
            computed.append(v.name)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(computed) == ["a", "b", "c", "d"]
    variants = s.list_variants(store, period.id)
    assert {v.status for v in variants} == {"done"}
    assert len({v.plan_digest for v in variants}) == 1  # the same inputs, the same plan


def test_an_operator_who_edits_the_adopted_plan_is_named(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    state_everything(store, town, period.id)
    t = T0 + 11 * DAY
    for name in ("least-labour", "generous"):
        s.request_variant(
            store,
            period_id=period.id,
            actor_id=town.delegate["bakery"],
            name=name,
            constraints={"labour": {"general": "none"}} if name == "generous" else None,
            now=t,
        )
    s.run_jobs(store, worker="test", once=True)
    # The database refuses to change a computed variant.
    with pytest.raises(sa.exc.DBAPIError), store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE variants SET plan_digest = 'x' WHERE name = 'generous'")
    with store.engine.begin() as conn:  # a period's digest is not guarded: the record is
        conn.exec_driver_sql(f"UPDATE periods SET plan_digest = '{'0' * 64}'")
    checked = store.verify_record()
    assert not checked.ok and "periods" in checked.message


def test_a_council_that_states_only_by_ballot_silences_its_delegate(council_store):
    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    north = town.councils["north"]
    at = T0 + 4 * DAY
    rules = s.open_rules_ballot(
        store,
        council_id=north,
        opened_by=town.accounts["ned"],
        rules={"statements_by": "ballot"},
        closes_at=at + 3 * DAY,
        now=at,
    )
    for name in ("mo", "ned", "oz"):
        s.cast_vote(store, ballot_id=rules.id, voter_id=town.accounts[name], choice="yes", now=at)
    s.close_ballot(store, ballot_id=rules.id, now=at + 3 * DAY)
    assert s.council_rules(store, north).statements_by == "ballot"
    refused = _refused(
        store,
        "statements_by_ballot",
        s.state_needs,
        period_id=period.id,
        council_id=north,
        actor_id=town.delegate["north"],
        needs=[{"product": "bread", "quantity": "1"}],
        now=at + 3 * DAY,
    )
    assert refused.field == "council_id"
    _refused(
        store,
        "bad_statements_by",
        s.open_rules_ballot,
        council_id=north,
        opened_by=town.accounts["ned"],
        rules={"statements_by": "founder"},
        closes_at=at + 6 * DAY,
        now=at + 3 * DAY,
    )


def test_a_variant_whose_worker_died_is_computed_by_the_next(council_store):
    from councilplan.councils.service.records import record

    store = council_store
    town = demo_town(store)
    period = open_period(store, town)
    state_everything(store, town, period.id)
    t = T0 + 11 * DAY
    s.request_variant(
        store, period_id=period.id, actor_id=town.delegate["bakery"], name="only", now=t
    )
    with store.transaction() as tx:  # a worker claims it and is killed before it computes
        claimed = tx.claim_variant("killed", t, t - s.planning.STALE)
        record(tx, "variant.started", {"variant_id": claimed["id"], "worker": "killed"}, t)
        tx.set_progress(claimed["id"], "planning", 0.3, t)
    soon = t + s.planning.STALE / 2
    assert s.run_next_job(store, worker="alive", now=lambda: soon) is None  # still heard of
    later = t + 2 * s.planning.STALE
    done = s.run_next_job(store, worker="alive", now=lambda: later)
    assert done is not None and done.status == "done" and done.worker == "alive"
    assert s.run_next_job(store, worker="alive", now=lambda: later) is None
