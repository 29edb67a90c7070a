"""Can the economy produce a net surplus? (Hawkins-Simon: spectral radius of A below 1.)

The check is cheap for the usual case: when some technique of every product uses less
than one unit of inputs (in absolute value) per unit of output, the column-sum norm
bounds the spectral radius below 1. Otherwise the techniques are chosen by a value
iteration, the input graph is split into strongly connected components, and each
component's spectral radius is computed; a component at or above 1 is the offending cycle
and is named in the error.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla

from councilplan.economy.errors import NotProductiveError
from councilplan.errors import Where

_DENSE_LIMIT = 2000


def check_productive(economy, source: str | None = None) -> None:
    """Raise :class:`NotProductiveError` if no choice of techniques gives rho(A) < 1."""
    col = np.asarray(abs(economy.inputs).sum(axis=0)).reshape(-1) / economy.technique_output
    best = economy.cheapest_technique(col)
    if np.all(col[best] < 1.0):
        return
    if not economy.single_technique:
        best = value_iteration_choice(economy, best)
    check_choice_productive(
        economy,
        best,
        "the economy cannot produce a net surplus: the spectral radius of its input matrix",
        "these products together use more of each other than they make",
        source,
    )


def check_choice_productive(economy, choice, what: str, advice: str, source) -> None:
    """Raise :class:`NotProductiveError` naming the cycle of products at fault if the input
    matrix of the techniques ``choice`` has a spectral radius at or above 1; ``what`` says
    whose matrix it is and ``advice`` what to do, in the message."""
    radius, cycle = _worst_component(economy.input_matrix(choice))
    if radius >= 1.0 - 1e-12:
        names = [str(economy.product_ids[i]) for i in cycle]
        shown = ", ".join(repr(n) for n in names[:20]) + (" ..." if len(names) > 20 else "")
        raise NotProductiveError(
            f"{what} is {radius:.6g} >= 1, in the cycle of products {shown}; {advice}",
            cycle=names,
            spectral_radius=float(radius),
            where=Where(source, id=names[0] if names else None),
        )


def value_iteration_choice(economy, start: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Techniques minimising the embodied 'one per unit of activity' cost, by value iteration.

    With non-negative inputs the iteration is monotone and converges exactly when some
    choice of techniques is productive; its last choice is then a productive one.
    """
    a = sp.csc_array(abs(economy.inputs))
    at = a.T.tocsr()
    out = economy.technique_output
    v = np.zeros(economy.n_products)
    choice = start
    for _ in range(iterations):
        cost = (1.0 + at @ v) / out
        choice = economy.cheapest_technique(cost)
        new = cost[choice]
        if not np.all(np.isfinite(new)) or new.max() > 1e12:
            break
        if np.allclose(new, v, rtol=1e-12, atol=0):
            break
        v = new
    return choice


def _worst_component(a: sp.csc_array) -> tuple[float, list[int]]:
    """Largest spectral radius over the strongly connected components of A's graph."""
    graph = sp.csr_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape).T
    n_comp, labels = csgraph.connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    # A product alone in its component is a cycle only through its own diagonal entry.
    alone = sizes[labels] == 1
    diag = np.where(alone, np.abs(a.diagonal()), 0.0)
    i = int(np.argmax(diag))
    worst, members = float(diag[i]), [i]
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    for c in np.flatnonzero(sizes > 1):
        idx = order[bounds[c] : bounds[c + 1]]
        radius = _spectral_radius(a[idx][:, idx])
        if radius > worst:
            worst, members = radius, idx.tolist()
    return worst, members


def _spectral_radius(block: sp.csc_array) -> float:
    if block.shape[0] <= _DENSE_LIMIT:
        return float(np.max(np.abs(np.linalg.eigvals(block.toarray()))))
    value = spla.eigs(block, k=1, which="LM", return_eigenvectors=False, tol=1e-10)
    return float(np.abs(value[0]))
