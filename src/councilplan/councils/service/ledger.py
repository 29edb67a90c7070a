"""Labour-time accounts through the service (docs/ledger.md): what an adopted plan issues to
each workplace and its levy, hours recorded by a workplace council, goods drawn by members
and workplaces at the plan's labour values, reversals, and reading balances and transfers.

The transfers are made and checked by ``councilplan.ledger`` (plain logic); this module
decides who may act, keeps each account's balance in the same transaction as its transfers
(row locks, in one order, so concurrent acts never overdraw an account nor lose a
transfer) and puts every act on the record. Amounts are kept as whole units of the
ledger's quantum (0.0001 h) and shown as decimal text.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    NotFound,
    Refused,
    existing,
    now_utc,
    record,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Records, Store
from councilplan.councils.service.results import (
    LedgerAccount,
    LedgerAct,
    LedgerLevy,
    LedgerTransfer,
)
from councilplan.errors import Where
from councilplan.ledger import (
    Account,
    AccountKind,
    LedgerError,
    Transfer,
    TransferKind,
    allotments,
    hours_worked,
    levy_from_plan,
    read_hours,
    read_rate,
    reversal,
    show,
)
from councilplan.ledger import draw as draw_transfer
from councilplan.ledger import workplace_draw as workplace_draw_transfer
from councilplan.ledger.hours import PLACES

#: A member may undo her own draw within this time (a mistaken draw at the counter).
DRAW_UNDO = timedelta(hours=24)
#: Rules of who records hours in a workplace council.
HOURS_RECORDED_BY = ("member", "delegate")


# ---------------------------------------------------------------------------------------------
# Amounts.


def _units(hours: Decimal) -> int:
    """Hours on the quantum as whole units of it (exact)."""
    return int(hours.scaleb(PLACES))


def _hours(units: int) -> Decimal:
    return Decimal(units).scaleb(-PLACES)


def _refusal(error: LedgerError, field: str | None = None) -> Refused:
    kind = Conflict if str(error.reason) in ("overdrawn", "already_reversed") else Invalid
    return kind(
        str(error.reason), error.message, field or (error.where.field if error.where else None)
    )


# ---------------------------------------------------------------------------------------------
# Posting transfers: the one place balances change.


def post(
    tx: Records,
    transfers: Sequence[Transfer],
    *,
    made_by: int | None,
    period_id: int | None,
    now: datetime,
) -> list[dict]:
    """Keep ``transfers`` (checked by ``ledger``) and the balances they change, all or none; the
    kept rows, each with its accounts' public keys (``debit``, ``credit``). Accounts are opened
    on first use and locked in :func:`_lock_order`; an account that may not go
    below zero refuses the batch (``overdrawn``, naming it), and a transfer is reversed at
    most once."""
    touched = sorted({t.debit for t in transfers} | {t.credit for t in transfers}, key=_lock_order)
    rows = {account: _account_row(tx, account, now, lock="update") for account in touched}
    balances = {account: rows[account]["balance"] for account in touched}
    reversed_here: set[str] = set()
    for t in transfers:
        amount = _units(t.amount)
        if t.reverses is not None:
            if t.reverses in reversed_here or tx.reversal_of(t.reverses) is not None:
                raise Conflict(
                    "already_reversed",
                    f"transfer {t.reverses} has been reversed already; a transfer is reversed once",
                    "tid",
                )
            reversed_here.add(t.reverses)
        balances[t.debit] -= amount
        balances[t.credit] += amount
        if balances[t.debit] < 0 and not t.debit.may_go_negative:
            raise Conflict(
                "overdrawn",
                f"{_public_key(rows[t.debit])} holds {show(_hours(balances[t.debit] + amount))} h, "
                f"less than the {show(t.amount)} h of {t.kind.value} {t.id}; an account of "
                f"a {t.debit.kind.value} is never overdrawn",
                "amount",
            )
    for account in touched:
        if balances[account] != rows[account]["balance"]:
            tx.set_ledger_balance(rows[account]["id"], balances[account])
    shown = {rows[a]["id"]: _public_key(rows[a]) for a in touched}
    kept = []
    for t in transfers:
        fields = {
            "tid": t.id,
            "debit_id": rows[t.debit]["id"],
            "credit_id": rows[t.credit]["id"],
            "amount": _units(t.amount),
            "kind": t.kind.value,
            "reverses": t.reverses,
            "reason": t.reason,
            "ref": dict(t.ref),
            "made_by": made_by,
            "made_at": now,
            "period_id": period_id,
        }
        tx.add_transfer(fields)
        kept.append(
            {
                **fields,
                "debit": shown[fields["debit_id"]],
                "credit": shown[fields["credit_id"]],
                "debit_person": _person(t.debit),
                "credit_person": _person(t.credit),
            }
        )
    return kept


#: A federation's accounts, which every act of its members touches (the levy goes to its common
#: fund, draws to its goods): locked after the member's and workplace's, so that each is held
#: for the least time, from the last lock to COMMIT.
FEDERATION_KINDS = frozenset({AccountKind.COMMON_FUND, AccountKind.GOODS, AccountKind.ISSUE})


def _lock_order(account: Account) -> tuple[bool, str]:
    """The one order every act locks accounts in (so no two acts wait on each other): a
    federation's accounts last, each group by key."""
    return account.kind in FEDERATION_KINDS, str(account)


def _account_row(tx: Records, account: Account, now: datetime, *, lock: str | None) -> dict:
    key = str(account)
    row = tx.ledger_account(key, lock=lock)
    if row is None:
        tx.open_ledger_account(
            {
                "key": key,
                "kind": account.kind.value,
                "owner": account.owner,
                "period": account.period,
                "balance": 0,
                "opened_at": now,
            }
        )
        row = tx.ledger_account(key, lock=lock)
    return row


def _transfer_of(tx: Records, row: Mapping[str, Any]) -> Transfer:
    """A kept transfer as the ledger's :class:`Transfer`."""
    debit = _account_of(tx.ledger_account_by_id(row["debit_id"]))
    credit = _account_of(tx.ledger_account_by_id(row["credit_id"]))
    return Transfer(
        row["tid"],
        debit,
        credit,
        _hours(row["amount"]),
        TransferKind(row["kind"]),
        reverses=row["reverses"],
        reason=row["reason"],
        ref=row["ref"],
    )


def _person(account: Account) -> int | None:
    """The member whose account it is, or None for a workplace's or federation's."""
    return int(account.owner) if account.kind is AccountKind.MEMBER else None


def _account_of(row: Mapping[str, Any]) -> Account:
    return Account(AccountKind(row["kind"]), row["owner"], row["period"])


def _act_id(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------------
# What an adopted plan issues, and its levy.


def issue_plan(tx: Records, period: Mapping[str, Any], published: Mapping, now: datetime) -> None:
    """Called when a period's plan is adopted: its levy (from the plan, the period's public
    goods and common reserves) and what it issues to each workplace's labour and materials
    funds, from the federation's issue account for the period. A levy that cannot be
    computed (e.g. public goods that would take all the plan's labour) is recorded as such,
    and hours cannot be recorded against the plan until a new one is adopted."""
    federation = str(period["federation_id"])
    try:
        levy = levy_from_plan(
            published,
            public_products=period["public_goods"] or (),
            reserve_hours=period["reserve_hours"] or "0",
        )
    except LedgerError as error:
        record(
            tx,
            "ledger.levy_refused",
            {"period_id": period["id"], "reason": str(error.reason), "message": error.message},
            now,
        )
        return
    tx.add_levy(
        {
            "period_id": period["id"],
            "federation_id": period["federation_id"],
            "rate": f"{levy.rate.numerator}/{levy.rate.denominator}",
            "derivation": _derivation(levy),
            "computed_at": now,
        }
    )
    issue = Account(AccountKind.ISSUE, federation, str(period["id"]))
    issued = allotments(published, issue, id=f"plan-{period['id']}")
    post(tx, issued, made_by=None, period_id=period["id"], now=now)
    record(
        tx,
        "ledger.plan_issued",
        {
            "period_id": period["id"],
            "levy_rate": f"{levy.rate.numerator}/{levy.rate.denominator}",
            "levy_percent": levy.percent,
            "allotments": len(issued),
            "hours": show(sum((t.amount for t in issued), Decimal(0))),
        },
        now,
    )


def _derivation(levy) -> dict:
    return {
        "percent": levy.percent,
        "public_hours": str(levy.public_hours),
        "reserve_hours": str(levy.reserve_hours),
        "total_hours": str(levy.total_hours),
        "basis": levy.basis,
        "lines": list(levy.lines),
    }


def get_levy(store: Store, *, period_id: int) -> LedgerLevy:
    """The levy of a period's adopted plan, with its derivation."""
    with store.reading() as tx:
        existing(tx.period, period_id, "period", "period_id")
        row = tx.levy(period_id)
        if row is None:
            raise NotFound(
                "no_levy", f"period {period_id} has no levy: no plan of it is adopted", "period_id"
            )
        return _levy(row)


def current_levy(store: Store, *, council_id: int) -> LedgerLevy:
    """The levy in force for a council: that of the latest plan adopted by a federation it
    belongs to."""
    with store.reading() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        period, levy = _plan_in_force(tx, council)
        return _levy(levy)


def _levy(row: Mapping[str, Any]) -> LedgerLevy:
    d = row["derivation"]
    return LedgerLevy(
        period_id=row["period_id"],
        federation_id=row["federation_id"],
        rate=row["rate"],
        percent=d["percent"],
        public_hours=d["public_hours"],
        reserve_hours=d["reserve_hours"],
        total_hours=d["total_hours"],
        basis=d["basis"],
        lines=tuple(d["lines"]),
        computed_at=row["computed_at"],
    )


def _plan_in_force(tx: Records, council: Mapping[str, Any]) -> tuple[dict, dict]:
    """The latest adopted period, with a levy, of a federation ``council`` belongs to."""
    best = None
    for period in tx.periods():
        if period["status"] != "adopted":
            continue
        federation = period["federation_id"]
        belongs = federation == council["id"] or tx.affiliation(federation, council["id"])
        if belongs and (best is None or period["adopted_at"] > best["adopted_at"]):
            best = period
    levy = tx.levy(best["id"]) if best is not None else None
    if best is None or levy is None:
        raise Conflict(
            "no_plan_in_force",
            f"council {council['id']} ({council['name']}) belongs to no federation with an "
            "adopted plan and its levy; hours and draws follow an adopted plan",
            "council_id",
        )
    return best, levy


# ---------------------------------------------------------------------------------------------
# Hours worked.


def record_hours(
    store: Store,
    *,
    workplace_id: int,
    member_id: int,
    hours: Any,
    actor_id: int,
    note: str = "",
    now: datetime | None = None,
) -> LedgerAct:
    """A workplace council records hours a member worked: she is credited them less the
    levy of the plan in force, which goes to the federation's common fund; both from the
    workplace's labour fund. Who records is the council's rule ``hours_recorded_by``; nobody
    records her own hours."""
    now = now_utc(now)
    quick = _one_step_hours(store, workplace_id, member_id, hours, actor_id, note, now)
    if quick is not None:
        return quick
    (act,) = record_hours_batch(
        store,
        workplace_id=workplace_id,
        entries=[{"member_id": member_id, "hours": hours, "note": note}],
        actor_id=actor_id,
        now=now,
    )
    return act


def record_hours_batch(
    store: Store,
    *,
    workplace_id: int,
    entries: Sequence[Mapping[str, Any]],
    actor_id: int,
    now: datetime | None = None,
) -> list[LedgerAct]:
    """A week's sheet of hours (``entries``: ``member_id``, ``hours``, ``note``) recorded in
    one transaction: all of it or, at the first entry refused (named by its row), none of it.
    A process killed in the middle leaves every account as before."""
    now = now_utc(now)
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise Invalid("no_entries", "entries: give at least one row of hours", "entries")
    with store.transaction() as tx:
        workplace = _workplace(tx, workplace_id)
        period, levy = _plan_in_force(tx, workplace)
        rate = read_rate(levy["rate"], Where("levy", id=str(period["id"])))
        facts = (period["id"], period["federation_id"], rate, tx.ledger_persons(period["id"]))
        _remember(store, ("hours", workplace_id), facts)
        acts = []
        for i, entry in enumerate(entries):
            where = f"entries[{i}]" if len(entries) > 1 else None
            try:
                acts.append(_hours_entry(tx, workplace, period, rate, entry, actor_id, now))
            except Refused as refused:
                if where is None:
                    raise
                raise type(refused)(
                    refused.reason, f"{where}: {refused.message}", f"{where}.{refused.field}"
                ) from None
        return acts


def _hours_entry(
    tx: Records,
    workplace: Mapping[str, Any],
    period: Mapping[str, Any],
    rate: Fraction,
    entry: Mapping[str, Any],
    actor_id: int,
    now: datetime,
) -> LedgerAct:
    if not isinstance(entry, Mapping):
        raise Invalid("bad_entry", "an entry is an object of member_id, hours, note", "entry")
    member_id = entry.get("member_id")
    note = entry.get("note") or ""
    note = text_field(note, "note", limit=500) if note else ""
    if not isinstance(member_id, int) or isinstance(member_id, bool):
        raise Invalid("bad_member", f"member_id: {member_id!r} is not an account id", "member_id")
    _may_record(tx, workplace, actor_id, member_id)
    if not tx.current_membership(workplace["id"], member_id):
        raise Refused(
            "not_a_member",
            f"member_id: account {member_id} is not a member of council {workplace['id']} "
            f"({workplace['name']}); hours are recorded for its members",
            "member_id",
        )
    act = _act_id("hours")
    try:
        made = hours_worked(
            Account(AccountKind.LABOUR_FUND, str(workplace["id"])),
            Account(AccountKind.MEMBER, str(member_id)),
            Account(AccountKind.COMMON_FUND, str(period["federation_id"])),
            entry.get("hours"),
            rate,
            id=act,
            ref={"workplace": str(workplace["id"]), "period": str(period["id"]), "note": note},
        )
    except LedgerError as error:
        raise _refusal(error, "hours") from None
    kept = post(tx, made, made_by=actor_id, period_id=period["id"], now=now)
    hidden = _hides(tx, period["id"])
    record(tx, "ledger.hours", _event(act, kept, hidden, workplace=workplace["id"]), now)
    return _act(act, kept, hidden)


def _workplace(tx: Records, council_id: int) -> dict:
    council = existing(tx.council, council_id, "council", "workplace_id")
    if council["kind"] != "workplace":
        raise Invalid(
            "not_a_workplace",
            f"workplace_id: council {council_id} ({council['name']}) is a {council['kind']} "
            "council; hours are recorded by workplace councils",
            "workplace_id",
        )
    return council


def _may_record(tx: Records, workplace: Mapping[str, Any], actor: int, member: int) -> None:
    if actor == member:
        raise Refused(
            "own_hours",
            f"account {actor} may not record or undo her own hours; another member of "
            f"council {workplace['id']} ({workplace['name']}) does",
            "actor_id",
        )
    require_standing(tx, workplace, actor, "record hours")
    if workplace["hours_recorded_by"] == "delegate" and not tx.delegates(
        council_id=workplace["id"], account_id=actor
    ):
        raise Refused(
            "hours_by_delegate",
            f"council {workplace['id']} ({workplace['name']})'s rule is that its delegates "
            f"record hours (hours_recorded_by); account {actor} holds no current mandate",
            "actor_id",
        )


# ---------------------------------------------------------------------------------------------
# Drawing goods.


def draw_goods(
    store: Store,
    *,
    member_id: int,
    product: str,
    quantity: Any,
    now: datetime | None = None,
) -> LedgerAct:
    """A member draws ``quantity`` units of ``product`` at its labour value in the plan in
    force for her (that of a federation one of her councils belongs to), from her account to
    the federation's goods account. She cannot overdraw; public goods are free at the point
    of use and are not drawn."""
    now = now_utc(now)
    quick = _one_step_draw(store, member_id, product, quantity, now)
    if quick is not None:
        return quick
    with store.transaction() as tx:
        existing(tx.account, member_id, "account", "member_id")
        memberships = tx.memberships_of(member_id)
        if not memberships:
            raise Refused(
                "not_a_member",
                f"account {member_id} belongs to no council; goods are drawn by members",
                "member_id",
            )
        period = _member_plan(tx, [m["council_id"] for m in memberships])
        act = _act_id("draw")
        facts = _draw_facts(tx, period)
        value = _value(period, product, facts[4])
        _remember(store, ("draw", member_id), facts)
        try:
            made = draw_transfer(
                Account(AccountKind.MEMBER, str(member_id)),
                Account(AccountKind.GOODS, str(period["federation_id"])),
                product,
                quantity,
                value,
                id=act,
                ref={"period": str(period["id"]), "value": value},
            )
        except LedgerError as error:
            raise _refusal(error) from None
        kept = post(tx, [made], made_by=member_id, period_id=period["id"], now=now)
        hidden = _hides(tx, period["id"])
        record(tx, "ledger.draw", _event(act, kept, hidden), now)
        return _act(act, kept, hidden)


def workplace_draw(
    store: Store,
    *,
    workplace_id: int,
    product: str,
    quantity: Any,
    actor_id: int,
    fund: str = "materials",
    now: datetime | None = None,
) -> LedgerAct:
    """A workplace draws inputs (``fund`` "materials") or means of production ("means")
    against its plan, at the plan's labour values; a member with its standing acts for it."""
    now = now_utc(now)
    if fund not in ("materials", "means"):
        raise Invalid("bad_fund", f"fund: {fund!r} is not 'materials' or 'means'", "fund")
    with store.transaction() as tx:
        workplace = _workplace(tx, workplace_id)
        require_standing(tx, workplace, actor_id, "draw for the workplace")
        period, _ = _plan_in_force(tx, workplace)
        act = _act_id("supply")
        value = _value(period, product, _values(tx, period))
        kind = AccountKind.MATERIALS_FUND if fund == "materials" else AccountKind.MEANS_FUND
        try:
            made = workplace_draw_transfer(
                Account(kind, str(workplace_id)),
                Account(AccountKind.GOODS, str(period["federation_id"])),
                product,
                quantity,
                value,
                id=act,
                ref={"period": str(period["id"]), "value": value},
            )
        except LedgerError as error:
            raise _refusal(error) from None
        kept = post(tx, [made], made_by=actor_id, period_id=period["id"], now=now)
        record(tx, "ledger.supply", _event(act, kept, False, workplace=workplace_id), now)
        return _act(act, kept, False)  # a workplace's fund and the goods: no person


def _member_plan(tx: Records, councils: Sequence[int]) -> dict:
    best = None
    for council_id in councils:
        try:
            period, _ = _plan_in_force(tx, tx.council(council_id))
        except Conflict:
            continue
        if best is None or period["adopted_at"] > best["adopted_at"]:
            best = period
    if best is None:
        raise Conflict(
            "no_plan_in_force",
            "none of the member's councils belongs to a federation with an adopted plan",
            "member_id",
        )
    return best


def _values(tx: Records, period: Mapping[str, Any]) -> Mapping[str, float]:
    from councilplan.councils.service.planning import adopted_values  # planning imports this

    return adopted_values(tx, period)


def _value(period: Mapping[str, Any], product: Any, values: Mapping[str, float]) -> str:
    """The labour value of ``product`` in the period's adopted plan (``values``), as text;
    refused for a public good or a product the plan does not price."""
    if not isinstance(product, str):
        raise Invalid("unknown_product", f"product: {product!r} is not a product id", "product")
    if product in (period["public_goods"] or ()):
        raise Refused(
            "public_good",
            f"product: {product!r} is a public good of period {period['id']}: free at the "
            "point of use, not drawn from an account",
            "product",
        )
    if product not in values:
        raise Invalid(
            "unknown_product",
            f"product: {product!r} has no labour value in the adopted plan of period "
            f"{period['id']} (not a product of it, or not made)",
            "product",
        )
    return repr(float(values[product]))


def _draw_facts(tx: Records, period: Mapping[str, Any]) -> tuple:
    goods = frozenset(period["public_goods"] or ())
    values = _values(tx, period)
    persons = tx.ledger_persons(period["id"])
    return (
        period["id"],
        period["federation_id"],
        period["adopted_variant_id"],
        goods,
        values,
        persons,
    )


# ---------------------------------------------------------------------------------------------
# One step: a recording of hours or a draw in one database call, where the store has one.
#
# The general path above reads what it needs statement by statement (about twenty round trips
# an act) in a transaction of its own. Where the store can post an act in one step
# (``Store.post_ledger_act``: PostgreSQL's ``councilplan_ledger_post``, concurrent acts of the
# process batched in one transaction), an act whose plan in force was met before in this
# process (kept in :data:`_FACTS`: the period and its levy rate, or its labour values) is
# computed here from that and posted in one call, which checks the act's rules in the database
# against what it was computed from. Anything that call does not post (a refusal, a plan
# adopted since, an overdraft) writes nothing, and the general path runs, naming the refusal or
# acting on what is now in force. tests/test_ledger_function.py holds the two paths to the
# same results, refusals and record.

#: Whether acts try the one step first (tests set it False to compare with the general path).
ONE_STEP = True
#: Acts' facts kept per store, the most recently used first out.
FACTS_KEPT = 100_000
_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _remember(store: Store, key: tuple, facts: tuple) -> None:
    from councilplan.councils.service.planning import _Cache

    try:
        cache = _FACTS.get(store)
        if cache is None:
            cache = _FACTS.setdefault(store, _Cache(FACTS_KEPT))
    except TypeError:  # a store that cannot be weakly referred to keeps nothing
        return
    cache.put(key, facts)


def _recall(store: Store, key: tuple) -> tuple | None:
    if not ONE_STEP:
        return None
    try:
        cache = _FACTS.get(store)
    except TypeError:
        return None
    return cache.get(key) if cache is not None else None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_step_hours(
    store: Store,
    workplace_id: Any,
    member_id: Any,
    hours: Any,
    actor_id: Any,
    note: Any,
    now: datetime,
) -> LedgerAct | None:
    if not (_is_id(workplace_id) and _is_id(member_id) and _is_id(actor_id)):
        return None
    known = _recall(store, ("hours", workplace_id))
    if known is None or (note and not isinstance(note, str)):
        return None
    period_id, federation_id, rate, persons = known
    act = _act_id("hours")
    try:
        note = text_field(note, "note", limit=500) if note else ""
        made = hours_worked(
            Account(AccountKind.LABOUR_FUND, str(workplace_id)),
            Account(AccountKind.MEMBER, str(member_id)),
            Account(AccountKind.COMMON_FUND, str(federation_id)),
            hours,
            rate,
            id=act,
            ref={"workplace": str(workplace_id), "period": str(period_id), "note": note},
        )
    except (Refused, LedgerError):
        return None  # the general path names it
    check = {
        "act": "hours",
        "workplace": workplace_id,
        "member": member_id,
        "actor": actor_id,
        "period": period_id,
        "rate": f"{rate.numerator}/{rate.denominator}",
        "persons": persons,
    }
    return _one_step(
        store, act, check, made, actor_id, period_id, now, "ledger.hours", workplace_id
    )


def _one_step_draw(
    store: Store, member_id: Any, product: Any, quantity: Any, now: datetime
) -> LedgerAct | None:
    known = _recall(store, ("draw", member_id)) if _is_id(member_id) else None
    if known is None:
        return None
    period_id, federation_id, variant_id, public_goods, values, persons = known
    if not isinstance(product, str) or product in public_goods or product not in values:
        return None
    value = repr(float(values[product]))
    act = _act_id("draw")
    try:
        made = draw_transfer(
            Account(AccountKind.MEMBER, str(member_id)),
            Account(AccountKind.GOODS, str(federation_id)),
            product,
            quantity,
            value,
            id=act,
            ref={"period": str(period_id), "value": value},
        )
    except LedgerError:
        return None
    check = {
        "act": "draw",
        "member": member_id,
        "period": period_id,
        "variant": variant_id,
        "persons": persons,
    }
    return _one_step(store, act, check, (made,), member_id, period_id, now, "ledger.draw", None)


def _one_step(
    store: Store,
    act: str,
    check: Mapping[str, Any],
    made: Sequence[Transfer],
    made_by: int,
    period_id: int,
    now: datetime,
    kind: str,
    workplace: int | None,
) -> LedgerAct | None:
    accounts = sorted({t.debit for t in made} | {t.credit for t in made}, key=_lock_order)
    opened = [
        {"key": str(a), "kind": a.kind.value, "owner": a.owner, "period": a.period}
        for a in accounts
    ]
    moved = [
        {
            "tid": t.id,
            "debit": str(t.debit),
            "credit": str(t.credit),
            "amount": _units(t.amount),
            "kind": t.kind.value,
            "reason": t.reason,
            "ref": dict(t.ref),
            "made_by": made_by,
        }
        for t in made
    ]
    persons = {str(a): _person(a) for a in accounts}

    def shown(key: str, ids: Mapping[str, int]) -> str:  # as _public_key shows a row
        return f"member:#{ids[key]}" if persons[key] is not None else key

    def kept(ids: Mapping[str, int]) -> list[dict]:
        return [
            {
                "tid": m["tid"],
                "debit_id": ids[m["debit"]],
                "credit_id": ids[m["credit"]],
                "amount": m["amount"],
                "kind": m["kind"],
                "reverses": None,
                "reason": m["reason"],
                "ref": m["ref"],
                "made_by": made_by,
                "made_at": now,
                "period_id": period_id,
                "debit": shown(m["debit"], ids),
                "credit": shown(m["credit"], ids),
                "debit_person": persons[m["debit"]],
                "credit_person": persons[m["credit"]],
            }
            for m in moved
        ]

    extra = {"workplace": workplace} if workplace is not None else {}
    hidden = check["persons"] == "hidden"
    posted = store.post_ledger_act(
        {"check": check, "accounts": opened, "transfers": moved, "now": now, "kind": kind},
        lambda ids: _event(act, kept(ids), hidden, **extra),
    )
    if posted is None or posted[0] != "posted":
        return None
    return _act(act, kept(posted[1]), hidden)


# ---------------------------------------------------------------------------------------------
# Reversals.


def reverse_transfer(
    store: Store,
    *,
    tid: str,
    reason: str,
    actor_id: int,
    now: datetime | None = None,
) -> LedgerAct:
    """Undo a mistaken entry by reversing entries that cite it, with a reason: hours (with
    their levy) by whoever may record hours in the workplace, never the member credited; a
    draw by the member who drew, within :data:`DRAW_UNDO`. Allotments are not undone by a
    member. A transfer is reversed once; a reversal is not reversed."""
    now = now_utc(now)
    reason = text_field(reason, "reason", limit=500)
    if not reason.strip():
        raise Invalid("no_reason", "reason: say why the entry is undone", "reason")
    with store.transaction() as tx:
        row = tx.transfer(tid) if isinstance(tid, str) else None
        if row is None:
            raise NotFound("no_such_transfer", f"tid: there is no transfer {tid!r}", "tid")
        kind = row["kind"]
        if kind in ("hours", "levy"):
            workplace = _workplace(tx, int(row["ref"]["workplace"]))
            member = _account_of(tx.ledger_account_by_id(_hours_row(tx, row)["credit_id"]))
            _may_record(tx, workplace, actor_id, int(member.owner))
        elif kind == "draw":
            owner = _account_of(tx.ledger_account_by_id(row["debit_id"]))
            if owner.owner != str(actor_id):
                raise Refused(
                    "not_your_draw",
                    f"transfer {tid} is another member's draw; only she undoes it",
                    "actor_id",
                )
            if now - row["made_at"] > DRAW_UNDO:
                raise Conflict(
                    "too_late",
                    f"transfer {tid} was drawn more than {DRAW_UNDO} ago; a draw is undone "
                    "within a day",
                    "tid",
                )
        else:
            raise Refused(
                "not_reversible",
                f"transfer {tid} is a {kind}; members undo hours and draws, not {kind}s",
                "tid",
            )
        return _reverse(tx, row, reason, {}, actor_id, now)


def _hours_row(tx: Records, row: Mapping[str, Any]) -> dict:
    """The member's part of a recording of hours (``…:hours``), given either part."""
    act = row["tid"].rsplit(":", 1)[0]
    return dict(tx.transfer(f"{act}:hours"))


def _reverse(
    tx: Records,
    row: Mapping[str, Any],
    reason: str,
    cites: Mapping[str, Any],
    actor_id: int | None,
    now: datetime,
) -> LedgerAct:
    """Reverse the act ``row`` belongs to (hours with their levy together) in one batch."""
    if row["kind"] == "reversal":
        raise Conflict(
            "reversal_of_reversal",
            f"transfer {row['tid']} is a reversal; correct it by a new ordinary entry",
            "tid",
        )
    if row["kind"] in ("hours", "levy"):
        act = row["tid"].rsplit(":", 1)[0]
        parts = [r for r in (tx.transfer(f"{act}:hours"), tx.transfer(f"{act}:levy")) if r]
    else:
        parts = [row]
    undo = _act_id("reversal")
    try:
        made = [
            reversal(_transfer_of(tx, part), reason, dict(cites), id=f"{undo}:{i}")
            for i, part in enumerate(parts)
        ]
    except LedgerError as error:
        raise _refusal(error, "tid") from None
    kept = post(tx, made, made_by=actor_id, period_id=row["period_id"], now=now)
    hidden = _hides(tx, row["period_id"])
    reverses = [p["tid"] for p in parts]
    record(tx, "ledger.reversal", {**_event(undo, kept, hidden), "reverses": reverses}, now)
    return _act(undo, kept, hidden)


def apply_hours_decision(
    store: Store, *, dispute_id: int, actor_id: int, now: datetime | None = None
) -> LedgerAct:
    """Carry out the rates-and-conflicts commission's final decision on recorded hours (a
    dispute whose target is the ``…:hours`` transfer): the entry is reversed citing the
    dispute, and the hours decided are recorded in its place, citing it too. Whoever may
    record hours in the workplace does it (or the worker herself: the decision is not hers
    but the commission's)."""
    from councilplan.councils.service.disputes import _current_view

    now = now_utc(now)
    with store.transaction() as tx:
        dispute = existing(tx.dispute, dispute_id, "dispute", "dispute_id")
        view = _current_view(dispute)
        if view.subject != "recorded_hours" or view.state != "final":
            raise Conflict(
                "not_a_final_hours_decision",
                f"dispute {dispute_id} is a {view.subject} dispute, {view.state}; hours are "
                "corrected by a final decision on recorded hours",
                "dispute_id",
            )
        row = tx.transfer(view.target)
        if row is None or row["kind"] != "hours":
            raise Conflict(
                "not_an_hours_entry",
                f"dispute {dispute_id}'s target {view.target!r} is no recording of hours",
                "dispute_id",
            )
        if tx.reversal_of(row["tid"]) is not None:
            raise Conflict("already_reversed", f"entry {row['tid']} is undone already", "tid")
        workplace = _workplace(tx, int(row["ref"]["workplace"]))
        member = int(_account_of(tx.ledger_account_by_id(row["credit_id"])).owner)
        if actor_id != member:
            _may_record(tx, workplace, actor_id, member)
        decision = view.appeal_decision or view.decision
        decided = Fraction(decision.effect.hours)
        cites = {"dispute": str(dispute_id)}
        undone = _reverse(tx, row, f"decision of dispute {dispute_id}", cites, actor_id, now)
        if decided <= 0:
            return undone
        original = row["ref"]
        act = _act_id("hours")
        try:
            made = hours_worked(
                Account(AccountKind.LABOUR_FUND, str(workplace["id"])),
                Account(AccountKind.MEMBER, str(member)),
                Account(AccountKind.COMMON_FUND, str(tx.period(row["period_id"])["federation_id"])),
                read_hours(str(Decimal(decided.numerator) / decided.denominator), Where("dispute")),
                read_rate(original["levy_rate"], Where("dispute")),
                id=act,
                ref={**{k: original[k] for k in ("workplace", "period")}, **cites},
            )
        except LedgerError as error:
            raise _refusal(error, "dispute_id") from None
        kept = post(tx, made, made_by=actor_id, period_id=row["period_id"], now=now)
        hidden = _hides(tx, row["period_id"])
        event = _event(act, kept, hidden, workplace=workplace["id"])
        record(tx, "ledger.hours", {**event, **cites}, now)
        return LedgerAct(act, undone.transfers + _act(act, kept, hidden).transfers)


# ---------------------------------------------------------------------------------------------
# Reading: balances and transfers, persons shown as "member #n" but to themselves.


def my_ledger(store: Store, *, account_id: int, limit: int = 50) -> LedgerAccount:
    """The member's own account: balance and latest transfers, the other party named."""
    with store.reading() as tx:
        existing(tx.account, account_id, "account", "account_id")
        row = tx.ledger_account(str(Account(AccountKind.MEMBER, str(account_id))))
        if row is None:
            return LedgerAccount(
                key=f"member:{account_id}", kind="member", shown="you", balance="0", transfers=()
            )
        return _view(tx, row, account_id, limit, None)


def ledger_account(
    store: Store, *, key: str, viewer_id: int, limit: int = 50, before: int | None = None
) -> LedgerAccount:
    """An account by its key (``labour_fund:4``, ``common_fund:6``, ``member:#17`` for a
    member's by its number): its balance and transfers, newest first. Every member reads
    every account; persons are shown by their account's number only."""
    with store.reading() as tx:
        row = None
        if isinstance(key, str) and key.startswith("member:#") and key[8:].isdigit():
            row = tx.ledger_account_by_id(int(key[8:]))
            row = row if row is not None and row["kind"] == "member" else None
        elif isinstance(key, str) and not key.startswith("member:"):
            row = tx.ledger_account(key)
        if row is None:
            raise NotFound(
                "no_such_ledger_account",
                f"key: there is no account {key!r} (a member's is named member:#n)",
                "key",
            )
        own = row["kind"] == "member" and row["owner"] == str(viewer_id)
        if row["kind"] == "member" and not own and _hidden_member(tx, int(row["owner"])):
            raise Refused(
                "persons_hidden",
                f"key: {key!r} is a member's account, and her federation's rule "
                "ledger_persons hides persons: only she reads it",
                "key",
            )
        return _view(tx, row, viewer_id, limit, before)


def _view(tx: Records, row, viewer_id: int, limit: int, before: int | None) -> LedgerAccount:
    limit = max(1, min(int(limit), 500))
    rows = tx.transfers_of(row["id"], limit=limit, before=before)
    accounts: dict[int, Mapping[str, Any]] = {row["id"]: row}
    hides: dict[int | None, bool] = {None: False}

    def name(account_id: int, period_id: int | None) -> str:
        if account_id not in accounts:
            accounts[account_id] = tx.ledger_account_by_id(account_id)
        if period_id not in hides:
            hides[period_id] = _hides(tx, period_id)
        return _shown(accounts[account_id], viewer_id, hides[period_id])

    return LedgerAccount(
        key=_public_key(row),
        kind=row["kind"],
        shown=_shown(row, viewer_id),
        balance=show(_hours(row["balance"])),
        transfers=tuple(
            LedgerTransfer(
                id=r["id"],
                tid=r["tid"],
                kind=r["kind"],
                debit=name(r["debit_id"], r["period_id"]),
                credit=name(r["credit_id"], r["period_id"]),
                amount=show(_hours(r["amount"])),
                reverses=r["reverses"],
                reason=r["reason"],
                ref=_public_ref(r["ref"]),
                made_at=r["made_at"],
            )
            for r in rows
        ),
    )


def _public_key(row: Mapping[str, Any]) -> str:
    return f"member:#{row['id']}" if row["kind"] == "member" else row["key"]


def _shown(row: Mapping[str, Any], viewer_id: int, hidden: bool = False) -> str:
    """How an account is shown to ``viewer_id``: a person as "you" to herself, to others by
    her account's number, or as "a member" where the federation's rule hides persons."""
    if row["kind"] == "member":
        if row["owner"] == str(viewer_id):
            return "you"
        return "a member" if hidden else f"member #{row['id']}"
    return row["key"]


def _hides(tx: Records, period_id: int) -> bool:
    """Whether the rule ``ledger_persons`` of the period's federation hides persons in its
    transfers."""
    return tx.ledger_persons(period_id) == "hidden"


def _hidden_member(tx: Records, owner: int) -> bool:
    """Whether a member's account is hidden from other members: a federation that one of her
    councils belongs to (or that is one) hides persons."""
    councils = {m["council_id"] for m in tx.memberships_of(owner)}
    federations = {p["federation_id"] for p in tx.periods()}
    return any(
        tx.council(f)["ledger_persons"] == "hidden"
        and any(f == c or tx.affiliation(f, c) for c in councils)
        for f in federations
    )


def _public_ref(ref: Mapping[str, Any]) -> dict:
    return {k: v for k, v in ref.items() if k != "note"}


def _event(act: str, kept: Sequence[Mapping[str, Any]], hidden: bool, **extra: Any) -> dict:
    """An act's public record: its transfers by their accounts' numbers (ledger account ids)
    and amounts; a person by her account's number, or as "member" where the federation's rule
    ``ledger_persons`` hides persons (the record's state still holds the number)."""

    def side(f: Mapping[str, Any], which: str) -> int | str:
        return "member" if hidden and f[f"{which}_person"] is not None else f[f"{which}_id"]

    return {
        "act": act,
        "transfers": [
            {
                "tid": f["tid"],
                "kind": f["kind"],
                "debit": side(f, "debit"),
                "credit": side(f, "credit"),
                "amount": show(_hours(f["amount"])),
            }
            for f in kept
        ],
        **extra,
    }


def _act(act: str, kept: Sequence[Mapping[str, Any]], hidden: bool) -> LedgerAct:
    """The act as answered to whoever made it: accounts by their public keys, another person's
    as "member" where the federation's rule hides persons."""

    def side(f: Mapping[str, Any], which: str) -> str:
        person = f[f"{which}_person"]
        if hidden and person is not None and person != f["made_by"]:
            return "member"
        return f[which]

    return LedgerAct(
        act,
        tuple(
            LedgerTransfer(
                id=None,
                tid=f["tid"],
                kind=f["kind"],
                debit=side(f, "debit"),
                credit=side(f, "credit"),
                amount=show(_hours(f["amount"])),
                reverses=f["reverses"],
                reason=f["reason"],
                ref=_public_ref(f["ref"]),
                made_at=f["made_at"],
            )
            for f in kept
        ),
    )
