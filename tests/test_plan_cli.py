"""``councilplan plan``: a bundle, the councils' needs and limits in, the plan's tables out."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.economy.bundle import write_bundle
from test_plan_shortfall import village

runner = CliRunner()


@pytest.fixture()
def bundle(tmp_path):
    return write_bundle(village(), tmp_path / "village")


def test_plan_writes_every_table_and_a_report(bundle, tmp_path):
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount,council\nbread,4,north\nsteel,2,south\n")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(bundle), "--needs", str(needs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output and "total labour" in result.output
    for name in ("activity", "output", "labour", "resources", "prices", "consumption"):
        assert (out / f"{name}.csv").is_file()
    assert not (out / "shortfall.csv").exists()
    output = pd.read_csv(out / "output.csv").set_index("product")
    assert output.loc["bread", "net_output"] == pytest.approx(4.0)
    assert "# Plan for village" in (out / "report.md").read_text()


def test_plan_names_the_shortfall_and_the_binding_limit(bundle, tmp_path):
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount\nbread,100\n")
    limits = tmp_path / "limits.toml"
    limits.write_text("[resources]\nwater = 10\n")
    out = tmp_path / "plan"
    args = ["plan", str(bundle), "--needs", str(needs), "--limits", str(limits), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Needs that cannot be met" in result.output and "resource water" in result.output
    short = pd.read_csv(out / "shortfall.csv")
    assert short["product"].tolist() == ["bread"]
    assert short["short"].iloc[0] == pytest.approx(90.0)


def test_plan_errors_name_the_file_row_and_id(bundle, tmp_path):
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount\nbread,4\ncake,1\n")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(bundle), "--needs", str(needs), "--out", str(out)])
    assert result.exit_code == 2
    assert "needs.csv" in result.output and "row 2" in result.output and "'cake'" in result.output
    limits = tmp_path / "limits.toml"
    limits.write_text("[capacity]\nforge = 3\n")
    needs.write_text("product,amount\nbread,4\n")
    args = ["plan", str(bundle), "--needs", str(needs), "--limits", str(limits), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "limits.toml" in result.output and "'forge'" in result.output


def test_plan_refuses_needs_it_cannot_weigh_and_writes_nothing(bundle, tmp_path):
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount\nbread,1e12\nsteel,1\n")
    limits = tmp_path / "limits.toml"
    limits.write_text("[resources]\nwater = 10\n")
    out = tmp_path / "plan"
    args = ["plan", str(bundle), "--needs", str(needs), "--limits", str(limits), "--out", str(out)]
    result = runner.invoke(app, args, env={"COLUMNS": "1000"})
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "too far apart" in lines[0] and "bread" in lines[0], lines
    assert not out.exists()


def test_a_solver_past_its_time_limit_stops_with_one_line(tmp_path):
    from councilplan.economy.synthetic import generate_economy

    # HiGHS takes tens of seconds on this economy (two techniques a product, two labour
    # kinds, one resource), so a tenth of a second stops it.
    economy = generate_economy(3000, techniques_per_product=2, labour_kinds=2, resources=1)
    bundle = write_bundle(economy, tmp_path / "big")
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount\n" + "".join(f"{p},1\n" for p in economy.product_ids))
    out = tmp_path / "plan"
    args = ["plan", str(bundle), "--needs", str(needs), "--out", str(out), "--method", "highs"]
    result = runner.invoke(app, [*args, "--time-limit", "0.1"], env={"COLUMNS": "1000"})
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "a longer --time-limit (this run had 0.1 s)" in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "inf"])
def test_a_time_limit_must_be_some_seconds(bundle, tmp_path, seconds):
    needs = tmp_path / "needs.csv"
    needs.write_text("product,amount\nbread,4\n")
    out = tmp_path / "plan"
    args = ["plan", str(bundle), "--needs", str(needs), "--out", str(out)]
    result = runner.invoke(app, [*args, "--time-limit", seconds], env={"COLUMNS": "1000"})
    assert result.exit_code == 2
    assert "--time-limit must be a number of seconds above 0" in result.output
    assert not out.exists()
