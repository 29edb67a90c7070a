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

import csv
import io
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy
from councilplan.errors import Where


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
                f"amount {float(amounts[row])!r} is not a finite number",
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

    if len(frame) == 0:
        raise PlanInputError("the needs have no rows; state at least one need", Where(source))
    product_cells = frame["product"]
    empty = product_cells.isna().to_numpy() | (product_cells.astype(str) == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise PlanInputError(
            "product is empty; every row needs one", Where(source, row=row + 1, field="product")
        )
    # Product ids are matched exactly, whitespace and all, as everywhere else (see
    # economy/bundle.py, _listed_ids): " bread" is refused, saying why, not stripped.
    products = product_cells.astype(str).to_numpy(dtype=object)
    index = pd.Index(economy.product_ids).get_indexer(products)
    bad = np.flatnonzero(index < 0)
    if bad.size:
        row = int(bad[0])
        value = products[row]
        where = Where(source, row=row + 1, id=value, field="product")
        stripped = value.strip()
        if stripped != value and pd.Index(economy.product_ids).get_indexer([stripped])[0] >= 0:
            raise PlanInputError(
                f"product {value!r} has whitespace around it; ids are compared exactly, so "
                f"write {stripped!r}",
                where,
            )
        hint = " (it also has whitespace around it)" if stripped != value else ""
        raise PlanInputError(
            f"unknown product {value!r}{hint} in the needs; use a product id of "
            f"economy {economy.name!r}",
            where,
        )
    amount = _numbers(frame["amount"], products, "amount", source)
    if "priority" in frame.columns:
        cells = frame["priority"].astype(object)
        priority = _numbers(cells.where(cells.notna(), 1.0), products, "priority", source)
        bad = np.flatnonzero(priority <= 0)
        if bad.size:
            row = int(bad[0])
            raise PlanInputError(
                f"priority {float(priority[row])!r} is not positive; a priority is a weight > 0 "
                "(higher: met first)",
                Where(source, row=row + 1, id=products[row], field="priority"),
            )
    else:
        priority = np.ones(len(frame))
    if "council" in frame.columns:
        # A council's name is a label of the needs alone, looked up nowhere else: spaces
        # around it are dropped, so "north" and " north" are one council.
        council = frame["council"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    else:
        council = np.full(len(frame), "", dtype=object)
    _check_stated_once(frame, index, council, priority, products, source)

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
    # One need per row (repeats were refused above), in product, council, priority order.
    rows = pd.DataFrame({"p": index, "c": council, "w": priority, "a": amount})
    rows = rows.sort_values(["p", "c", "w"], kind="stable")
    return Needs(
        product=_frozen(rows["p"].to_numpy(dtype=np.int64)),
        amount=_frozen(rows["a"].to_numpy(dtype=np.float64)),
        council=_frozen(rows["c"].to_numpy(dtype=object)),
        priority=_frozen(rows["w"].to_numpy(dtype=np.float64)),
        total=_frozen(total),
    )


def _check_stated_once(frame, index, council, priority, products, source) -> None:
    """A need (product, council, priority) stated in two rows is an error naming both:
    it is more likely a slip (a pasted row, a council's list merged twice) than meant,
    and summing it would change the plan without a word. One product at two priorities
    is two needs (a council's essential amount and what it would like beyond it)."""
    if "council" not in frame.columns and "priority" not in frame.columns:
        if np.bincount(index).max() < 2:
            return
        again = pd.Index(index).duplicated()
    else:
        again = pd.DataFrame({"p": index, "c": council, "w": priority}).duplicated().to_numpy()
        if not again.any():
            return
    later = int(np.flatnonzero(again)[0])
    same = (index == index[later]) & (council == council[later]) & (priority == priority[later])
    first = int(np.flatnonzero(same)[0])
    what = f"product {products[later]!r} is stated again"
    if council[later]:
        what += f" for council {council[later]!r}"
    if "priority" in frame.columns:
        what += f" at priority {float(priority[later])!r}"
    raise PlanInputError(
        f"{what} (first in row {first + 1}); state each need in one row, its amounts added up",
        Where(source, row=later + 1, id=products[later], field="product"),
    )


def _numbers(column: pd.Series, ids: np.ndarray, what: str, source) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        cell = column.iloc[row]
        if isinstance(cell, np.generic):
            cell = cell.item()  # a plain number in the message, not NumPy's repr
        where = Where(source, row=row + 1, id=ids[row], field=what)
        if pd.isna(cell) and not pd.api.types.is_numeric_dtype(column.dtype):
            raise PlanInputError(f"{what} is empty; give a number", where)
        raise PlanInputError(f"{what} {cell!r} is not a finite number", where)
    return values


def read_needs(path: str | Path, economy: Economy) -> Needs:
    """Read a needs CSV: ``product,amount[,council][,priority]``, one need per row.

    Besides what :func:`as_needs` checks, the file itself must be whole: it has at least
    one row below its header, every row has as many values as the header has columns, and
    it ends with a line break. A file cut off in its last row (a download or copy that
    stopped) shows as one of these, or as an empty or malformed number, except where the
    cut falls after a digit or a decimal point ("bread,1." for "bread,150"): then only
    the missing final line break tells, so it is refused too. Rows are counted as in the
    bundle's tables: from 1 after the header, blank lines not counted.
    """
    path = Path(path)
    source = str(path)
    try:
        with pa.input_stream(source, compression="detect") as stream:
            data = stream.read()
        text = data.decode("utf-8-sig")
    except (OSError, pa.ArrowException) as exc:
        raise PlanInputError(f"cannot read needs: {exc}", Where(source)) from None
    except UnicodeDecodeError:
        raise PlanInputError(
            "cannot read needs: the file is not UTF-8 text; save it as UTF-8 CSV", Where(source)
        ) from None
    lines = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in lines if row), None)
    if header is None:
        raise PlanInputError(
            "the file is empty; it needs a header row: product,amount[,council][,priority]",
            Where(source),
        )
    names = [name.strip().lower() for name in header]  # as as_needs reads column names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PlanInputError(
            f"repeated column(s) {', '.join(map(repr, repeated))} in the header",
            Where(source, field="header"),
        )
    # Every column as text (a product id "01" stays "01"), null for an empty cell; Arrow
    # parses 10^6 rows in a fraction of the time Python's csv module takes.
    convert = pcsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
    )
    whole = data.endswith((b"\n", b"\r"))  # else refused below, once the rows are checked
    try:
        table = pcsv.read_csv(
            pa.BufferReader(data if whole else data + b"\n"), convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        if "CSV parse error: Expected" in str(exc):
            _locate_bad_row(text, header, source)
        raise PlanInputError(f"cannot read needs: {exc}", Where(source)) from None
    if table.num_rows == 0:
        raise PlanInputError(
            "the needs file has no rows, only a header; state at least one need", Where(source)
        )
    frame = pd.DataFrame(
        {name: _cells(table.column(i)) for i, name in enumerate(names)}, copy=False
    )
    needs = as_needs(economy, frame, source=source)
    if not whole:
        last = text.splitlines()[-1]
        raise PlanInputError(
            f"the last row does not end with a line break: the file may have been cut off "
            f"mid-row (the row reads {last!r}); if the row is whole, end the file with a line "
            "break",
            Where(source, row=table.num_rows),
        )
    return needs


def _cells(column: pa.ChunkedArray) -> np.ndarray:
    """A text column as an object array, None where a cell is empty or blank."""
    column = column.combine_chunks()
    blank = pc.equal(pc.utf8_trim_whitespace(column), "")
    column = pc.if_else(blank, pa.scalar(None, pa.string()), column)
    return column.to_numpy(zero_copy_only=False)


def _locate_bad_row(text: str, header: list[str], source: str) -> None:
    """Raise an error naming the first row whose number of values is not the header's
    (Arrow's message gives only what the row holds)."""
    rows = (row for row in csv.reader(io.StringIO(text, newline="")) if row)
    next(rows)  # the header
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise PlanInputError(
                f"the row has {len(row)} value{'s' * (len(row) != 1)}, but the header names "
                f"{len(header)} column{'s' * (len(header) != 1)} ({', '.join(header)})",
                Where(source, row=number),
            )


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
                        f"unknown {what} {str(key)!r} in [{section}]; known: {known}"
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
        if isinstance(value, np.generic):
            value = value.item()  # a plain number in the message, not NumPy's repr
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
