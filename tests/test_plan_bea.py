"""Plans on the BEA 2017 tables: the table's own final demand gives back its output.

One technique per commodity (industry technology). The needs are read from the files the
BEA loader writes (``write_bea_needs``): ``domestic.csv`` is q - U 1, the final uses of
domestic output, so the plan for it must be the table's commodity output q. The summary
``total.csv`` is the published total final uses, which include the negative import column
F050 (imports enter as a negative need: goods the economy gets without making them); it
gives back q to the rounding of the published table.
"""

from __future__ import annotations

import numpy as np
import pytest

from councilplan.planning import plan, read_needs

bea = pytest.importorskip("councilplan.economy.bea")

pytestmark = pytest.mark.shared_data

SUMMARY = ("BEA_Summary_Use_2017_PRO_BeforeRedef.csv", "BEA_Summary_Make_2017_BeforeRedef.csv")
DETAIL = ("BEA_Detail_Supply_2017_17sch.csv", "BEA_Detail_Use_SUT_2017_17sch.csv")


@pytest.fixture(scope="module")
def summary(bea_dir):
    return bea.load_bea_use_make(bea_dir / SUMMARY[0], bea_dir / SUMMARY[1])


@pytest.fixture(scope="module")
def detail(bea_dir):
    return bea.load_bea_supply_use(bea_dir / DETAIL[0], bea_dir / DETAIL[1])


@pytest.mark.parametrize("which", ["summary", "detail"])
@pytest.mark.parametrize("method", ["auto", "highs"])
def test_plan_for_domestic_final_uses_reproduces_commodity_output(which, method, request, tmp_path):
    tables = request.getfixturevalue(which)
    files = bea.write_bea_needs(tables, tmp_path)
    needs = read_needs(files["domestic"], tables.economy)
    p = plan(tables.economy, needs, method=method)
    assert p.status == "optimal"
    assert p.method == ("labour" if method == "auto" else "highs")
    q = tables.commodity_output.reindex(p.product_ids).to_numpy()
    assert np.max(np.abs(p.output - q) / np.maximum(np.abs(q), 1.0)) <= 1e-6
    # Labour (compensation) of the plan is the table's, industry by industry.
    assert p.total_labour == pytest.approx(float(tables.economy.labour[0] @ q), rel=1e-6)
    by_industry = tables.labour_by_industry(p.output)
    table_compensation = tables.compensation_per_output * tables.industry_output
    np.testing.assert_allclose(by_industry, table_compensation, rtol=1e-6, atol=1e-6)


def test_summary_total_final_uses_with_imports_give_back_output_to_table_rounding(
    summary, tmp_path
):
    files = bea.write_bea_needs(summary, tmp_path)
    needs = read_needs(files["total"], summary.economy)
    assert "F050" in summary.final_demand.columns
    imports = summary.final_demand["F050"].reindex(summary.economy.product_ids).to_numpy()
    assert imports.sum() < 0 and np.count_nonzero(imports < 0) > np.count_nonzero(imports > 0)
    p = plan(summary.economy, needs)
    q = summary.commodity_output.reindex(p.product_ids).to_numpy()
    # The published totals are rounded to whole USD millions, cell by cell.
    assert np.max(np.abs(p.output - q) / np.maximum(np.abs(q), 1.0)) <= 1e-3
    assert p.total_labour == pytest.approx(float(summary.economy.labour[0] @ q), rel=1e-4)


@pytest.mark.parametrize("which, column", [("summary", "F010"), ("detail", "F01000")])
def test_personal_consumption_alone_is_planned_with_labour_by_industry(which, column, request):
    tables = request.getfixturevalue(which)
    consumption = tables.final_demand[column]
    p = plan(tables.economy, consumption)
    assert p.status == "optimal"
    gross = p.output + abs(tables.economy.inputs) @ p.activity
    assert np.all(p.net_output >= p.needs - 1e-9 * (1 + np.abs(p.needs) + gross))
    assert p.diagnostics.primal_residual <= 1e-9
    by_industry = tables.labour_by_industry(p.output)
    assert by_industry.sum() == pytest.approx(p.total_labour, rel=1e-9)
    assert (by_industry >= -1e-9 * p.total_labour).all()
    # Personal consumption is most of final demand, but less than all of it.
    domestic = plan(tables.economy, tables.domestic_final_uses)
    assert 0.4 * domestic.total_labour < p.total_labour < domestic.total_labour
