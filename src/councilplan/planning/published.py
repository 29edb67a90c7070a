"""The plan as it is published and stored: plain JSON that every member can read, each
workplace's targets, each consumer council's needs against what it gets, and a digest
that anyone who re-runs the plan from the record can compare with.

Numbers are rounded to 12 significant digits, and values below 10^-12 of the largest in
their list are taken as the solver's rounding and published as 0, so that last-bit
differences between two runs of the same plan do not change the digest (a value that
falls on a rounding boundary still can, rarely). docs/planning.md, "Published plans and
their digest", describes the shape.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy
from councilplan.errors import Where
from councilplan.planning.needs import PlanInputError
from councilplan.planning.plan import Plan

#: Significant digits of every published number.
DIGITS = 12
#: A value below this share of the largest in its list is published as 0.
NOISE = 1e-12

# Exact powers of ten, 10^0 .. 10^22 (every one is a double exactly).
_POW10 = np.array([float(10**k) for k in range(23)])


# -- work norms ------------------------------------------------------------------------


def with_norms(economy: Economy, norms: Mapping[str, float]) -> Economy:
    """``economy`` with the labour of some techniques set by work norms.

    ``norms`` maps a technique id to hours of labour per unit of its product (all labour
    kinds together). Each such technique's labour coefficients, every kind alike, are
    scaled so that its labour per unit of output is the norm; everything else, arrays
    included, is the economy's own.

    Raises :class:`EconomyError` naming the technique: an unknown id, a norm that is not a
    finite number > 0, or a technique that uses no labour (no scaling gives it a norm).
    """
    if not norms:
        return economy
    ids = [str(key) for key in norms]
    positions = pd.Index(economy.technique_ids).get_indexer(ids)
    labour = np.array(economy.labour, dtype=np.float64)
    for (key, norm), at in zip(norms.items(), positions, strict=True):
        where = Where("norms", id=str(key), field="norm")
        if at < 0:
            raise EconomyError(
                f"unknown technique {str(key)!r} in the norms; a norm is set for a technique "
                f"of economy {economy.name!r}",
                where,
            )
        value = _norm(norm, str(key), where)
        per_unit = float(economy.labour[:, at].sum()) / float(economy.technique_output[at])
        if per_unit <= 0:
            raise EconomyError(
                f"technique {str(key)!r} uses no labour, so no scaling of its labour gives it "
                f"a norm of {value!r} hours per unit; give it labour in the bundle instead",
                where,
            )
        labour[:, at] = economy.labour[:, at] * (value / per_unit)
    labour.flags.writeable = False
    # The other arrays are the economy's own, already checked and read-only; the new labour
    # is finite and >= 0 (finite labour times a finite positive factor), and labour does
    # not enter the productivity check.
    return dataclasses.replace(economy, labour=labour, _product_index={})


def _as_float(value: object) -> float:
    """A number given as a number or text, NaN for anything else (a bool is no number)."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _norm(norm: object, technique: str, where: Where) -> float:
    value = _as_float(norm)
    if not (math.isfinite(value) and value > 0):
        if isinstance(norm, np.generic):
            norm = norm.item()
        raise EconomyError(
            f"norm {norm!r} of technique {technique!r} is not a number > 0; a norm is hours "
            "of labour per unit of the technique's product",
            where,
        )
    return value


# -- the published plan ----------------------------------------------------------------


def publish(
    plan: Plan, economy: Economy, *, workplaces: Mapping[str, Mapping[str, float | None]]
) -> dict:
    """The plan as it is published: a JSON-able dict of plain floats, strings and lists.

    ``workplaces`` maps a workplace council's key to the techniques it runs, each with its
    stated capacity (units of activity) or None. A technique's planned activity is split
    among the workplaces that run it in proportion to their capacities; equally where any
    of them states none (or all state 0). A workplace's hours, inputs and resources are
    the technique's coefficients times its share of the activity; its inputs are the
    positive input coefficients only (a by-product it makes is not something it draws).

    Returns::

        {"status", "method", "total_labour",
         "labour": {kind: hours}, "resources": {id: units},
         "activity": {technique: units}, "output": {product: units},
         "values": {product: hours per unit},
         "shortfall": [{product, council, priority, need, met, short, binding}],
         "consumption": {council: [{product, priority, need, met}]},
         "workplaces": {key: {"techniques": [{technique, product, activity, output}],
                              "hours": {kind: hours}, "inputs": {product: units},
                              "resources": {id: units}}}}

    Zeros are left out of activity, output, values and a workplace's hours, inputs and
    resources (an id that is absent is 0); the plan's labour and resources name every kind.
    ``consumption`` is {} when the needs were not stated by council.

    Raises :class:`PlanInputError` naming the workplace and technique of a claim that
    cannot be split: an unknown technique or a capacity that is not a number >= 0.
    """
    if not np.array_equal(plan.technique_ids, economy.technique_ids) or not np.array_equal(
        plan.product_ids, economy.product_ids
    ):
        raise ValueError(
            f"the plan is not of economy {economy.name!r}: its techniques or products differ"
        )
    activity = _denoised(plan.activity)
    return {
        "status": plan.status,
        "method": plan.method,
        "total_labour": _rounded_number(plan.total_labour),
        "labour": _mapping(economy.labour_ids, plan.labour, "labour", keep_zeros=True),
        "resources": _mapping(economy.resource_ids, plan.resources, "resources", True),
        "activity": _mapping(economy.technique_ids, activity, "activity"),
        "output": _mapping(economy.product_ids, _denoised(plan.output), "output"),
        "values": _mapping(economy.product_ids, _denoised(plan.prices), "values"),
        "shortfall": _shortfall(plan.shortfall),
        "consumption": _consumption(plan.consumption),
        "workplaces": _workplaces(economy, activity, workplaces),
    }


def plan_digest(published: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a published plan (:func:`canonical_bytes`)."""
    return hashlib.sha256(canonical_bytes(published)).hexdigest()


def inputs_digest(**parts: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of the inputs of a plan variant, given by name
    (``inputs_digest(bundle=..., needs=..., limits=..., method=...)``): what a re-run must
    be given to compute the same plan."""
    return hashlib.sha256(canonical_bytes(parts)).hexdigest()


def canonical_bytes(value: Any) -> bytes:
    """The one byte form of a JSON value that is hashed: keys sorted, no spaces, UTF-8,
    floats as Python writes them (the shortest text that reads back as the same float, on
    every platform). NaN and infinity are refused (ValueError), as is anything that is not
    JSON (TypeError); NumPy scalars are taken as the numbers they hold.

    (``councilplan.audit.chain.canonical_json`` refuses floats, which a plan is made of.)
    """
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_plain,
    )
    return text.encode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON; give numbers, text, lists")


# -- numbers ---------------------------------------------------------------------------


def _rounded(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to :data:`DIGITS` significant digits, vectorised: x becomes the
    double nearest to N * 10^-m, N a whole number of DIGITS digits (as float(f"{x:.12g}")
    but for ties)."""
    shape = np.shape(values)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.zeros_like(values)
    at = np.flatnonzero((values != 0) & np.isfinite(values))
    x = values[at]
    m = (DIGITS - 1) - np.floor(np.log10(np.abs(x))).astype(np.int64)
    small = (m >= 0) & (m <= 22)
    large = (m < 0) & (m >= -22)
    # Dividing or multiplying by an exact power of ten rounds once: the nearest double.
    rounded = np.empty_like(x)
    p = _POW10[m[small]]
    rounded[small] = np.round(x[small] * p) / p
    p = _POW10[-m[large]]
    rounded[large] = np.round(x[large] / p) * p
    rest = ~(small | large)  # below 10^-11 or above 10^33: rare, done one by one
    rounded[rest] = [float(f"{v:.{DIGITS}g}") for v in x[rest]]
    out[at] = rounded
    bad = ~np.isfinite(values)
    out[bad] = values[bad]  # refused where they are published (see _mapping)
    return out.reshape(shape)


def _rounded_number(value: float) -> float:
    return float(_rounded(np.array([value]))[0])


def _denoised(values: np.ndarray) -> np.ndarray:
    """``values`` with those below :data:`NOISE` of the largest set to 0 (solver rounding)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    largest = float(finite.max()) if finite.size else 0.0
    return np.where(np.abs(values) <= NOISE * largest, 0.0, values)


def _mapping(ids: np.ndarray, values: np.ndarray, what: str, keep_zeros: bool = False) -> dict:
    """{id: rounded value}, zeros left out unless ``keep_zeros``; a value that is not finite
    is an error naming the id (a plan has none; a published one must not)."""
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{what} of {ids[i]!r} is {float(values[i])!r}; it cannot be published")
    rounded = _rounded(values)
    keep = slice(None) if keep_zeros else rounded != 0
    return dict(zip(np.asarray(ids)[keep].tolist(), rounded[keep].tolist(), strict=True))


def _records(frame: pd.DataFrame, numbers: tuple[str, ...]) -> list[dict]:
    columns = {}
    for name in frame.columns:
        if name in numbers:
            columns[name] = _rounded(_denoised(frame[name].to_numpy(dtype=np.float64))).tolist()
        else:
            columns[name] = [str(v) for v in frame[name]]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _shortfall(frame: pd.DataFrame | None) -> list[dict]:
    if frame is None or len(frame) == 0:
        return []
    return _records(frame, ("priority", "need", "met", "short"))


def _consumption(frame: pd.DataFrame | None) -> dict[str, list[dict]]:
    if frame is None or len(frame) == 0:
        return {}
    rows = _records(frame[["product", "priority", "need", "met"]], ("priority", "need", "met"))
    out: dict[str, list[dict]] = {}
    for council, row in zip(frame["council"].astype(str), rows, strict=True):
        out.setdefault(council, []).append(row)
    return out


# -- workplaces ------------------------------------------------------------------------


def _workplaces(
    economy: Economy, activity: np.ndarray, workplaces: Mapping[str, Mapping[str, float | None]]
) -> dict[str, dict]:
    keys = list(workplaces)
    claim_workplace: list[int] = []
    claim_technique: list[str] = []
    claim_capacity: list[float] = []
    for w, key in enumerate(keys):
        if not isinstance(key, str):
            raise PlanInputError(
                f"workplace council key {key!r} is not text", Where("workplaces", id=repr(key))
            )
        for technique, capacity in workplaces[key].items():
            claim_workplace.append(w)
            claim_technique.append(str(technique))
            claim_capacity.append(_capacity(capacity, key, str(technique)))
    cw = np.asarray(claim_workplace, dtype=np.int64)
    cc = np.asarray(claim_capacity, dtype=np.float64)
    ct = pd.Index(economy.technique_ids).get_indexer(claim_technique).astype(np.int64)
    unknown = np.flatnonzero(ct < 0)
    if unknown.size:
        i = int(unknown[0])
        raise PlanInputError(
            f"workplace council {keys[cw[i]]!r} runs unknown technique {claim_technique[i]!r}; "
            f"its techniques must be techniques of economy {economy.name!r}",
            Where("workplaces", id=keys[cw[i]], field=claim_technique[i]),
        )

    # Each claim's share of its technique's activity.
    t, n_workplaces = economy.n_techniques, len(keys)
    claims = np.bincount(ct, minlength=t)
    unstated = np.bincount(ct, weights=np.isnan(cc), minlength=t) > 0
    stated = np.bincount(ct, weights=np.nan_to_num(cc, nan=0.0), minlength=t)
    proportional = ~unstated[ct] & (stated[ct] > 0)
    share = np.where(
        proportional,
        np.nan_to_num(cc, nan=0.0) / np.where(proportional, stated[ct], 1.0),
        1.0 / claims[ct],
    )
    run = activity[ct] * share  # units of activity of each claim
    made = run * economy.technique_output[ct]

    hours = _per_workplace(economy.labour, ct, cw, run, n_workplaces)
    used = _per_workplace(economy.resource_use, ct, cw, run, n_workplaces)
    drawn = _drawn(economy, ct, cw, run, n_workplaces)

    hours, used = _rounded(hours), _rounded(used)
    drawn_data = _rounded(drawn.data)
    run_rounded, made_rounded = _rounded(run), _rounded(made)
    order = np.lexsort((ct, cw))  # by workplace, then in the economy's technique order
    starts = np.searchsorted(cw[order], np.arange(n_workplaces + 1))
    technique_ids = economy.technique_ids[ct].tolist()
    product_ids = economy.product_ids[economy.technique_product[ct]].tolist()
    run_list, made_list = run_rounded.tolist(), made_rounded.tolist()
    labour_ids, resource_ids = economy.labour_ids.tolist(), economy.resource_ids.tolist()
    hours_of, used_by = hours.T.tolist(), used.T.tolist()  # one list per workplace
    all_products = economy.product_ids

    out: dict[str, dict] = {}
    for w, key in enumerate(keys):
        mine = order[starts[w] : starts[w + 1]].tolist()
        lo, hi = drawn.indptr[w], drawn.indptr[w + 1]
        inputs = drawn_data[lo:hi]
        nonzero = inputs != 0
        out[key] = {
            "techniques": [
                {
                    "technique": technique_ids[c],
                    "product": product_ids[c],
                    "activity": run_list[c],
                    "output": made_list[c],
                }
                for c in mine
            ],
            "hours": _nonzero(labour_ids, hours_of[w]),
            "inputs": dict(
                zip(
                    all_products[drawn.indices[lo:hi][nonzero]].tolist(),
                    inputs[nonzero].tolist(),
                    strict=True,
                )
            ),
            "resources": _nonzero(resource_ids, used_by[w]),
        }
    return out


def _per_workplace(rows: np.ndarray, ct, cw, run, n_workplaces: int) -> np.ndarray:
    """(kinds, workplaces): each row's coefficients times each claim's activity, summed by
    workplace; (0, workplaces) for an economy with no such kinds (no resources)."""
    out = np.zeros((len(rows), n_workplaces))
    for i, row in enumerate(rows):
        out[i] = np.bincount(cw, weights=row[ct] * run, minlength=n_workplaces)
    return out


def _drawn(economy: Economy, ct, cw, run, n_workplaces: int) -> sp.csc_array:
    """Products x workplaces: units of each product a workplace draws, from the positive
    input coefficients of its techniques times its activity in each (sorted indices)."""
    a = economy.inputs
    positive = sp.csc_array((np.where(a.data > 0, a.data, 0.0), a.indices, a.indptr), shape=a.shape)
    runs = sp.csc_array((run, (ct, cw)), shape=(economy.n_techniques, n_workplaces))
    drawn = sp.csc_array(positive @ runs)
    drawn.sum_duplicates()
    drawn.sort_indices()
    return drawn


def _nonzero(ids: list[str], values: list[float]) -> dict[str, float]:
    return {i: v for i, v in zip(ids, values, strict=True) if v != 0}


def _capacity(capacity: object, workplace: str, technique: str) -> float:
    """A stated capacity as a float, NaN for None."""
    if capacity is None:
        return math.nan
    value = _as_float(capacity)
    if not (math.isfinite(value) and value >= 0):
        if isinstance(capacity, np.generic):
            capacity = capacity.item()
        raise PlanInputError(
            f"workplace council {workplace!r} states capacity {capacity!r} for technique "
            f"{technique!r}; a capacity is a finite number >= 0 of units of activity, or "
            "None when not stated",
            Where("workplaces", id=workplace, field=technique),
        )
    return value
