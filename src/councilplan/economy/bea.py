"""Economies from the input-output tables of the US Bureau of Economic Analysis (BEA).

Two kinds of tables are read, both CSV in millions of current dollars with the row code in
the first column and the column codes in the header:

- the Use and Make tables (``load_bea_use_make``), summary or detail; their total rows and
  columns are named ("Total Intermediate", as in the summary tables) or coded ("T005", as in
  the detail tables), and
- the detail supply-use tables (``load_bea_supply_use``): Use at purchasers' prices and
  Supply (domestic output at basic prices, imports, margins, taxes).

Both become a commodity-by-commodity economy under the industry-technology assumption,
A = B D with B = U diag(g)^-1 and D = V diag(q)^-1 (U intermediate use, commodities x
industries; V make, industries x commodities; g = V 1 industry output; q = V' 1 commodity
output). Direct labour is compensation of employees per dollar of output, l = (comp/g) D.
The long story (imports, margins, what is dropped and why) is in docs/loaders.md.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from councilplan.economy.errors import EconomyError
from councilplan.economy.model import Economy, make_economy
from councilplan.errors import Where

PRODUCT_UNIT = "USD (millions, 2017)"
LABOUR_KIND = "compensation"
LABOUR_NAME = "compensation of employees"
LABOUR_UNIT = "USD of compensation (millions, 2017)"

# BEA prints "..." where a value is suppressed or not applicable; inside a table's blocks
# it stands for nothing recorded, so it is read as 0 (and counted in the report).
SUPPRESSED = "..."


# -- what a load found --------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One cell of a table: its row code, column code and value."""

    row: str
    column: str
    value: float


@dataclass(frozen=True)
class DroppedCommodity:
    """A commodity with no domestic output, left out of the products.

    ``total_use`` is its intermediate plus final use, in USD millions, as the use table has it.
    """

    code: str
    total_use: float
    reason: str


@dataclass(frozen=True)
class IdentityResidual:
    """A published total that differs from the sum computed from the cells (USD millions)."""

    identity: str
    code: str
    published: float
    computed: float

    @property
    def difference(self) -> float:
        return self.published - self.computed


@dataclass(frozen=True)
class BeaReport:
    """What a load found in the tables, for a user to read before trusting the economy.

    Attributes:
        negative_coefficients: input coefficients of A below zero: (input product, product
            using it, USD per USD of output).
        negative_uses: negative cells of the intermediate use block (commodity, industry,
            USD millions): scrap, used goods, government sales.
        negative_makes: negative cells of the make (supply) block (industry, commodity).
        zero_labour_products: products with no compensation of their own (a direct labour
            coefficient of 0), e.g. owner-occupied housing.
        dropped_commodities: commodities with no domestic output, left out of the products.
        idle_industries: industries with no output; their columns of U are ignored.
        identity_residuals: published totals that differ from the computed sums by more
            than the tolerance.
        suppressed_cells: cells marked "..." read as 0.
    """

    negative_coefficients: tuple[Entry, ...] = ()
    negative_uses: tuple[Entry, ...] = ()
    negative_makes: tuple[Entry, ...] = ()
    zero_labour_products: tuple[str, ...] = ()
    dropped_commodities: tuple[DroppedCommodity, ...] = ()
    idle_industries: tuple[str, ...] = ()
    identity_residuals: tuple[IdentityResidual, ...] = ()
    suppressed_cells: int = 0

    def findings(self) -> list[str]:
        """One readable line per finding (identity residuals summed up per identity)."""
        lines = []
        if self.negative_coefficients:
            shown = ", ".join(
                f"{e.row}->{e.column} {e.value:.3g}" for e in self.negative_coefficients[:10]
            )
            more = len(self.negative_coefficients) - 10
            lines.append(
                f"{len(self.negative_coefficients)} negative input coefficients "
                f"(input->product per unit): {shown}" + (f" and {more} more" if more > 0 else "")
            )
        if self.negative_uses:
            shown = ", ".join(f"{e.row} in {e.column} {e.value:g}" for e in self.negative_uses)
            lines.append(f"{len(self.negative_uses)} negative intermediate uses (USD m): {shown}")
        if self.negative_makes:
            shown = ", ".join(f"{e.row} makes {e.column} {e.value:g}" for e in self.negative_makes)
            lines.append(f"{len(self.negative_makes)} negative make entries (USD m): {shown}")
        if self.zero_labour_products:
            lines.append(
                f"{len(self.zero_labour_products)} products with no direct labour: "
                + ", ".join(self.zero_labour_products)
            )
        for d in self.dropped_commodities:
            lines.append(f"dropped commodity {d.code} ({d.reason}); total use {d.total_use:g}")
        if self.idle_industries:
            lines.append("industries with no output: " + ", ".join(self.idle_industries))
        lines.extend(self.identity_findings())
        if self.suppressed_cells:
            lines.append(f'{self.suppressed_cells} cells marked "..." read as 0')
        return lines

    def identity_findings(self) -> list[str]:
        """One line per published total that disagrees with the cells: how many, the worst."""
        by_identity: dict[str, list[IdentityResidual]] = {}
        for r in self.identity_residuals:
            by_identity.setdefault(r.identity, []).append(r)
        lines = []
        for identity, rs in by_identity.items():
            worst = max(rs, key=lambda r: abs(r.difference))
            lines.append(
                f"{identity}: {len(rs)} differ, largest {worst.difference:+g} at {worst.code}"
            )
        return lines


@dataclass(frozen=True, eq=False)
class BeaTables:
    """An economy built from BEA tables, with the table's own demand and output.

    Attributes:
        economy: one technique per commodity (id = commodity code, output 1 USD million),
            direct labour in USD of compensation per USD of output.
        final_demand: products x final-demand column codes (F010.., F01000..), USD millions.
        total_final_uses: the table's total final uses per product (summary: the published
            'Total Final Uses (GDP)', net of imports F050; SUT: the sum of the final-use
            columns at purchasers' prices, gross of imports).
        domestic_final_uses: q - U 1, final uses of domestic output; planning for it
            reproduces ``commodity_output``.
        commodity_output: q, domestic output per product (USD millions, basic prices for SUT).
        industry_output: g, output per industry (USD millions).
        report: what the load found (negative coefficients, dropped commodities, residuals).
        make_shares: D, industries x products, the share of each product's output that
            each industry makes (industry technology), sparse.
        compensation_per_output: comp / g per industry (USD per USD of industry output).
    """

    economy: Economy
    final_demand: pd.DataFrame
    total_final_uses: pd.Series
    domestic_final_uses: pd.Series
    commodity_output: pd.Series
    industry_output: pd.Series
    report: BeaReport
    make_shares: sp.csr_array
    compensation_per_output: pd.Series

    def labour_by_industry(self, output) -> pd.Series:
        """Labour (USD millions of compensation) each industry gives to make ``output``
        (gross output per product, e.g. ``Plan.output``): (comp/g) * (D output)."""
        output = np.asarray(output, dtype=np.float64)
        if output.shape != (self.economy.n_products,):
            raise ValueError(f"output: expected {self.economy.n_products} numbers")
        industry = self.make_shares @ output
        return pd.Series(
            self.compensation_per_output.to_numpy() * industry,
            index=self.compensation_per_output.index,
            name="labour",
        )


# -- reading a table ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Total:
    """A total row or column (or value-added row) of a BEA table, by both of its labels.

    BEA's summary Use and Make tables label them with names, its detail tables (and the
    supply-use framework) with codes; a table is read in either layout.
    """

    name: str
    code: str

    def __str__(self) -> str:
        return f"{self.name!r} ({self.code})"


# The totals of the Use and Make tables, BEA's names and codes. The supply-use framework
# shares T001, T005 and V00100 (below).
_TOTAL_INTERMEDIATE_ROW = _Total("Total Intermediate", "T005")
_TOTAL_INTERMEDIATE_COLUMN = _Total("Total Intermediate", "T001")
_TOTAL_FINAL_USES = _Total("Total Final Uses (GDP)", "T004")
_TOTAL_COMMODITY_OUTPUT = _Total("Total Commodity Output", "T007")
_TOTAL_INDUSTRY_OUTPUT = _Total("Total Industry Output", "T008")
_COMPENSATION = _Total("V001", "V00100")


@dataclass(frozen=True)
class _Table:
    """A BEA CSV as read: row codes, column codes, cells as text (checked when converted)."""

    path: str
    rows: list[str]
    columns: list[str]
    cells: np.ndarray  # object array of str, rows x columns

    def row(self, code: str | _Total) -> int:
        """The index of the row ``code`` (a :class:`_Total` by its name or its code)."""
        i = _find(self.rows, code)
        if i is None:
            raise EconomyError(
                f"the table has no row {_shown(code)}; is this the right BEA table?",
                Where(self.path, id=_label(code)),
            )
        return i

    def column(self, code: str | _Total) -> int:
        """The index of the column ``code`` (a :class:`_Total` by its name or its code)."""
        i = _find(self.columns, code)
        if i is None:
            raise EconomyError(
                f"the table has no column {_shown(code)}; is this the right BEA table?",
                Where(self.path, field=_label(code)),
            )
        return i

    def numbers(
        self, rows: Sequence[int], cols: Sequence[int], *, block: bool
    ) -> tuple[np.ndarray, int]:
        """The cells as float64, and how many were "..." (allowed only in a ``block``).

        Raises EconomyError naming the file, row code, column code and value of a cell that
        is not a number.
        """
        text = self.cells[np.ix_(np.asarray(rows, dtype=int), np.asarray(cols, dtype=int))]
        flat = pd.Series(text.reshape(-1), dtype=object).str.strip().str.replace(",", "")
        suppressed = (flat == SUPPRESSED).to_numpy() if block else np.zeros(len(flat), bool)
        values = pd.to_numeric(flat.where(~suppressed, "0"), errors="coerce").to_numpy(
            dtype=np.float64
        )
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i, j = divmod(int(bad[0]), text.shape[1])
            r, c = rows[i], cols[j]
            value = self.cells[r, c]
            what = "is empty" if not str(value).strip() else f"is {value!r}, not a number"
            raise EconomyError(
                f"cell in row {self.rows[r]!r}, column {self.columns[c]!r} {what}; "
                "write the number in millions of dollars (0 if none)",
                Where(self.path, row=r + 1, id=self.rows[r], field=self.columns[c]),
            )
        return values.reshape(text.shape), int(suppressed.sum())


def _find(labels: list[str], code: str | _Total) -> int | None:
    """Where ``code`` is in ``labels``: a plain code, or a total by its name or its code."""
    for label in (code.name, code.code) if isinstance(code, _Total) else (code,):
        if label in labels:
            return labels.index(label)
    return None


def _shown(code: str | _Total) -> str:
    return str(code) if isinstance(code, _Total) else repr(code)


def _label(code: str | _Total) -> str:
    return code.name if isinstance(code, _Total) else code


def _read_table(path: str | Path) -> _Table:
    path = Path(path)
    name = str(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            lines = list(csv.reader(f))
    except FileNotFoundError:
        raise EconomyError("file not found", Where(name)) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise EconomyError(f"not a readable CSV file ({e})", Where(name)) from None
    lines = [line for line in lines if any(cell.strip() for cell in line)]
    if len(lines) < 2:
        raise EconomyError("the file has no data rows", Where(name))
    columns = [c.strip() for c in lines[0][1:]]
    _check_codes(columns, name, "column")
    rows, cells = [], []
    for number, line in enumerate(lines[1:], start=1):
        code = line[0].strip()
        if len(line) != len(columns) + 1:
            raise EconomyError(
                f"row {code!r} has {len(line) - 1} values but the header has {len(columns)} "
                "columns",
                Where(name, row=number, id=code),
            )
        rows.append(code)
        cells.append(line[1:])
    _check_codes(rows, name, "row")
    return _Table(name, rows, columns, np.asarray(cells, dtype=object))


def _check_codes(codes: list[str], path: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if not code:
            where = Where(path, row=i + 1) if what == "row" else Where(path, field=f"#{i + 2}")
            raise EconomyError(f"{what} {i + 1} has no code", where)
        if code in seen:
            where = Where(path, row=i + 1, id=code) if what == "row" else Where(path, field=code)
            raise EconomyError(f"{what} code {code!r} appears twice", where)
        seen[code] = i


def _same_codes(a: list[str], b: list[str], what: str, a_path: str, b_path: str) -> None:
    """Both tables must list the same codes (order may differ)."""
    missing_b = [c for c in a if c not in set(b)]
    missing_a = [c for c in b if c not in set(a)]
    if missing_b or missing_a:
        if missing_b:
            raise EconomyError(
                f"{what} {missing_b[0]!r} is in {a_path} but not in this table "
                f"({len(missing_b)} missing in all); use tables of the same year and level",
                Where(b_path, id=missing_b[0]),
            )
        raise EconomyError(
            f"{what} {missing_a[0]!r} is in this table but not in {b_path} "
            f"({len(missing_a)} missing in all); use tables of the same year and level",
            Where(a_path, id=missing_a[0]),
        )


# -- the loaders --------------------------------------------------------------------------


def load_bea_use_make(
    use_csv: str | Path, make_csv: str | Path, *, tolerance: float = 0.5
) -> BeaTables:
    """Load BEA Use and Make tables (before redefinitions), summary or detail, as an economy.

    The total rows and columns may be named, as in the summary tables ("Total Intermediate",
    "V001", "Total Final Uses (GDP)", "Total Commodity Output", "Total Industry Output"), or
    coded, as in the detail tables (T005 row and T001 column, V00100, T004, T007, T008).
    ``tolerance`` (USD millions) is the largest difference between a published total and
    the computed sum that is not reported (the tables are rounded to whole millions).
    """
    use, make = _read_table(use_csv), _read_table(make_csv)
    n_com = use.row(_TOTAL_INTERMEDIATE_ROW)
    n_ind = use.column(_TOTAL_INTERMEDIATE_COLUMN)
    commodities, industries = use.rows[:n_com], use.columns[:n_ind]
    fd_end = use.column(_TOTAL_FINAL_USES)
    fd_cols = list(range(n_ind + 1, fd_end))
    make_ind_end = make.row(_TOTAL_COMMODITY_OUTPUT)
    make_com_end = make.column(_TOTAL_INDUSTRY_OUTPUT)
    _same_codes(industries, make.rows[:make_ind_end], "industry", use.path, make.path)
    _same_codes(commodities, make.columns[:make_com_end], "commodity", use.path, make.path)

    com_rows = list(range(n_com))
    ind_cols = list(range(n_ind))
    u, s1 = use.numbers(com_rows, ind_cols, block=True)
    make_rows = [make.rows.index(c) for c in industries]
    make_cols = [make.columns.index(c) for c in commodities]
    v, s2 = make.numbers(make_rows, make_cols, block=True)
    fd, s3 = use.numbers(com_rows, fd_cols, block=True)
    comp = use.numbers([use.row(_COMPENSATION)], ind_cols, block=True)[0][0]

    def total_column(table: _Table, rows: list[int], code: _Total) -> np.ndarray:
        return table.numbers(rows, [table.column(code)], block=False)[0][:, 0]

    def total_row(table: _Table, code: _Total, cols: list[int]) -> np.ndarray:
        return table.numbers([table.row(code)], cols, block=False)[0][0]

    codes = use.columns[n_ind] == _TOTAL_INTERMEDIATE_COLUMN.code  # the detail tables' layout
    total_final = total_column(use, com_rows, _TOTAL_FINAL_USES)
    commodity_output = total_column(use, com_rows, _TOTAL_COMMODITY_OUTPUT)
    published = [
        ("Total Commodity Output (use) vs make column sums", commodities,
         commodity_output, v.sum(axis=0)),
        ("Total Commodity Output (make) vs make column sums", commodities,
         total_row(make, _TOTAL_COMMODITY_OUTPUT, make_cols), v.sum(axis=0)),
        ("Total Industry Output (make) vs make row sums", industries,
         total_column(make, make_rows, _TOTAL_INDUSTRY_OUTPUT), v.sum(axis=1)),
        ("Total Industry Output (use) vs make row sums", industries,
         total_row(use, _TOTAL_INDUSTRY_OUTPUT, ind_cols), v.sum(axis=1)),
        ("Total Intermediate (column) vs use row sums", commodities,
         total_column(use, com_rows, _TOTAL_INTERMEDIATE_COLUMN), u.sum(axis=1)),
        ("Total Intermediate (row) vs use column sums", industries,
         total_row(use, _TOTAL_INTERMEDIATE_ROW, ind_cols), u.sum(axis=0)),
        ("Total Final Uses (GDP) vs final-use column sums", commodities,
         total_final, fd.sum(axis=1)),
        ("Total Commodity Output (use) vs intermediate + final uses", commodities,
         commodity_output, u.sum(axis=1) + total_final),
    ]  # fmt: skip
    return _build(
        u=u,
        v=v,
        comp=comp,
        final_demand=fd,
        final_codes=[use.columns[c] for c in fd_cols],
        total_final=total_final,
        commodities=commodities,
        industries=industries,
        published=published,
        suppressed=s1 + s2 + s3,
        tolerance=tolerance,
        name="bea-use-make" if codes else "bea-summary",
        description=(
            f"BEA {'' if codes else 'summary '}use and make tables "
            f"({Path(use.path).name}, {Path(make.path).name}), "
            "commodity by commodity, industry-technology assumption"
        ),
        source=use.path,
    )


# Codes of the detail supply table's columns after the industries, and the use table's
# rows after the commodities (BEA's SUT framework, 2017 release).
_SUPPLY_TOTAL_OUTPUT = "T007"
_SUPPLY_TOTAL_SUPPLY = "T016"
_SUPPLY_INDUSTRY_OUTPUT = "T017"
_USE_TOTAL_INTERMEDIATE_COLUMN = _TOTAL_INTERMEDIATE_COLUMN.code
_USE_TOTAL_INTERMEDIATE_ROW = _TOTAL_INTERMEDIATE_ROW.code
_USE_TOTAL_USE = "T019"
_USE_INDUSTRY_OUTPUT = "T018"
_USE_COMPENSATION = _COMPENSATION.code


def load_bea_supply_use(
    supply_csv: str | Path, use_csv: str | Path, *, tolerance: float = 0.5
) -> BeaTables:
    """Load the BEA detail supply-use tables (SUT framework) as an economy.

    The make table is the supply table's industry block transposed; commodity output q is
    domestic output at basic prices. ``tolerance`` as for :func:`load_bea_use_make`.
    """
    supply, use = _read_table(supply_csv), _read_table(use_csv)
    n_com = supply.row(_SUPPLY_INDUSTRY_OUTPUT)
    n_ind = supply.column(_SUPPLY_TOTAL_OUTPUT)
    commodities, industries = supply.rows[:n_com], supply.columns[:n_ind]
    use_com_end = use.row(_USE_TOTAL_INTERMEDIATE_ROW)
    use_ind_end = use.column(_USE_TOTAL_INTERMEDIATE_COLUMN)
    _same_codes(commodities, use.rows[:use_com_end], "commodity", supply.path, use.path)
    _same_codes(industries, use.columns[:use_ind_end], "industry", supply.path, use.path)
    total_use_col = use.column(_USE_TOTAL_USE)
    fd_cols = list(range(use_ind_end + 1, total_use_col))

    com_rows = list(range(n_com))
    ind_cols = list(range(n_ind))
    v_t, s1 = supply.numbers(com_rows, ind_cols, block=True)
    v = v_t.T
    use_rows = [use.rows.index(c) for c in commodities]
    use_cols = [use.columns.index(c) for c in industries]
    u, s2 = use.numbers(use_rows, use_cols, block=True)
    fd, s3 = use.numbers(use_rows, fd_cols, block=True)
    comp = use.numbers([use.row(_USE_COMPENSATION)], use_cols, block=True)[0][0]

    def col(table: _Table, rows: list[int], code: str) -> np.ndarray:
        return table.numbers(rows, [table.column(code)], block=False)[0][:, 0]

    def row(table: _Table, code: str, cols: list[int]) -> np.ndarray:
        return table.numbers([table.row(code)], cols, block=False)[0][0]

    total_use = col(use, use_rows, _USE_TOTAL_USE)
    intermediate = col(use, use_rows, _USE_TOTAL_INTERMEDIATE_COLUMN)
    published = [
        (f"{_SUPPLY_TOTAL_OUTPUT} total domestic output vs supply row sums", commodities,
         col(supply, com_rows, _SUPPLY_TOTAL_OUTPUT), v.sum(axis=0)),
        (f"{_SUPPLY_INDUSTRY_OUTPUT} industry output (supply) vs supply column sums", industries,
         row(supply, _SUPPLY_INDUSTRY_OUTPUT, ind_cols), v.sum(axis=1)),
        (f"{_USE_INDUSTRY_OUTPUT} industry output (use) vs supply column sums", industries,
         row(use, _USE_INDUSTRY_OUTPUT, use_cols), v.sum(axis=1)),
        (f"{_USE_TOTAL_INTERMEDIATE_COLUMN} total intermediate vs use row sums", commodities,
         intermediate, u.sum(axis=1)),
        (f"{_USE_TOTAL_INTERMEDIATE_ROW} total intermediate vs use column sums", industries,
         row(use, _USE_TOTAL_INTERMEDIATE_ROW, use_cols), u.sum(axis=0)),
        (f"{_USE_TOTAL_USE} total use vs {_USE_TOTAL_INTERMEDIATE_COLUMN} + final uses",
         commodities, total_use, intermediate + fd.sum(axis=1)),
        (f"{_SUPPLY_TOTAL_SUPPLY} total supply vs {_USE_TOTAL_USE} total use", commodities,
         col(supply, com_rows, _SUPPLY_TOTAL_SUPPLY), total_use),
    ]  # fmt: skip
    return _build(
        u=u,
        v=v,
        comp=comp,
        final_demand=fd,
        final_codes=[use.columns[c] for c in fd_cols],
        total_final=fd.sum(axis=1),
        commodities=commodities,
        industries=industries,
        published=published,
        suppressed=s1 + s2 + s3,
        tolerance=tolerance,
        name="bea-detail-sut",
        description=(
            f"BEA detail supply-use tables ({Path(supply.path).name}, {Path(use.path).name}), "
            "commodity by commodity, industry-technology assumption; use at purchasers' "
            "prices, output at basic prices"
        ),
        source=use.path,
    )


def _build(
    *,
    u: np.ndarray,
    v: np.ndarray,
    comp: np.ndarray,
    final_demand: np.ndarray,
    final_codes: list[str],
    total_final: np.ndarray,
    commodities: list[str],
    industries: list[str],
    published: list[tuple[str, list[str], np.ndarray, np.ndarray]],
    suppressed: int,
    tolerance: float,
    name: str,
    description: str,
    source: str,
) -> BeaTables:
    """A = B D, l = (comp/g) D from U (commodities x industries), V (industries x commodities)."""
    com = np.asarray(commodities, dtype=object)
    ind = np.asarray(industries, dtype=object)
    g = v.sum(axis=1)  # from V itself, so that D q = g and A q = U 1 hold exactly
    q = v.sum(axis=0)
    active = g > 0
    kept = q > 0
    total_use = u.sum(axis=1) + final_demand.sum(axis=1)
    dropped = tuple(
        DroppedCommodity(
            str(com[i]),
            float(total_use[i]),
            "no domestic output" if q[i] == 0 else f"negative domestic output {q[i]:g}",
        )
        for i in np.flatnonzero(~kept)
    )

    per_g = np.where(active, 1.0 / np.where(active, g, 1.0), 0.0)
    per_q = 1.0 / q[kept]
    b = sp.csr_array(u[kept][:, active] * per_g[active])  # kept commodities x active industries
    d = sp.csr_array(v[active][:, kept] * per_q)  # active industries x kept commodities
    a = sp.csc_array(b @ d)
    a.eliminate_zeros()
    labour = (comp[active] * per_g[active]) @ d.toarray()

    products = com[kept]
    negative = np.flatnonzero(labour < 0)
    if negative.size:
        i = int(negative[0])
        raise EconomyError(
            f"commodity {products[i]!r} gets negative direct labour {labour[i]:g} from "
            "negative make entries; correct the make (supply) table",
            Where(source, id=str(products[i]), field="labour"),
        )
    a_coo = a.tocoo()
    neg = np.flatnonzero(a_coo.data < 0)
    order = np.lexsort((a_coo.col[neg], a_coo.row[neg]))
    negative_coefficients = tuple(
        Entry(str(products[a_coo.row[k]]), str(products[a_coo.col[k]]), float(a_coo.data[k]))
        for k in neg[order]
    )
    byproducts = sorted({e.row for e in negative_coefficients})

    economy = make_economy(
        products=products,
        techniques=products,
        technique_product=np.arange(len(products)),
        inputs=a,
        labour=labour,
        product_units=[PRODUCT_UNIT] * len(products),
        labour_kinds=(LABOUR_KIND,),
        labour_names=(LABOUR_NAME,),
        labour_units=(LABOUR_UNIT,),
        byproducts=byproducts,
        name=name,
        description=description,
        source=source,
    )

    residuals = []
    for identity, codes, pub, computed in published:
        for i in np.flatnonzero(np.abs(pub - computed) > tolerance):
            residual = IdentityResidual(identity, codes[i], float(pub[i]), float(computed[i]))
            residuals.append(residual)
    report = BeaReport(
        negative_coefficients=negative_coefficients,
        negative_uses=tuple(
            Entry(str(com[i]), str(ind[j]), float(u[i, j])) for i, j in np.argwhere(u < 0)
        ),
        negative_makes=tuple(
            Entry(str(ind[i]), str(com[j]), float(v[i, j])) for i, j in np.argwhere(v < 0)
        ),
        zero_labour_products=tuple(str(p) for p in products[labour == 0]),
        dropped_commodities=dropped,
        idle_industries=tuple(str(c) for c in ind[~active]),
        identity_residuals=tuple(residuals),
        suppressed_cells=suppressed,
    )
    index = pd.Index(products.astype(str), name="product")
    return BeaTables(
        economy=economy,
        final_demand=pd.DataFrame(final_demand[kept], index=index, columns=final_codes),
        total_final_uses=pd.Series(total_final[kept], index=index, name="total"),
        domestic_final_uses=pd.Series(q[kept] - u[kept].sum(axis=1), index=index, name="domestic"),
        commodity_output=pd.Series(q[kept], index=index, name="commodity_output"),
        industry_output=pd.Series(g, index=pd.Index(ind.astype(str), name="industry"), name="g"),
        report=report,
        make_shares=sp.csr_array(v[:, kept] * per_q),
        compensation_per_output=pd.Series(
            comp * per_g, index=pd.Index(ind.astype(str), name="industry"), name="comp_per_g"
        ),
    )


# -- needs files --------------------------------------------------------------------------


def write_bea_needs(tables: BeaTables, directory: str | Path) -> dict[str, Path]:
    """Write one needs file (CSV ``product,amount``, USD millions) per final-demand column.

    Also ``total.csv`` (the table's total final uses) and ``domestic.csv`` (q - U 1, which
    planning turns back into the table's commodity output). Returns the paths by name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    columns = {code: tables.final_demand[code] for code in tables.final_demand.columns}
    columns["total"] = tables.total_final_uses
    columns["domestic"] = tables.domestic_final_uses
    written = {}
    for name, amounts in columns.items():
        path = directory / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["product", "amount"])
            for product, amount in amounts.items():
                out.writerow([product, format(float(amount) + 0.0, ".17g")])
        written[name] = path
    return written
