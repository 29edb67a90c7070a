"""The Economy refuses bad input with an error naming where, and is read-only once built."""

import numpy as np
import pytest

from councilplan.economy.errors import EconomyError, NotProductiveError
from councilplan.economy.model import make_economy


def corn_iron(**overrides):
    arguments = dict(
        products=["corn", "iron"],
        techniques=["farm", "forge"],
        technique_product=["corn", "iron"],
        inputs=np.array([[0.1, 0.2], [0.3, 0.1]]),
        labour=[1.0, 2.0],
        source="test.csv",
    )
    arguments.update(overrides)
    return make_economy(**arguments)


def test_a_valid_economy_is_read_only():
    economy = corn_iron()
    assert economy.n_products == 2 and economy.single_technique
    with pytest.raises(ValueError):
        economy.labour[0, 0] = 5.0
    with pytest.raises(ValueError):
        economy.inputs.data[0] = 5.0
    with pytest.raises(AttributeError):
        economy.name = "other"


def test_equality_compares_every_coefficient():
    assert corn_iron() == corn_iron()
    assert corn_iron() != corn_iron(labour=[1.0, 2.5])
    assert corn_iron() != corn_iron(inputs=np.array([[0.1, 0.2], [0.3, 0.0]]))


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"inputs": np.array([[0.1, np.nan], [0.3, 0.1]])}, ["'corn'", "'forge'", "nan"]),
        ({"labour": [1.0, np.inf]}, ["'forge'", "inf"]),
        ({"products": ["corn", "corn"]}, ["duplicate product id 'corn'", "row 2"]),
        ({"technique_product": ["corn", "steel"]}, ["unknown product 'steel'", "'forge'"]),
        ({"technique_product": ["corn", "corn"]}, ["nothing can make product 'iron'"]),
        (
            {"inputs": np.array([[0.1, -0.2], [0.3, 0.1]])},
            ["negative input", "'corn'", "by-product"],
        ),
        ({"technique_output": [1.0, 0.0]}, ["'forge'", "positive"]),
        ({"labour": [1.0, -2.0]}, ["'forge'", ">= 0"]),
    ],
)
def test_bad_input_is_refused_with_where(overrides, words):
    with pytest.raises(EconomyError) as caught:
        corn_iron(**overrides)
    message = str(caught.value)
    assert message.startswith("test.csv")
    for word in words:
        assert word in message


def test_declared_byproduct_may_be_negative():
    economy = corn_iron(inputs=np.array([[0.1, -0.2], [0.3, 0.1]]), byproducts=["corn"])
    assert economy.inputs.toarray()[0, 1] == -0.2


def test_unproductive_economy_names_the_cycle():
    with pytest.raises(NotProductiveError) as caught:
        make_economy(
            products=["a", "b", "c"],
            techniques=["ta", "tb", "tc"],
            technique_product=[0, 1, 2],
            # a and b need more of each other than they make; c is fine.
            inputs=np.array([[0.0, 1.5, 0.1], [0.9, 0.0, 0.1], [0.0, 0.0, 0.1]]),
            labour=[1.0, 1.0, 1.0],
        )
    assert sorted(caught.value.cycle) == ["a", "b"]
    assert caught.value.spectral_radius == pytest.approx(np.sqrt(1.35))
    assert "'a'" in str(caught.value) and "'c'" not in str(caught.value)


def test_a_productive_choice_among_several_techniques_is_found():
    # Product a has a wasteful technique (uses 2 a per a) and a good one; still productive.
    economy = make_economy(
        products=["a", "b"],
        techniques=["a.bad", "a.good", "b"],
        technique_product=[0, 0, 1],
        inputs=np.array([[2.0, 0.5, 0.3], [0.0, 0.9, 0.2]]),
        labour=[1.0, 1.0, 1.0],
    )
    assert not economy.single_technique
    with pytest.raises(ValueError, match="several techniques"):
        economy.input_matrix()
    assert economy.input_matrix([1, 2]).toarray().tolist() == [[0.5, 0.3], [0.9, 0.2]]


def test_inputs_scale_with_technique_output():
    economy = corn_iron(technique_output=[2.0, 4.0])
    np.testing.assert_allclose(economy.input_matrix().toarray(), [[0.05, 0.05], [0.15, 0.025]])
    np.testing.assert_allclose(economy.labour_per_unit(), [[0.5, 0.5]])


def test_cheapest_technique_is_the_first_least_cost_technique_of_each_product():
    rng = np.random.default_rng(5)
    made = rng.integers(0, 40, size=200)
    made[:40] = np.arange(40)
    economy = make_economy(
        products=[f"p{i}" for i in range(40)],
        techniques=[f"t{i}" for i in range(200)],
        technique_product=made,
        inputs=np.zeros((40, 200)),
        labour=np.ones(200),
    )
    cost = rng.integers(0, 5, size=200).astype(float)  # many ties
    expected = [min(np.flatnonzero(made == p), key=lambda t: (cost[t], t)) for p in range(40)]
    assert economy.cheapest_technique(cost).tolist() == expected


def test_an_economy_can_be_built_from_another_economys_read_only_arrays():
    economy = corn_iron()
    again = make_economy(
        products=economy.product_ids,
        techniques=economy.technique_ids,
        technique_product=economy.technique_product,
        inputs=economy.inputs,
        labour=economy.labour,
    )
    assert np.array_equal(again.inputs.toarray(), economy.inputs.toarray())
