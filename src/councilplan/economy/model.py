"""The economy: products, the techniques that make them, labour kinds and natural resources.

An :class:`Economy` is columnar and immutable. Its arrays are validated once, when it is
built, and made read-only, so two computations on the same economy are comparable and no
result can be silently changed behind a user's back. Every row has a stable string id so
results can be labelled and exported.

Units: a technique runs at an *activity level*; one unit of activity makes ``output``
units of its product from ``inputs[:, t]`` units of other products, ``labour[:, t]`` hours
(or the table's own labour unit) of each labour kind and ``resource_use[:, t]`` units of
each natural resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from councilplan.economy.errors import EconomyError
from councilplan.errors import Where


def checked_ids(values: Iterable[object], what: str, source: str | None) -> np.ndarray:
    ids = pd.Index([str(v) for v in values], dtype=object)
    if len(ids) == 0:
        return np.empty(0, dtype=object)
    bad = np.flatnonzero((ids.str.len() == 0) | (ids.str.strip() != ids))
    if bad.size:
        row = int(bad[0])
        # Refused, not stripped: ids are compared exactly (see bundle._listed_ids).
        problem = (
            "is empty; every id needs at least one character"
            if ids[row] == ""
            else f"has whitespace around it; ids are compared exactly, so write "
            f"{ids[row].strip()!r}"
        )
        raise EconomyError(
            f"{what} id {ids[row]!r} {problem}",
            Where(source, row=row + 1, id=ids[row], field="id"),
        )
    if not ids.is_unique:
        row = int(np.flatnonzero(ids.duplicated())[0])
        first = int(np.flatnonzero(ids == ids[row])[0])
        raise EconomyError(
            f"duplicate {what} id {ids[row]!r} (first at row {first + 1})",
            Where(source, row=row + 1, id=ids[row], field="id"),
        )
    return ids.to_numpy(dtype=object)


def _texts(values: Sequence[object] | None, n: int, default: str) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=object)
    out = np.asarray([default if v is None else str(v) for v in values], dtype=object)
    if out.shape != (n,):
        raise EconomyError(f"expected {n} values, got {out.shape[0]}")
    return out


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


def _frozen_sparse(m: sp.csc_array) -> sp.csc_array:
    for a in (m.data, m.indices, m.indptr):
        a.flags.writeable = False
    return m


def _vector(values, n: int, name: str, default: float) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.float64)
    out = np.asarray(values, dtype=np.float64).reshape(-1)
    if out.shape != (n,):
        raise EconomyError(f"{name}: expected {n} values, got {out.shape[0]}")
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Economy:
    """An economy's products, techniques, labour kinds and natural resources.

    Build one with :func:`make_economy` (or a loader); the constructor takes arrays that
    are already checked and is not meant to be called directly.

    Attributes:
        product_ids, product_names, product_units: one entry per product.
        technique_ids: one entry per technique.
        technique_product: index of the product each technique makes.
        technique_output: units of that product one unit of activity makes (> 0).
        inputs: products x techniques, units of each product used per unit of activity
            (CSC, canonical, read-only). Negative only for declared by-products.
        labour: labour kinds x techniques, hours (or the kind's unit) per unit of activity.
        resource_use: resources x techniques, units of each resource per unit of activity.
        capacity: the most activity each technique can run (inf: no limit).
        labour_ids, labour_names, labour_units, labour_limits: one entry per labour kind.
        resource_ids, resource_names, resource_units, resource_limits: one per resource.
        byproducts: ids of products whose input coefficients may be negative (scrap,
            by-products, government sales in real tables).
        name, description: free text for reports.
    """

    product_ids: np.ndarray
    product_names: np.ndarray
    product_units: np.ndarray
    technique_ids: np.ndarray
    technique_product: np.ndarray
    technique_output: np.ndarray
    inputs: sp.csc_array
    labour: np.ndarray
    resource_use: np.ndarray
    capacity: np.ndarray
    labour_ids: np.ndarray
    labour_names: np.ndarray
    labour_units: np.ndarray
    labour_limits: np.ndarray
    resource_ids: np.ndarray
    resource_names: np.ndarray
    resource_units: np.ndarray
    resource_limits: np.ndarray
    byproducts: frozenset[str] = frozenset()
    name: str = "economy"
    description: str = ""
    _product_index: dict[str, int] = field(default_factory=dict, compare=False)

    # -- sizes and lookups ---------------------------------------------------------------

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    @property
    def n_techniques(self) -> int:
        return len(self.technique_ids)

    @property
    def n_labour_kinds(self) -> int:
        return len(self.labour_ids)

    @property
    def n_resources(self) -> int:
        return len(self.resource_ids)

    @property
    def nnz(self) -> int:
        """Non-zero input coefficients."""
        return int(self.inputs.nnz)

    def product_index(self, product_id: str) -> int:
        """Position of a product, or a KeyError naming it."""
        if not self._product_index:
            self._product_index.update({p: i for i, p in enumerate(self.product_ids)})
        try:
            return self._product_index[product_id]
        except KeyError:
            raise KeyError(f"unknown product id {product_id!r}") from None

    @property
    def single_technique(self) -> bool:
        """True when every product has exactly one technique."""
        return self.n_techniques == self.n_products and bool(
            np.all(np.bincount(self.technique_product, minlength=self.n_products) == 1)
        )

    @cached_property
    def _techniques_by_product(self) -> tuple[np.ndarray, np.ndarray]:
        """Techniques sorted by the product they make (stable), and where each product starts."""
        order = np.argsort(self.technique_product, kind="stable")
        made = self.technique_product[order]
        starts = np.flatnonzero(np.r_[True, made[1:] != made[:-1]])
        return order, starts

    def cheapest_technique(self, cost: np.ndarray) -> np.ndarray:
        """For each product, the technique with the least ``cost`` (one number per technique;
        ties go to the technique listed first). O(techniques), no sort per call."""
        cost = np.asarray(cost, dtype=np.float64)
        order, starts = self._techniques_by_product
        ranked = cost[order]
        least = np.minimum.reduceat(ranked, starts)
        segment = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
        position = np.where(ranked == least[segment], np.arange(len(order)), len(order))
        return order[np.minimum.reduceat(position, starts)]

    def technique_choice(self, choice: np.ndarray | None = None) -> np.ndarray:
        """Technique index for each product: ``choice`` checked, or the only technique."""
        if choice is None:
            if not self.single_technique:
                raise ValueError(
                    f"{self.name}: some products have several techniques; say which to use"
                )
            choice = np.empty(self.n_products, dtype=np.int64)
            choice[self.technique_product] = np.arange(self.n_techniques)
            return choice
        choice = np.asarray(choice, dtype=np.int64)
        if choice.shape != (self.n_products,) or not np.array_equal(
            self.technique_product[choice], np.arange(self.n_products)
        ):
            raise ValueError("choice must give, for each product, a technique that makes it")
        return choice

    def input_matrix(self, choice: np.ndarray | None = None) -> sp.csc_array:
        """The products x products input matrix A of one technique per product.

        Column j holds the inputs per unit of product j of the technique ``choice[j]``
        (the inputs per unit of activity divided by its output).
        """
        choice = self.technique_choice(choice)
        output = self.technique_output[choice]
        if self.n_techniques == self.n_products and np.array_equal(
            choice, np.arange(self.n_products)
        ):
            a = self.inputs  # technique j makes product j: no copy of the coefficients
        else:
            a = self.inputs[:, choice]
        if np.all(output == 1.0):
            # Shares the (read-only) arrays: at 10^7 coefficients a copy costs real time.
            return sp.csc_array((a.data, a.indices, a.indptr), shape=a.shape)
        scale = np.repeat(1.0 / output, np.diff(a.indptr))
        return sp.csc_array((a.data * scale, a.indices, a.indptr), shape=a.shape)

    def labour_per_unit(self, choice: np.ndarray | None = None) -> np.ndarray:
        """Labour kinds x products: direct labour per unit of each product under ``choice``."""
        choice = self.technique_choice(choice)
        return self.labour[:, choice] / self.technique_output[choice]

    # -- equality and display ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Economy):
            return NotImplemented
        arrays = (
            "product_ids", "product_names", "product_units", "technique_ids",
            "technique_product", "technique_output", "labour", "resource_use", "capacity",
            "labour_ids", "labour_names", "labour_units", "labour_limits",
            "resource_ids", "resource_names", "resource_units", "resource_limits",
        )  # fmt: skip
        for name in arrays:
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape or not np.array_equal(a, b):
                return False
        m, n = self.inputs, other.inputs
        return (
            m.shape == n.shape
            and np.array_equal(m.indptr, n.indptr)
            and np.array_equal(m.indices, n.indices)
            and np.array_equal(m.data, n.data)
            and self.byproducts == other.byproducts
            and self.name == other.name
            and self.description == other.description
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Economy({self.name!r}: {self.n_products} products, {self.n_techniques} "
            f"techniques, {self.nnz} input coefficients, {self.n_labour_kinds} labour "
            f"kinds, {self.n_resources} resources)"
        )


def make_economy(
    *,
    products: Sequence[str],
    techniques: Sequence[str],
    technique_product: Sequence[int] | Sequence[str],
    inputs,
    labour,
    product_names: Sequence[str] | None = None,
    product_units: Sequence[str] | None = None,
    technique_output=None,
    resource_use=None,
    capacity=None,
    labour_kinds: Sequence[str] = ("labour",),
    labour_names: Sequence[str] | None = None,
    labour_units: Sequence[str] | None = None,
    labour_limits=None,
    resources: Sequence[str] = (),
    resource_names: Sequence[str] | None = None,
    resource_units: Sequence[str] | None = None,
    resource_limits=None,
    byproducts: Iterable[str] = (),
    name: str = "economy",
    description: str = "",
    source: str | None = None,
    check_productive: bool = True,
) -> Economy:
    """Validate arrays and build an :class:`Economy`.

    ``inputs`` is products x techniques (anything ``scipy.sparse`` accepts, or dense);
    ``labour`` is labour kinds x techniques (a 1-D array for one kind); ``resource_use``
    is resources x techniques. ``technique_product`` gives, for each technique, the
    product it makes, by position or by id. ``source`` names the file or table the data
    came from, for error messages.

    Raises :class:`EconomyError` naming the row, id and value of the first problem.
    """
    product_ids = checked_ids(products, "product", source)
    technique_ids = checked_ids(techniques, "technique", source)
    labour_ids = checked_ids(labour_kinds, "labour kind", source)
    resource_ids = checked_ids(resources, "resource", source)
    n, t, k, r = len(product_ids), len(technique_ids), len(labour_ids), len(resource_ids)
    if n == 0:
        raise EconomyError("an economy needs at least one product", Where(source))
    if k == 0:
        raise EconomyError("an economy needs at least one labour kind", Where(source))

    made = np.asarray(technique_product)
    if made.shape != (t,):
        raise EconomyError(f"technique_product: expected {t} entries, got {made.shape}")
    if made.dtype.kind in "OUS":
        index = {p: i for i, p in enumerate(product_ids)}
        positions = np.empty(t, dtype=np.int64)
        for row, pid in enumerate(made):
            if str(pid) not in index:
                raise EconomyError(
                    f"technique {technique_ids[row]!r} makes unknown product {str(pid)!r}",
                    Where(source, row=row + 1, id=technique_ids[row], field="product"),
                )
            positions[row] = index[str(pid)]
        made = positions
    made = made.astype(np.int64)
    bad = np.flatnonzero((made < 0) | (made >= n))
    if bad.size:
        row = int(bad[0])
        raise EconomyError(
            f"technique {technique_ids[row]!r} makes product number {made[row]}, "
            f"but there are {n} products",
            Where(source, row=row + 1, id=technique_ids[row], field="product"),
        )

    output = _vector(technique_output, t, "technique_output", 1.0)
    _check_finite(output, technique_ids, "technique", "output", source)
    bad = np.flatnonzero(output <= 0)
    if bad.size:
        row = int(bad[0])
        raise EconomyError(
            f"technique {technique_ids[row]!r} has output {float(output[row])!r}; "
            "a technique must make a positive quantity",
            Where(source, row=row + 1, id=technique_ids[row], field="output"),
        )

    a = sp.csc_array(inputs, dtype=np.float64)
    if not (a.data.flags.writeable and a.indices.flags.writeable and a.indptr.flags.writeable):
        a = a.copy()  # another economy's read-only arrays: canonicalise a copy, not them
    if a.shape != (n, t):
        raise EconomyError(
            f"inputs: expected shape {(n, t)} (products x techniques), got {a.shape}"
        )
    a.sum_duplicates()
    a.eliminate_zeros()
    a.sort_indices()
    # One index dtype for both arrays (int32 while it fits): SciPy would otherwise upcast on
    # every product, doubling the memory traffic of the solvers.
    index_dtype = np.int32 if max(a.nnz, n, t) < np.iinfo(np.int32).max else np.int64
    a = sp.csc_array(
        (
            a.data,
            a.indices.astype(index_dtype, copy=False),
            a.indptr.astype(index_dtype, copy=False),
        ),
        shape=(n, t),
    )
    bad = np.flatnonzero(~np.isfinite(a.data))
    if bad.size:
        i, j = _sparse_position(a, int(bad[0]))
        raise EconomyError(
            f"input of {product_ids[i]!r} to technique {technique_ids[j]!r} is "
            f"{float(a.data[bad[0]])!r}",
            Where(source, id=technique_ids[j], field=product_ids[i]),
        )
    byproducts = frozenset(str(b) for b in byproducts)
    unknown = sorted(byproducts - set(product_ids))
    if unknown:
        raise EconomyError(
            f"by-products {unknown} are not products", Where(source, field="byproducts")
        )
    negative = np.flatnonzero(a.data < 0)
    if negative.size:
        # Positions, not np.isin on strings: NumPy's fixed-width strings drop trailing NULs.
        declared = np.zeros(n, dtype=bool)
        declared[pd.Index(product_ids, dtype=object).get_indexer(sorted(byproducts))] = True
        allowed = declared[a.indices[negative]]
        if not allowed.all():
            pos = int(negative[np.flatnonzero(~allowed)[0]])
            i, j = _sparse_position(a, pos)
            raise EconomyError(
                f"technique {technique_ids[j]!r} has a negative input {float(a.data[pos])!r} of "
                f"{product_ids[i]!r}; declare {product_ids[i]!r} a by-product if that is meant",
                Where(source, id=technique_ids[j], field=product_ids[i]),
            )

    lab = np.asarray(labour.toarray() if sp.issparse(labour) else labour, dtype=np.float64)
    if lab.ndim == 1:
        lab = lab.reshape(1, -1)
    if lab.shape != (k, t):
        raise EconomyError(
            f"labour: expected shape {(k, t)} (labour kinds x techniques), got {lab.shape}"
        )
    _check_matrix(lab, labour_ids, technique_ids, "labour", source)

    if resource_use is None:
        res = np.zeros((r, t))
    else:
        res = np.asarray(
            resource_use.toarray() if sp.issparse(resource_use) else resource_use, dtype=np.float64
        )
        if res.ndim == 1:
            res = res.reshape(1, -1) if r == 1 else res.reshape(r, t)
    if res.shape != (r, t):
        raise EconomyError(f"resource_use: expected shape {(r, t)}, got {res.shape}")
    _check_matrix(res, resource_ids, technique_ids, "resource use", source)

    cap = _vector(capacity, t, "capacity", np.inf)
    _check_limits(cap, technique_ids, "capacity of technique", source, "capacity")
    lab_lim = _vector(labour_limits, k, "labour_limits", np.inf)
    _check_limits(lab_lim, labour_ids, "limit of labour kind", source)
    res_lim = _vector(resource_limits, r, "resource_limits", np.inf)
    _check_limits(res_lim, resource_ids, "limit of resource", source)

    orphans = np.flatnonzero(np.bincount(made, minlength=n) == 0)
    if orphans.size:
        shown = ", ".join(repr(p) for p in product_ids[orphans[:10]])
        more = f" and {orphans.size - 10} more" if orphans.size > 10 else ""
        raise EconomyError(
            f"nothing can make product {shown}{more}: every product needs at least one technique",
            Where(source, row=int(orphans[0]) + 1, id=product_ids[orphans[0]]),
        )

    economy = Economy(
        product_ids=_frozen(product_ids),
        product_names=_frozen(_texts(product_names, n, "")),
        product_units=_frozen(_texts(product_units, n, "unit")),
        technique_ids=_frozen(technique_ids),
        technique_product=_frozen(made),
        technique_output=_frozen(output),
        inputs=_frozen_sparse(a),
        labour=_frozen(lab),
        resource_use=_frozen(res),
        capacity=_frozen(cap),
        labour_ids=_frozen(labour_ids),
        labour_names=_frozen(_texts(labour_names, k, "")),
        labour_units=_frozen(_texts(labour_units, k, "hours")),
        labour_limits=_frozen(lab_lim),
        resource_ids=_frozen(resource_ids),
        resource_names=_frozen(_texts(resource_names, r, "")),
        resource_units=_frozen(_texts(resource_units, r, "unit")),
        resource_limits=_frozen(res_lim),
        byproducts=byproducts,
        name=str(name),
        description=str(description),
    )
    if check_productive:
        from councilplan.economy.productive import check_productive as _check

        _check(economy, source)
    return economy


def _sparse_position(a: sp.csc_array, pos: int) -> tuple[int, int]:
    col = int(np.searchsorted(a.indptr, pos, side="right") - 1)
    return int(a.indices[pos]), col


def _check_finite(values: np.ndarray, ids: np.ndarray, what: str, fld: str, source) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise EconomyError(
            f"{what} {ids[row]!r} has {fld} {float(values[row])!r}; it must be a finite number",
            Where(source, row=row + 1, id=ids[row], field=fld),
        )


def _check_matrix(m: np.ndarray, row_ids, technique_ids, what: str, source) -> None:
    bad = np.argwhere(~np.isfinite(m) | (m < 0))
    if bad.size:
        i, j = (int(x) for x in bad[0])
        raise EconomyError(
            f"{what} of {row_ids[i]!r} by technique {technique_ids[j]!r} is {float(m[i, j])!r}; "
            "it must be a finite number >= 0",
            Where(source, id=technique_ids[j], field=row_ids[i]),
        )


def _check_limits(
    values: np.ndarray, ids: np.ndarray, what: str, source, fld: str = "limit"
) -> None:
    bad = np.flatnonzero(np.isnan(values) | (values < 0))
    if bad.size:
        row = int(bad[0])
        raise EconomyError(
            f"{what} {ids[row]!r} is {float(values[row])!r}; "
            "a limit must be >= 0 (or empty for none)",
            Where(source, row=row + 1, id=ids[row], field=fld),
        )
