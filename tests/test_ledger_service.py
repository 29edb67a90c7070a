"""Labour-time accounts through the service, on SQLite and PostgreSQL: what an adopted plan
issues and its levy, hours recorded by the workplace council (never one's own), draws at the
plan's labour values (never overdrawn, public goods free), reversals that cite what they
undo, a commission's decision on recorded hours, and every balance following from the record.
Attacks replayed: a member crediting herself, drawing another's account dry, undoing someone
else's draw, an operator editing a balance."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from council_setup import change_rules
from councilplan.councils import service as s
from councilplan.ledger import QUANTUM
from planning_setup import DAY, T0, adopted_plan, demo_town

HOUR = DAY / 24
AFTER = T0 + 24 * DAY  # the plan is adopted at T0 + 23 days


def _refused(store, expected, act, **kwargs):
    before = store.audit_head()
    with pytest.raises(s.Refused) as caught:
        act(store, **kwargs)
    assert caught.value.reason == expected, caught.value.message
    assert store.audit_head() == before
    return caught.value


def _all_balances(store) -> dict[str, Decimal]:
    with store.reading() as tx:
        return {r["key"]: Decimal(r["balance"]) * QUANTUM for r in tx.ledger_accounts()}


@pytest.fixture
def town(council_store):
    town = demo_town(council_store)
    period = adopted_plan(council_store, town)
    assert period.status == "adopted"
    return town, period


def test_the_plan_issues_funds_and_its_levy_is_derived(council_store, town):
    store, (town, period) = council_store, town
    levy = s.get_levy(store, period_id=period.id)
    p, q = (int(x) for x in levy.rate.split("/"))
    assert 0 < p / q < 1
    assert any("health_care" in line for line in levy.lines)
    assert s.current_levy(store, council_id=town.councils["bakery"]) == levy
    bakery = s.ledger_account(
        store, key=f"labour_fund:{town.councils['bakery']}", viewer_id=town.accounts["ada"]
    )
    targets = s.council_targets(store, period_id=period.id, council_id=town.councils["bakery"])
    planned = sum(Decimal(repr(h)) for h in targets.workplace["hours"].values())
    assert Decimal(bakery.balance.replace(",", "")) == pytest.approx(planned, abs=Decimal("0.001"))
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_hours_credited_less_the_levy_and_never_by_oneself(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    act = s.record_hours(
        store, workplace_id=bakery, member_id=a["bea"], hours="7.5", actor_id=a["cai"], now=AFTER
    )
    credit, levy = act.transfers
    assert (credit.kind, levy.kind) == ("hours", "levy")
    assert Decimal(credit.amount) + Decimal(levy.amount) == Decimal("7.5")
    assert credit.credit.startswith("member:#") and levy.credit.startswith("common_fund:")
    mine = s.my_ledger(store, account_id=a["bea"])
    assert mine.balance == credit.amount and mine.transfers[0].credit == "you"
    _refused(  # nobody credits herself
        store,
        "own_hours",
        s.record_hours,
        workplace_id=bakery,
        member_id=a["bea"],
        hours="40",
        actor_id=a["bea"],
        now=AFTER,
    )
    _refused(  # a member of another council records nothing here
        store,
        "not_a_member",
        s.record_hours,
        workplace_id=bakery,
        member_id=a["bea"],
        hours="40",
        actor_id=a["mo"],
        now=AFTER,
    )
    _refused(  # hours for someone who is not a member of the workplace
        store,
        "not_a_member",
        s.record_hours,
        workplace_id=bakery,
        member_id=a["mo"],
        hours="8",
        actor_id=a["cai"],
        now=AFTER,
    )
    _refused(
        store,
        "too_precise",
        s.record_hours,
        workplace_id=bakery,
        member_id=a["bea"],
        hours="1.00001",
        actor_id=a["cai"],
        now=AFTER,
    )
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_draws_never_overdraw_and_public_goods_are_free(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    s.record_hours(
        store, workplace_id=bakery, member_id=a["bea"], hours="10", actor_id=a["cai"], now=AFTER
    )
    # Bread is counted in tonnes here (about 74 h a tonne): 20 kg.
    drawn = s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.02", now=AFTER)
    (t,) = drawn.transfers
    assert t.kind == "draw" and t.ref["product"] == "bread"
    left = Decimal(s.my_ledger(store, account_id=a["bea"]).balance.replace(",", ""))
    _refused(store, "overdrawn", s.draw_goods, member_id=a["bea"], product="bread",
             quantity=str(int(left) * 1000), now=AFTER)  # fmt: skip
    _refused(store, "public_good", s.draw_goods, member_id=a["bea"], product="health_care",
             quantity="1", now=AFTER)  # fmt: skip
    _refused(store, "unknown_product", s.draw_goods, member_id=a["bea"], product="caviar",
             quantity="1", now=AFTER)  # fmt: skip
    # Undoing: only she, only within a day; once.
    _refused(store, "not_your_draw", s.reverse_transfer, tid=t.tid, reason="r",
             actor_id=a["cai"], now=AFTER)  # fmt: skip
    _refused(store, "too_late", s.reverse_transfer, tid=t.tid, reason="r",
             actor_id=a["bea"], now=AFTER + 2 * DAY)  # fmt: skip
    undone = s.reverse_transfer(
        store, tid=t.tid, reason="took the wrong loaf", actor_id=a["bea"], now=AFTER + HOUR
    )
    assert undone.transfers[0].reverses == t.tid
    _refused(store, "already_reversed", s.reverse_transfer, tid=t.tid, reason="again",
             actor_id=a["bea"], now=AFTER + HOUR)  # fmt: skip
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_hours_undone_by_the_council_and_corrected_by_the_commission(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    act = s.record_hours(
        store, workplace_id=bakery, member_id=a["bea"], hours="8", actor_id=a["cai"], now=AFTER
    )
    tid = act.transfers[0].tid
    _refused(store, "own_hours", s.reverse_transfer, tid=tid, reason="mine",
             actor_id=a["bea"], now=AFTER)  # fmt: skip
    undone = s.reverse_transfer(
        store, tid=tid, reason="counted twice", actor_id=a["dan"], now=AFTER
    )
    assert {t.reverses for t in undone.transfers} == {tid, act.transfers[1].tid}
    assert s.my_ledger(store, account_id=a["bea"]).balance == "0"

    # A disputed entry: the commission decides 9 hours, final; the council applies it.
    act = s.record_hours(
        store, workplace_id=bakery, member_id=a["bea"], hours="6", actor_id=a["cai"], now=AFTER
    )
    tid = act.transfers[0].tid
    commission = s.create_commission(
        store,
        name="Bakery rates",
        workplace_council_id=bakery,
        federation_id=town.federation,
        actor_id=a["ada"],
        now=AFTER,
    )
    seats = (a["dan"], town.delegate["clinic"])
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
    s.hear_dispute(
        store, dispute_id=dispute.dispute_id, actor_id=seats[0], present=seats, now=AFTER
    )
    for seat in seats:
        s.decide_dispute(
            store, dispute_id=dispute.dispute_id, actor_id=seat, hours="9", vote="yes", now=AFTER
        )
    s.appeal_dispute(
        store, dispute_id=dispute.dispute_id, actor_id=a["bea"], grounds="g", now=AFTER
    )
    for seat in seats:
        s.finalise_dispute(
            store, dispute_id=dispute.dispute_id, actor_id=seat, hours="9", vote="yes", now=AFTER
        )
    applied = s.apply_hours_decision(
        store, dispute_id=int(dispute.dispute_id), actor_id=a["cai"], now=AFTER
    )
    kinds = [t.kind for t in applied.transfers]
    assert kinds == ["reversal", "reversal", "hours", "levy"]
    assert all(t.ref.get("dispute") == str(dispute.dispute_id) for t in applied.transfers)
    new_credit, new_levy = applied.transfers[2:]
    assert Decimal(new_credit.amount) + Decimal(new_levy.amount) == 9
    assert s.my_ledger(store, account_id=a["bea"]).balance == new_credit.amount
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_council_that_records_by_delegate(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    voters = [a[name] for name in ("bea", "ada", "cai", "dan")]
    change_rules(store, bakery, voters, AFTER, hours_recorded_by="delegate")  # closes in 3 days
    later = AFTER + 3 * DAY
    delegate = town.delegate["bakery"]
    member = next(a[n] for n in ("bea", "cai", "dan") if a[n] != delegate)
    _refused(store, "hours_by_delegate", s.record_hours, workplace_id=bakery,
             member_id=delegate, hours="8", actor_id=member, now=later)  # fmt: skip
    s.record_hours(
        store, workplace_id=bakery, member_id=member, hours="8", actor_id=delegate, now=later
    )


def test_an_operator_who_edits_a_balance_is_named(council_store, town):
    store, (town, _) = council_store, town
    a = town.accounts
    s.record_hours(
        store,
        workplace_id=town.councils["bakery"],
        member_id=a["bea"],
        hours="8",
        actor_id=a["cai"],
        now=AFTER,
    )
    with store.engine.begin() as conn:
        key = f"member:{a['bea']}"
        conn.exec_driver_sql(
            f"UPDATE ledger_accounts SET balance = balance + 10000000 WHERE key = '{key}'"
        )
    checked = store.verify_record()
    assert not checked.ok and "ledger_accounts" in checked.message


def test_fifty_clients_drawing_from_one_account_never_overdraw_it(council_store, town):
    store, (town, _) = council_store, town
    a = town.accounts
    s.record_hours(
        store,
        workplace_id=town.councils["bakery"],
        member_id=a["bea"],
        hours="10",
        actor_id=a["cai"],
        now=AFTER,
    )
    balance = Decimal(s.my_ledger(store, account_id=a["bea"]).balance)
    value = Decimal(repr(s.plan_values(store, period_id=1)["values"]["bread"]))
    quantity = (balance / value / 20).quantize(Decimal("0.001"))  # about 20 fit, 50 try
    kept, refused, failed = [], [], []
    start = threading.Barrier(50)

    def client():
        start.wait()
        try:
            kept.append(
                s.draw_goods(
                    store, member_id=a["bea"], product="bread", quantity=str(quantity), now=AFTER
                )
            )
        except s.Refused as error:
            refused.append(error.reason)
        except Exception as error:  # noqa: BLE001 - any other failure fails the test below
            failed.append(error)

    threads = [threading.Thread(target=client) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [] and set(refused) <= {"overdrawn"}
    assert len(kept) + len(refused) == 50 and 15 <= len(kept) <= 25
    mine = s.my_ledger(store, account_id=a["bea"], limit=500)
    assert Decimal(mine.balance) >= 0
    spent = sum(Decimal(t.amount) for t in mine.transfers if t.kind == "draw")
    assert Decimal(mine.balance) + spent == balance  # no transfer lost, none counted twice
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_sheet_of_hours_is_kept_whole_or_not_at_all(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    rows = [
        {"member_id": a["bea"], "hours": "8", "note": "Monday"},
        {"member_id": a["dan"], "hours": "-3"},
        {"member_id": a["bea"], "hours": "8", "note": "Tuesday"},
    ]
    refused = _refused(
        store,
        "negative",
        s.record_hours_batch,
        workplace_id=bakery,
        entries=rows,
        actor_id=a["cai"],
        now=AFTER,
    )
    assert refused.field == "entries[1].hours" and refused.message.startswith("entries[1]")
    assert s.my_ledger(store, account_id=a["bea"]).transfers == ()
    rows[1]["hours"] = "3"
    acts = s.record_hours_batch(
        store, workplace_id=bakery, entries=rows, actor_id=a["cai"], now=AFTER
    )
    assert len(acts) == 3
    assert len(s.my_ledger(store, account_id=a["bea"]).transfers) == 2


def test_a_member_who_leaves_is_anonymised_and_the_books_stay_whole(council_store, town):
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    s.record_hours(
        store, workplace_id=bakery, member_id=a["bea"], hours="8", actor_id=a["cai"], now=AFTER
    )
    before = s.my_ledger(store, account_id=a["bea"])
    _refused(store, "still_a_member", s.anonymise_account, account_id=a["bea"],
             actor_id=a["bea"], now=AFTER)  # fmt: skip
    s.leave_council(store, council_id=bakery, account_id=a["bea"], now=AFTER)
    _refused(store, "not_yours", s.anonymise_account, account_id=a["bea"],
             actor_id=a["cai"], now=AFTER)  # fmt: skip
    gone = s.anonymise_account(store, account_id=a["bea"], actor_id=a["bea"], now=AFTER)
    assert gone.username.startswith("former-") and gone.display_name == "Former member"
    assert s.my_ledger(store, account_id=a["bea"]) == before
    fund = s.ledger_account(store, key=f"labour_fund:{bakery}", viewer_id=a["cai"])
    assert not any("bea" in str(t) for t in fund.transfers)
    assert sum(_all_balances(store).values()) == 0
    assert store.verify_record().ok


def test_a_federation_that_hides_persons_in_its_transfers(council_store, town):
    """The federation's rule ledger_persons, "hidden": other members see "a member" where they
    saw a number, nobody reads another member's account, the record's public entries carry no
    person's number; each member still sees herself. A workplace council cannot set it."""
    store, (town, _) = council_store, town
    bakery, a = town.councils["bakery"], town.accounts
    hours = {"workplace_id": bakery, "member_id": a["bea"], "actor_id": a["cai"], "hours": "8"}
    s.record_hours(store, now=AFTER, **hours)  # numbered, the default
    bea = s.my_ledger(store, account_id=a["bea"]).key
    assert s.ledger_account(store, key=bea, viewer_id=a["cai"]).key == bea
    with pytest.raises(s.Invalid) as caught:
        s.open_rules_ballot(store, council_id=bakery, opened_by=a["bea"],
                            rules={"ledger_persons": "hidden"}, closes_at=AFTER + 3 * DAY,
                            now=AFTER)  # fmt: skip
    assert caught.value.reason == "bad_ledger_persons"
    delegates = sorted(set(town.delegate.values()))
    change_rules(store, town.federation, delegates, AFTER, ledger_persons="hidden")
    later = AFTER + 3 * DAY + HOUR
    act = s.record_hours(store, now=later, **hours)
    assert [t.credit for t in act.transfers][0] == "member"  # to the recorder: not her number
    entry = store.audit_entries()[-1]
    assert entry.kind == "ledger.hours"
    assert {t["credit"] for t in entry.payload["transfers"]} >= {"member"}
    assert str(int(bea.split("#")[1])) not in {str(t["credit"]) for t in entry.payload["transfers"]}
    fund = s.ledger_account(store, key=f"labour_fund:{bakery}", viewer_id=a["cai"])
    credited = [t.credit for t in fund.transfers if t.kind == "hours"]
    assert credited == ["a member", "a member"]  # the federation's rule, for all its transfers
    _refused(store, "persons_hidden", s.ledger_account, key=bea, viewer_id=a["cai"])
    mine = s.ledger_account(store, key=bea, viewer_id=a["bea"])
    assert mine.shown == "you" and s.my_ledger(store, account_id=a["bea"]).balance == mine.balance
    assert store.verify_record().ok
