"""The command line as a newcomer uses it: demo, generate, values."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.economy.bundle import read_bundle
from councilplan.economy.synthetic import generate_economy
from councilplan.planning.values import labour_values

runner = CliRunner()


def test_generate_then_values_writes_the_labour_values(tmp_path):
    result = runner.invoke(
        app, ["generate", "--products", "3000", "--inputs-per-product", "8", "--seed", "2",
              "--out", str(tmp_path / "eco")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3,000" in result.output
    assert read_bundle(tmp_path / "eco") == generate_economy(3000, inputs_per_product=8, seed=2)

    result = runner.invoke(app, ["values", str(tmp_path / "eco"), "--out", str(tmp_path / "v.csv")])
    assert result.exit_code == 0, result.output
    for word in ("bicgstab", "residual", "non-zeros", "peak memory"):
        assert word in result.output
    written = pd.read_csv(tmp_path / "v.csv")
    assert list(written.columns) == ["product", "value"]
    expected = labour_values(generate_economy(3000, inputs_per_product=8, seed=2))
    assert (written["product"] == expected.product_ids).all()
    assert written["value"].to_numpy() == pytest.approx(expected.values, rel=1e-12)


def test_values_of_a_missing_bundle_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["values", str(tmp_path / "nowhere"), "--out", "v.csv"])
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_demo_runs_end_to_end_and_can_run_again(tmp_path):
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for section in (
        "Labour values",
        "A planning period",
        "The councils state",
        "Plan variants",
        "Participatory rounds",
        "The councils decide",
        "What the plan means",
        "The record",
    ):
        assert section in result.output
    assert "Decided:" in result.output and "intact" in result.output
    assert (tmp_path / "councilplan.sqlite").is_file()

    verify = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert verify.exit_code == 0 and "intact" in verify.output

    again = runner.invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert again.exit_code == 0, again.output


def test_demo_never_overwrites_a_database_that_is_not_its_own(tmp_path):
    (tmp_path / "councilplan.sqlite").write_text("a member's real data")
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "not" in result.output or "other than" in result.output
    assert (tmp_path / "councilplan.sqlite").read_text() == "a member's real data"
