"""The generator is reproducible and makes productive, realistically sparse economies."""

import numpy as np

from councilplan.economy.synthetic import generate_economy


def test_same_seed_same_economy_other_seed_other_economy():
    assert generate_economy(500, seed=4) == generate_economy(500, seed=4)
    assert generate_economy(500, seed=4) != generate_economy(500, seed=5)


def test_shape_and_sparsity():
    economy = generate_economy(
        5000, inputs_per_product=8, techniques_per_product=2, labour_kinds=3, resources=2, seed=1
    )
    assert economy.n_products == 5000 and economy.n_techniques == 10_000
    assert economy.labour.shape == (3, 10_000) and economy.resource_use.shape == (2, 10_000)
    per_technique = np.diff(economy.inputs.indptr)
    assert 6 <= per_technique.mean() <= 8
    # Some products are inputs to very many techniques (energy, transport...).
    users = np.bincount(economy.inputs.indices, minlength=5000)
    assert users.max() > 20 * users.mean()
    assert np.all(np.abs(economy.inputs).sum(axis=0) < 1)
