"""The common levy: the share of the plan's labour that goes into public goods and into the
common reserves the federation voted, computed from the adopted (published) plan and shown
with its derivation, line by line.

    rate = (public goods' hours + reserve hours) / the plan's total labour

A public good's hours are its final use times its labour value. Final use is the needs the
plan meets, all councils together (the published ``consumption``), and only when the plan
does not publish needs by council, its gross output (which also counts any use of the
product as an input elsewhere, whose labour is already in other products' values, so it
can only overstate the levy; the derivation says so). docs/ledger.md, "The levy".
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from councilplan.errors import Where
from councilplan.ledger.errors import LedgerError, Reason
from councilplan.ledger.hours import Rounding, read_hours, read_quantity, show, to_quantum

__all__ = ["Levy", "PublicGood", "levy_from_plan", "read_rate"]

#: The largest denominator of a levy rate read (a rate the plan gives has far smaller).
MAX_DENOMINATOR = 10**40


@dataclass(frozen=True)
class PublicGood:
    """One public good in the levy's derivation: ``units`` of final use (units of the
    product) times ``value`` (hours per unit) is ``hours`` (rounded to the quantum)."""

    product: str
    units: Decimal
    value: Decimal
    hours: Decimal


@dataclass(frozen=True)
class Levy:
    """The levy of an adopted plan.

    ``rate`` is exact: (``public_hours`` + ``reserve_hours``) / ``total_hours``, each of
    them hours on the quantum. ``basis`` is "consumption" (final use is the needs met, by
    council) or "output" (the plan published no needs by council). ``goods`` gives each
    public good's line; ``lines`` is the whole derivation as a member reads it.
    """

    rate: Fraction
    public_hours: Decimal
    reserve_hours: Decimal
    total_hours: Decimal
    basis: str
    goods: tuple[PublicGood, ...]
    lines: tuple[str, ...]

    @property
    def percent(self) -> str:
        """The rate as a percentage to four decimal places, as the derivation shows it."""
        return _percent(self.rate)


def levy_from_plan(
    published: Mapping, *, public_products: Collection[str], reserve_hours: object = 0
) -> Levy:
    """The levy of the published plan ``published`` (``planning.published.publish``).

    ``public_products`` are the products the federation provides free at the point of
    use; ``reserve_hours`` the hours it voted to set aside for common reserves (text, int
    or Decimal, on the quantum). Raises :class:`LedgerError`: a public product that is not
    in the plan (no output, labour value or need in it), a plan without its total labour
    or with 0, or a rate of 1 or more (public goods and reserves would take all the plan's
    labour), each naming what is wrong.
    """
    if not isinstance(published, Mapping):
        raise LedgerError(
            Reason.BAD_PLAN,
            f"the published plan is {type(published).__name__}, not a mapping",
            Where("plan"),
        )
    values = _section(published, "values")
    output = _section(published, "output")
    consumption = _section(published, "consumption")
    total = to_quantum(
        read_quantity(
            published.get("total_labour"),
            Where("plan", field="total_labour"),
            what="the plan's total labour",
        ),
        Rounding.HALF_EVEN,
    )
    if total <= 0:
        raise LedgerError(
            Reason.BAD_PLAN,
            "the plan's total labour rounds to 0 h; no levy can be taken from it",
            Where("plan", field="total_labour"),
        )
    reserve = read_hours(reserve_hours, Where("levy", field="reserve_hours"))

    met: dict[str, Fraction] = {}
    for council, rows in consumption.items():
        for row_number, row in enumerate(rows or (), start=1):
            where = Where("plan consumption", row=row_number, id=str(council), field="met")
            if not isinstance(row, Mapping) or "product" not in row:
                raise LedgerError(Reason.BAD_PLAN, f"consumption row {row!r} has no product", where)
            units = read_quantity(row.get("met"), where, what="need met", allow_zero=True)
            product = str(row["product"])
            met[product] = met.get(product, Fraction(0)) + Fraction(units)
    basis = "consumption" if consumption else "output"

    if isinstance(public_products, str) or not isinstance(public_products, Collection):
        raise LedgerError(
            Reason.BAD_PLAN,
            f"public products are {public_products!r}; give a collection of product ids",
            Where("levy", field="public_products"),
        )
    goods = []
    for product in sorted(set(public_products), key=str):
        if product not in values and product not in output and product not in met:
            raise LedgerError(
                Reason.NOT_IN_PLAN,
                f"public product {product!r} is not in the plan: it has no output, labour "
                "value or need in it; check the product id",
                Where("levy", id=str(product), field="public_products"),
            )
        where = Where("plan", id=product)
        value = read_quantity(values.get(product, 0), where, what="labour value", allow_zero=True)
        if basis == "consumption":
            units = met.get(product, Fraction(0))
        else:
            units = Fraction(
                read_quantity(output.get(product, 0), where, what="output", allow_zero=True)
            )
        hours = to_quantum(units * Fraction(value), Rounding.HALF_EVEN)
        goods.append(PublicGood(product, _decimal(units), value, hours))
    public = sum((good.hours for good in goods), start=to_quantum(0, Rounding.DOWN))

    rate = Fraction(public + reserve) / Fraction(total)
    lines = _derivation(total, basis, goods, public, reserve, rate)
    if rate >= 1:
        raise LedgerError(
            Reason.BAD_RATE,
            f"public goods ({show(public)} h) and reserves ({show(reserve)} h) would take "
            f"{_percent(rate)} of the plan's {show(total)} h; the levy must be below 100 %: "
            "provide fewer public goods or vote smaller reserves",
            Where("levy", field="rate"),
        )
    return Levy(
        rate=rate,
        public_hours=public,
        reserve_hours=reserve,
        total_hours=total,
        basis=basis,
        goods=tuple(goods),
        lines=lines,
    )


def read_rate(value: object, where: Where) -> Fraction:
    """A levy rate as an exact fraction from 0 up to (not including) 1.

    Takes a :class:`Levy` (its rate), a Fraction, an int, a Decimal, text ("0.12" or
    "3/25") or a float by its shortest text. Raises :class:`LedgerError` naming ``where``
    for anything else, a rate below 0 or of 1 or more.
    """
    if isinstance(value, Levy):
        value = value.rate
    rate = None
    if isinstance(value, bool):
        rate = None
    elif isinstance(value, Fraction | numbers.Integral) or (
        isinstance(value, Decimal) and value.is_finite()
    ):
        rate = Fraction(value)
    elif isinstance(value, float) and math.isfinite(value):
        rate = Fraction(repr(float(value)))
    elif isinstance(value, str) and len(value) <= 200:
        try:
            rate = Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            rate = None
    if rate is None:
        raise LedgerError(
            Reason.BAD_RATE,
            f"levy rate {value!r} is not a number; give it as a fraction such as 0.12 or 3/25",
            where,
        )
    if not 0 <= rate < 1 or rate.denominator > MAX_DENOMINATOR:
        raise LedgerError(
            Reason.BAD_RATE,
            f"levy rate {value!r} is not a number from 0 up to (not including) 1",
            where,
        )
    return rate


def _section(published: Mapping, name: str) -> Mapping:
    section = published.get(name) or {}
    if not isinstance(section, Mapping):
        raise LedgerError(
            Reason.BAD_PLAN,
            f"the plan's {name!r} is {type(section).__name__}, not a mapping",
            Where("plan", field=name),
        )
    return section


def _short(number: Decimal) -> str:
    """A plan's units or labour value as a member reads it: 6 significant digits (the plan's
    numbers carry the solver's last digits; the hours beside them are exact)."""
    return f"{float(number):,.6g}"


def _decimal(units: Fraction) -> Decimal:
    """A sum of decimals, as the Decimal it is exactly."""
    # The denominator of a sum of decimals divides a power of ten: scale it up to one.
    places = 0
    while (units * 10**places).denominator != 1:
        places += 1
    return Decimal(int(units * 10**places)).scaleb(-places)


def _percent(rate: Fraction) -> str:
    hundredths = rate * 100
    shown = to_quantum(hundredths, Rounding.HALF_EVEN)
    if shown == hundredths:
        return f"{show(shown)} %"
    return f"{show(shown)} % (rounded; exactly {rate.numerator}/{rate.denominator})"


def _derivation(
    total: Decimal,
    basis: str,
    goods: list[PublicGood],
    public: Decimal,
    reserve: Decimal,
    rate: Fraction,
) -> tuple[str, ...]:
    if basis == "consumption":
        how = (
            "public goods are counted at their final use (the needs the plan meets, all "
            "councils together) times their labour value"
        )
    else:
        how = (
            "the plan publishes no needs by council, so public goods are counted at their "
            "output times their labour value (output also counts any use as an input "
            "elsewhere, so this can overstate the levy)"
        )
    lines = [f"total labour of the plan: {show(total)} h", how]
    noun = "met" if basis == "consumption" else "made"
    for good in goods:
        lines.append(
            f"public goods: {good.product} {_short(good.units)} units {noun} × "
            f"{_short(good.value)} h = {show(good.hours)} h"
        )
    lines.append(f"public goods in all: {show(public)} h")
    lines.append(f"common reserves voted: {show(reserve)} h")
    lines.append(
        f"levy rate = ({show(public)} h + {show(reserve)} h) / {show(total)} h = {_percent(rate)}"
    )
    return tuple(lines)
