"""When the needs cannot all be met: the plan says which need falls short and which limit binds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from councilplan.economy.model import make_economy
from councilplan.planning import Limits, PlanError, PlanInputError, plan, read_limits, read_needs
from councilplan.planning.needs import resolve_limits


def village(**overrides):
    """Grain from a farm (farm work, water), bread from grain at a bakery (factory work),
    steel at a mill (factory work, ore; capacity 10)."""
    args = dict(
        products=["grain", "bread", "steel"],
        techniques=["farm", "bakery", "mill"],
        technique_product=["grain", "bread", "steel"],
        inputs=np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]),
        labour=np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 2.0]]),
        labour_kinds=["farm", "factory"],
        resources=["water", "ore"],
        resource_use=np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
        capacity=[math.inf, math.inf, 10.0],
        name="village",
    )
    args.update(overrides)
    return make_economy(**args)


def rows(p):
    return p.shortfall.set_index("product")


@pytest.mark.parametrize("method", ["auto", "highs", "pdlp"])
def test_a_resource_cap_below_one_need_names_the_need_and_the_resource(method):
    economy = village()
    p = plan(economy, {"bread": 100.0, "steel": 1.0}, Limits(resources={"water": 10.0}), method)
    assert p.status == "shortfall" and not p.feasible
    rel = 1e-4 if method == "pdlp" else 1e-9  # PDLP: to its tolerance (1e-6 on the gap)
    short = rows(p)
    # 10 water make 5 grain, which make 10 bread.
    assert list(short.index) == ["bread"]
    assert "resource water" in short.loc["bread", "binding"]
    assert short.loc["bread", "met"] == pytest.approx(10.0, rel=rel)
    assert short.loc["bread", "short"] == pytest.approx(90.0, rel=rel)
    assert p.resources[0] == pytest.approx(10.0, rel=rel)
    # What can be met is met: the steel.
    assert p.net_output[2] >= 1.0 - 1e-6


def test_a_capacity_too_small_names_the_technique():
    p = plan(village(), {"steel": 25.0, "bread": 2.0})
    short = rows(p)
    assert list(short.index) == ["steel"]
    assert short.loc["steel", "binding"] == "capacity mill"
    # The mill makes 10; 0.1 of it goes into the grain for the 2 bread.
    assert short.loc["steel", "short"] == pytest.approx(15.1, rel=1e-9)
    assert p.activity[2] == pytest.approx(10.0)
    assert "## Needs that cannot be met" in p.report()


def test_an_exhausted_labour_kind_names_the_kind():
    p = plan(village(), {"bread": 100.0}, {"labour": {"factory": 5.0}})
    short = rows(p)
    assert list(short.index) == ["bread"]
    assert "labour factory" in short.loc["bread", "binding"]
    # A bread takes 0.5 h at the bakery and 0.1 h at the mill (the farm's steel): 0.6 h.
    assert short.loc["bread", "met"] == pytest.approx(5.0 / 0.6, rel=1e-9)
    limits = p.limits_table().set_index("id")
    assert limits.loc["factory", "binding"]
    assert not limits.loc["farm", "binding"]


def test_higher_priority_needs_are_met_first():
    # Bread and grain both need water; the council that puts bread first gets it.
    needs = pd.DataFrame(
        {
            "product": ["bread", "grain"],
            "amount": [10.0, 10.0],
            "council": ["north", "south"],
            "priority": [3.0, 1.0],
        }
    )
    p = plan(village(), needs, {"resources": {"water": 20.0}})
    short = rows(p)
    assert list(short.index) == ["grain"] and short.loc["grain", "council"] == "south"
    assert short.loc["grain", "met"] == pytest.approx(5.0, rel=1e-9)
    met = p.consumption.set_index("council")["met"]
    assert met["north"] == pytest.approx(10.0) and met["south"] == pytest.approx(5.0)


def test_a_feasible_plan_has_no_shortfall_table():
    p = plan(village(), {"bread": 4.0, "steel": 2.0})
    assert p.status == "optimal" and p.shortfall is None and p.method == "labour"
    assert "shortfall" not in p.tables()


# -- what the councils state: checked at the door ----------------------------------------------


def test_needs_name_the_unknown_product_and_row(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount\nbread,4\ncake,2\n")
    with pytest.raises(PlanInputError) as err:
        read_needs(path, village())
    assert err.value.where.row == 2 and err.value.where.id == "cake"
    assert str(path) in str(err.value) and "field 'product'" in str(err.value)


def test_needs_name_a_bad_amount_and_priority(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount,council,priority\nbread,4,north,1\nsteel,lots,north,1\n")
    with pytest.raises(PlanInputError, match="'lots' is not a finite number") as err:
        read_needs(path, village())
    assert err.value.where.field == "amount" and err.value.where.row == 2
    path.write_text("product,amount,priority\nbread,4,0\n")
    with pytest.raises(PlanInputError, match="priority") as err:
        read_needs(path, village())
    assert err.value.where.id == "bread"
    path.write_text("product,amount,colour\nbread,4,red\n")
    with pytest.raises(PlanInputError, match="unknown columns"):
        read_needs(path, village())


def test_limits_file_is_read_and_checked(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text('[labour]\nfactory = 5.0\nfarm = inf\n\n[resources]\nwater = 7\n'
                    '[capacity]\nmill = "none"\n')  # fmt: skip
    resolved = resolve_limits(village(), read_limits(path), source=str(path))
    assert resolved.labour.tolist() == [math.inf, 5.0]
    assert resolved.resources.tolist() == [7.0, math.inf]
    assert resolved.capacity.tolist() == [math.inf] * 3
    path.write_text("[labour]\nplumbing = 5\n")
    with pytest.raises(PlanInputError, match="unknown labour kind 'plumbing'") as err:
        resolve_limits(village(), read_limits(path), source=str(path))
    assert err.value.where.source == str(path) and err.value.where.field == "labour"
    path.write_text("[resources]\nwater = -1\n")
    with pytest.raises(PlanInputError, match="not a number >= 0"):
        resolve_limits(village(), read_limits(path), source=str(path))
    path.write_text("[rivers]\nwater = 1\n")
    with pytest.raises(PlanInputError, match=r"unknown section \[rivers\]"):
        read_limits(path)


@pytest.mark.parametrize("size", [1e6, 1e9])
def test_a_need_far_beyond_the_limits_still_gets_what_can_be_made(size):
    # 10 water make 10 bread, however much bread is asked for; the steel is met beside it.
    p = plan(village(), {"bread": size, "steel": 1.0}, Limits(resources={"water": 10.0}), "highs")
    short = rows(p)
    assert list(short.index) == ["bread"]
    assert short.loc["bread", "met"] == pytest.approx(10.0, rel=1e-9)
    assert short.loc["bread", "short"] == pytest.approx(size - 10.0, rel=1e-12)
    assert "resource water" in short.loc["bread", "binding"]
    assert p.net_output[2] == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize(("method", "size"), [("highs", 1e12), ("pdlp", 1e9)])
def test_needs_too_far_apart_to_weigh_are_refused_not_planned_wrongly(method, size):
    with pytest.raises(PlanError, match=r"a unit of bread for council .*need 1e\+(09|12)"):
        plan(village(), {"bread": size, "steel": 1.0}, Limits(resources={"water": 10.0}), method)
