"""Synthetic economies of any size, reproducible from a seed, for benchmarks and tests.

The sparsity pattern imitates real input-output tables: each technique has a few inputs,
some drawn from a small set of basic products that nearly everything uses (energy,
transport, services: a power-law popularity over the low-numbered products), the rest
from products close to it in the numbering (its own sector). Every technique uses less
than one unit of inputs per unit of output (column sums in [0.2, 0.6]), as in a table in
money terms, so every generated economy is productive.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from councilplan.economy.model import Economy, make_economy

#: Share of a technique's inputs drawn from the economy-wide popular products.
POPULAR_SHARE = 0.5
#: Exponent of the popularity law: input index = n * u**(1 / (1 - POPULARITY)).
POPULARITY = 0.8
#: Half-width of the neighbourhood ("sector") the other inputs come from.
SECTOR_WIDTH = 500


def generate_economy(
    n_products: int,
    *,
    inputs_per_product: int = 20,
    techniques_per_product: int = 1,
    labour_kinds: int = 1,
    resources: int = 0,
    seed: int = 0,
    name: str | None = None,
) -> Economy:
    """A random productive economy with ``n_products`` products.

    Each product has ``techniques_per_product`` techniques, each with
    ``inputs_per_product`` input draws (duplicates merge, so slightly fewer distinct
    inputs), labour in hours of each of ``labour_kinds`` kinds and, with ``resources``,
    use of natural resources (no limits are set: add them for the problem at hand).
    The same arguments always give the same economy.
    """
    if n_products < 1 or inputs_per_product < 0 or techniques_per_product < 1:
        raise ValueError(
            "need n_products >= 1, inputs_per_product >= 0, techniques_per_product >= 1"
        )
    if labour_kinds < 1 or resources < 0:
        raise ValueError("need labour_kinds >= 1 and resources >= 0")
    rng = np.random.default_rng(seed)
    n, k = n_products, inputs_per_product
    t = n * techniques_per_product
    made = np.tile(np.arange(n, dtype=np.int64), techniques_per_product)

    popular = rng.random((t, k)) < POPULAR_SHARE
    far = np.minimum((n * rng.random((t, k)) ** (1.0 / (1.0 - POPULARITY))).astype(np.int64), n - 1)
    near = (made[:, None] + rng.integers(-SECTOR_WIDTH, SECTOR_WIDTH + 1, size=(t, k))) % n
    rows = np.where(popular, far, near).astype(np.int32)
    raw = rng.uniform(0.1, 1.0, size=(t, k))
    column_sum = rng.uniform(0.2, 0.6, size=t)
    data = raw * (column_sum / raw.sum(axis=1))[:, None]
    indptr = np.arange(0, t * k + 1, k, dtype=np.int64)
    inputs = sp.csc_array((data.ravel(), rows.ravel(), indptr), shape=(n, t))

    hours = rng.lognormal(mean=-1.0, sigma=0.5, size=t)
    shares = rng.dirichlet(np.ones(labour_kinds), size=t).T if labour_kinds > 1 else np.ones((1, t))
    labour = shares * hours

    resource_use = np.zeros((resources, t))
    if resources:
        uses = rng.random((resources, t)) < 0.3
        resource_use[uses] = rng.lognormal(mean=-1.0, sigma=0.7, size=int(uses.sum()))

    width = len(str(n))
    products = [f"p{i:0{width}d}" for i in range(n)]
    if techniques_per_product == 1:
        techniques = products
    else:
        techniques = [f"{p}.t{j}" for j in range(techniques_per_product) for p in products]
    return make_economy(
        products=products,
        techniques=techniques,
        technique_product=made,
        inputs=inputs,
        labour=labour,
        resource_use=resource_use,
        labour_kinds=[f"labour{j}" for j in range(labour_kinds)]
        if labour_kinds > 1
        else ["labour"],
        resources=[f"resource{j}" for j in range(resources)],
        name=name or f"synthetic-{n}x{k}-seed{seed}",
        description=(
            f"synthetic economy: {n} products, {techniques_per_product} technique(s) each, "
            f"{k} input draws per technique, seed {seed}"
        ),
    )
