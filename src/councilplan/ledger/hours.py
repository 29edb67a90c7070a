"""Hours as exact decimals on a fixed quantum of 0.0001 h (0.36 seconds).

Every amount the ledger keeps is a ``Decimal`` with exactly four decimal places. Sums and
differences of such amounts are exact under :data:`EXACT` (100 digits, Inexact trapped),
so a balance is never off by a rounding. Rounding happens in one place only,
:func:`to_quantum`, with the rule named by the caller (docs/ledger.md, "Rounding").

Why 0.0001 h: a labour value times a quantity rounds to within 0.36 s, far below what any
work record measures, while an amount of 10^12 h (the largest the ledger takes, several
years of a whole nation's labour) still has only 17 digits.
"""

from __future__ import annotations

import math
import numbers
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from fractions import Fraction

from councilplan.errors import Where
from councilplan.ledger.errors import LedgerError, Reason

__all__ = [
    "EXACT",
    "MAX_HOURS",
    "MAX_QUANTITY",
    "PLACES",
    "QUANTUM",
    "ZERO",
    "Rounding",
    "read_hours",
    "read_quantity",
    "show",
    "to_quantum",
]

#: Decimal places of every amount of hours.
PLACES = 4
#: The smallest amount the ledger keeps: 0.0001 h.
QUANTUM = Decimal(1).scaleb(-PLACES)
#: Zero hours, with four decimal places.
ZERO = Decimal(0).scaleb(-PLACES)
#: The largest amount of hours one entry may carry (and the largest planned hours).
MAX_HOURS = Decimal(10) ** 12
#: The largest quantity (units of a product) or labour value (hours per unit) read.
MAX_QUANTITY = Decimal(10) ** 12
#: Significant digits of a quantity or labour value (a published plan has 12).
MAX_DIGITS = 28
#: The smallest non-zero quantity or labour value read (a smaller one is a mistake).
MIN_QUANTITY = Decimal(10) ** -30

#: Arithmetic that is exact or fails: 100 digits, and Inexact trapped, so a sum that
#: would have to round raises instead (it cannot, for amounts under 10^90 hours).
EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])

_SCALE = 10**PLACES


class Rounding(StrEnum):
    """How :func:`to_quantum` rounds: ``DOWN`` towards minus infinity, ``UP`` towards plus
    infinity, ``HALF_EVEN`` to the nearest quantum, ties to the even one."""

    DOWN = "down"
    UP = "up"
    HALF_EVEN = "half_even"


def to_quantum(value: Decimal | Fraction | int, rounding: Rounding) -> Decimal:
    """``value`` hours rounded to the quantum by ``rounding``, with four decimal places."""
    scaled = Fraction(value) * _SCALE
    if rounding is Rounding.DOWN:
        units = math.floor(scaled)
    elif rounding is Rounding.UP:
        units = math.ceil(scaled)
    elif rounding is Rounding.HALF_EVEN:
        units = round(scaled)  # Fraction.__round__ rounds ties to even
    else:
        raise ValueError(f"unknown rounding {rounding!r}; use a Rounding")
    return Decimal(units).scaleb(-PLACES, EXACT)


def read_hours(value: object, where: Where, *, allow_negative: bool = False) -> Decimal:
    """``value`` as hours on the quantum (a ``Decimal`` with four decimal places).

    Takes text ("7.5"), an int, a ``Decimal``, or a float by its shortest text (0.1 is
    "0.1", not the binary fraction near it). Raises :class:`LedgerError` naming ``where``
    for anything that is not a finite number, a negative amount unless ``allow_negative``,
    more than four decimal places, or more than :data:`MAX_HOURS` either way.
    """
    number = _number(value, where, "hours")
    if number < 0 and not allow_negative:
        raise LedgerError(
            Reason.NEGATIVE, f"{_given(value)} hours is negative; give hours of 0 or more", where
        )
    if abs(number) > MAX_HOURS:
        raise LedgerError(
            Reason.TOO_LARGE,
            f"{_given(value)} hours is more than {show(MAX_HOURS)} h, the most one amount may be; "
            "check the figure",
            where,
        )
    _, digits, exponent = number.as_tuple()
    extra = -int(exponent) - PLACES  # decimal places beyond the quantum
    if extra > 0 and any(digits[-extra:]):
        raise LedgerError(
            Reason.TOO_PRECISE,
            f"{_given(value)} hours has more than {PLACES} decimal places; the ledger keeps hours "
            f"to {QUANTUM} h (0.36 seconds): round the figure",
            where,
        )
    if not number:
        return ZERO  # and not -0.0000
    return number.quantize(QUANTUM, context=EXACT)


def read_quantity(
    value: object, where: Where, *, what: str = "quantity", allow_zero: bool = False
) -> Decimal:
    """``value`` as an exact ``Decimal``: units of a product, or a labour value in hours per
    unit (``what`` names it in the message).

    Takes what :func:`read_hours` takes. Raises :class:`LedgerError` naming ``where`` for
    anything that is not a finite number > 0 (>= 0 with ``allow_zero``), more than
    :data:`MAX_QUANTITY`, below :data:`MIN_QUANTITY` but not 0, or more than
    :data:`MAX_DIGITS` significant digits.
    """
    number = _number(value, where, what)
    if number < 0 or (number == 0 and not allow_zero):
        wanted = ">= 0" if allow_zero else "> 0"
        raise LedgerError(
            Reason.NOT_POSITIVE, f"{what} {_given(value)} is not a number {wanted}", where
        )
    if number > MAX_QUANTITY or (0 < number < MIN_QUANTITY):
        raise LedgerError(
            Reason.TOO_LARGE,
            f"{what} {_given(value)} is out of range: it must lie between {MIN_QUANTITY} and "
            f"{show(MAX_QUANTITY)}; check the figure",
            where,
        )
    sign, digits, exponent = number.as_tuple()
    trailing = len(digits) - len(bytes(digits).rstrip(b"\0"))
    if number and len(digits) - trailing > MAX_DIGITS:
        raise LedgerError(
            Reason.TOO_PRECISE,
            f"{what} {_given(value)} has more than {MAX_DIGITS} significant digits; round it",
            where,
        )
    fractional = min(trailing, max(0, -int(exponent)))  # zeros after the decimal point
    if number and fractional:  # 2.50 is kept as 2.5, so products stay short
        number = Decimal((sign, digits[: len(digits) - fractional], int(exponent) + fractional))
    return number


def show(hours: Decimal) -> str:
    """``hours`` as a member reads it: thousands separated, no trailing zeros (9,600.5)."""
    return format(hours.normalize(EXACT), ",f")


def _number(value: object, where: Where, what: str) -> Decimal:
    """``value`` as a finite ``Decimal``, exactly as given."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    elif isinstance(value, float):
        number = Decimal(repr(float(value)))  # the shortest text that reads back as it
    elif isinstance(value, str):
        if len(value) > 1000:
            raise LedgerError(
                Reason.NOT_A_NUMBER, f"{what} is {len(value)} characters long; no number is", where
            )
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    else:
        number = None
    if number is None:
        raise LedgerError(
            Reason.NOT_A_NUMBER,
            f"{what} {_given(value)} is not a number; write it as a decimal number such as 7.5",
            where,
        )
    if not number.is_finite():
        raise LedgerError(
            Reason.NOT_FINITE, f"{what} {_given(value)} is not a finite number", where
        )
    return number


def _given(value: object) -> str:
    """``value`` as a message quotes it: a Decimal as its text, anything else by repr."""
    return str(value) if isinstance(value, Decimal) else repr(value)
