"""What the councils state: their needs (final demand) and the limits the plan must keep.

Needs are an amount per product, optionally per council and with a priority (a positive
weight: when not every need can be met, a need of priority 2 counts twice as much as one
of priority 1). Amounts are in the product's own unit; a negative amount is a net import
(real input-output tables carry one in their total final uses) and lowers what must be
made at home.

Limits are the labour available of each kind (hours), the natural resources available
(the resource's unit) and the most activity each technique can run. Defaults come from the
economy itself; a :class:`Limits` overrides any of them by id.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from councilplan.economy.errors import EconomyError, Where
from councilplan.economy.model import Economy


class PlanInputError(EconomyError):
    """Needs or limits that cannot be planned for; ``where`` names file, row, id, field."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Needs:
    """The stated needs, one row per (product, council, priority), and their sum per product.

    Attributes:
        product: (m,) index of the product of each row.
        amount: (m,) units of that product.
        council: (m,) council id of each row ("" where none was given).
        priority: (m,) positive weight of each row (1 by default).
        total: (n,) units needed of each product, all councils together.
    """

    product: np.ndarray
    amount: np.ndarray
    council: np.ndarray
    priority: np.ndarray
    total: np.ndarray

    @property
    def by_council(self) -> bool:
        return bool(np.any(self.council != ""))


def as_needs(economy: Economy, needs, *, source: str | None = None) -> Needs:
    """Read needs from a DataFrame (product, amount[, council][, priority]), a Series or
    mapping product -> amount, or an array of n amounts in product order.

    Raises :class:`PlanInputError` naming the row, product id and field of the first
    problem: an unknown product, an amount that is not a finite number, a priority that
    is not a positive number.
    """
    if isinstance(needs, Needs):
        return needs
    n = economy.n_products
    if isinstance(needs, np.ndarray) and needs.dtype.kind in "fiu":
        amounts = np.asarray(needs, dtype=np.float64).reshape(-1)
        if amounts.shape != (n,):
            raise PlanInputError(
                f"needs: an array of amounts must have one entry per product ({n}), "
                f"got {amounts.shape[0]}",
                Where(source, field="amount"),
            )
        bad = np.flatnonzero(~np.isfinite(amounts))
        if bad.size:
            row = int(bad[0])
            raise PlanInputError(
                f"amount {amounts[row]!r} is not a finite number",
                Where(source, row=row + 1, id=economy.product_ids[row], field="amount"),
            )
        every = np.arange(n)
        return Needs(
            product=_frozen(every),
            amount=_frozen(amounts),
            council=_frozen(np.full(n, "", dtype=object)),
            priority=_frozen(np.ones(n)),
            total=_frozen(amounts),
        )
    if isinstance(needs, pd.DataFrame):
        frame = needs.copy()
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        if "product" not in frame.columns and frame.index.name == "product":
            frame = frame.reset_index()
    elif isinstance(needs, pd.Series):
        frame = pd.DataFrame({"product": needs.index.astype(str), "amount": needs.to_numpy()})
    elif isinstance(needs, Mapping):
        frame = pd.DataFrame({"product": list(needs.keys()), "amount": list(needs.values())})
    else:
        raise PlanInputError(
            f"needs must be a DataFrame, Series, mapping or array, not {type(needs).__name__}",
            Where(source),
        )
    for column in ("product", "amount"):
        if column not in frame.columns:
            raise PlanInputError(
                f"needs have no {column!r} column (columns: {list(frame.columns)}); "
                "give product,amount[,council][,priority]",
                Where(source, field=column),
            )
    unknown = sorted(set(frame.columns) - {"product", "amount", "council", "priority"})
    if unknown:
        raise PlanInputError(
            f"needs have unknown columns {unknown}; expected product,amount[,council][,priority]",
            Where(source, field=unknown[0]),
        )

    products = frame["product"].astype(str).str.strip().to_numpy(dtype=object)
    index = pd.Index(economy.product_ids).get_indexer(products)
    bad = np.flatnonzero(index < 0)
    if bad.size:
        row = int(bad[0])
        raise PlanInputError(
            f"unknown product {products[row]!r} in the needs; use a product id of "
            f"economy {economy.name!r}",
            Where(source, row=row + 1, id=products[row], field="product"),
        )
    amount = _numbers(frame["amount"], products, "amount", source)
    if "priority" in frame.columns:
        priority = _numbers(frame["priority"].fillna(1.0), products, "priority", source)
        bad = np.flatnonzero(priority <= 0)
        if bad.size:
            row = int(bad[0])
            raise PlanInputError(
                f"priority {priority[row]!r} is not positive; a priority is a weight > 0 "
                "(higher: met first)",
                Where(source, row=row + 1, id=products[row], field="priority"),
            )
    else:
        priority = np.ones(len(frame))
    if "council" in frame.columns:
        council = frame["council"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    else:
        council = np.full(len(frame), "", dtype=object)

    total = np.bincount(index, weights=amount, minlength=n)
    if "council" not in frame.columns and "priority" not in frame.columns:
        # One need per product: no grouping (it costs seconds at 10^6 products).
        product = np.flatnonzero(np.bincount(index, minlength=n) > 0)
        return Needs(
            product=_frozen(product),
            amount=_frozen(total[product]),
            council=_frozen(np.full(len(product), "", dtype=object)),
            priority=_frozen(np.ones(len(product))),
            total=_frozen(total),
        )
    # Rows of the same product, council and priority are one need.
    rows = pd.DataFrame({"p": index, "c": council, "w": priority, "a": amount})
    rows = rows.groupby(["p", "c", "w"], sort=True, as_index=False)["a"].sum()
    return Needs(
        product=_frozen(rows["p"].to_numpy(dtype=np.int64)),
        amount=_frozen(rows["a"].to_numpy(dtype=np.float64)),
        council=_frozen(rows["c"].to_numpy(dtype=object)),
        priority=_frozen(rows["w"].to_numpy(dtype=np.float64)),
        total=_frozen(total),
    )


def _numbers(column: pd.Series, ids: np.ndarray, what: str, source) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise PlanInputError(
            f"{what} {column.iloc[row]!r} is not a finite number",
            Where(source, row=row + 1, id=ids[row], field=what),
        )
    return values


def read_needs(path: str | Path, economy: Economy) -> Needs:
    """Read a needs CSV: ``product,amount[,council][,priority]``, one need per row."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PlanInputError(f"cannot read needs: {exc}", Where(str(path))) from None
    frame = frame.replace({"": None})
    return as_needs(economy, frame, source=str(path))


@dataclass(frozen=True)
class Limits:
    """Overrides of the economy's own limits, by id; ``math.inf`` lifts a limit.

    Attributes:
        labour: labour kind id -> hours available.
        resources: resource id -> units available.
        capacity: technique id -> the most activity it can run.
    """

    labour: Mapping[str, float] = field(default_factory=dict)
    resources: Mapping[str, float] = field(default_factory=dict)
    capacity: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("labour", "resources", "capacity"):
            value = getattr(self, name)
            object.__setattr__(self, name, MappingProxyType(dict(value or {})))


@dataclass(frozen=True, eq=False)
class ResolvedLimits:
    """The limits in force, one array per kind: labour (k,), resources (r,), capacity (t,)."""

    labour: np.ndarray
    resources: np.ndarray
    capacity: np.ndarray


_SECTIONS = {"labour": "labour kind", "resources": "resource", "capacity": "technique"}


def resolve_limits(economy: Economy, limits=None, *, source: str | None = None) -> ResolvedLimits:
    """The economy's limits with ``limits`` (a :class:`Limits` or a mapping of sections)
    applied; raises :class:`PlanInputError` naming the section, id and value at fault."""
    if limits is None:
        limits = Limits()
    elif isinstance(limits, Mapping):
        unknown = sorted(set(limits) - set(_SECTIONS))
        if unknown:
            raise PlanInputError(
                f"unknown limits section {unknown[0]!r}; use [labour], [resources], [capacity]",
                Where(source, field=unknown[0]),
            )
        limits = Limits(**{k: v for k, v in limits.items()})
    ids = {
        "labour": economy.labour_ids,
        "resources": economy.resource_ids,
        "capacity": economy.technique_ids,
    }
    defaults = {
        "labour": economy.labour_limits,
        "resources": economy.resource_limits,
        "capacity": economy.capacity,
    }
    out = {}
    for section, what in _SECTIONS.items():
        values = np.array(defaults[section], dtype=np.float64)
        overrides = getattr(limits, section)
        if overrides:
            position = pd.Index(ids[section]).get_indexer(list(map(str, overrides)))
            for row, ((key, value), at) in enumerate(zip(overrides.items(), position, strict=True)):
                where = Where(source, row=row + 1, id=str(key), field=section)
                if at < 0:
                    known = ", ".join(map(repr, ids[section][:8]))
                    raise PlanInputError(
                        f"unknown {what} {key!r} in [{section}]; known: {known}"
                        + (" ..." if len(ids[section]) > 8 else ""),
                        where,
                    )
                number = _limit_value(value, where, what)
                values[at] = number
        out[section] = _frozen(values)
    return ResolvedLimits(
        labour=out["labour"], resources=out["resources"], capacity=out["capacity"]
    )


def _limit_value(value, where: Where, what: str) -> float:
    if isinstance(value, str) and value.strip().lower() in {"inf", "none", "unlimited"}:
        return math.inf
    if isinstance(value, bool):
        number = math.nan
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
    if math.isnan(number) or number < 0:
        raise PlanInputError(
            f"limit {value!r} of {what} {where.id!r} is not a number >= 0 "
            '(write inf or "none" for no limit)',
            where,
        )
    return number


def read_limits(path: str | Path) -> Limits:
    """Read a limits TOML file: ``[labour] kind = hours``, ``[resources] id = amount``,
    ``[capacity] technique = level``. Ids are checked against the economy by
    :func:`resolve_limits`."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PlanInputError(f"cannot read limits: {exc}", Where(str(path))) from None
    for section, table in data.items():
        if section not in _SECTIONS:
            raise PlanInputError(
                f"unknown section [{section}]; use [labour], [resources], [capacity]",
                Where(str(path), field=section),
            )
        if not isinstance(table, dict):
            raise PlanInputError(
                f"[{section}] must be a table of id = amount",
                Where(str(path), field=section),
            )
    return Limits(**data)
