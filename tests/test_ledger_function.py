"""The one-step ledger acts on PostgreSQL (``councilplan_ledger_post``, the acts of a process
batched by its ``LedgerPoster``) against the service's general path: the same transfers, the
same record, the same refusals, named by the general path after the one step declines. The
one step computes an act from facts kept from an earlier act (the plan in force, its levy rate
or labour values); the attacks replayed here change what those facts stood on (a recorder who
left, a rule changed, an account drawn dry) and the database must refuse what the facts would
have allowed."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future
from dataclasses import asdict
from decimal import Decimal

import pytest

from council_setup import change_rules
from councilplan.councils import service as s
from councilplan.councils.service import ledger as ledger_service
from councilplan.ledger import QUANTUM
from planning_setup import DAY, T0, adopted_plan, demo_town

AFTER = T0 + 24 * DAY  # the plan is adopted at T0 + 23 days
ACT_ID = re.compile(r"(hours|draw)-[0-9a-f]{32}")


@pytest.fixture
def town(council_store):
    if council_store.engine.dialect.name != "postgresql":
        pytest.skip("the one-step ledger acts are PostgreSQL's; SQLite takes the general path")
    town = demo_town(council_store)
    adopted_plan(council_store, town)
    return council_store, town


@pytest.fixture
def batches(town, monkeypatch):
    """The sizes of the batches the store's LedgerPoster posts (empty: no one step taken)."""
    store, _ = town
    poster = store._ledger_poster
    sizes: list[int] = []
    posted = poster._posted

    def counted(raw, batch):
        sizes.append(len(batch))
        return posted(raw, batch)

    monkeypatch.setattr(poster, "_posted", counted)
    return sizes


def _general(monkeypatch) -> None:
    monkeypatch.setattr(ledger_service, "ONE_STEP", False)


def _one_step(monkeypatch) -> None:
    monkeypatch.setattr(ledger_service, "ONE_STEP", True)


def _shape(act) -> list[dict]:
    """An act's transfers without what differs between two acts by design (their ids)."""
    return [{**asdict(t), "tid": ACT_ID.sub("ACT", t.tid), "made_at": None} for t in act.transfers]


def _entries(store, count: int) -> list[tuple[str, dict, list]]:
    """The last ``count`` entries of the record: kind, payload and changes, without act ids,
    commitments and the ids of rows."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT kind, payload, state FROM audit_log ORDER BY seq DESC LIMIT %s", (count,)
        ).all()
    out = []
    for kind, payload, state in reversed(rows):
        body = json.loads(ACT_ID.sub("ACT", payload))
        body.pop("state_sha256")
        changes = json.loads(ACT_ID.sub("ACT", state))["changes"]
        for change in changes:
            row = change[-1]
            for column in ("id", "balance", "made_at", "opened_at"):
                row.pop(column, None)
            if change[0] == "update":
                change[2] = None
        out.append((kind, body, changes))
    return out


def _balances(store) -> dict[str, Decimal]:
    with store.reading() as tx:
        return {r["key"]: Decimal(r["balance"]) * QUANTUM for r in tx.ledger_accounts()}


def _refused(store, reason, act, **kwargs):
    before = store.audit_head()
    with pytest.raises(s.Refused) as caught:
        act(store, **kwargs)
    assert caught.value.reason == reason, caught.value.message
    assert store.audit_head() == before  # nothing written, on the record or off it


def test_hours_are_the_same_by_either_path(town, batches, monkeypatch):
    store, town = town
    bakery, a = town.councils["bakery"], town.accounts
    hours = {"workplace_id": bakery, "member_id": a["bea"], "actor_id": a["cai"], "now": AFTER}
    _general(monkeypatch)
    opening = s.record_hours(store, hours="1", **hours)  # opens the accounts
    general = s.record_hours(store, hours="7.5", note="the morning shift", **hours)
    assert batches == []
    _one_step(monkeypatch)
    one_step = s.record_hours(store, hours="7.5", note="the morning shift", **hours)
    assert batches == [1]
    assert _shape(one_step) == _shape(general)
    first, second = _entries(store, 2)
    assert first == second and first[0] == "ledger.hours"
    credited = Decimal(general.transfers[0].amount)
    first = Decimal(opening.transfers[0].amount)
    assert _balances(store)[f"member:{a['bea']}"] == first + 2 * credited
    assert sum(_balances(store).values()) == 0
    assert store.verify_record().ok


def test_draws_are_the_same_by_either_path_and_open_accounts_on_the_record(
    town, batches, monkeypatch
):
    store, town = town
    a = town.accounts
    s.record_hours(  # the general path: bea's account opened with its first hours
        store,
        workplace_id=town.councils["bakery"],
        member_id=a["bea"],
        hours="40",
        actor_id=a["cai"],
        now=AFTER,
    )
    _general(monkeypatch)
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.001", now=AFTER)  # goods
    general = s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.002", now=AFTER)
    _one_step(monkeypatch)
    one_step = s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.002", now=AFTER)
    assert batches == [1]
    assert _shape(one_step) == _shape(general)
    first, second = _entries(store, 2)
    assert first == second and first[0] == "ledger.draw"
    # A member's first hours by the one step open her account, on the record too.
    s.record_hours(
        store,
        workplace_id=town.councils["bakery"],
        member_id=a["dan"],
        hours="8",
        actor_id=a["cai"],
        now=AFTER,
    )
    assert batches == [1, 1]
    (_, _, changes) = _entries(store, 1)[0]
    assert ["insert", "ledger_accounts"] in [c[:2] for c in changes]
    assert sum(_balances(store).values()) == 0
    assert store.verify_record().ok


def test_refusals_are_named_by_the_general_path_after_the_one_step_declines(town, batches):
    store, town = town
    bakery, a = town.councils["bakery"], town.accounts
    s.record_hours(  # keeps the bakery's facts (plan in force, levy rate)
        store, workplace_id=bakery, member_id=a["bea"], hours="1", actor_id=a["cai"], now=AFTER
    )
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.001", now=AFTER)
    tried = len(batches)
    hours = {"workplace_id": bakery, "hours": "8", "now": AFTER}
    _refused(store, "own_hours", s.record_hours, member_id=a["cai"], actor_id=a["cai"], **hours)
    _refused(store, "not_a_member", s.record_hours, member_id=a["bea"], actor_id=a["mo"], **hours)
    _refused(store, "not_a_member", s.record_hours, member_id=a["mo"], actor_id=a["cai"], **hours)
    _refused(
        store, "overdrawn", s.draw_goods, member_id=a["bea"], product="bread", quantity="1000",
        now=AFTER,
    )  # fmt: skip
    assert len(batches) == tried + 4  # each tried by the one step, which declined
    _refused(
        store, "public_good", s.draw_goods, member_id=a["bea"], product="health_care",
        quantity="1", now=AFTER,
    )  # fmt: skip
    _refused(
        store, "unknown_product", s.draw_goods, member_id=a["bea"], product="caviar",
        quantity="1", now=AFTER,
    )  # fmt: skip
    assert sum(_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_recorder_who_left_or_a_rule_changed_since_the_facts_were_kept(town, batches):
    store, town = town
    bakery, a = town.councils["bakery"], town.accounts
    delegate = town.delegate["bakery"]
    recorder = next(a[n] for n in ("bea", "cai", "dan") if a[n] != delegate)
    worker = next(a[n] for n in ("bea", "cai", "dan") if a[n] not in (delegate, recorder))
    s.record_hours(
        store, workplace_id=bakery, member_id=worker, hours="1", actor_id=recorder, now=AFTER
    )
    voters = [a[name] for name in ("bea", "ada", "cai", "dan")]
    change_rules(store, bakery, voters, AFTER, hours_recorded_by="delegate")  # closes in 3 days
    later = AFTER + 3 * DAY
    tried = len(batches)
    _refused(store, "hours_by_delegate", s.record_hours, workplace_id=bakery, member_id=worker,
             hours="8", actor_id=recorder, now=later)  # fmt: skip
    assert len(batches) == tried + 1
    s.record_hours(  # the delegate records, by the one step
        store, workplace_id=bakery, member_id=worker, hours="8", actor_id=delegate, now=later
    )
    assert len(batches) == tried + 2
    s.leave_council(store, council_id=bakery, account_id=delegate, now=later)
    _refused(store, "not_a_member", s.record_hours, workplace_id=bakery, member_id=worker,
             hours="8", actor_id=delegate, now=later)  # fmt: skip
    assert sum(_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_batch_posts_its_acts_and_leaves_nothing_of_one_refused(town, batches, monkeypatch):
    """Three draws in one batch, the second more than its account holds: the first and third
    are posted, the second leaves nothing behind (its subtransaction is rolled back) and is
    then named by the general path."""
    store, town = town
    a = town.accounts
    for name in ("bea", "dan"):
        s.record_hours(
            store,
            workplace_id=town.councils["bakery"],
            member_id=a[name],
            hours="10",
            actor_id=a["cai"],
            now=AFTER,
        )
        s.draw_goods(store, member_id=a[name], product="bread", quantity="0.001", now=AFTER)
    before = _balances(store)
    held: list[tuple] = []

    def hold(act, event):  # the service's act, kept for one batch instead of posted now
        held.append((act, event, Future()))
        return ("held", {})

    monkeypatch.setattr(store, "post_ledger_act", hold)
    for member, quantity in ((a["bea"], "0.01"), (a["dan"], "1000"), (a["dan"], "0.01")):
        ledger_service._one_step_draw(store, member, "bread", quantity, AFTER)
    assert len(held) == 3
    store._ledger_poster._post(held)
    outcomes = [future.result(1)[0] for _, _, future in held]
    assert outcomes == ["posted", "overdrawn", "posted"] and batches[-1] == 3
    after = _balances(store)
    value = Decimal(repr(s.plan_values(store, period_id=1)["values"]["bread"]))
    drawn = (Decimal("0.01") * value).quantize(QUANTUM, rounding="ROUND_DOWN")
    assert after[f"member:{a['bea']}"] == before[f"member:{a['bea']}"] - drawn
    assert after[f"member:{a['dan']}"] == before[f"member:{a['dan']}"] - drawn
    assert sum(after.values()) == 0
    assert store.verify_record().ok


def test_facts_that_no_longer_hold_are_refused_by_the_database(town, batches):
    """The facts a process keeps may be out of date (a plan adopted since, another levy, the
    federation's rule changed): here they are made wrong by hand. The database refuses the
    act computed from them, and the general path acts on what is in force."""
    from fractions import Fraction

    store, town = town
    bakery, a = town.councils["bakery"], town.accounts
    hours = {"workplace_id": bakery, "member_id": a["bea"], "actor_id": a["cai"], "now": AFTER}
    truth = s.record_hours(store, hours="8", **hours)
    cache = ledger_service._FACTS[store]
    period, federation, rate, persons = cache.get(("hours", bakery))
    for wrong in (
        (period, federation, Fraction(0), persons),  # no levy at all
        (period + 1, federation, rate, persons),  # another period
        (period, federation, rate, "hidden"),  # another rule for the record
    ):
        cache.put(("hours", bakery), wrong)
        tried = len(batches)
        act = s.record_hours(store, hours="8", **hours)
        assert len(batches) == tried + 1  # the one step was tried, and declined
        assert _shape(act) == _shape(truth)
        assert cache.get(("hours", bakery)) == (period, federation, rate, persons)  # relearnt
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.001", now=AFTER)
    period, federation, variant, goods, values, persons = cache.get(("draw", a["bea"]))
    cache.put(("draw", a["bea"]), (period, federation, variant + 1, goods, values, persons))
    tried = len(batches)
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.001", now=AFTER)
    assert len(batches) == tried + 1
    assert cache.get(("draw", a["bea"]))[2] == variant
    assert sum(_balances(store).values()) == 0
    assert store.verify_record().ok


def test_the_accounts_reads_on_psycopg_answer_as_the_generic_ones(town):
    """PostgreSQL's reads of an account, its transfers (paged back) and a federation's rule,
    in SQL of their own, against SqlRecords' (SQLAlchemy) on the same rows."""
    from councilplan.store.sql import SqlRecords

    store, town = town
    a = town.accounts
    for hours in ("1", "2", "3"):
        s.record_hours(
            store,
            workplace_id=town.councils["bakery"],
            member_id=a["bea"],
            hours=hours,
            actor_id=a["cai"],
            now=AFTER,
        )
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.001", now=AFTER)
    with store.reading() as tx:
        for key in (f"member:{a['bea']}", f"labour_fund:{town.councils['bakery']}", "nobody:1"):
            assert tx.ledger_account(key) == SqlRecords.ledger_account(tx, key)
        account = tx.ledger_account(f"member:{a['bea']}")["id"]
        newest = tx.transfers_of(account, limit=1)[0]["id"]
        for limit, before in ((1, None), (2, None), (50, None), (2, newest), (50, newest), (5, 1)):
            mine = tx.transfers_of(account, limit=limit, before=before)
            assert mine == SqlRecords.transfers_of(tx, account, limit=limit, before=before)
        assert [t["id"] for t in mine] == sorted((t["id"] for t in mine), reverse=True)
        assert tx.ledger_persons(1) == SqlRecords.ledger_persons(tx, 1) == "numbered"
        assert tx.ledger_persons(999) is None and SqlRecords.ledger_persons(tx, 999) is None
