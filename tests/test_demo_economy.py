"""The shipped demo economy: what its README promises a planner, checked with the planner."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import numpy as np
import pytest

from councilplan.economy import DEMO_BUNDLE, load_demo
from councilplan.planning import Limits, plan, read_needs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def town():
    return load_demo()


@pytest.fixture(scope="module")
def needs(town):
    return read_needs(DEMO_BUNDLE / "needs" / "town.csv", town)


def limits_row(p, kind_id: str):
    table = p.limits_table().set_index("id")
    return table.loc[kind_id]


def activity(p, technique: str) -> float:
    return float(p.activity[list(p.technique_ids).index(technique)])


def test_the_demo_is_what_its_readme_says(town):
    assert (town.n_products, town.n_techniques, town.n_labour_kinds, town.n_resources) == (
        18, 22, 3, 3,
    )  # fmt: skip
    assert town.name == "demo" and "invented for teaching" in town.description
    assert town.byproducts == {"wood_chips"}
    made = town.product_ids[town.technique_product]
    choices = sorted(p for p in set(made) if list(made).count(p) > 1)
    assert choices == ["electricity", "grain", "heat", "steel"]
    finite = np.isfinite(town.capacity)
    assert dict(zip(town.technique_ids[finite], town.capacity[finite], strict=True)) == {
        "bakery": 800, "electric_arc_furnace": 300, "wind_farm": 30000,
    }  # fmt: skip
    assert town.technique_output[list(town.technique_ids).index("bicycle_workshop")] == 10
    assert dict(zip(town.labour_ids, town.labour_limits, strict=True)) == {
        "general": 650_000, "skilled": 200_000, "care": 900_000,
    }  # fmt: skip
    assert dict(zip(town.resource_ids, town.resource_limits, strict=True)) == {
        "farmland": 180, "forest": 4000, "co2": 15000,
    }  # fmt: skip


def test_needs_come_from_four_councils(needs, town):
    assert set(needs.council) == {"north", "south", "riverside", "town"}
    total = dict(zip(town.product_ids, needs.total, strict=True))
    assert (total["bread"], total["heat"], total["dwellings"], total["childcare"]) == (
        600, 50_000, 40, 500,
    )  # fmt: skip
    assert total["grain"] == total["steel"] == 0  # intermediate goods are not asked for


def test_the_needs_can_be_met_and_the_carbon_limit_binds(town, needs):
    p = plan(town, needs)
    assert p.feasible
    assert 1.5e6 < p.total_labour < 1.6e6  # "about 1.56 million hours"
    care = limits_row(p, "care")
    assert care.used == pytest.approx(830_000) and not care.binding
    co2 = limits_row(p, "co2")
    assert co2.binding and co2.dual > 0
    assert activity(p, "coal_power") > 0 and 0 < activity(p, "wind_farm") < 30_000


def test_a_tighter_carbon_limit_fills_the_wind_farm(town, needs):
    p = plan(town, needs, Limits(resources={"co2": 8000}))
    assert p.feasible
    assert activity(p, "wind_farm") == pytest.approx(30_000)
    assert activity(p, "electric_arc_furnace") == pytest.approx(300)
    assert activity(p, "chipper") > 0  # wood chips cut from the forest for heat


def test_too_tight_a_carbon_limit_falls_short_on_a_priority_one_need(town, needs):
    p = plan(town, needs, Limits(resources={"co2": 5000}))
    assert not p.feasible
    short = p.shortfall[p.shortfall["short"] > 1e-3 * p.shortfall["need"]]
    assert set(short["product"]) == {"electricity"}
    priority = needs.priority[
        (town.product_ids[needs.product] == "electricity") & (needs.council != "")
    ]
    assert set(priority) == {1.0}
    assert limits_row(p, "co2").binding


def test_every_demo_file_is_package_data():
    """`pip install .` must ship the whole demo (the globs in pyproject.toml, expanded as
    setuptools expands them), or `councilplan demo` fails on a fresh machine."""
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout: no pyproject.toml")
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "src" / "councilplan"
    shipped = {
        Path(f)
        for pattern in patterns["councilplan"]
        for f in glob.glob(pattern, root_dir=package, recursive=True)
    }
    files = {f.relative_to(package) for f in DEMO_BUNDLE.rglob("*") if f.is_file()}
    assert files and files <= shipped, sorted(map(str, files - shipped))
