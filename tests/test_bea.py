"""BEA input-output tables -> Economy: hand-checked small tables and the real 2017 tables."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.economy.bea import (
    LABOUR_KIND,
    load_bea_supply_use,
    load_bea_use_make,
    write_bea_needs,
)
from councilplan.economy.errors import EconomyError

SUMMARY_USE = "BEA_Summary_Use_2017_PRO_BeforeRedef.csv"
SUMMARY_MAKE = "BEA_Summary_Make_2017_BeforeRedef.csv"
DETAIL_USE = "BEA_Detail_Use_SUT_2017_17sch.csv"
DETAIL_SUPPLY = "BEA_Detail_Supply_2017_17sch.csv"


def labour_values(economy) -> np.ndarray:
    from councilplan.planning.values import labour_values as solve

    return solve(economy).values


# -- small tables written by the test ------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
        out.writerow([""] + header)
        for row in rows:
            out.writerow([str(row[0])] + list(row[1:]))
    return path


# The total rows and columns of a Use+Make pair in BEA's two layouts: names (the summary
# tables) and codes (the detail tables, and the summary ones of some releases).
LAYOUTS = {
    "names": {
        "intermediate_row": "Total Intermediate",
        "intermediate_column": "Total Intermediate",
        "final": "Total Final Uses (GDP)",
        "commodity_output": "Total Commodity Output",
        "industry_output": "Total Industry Output",
        "value_added": ["V001", "V002", "V003", "Total Value Added"],
    },
    "codes": {
        "intermediate_row": "T005",
        "intermediate_column": "T001",
        "final": "T004",
        "commodity_output": "T007",
        "industry_output": "T008",
        "value_added": ["V00100", "V00200", "V00300", "T006"],
    },
}


def summary_tables(directory: Path, u, v, comp, final, layout="names") -> tuple[Path, Path]:
    """Write a use and make table for industries i*, commodities c*, in ``layout``."""
    names = LAYOUTS[layout]
    directory.mkdir(parents=True, exist_ok=True)
    u, v, final, comp = np.asarray(u), np.asarray(v), np.asarray(final), np.asarray(comp)
    n_com, n_ind = u.shape
    coms = [f"c{i}" for i in range(n_com)]
    inds = [f"i{j}" for j in range(n_ind)]
    q, g = v.sum(axis=0), v.sum(axis=1)
    if layout == "names":
        fd_codes = [f"F0{k}0" for k in range(final.shape[1])]
    else:
        fd_codes = [f"F0{k}000" for k in range(final.shape[1])]
    header = inds + [names["intermediate_column"]] + fd_codes + [names["final"]]
    header += [names["commodity_output"]]
    rows = []
    for i, c in enumerate(coms):
        tf = final[i].sum()
        rows.append([c, *u[i], u[i].sum(), *final[i], tf, q[i]])
    blanks = [0] * (len(fd_codes) + 3)
    rows.append([names["intermediate_row"], *u.sum(axis=0), *blanks])
    value_added = g - u.sum(axis=0)
    taxes = np.zeros_like(comp)
    for code, values in zip(
        names["value_added"], [comp, taxes, value_added - comp, value_added], strict=True
    ):
        rows.append([code, *values, *blanks])
    rows.append([names["industry_output"], *g, *blanks])
    use = write_csv(directory / "use.csv", header, rows)
    make_rows = [[ind, *v[j], g[j]] for j, ind in enumerate(inds)]
    make_rows.append([names["commodity_output"], *q, q.sum()])
    make_header = coms + [names["industry_output"]]
    make = write_csv(directory / "make.csv", make_header, make_rows)
    return use, make


def edit_cell(src: Path, dst: Path, row: str, column: str, value: str) -> Path:
    with src.open(newline="") as f:
        lines = list(csv.reader(f))
    j = lines[0].index(column)
    (i,) = [k for k, line in enumerate(lines) if line[0] == row]
    lines[i][j] = value
    with dst.open("w", newline="") as f:
        csv.writer(f).writerows(lines)
    return dst


HAND_U = [[10, 5], [20, 10]]  # commodities x industries
HAND_V = [[90, 10], [0, 50]]  # industries x commodities: q = (90, 60), g = (100, 50)
HAND_COMP = [40, 20]
HAND_FINAL = [[50, 25], [20, 10]]  # q - U 1 = (75, 30)


def test_hand_computed_industry_technology(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    tables = load_bea_use_make(use, make)
    economy = tables.economy
    # B = U/g = [[.1, .1], [.2, .2]]; D = V/q = [[1, 1/6], [0, 5/6]]; A = B D.
    np.testing.assert_allclose(economy.input_matrix().toarray(), [[0.1, 0.1], [0.2, 0.2]])
    # l = (comp/g) D = (.4, .4) D
    np.testing.assert_allclose(economy.labour_per_unit()[0], [0.4, 0.4])
    assert list(economy.product_ids) == ["c0", "c1"]
    assert list(economy.technique_ids) == ["c0", "c1"]
    assert list(economy.labour_ids) == [LABOUR_KIND]
    assert list(tables.commodity_output) == [90, 60]
    assert list(tables.industry_output) == [100, 50]
    assert list(tables.final_demand.columns) == ["F000", "F010"]
    assert tables.report.identity_residuals == ()
    assert tables.report.negative_coefficients == ()


def test_make_table_rows_in_another_order_give_the_same_economy(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    lines = list(csv.reader(make.open(newline="")))
    lines[1], lines[2] = lines[2], lines[1]
    with (tmp_path / "make2.csv").open("w", newline="") as f:
        csv.writer(f).writerows(lines)
    swapped = load_bea_use_make(use, tmp_path / "make2.csv").economy
    original = load_bea_use_make(use, make).economy
    assert (swapped.inputs != original.inputs).nnz == 0
    np.testing.assert_array_equal(swapped.labour, original.labour)


def test_zero_output_commodity_is_dropped_and_reported(tmp_path):
    u = [[10, 5], [20, 10], [7, 0]]
    v = [[90, 10, 0], [0, 50, 0]]
    use, make = summary_tables(tmp_path, u, v, HAND_COMP, [[50, 10], [15, 0], [3, 0]])
    tables = load_bea_use_make(use, make)
    assert list(tables.economy.product_ids) == ["c0", "c1"]
    (dropped,) = tables.report.dropped_commodities
    assert (dropped.code, dropped.total_use) == ("c2", 10.0)
    assert list(tables.final_demand.index) == ["c0", "c1"]
    assert any("dropped commodity c2" in line for line in tables.report.findings())


def test_negative_use_is_kept_as_a_byproduct_and_reported(tmp_path):
    u = [[10, -5], [20, 10]]
    use, make = summary_tables(tmp_path, u, HAND_V, HAND_COMP, HAND_FINAL)
    tables = load_bea_use_make(use, make)
    assert tables.economy.byproducts == {"c0"}
    assert [(e.row, e.column, e.value) for e in tables.report.negative_uses] == [("c0", "i1", -5.0)]
    a = tables.economy.input_matrix().toarray()
    assert [(e.row, e.column) for e in tables.report.negative_coefficients] == [("c0", "c1")]
    assert tables.report.negative_coefficients[0].value == pytest.approx(a[0, 1])


def test_published_total_that_disagrees_is_reported(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    edited = edit_cell(make, tmp_path / "make_bad_total.csv", "i0", "Total Industry Output", "1100")
    tables = load_bea_use_make(use, edited)
    (residual,) = tables.report.identity_residuals
    assert (residual.code, residual.published, residual.computed) == ("i0", 1100.0, 100.0)
    assert residual.difference == 1000.0
    # The economy is built from the cells, not the published total.
    np.testing.assert_allclose(tables.industry_output, [100, 50])


def test_suppressed_cells_read_as_zero(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, [[90, 0], [0, 50]], HAND_COMP, HAND_FINAL)
    edited = edit_cell(make, tmp_path / "make_dots.csv", "i0", "c1", "...")
    tables = load_bea_use_make(use, edited)
    assert tables.report.suppressed_cells == 1
    plain = load_bea_use_make(use, make).economy
    assert (tables.economy.inputs != plain.inputs).nnz == 0


@pytest.mark.parametrize(
    ("row", "column", "value", "shown"),
    [
        ("c1", "i0", "abc", "'abc'"),
        ("c0", "Total Commodity Output", "", "empty"),
        ("Total Industry Output", "i1", "12x", "'12x'"),
    ],
)
def test_bad_cell_names_file_row_and_column(tmp_path, row, column, value, shown):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    bad = edit_cell(use, tmp_path / "use_bad.csv", row, column, value)
    with pytest.raises(EconomyError) as info:
        load_bea_use_make(bad, make)
    message = str(info.value)
    assert "use_bad.csv" in message and repr(row) in message and repr(column) in message
    assert shown in message
    assert info.value.where.id == row and info.value.where.field == column


def test_industry_missing_from_make_table_is_named(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    text = make.read_text().replace('"i1"', '"i9"')
    (tmp_path / "make_renamed.csv").write_text(text)
    with pytest.raises(EconomyError, match="industry 'i1'"):
        load_bea_use_make(use, tmp_path / "make_renamed.csv")


def test_wrong_table_is_refused_with_the_missing_code(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    with pytest.raises(EconomyError, match="no row 'Total Intermediate'"):
        load_bea_use_make(make, make)
    with pytest.raises(EconomyError, match="file not found"):
        load_bea_use_make(tmp_path / "nowhere.csv", make)


def test_needs_files_are_read_by_the_planning_engine(tmp_path):
    from councilplan.planning.needs import read_needs

    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL)
    tables = load_bea_use_make(use, make)
    written = write_bea_needs(tables, tmp_path / "needs")
    assert sorted(written) == ["F000", "F010", "domestic", "total"]
    total = read_needs(written["total"], tables.economy).total
    np.testing.assert_array_equal(total, [75, 30])
    domestic = read_needs(written["domestic"], tables.economy).total
    np.testing.assert_array_equal(domestic, [75, 30])  # q - U 1


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(0, 30), min_size=n, max_size=n), min_size=n, max_size=n),
            st.lists(st.lists(st.integers(0, 200), min_size=n, max_size=n), min_size=n, max_size=n),
            st.lists(st.integers(0, 100), min_size=n, max_size=n),
        )
    )
)
def test_planning_for_domestic_final_uses_reproduces_commodity_output(data):
    u, v, comp = (np.asarray(x) for x in data)
    n = len(comp)
    v = v + np.eye(n, dtype=int) * 100  # every commodity made, every industry active
    u = np.minimum(u, 30)  # at most 30 of 100+ per industry: a productive economy
    with tempfile.TemporaryDirectory() as tmp:
        use, make = summary_tables(Path(tmp), u, v, comp, np.ones((n, 1), dtype=int))
        tables = load_bea_use_make(use, make)
    a = tables.economy.input_matrix().toarray()
    x = np.linalg.solve(np.eye(n) - a, tables.domestic_final_uses.to_numpy())
    np.testing.assert_allclose(x, tables.commodity_output.to_numpy(), rtol=1e-9)
    assert np.all(tables.economy.labour >= 0)


# -- the code layout: totals named by codes (T005, V00100, T008, T001, T004, T007) ---------

# Three commodities, the last with no domestic output, and a negative use (scrap).
CODE_U = [[10, -5, 2], [20, 10, 4], [7, 0, 1]]
CODE_V = [[90, 10, 0], [0, 50, 0], [5, 0, 0]]
CODE_COMP = [40, 20, 3]
CODE_FINAL = [[50, 25], [20, 10], [3, 0]]


def assert_same_tables(a, b) -> None:
    """The same economy, demand, outputs and report, whatever the layout of the files."""
    ea, eb = a.economy, b.economy
    assert list(ea.product_ids) == list(eb.product_ids)
    assert list(ea.technique_ids) == list(eb.technique_ids)
    np.testing.assert_array_equal(ea.technique_product, eb.technique_product)
    assert (ea.inputs != eb.inputs).nnz == 0
    np.testing.assert_array_equal(ea.labour, eb.labour)
    assert list(ea.labour_ids) == list(eb.labour_ids)
    assert list(ea.product_units) == list(eb.product_units)
    assert ea.byproducts == eb.byproducts
    np.testing.assert_array_equal(a.final_demand.to_numpy(), b.final_demand.to_numpy())
    for field in ("total_final_uses", "domestic_final_uses", "commodity_output"):
        pd.testing.assert_series_equal(getattr(a, field), getattr(b, field))
    pd.testing.assert_series_equal(a.industry_output, b.industry_output)
    assert a.report == b.report


def test_code_layout_gives_the_economy_of_the_names_layout(tmp_path):
    args = (CODE_U, CODE_V, CODE_COMP, CODE_FINAL)
    by_names = load_bea_use_make(*summary_tables(tmp_path / "names", *args))
    use, make = summary_tables(tmp_path / "codes", *args, layout="codes")
    header = use.read_text().splitlines()[0]
    assert '"T001"' in header and "Total" not in header and "Total" not in make.read_text()
    by_codes = load_bea_use_make(use, make)
    assert_same_tables(by_codes, by_names)
    assert list(by_codes.economy.product_ids) == ["c0", "c1"]
    assert [d.code for d in by_codes.report.dropped_commodities] == ["c2"]
    assert by_codes.economy.byproducts == {"c0"}
    assert list(by_codes.final_demand.columns) == ["F00000", "F01000"]
    # l = (comp/g) D, comp/g = (.4, .4, .6), q = (95, 60): c0 = (.4 * 90 + .6 * 5) / 95
    np.testing.assert_allclose(by_codes.economy.labour_per_unit()[0], [39 / 95, 0.4])


def test_code_layout_published_total_that_disagrees_is_reported(tmp_path):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL, layout="codes")
    edited = edit_cell(make, tmp_path / "make_bad_total.csv", "i0", "T008", "1100")
    (residual,) = load_bea_use_make(use, edited).report.identity_residuals
    assert (residual.code, residual.published, residual.computed) == ("i0", 1100.0, 100.0)


def drop_line(src: Path, dst: Path, *, row: str | None = None, column: str | None = None) -> Path:
    """Copy a table without one row or one column."""
    with src.open(newline="") as f:
        lines = list(csv.reader(f))
    if row is not None:
        lines = [line for line in lines if line[0] != row]
    if column is not None:
        j = lines[0].index(column)
        lines = [line[:j] + line[j + 1 :] for line in lines]
    with dst.open("w", newline="") as f:
        csv.writer(f).writerows(lines)
    return dst


@pytest.mark.parametrize(
    ("table", "row", "column", "named"),
    [
        ("use", "T005", None, "row 'Total Intermediate' (T005)"),
        ("use", None, "T001", "column 'Total Intermediate' (T001)"),
        ("use", None, "T004", "column 'Total Final Uses (GDP)' (T004)"),
        ("use", None, "T007", "column 'Total Commodity Output' (T007)"),
        ("use", "V00100", None, "row 'V001' (V00100)"),
        ("use", "T008", None, "row 'Total Industry Output' (T008)"),
        ("make", "T007", None, "row 'Total Commodity Output' (T007)"),
        ("make", None, "T008", "column 'Total Industry Output' (T008)"),
    ],
)
def test_code_layout_missing_total_is_named_in_both_layouts(tmp_path, table, row, column, named):
    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL, layout="codes")
    source = use if table == "use" else make
    broken = drop_line(source, tmp_path / "broken.csv", row=row, column=column)
    pair = (broken, make) if table == "use" else (use, broken)
    with pytest.raises(EconomyError) as info:
        load_bea_use_make(*pair)
    message = str(info.value)
    assert f"no {named};" in message and str(broken) in message
    assert "\n" not in message


# -- the real BEA 2017 tables --------------------------------------------------------------


@pytest.fixture(scope="module")
def summary(bea_dir):
    return load_bea_use_make(bea_dir / SUMMARY_USE, bea_dir / SUMMARY_MAKE)


@pytest.fixture(scope="module")
def detail(bea_dir):
    return load_bea_supply_use(bea_dir / DETAIL_SUPPLY, bea_dir / DETAIL_USE)


def pymrio_multipliers(tables) -> np.ndarray:
    """Labour multipliers by pymrio from the same matrices: Z = A diag(q), x = q, F = l q."""
    pymrio = pytest.importorskip("pymrio")
    economy = tables.economy
    q = tables.commodity_output.to_numpy()
    a = economy.input_matrix().toarray()
    index = pd.MultiIndex.from_product([["US"], list(economy.product_ids)])
    index.names = ["region", "sector"]
    y_columns = pd.MultiIndex.from_product([["US"], list(tables.final_demand.columns)])
    y_columns.names = ["region", "category"]
    io = pymrio.IOSystem(
        Z=pd.DataFrame(a * q, index=index, columns=index),
        Y=pd.DataFrame(tables.final_demand.to_numpy(), index=index, columns=y_columns),
        x=pd.DataFrame({"indout": q}, index=index),
    )
    io.labour = pymrio.Extension(
        "labour",
        F=pd.DataFrame(economy.labour_per_unit() * q, index=["compensation"], columns=index),
    )
    io.calc_all()
    return io.labour.M.to_numpy()[0]


def test_summary_2017_has_all_73_commodities(summary):
    economy = summary.economy
    assert economy.n_products == 73 and economy.single_technique
    assert summary.report.dropped_commodities == ()
    assert "Used" in economy.product_ids and "Other" in economy.product_ids
    assert list(summary.final_demand.columns[:3]) == ["F010", "F02S", "F02E"]
    assert len(summary.final_demand.columns) == 20
    assert economy.product_units[0] == "USD (millions, 2017)"
    assert summary.final_demand.loc["111CA", "F050"] == -41297  # imports are negative


def test_summary_2017_reports_its_13_negative_coefficients(summary):
    negatives = summary.report.negative_coefficients
    assert len(negatives) == 13
    a = summary.economy.input_matrix().toarray()
    ids = list(summary.economy.product_ids)
    for e in negatives:
        assert a[ids.index(e.row), ids.index(e.column)] == e.value < 0
    assert int((a < 0).sum()) == 13
    assert summary.economy.byproducts == {e.row for e in negatives} == {"111CA", "212", "Used"}
    # They come from 8 negative uses (scrap, used goods, government sales) and 1 negative make.
    uses = [(e.row, e.column, e.value) for e in summary.report.negative_uses]
    assert ("111CA", "GFGN", -198.0) in uses
    assert len(summary.report.negative_uses) == 8
    assert [(e.row, e.column, e.value) for e in summary.report.negative_makes] == [
        ("GSLE", "524", -77.0)
    ]


def test_summary_2017_total_final_uses_reproduce_output(summary):
    # Published totals are rounded to whole millions: net final uses (imports subtracted)
    # agree with q - U 1 to a few millions.
    difference = summary.total_final_uses - summary.domestic_final_uses
    assert difference.abs().max() <= 10
    a = summary.economy.input_matrix().toarray()
    x = np.linalg.solve(np.eye(73) - a, summary.domestic_final_uses.to_numpy())
    np.testing.assert_allclose(x, summary.commodity_output.to_numpy(), rtol=1e-9)


def test_detail_2017_drops_commodities_without_domestic_output(detail, bea_dir):
    economy = detail.economy
    dropped = {d.code: d.total_use for d in detail.report.dropped_commodities}
    assert set(dropped) == {"4200ID", "S00300", "S00402"}  # unused code, imports, used goods
    assert economy.n_products == 402 - 3 == 399
    use = pd.read_csv(bea_dir / DETAIL_USE, index_col=0)
    for code in ("S00300", "S00402"):
        assert dropped[code] == pytest.approx(use.loc[code, "T019"], abs=10)
    assert detail.report.idle_industries == ("4200ID",)
    assert detail.report.zero_labour_products == ("531HSO",)  # owner-occupied housing
    assert len(detail.report.negative_coefficients) > 0
    assert detail.economy.byproducts == {e.row for e in detail.report.negative_coefficients}
    assert list(detail.final_demand.columns[:2]) == ["F01000", "F02E00"]


def test_summary_2017_labour_at_output_is_total_compensation(summary, bea_dir):
    use = pd.read_csv(bea_dir / SUMMARY_USE, index_col=0)
    compensation = use.loc["V001", : use.columns[use.columns.get_loc("Total Intermediate") - 1]]
    paid = summary.economy.labour_per_unit()[0] @ summary.commodity_output.to_numpy()
    assert paid == pytest.approx(compensation.sum(), rel=1e-12)


def test_detail_2017_domestic_final_uses_reproduce_output(detail):
    a = detail.economy.input_matrix().toarray()
    n = detail.economy.n_products
    x = np.linalg.solve(np.eye(n) - a, detail.domestic_final_uses.to_numpy())
    np.testing.assert_allclose(x, detail.commodity_output.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("which", ["summary", "detail"])
def test_labour_values_agree_with_pymrio_multipliers(which, request):
    tables = request.getfixturevalue(which)
    ours = labour_values(tables.economy)
    theirs = pymrio_multipliers(tables)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert np.all(ours > 0) and np.all(ours <= 1 + 1e-9)  # compensation per dollar of output


@pytest.mark.parametrize(
    ("table", "row", "column", "value"),
    [
        (SUMMARY_USE, "22", "211", "abc"),
        (SUMMARY_MAKE, "211", "Total Industry Output", ""),
        (DETAIL_SUPPLY, "111200", "T007", ""),
        (DETAIL_USE, "V00100", "111200", "abc"),
    ],
)
def test_bad_cell_in_a_real_table_names_file_row_and_column(
    bea_dir, tmp_path, table, row, column, value
):
    bad = edit_cell(bea_dir / table, tmp_path / table, row, column, value)
    paths = {
        SUMMARY_USE: lambda: load_bea_use_make(bad, bea_dir / SUMMARY_MAKE),
        SUMMARY_MAKE: lambda: load_bea_use_make(bea_dir / SUMMARY_USE, bad),
        DETAIL_SUPPLY: lambda: load_bea_supply_use(bad, bea_dir / DETAIL_USE),
        DETAIL_USE: lambda: load_bea_supply_use(bea_dir / DETAIL_SUPPLY, bad),
    }
    with pytest.raises(EconomyError) as info:
        paths[table]()
    message = str(info.value)
    assert str(bad) in message
    assert repr(row) in message and repr(column) in message
    assert (info.value.where.id, info.value.where.field) == (row, column)


def test_real_needs_files(summary, tmp_path):
    written = write_bea_needs(summary, tmp_path)
    assert {"F010", "F050", "total", "domestic"} <= set(written)
    frame = pd.read_csv(written["total"], dtype={"product": str})
    assert list(frame.columns) == ["product", "amount"]
    assert list(frame["product"]) == list(summary.economy.product_ids)
    assert frame.set_index("product")["amount"]["211"] == -111219  # net importer of oil


# -- a detail-size Use+Make pair in the code layout, derived from the 2017 SUT ------------


def detail_use_make_from_sut(bea_dir: Path, directory: Path) -> tuple[Path, Path]:
    """Rewrite the detail Supply and Use (SUT) tables as a Use+Make pair in the code layout.

    BEA's detail Make table is not in ../shared/data; its block is the Supply table's
    industry block transposed (industries as rows, commodities as columns), its totals the
    Supply table's T007 (commodity output) and T017 (industry output, written as T008). The
    Use table keeps the SUT's commodities, industries, T001, final uses and T005, adds T004
    (the final uses' sum) and T007 (its total use T019), and renames its value-added rows at
    basic prices, those that add up to industry output: V00100, T00OTOP -> V00200, V00300,
    VABAS -> T006, T018 -> T008. Cells are copied as text, unchanged.
    """
    read = {"index_col": 0, "dtype": str, "keep_default_na": False}
    supply = pd.read_csv(bea_dir / DETAIL_SUPPLY, **read)
    use = pd.read_csv(bea_dir / DETAIL_USE, **read)
    commodities = list(supply.index[: supply.index.get_loc("T017")])
    industries = list(supply.columns[: supply.columns.get_loc("T007")])

    make = supply.loc[commodities, industries].T
    make["T008"] = supply.loc["T017", industries]
    total = pd.to_numeric(make["T008"]).sum()
    make.loc["T007"] = [*supply.loc[commodities, "T007"], str(total)]

    final = list(use.columns[use.columns.get_loc("T001") + 1 : use.columns.get_loc("T019")])
    renamed = {"T00OTOP": "V00200", "VABAS": "T006", "T018": "T008"}
    rows = [*use.index[: use.index.get_loc("T005") + 1], "V00100", "T00OTOP", "V00300"]
    rows += ["VABAS", "T018"]
    new = use.loc[rows, [*industries, "T001", *final]].rename(index=renamed)
    numbers = use.loc[rows, final].apply(pd.to_numeric)
    new["T004"] = numbers.sum(axis=1).astype(int).astype(str)
    new["T007"] = use.loc[rows, "T019"]
    new.loc[new.index[len(commodities) :], ["T004", "T007"]] = "0"
    use_path, make_path = directory / "Use_Detail_codes.csv", directory / "Make_Detail_codes.csv"
    new.to_csv(use_path, quoting=csv.QUOTE_NONNUMERIC)
    make.to_csv(make_path, quoting=csv.QUOTE_NONNUMERIC)
    return use_path, make_path


@pytest.fixture(scope="module")
def detail_pair(bea_dir, tmp_path_factory):
    return detail_use_make_from_sut(bea_dir, tmp_path_factory.mktemp("detail_use_make"))


@pytest.fixture(scope="module")
def detail_use_make(detail_pair):
    return load_bea_use_make(*detail_pair)


@pytest.mark.shared_data
def test_detail_use_make_pair_is_in_the_code_layout(detail_pair):
    use, make = (pd.read_csv(path, index_col=0, nrows=0) for path in detail_pair)
    use_rows = pd.read_csv(detail_pair[0], index_col=0, usecols=[0]).index
    make_rows = pd.read_csv(detail_pair[1], index_col=0, usecols=[0]).index
    assert list(use.columns[-2:]) == ["T004", "T007"] and "T001" in use.columns
    assert list(use_rows[-6:]) == ["T005", "V00100", "V00200", "V00300", "T006", "T008"]
    assert make.columns[-1] == "T008" and make_rows[-1] == "T007"
    assert len(make.columns) - 1 == len(use_rows) - 6 == 402  # commodities
    assert len(make_rows) - 1 == 402  # industries


@pytest.mark.shared_data
def test_detail_use_make_gives_the_sut_economy(detail_use_make, detail):
    assert detail_use_make.economy.n_products == 399
    dropped = {d.code for d in detail_use_make.report.dropped_commodities}
    assert dropped == {"4200ID", "S00300", "S00402"}
    a, b = detail_use_make.economy, detail.economy
    assert list(a.product_ids) == list(b.product_ids)
    assert abs(a.inputs - b.inputs).max() == 0
    np.testing.assert_array_equal(a.labour, b.labour)
    assert a.byproducts == b.byproducts
    pd.testing.assert_series_equal(detail_use_make.commodity_output, detail.commodity_output)
    pd.testing.assert_series_equal(detail_use_make.domestic_final_uses, detail.domestic_final_uses)


@pytest.mark.shared_data
def test_detail_use_make_labour_values_agree_with_pymrio(detail_use_make):
    ours = labour_values(detail_use_make.economy)
    theirs = pymrio_multipliers(detail_use_make)
    assert len(ours) == 399
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert np.all(ours > 0) and np.all(ours <= 1 + 1e-9)


# -- the command line ----------------------------------------------------------------------


def test_cli_imports_summary_tables(bea_dir, tmp_path):
    from typer.testing import CliRunner

    from councilplan.cli import app
    from councilplan.economy.bundle import read_bundle

    out = tmp_path / "us2017"
    args = ["import", "bea", "--use", str(bea_dir / SUMMARY_USE)]
    args += ["--make", str(bea_dir / SUMMARY_MAKE), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "negative coefficients" in result.output and "13" in result.output
    economy = read_bundle(out)
    assert economy.n_products == 73
    assert economy.byproducts == {"111CA", "212", "Used"}
    assert (out / "needs" / "F010.csv").is_file() and (out / "needs" / "total.csv").is_file()


def test_cli_bad_cell_exits_2_naming_file_row_and_column(bea_dir, tmp_path):
    from typer.testing import CliRunner

    from councilplan.cli import app

    bad = edit_cell(bea_dir / DETAIL_USE, tmp_path / DETAIL_USE, "V00100", "111200", "abc")
    args = ["import", "bea", "--use", str(bad), "--supply", str(bea_dir / DETAIL_SUPPLY)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    output = "".join(result.output.split())  # Rich wraps long lines, even inside names
    assert DETAIL_USE in output and "'V00100'" in output and "'111200'" in output


def test_cli_imports_code_layout_tables(tmp_path):
    from typer.testing import CliRunner

    from councilplan.cli import app
    from councilplan.economy.bundle import read_bundle

    use, make = summary_tables(tmp_path, CODE_U, CODE_V, CODE_COMP, CODE_FINAL, layout="codes")
    out = tmp_path / "out"
    args = ["import", "bea", "--use", str(use), "--make", str(make), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    economy = read_bundle(out)
    assert list(economy.product_ids) == ["c0", "c1"] and economy.byproducts == {"c0"}
    needs = sorted(p.name for p in (out / "needs").iterdir())
    assert needs == ["F00000.csv", "F01000.csv", "domestic.csv", "total.csv"]


@pytest.mark.shared_data
def test_cli_imports_detail_use_make_pair(detail_pair, tmp_path):
    from typer.testing import CliRunner

    from councilplan.cli import app
    from councilplan.economy.bundle import read_bundle

    use, make = detail_pair
    out = tmp_path / "us2017"
    args = ["import", "bea", "--use", str(use), "--make", str(make), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert read_bundle(out).n_products == 399
    assert (out / "needs" / "domestic.csv").is_file()


@pytest.mark.parametrize(
    ("table", "row", "column", "named"),
    [
        ("use", "T005", None, "row 'Total Intermediate' (T005)"),
        ("make", None, "T008", "column 'Total Industry Output' (T008)"),
    ],
)
def test_cli_code_layout_missing_total_exits_2_with_one_line(tmp_path, table, row, column, named):
    from typer.testing import CliRunner

    from councilplan.cli import app

    use, make = summary_tables(tmp_path, HAND_U, HAND_V, HAND_COMP, HAND_FINAL, layout="codes")
    source = use if table == "use" else make
    broken = drop_line(source, tmp_path / f"broken_{table}.csv", row=row, column=column)
    pair = (broken, make) if table == "use" else (use, broken)
    out = tmp_path / "out"
    args = ["import", "bea", "--use", str(pair[0]), "--make", str(pair[1]), "--out", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})  # no wrapping by Rich
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith("error: ") and str(broken) in line and f"no {named};" in line
    assert not out.exists()  # nothing written
