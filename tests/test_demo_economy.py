"""The shipped demo economy: what its README promises a planner, checked with the planner."""

from __future__ import annotations

import glob
import tomllib
from pathlib import Path

import numpy as np
import pytest

from councilplan.economy import DEMO_BUNDLE, load_demo
from councilplan.planning import Limits, labour_values, plan, read_needs

ROOT = Path(__file__).resolve().parents[1]
PRIORITY_TWO = {
    "bread", "heat", "water", "sewage", "childcare", "health_care", "schooling", "elder_care",
    "medicines",
}  # fmt: skip


@pytest.fixture(scope="module")
def town():
    return load_demo()


@pytest.fixture(scope="module")
def needs(town):
    return read_needs(DEMO_BUNDLE / "needs" / "town.csv", town)


@pytest.fixture(scope="module")
def plans(town, needs):
    """The README's scenarios: the town's own carbon limit, tighter ones, and none."""
    return {
        co2: plan(town, needs, None if co2 == 25_000 else Limits(resources={"co2": co2}))
        for co2 in (25_000, 17_000, 15_000, np.inf)
    }


def limits_row(p, kind_id: str):
    table = p.limits_table().set_index("id")
    return table.loc[kind_id]


def binding(p) -> set[str]:
    table = p.limits_table()
    return set(table.loc[table["binding"], "id"])


def activity(p, technique: str) -> float:
    return float(p.activity[list(p.technique_ids).index(technique)])


def test_the_demo_is_what_its_readme_says(town):
    assert (town.n_products, town.n_techniques, town.n_labour_kinds, town.n_resources) == (
        42, 51, 3, 3,
    )  # fmt: skip
    assert town.name == "demo" and "invented for teaching" in town.description
    assert town.byproducts == {"wood_chips"}
    made = town.product_ids[town.technique_product]
    choices = sorted(p for p in set(made) if list(made).count(p) > 1)
    assert choices == [
        "bricks", "electricity", "freight", "grain", "heat", "milk", "paper", "steel", "transit",
    ]  # fmt: skip
    finite = np.isfinite(town.capacity)
    assert dict(zip(town.technique_ids[finite], town.capacity[finite], strict=True)) == {
        "bakery": 800, "electric_arc_furnace": 300, "wind_farm": 30_000,
        "tram_network": 30_000, "recycled_paper_mill": 150, "sorting_centre": 1000,
        "rail_freight": 4000, "care_home": 140,
    }  # fmt: skip
    assert town.technique_output[list(town.technique_ids).index("bicycle_workshop")] == 10
    assert dict(zip(town.labour_ids, town.labour_limits, strict=True)) == {
        "general": 1_200_000, "skilled": 380_000, "care": 1_100_000,
    }  # fmt: skip
    assert dict(zip(town.resource_ids, town.resource_limits, strict=True)) == {
        "farmland": 1200, "forest": 4000, "co2": 25_000,
    }  # fmt: skip


def test_every_product_is_needed_or_used_and_costs_labour(town, needs):
    """No product is dead weight: councils ask for it or some technique uses it; and every
    product embodies a positive, finite number of hours."""
    used = np.asarray((town.inputs > 0).sum(axis=1)).ravel() > 0
    orphans = town.product_ids[(needs.total == 0) & ~used]
    assert orphans.size == 0, list(orphans)
    values = labour_values(town).values
    assert np.all(np.isfinite(values)) and np.all(values > 0)


def test_needs_come_from_four_councils(needs, town):
    assert set(needs.council) == {"north", "south", "riverside", "town"}
    total = dict(zip(town.product_ids, needs.total, strict=True))
    assert (total["bread"], total["heat"], total["dwellings"], total["childcare"]) == (
        600, 50_000, 40, 500,
    )  # fmt: skip
    assert (total["water"], total["milk"], total["elder_care"], total["sewage"]) == (
        500, 1500, 120, 480,
    )  # fmt: skip
    for intermediate in ("grain", "steel", "freight", "bricks", "textiles", "paper"):
        assert total[intermediate] == 0  # intermediate goods are not asked for
    products = town.product_ids[needs.product]
    assert set(products[needs.priority == 2]) == PRIORITY_TWO
    # the town federation asks for the common services, the neighbourhoods for the rest
    by_town = set(products[needs.council == "town"])
    assert {"health_care", "schooling", "sewage", "elder_care", "library"} <= by_town
    assert not by_town & set(products[needs.council == "north"])


def test_the_needs_can_be_met_and_the_carbon_limit_binds(plans):
    p = plans[25_000]
    assert p.feasible
    assert 2.19e6 < p.total_labour < 2.21e6  # "about 2.20 million hours"
    assert binding(p) == {"co2", "tram_network"}
    assert limits_row(p, "co2").dual > 0
    # care and teaching is the scarcest labour, though no labour limit binds
    share = {k: limits_row(p, k).used / limits_row(p, k).limit for k in ("general", "skilled")}
    care = limits_row(p, "care")
    assert care.used == pytest.approx(1_012_400) and care.used / care.limit > max(share.values())
    assert 0.9 < care.used / care.limit < 0.95
    # coal is the cheapest power in labour; the carbon limit lets only part of it be coal
    assert activity(p, "coal_power") > 0 and 0 < activity(p, "wind_farm") < 30_000
    assert activity(p, "lorry_freight") == 0  # rail carries the freight


def test_without_a_carbon_limit_the_town_burns_coal(plans):
    p = plans[np.inf]
    assert p.feasible and limits_row(p, "co2").used > 45_000
    assert activity(p, "wind_farm") == 0
    assert binding(p) == {"tram_network", "rail_freight"}
    assert activity(p, "lorry_freight") > 0  # rail is full, lorries carry the rest
    assert 0 < plans[25_000].total_labour - p.total_labour < 5000  # "only about 2,000 hours"


def test_a_tighter_carbon_limit_fills_the_wind_farm(plans):
    p = plans[17_000]
    assert p.feasible
    assert activity(p, "wind_farm") == pytest.approx(30_000)
    assert activity(p, "electric_arc_furnace") == pytest.approx(300)
    assert activity(p, "chipper") > 0  # wood chips cut from the forest for heat
    assert {"co2", "forest", "wind_farm", "electric_arc_furnace"} <= binding(p)
    assert activity(p, "earth_brick_press") > activity(p, "coal_brick_kiln")
    assert activity(p, "recycled_paper_mill") > 0 and activity(p, "pulp_mill") == 0
    # cleaner costs more work, but not much: under half a percent more hours
    assert 1 < p.total_labour / plans[25_000].total_labour < 1.005


def test_too_tight_a_carbon_limit_falls_short_on_a_priority_one_need(town, needs, plans):
    p = plans[15_000]
    assert not p.feasible
    short = p.shortfall[p.shortfall["short"] > 1e-3 * p.shortfall["need"]]
    assert set(short["product"]) == {"electricity"}
    assert set(short["priority"]) == {1.0}
    assert "resource co2" in short["binding"].iloc[0]
    # every priority-2 need is met in full
    met = p.consumption[p.consumption["product"].isin(PRIORITY_TWO)]
    assert (met["met"] >= met["need"] * (1 - 1e-9)).all()
    assert limits_row(p, "co2").binding
    # the plan turns to organic grain and pasture dairy to save carbon
    assert activity(p, "grain_organic") > 0 and activity(p, "dairy_pasture") > 0
    assert activity(p, "grain_conventional") == 0 and activity(p, "dairy_barn") == 0


def test_every_technique_is_chosen_in_some_scenario(town, plans):
    """Each of the two ways to make a product is the planner's choice under some carbon
    limit of the README, so every technique in the demo matters."""
    ran = np.any([p.activity > 1e-9 for p in plans.values()], axis=0)
    assert ran.all(), list(town.technique_ids[~ran])


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
