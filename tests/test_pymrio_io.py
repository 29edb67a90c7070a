"""Economies to and from pymrio systems: round trips, and labour values = pymrio multipliers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.economy.errors import EconomyError
from councilplan.economy.model import make_economy
from councilplan.economy.pymrio_io import economy_from_pymrio, economy_to_pymrio
from councilplan.planning.values import labour_values

pymrio = pytest.importorskip("pymrio")
# pymrio's own accounts (calc_all) use a pandas idiom that pandas 3 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Setting a new column on a DataFrame")


@pytest.fixture()
def test_system():
    return pymrio.load_test()


def assert_same_economy(a, b, rtol=1e-12):
    assert list(a.product_ids) == list(b.product_ids)
    assert list(a.labour_ids) == list(b.labour_ids)
    assert list(a.product_units) == list(b.product_units)
    assert list(a.labour_units) == list(b.labour_units)
    assert a.byproducts == b.byproducts
    np.testing.assert_allclose(
        a.input_matrix().toarray(), b.input_matrix().toarray(), rtol=rtol, atol=1e-15
    )
    np.testing.assert_allclose(a.labour_per_unit(), b.labour_per_unit(), rtol=rtol, atol=1e-15)


def test_products_are_region_slash_sector(test_system):
    economy = economy_from_pymrio(test_system, "Value Added")
    assert economy.n_products == 48
    assert list(economy.product_ids[:2]) == ["reg1/food", "reg1/mining"]
    assert list(economy.labour_ids) == ["Value Added"]
    assert list(economy.labour_units) == ["Mill USD"]
    assert economy.product_units[0] == "Mill USD"
    assert test_system.A is None  # the caller's system is left as it was


def test_labour_values_equal_pymrio_multipliers(test_system):
    economy = economy_from_pymrio(test_system, "Value Added", "factor_inputs")
    test_system.calc_all()
    multipliers = test_system.factor_inputs.M.to_numpy()[0]
    np.testing.assert_allclose(labour_values(economy).values, multipliers, rtol=1e-9)


def test_several_labour_rows_become_labour_kinds(test_system):
    rows = ["emission_type1/air", "emission_type2/water"]
    economy = economy_from_pymrio(test_system, rows)
    assert list(economy.labour_ids) == rows
    test_system.calc_all()
    values = labour_values(economy)
    np.testing.assert_allclose(values.by_kind, test_system.emissions.M.to_numpy(), rtol=1e-9)


def test_pymrio_economy_pymrio_economy_round_trip(test_system):
    economy = economy_from_pymrio(test_system, "Value Added", "factor_inputs")
    again = economy_from_pymrio(economy_to_pymrio(economy), "Value Added", "labour")
    assert_same_economy(economy, again)


def test_final_demand_gives_the_systems_output(test_system):
    economy = economy_from_pymrio(test_system, "Value Added")
    io = economy_to_pymrio(economy, test_system.Y)
    test_system.calc_all()
    np.testing.assert_allclose(io.x.to_numpy(), test_system.x.to_numpy(), rtol=1e-9)
    io.calc_all()
    np.testing.assert_allclose(
        io.labour.M.to_numpy(), test_system.factor_inputs.M.to_numpy(), rtol=1e-9
    )
    assert_same_economy(economy, economy_from_pymrio(io, "Value Added", "labour"), rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(0, 1 / n), min_size=n * n, max_size=n * n),
            st.lists(st.floats(0, 10), min_size=2 * n, max_size=2 * n),
            st.lists(st.floats(0.1, 5), min_size=n, max_size=n) | st.none(),
        )
    )
)
def test_economy_pymrio_economy_round_trip(data):
    a, labour, demand = data
    n = len(labour) // 2
    products = [f"{'north' if i % 2 else 'south'}/good{i}" for i in range(n)]
    economy = make_economy(
        products=products,
        techniques=products,
        technique_product=np.arange(n),
        inputs=np.asarray(a).reshape(n, n) * 0.9,
        labour=np.asarray(labour).reshape(2, n),
        labour_kinds=("skilled", "unskilled"),
        labour_units=("hours", "hours"),
        product_units=["tonnes"] * n,
    )
    io = economy_to_pymrio(economy, None if demand is None else np.asarray(demand))
    again = economy_from_pymrio(io, ["skilled", "unskilled"], "labour")
    assert_same_economy(economy, again, rtol=1e-9)
    io.calc_all()
    np.testing.assert_allclose(
        io.labour.M.to_numpy(), labour_values(economy).by_kind, rtol=1e-9, atol=1e-12
    )


def test_ids_without_region_get_the_economy_name():
    economy = make_economy(
        products=["bread", "flour"],
        techniques=["bake", "mill"],
        technique_product=[0, 1],
        inputs=[[0, 0], [0.5, 0]],
        labour=[1.0, 2.0],
        name="town",
    )
    io = economy_to_pymrio(economy)
    assert list(io.Z.index) == [("town", "bread"), ("town", "flour")]
    np.testing.assert_allclose(io.Z.to_numpy(), [[0, 0], [0.5, 0]])
    back = economy_from_pymrio(io, "labour", "labour")
    assert list(back.product_ids) == ["town/bread", "town/flour"]


def test_negative_coefficients_are_declared_byproducts(test_system):
    test_system.Z.iloc[1, 0] = -10.0
    economy = economy_from_pymrio(test_system, "Value Added")
    assert economy.byproducts == {"reg1/mining"}


def test_unknown_labour_row_or_extension_is_named(test_system):
    with pytest.raises(EconomyError, match="no row 'hours'"):
        economy_from_pymrio(test_system, "hours", "factor_inputs")
    with pytest.raises(EconomyError, match="no extension 'labour'"):
        economy_from_pymrio(test_system, "Value Added", "labour")
    with pytest.raises(EconomyError, match="exactly one extension"):
        economy_from_pymrio(test_system, "hours")


def test_final_demand_for_unknown_product_is_refused(test_system):
    economy = economy_from_pymrio(test_system, "Value Added")
    with pytest.raises(EconomyError, match="unknown product 'reg9/food'"):
        economy_to_pymrio(economy, pd.Series({"reg9/food": 1.0}))
