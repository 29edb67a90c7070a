"""Labour flowing between regions (planning/flows.py, `councilplan report flows`).

The reference is pymrio's test system (6 regions x 8 sectors) with a labour account split by
skill, made here from a fixed seed since the system ships none; the flows are checked against
an independent dense computation (an explicit inverse of I - A, region by region in loops)
and against pymrio's own footprint accounts (calc_all: D_cba, D_pba, D_imp, D_exp).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.planning.flows import FlowsError, find_labour, flows_from_pymrio, labour_flows

pymrio = pytest.importorskip("pymrio")

KINDS = [
    f"Employment hours: {skill}-skilled {sex}"
    for skill in ("Low", "Medium", "High")
    for sex in ("male", "female")
]


def _with_labour(io, seed: int = 7):
    """pymrio's test system with an EXIOBASE-style labour account (M.hr, six rows)."""
    rng = np.random.default_rng(seed)
    index = pd.Index(KINDS, name="stressor")
    io.employment = pymrio.Extension(
        name="Employment",
        F=pd.DataFrame(
            rng.uniform(0.5, 50.0, (len(KINDS), io.Z.shape[1])), index=index, columns=io.Z.columns
        ),
        unit=pd.DataFrame({"unit": ["M.hr"] * len(KINDS)}, index=index),
    )
    return io


@pytest.fixture(scope="module")
def system():
    io = _with_labour(pymrio.load_test())
    return io, flows_from_pymrio(io, value=("factor_inputs", ["Value Added"]))


@pytest.fixture(scope="module")
def computed(system):
    """pymrio's own accounts, on a copy of the same system."""
    io = _with_labour(pymrio.load_test())
    io.calc_all()
    return io.employment


def _dense_flows(io) -> tuple[list[str], np.ndarray]:
    """E[k, r, s] by an explicit inverse and loops over regions: no code shared with flows.py."""
    z = io.Z.to_numpy()
    y = io.Y.to_numpy()
    x = z.sum(axis=1) + y.sum(axis=1)
    a = z / x
    leontief = np.linalg.inv(np.eye(len(x)) - a)
    f = io.employment.F.to_numpy()
    s = f / x
    regions = list(dict.fromkeys(io.Z.index.get_level_values(0)))
    sector_region = np.array(io.Z.index.get_level_values(0))
    demand_region = np.array(io.Y.columns.get_level_values(0))
    e = np.zeros((f.shape[0], len(regions), len(regions)))
    for j, consumer in enumerate(regions):
        made = leontief @ y[:, demand_region == consumer].sum(axis=1)
        for i, producer in enumerate(regions):
            here = sector_region == producer
            for k in range(f.shape[0]):
                e[k, i, j] = np.sum(s[k, here] * made[here])
    return regions, e


def test_flows_equal_an_independent_dense_computation(system):
    io, flows = system
    regions, dense = _dense_flows(io)
    assert list(flows.regions) == regions
    np.testing.assert_allclose(flows.embodied, dense, rtol=1e-10, atol=0)


def test_flows_conserve_each_regions_labour(system):
    io, flows = system
    account = io.employment.F.T.groupby(level=0, sort=False).sum().T.to_numpy()
    np.testing.assert_allclose(flows.labour, account, rtol=1e-12)
    # Every hour performed in a region ends in exactly one region's final demand.
    np.testing.assert_allclose(flows.embodied.sum(axis=2), account, rtol=1e-10)
    np.testing.assert_allclose(flows.performed(), account.sum(axis=0), rtol=1e-10)
    assert flows.footprint().sum() == pytest.approx(account.sum(), rel=1e-12)


def test_flows_agree_with_pymrio_footprints(system, computed):
    _, flows = system
    ours_cba = flows.embodied.sum(axis=1)  # (k, R): by consuming region
    ours_pba = flows.embodied.sum(axis=2)  # (k, R): by producing region
    np.testing.assert_allclose(ours_cba, computed.D_cba_reg.to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(ours_pba, computed.D_pba_reg.to_numpy(), rtol=1e-9, atol=0)
    by_region = lambda d: d.T.groupby(level=0, sort=False).sum().T.to_numpy().sum(axis=0)  # noqa: E731
    np.testing.assert_allclose(flows.imports(), by_region(computed.D_imp), rtol=1e-9)
    np.testing.assert_allclose(flows.exports(), by_region(computed.D_exp), rtol=1e-9)


def test_net_flows_are_antisymmetric_and_balance(system):
    _, flows = system
    for skill in (None, "low", "medium", "high"):
        net = flows.net(skill)
        np.testing.assert_array_equal(net, -net.T)
        assert flows.appropriation(skill).sum() == pytest.approx(0.0, abs=1e-9 * flows.labour.sum())
        np.testing.assert_allclose(net.sum(axis=0), flows.appropriation(skill), rtol=1e-9)


def test_skill_levels_split_the_total(system):
    _, flows = system
    assert flows.skill_levels == ("low", "medium", "high")
    assert flows.skills == ("low", "low", "medium", "medium", "high", "high")
    parts = sum(flows.flows(skill) for skill in flows.skill_levels)
    np.testing.assert_allclose(parts, flows.flows(), rtol=1e-12)
    low = flows.embodied[0] + flows.embodied[1]
    np.testing.assert_allclose(flows.flows("low"), low, rtol=1e-12)
    with pytest.raises(FlowsError, match="no labour of skill 'unskilled'"):
        flows.flows("unskilled")


def test_exchange_ratio_is_imports_over_exports(system):
    _, flows = system
    ratio = flows.exchange_ratio()
    np.testing.assert_allclose(ratio, flows.imports() / flows.exports(), rtol=1e-12)
    # Value adjusted: hours per unit of value imported over hours per unit exported.
    v = flows.value
    per_import = flows.imports() / (v.sum(axis=0) - np.diag(v))
    per_export = flows.exports() / (v.sum(axis=1) - np.diag(v))
    np.testing.assert_allclose(flows.value_adjusted_ratio(), per_import / per_export, rtol=1e-12)


def test_grouping_keeps_flows_between_groups_only(system):
    _, flows = system
    north = {"reg1": "North", "reg3": "North", "reg4": "North"}
    grouped = flows.grouped(north, rest="South")
    assert grouped.regions == ("North", "South")
    e = flows.flows()
    n = [0, 2, 3]
    s = [1, 4, 5]
    assert grouped.flows()[1, 0] == pytest.approx(e[np.ix_(s, n)].sum(), rel=1e-12)
    assert grouped.exports()[1] == pytest.approx(e[np.ix_(s, n)].sum(), rel=1e-12)
    assert grouped.imports()[0] == pytest.approx(e[np.ix_(s, n)].sum(), rel=1e-12)
    assert grouped.flows().sum() == pytest.approx(e.sum(), rel=1e-12)
    assert grouped.appropriation()[0] == pytest.approx(-grouped.appropriation()[1], rel=1e-12)
    with pytest.raises(FlowsError, match="regions without a group: reg2, reg5, reg6"):
        flows.grouped(north)
    with pytest.raises(FlowsError, match="does not have: reg9"):
        flows.grouped({**north, "reg9": "North"}, rest="South")


def test_iterative_solve_agrees_with_direct(system):
    io, flows = system
    iterative = flows_from_pymrio(io, method="bicgstab")
    assert iterative.method == "bicgstab"
    np.testing.assert_allclose(iterative.embodied, flows.embodied, rtol=1e-9)


def test_columns_the_block_solve_leaves_are_finished_one_by_one(system, monkeypatch):
    io, flows = system
    import councilplan.planning.flows as module

    block = module._block_bicgstab
    left = []

    def one_step(a, y, tol):
        x, bad = block(a, y, tol, maxiter=1)
        left.append(bad.size)
        return x, bad

    monkeypatch.setattr(module, "_block_bicgstab", one_step)
    iterative = flows_from_pymrio(io, method="bicgstab")
    assert left and left[0] > 0  # one step leaves columns unconverged
    # A residual of 1e-12 in norm bounds small flows' relative error less tightly.
    np.testing.assert_allclose(iterative.embodied, flows.embodied, rtol=1e-7)


def test_labour_of_final_demand_is_the_consumers_own(computed):
    io = _with_labour(pymrio.load_test())
    rng = np.random.default_rng(3)
    f_y = pd.DataFrame(
        rng.uniform(0, 5, (len(KINDS), io.Y.shape[1])), index=io.employment.F.index,
        columns=io.Y.columns,
    )  # fmt: skip
    io.employment.F_Y = f_y
    flows = flows_from_pymrio(io)
    io.calc_all()
    np.testing.assert_allclose(
        flows.embodied.sum(axis=1), io.employment.D_cba_reg.to_numpy(), rtol=1e-9
    )
    np.testing.assert_allclose(
        flows.embodied.sum(axis=2), io.employment.D_pba_reg.to_numpy(), rtol=1e-9
    )


def test_a_system_without_labour_is_refused_by_name():
    io = pymrio.load_test()
    with pytest.raises(FlowsError) as raised:
        flows_from_pymrio(io)
    message = str(raised.value)
    assert "no labour account" in message
    assert "Employment hours" in message
    assert "factor_inputs: Value Added" in message and "emissions:" in message
    assert raised.value.where.field == "labour"
    with pytest.raises(FlowsError, match="extension 'emissions' has no row 'hours'"):
        flows_from_pymrio(io, extension="emissions", rows=["hours"])
    with pytest.raises(FlowsError, match="no extension 'employment'"):
        find_labour(io, "employment")


def test_rows_are_found_in_exiobase_and_wiod_style_accounts():
    io = _with_labour(pymrio.load_test())
    assert find_labour(io) == ("employment", KINDS)
    persons = pd.Index(["Employment: Low-skilled male", "H_EMP", "EMP"], name="stressor")
    io.employment.F = pd.DataFrame(1.0, index=persons, columns=io.Z.columns)
    assert find_labour(io) == ("employment", ["H_EMP"])  # hours before persons


def test_bad_arrays_are_refused_naming_the_field():
    a = np.zeros((2, 2))
    with pytest.raises(FlowsError, match="labour kinds 1 names, 2 rows"):
        labour_flows(a, np.ones((2, 1)), np.ones((2, 2)), sector_region=["a", "b"],
                     demand_region=["a"], kinds=["hours"])  # fmt: skip
    with pytest.raises(FlowsError, match="Y holds 1 non-finite"):
        labour_flows(a, np.array([[1.0], [np.nan]]), np.ones((1, 2)), sector_region=["a", "b"],
                     demand_region=["a"], kinds=["hours"])  # fmt: skip


@st.composite
def _systems(draw):
    regions = draw(st.integers(2, 4))
    sectors = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = regions * sectors
    a = rng.uniform(0, 1, (n, n)) * (rng.uniform(0, 1, (n, n)) < 0.6)
    a *= draw(st.floats(0.05, 0.9)) / np.maximum(a.sum(axis=0), 1e-9)  # column sums < 1
    y = rng.uniform(0, 10, (n, regions * 2)) * (rng.uniform(0, 1, (n, regions * 2)) < 0.7)
    f = rng.uniform(0, 100, (2, n))
    names = [f"r{i}" for i in range(regions)]
    return (
        a,
        y,
        f,
        [names[j // sectors] for j in range(n)],
        [names[c // 2] for c in range(2 * regions)],
    )


@settings(max_examples=40, deadline=None)
@given(_systems())
def test_conservation_and_antisymmetry_on_random_systems(drawn):
    a, y, f, sector_region, demand_region = drawn
    flows = labour_flows(a, y, f, sector_region=sector_region, demand_region=demand_region,
                         kinds=["low-skilled", "high-skilled"])  # fmt: skip
    x = np.linalg.solve(np.eye(len(a)) - a, y.sum(axis=1))
    # Labour of sectors that make something (x > 0) all ends in some final demand.
    attributable = np.where(x > 1e-12 * x.max(initial=1), f, 0.0)
    account = np.stack([[row[np.array(sector_region) == r].sum() for r in flows.regions]
                        for row in attributable])  # fmt: skip
    np.testing.assert_allclose(flows.embodied.sum(axis=2), account, rtol=1e-8, atol=1e-8)
    net = flows.net()
    np.testing.assert_array_equal(net, -net.T)
    assert abs(flows.appropriation().sum()) <= 1e-9 * max(f.sum(), 1.0)
    lost = f.sum(axis=0)[np.array(x <= 1e-12 * x.max(initial=1))].sum()
    assert flows.unattributed().sum() == pytest.approx(lost, abs=1e-8)


runner = CliRunner()


def test_report_flows_writes_tables_and_chart(tmp_path):
    out = tmp_path / "flows"
    result = runner.invoke(app, ["report", "flows", "test", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "illustrative" in result.output
    for name in ("flows.csv", "net.csv", "regions.csv", "group_flows.csv", "group_regions.csv",
                 "net_flows.png", "net_flows.svg"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    with open(out / "group_regions.csv", newline="") as f:
        rows = {row["group"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"OECD", "non-OECD"}
    assert float(rows["OECD"]["net_received"]) == pytest.approx(
        -float(rows["non-OECD"]["net_received"]), rel=1e-9
    )
    with open(out / "flows.csv", newline="") as f:
        total = sum(float(row["labour"]) for row in csv.DictReader(f))
    population = pymrio.load_test().population.to_numpy().sum()
    assert total == pytest.approx(population * 1000.0, rel=1e-9)  # the illustrative account
    assert (out / "net_flows.png").read_bytes()[:4] == b"\x89PNG"
    about = json.loads((out / "about.json").read_text())
    assert about["groups"] == {
        "OECD": ["reg1", "reg3", "reg4"],
        "non-OECD": ["reg2", "reg5", "reg6"],
    }
    assert about["unattributed_share"] < 1e-12
    assert any("illustrative" in note for note in about["notes"])


def test_report_flows_refuses_unusable_input(tmp_path):
    missing = runner.invoke(app, ["report", "flows", str(tmp_path / "none"), "--out",
                                  str(tmp_path / "o")])  # fmt: skip
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.output
    groups = tmp_path / "groups.csv"
    groups.write_text("region,bloc\nreg1,North\n")
    bad = runner.invoke(app, ["report", "flows", "test", "--groups", str(groups), "--out",
                              str(tmp_path / "o")])  # fmt: skip
    assert bad.exit_code == 2 and "region,group" in bad.output
    unknown = runner.invoke(app, ["report", "flows", "test", "--group", "North=reg1,regX",
                                  "--rest", "South", "--out", str(tmp_path / "o")])  # fmt: skip
    assert unknown.exit_code == 2 and "regX" in unknown.output
    saved = tmp_path / "saved"
    pymrio.load_test().save_all(saved)
    no_labour = runner.invoke(app, ["report", "flows", str(saved), "--out", str(tmp_path / "o")])
    assert no_labour.exit_code == 2
    assert "no labour account" in no_labour.output
    assert not (tmp_path / "o").exists()


def test_a_region_that_exports_no_labour_has_no_ratio():
    # Two regions, one sector each; region b's sector employs nobody.
    a = np.array([[0.1, 0.2], [0.3, 0.1]])
    y = np.array([[5.0, 1.0], [0.0, 4.0]])
    flows = labour_flows(a, y, np.array([[10.0, 0.0]]), sector_region=["a", "b"],
                         demand_region=["a", "b"], kinds=["hours"])  # fmt: skip
    assert flows.exports()[1] == 0 and flows.imports()[1] > 0
    assert flows.ratio_reason() == [None, "exports no embodied labour, imports some"]
    ratio = flows.exchange_ratio()
    assert ratio.mask.tolist() == [False, True]
    assert ratio[0] == 0.0  # a imports no labour: its hour commands none


def test_report_flows_reads_a_saved_system_with_groups_and_skills(tmp_path):
    folder = tmp_path / "saved"
    _with_labour(pymrio.load_test()).save_all(folder)
    saved = tmp_path / "saved.zip"  # a zip, as EXIOBASE is distributed
    pymrio.archive(folder, saved)
    groups = tmp_path / "groups.csv"
    groups.write_text("region,group\nreg1,North\nreg3,North\nreg4,North\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", "flows", str(saved), "--groups", str(groups),
                                 "--rest", "South", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out / "group_regions.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f)]
    assert {row["skill"] for row in rows} == {"all", "low", "medium", "high"}
    assert all(row["unit"] == "M.hr" for row in rows)
    by = {(row["group"], row["skill"]): float(row["net_received"]) for row in rows}
    parts = sum(by[("North", s)] for s in ("low", "medium", "high"))
    assert parts == pytest.approx(by[("North", "all")], rel=1e-9)
    with open(out / "regions.csv", newline="") as f:
        regions = {
            row["region"]: row["group"] for row in csv.DictReader(f) if row["skill"] == "all"
        }
    assert regions == {"reg1": "North", "reg2": "South", "reg3": "North", "reg4": "North",
                       "reg5": "South", "reg6": "South"}  # fmt: skip
