"""Economies to and from pymrio input-output systems (EXIOBASE, WIOD, OECD ICIO, ...).

pymrio reads the multi-regional tables; this module turns one into an :class:`Economy`
(products "region/sector", one technique each) and back, so labour values can be checked
against pymrio's multipliers. pymrio is imported only when these functions run, since it is
an optional dependency (``pip install pymrio``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy, make_economy
from councilplan.errors import Where

if TYPE_CHECKING:
    import pymrio

LABOUR_EXTENSION = "labour"


def _pymrio():
    try:
        import pymrio
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("pymrio is not installed: pip install pymrio") from None
    return pymrio


def _label(entry: object) -> str:
    """A pymrio index entry as one id: tuples joined with '/' ("reg1/food")."""
    if isinstance(entry, tuple):
        return "/".join(str(part) for part in entry)
    return str(entry)


def _extensions(io: pymrio.IOSystem) -> dict[str, object]:
    """Extensions by attribute name ("factor_inputs"), as pymrio's get_extensions lists them."""
    return {name: getattr(io, name) for name in io.get_extensions(data=False)}


def economy_from_pymrio(
    io: pymrio.IOSystem,
    labour: str | Sequence[str],
    extension: str | None = None,
    *,
    name: str | None = None,
) -> Economy:
    """The economy of a pymrio system: one technique per region/sector, output 1.

    ``labour`` names the stressor rows (their labels, a tuple label joined with '/') of the
    ``extension`` that are labour; each becomes a labour kind, with S (stressor per unit of
    output) as direct labour. Without ``extension``, the one extension that has all those
    rows is used. The system is not changed: A and S are computed aside when missing.

    Raises :class:`EconomyError` naming the extension and row when a name is not found.
    """
    pm = _pymrio()
    names = [labour] if isinstance(labour, str) else [str(x) for x in labour]
    if not names:
        raise EconomyError("name at least one labour row", Where("pymrio", field="labour"))
    source = f"pymrio system {io.name!r}" if getattr(io, "name", None) else "pymrio system"
    exts = _extensions(io)
    if extension is None:
        holding = [n for n, ext in exts.items() if {_label(i) for i in ext.F.index} >= set(names)]
        if len(holding) != 1:
            found = "none" if not holding else ", ".join(holding)
            raise EconomyError(
                f"labour rows {names} must be in exactly one extension (found in: {found}); "
                f"name the extension (extensions: {', '.join(exts) or 'none'})",
                Where(source, field="labour"),
            )
        extension = holding[0]
    titles = {ext.name: name for name, ext in exts.items()}  # "Factor Inputs" works too
    extension = titles.get(extension, extension)
    if extension not in exts:
        raise EconomyError(
            f"no extension {extension!r}; the system has {', '.join(exts) or 'none'}",
            Where(source, id=extension),
        )
    ext = exts[extension]

    if io.A is not None:
        a = io.A
        x = io.x
    else:
        x = io.x if io.x is not None else pm.calc_x(io.Z, io.Y)
        a = pm.calc_A(io.Z, x)
    s = ext.S if ext.S is not None else pm.calc_S(ext.F, x)
    labels = [_label(i) for i in s.index]
    rows = []
    for wanted in names:
        if wanted not in labels:
            raise EconomyError(
                f"extension {extension!r} has no row {wanted!r}; its rows are "
                + ", ".join(repr(lab) for lab in labels[:20]),
                Where(source, id=extension, field=wanted),
            )
        rows.append(labels.index(wanted))
    s = s.reindex(columns=a.columns)

    products = [_label(i) for i in a.columns]
    matrix = sp.csc_array(a.to_numpy(dtype=np.float64))
    negative_rows = np.unique(matrix.indices[matrix.data < 0])
    product_units = None
    if io.unit is not None and "unit" in io.unit.columns:
        product_units = [str(u) for u in io.unit["unit"].reindex(a.columns).fillna("unit")]
    labour_units = None
    if ext.unit is not None and "unit" in ext.unit.columns:
        units = ext.unit["unit"].reindex(s.index).fillna("hours")
        labour_units = [str(units.iloc[r]) for r in rows]
    return make_economy(
        products=products,
        techniques=products,
        technique_product=np.arange(len(products)),
        inputs=matrix,
        labour=s.to_numpy(dtype=np.float64)[rows],
        product_units=product_units,
        labour_kinds=[labels[r] for r in rows],
        labour_units=labour_units,
        byproducts=[products[i] for i in negative_rows],
        name=name or str(getattr(io, "name", None) or "pymrio"),
        description=f"from a pymrio system; labour from extension {extension!r}",
        source=source,
    )


def economy_to_pymrio(
    economy: Economy,
    final_demand: pd.Series | pd.DataFrame | np.ndarray | None = None,
    *,
    choice: np.ndarray | None = None,
    region: str | None = None,
) -> pymrio.IOSystem:
    """A pymrio system with Z, Y, x and an extension "labour" (one row per labour kind).

    Product ids "region/sector" give the (region, sector) index; ids without '/' go to
    ``region`` (default: the economy's name). ``final_demand`` (units of product; a Series
    or 1-D array is one category, a DataFrame's columns are categories) decides the output
    x = (I - A)^-1 Y 1; without it every product is made at level 1 and Y = (I - A) 1, so
    Z = A. A product left with no output loses its column of A in pymrio (A = Z / x).
    ``choice`` picks the technique per product where there are several.
    """
    pm = _pymrio()
    choice = economy.technique_choice(choice)
    a = economy.input_matrix(choice)
    n = economy.n_products
    default_region = region or economy.name
    pairs = [
        tuple(p.split("/", 1)) if "/" in p else (default_region, p) for p in economy.product_ids
    ]
    index = pd.MultiIndex.from_tuples(pairs, names=["region", "sector"])
    regions = list(dict.fromkeys(r for r, _ in pairs))

    if final_demand is None:
        x = np.ones(n)
        y = pd.DataFrame({"final demand": x - a @ x}, index=list(economy.product_ids))
    else:
        if isinstance(final_demand, np.ndarray):
            y = pd.DataFrame({"final demand": final_demand}, index=list(economy.product_ids))
        elif isinstance(final_demand, pd.Series):
            y = final_demand.to_frame(final_demand.name or "final demand")
        else:
            y = final_demand
        y = y.set_axis([_label(p) for p in y.index], axis=0)
        unknown = [p for p in y.index if p not in set(economy.product_ids)]
        if unknown:
            raise EconomyError(
                f"final demand names unknown product {unknown[0]!r}",
                Where("final demand", id=str(unknown[0])),
            )
        y = y.reindex(list(economy.product_ids)).fillna(0.0).astype(np.float64)
        identity = sp.identity(n, format="csc")
        x = np.asarray(spla.spsolve(sp.csc_array(identity - a), y.to_numpy().sum(axis=1)))
        x = x.reshape(-1)
    if isinstance(y.columns, pd.MultiIndex) and y.columns.nlevels == 2:
        y_columns = y.columns
    else:
        # pymrio groups final demand by region; plain categories belong to the first one.
        y_columns = pd.MultiIndex.from_tuples(
            [(regions[0], str(c)) for c in y.columns], names=["region", "category"]
        )
    z = pd.DataFrame((a @ sp.diags_array(x)).toarray(), index=index, columns=index)
    labour = economy.labour_per_unit(choice) * x
    io = pm.IOSystem(
        Z=z,
        Y=pd.DataFrame(y.to_numpy(), index=index, columns=y_columns),
        x=pd.DataFrame({"indout": x}, index=index),
        unit=pd.DataFrame({"unit": list(economy.product_units)}, index=index),
        name=economy.name,
        description=economy.description or None,
    )
    stressors = pd.Index(list(economy.labour_ids), name="stressor")
    io.labour = pm.Extension(
        name=LABOUR_EXTENSION,
        F=pd.DataFrame(labour, index=stressors, columns=index),
        unit=pd.DataFrame({"unit": list(economy.labour_units)}, index=stressors),
    )
    return io
