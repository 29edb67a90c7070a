"""The transfers each act makes, as pure functions: hours worked, a draw by a member or a
workplace, a plan's allotments, a reversal. Each takes the act's id from the caller (the
service's record gives it), so replaying the record gives the same transfers.

Rounding (docs/ledger.md, "Rounding"): the levy on hours worked and the value of a draw
are rounded down to the quantum, in favour of the member or workplace the act is about (so
drawing in pieces never costs more than drawing at once); allotments are rounded up, line
by line, so a fund is never below the plan's exact figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Context, Decimal, Inexact, InvalidOperation, Overflow
from fractions import Fraction
from typing import Any

from councilplan.errors import Where
from councilplan.ledger.book import Account, AccountKind, Transfer, TransferKind
from councilplan.ledger.errors import LedgerError, Reason
from councilplan.ledger.hours import (
    EXACT,
    MAX_DIGITS,
    MAX_QUANTITY,
    MIN_QUANTITY,
    QUANTUM,
    Rounding,
    read_hours,
    read_quantity,
    show,
    to_quantum,
)
from councilplan.ledger.levy import Levy, read_rate

__all__ = ["allotments", "draw", "hours_worked", "reversal", "workplace_draw"]


def hours_worked(
    labour_fund: Account,
    member: Account,
    common_fund: Account,
    hours: object,
    levy_rate: Levy | Fraction | Decimal | int | str,
    *,
    id: str,
    ref: Mapping[str, Any] | None = None,
) -> tuple[Transfer, ...]:
    """The transfers for ``hours`` a workplace council recorded for a member: from the
    workplace's ``labour_fund``, the hours less the levy to ``member`` (transfer
    ``{id}:hours``) and the levy to ``common_fund`` (``{id}:levy``, left out when the levy
    is 0).

    The levy is ``hours`` × ``levy_rate`` rounded down to the quantum, and the member gets
    the rest, so the two add up to the hours exactly. ``ref`` (the workplace's record of
    the work) is copied into both, with the hours, the rate, the levy and the credit.
    """
    where = Where("hours", id=id, field="hours")
    _require(labour_fund, AccountKind.LABOUR_FUND, "labour_fund", id)
    _require(member, AccountKind.MEMBER, "member", id)
    _require(common_fund, AccountKind.COMMON_FUND, "common_fund", id)
    worked = read_hours(hours, where)
    if worked <= 0:
        raise LedgerError(Reason.NOT_POSITIVE, f"hours {hours!r} is not above 0", where)
    rate = read_rate(levy_rate, Where("hours", id=id, field="levy_rate"))
    levy = to_quantum(Fraction(worked) * rate, Rounding.DOWN)
    credited = EXACT.subtract(worked, levy)  # > 0: the rate is below 1, the levy rounds down
    details = {
        **(ref or {}),
        "hours": str(worked),
        "levy_rate": f"{rate.numerator}/{rate.denominator}",
        "levy": str(levy),
        "credited": str(credited),
    }
    credit = Transfer(f"{id}:hours", labour_fund, member, credited, TransferKind.HOURS, ref=details)
    if levy == 0:
        return (credit,)
    return credit, Transfer(
        f"{id}:levy", labour_fund, common_fund, levy, TransferKind.LEVY, ref=details
    )


def draw(
    member: Account,
    goods: Account,
    product: str,
    quantity: object,
    value: object,
    *,
    id: str,
    ref: Mapping[str, Any] | None = None,
) -> Transfer:
    """A member draws ``quantity`` units of ``product`` at its labour ``value`` (hours per
    unit, from the adopted plan): ``quantity`` × ``value`` hours, rounded down to the
    quantum, from ``member`` to ``goods``. A draw worth less than 0.0001 h is refused.
    Public goods are not drawn: they are free at the point of use."""
    _require(member, AccountKind.MEMBER, "member", id)
    return _draw(member, goods, product, quantity, value, id, ref)


def workplace_draw(
    fund: Account,
    goods: Account,
    product: str,
    quantity: object,
    value: object,
    *,
    id: str,
    ref: Mapping[str, Any] | None = None,
) -> Transfer:
    """A workplace draws ``quantity`` units of ``product`` at its labour ``value`` against
    its plan: from its materials fund (inputs) or its means fund (means of production), to
    ``goods``, rounded as :func:`draw` rounds."""
    if fund.kind not in (AccountKind.MATERIALS_FUND, AccountKind.MEANS_FUND):
        raise LedgerError(
            Reason.WRONG_ACCOUNTS,
            f"{fund} is not a workplace's materials or means fund; a workplace draws against "
            "one of those",
            Where("draw", id=id, field="fund"),
        )
    return _draw(fund, goods, product, quantity, value, id, ref)


def allotments(
    published: Mapping,
    issue: Account,
    *,
    id: str,
    means: Mapping[str, object] | None = None,
    ref: Mapping[str, Any] | None = None,
) -> tuple[Transfer, ...]:
    """What a newly adopted plan issues from ``issue`` (the federation's issue account for
    the period) to each workplace of ``published`` (``planning.published.publish``), in
    the order of the workplace keys:

    - its labour fund (``{id}:{workplace}:labour_fund``): its planned hours, all kinds
      together, rounded up to the quantum;
    - its materials fund (``{id}:{workplace}:materials_fund``): each planned input's units
      times its labour value in the plan, each line rounded up, summed;
    - its means fund (``{id}:{workplace}:means_fund``): ``means[workplace]`` hours. The
      published plan does not tell means of production from materials (a workplace's
      inputs are everything its techniques use per unit), so the hours for means of
      production are the federation's decision, given here; a workplace not in ``means``
      gets none.

    The funds are the :func:`~councilplan.ledger.book.workplace_accounts` of each
    workplace key. A fund whose allotment is 0 gets no transfer. Raises
    :class:`LedgerError` for a workplace in ``means`` that is not in the plan, and for
    hours, inputs or values that are not numbers, naming them.
    """
    _require(issue, AccountKind.ISSUE, "issue", id)
    if not isinstance(published, Mapping) or not isinstance(published.get("workplaces"), Mapping):
        raise LedgerError(
            Reason.BAD_PLAN,
            "the published plan has no 'workplaces' mapping; give the plan as published",
            Where("plan", field="workplaces"),
        )
    workplaces = published["workplaces"]
    values = published.get("values") or {}
    if not isinstance(values, Mapping):
        raise LedgerError(
            Reason.BAD_PLAN, "the plan's 'values' is not a mapping", Where("plan", field="values")
        )
    means = means or {}
    for key in means:
        if key not in workplaces:
            raise LedgerError(
                Reason.NOT_IN_PLAN,
                f"workplace {key!r} is given means of production but is not a workplace of "
                "the plan; check its key",
                Where("means", id=str(key)),
            )

    out: list[Transfer] = []
    common = {**(ref or {}), "period": issue.period}
    for key in sorted(workplaces, key=str):
        workplace = workplaces[key]
        if not isinstance(workplace, Mapping):
            raise LedgerError(
                Reason.BAD_PLAN,
                f"workplace {key!r} of the plan is not a mapping",
                Where("plan workplaces", id=str(key)),
            )
        labour, materials, means_fund = (
            Account(AccountKind.LABOUR_FUND, key),
            Account(AccountKind.MATERIALS_FUND, key),
            Account(AccountKind.MEANS_FUND, key),
        )

        hours = {
            str(kind): read_quantity(
                planned,
                Where("plan workplaces", id=str(key), field=f"hours.{kind}"),
                what="planned hours",
                allow_zero=True,
            )
            for kind, planned in (workplace.get("hours") or {}).items()
        }
        planned_hours = to_quantum(sum(map(Fraction, hours.values())), Rounding.UP)
        if planned_hours > 0:
            out.append(
                Transfer(
                    f"{id}:{key}:labour_fund",
                    issue,
                    labour,
                    planned_hours,
                    TransferKind.ALLOTMENT,
                    ref={
                        **common,
                        "workplace": key,
                        "fund": AccountKind.LABOUR_FUND.value,
                        "hours": {kind: str(h) for kind, h in hours.items()},
                    },
                )
            )

        inputs = workplace.get("inputs") or {}
        materials_hours = _input_hours(key, inputs, values)
        if materials_hours > 0:
            out.append(
                Transfer(
                    f"{id}:{key}:materials_fund",
                    issue,
                    materials,
                    materials_hours,
                    TransferKind.ALLOTMENT,
                    ref={
                        **common,
                        "workplace": key,
                        "fund": AccountKind.MATERIALS_FUND.value,
                        "inputs": len(inputs),
                    },
                )
            )

        if key in means:
            given = read_hours(means[key], Where("means", id=str(key)))
            if given > 0:
                out.append(
                    Transfer(
                        f"{id}:{key}:means_fund",
                        issue,
                        means_fund,
                        given,
                        TransferKind.ALLOTMENT,
                        ref={**common, "workplace": key, "fund": AccountKind.MEANS_FUND.value},
                    )
                )
    return tuple(out)


#: Exact products of two decimals of up to 28 digits each, rounded up to the quantum.
_PRODUCTS = Context(prec=60, traps=[InvalidOperation, Overflow, Inexact])


def _input_hours(workplace: str, inputs: Mapping, values: Mapping) -> Decimal:
    """The hours of a workplace's planned inputs at the plan's labour values: each line's
    units times value, exactly, rounded up to the quantum, summed. The plan's numbers are
    JSON floats read by their shortest text, as :func:`read_quantity` reads them; in C
    decimal arithmetic (a workplace of a national plan has hundreds of thousands of lines),
    with :func:`read_quantity` naming any line that is not a number >= 0."""
    total = Decimal(0)
    for product, planned in inputs.items():
        value = values.get(product, 0)
        try:
            units = _plain_number(planned)
            per_unit = _plain_number(value)
            line = _PRODUCTS.multiply(units, per_unit).quantize(QUANTUM, rounding=ROUND_CEILING)
        except (TypeError, ValueError, ArithmeticError):
            where = Where("plan workplaces", id=str(workplace), field=f"inputs.{product}")
            read_quantity(planned, where, what="planned input", allow_zero=True)
            read_quantity(
                value, Where("plan values", id=str(product)), what="labour value", allow_zero=True
            )
            raise  # pragma: no cover - read_quantity names whatever the fast path refused
        total = EXACT.add(total, line)
    return total


def _plain_number(value: object) -> Decimal:
    """A JSON number (or its text) as the exact Decimal of its shortest text, >= 0 and
    finite; anything else raises ValueError (the caller names it)."""
    if isinstance(value, bool):
        raise ValueError(value)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if (
        not number.is_finite()
        or number < 0
        or number > MAX_QUANTITY
        or 0 < number < MIN_QUANTITY
        or len(number.as_tuple().digits) > MAX_DIGITS
    ):
        raise ValueError(value)
    return number


def reversal(
    original: Transfer,
    reason: str,
    ref: Mapping[str, Any] | None = None,
    *,
    id: str,
) -> Transfer:
    """The reversal of ``original``: the same amount moved back between the same two
    accounts, citing ``original.id`` and ``reason`` (what was mistaken; ``ref`` may name
    the dispute or decision). A reversal is not itself reversed: a mistaken reversal is
    corrected by a new ordinary entry."""
    if not isinstance(original, Transfer):
        raise LedgerError(
            Reason.BAD_TRANSFER,
            f"{original!r} is not a Transfer",
            Where("reversal", id=id, field="original"),
        )
    if original.kind is TransferKind.REVERSAL:
        raise LedgerError(
            Reason.REVERSAL_OF_REVERSAL,
            f"transfer {original.id!r} is itself a reversal and is not reversed; correct a "
            "mistaken reversal with a new ordinary entry",
            Where("reversal", id=id, field="original"),
        )
    return Transfer(
        id,
        original.credit,
        original.debit,
        original.amount,
        TransferKind.REVERSAL,
        reverses=original.id,
        reason=reason,
        ref=dict(ref or {}),
    )


def _require(account: object, kind: AccountKind, name: str, act: str) -> None:
    if not isinstance(account, Account) or account.kind is not kind:
        raise LedgerError(
            Reason.WRONG_ACCOUNTS,
            f"{name} is {account}, not a {kind.value} account",
            Where("act", id=act, field=name),
        )


def _draw(
    debit: Account,
    goods: Account,
    product: str,
    quantity: object,
    value: object,
    id: str,
    ref: Mapping[str, Any] | None,
) -> Transfer:
    _require(goods, AccountKind.GOODS, "goods", id)
    if not isinstance(product, str) or not product:
        raise LedgerError(
            Reason.BAD_TRANSFER,
            f"product {product!r} is not a product id",
            Where("draw", id=id, field="product"),
        )
    units = read_quantity(quantity, Where("draw", id=id, field="quantity"))
    per_unit = read_quantity(value, Where("draw", id=id, field="value"), what="labour value")
    exact = Fraction(units) * Fraction(per_unit)
    amount = to_quantum(exact, Rounding.DOWN)
    if amount <= 0:
        raise LedgerError(
            Reason.TOO_SMALL,
            f"{show(units)} units of {product!r} at {show(per_unit)} h are worth less than "
            f"{QUANTUM} h, the least the ledger moves; draw more at once",
            Where("draw", id=id, field="quantity"),
        )
    details = {
        **(ref or {}),
        "product": product,
        "quantity": str(units),
        "value": str(per_unit),
    }
    return Transfer(id, debit, goods, amount, TransferKind.DRAW, ref=details)
