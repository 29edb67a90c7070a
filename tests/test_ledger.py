"""Labour-time accounts: exact hours, the double-entry book, the acts' transfers and the levy
from the adopted plan, checked by hand and by properties over random sequences of acts."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from councilplan.errors import Where
from councilplan.ledger import (
    Account,
    AccountKind,
    Book,
    LedgerError,
    Reason,
    Rounding,
    Transfer,
    TransferKind,
    allotments,
    draw,
    hours_worked,
    levy_from_plan,
    read_hours,
    read_quantity,
    read_rate,
    reversal,
    to_quantum,
    workplace_accounts,
    workplace_draw,
)

HERE = Where("test", id="x", field="hours")
FED = "riverside"
ISSUE = Account(AccountKind.ISSUE, FED, "2025")
GOODS = Account(AccountKind.GOODS, FED)
COMMON = Account(AccountKind.COMMON_FUND, FED)
LABOUR, MEANS, MATERIALS = workplace_accounts("bakery")
ALICE = Account(AccountKind.MEMBER, "alice")
BOB = Account(AccountKind.MEMBER, "bob")

#: A small published plan in the shape planning.published.publish gives.
PLAN = {
    "status": "optimal",
    "total_labour": 100000.0,
    "values": {"health_care": 0.8, "bread": 2.5, "flour": 0.33335, "schooling": 40.0},
    "output": {"health_care": 12000.0, "bread": 1000.0, "flour": 500.0, "schooling": 50.0},
    "consumption": {
        "north": [
            {"product": "health_care", "priority": 1.0, "need": 8000.0, "met": 8000.0},
            {"product": "bread", "priority": 1.0, "need": 600.0, "met": 600.0},
        ],
        "south": [
            {"product": "health_care", "priority": 1.0, "need": 4000.0, "met": 4000.0},
            {"product": "bread", "priority": 1.0, "need": 400.0, "met": 400.0},
        ],
    },
    "workplaces": {
        "bakery": {
            "techniques": [
                {"technique": "bakery", "product": "bread", "activity": 1000.0, "output": 1000.0}
            ],
            "hours": {"general": 2000.0, "skilled": 500.00005},
            "inputs": {"flour": 3.0, "water": 2.5},
            "resources": {},
        },
        "mill": {
            "techniques": [
                {"technique": "mill", "product": "flour", "activity": 500.0, "output": 500.0}
            ],
            "hours": {"general": 150.0},
            "inputs": {},
            "resources": {},
        },
    },
}


def opened(*accounts: Account) -> Book:
    book = Book()
    book.open(*accounts)
    return book


def snapshot(book: Book):
    return dict(book.balances), list(book.transfers)


def test_the_ledger_is_core_and_imports_no_adapter():
    """Importing councilplan.ledger loads nothing from store, web, cli or the councils'
    service, nor NumPy."""
    code = (
        "import sys, councilplan.ledger; "
        "print(sorted(m for m in sys.modules if m.startswith(('councilplan.store', "
        "'councilplan.web', 'councilplan.cli', 'councilplan.councils', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- hours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("7.5", "7.5000"),
        (" 7.5 ", "7.5000"),
        (8, "8.0000"),
        (0.1, "0.1000"),  # a float by its shortest text, not the binary fraction
        (Decimal("1.23450000"), "1.2345"),
        ("1e3", "1000.0000"),
        ("-0", "0.0000"),
    ],
)
def test_hours_are_read_exactly_onto_four_decimal_places(given, expected):
    hours = read_hours(given, HERE)
    assert hours == Decimal(expected) and str(hours) == expected


@pytest.mark.parametrize(
    ("given", "reason", "message"),
    [
        ("abc", Reason.NOT_A_NUMBER, "'abc' is not a number"),
        (True, Reason.NOT_A_NUMBER, "True is not a number"),
        (None, Reason.NOT_A_NUMBER, "None is not a number"),
        ("NaN", Reason.NOT_FINITE, "not a finite number"),
        (float("inf"), Reason.NOT_FINITE, "not a finite number"),
        ("-1", Reason.NEGATIVE, "negative"),
        ("1.00001", Reason.TOO_PRECISE, "more than 4 decimal places"),
        (1e-05, Reason.TOO_PRECISE, "more than 4 decimal places"),
        ("1000000000000.0001", Reason.TOO_LARGE, "more than 1,000,000,000,000 h"),
        (1e300, Reason.TOO_LARGE, "more than"),
    ],
)
def test_hours_that_cannot_be_kept_are_refused_naming_where(given, reason, message):
    with pytest.raises(LedgerError, match=message) as refused:
        read_hours(given, HERE)
    assert refused.value.reason is reason
    assert refused.value.where == HERE
    assert str(refused.value).startswith("test, id 'x', field 'hours': ")


def test_negative_hours_only_where_allowed():
    assert read_hours("-2.5", HERE, allow_negative=True) == Decimal("-2.5")


def test_quantities_and_values_are_exact_and_bounded():
    assert read_quantity("2.50", HERE) == Decimal("2.5")
    assert read_quantity(15.6007855081, HERE) == Decimal("15.6007855081")
    assert read_quantity(0, HERE, allow_zero=True) == 0
    with pytest.raises(LedgerError, match="quantity 0 is not a number > 0"):
        read_quantity(0, HERE)
    with pytest.raises(LedgerError, match="more than 28 significant digits"):
        read_quantity("1." + "1" * 30, HERE)
    with pytest.raises(LedgerError, match="out of range"):
        read_quantity("1e-40", HERE)
    with pytest.raises(LedgerError, match="labour value 'x' is not a number"):
        read_quantity("x", HERE, what="labour value")


def test_rounding_to_the_quantum():
    third = Fraction(1, 3)
    assert to_quantum(third, Rounding.DOWN) == Decimal("0.3333")
    assert to_quantum(third, Rounding.UP) == Decimal("0.3334")
    assert to_quantum(Decimal("0.00005"), Rounding.HALF_EVEN) == Decimal("0.0000")
    assert to_quantum(Decimal("0.00015"), Rounding.HALF_EVEN) == Decimal("0.0002")
    assert to_quantum(Decimal("2.00000"), Rounding.UP) == Decimal("2.0000")


# -- accounts and transfers ----------------------------------------------------------------


def test_an_issue_account_has_a_period_and_no_other_does():
    assert str(ISSUE) == "issue:riverside:2025" and str(ALICE) == "member:alice"
    with pytest.raises(LedgerError, match="needs its planning period"):
        Account(AccountKind.ISSUE, FED)
    with pytest.raises(LedgerError, match="has no period"):
        Account(AccountKind.MEMBER, "alice", "2025")
    with pytest.raises(LedgerError, match="unknown account kind 'wallet'"):
        Account("wallet", "alice")
    with pytest.raises(LedgerError, match="owner of a member account"):
        Account(AccountKind.MEMBER, "")
    assert Account("member", "alice") == ALICE  # the kind may be given as its text


@pytest.mark.parametrize(
    ("args", "reason", "message"),
    [
        (("t", LABOUR, ALICE, "0", "hours"), Reason.NOT_POSITIVE, "not above 0"),
        (("t", LABOUR, ALICE, "-1", "hours"), Reason.NEGATIVE, "negative"),
        (("t", ALICE, ALICE, "1", "draw"), Reason.WRONG_ACCOUNTS, "to itself"),
        (("t", ALICE, BOB, "1", "hours"), Reason.WRONG_ACCOUNTS, "labour_fund to member"),
        (("t", ISSUE, ALICE, "1", "allotment"), Reason.WRONG_ACCOUNTS, "cannot go from"),
        (("t", COMMON, ALICE, "1", "levy"), Reason.WRONG_ACCOUNTS, "cannot go from"),
        (("t", ALICE, GOODS, "1", "gift"), Reason.BAD_TRANSFER, "unknown transfer kind 'gift'"),
        (("", ALICE, GOODS, "1", "draw"), Reason.BAD_TRANSFER, "transfer id ''"),
    ],
)
def test_a_transfer_that_is_not_a_valid_movement_is_refused(args, reason, message):
    with pytest.raises(LedgerError, match=message) as refused:
        Transfer(*args)
    assert refused.value.reason is reason


def test_only_a_reversal_reverses_and_it_needs_a_reason():
    with pytest.raises(LedgerError, match="needs a reason"):
        Transfer("r", GOODS, ALICE, "1", TransferKind.REVERSAL, reverses="d")
    with pytest.raises(LedgerError, match="must name the transfer"):
        Transfer("r", GOODS, ALICE, "1", TransferKind.REVERSAL, reason="oops")
    with pytest.raises(LedgerError, match="reverses nothing"):
        Transfer("d", ALICE, GOODS, "1", TransferKind.DRAW, reverses="x")


def test_a_transfer_is_immutable_including_its_ref():
    t = Transfer("d", ALICE, GOODS, "1.5", "draw", ref={"product": "bread"})
    assert t.amount == Decimal("1.5000") and t.kind is TransferKind.DRAW
    with pytest.raises(AttributeError):
        t.amount = Decimal(100)  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.ref["product"] = "cake"  # type: ignore[index]


# -- the book ------------------------------------------------------------------------------


def test_opening_twice_or_using_an_account_not_open_is_refused():
    book = opened(ALICE, GOODS)
    with pytest.raises(LedgerError, match="member:alice is already open"):
        book.open(BOB, ALICE)
    assert not book.is_open(BOB)  # opening is all or none too
    with pytest.raises(LedgerError, match="labour_fund:bakery is not open") as refused:
        book.apply([Transfer("h", LABOUR, ALICE, "1", "hours")])
    assert refused.value.reason is Reason.UNKNOWN_ACCOUNT


def test_a_member_cannot_overdraw_and_the_refusal_names_account_balance_and_amount():
    book = opened(LABOUR, ALICE, GOODS)
    book.apply([Transfer("h", LABOUR, ALICE, "3", "hours")])
    before = snapshot(book)
    with pytest.raises(LedgerError) as refused:
        book.apply([Transfer("d", ALICE, GOODS, "3.0001", "draw")])
    error = refused.value
    assert error.reason is Reason.OVERDRAWN
    assert "member:alice has 3 h" in error.message and "takes 3.0001 h" in error.message
    assert "a member cannot overdraw" in error.message
    assert error.where == Where("transfers", row=1, id="d", field="amount")
    assert snapshot(book) == before
    book.apply([Transfer("d", ALICE, GOODS, "3", "draw")])  # to the last 0.0001 h
    assert book.balance(ALICE) == 0


def test_a_labour_fund_goes_below_zero_and_shows_over_plan():
    book = opened(ISSUE, LABOUR, ALICE)
    book.apply([Transfer("a", ISSUE, LABOUR, "8", "allotment")])
    assert book.over_plan(LABOUR) == 0
    book.apply([Transfer("h", LABOUR, ALICE, "10", "hours")])  # worked more than planned
    assert book.balance(LABOUR) == Decimal("-2") and book.over_plan(LABOUR) == Decimal("2")
    assert book.balance(ISSUE) == Decimal("-8")
    with pytest.raises(LedgerError, match="only a labour fund"):
        book.over_plan(ALICE)


@pytest.mark.parametrize("fund", [MATERIALS, MEANS])
def test_a_workplace_draws_only_what_its_plan_allotted(fund):
    book = opened(ISSUE, fund, GOODS)
    book.apply([Transfer("a", ISSUE, fund, "5", "allotment")])
    with pytest.raises(LedgerError, match="a workplace draws only what its plan allotted"):
        book.apply([Transfer("d", fund, GOODS, "5.5", "draw")])
    assert book.balance(fund) == 5


def test_a_batch_is_all_or_none_and_checked_in_order():
    book = opened(LABOUR, ALICE, BOB, GOODS)
    ok = Transfer("h1", LABOUR, ALICE, "2", "hours")
    overdraw = Transfer("d1", BOB, GOODS, "1", "draw")
    with pytest.raises(LedgerError, match="row 2"):
        book.apply([ok, overdraw])
    assert book.transfers == {} and all(b == 0 for b in book.balances.values())
    # In order: a draw before the credit that would cover it is refused, though the
    # batch as a whole would leave Bob at 0.
    with pytest.raises(LedgerError, match="member:bob has 0 h"):
        book.apply([overdraw, Transfer("h2", LABOUR, BOB, "1", "hours")])
    book.apply([Transfer("h2", LABOUR, BOB, "1", "hours"), overdraw])
    assert book.balance(BOB) == 0 and book.balance(GOODS) == 1
    assert [t.id for t in book.entries(BOB)] == ["h2", "d1"]


def test_an_id_is_used_once():
    book = opened(LABOUR, ALICE)
    book.apply([Transfer("h", LABOUR, ALICE, "1", "hours")])
    with pytest.raises(LedgerError, match="'h' is already in the book") as refused:
        book.apply([Transfer("h", LABOUR, ALICE, "2", "hours")])
    assert refused.value.reason is Reason.DUPLICATE_TRANSFER
    with pytest.raises(LedgerError, match="already in the book"):
        book.apply([Transfer("g", LABOUR, ALICE, "1", "hours")] * 2)


def test_a_batch_is_a_sequence_of_transfers():
    book = opened(LABOUR, ALICE)
    with pytest.raises(LedgerError, match="not Transfer"):
        book.apply(Transfer("h", LABOUR, ALICE, "1", "hours"))  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="is not a Transfer"):
        book.apply(["h"])  # type: ignore[list-item]


def test_reversal_rules():
    book = opened(LABOUR, ALICE, GOODS)
    book.apply(
        [Transfer("h", LABOUR, ALICE, "5", "hours"), draw(ALICE, GOODS, "bread", 1, 2.5, id="d")]
    )
    undo = reversal(
        book.transfers["d"], "the bread was never handed over", {"dispute": "7"}, id="r"
    )
    assert (undo.debit, undo.credit, undo.amount) == (GOODS, ALICE, Decimal("2.5"))
    assert undo.reverses == "d" and undo.ref["dispute"] == "7"
    book.apply([undo])
    assert book.balance(ALICE) == 5 and book.reversal_of("d") == undo
    assert book.reversal_of("h") is None

    with pytest.raises(LedgerError, match="already reversed by 'r'") as refused:
        book.apply([reversal(book.transfers["d"], "again", id="r2")])
    assert refused.value.reason is Reason.ALREADY_REVERSED
    # A reversal is not reversed, whether made by acts.reversal or by hand.
    with pytest.raises(LedgerError, match="new ordinary entry"):
        reversal(undo, "undo the undo", id="r3")
    by_hand = Transfer("r3", ALICE, GOODS, "2.5", "reversal", reverses="r", reason="undo")
    with pytest.raises(LedgerError, match="is itself a reversal") as refused:
        book.apply([by_hand])
    assert refused.value.reason is Reason.REVERSAL_OF_REVERSAL
    # The same amount between the same accounts, of a transfer in the book.
    short = Transfer("r4", ALICE, LABOUR, "4", "reversal", reverses="h", reason="typo")
    with pytest.raises(LedgerError, match="reversing 'h' moves 5 h") as refused:
        book.apply([short])
    assert refused.value.reason is Reason.REVERSAL_MISMATCH
    ghost = Transfer("r5", ALICE, LABOUR, "5", "reversal", reverses="nope", reason="x")
    with pytest.raises(LedgerError, match="'nope', which is not in the book"):
        book.apply([ghost])


def test_a_reversal_that_would_overdraw_the_member_is_refused():
    """A member who has spent mistakenly credited hours cannot be taken below zero by the
    reversal: the correction is then a new entry the commission decides on."""
    book = opened(LABOUR, ALICE, GOODS)
    book.apply(
        [Transfer("h", LABOUR, ALICE, "5", "hours"), Transfer("d", ALICE, GOODS, "4", "draw")]
    )
    with pytest.raises(LedgerError, match="member:alice has 1 h"):
        book.apply([reversal(book.transfers["h"], "recorded twice", id="r")])


def test_a_transfer_and_its_reversal_in_one_batch():
    book = opened(LABOUR, ALICE)
    credit = Transfer("h", LABOUR, ALICE, "5", "hours")
    undo = reversal(credit, "wrong member", id="r")
    book.apply([credit, undo])
    assert book.balance(ALICE) == 0 and book.reversal_of("h") == undo
    with pytest.raises(LedgerError, match="already reversed by 'x1'"):
        book.apply(
            [
                Transfer("h2", LABOUR, ALICE, "1", "hours"),
                reversal(Transfer("h2", LABOUR, ALICE, "1", "hours"), "a", id="x1"),
                reversal(Transfer("h2", LABOUR, ALICE, "1", "hours"), "b", id="x2"),
            ]
        )


def test_replay_rebuilds_the_same_balances():
    book = opened(ISSUE, LABOUR, ALICE, GOODS, COMMON)
    book.apply(
        [Transfer("a", ISSUE, LABOUR, "10", "allotment")]
        + list(hours_worked(LABOUR, ALICE, COMMON, "7.5", "0.1", id="h"))
    )
    again = Book.replay(book.balances, list(book.transfers.values()))
    assert dict(again.balances) == dict(book.balances)


# -- the acts ------------------------------------------------------------------------------


def test_hours_worked_splits_the_hours_exactly():
    credit, levy = hours_worked(LABOUR, ALICE, COMMON, "7.5", Fraction(29, 250), id="h1")
    assert credit.id == "h1:hours" and levy.id == "h1:levy"
    assert (credit.debit, credit.credit, credit.kind) == (LABOUR, ALICE, TransferKind.HOURS)
    assert (levy.debit, levy.credit, levy.kind) == (LABOUR, COMMON, TransferKind.LEVY)
    assert levy.amount == Decimal("0.87") and credit.amount == Decimal("6.63")
    assert credit.ref["levy_rate"] == "29/250" and credit.ref["hours"] == "7.5000"


def test_the_levy_rounds_down_in_the_members_favour():
    credit, levy = hours_worked(LABOUR, ALICE, COMMON, "1", Fraction(1, 3), id="h")
    assert levy.amount == Decimal("0.3333") and credit.amount == Decimal("0.6667")
    assert credit.amount + levy.amount == 1


def test_no_levy_transfer_when_the_levy_is_zero():
    (credit,) = hours_worked(LABOUR, ALICE, COMMON, "8", 0, id="h")
    assert credit.amount == 8
    (credit,) = hours_worked(LABOUR, ALICE, COMMON, "0.0001", "0.5", id="h")  # levy < 0.0001
    assert credit.amount == Decimal("0.0001")


@pytest.mark.parametrize(
    ("hours", "rate", "message"),
    [
        ("0", "0.1", "hours '0' is not above 0"),
        ("8", "1", "not a number from 0 up to"),
        ("8", "-0.1", "not a number from 0 up to"),
        ("8", "a lot", "is not a number"),
        ("8", float("nan"), "is not a number"),
    ],
)
def test_hours_worked_refuses_bad_hours_and_rates(hours, rate, message):
    with pytest.raises(LedgerError, match=message):
        hours_worked(LABOUR, ALICE, COMMON, hours, rate, id="h")


def test_hours_worked_refuses_the_wrong_accounts():
    with pytest.raises(LedgerError, match="member is labour_fund:bakery, not a member account"):
        hours_worked(LABOUR, LABOUR, COMMON, "1", 0, id="h")
    with pytest.raises(LedgerError, match="common_fund is member:bob"):
        hours_worked(LABOUR, ALICE, BOB, "1", 0, id="h")


def test_rates_are_read_exactly():
    assert read_rate("3/25", HERE) == Fraction(3, 25)
    assert read_rate("0.12", HERE) == Fraction(3, 25)
    assert read_rate(0.12, HERE) == Fraction(3, 25)  # by its shortest text
    assert read_rate(Decimal("0.12"), HERE) == Fraction(3, 25)
    with pytest.raises(LedgerError, match="not a number"):
        read_rate(True, HERE)


def test_a_draw_is_quantity_times_value_rounded_down():
    t = draw(ALICE, GOODS, "flour", 3, "0.33335", id="d")
    assert t.amount == Decimal("1.0000")  # 1.00005 rounded down
    assert dict(t.ref) == {"product": "flour", "quantity": "3", "value": "0.33335"}
    assert draw(ALICE, GOODS, "bread", "2.5", 2.5, id="d").amount == Decimal("6.25")
    with pytest.raises(LedgerError, match="worth less than 0.0001 h") as refused:
        draw(ALICE, GOODS, "flour", "0.0001", "0.5", id="d")
    assert refused.value.reason is Reason.TOO_SMALL
    with pytest.raises(LedgerError, match="quantity -1 is not a number > 0"):
        draw(ALICE, GOODS, "flour", -1, "0.5", id="d")
    with pytest.raises(LedgerError, match="member is materials_fund:bakery"):
        draw(MATERIALS, GOODS, "flour", 1, "0.5", id="d")
    with pytest.raises(LedgerError, match="goods is member:bob"):
        draw(ALICE, BOB, "flour", 1, "0.5", id="d")


def test_a_workplace_draws_against_its_materials_or_means_fund():
    assert workplace_draw(MATERIALS, GOODS, "flour", 3, "0.33335", id="w").amount == 1
    assert workplace_draw(MEANS, GOODS, "oven", 1, "300", id="m").debit == MEANS
    with pytest.raises(LedgerError, match="not a workplace's materials or means fund"):
        workplace_draw(ALICE, GOODS, "flour", 1, "1", id="w")


def test_allotments_from_the_published_plan():
    issued = allotments(PLAN, ISSUE, id="p", means={"mill": "250.5"})
    by_id = {t.id: t for t in issued}
    assert list(by_id) == [
        "p:bakery:labour_fund",
        "p:bakery:materials_fund",
        "p:mill:labour_fund",
        "p:mill:means_fund",
    ]
    assert all(t.debit == ISSUE and t.kind is TransferKind.ALLOTMENT for t in issued)
    # 2000 + 500.00005 planned hours, rounded up.
    assert by_id["p:bakery:labour_fund"].amount == Decimal("2500.0001")
    assert by_id["p:bakery:labour_fund"].credit == LABOUR
    # 3 units of flour at 0.33335 h = 1.00005 h, rounded up; water has no value in the plan.
    materials = by_id["p:bakery:materials_fund"]
    assert materials.credit == MATERIALS and materials.amount == Decimal("1.0001")
    assert materials.ref["inputs"] == 2  # the lines are the published plan's
    assert materials.ref["period"] == "2025" and materials.ref["workplace"] == "bakery"
    assert by_id["p:mill:means_fund"].amount == Decimal("250.5")
    assert by_id["p:mill:means_fund"].credit == Account(AccountKind.MEANS_FUND, "mill")
    # The bakery can draw its 3 units of flour, one at a time, from what it was allotted.
    book = opened(ISSUE, GOODS, *workplace_accounts("bakery"), *workplace_accounts("mill"))
    book.apply(issued)
    book.apply(
        [workplace_draw(MATERIALS, GOODS, "flour", 1, "0.33335", id=f"f{i}") for i in range(3)]
    )
    assert book.balance(MATERIALS) == Decimal("0.0002")
    assert book.balance(ISSUE) == -(
        Decimal("2500.0001") + Decimal("1.0001") + 150 + Decimal("250.5")
    )


def test_allotments_refuse_what_is_not_in_the_plan():
    with pytest.raises(LedgerError, match="workplace 'bakkery' is given means") as refused:
        allotments(PLAN, ISSUE, id="p", means={"bakkery": 10})
    assert refused.value.reason is Reason.NOT_IN_PLAN
    with pytest.raises(LedgerError, match="issue is member:alice"):
        allotments(PLAN, ALICE, id="p")
    with pytest.raises(LedgerError, match="no 'workplaces'"):
        allotments({"values": {}}, ISSUE, id="p")
    broken = {**PLAN, "workplaces": {"bakery": {"hours": {"general": "lots"}}}}
    with pytest.raises(LedgerError, match="field 'hours.general'.*planned hours 'lots'"):
        allotments(broken, ISSUE, id="p")


# -- the levy ------------------------------------------------------------------------------


def test_the_levy_of_the_worked_example():
    """docs/ledger.md's example: 12,000 patient-days of health care met (8,000 north, 4,000
    south) at 0.8 h each, 50 pupil-years of schooling (no council needs it: 0 met), and
    2,000 h of reserves, of a plan of 100,000 h: (9,600 + 0 + 2,000) / 100,000 = 11.6 %."""
    levy = levy_from_plan(PLAN, public_products=["health_care", "schooling"], reserve_hours=2000)
    assert levy.rate == Fraction(29, 250)
    assert levy.public_hours == Decimal("9600") and levy.reserve_hours == 2000
    assert levy.total_hours == 100000 and levy.basis == "consumption"
    assert [(g.product, g.units, g.hours) for g in levy.goods] == [
        ("health_care", Decimal(12000), Decimal(9600)),
        ("schooling", Decimal(0), Decimal(0)),
    ]
    assert levy.lines == (
        "total labour of the plan: 100,000 h",
        "public goods are counted at their final use (the needs the plan meets, all councils "
        "together) times their labour value",
        "public goods: health_care 12,000 units met × 0.8 h = 9,600 h",
        "public goods: schooling 0 units met × 40 h = 0 h",
        "public goods in all: 9,600 h",
        "common reserves voted: 2,000 h",
        "levy rate = (9,600 h + 2,000 h) / 100,000 h = 11.6 %",
    )
    assert levy.percent == "11.6 %"
    credit, levy_part = hours_worked(LABOUR, ALICE, COMMON, "7.5", levy, id="h")
    assert levy_part.amount == Decimal("0.87")


def test_without_needs_by_council_the_levy_counts_output_and_says_so():
    plan = {**PLAN, "consumption": {}}
    levy = levy_from_plan(plan, public_products={"health_care"}, reserve_hours="0")
    assert levy.basis == "output" and levy.public_hours == Decimal("9600")
    assert "publishes no needs by council" in levy.lines[1]
    assert levy.lines[2] == "public goods: health_care 12,000 units made × 0.8 h = 9,600 h"
    assert levy.rate == Fraction(96, 1000)


def test_a_rate_that_does_not_terminate_is_shown_rounded_with_its_exact_value():
    plan = {**PLAN, "total_labour": 30000.0}
    levy = levy_from_plan(plan, public_products=["health_care"], reserve_hours=400)
    assert levy.rate == Fraction(1, 3)
    assert levy.lines[-1].endswith("= 33.3333 % (rounded; exactly 1/3)")


def test_the_levy_refuses_a_product_not_in_the_plan_and_a_rate_of_one_or_more():
    with pytest.raises(LedgerError, match="public product 'helth_care' is not in the plan") as e:
        levy_from_plan(PLAN, public_products=["helth_care"], reserve_hours=0)
    assert e.value.reason is Reason.NOT_IN_PLAN and e.value.where.id == "helth_care"
    with pytest.raises(LedgerError, match="would take 100 % of the plan's 100,000 h") as e:
        levy_from_plan(PLAN, public_products=["health_care"], reserve_hours=90400)
    assert e.value.reason is Reason.BAD_RATE
    with pytest.raises(LedgerError, match="negative"):
        levy_from_plan(PLAN, public_products=[], reserve_hours=-1)
    with pytest.raises(LedgerError, match="give a collection of product ids"):
        levy_from_plan(PLAN, public_products="health_care", reserve_hours=0)
    with pytest.raises(LedgerError, match="total labour"):
        levy_from_plan({**PLAN, "total_labour": 0}, public_products=[], reserve_hours=0)


def test_the_levy_of_the_demo_towns_published_plan():
    """The levy computed from a real published plan (the demo economy, the town's needs):
    the public goods' hours are their needs met times their values, as the plan has them."""
    from councilplan.economy import DEMO_BUNDLE, load_demo
    from councilplan.planning import plan, read_needs
    from councilplan.planning.published import publish

    economy = load_demo()
    published = publish(
        plan(economy, read_needs(DEMO_BUNDLE / "needs" / "town.csv", economy)),
        economy,
        workplaces={"clinic": {"clinic": None}, "bakery": {"bakery": None}},
    )
    public = ["childcare", "health_care", "schooling"]
    levy = levy_from_plan(published, public_products=public, reserve_hours=10000)
    for good in levy.goods:
        met = sum(
            row["met"]
            for rows in published["consumption"].values()
            for row in rows
            if row["product"] == good.product
        )
        expected = met * published["values"][good.product]
        assert float(good.hours) == pytest.approx(expected, abs=1e-4)
        assert good.hours > 0
    assert float(levy.rate) == pytest.approx(
        (float(levy.public_hours) + 10000) / published["total_labour"], rel=1e-9
    )
    assert 0 < levy.rate < 1 and levy.basis == "consumption"
    issued = allotments(published, ISSUE, id="p")
    clinic_hours = sum(published["workplaces"]["clinic"]["hours"].values())
    labour = next(t for t in issued if t.id == "p:clinic:labour_fund")
    assert float(labour.amount) == pytest.approx(clinic_hours, abs=1e-4)


# -- properties ----------------------------------------------------------------------------

quanta = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n).scaleb(-4))
rates = st.fractions(min_value=0, max_value=Fraction(999, 1000), max_denominator=10**6)
decimals = st.builds(
    lambda n, places: Decimal(n).scaleb(-places),
    st.integers(min_value=1, max_value=10**5),
    st.integers(min_value=0, max_value=6),
)


@settings(max_examples=200, deadline=None)
@given(quanta, rates)
def test_hours_worked_parts_add_up_and_the_levy_is_never_above_the_rate(hours, rate):
    parts = hours_worked(LABOUR, ALICE, COMMON, hours, rate, id="h")
    assert sum(t.amount for t in parts) == hours
    levy = parts[1].amount if len(parts) == 2 else 0
    exact = Fraction(hours) * rate
    assert levy <= exact < Fraction(levy) + Fraction(1, 10**4)
    assert parts[0].amount > 0


@settings(max_examples=200, deadline=None)
@given(decimals, decimals, st.data())
def test_a_workplace_can_draw_its_planned_inputs_in_any_pieces(units, value, data):
    """Draws round down, so the pieces of the planned units never cost more than the whole,
    and the materials fund (allotted rounded up) always covers them."""
    plan = {
        "values": {"flour": str(value)},
        "workplaces": {"bakery": {"inputs": {"flour": str(units)}}},
    }
    book = opened(ISSUE, GOODS, *workplace_accounts("bakery"))
    book.apply(allotments(plan, ISSUE, id="p"))
    allotted = book.balance(MATERIALS)
    assert Fraction(units) * Fraction(value) <= allotted  # never below the plan's figure
    # Split the units into pieces of whole last-digit steps (units = steps x 10^exponent).
    _, _, exponent = units.as_tuple()
    steps = int(units.scaleb(-exponent))
    cuts = data.draw(st.lists(st.integers(1, max(1, steps - 1)), max_size=5, unique=True))
    bounds = [0, *sorted(c for c in cuts if c < steps), steps]
    draws = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        piece = Decimal(b - a).scaleb(exponent)
        try:
            draws.append(workplace_draw(MATERIALS, GOODS, "flour", piece, value, id=f"d{i}"))
        except LedgerError as error:  # a piece worth under 0.0001 h cannot be drawn alone
            assert error.reason is Reason.TOO_SMALL
    book.apply(draws)
    assert book.balance(MATERIALS) >= 0
    assert allotted - book.balance(MATERIALS) <= Fraction(units) * Fraction(value)


MEMBERS = ["alice", "bob", "chloe"]
WORKPLACES = ["bakery", "clinic"]
PRODUCTS = {"bread": Decimal("2.5"), "flour": Decimal("0.33335"), "oven": Decimal("120.7")}


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of acts on one federation's book, with an independent count of what
    each act should do; a refused act must change nothing, and be refused for the reason
    the count gives."""

    def __init__(self):
        super().__init__()
        self.book = Book()
        self.book.open(GOODS, COMMON)
        for workplace in WORKPLACES:
            self.book.open(*workplace_accounts(workplace))
        self.periods = 0
        self.next_id = 0

    def new_id(self) -> str:
        self.next_id += 1
        return f"t{self.next_id}"

    def refused(self, transfers, reason: Reason) -> None:
        event(f"refused: {reason.value}")
        before = snapshot(self.book)
        with pytest.raises(LedgerError) as error:
            self.book.apply(transfers)
        assert error.value.reason is reason, error.value
        assert snapshot(self.book) == before

    @rule(name=st.sampled_from(MEMBERS))
    def open_member(self, name):
        account = Account(AccountKind.MEMBER, name)
        if self.book.is_open(account):
            with pytest.raises(LedgerError, match="already open"):
                self.book.open(account)
        else:
            self.book.open(account)

    @rule(
        hours=st.dictionaries(st.sampled_from(WORKPLACES), decimals, min_size=1),
        inputs=st.dictionaries(st.sampled_from(sorted(PRODUCTS)), decimals, max_size=3),
        means=st.dictionaries(st.sampled_from(WORKPLACES), quanta, max_size=2),
    )
    def allot(self, hours, inputs, means):
        self.periods += 1
        issue = Account(AccountKind.ISSUE, FED, str(self.periods))
        self.book.open(issue)
        plan = {
            "values": {product: float(value) for product, value in PRODUCTS.items()},
            "workplaces": {
                w: {
                    "hours": {"general": float(h)},
                    "inputs": {p: float(u) for p, u in inputs.items()},
                }
                for w, h in hours.items()
            },
        }
        means = {w: h for w, h in means.items() if w in hours}
        issued = allotments(plan, issue, id=self.new_id(), means=means)
        self.book.apply(issued)
        assert self.book.balance(issue) == -sum(t.amount for t in issued)

    @precondition(lambda self: any(a.kind is AccountKind.MEMBER for a in self.book.balances))
    @rule(data=st.data(), hours=quanta, rate=rates)
    def work(self, data, hours, rate):
        member = data.draw(st.sampled_from(self.members()))
        workplace = data.draw(st.sampled_from(WORKPLACES))
        fund = Account(AccountKind.LABOUR_FUND, workplace)
        before = self.book.balance(member)
        parts = hours_worked(fund, member, COMMON, hours, rate, id=self.new_id())
        self.book.apply(parts)  # a labour fund may go below zero: always credited
        assert self.book.balance(member) == before + parts[0].amount

    @precondition(lambda self: any(a.kind is AccountKind.MEMBER for a in self.book.balances))
    @rule(data=st.data(), quantity=decimals)
    def draw_goods(self, data, quantity):
        member = data.draw(st.sampled_from(self.members()))
        self.try_draw(draw, member, data.draw(st.sampled_from(sorted(PRODUCTS))), quantity)

    @rule(data=st.data(), quantity=decimals)
    def draw_inputs(self, data, quantity):
        workplace = data.draw(st.sampled_from(WORKPLACES))
        kind = data.draw(st.sampled_from([AccountKind.MATERIALS_FUND, AccountKind.MEANS_FUND]))
        product = data.draw(st.sampled_from(sorted(PRODUCTS)))
        self.try_draw(workplace_draw, Account(kind, workplace), product, quantity)

    def try_draw(self, act, account, product, quantity):
        """A draw that may or may not fit: worth quantity x value rounded down; refused when
        under 0.0001 h or more than the account holds."""
        value = PRODUCTS[product]
        worth = Fraction(quantity) * Fraction(value)
        if worth < Fraction(1, 10**4):
            with pytest.raises(LedgerError) as error:
                act(account, GOODS, product, quantity, value, id=self.new_id())
            assert error.value.reason is Reason.TOO_SMALL
            event("refused: too_small")
            return
        transfer = act(account, GOODS, product, quantity, value, id=self.new_id())
        assert transfer.amount == Fraction(int(worth * 10**4), 10**4)
        if transfer.amount > self.book.balance(account):
            self.refused([transfer], Reason.OVERDRAWN)
        else:
            self.book.apply([transfer])
            event("draw applied")

    @precondition(lambda self: len(self.book.transfers) > 0)
    @rule(data=st.data())
    def reverse(self, data):
        original = data.draw(st.sampled_from(list(self.book.transfers.values())))
        if original.kind is TransferKind.REVERSAL:
            with pytest.raises(LedgerError, match="new ordinary entry"):
                reversal(original, "undo", id=self.new_id())
            by_hand = Transfer(
                self.new_id(),
                original.credit,
                original.debit,
                original.amount,
                TransferKind.REVERSAL,
                reverses=original.id,
                reason="undo",
            )
            self.refused([by_hand], Reason.REVERSAL_OF_REVERSAL)
            return
        undo = reversal(original, "recorded by mistake", id=self.new_id())
        if self.book.reversal_of(original.id) is not None:
            self.refused([undo], Reason.ALREADY_REVERSED)
        elif (
            not original.credit.may_go_negative
            and self.book.balance(original.credit) < original.amount
        ):
            self.refused([undo], Reason.OVERDRAWN)
        else:
            self.book.apply([undo])
            event("reversal applied")
            assert self.book.reversal_of(original.id) == undo
            self.refused([reversal(original, "twice", id=self.new_id())], Reason.ALREADY_REVERSED)

    @rule(data=st.data())
    def batch_with_one_bad_transfer(self, data):
        """A batch whose last transfer overdraws is refused whole."""
        workplace = data.draw(st.sampled_from(WORKPLACES))
        fund = Account(AccountKind.MATERIALS_FUND, workplace)
        good = Transfer(
            self.new_id(), Account(AccountKind.LABOUR_FUND, workplace), COMMON, "1", "levy"
        )
        bad = Transfer(
            self.new_id(), fund, GOODS, self.book.balance(fund) + Decimal("0.0001"), "draw"
        )
        self.refused([good, bad], Reason.OVERDRAWN)

    def members(self) -> list[Account]:
        return [a for a in self.book.balances if a.kind is AccountKind.MEMBER]

    @invariant()
    def hours_are_conserved(self):
        assert sum(self.book.balances.values(), Decimal(0)) == 0

    @invariant()
    def each_balance_is_the_sum_of_its_transfers(self):
        sums = {account: Decimal(0) for account in self.book.balances}
        for t in self.book.transfers.values():
            sums[t.debit] -= t.amount
            sums[t.credit] += t.amount
        assert sums == dict(self.book.balances)
        for account in self.book.balances:
            entries = self.book.entries(account)
            assert all(account in (t.debit, t.credit) for t in entries)
        assert sum(len(self.book.entries(a)) for a in self.book.balances) == 2 * len(
            self.book.transfers
        )

    @invariant()
    def only_labour_funds_and_issue_go_below_zero(self):
        for account, balance in self.book.balances.items():
            if account.kind is AccountKind.ISSUE:
                assert balance <= 0
            elif account.kind is not AccountKind.LABOUR_FUND:
                assert balance >= 0, (account, balance)
            assert balance == balance.quantize(Decimal("0.0001"))


LedgerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_any_sequence_of_acts_keeps_the_book_whole = LedgerMachine.TestCase
