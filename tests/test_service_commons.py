"""Budgets for common goods (equal shares) and the rates-and-conflicts commission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from council_setup import council_with_members
from councilplan.councils import service as s

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def council_of(store, n, name="Hood", kind="consumer"):
    ids = [
        s.register_account(
            store, username=f"{name.lower()}{i}", display_name="x", password_hash="h", now=T0
        )
        for i in range(n)
    ]
    c = council_with_members(store, ids[0], ids[1:], name=name, kind=kind, at=T0, min_ballot_days=1)
    return c, ids


def test_budget_is_allocated_by_equal_shares(council_store):
    c, ids = council_of(council_store, 6)
    budget = s.open_budget(
        council_store,
        council_id=c.id,
        opened_by=ids[0],
        title="Commons",
        hours=600,
        proposals_close_at=T0 + DAY,
        closes_at=T0 + 3 * DAY,
        now=T0,
    )
    park = s.propose_project(
        council_store,
        budget_id=budget.id,
        member_id=ids[1],
        title="Park",
        cost_hours=300,
        now=T0,
    )
    pool = s.propose_project(
        council_store,
        budget_id=budget.id,
        member_id=ids[2],
        title="Pool",
        cost_hours=400,
        now=T0,
    )
    library = s.propose_project(
        council_store,
        budget_id=budget.id,
        member_id=ids[3],
        title="Library",
        cost_hours=200,
        now=T0,
    )
    with pytest.raises(s.Invalid) as err:
        s.propose_project(
            council_store,
            budget_id=budget.id,
            member_id=ids[3],
            title="Big",
            cost_hours=601,
            now=T0,
        )
    assert err.value.field == "cost_hours"
    ballot_id = budget.ballot_id
    with pytest.raises(s.Conflict) as err:  # voting starts when proposals close
        s.cast_vote(
            council_store, ballot_id=ballot_id, voter_id=ids[0], choice=[str(park.id)], now=T0
        )
    assert err.value.reason == "ballot_not_open"
    p, q, lib = str(park.id), str(pool.id), str(library.id)
    choices = [[p, lib], [p, lib], [p], [q], [q, lib], [lib]]
    for a, choice in zip(ids, choices, strict=True):
        s.cast_vote(council_store, ballot_id=ballot_id, voter_id=a, choice=choice, now=T0 + 2 * DAY)
    with pytest.raises(s.Conflict):
        s.propose_project(
            council_store,
            budget_id=budget.id,
            member_id=ids[1],
            title="Late",
            cost_hours=10,
            now=T0 + 2 * DAY,
        )
    s.close_ballot(council_store, ballot_id=ballot_id, now=T0 + 3 * DAY)
    result = s.get_budget(council_store, budget.id).result
    assert set(result["selected"]) == {p, lib}
    assert s.recount(council_store, ballot_id).matches


def commission_setup(store):
    works, workers = council_of(store, 4, name="Works", kind="workplace")
    fed = s.create_council(store, name="Planning", kind="federation", founder_id=workers[0], now=T0)
    planners = [
        s.register_account(
            store, username=f"planner{i}", display_name="x", password_hash="h", now=T0
        )
        for i in range(2)
    ]
    other = council_with_members(
        store, planners[0], name="Other", kind="workplace", at=T0, min_ballot_days=1
    )
    asked = s.apply_for_affiliation(
        store, federation_id=fed.id, council_id=other.id, actor_id=planners[0], now=T0
    )
    s.admit_first_council(store, application_id=asked.id, actor_id=workers[0], now=T0)
    b = s.open_election(
        store,
        council_id=other.id,
        federation_id=fed.id,
        opened_by=planners[0],
        candidates=[planners[0]],
        mandate="Plan",
        closes_at=T0 + DAY,
        now=T0,
    )
    s.cast_vote(store, ballot_id=b.id, voter_id=planners[0], choice=["planner0"], now=T0)
    s.close_ballot(store, ballot_id=b.id, now=T0 + DAY)
    commission = s.create_commission(
        store,
        name="Rates",
        workplace_council_id=works.id,
        federation_id=fed.id,
        actor_id=workers[0],
        now=T0 + DAY,
    )
    s.take_commission_seat(
        store, commission_id=commission.id, account_id=workers[1], side="workplace", now=T0 + DAY
    )
    with pytest.raises(s.Refused) as err:  # a planning seat is for a delegate of the federation
        s.take_commission_seat(
            store,
            commission_id=commission.id,
            account_id=workers[2],
            side="planning",
            now=T0 + DAY,
        )
    assert err.value.reason == "not_a_current_delegate"
    s.take_commission_seat(
        store, commission_id=commission.id, account_id=planners[0], side="planning", now=T0 + DAY
    )
    with pytest.raises(s.Conflict) as err:
        s.take_commission_seat(
            store,
            commission_id=commission.id,
            account_id=workers[2],
            side="workplace",
            now=T0 + DAY,
        )
    assert err.value.reason == "side_full"
    return commission, workers, planners


def test_dispute_runs_through_the_commission_and_only_its_seats_see_it(council_store):
    commission, workers, planners = commission_setup(council_store)
    t = T0 + 2 * DAY
    d = s.file_dispute(
        council_store,
        commission_id=commission.id,
        filer_id=workers[3],
        subject="work_norm",
        target="bread",
        current_hours="1/2",
        claimed_hours="3/4",
        grounds="new oven is slower",
        now=t,
    )
    assert d.state == "filed"
    seat_w, seat_p = workers[1], planners[0]
    assert [x.dispute_id for x in s.my_disputes(council_store, viewer_id=seat_p)] == [d.dispute_id]
    assert s.my_disputes(council_store, viewer_id=workers[2]) == []
    with pytest.raises(s.Refused):
        s.get_dispute(council_store, dispute_id=d.dispute_id, viewer_id=workers[2])
    with pytest.raises(s.Refused) as err:
        s.hear_dispute(
            council_store,
            dispute_id=d.dispute_id,
            actor_id=workers[2],
            present=[seat_w, seat_p],
            now=t,
        )
    assert err.value.reason == "not_a_commissioner"
    with pytest.raises(s.Conflict) as err:
        s.hear_dispute(
            council_store, dispute_id=d.dispute_id, actor_id=seat_w, present=[seat_w], now=t
        )
    assert err.value.reason == "side_absent"
    s.hear_dispute(
        council_store,
        dispute_id=d.dispute_id,
        actor_id=seat_w,
        present=[seat_w, seat_p],
        now=t + DAY,
    )
    one_side = s.decide_dispute(  # one side alone cannot decide
        council_store,
        dispute_id=d.dispute_id,
        actor_id=seat_w,
        hours="3/4",
        vote="yes",
        now=t + DAY,
    )
    assert one_side.state == "heard"
    s.decide_dispute(
        council_store,
        dispute_id=d.dispute_id,
        actor_id=seat_p,
        hours="3/4",
        vote="no",
        now=t + DAY,
    )
    for seat in (seat_w, seat_p):
        decided = s.decide_dispute(
            council_store,
            dispute_id=d.dispute_id,
            actor_id=seat,
            hours="2/3",
            vote="yes",
            now=t + 2 * DAY,
        )
    assert decided.state == "decided"
    appealed = s.appeal_dispute(
        council_store,
        dispute_id=d.dispute_id,
        actor_id=workers[3],
        grounds="still too tight",
        now=t + 3 * DAY,
    )
    assert appealed.state == "appealed"
    for seat in (seat_p, seat_w):
        final = s.finalise_dispute(
            council_store,
            dispute_id=d.dispute_id,
            actor_id=seat,
            hours="3/4",
            vote="yes",
            now=t + 4 * DAY,
        )
    assert final.state == "final"
    seen = s.get_dispute(council_store, dispute_id=d.dispute_id, viewer_id=workers[3])
    assert seen.appeal_decision.effect.hours == "3/4"
    kinds = [e.kind for e in council_store.audit_entries() if e.kind.startswith("dispute.")]
    assert kinds == [
        "dispute.filed",
        "dispute.heard",
        "dispute.voted",
        "dispute.voted",
        "dispute.voted",
        "dispute.decided",
        "dispute.appealed",
        "dispute.voted",
        "dispute.finalised",
    ]


def test_dispute_deadlines_decide_for_the_worker(council_store):
    commission, workers, planners = commission_setup(council_store)
    t = T0 + 2 * DAY
    d = s.file_dispute(
        council_store,
        commission_id=commission.id,
        filer_id=workers[3],
        subject="recorded_hours",
        target="shift-7",
        current_hours=6,
        claimed_hours=8,
        now=t,
    )
    assert s.apply_dispute_deadlines(council_store, now=t + 5 * DAY) == []
    assert s.apply_dispute_deadlines(council_store, now=t + 15 * DAY) == [d.dispute_id]
    view = s.get_dispute(council_store, dispute_id=d.dispute_id, viewer_id=workers[3])
    assert view.state == "decided" and view.decision.decided_by == "deadline"
    assert view.decision.effect.hours == 8


def test_a_dispute_stored_by_an_older_version_still_reads(council_store):
    """A dispute's row keeps the view of its last act; one written before a field existed is
    read by replaying its acts, not refused."""
    import json

    import sqlalchemy as sa

    commission, workers, planners = commission_setup(council_store)
    d = s.file_dispute(
        council_store,
        commission_id=commission.id,
        filer_id=workers[3],
        subject="work_norm",
        target="bread",
        current_hours="1/2",
        claimed_hours="3/4",
        grounds="new oven is slower",
        now=T0 + 2 * DAY,
    )
    with council_store.engine.begin() as conn:
        (state,) = conn.execute(
            sa.text("SELECT state FROM disputes WHERE id = :d"), {"d": d.dispute_id}
        ).one()
        state = json.loads(state) if isinstance(state, str) else state
        del state["view"]["excluded"]  # as a version before parties were excluded wrote it
        conn.execute(
            sa.text("UPDATE disputes SET state = :s WHERE id = :d"),
            {"s": json.dumps(state), "d": d.dispute_id},
        )
    again = s.get_dispute(council_store, dispute_id=d.dispute_id, viewer_id=planners[0])
    assert again == d


def test_a_member_reads_her_councils_mandates_and_seats(council_store):
    commission, workers, planners = commission_setup(council_store)
    mine = s.my_account(council_store, planners[0])
    assert mine.id == planners[0] and mine.username
    assert [d.federation_id for d in mine.delegacies] == [commission.federation_id]
    assert [seat.commission_id for seat in mine.commission_seats] == [commission.id]
    assert s.as_dict(mine)["delegacies"][0]["account_id"] == planners[0]
    with pytest.raises(s.NotFound):
        s.my_account(council_store, 10_000)
