"""Labour values solve v = vA + l, by every method, to the stated residual."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.economy.model import make_economy
from councilplan.economy.synthetic import generate_economy
from councilplan.planning.values import cheapest_techniques, labour_values


def test_two_product_economy_by_hand():
    # corn: 0.1 corn + 0.3 iron + 1 h; iron: 0.2 corn + 0.1 iron + 2 h.
    economy = make_economy(
        products=["corn", "iron"],
        techniques=["corn", "iron"],
        technique_product=[0, 1],
        inputs=np.array([[0.1, 0.2], [0.3, 0.1]]),
        labour=[1.0, 2.0],
    )
    result = labour_values(economy)
    # v_corn = 0.1 v_corn + 0.3 v_iron + 1, v_iron = 0.2 v_corn + 0.1 v_iron + 2
    expected = np.linalg.solve(np.array([[0.9, -0.2], [-0.3, 0.9]]).T, [1.0, 2.0])
    np.testing.assert_allclose(result.values, expected, rtol=1e-14)
    assert result.to_series()["iron"] == pytest.approx(expected[1])
    assert result.method == "direct" and result.residual < 1e-15


@given(n=st.integers(2, 60), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_direct_and_iterative_agree_with_dense_algebra(n, seed):
    economy = generate_economy(n, inputs_per_product=min(5, n), seed=seed, labour_kinds=2)
    a = economy.input_matrix().toarray()
    labour = economy.labour_per_unit()
    dense = np.linalg.solve((np.eye(n) - a).T, labour.T).T
    for method in ("direct", "iterative"):
        result = labour_values(economy, method=method)
        np.testing.assert_allclose(result.by_kind, dense, rtol=1e-10)
        np.testing.assert_allclose(result.values, dense.sum(axis=0), rtol=1e-10)
        assert result.residual <= 1e-11


def test_large_economy_reaches_the_residual_it_reports():
    economy = generate_economy(20_000, inputs_per_product=10, seed=3)
    result = labour_values(economy)
    assert result.method == "bicgstab"
    a = economy.input_matrix()
    direct = economy.labour_per_unit()[0]
    v = result.values
    measured = np.linalg.norm(v - a.T @ v - direct) / np.linalg.norm(direct)
    assert measured == pytest.approx(result.residual, rel=1e-3, abs=1e-15)
    assert measured < 1e-11


def test_cheapest_technique_is_the_best_of_all_choices():
    economy = generate_economy(6, inputs_per_product=3, techniques_per_product=3, seed=11)
    choice, values = cheapest_techniques(economy)
    best = None
    for combo in itertools.product(range(3), repeat=6):
        candidate = np.array([j * 6 + i for i, j in enumerate(combo)])
        v = labour_values(economy, choice=candidate).values
        best = v if best is None else np.minimum(best, v)
    # The chosen techniques attain the least value of every product at once.
    np.testing.assert_allclose(values, best, rtol=1e-12)
    np.testing.assert_allclose(labour_values(economy).values, best, rtol=1e-12)
    assert labour_values(economy).technique_rounds >= 1
