"""The labour that flows between regions: whose hours end up in whose final demand.

From a multi-regional input-output system (inter-industry coefficients A, final demand Y by
region, a labour account F by producing sector, optionally split by skill level) this
computes, for every pair of regions (r, s), the hours of labour performed in r that are
embodied in the final demand of s:

    E_k[r, s] = sum over sectors j of r of  s_k[j] * X[j, s],   X = (I - A)^-1 Y_s,

with s_k = F_k / x the direct hours per unit of output and Y_s the final demand of region s
summed over its categories. Each row of E sums to the hours performed in r (its labour
account), each column to the labour footprint of s, so nothing is lost or counted twice.
From E follow the net transfer between two regions (E - E^T), the labour embodied in a
region's exports and imports, and the unequal-exchange ratio: hours of other regions'
labour received per hour of its own given. Regions can be grouped (e.g. North and South);
flows within a group then cancel out of its exports and imports.

The Leontief system is solved for R right-hand sides, one per consuming region, never for
an n x n inverse: LU (dense LAPACK, since MRIO matrices fill in under sparse LU) for small
systems or on request, BiCGSTAB (the solver labour values use) beyond. See docs/flows.md
for the method, its sources and the check against pymrio.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from councilplan.economy.errors import EconomyError
from councilplan.errors import Where
from councilplan.planning.values import LeontiefSystem

#: Systems up to this many sectors are solved by LU with method "auto"; beyond, BiCGSTAB.
DIRECT_LIMIT = 500
#: "auto" also takes LU (up to DENSE_LIMIT) when n^3 < this x right-hand sides x non-zeros of A:
#: dense MRIO matrices, where a dense factorisation beats 49 Krylov solves (docs/flows.md).
AUTO_DIRECT_RATIO = 300
#: LU up to this many sectors factors a dense matrix (LAPACK; 3.2 GB at the limit), beyond
#: it a sparse one (SuperLU).
DENSE_LIMIT = 20_000
#: Skill levels in the order they are reported.
SKILLS = ("low", "medium", "high")
#: The skill level named in a labour row's label: EXIOBASE's "Employment hours: Low-skilled
#: male", WIOD SEA's "H_EMP" (no skill), or a plain "high".
_SKILL = re.compile(r"\b(low|medium|high)(?:[- ]?skill(?:ed)?)?\b", re.IGNORECASE)
#: Rows that are labour, tried in this order on each extension: hours before persons.
LABOUR_PATTERNS = (
    re.compile(r"^employment hours\b", re.IGNORECASE),  # EXIOBASE 3, million hours
    re.compile(r"^H_EMPE?$"),  # WIOD SEA: hours worked by persons engaged (employees)
    re.compile(r"^(labou?r|hours)\b", re.IGNORECASE),  # councilplan's own "labour" rows
    re.compile(r"^employment\b", re.IGNORECASE),  # EXIOBASE 3 "Employment (people): ...", 1000 p.
)


class FlowsError(EconomyError):
    """A system whose labour flows cannot be formed; ``where`` names extension and field."""


@dataclass(frozen=True, eq=False)
class LabourFlows:
    """Embodied labour between regions, by labour kind.

    Attributes:
        regions: the regions (or groups), in order.
        kinds: the labour rows (e.g. "Employment hours: Low-skilled male").
        skills: each kind's skill level ("low", "medium", "high") or None.
        unit: the unit of the labour account (e.g. "M.hr", million hours).
        embodied: (k, R, R): hours of kind k performed in region r (row) that are embodied in
            the final demand of region s (column).
        labour: (k, R): hours of kind k the account records in each region.
        value: (R, R) value added of r embodied in the final demand of s, when a value
            account was given (money, ``value_unit``); else None.
        value_unit: the unit of ``value``.
        residual: the largest relative residual ||(I - A) X_s - Y_s|| / ||Y_s|| of the solve.
        method: how the Leontief system was solved ("direct" or "bicgstab").
        seconds: wall-clock time of the computation.
    """

    regions: tuple[str, ...]
    kinds: tuple[str, ...]
    skills: tuple[str | None, ...]
    unit: str
    embodied: np.ndarray
    labour: np.ndarray
    value: np.ndarray | None = None
    value_unit: str | None = None
    residual: float = 0.0
    method: str = "direct"
    seconds: float = 0.0

    def __post_init__(self):
        # Read-only once made, so two reports on the same flows are comparable.
        for array in (self.embodied, self.labour, self.value):
            if array is not None:
                array.flags.writeable = False

    # --- totals ------------------------------------------------------------------------

    def flows(self, skill: str | None = None) -> np.ndarray:
        """(R, R) hours performed in r embodied in s's final demand: all kinds, or one skill."""
        if skill is None:
            return self.embodied.sum(axis=0)
        if skill not in self.skill_levels:
            raise FlowsError(
                f"no labour of skill {skill!r}; the account has "
                + (", ".join(self.skill_levels) or "no skill levels"),
                Where("labour flows", field="skill"),
            )
        chosen = [k for k, level in enumerate(self.skills) if level == skill]
        return self.embodied[chosen].sum(axis=0)

    @property
    def skill_levels(self) -> tuple[str, ...]:
        """The skill levels present, low to high (empty when the account has none)."""
        return tuple(level for level in SKILLS if level in self.skills)

    def performed(self, skill: str | None = None) -> np.ndarray:
        """(R,) hours performed in each region: the rows of :meth:`flows` summed."""
        return self.flows(skill).sum(axis=1)

    def footprint(self, skill: str | None = None) -> np.ndarray:
        """(R,) hours embodied in each region's final demand, wherever performed."""
        return self.flows(skill).sum(axis=0)

    def unattributed(self, skill: str | None = None) -> np.ndarray:
        """(R,) hours the account records that no final demand embodies: labour of sectors
        with no output, or a gross output x that does not match (I - A)^-1 Y 1."""
        chosen = [k for k, lv in enumerate(self.skills) if skill is None or lv == skill]
        return self.labour[chosen].sum(axis=0) - self.performed(skill)

    def net(self, skill: str | None = None) -> np.ndarray:
        """(R, R) net transfer E - E^T: hours r gives s less hours s gives r (antisymmetric;
        positive where labour flows from r to s on balance)."""
        e = self.flows(skill)
        return e - e.T

    def exports(self, skill: str | None = None) -> np.ndarray:
        """(R,) hours performed in a region for the final demand of all others."""
        e = self.flows(skill)
        return e.sum(axis=1) - np.diag(e)

    def imports(self, skill: str | None = None) -> np.ndarray:
        """(R,) hours performed elsewhere for a region's final demand."""
        e = self.flows(skill)
        return e.sum(axis=0) - np.diag(e)

    def appropriation(self, skill: str | None = None) -> np.ndarray:
        """(R,) net hours a region receives: imports less exports (= footprint - performed)."""
        return self.imports(skill) - self.exports(skill)

    def exchange_ratio(self, skill: str | None = None) -> np.ma.MaskedArray:
        """(R,) hours of other regions' labour one hour of a region's labour commands:
        embodied imports / embodied exports. Masked where it cannot be formed (a region that
        exports no labour); :meth:`ratio_reason` says why."""
        imports, exports = self.imports(skill), self.exports(skill)
        undefined = exports <= 0
        return np.ma.masked_array(imports / np.where(undefined, 1.0, exports), mask=undefined)

    def ratio_reason(self, skill: str | None = None) -> list[str | None]:
        """Per region: why the exchange ratio cannot be formed, or None where it can."""
        imports, exports = self.imports(skill), self.exports(skill)
        return [
            None
            if e > 0
            else "trades no embodied labour"
            if i <= 0
            else "exports no embodied labour, imports some"
            for i, e in zip(imports, exports, strict=True)
        ]

    def value_adjusted_ratio(self, skill: str | None = None) -> np.ma.MaskedArray | None:
        """(R,) the exchange ratio per unit of money: (hours imported per unit of value
        imported) / (hours exported per unit of value exported); 1 is an equal exchange of
        hours for money. None without a value account; masked for a region that exports
        no labour or trades no value added in either direction."""
        if self.value is None:
            return None
        v = self.value
        v_exports = v.sum(axis=1) - np.diag(v)
        v_imports = v.sum(axis=0) - np.diag(v)
        imports, exports = self.imports(skill), self.exports(skill)
        undefined = (exports <= 0) | (v_exports <= 0) | (v_imports <= 0)
        safe = lambda a: np.where(undefined, 1.0, a)  # noqa: E731
        ratio = (imports / safe(v_imports)) / (safe(exports) / safe(v_exports))
        return np.ma.masked_array(ratio, mask=undefined)

    # --- regrouping --------------------------------------------------------------------

    def grouped(self, groups: Mapping[str, str], rest: str | None = None) -> LabourFlows:
        """The same flows between groups of regions (e.g. {"USA": "North", ...}).

        Flows within a group become the group's own (its diagonal), so a group's exports and
        imports are only those with other groups. Regions not in ``groups`` go to ``rest``;
        without it they are an error naming them.
        """
        unknown = sorted(set(groups) - set(self.regions))
        if unknown:
            raise FlowsError(
                f"region grouping names regions the system does not have: {', '.join(unknown)}; "
                f"its regions are {', '.join(self.regions)}",
                Where("region groups", id=unknown[0]),
            )
        missing = [r for r in self.regions if r not in groups]
        if missing and rest is None:
            raise FlowsError(
                f"regions without a group: {', '.join(missing)}; assign them or name a "
                "group for the rest",
                Where("region groups", id=missing[0]),
            )
        label = [str(groups.get(r, rest)) for r in self.regions]
        names = tuple(dict.fromkeys(label))
        member = sp.csr_array(
            (np.ones(len(label)), ([names.index(g) for g in label], np.arange(len(label)))),
            shape=(len(names), len(label)),
        )

        def fold(e: np.ndarray) -> np.ndarray:
            return member @ e @ member.T

        return replace(
            self,
            regions=names,
            embodied=np.stack([fold(e) for e in self.embodied]),
            labour=np.stack([member @ row for row in self.labour]),
            value=None if self.value is None else fold(self.value),
        )


# --- computation ---------------------------------------------------------------------------


def labour_flows(
    a: sp.sparray | np.ndarray,
    final_demand: np.ndarray,
    labour: np.ndarray,
    *,
    sector_region: Sequence[str],
    demand_region: Sequence[str],
    kinds: Sequence[str],
    unit: str = "hours",
    output: np.ndarray | None = None,
    labour_final_demand: np.ndarray | None = None,
    value: np.ndarray | None = None,
    value_unit: str | None = None,
    method: str = "auto",
    tol: float = 1e-12,
) -> LabourFlows:
    """Embodied labour between regions from arrays.

    Args:
        a: (n, n) input coefficients (units of input per unit of output), sparse or dense.
        final_demand: (n, m) final demand, one column per category of a region.
        labour: (k, n) hours of each labour kind performed in each sector.
        sector_region: (n,) the region of each sector.
        demand_region: (m,) the region whose final demand each column of ``final_demand`` is.
        kinds: (k,) the labour kinds; their skill level is read from the names.
        output: (n,) gross output x; direct hours per unit are ``labour / output``. Without
            it, x = (I - A)^-1 Y 1, and the flows of each region sum to its labour exactly.
        labour_final_demand: (k, m) hours performed directly for final demand (households
            employing people), counted as the demanding region's own labour.
        value: (n,) value added per sector (money), for :meth:`LabourFlows.value_adjusted_ratio`.
        method: "auto", "direct" (LU) or "bicgstab" (block BiCGSTAB); see docs/flows.md.
        tol: the relative residual BiCGSTAB stops at, per consuming region.
    """
    started = time.perf_counter()
    a = sp.csr_array(a, dtype=np.float64)
    n = a.shape[0]
    y = np.asarray(final_demand, dtype=np.float64)
    f = np.atleast_2d(np.asarray(labour, dtype=np.float64))
    sector_region = [str(r) for r in sector_region]
    demand_region = [str(r) for r in demand_region]
    _check_shapes(a, y, f, sector_region, demand_region, kinds)
    regions = tuple(dict.fromkeys([*sector_region, *demand_region]))
    where = {r: i for i, r in enumerate(regions)}
    big_r = len(regions)
    # Sectors to regions, final-demand columns to regions: indicator matrices.
    of_sector = sp.csr_array(
        (np.ones(n), ([where[r] for r in sector_region], np.arange(n))), shape=(big_r, n)
    )
    of_column = sp.csr_array(
        (np.ones(len(demand_region)), ([where[r] for r in demand_region], np.arange(y.shape[1]))),
        shape=(big_r, y.shape[1]),
    )
    y_by_region = np.asarray((of_column @ y.T).T)  # (n, R)

    x_by_region, residual, used = _leontief_solve(a, y_by_region, method=method, tol=tol)
    x_total = x_by_region.sum(axis=1)
    x = x_total if output is None else np.asarray(output, dtype=np.float64).reshape(-1)
    if x.shape != (n,):
        raise FlowsError(f"output has shape {x.shape}, not ({n},)", Where("x", field="output"))
    # pymrio's convention: no output, no coefficient (calc_S sets 1/0 to 0).
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(x != 0, f / np.where(x != 0, x, 1.0), 0.0)

    embodied = np.stack([of_sector @ (row[:, None] * x_by_region) for row in per_unit])
    account = np.stack([of_sector @ row for row in f])
    if labour_final_demand is not None:
        direct = np.atleast_2d(np.asarray(labour_final_demand, dtype=np.float64))
        if direct.shape != (f.shape[0], y.shape[1]):
            raise FlowsError(
                f"labour of final demand has shape {direct.shape}, not {(f.shape[0], y.shape[1])}",
                Where("F_Y", field="labour"),
            )
        by_region = np.stack([of_column @ row for row in direct])
        idx = np.arange(big_r)
        embodied[:, idx, idx] += by_region
        account += by_region
    value_flows = None
    if value is not None:
        v = np.asarray(value, dtype=np.float64).reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            v_unit = np.where(x != 0, v / np.where(x != 0, x, 1.0), 0.0)
        value_flows = of_sector @ (v_unit[:, None] * x_by_region)
    return LabourFlows(
        regions=regions,
        kinds=tuple(str(k) for k in kinds),
        skills=tuple(skill_of(k) for k in kinds),
        unit=unit,
        embodied=embodied,
        labour=account,
        value=value_flows,
        value_unit=value_unit,
        residual=residual,
        method=used,
        seconds=time.perf_counter() - started,
    )


def skill_of(kind: str) -> str | None:
    """The skill level a labour row names ("low", "medium", "high"), or None."""
    found = _SKILL.search(str(kind))
    return found.group(1).lower() if found else None


def _check_shapes(a, y, f, sector_region, demand_region, kinds) -> None:
    n = a.shape[0]
    problems = [
        (a.shape != (n, n), "A", f"is {a.shape}, not square"),
        (y.ndim != 2 or y.shape[0] != n, "Y", f"has shape {y.shape}, not ({n}, categories)"),
        (f.shape[1] != n, "F", f"has {f.shape[1]} sectors, A has {n}"),
        (len(sector_region) != n, "sector regions", f"has {len(sector_region)}, not {n}"),
        (len(demand_region) != y.shape[1], "demand regions", f"{len(demand_region)} entries"),
        (len(kinds) != f.shape[0], "labour kinds", f"{len(kinds)} names, {f.shape[0]} rows"),
    ]
    for bad, field, message in problems:
        if bad:
            raise FlowsError(f"{field} {message}", Where("input-output system", field=field))
    for name, arr in (("A", a.data), ("Y", y), ("F", f)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise FlowsError(f"{name} holds {int(bad.sum())} non-finite numbers", Where(name))


def _leontief_solve(
    a: sp.csr_array, y: np.ndarray, *, method: str, tol: float
) -> tuple[np.ndarray, float, str]:
    """X = (I - A)^-1 Y for the columns of Y: (X, largest relative residual, method)."""
    if method not in ("auto", "direct", "bicgstab"):
        raise FlowsError(f"unknown method {method!r}; use auto, direct or bicgstab", Where())
    n = a.shape[0]
    if method == "auto":
        # LU costs ~n^3, the Krylov solves ~(right-hand sides x non-zeros): measured on 2 cores
        # at 9,800 sectors, 2.2e-11 s per n^3 against ~7e-9 s per column per non-zero.
        columns = int(np.count_nonzero(np.linalg.norm(y, axis=0)))
        cheaper = n**3 < AUTO_DIRECT_RATIO * columns * a.nnz
        method = "direct" if n <= DIRECT_LIMIT or (n <= DENSE_LIMIT and cheaper) else "bicgstab"
    if method == "direct":
        if n <= DENSE_LIMIT:
            # MRIO matrices fill in under sparse LU (imports link every region to many
            # others): dense LAPACK LU is far faster up to here (measured, docs/flows.md).
            matrix = np.eye(n) - a.toarray()
            with warnings.catch_warnings():
                warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
                try:
                    factors = scipy.linalg.lu_factor(matrix, overwrite_a=True, check_finite=False)
                except scipy.linalg.LinAlgWarning as singular:
                    raise FlowsError(
                        f"I - A is singular: {singular}", Where("A", field="A")
                    ) from None
            del matrix
            x = scipy.linalg.lu_solve(factors, y, check_finite=False)
        else:
            eye = sp.identity(n, format="csc", dtype=np.float64)
            x = spla.splu(sp.csc_array(eye - a), permc_spec="COLAMD").solve(y)
        x = np.asarray(x).reshape(y.shape)
    else:
        x, unconverged = _block_bicgstab(a, y, tol)
        if unconverged.size:
            # BiCGSTAB can break down; LeontiefSystem retries such a column with GMRES.
            # It solves (I - M)^T v = l; with M = A^T (A in CSR read as CSC) that is
            # (I - A) v = l.
            system = LeontiefSystem(
                sp.csc_array((a.data, a.indices, a.indptr), shape=a.shape), "bicgstab"
            )
            for s in unconverged:
                x[:, s] = system.solve_values(y[:, s], tol=tol, x0=x[:, s])[0]
        method = "bicgstab"
    worst = 0.0
    active = np.flatnonzero(np.linalg.norm(y, axis=0) > 0)
    if active.size:
        r = x[:, active] - a @ x[:, active] - y[:, active]
        worst = float(np.max(np.linalg.norm(r, axis=0) / np.linalg.norm(y[:, active], axis=0)))
    return x, worst, method


def _block_bicgstab(a: sp.csr_array, y: np.ndarray, tol: float, maxiter: int = 500):
    """BiCGSTAB on (I - A) X = Y for all columns at once: each column keeps its own
    scalars, but the products with A are one sparse-times-dense product per step (about
    twice as fast per column as products with single vectors), split over the cores by
    row blocks. Returns (X, the columns that did not reach ``tol``)."""
    product = _RowBlocks(a)
    norms = np.linalg.norm(y, axis=0)
    live = norms > 0
    scale = np.where(live, norms, 1.0)
    x = y + product(y)  # the first two terms of the Neumann series: already close
    r = y - (x - product(x))
    r_hat = r.copy()
    p = np.zeros_like(y)
    v = np.zeros_like(y)
    rho_old = alpha = omega = np.ones(y.shape[1])
    done = ~live | (np.linalg.norm(r, axis=0) <= tol * scale)
    with product:
        for _ in range(maxiter):
            if done.all():
                break
            rho = np.einsum("ij,ij->j", r_hat, r)
            with np.errstate(divide="ignore", invalid="ignore"):
                beta = (rho / rho_old) * (alpha / omega)
            beta = np.where(done, 0.0, beta)
            p = r + beta * (p - omega * v)
            v = p - product(p)
            with np.errstate(divide="ignore", invalid="ignore"):
                alpha = np.where(done, 0.0, rho / np.einsum("ij,ij->j", r_hat, v))
            s = r - alpha * v
            t = s - product(s)
            with np.errstate(divide="ignore", invalid="ignore"):
                omega = np.where(
                    done, 0.0, np.einsum("ij,ij->j", t, s) / np.einsum("ij,ij->j", t, t)
                )
            x = x + alpha * p + omega * s
            r = s - omega * t
            rho_old = np.where(done, 1.0, rho)
            omega = np.where(done, 1.0, omega)
            broken = ~np.isfinite(alpha) | ~np.isfinite(omega) | ~np.isfinite(x).all(axis=0)
            done = done | broken | (np.linalg.norm(r, axis=0) <= tol * scale)
        true = np.linalg.norm(y - (x - product(x)), axis=0)
    bad = np.flatnonzero(live & ~(np.isfinite(true) & (true <= 10 * tol * scale)))
    x[:, bad] = np.where(np.isfinite(x[:, bad]), x[:, bad], 0.0)
    return x, bad


class _RowBlocks:
    """Y = A @ X for a CSR matrix and a dense X, split into row blocks of equal non-zeros,
    one per core (SciPy's sparse product releases the GIL, so threads scale)."""

    def __init__(self, a: sp.csr_array):
        self.a = a
        threads = min(os.cpu_count() or 1, 8, max(1, a.nnz // 200_000))
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
        cuts = np.searchsorted(a.indptr, np.linspace(0, a.nnz, threads + 1)).tolist()
        cuts[0], cuts[-1] = 0, a.shape[0]
        self.blocks = [(lo, hi, a[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.pool is None:
            return self.a @ x
        out = np.empty((self.a.shape[0], *x.shape[1:]))

        def work(block):
            lo, hi, rows = block
            out[lo:hi] = rows @ x

        list(self.pool.map(work, self.blocks))
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()


# --- pymrio systems ------------------------------------------------------------------------


def _label(entry: object) -> str:
    if isinstance(entry, tuple):
        return "/".join(str(part) for part in entry)
    return str(entry)


def find_labour(io, extension: str | None = None) -> tuple[str, list[str]]:
    """The extension and rows that are labour in a pymrio system: EXIOBASE's "Employment
    hours: ..." rows where present, else WIOD's H_EMP, "labour"/"hours" rows, or
    "Employment: ..." (persons). Raises :class:`FlowsError` naming the extensions and rows
    searched when none is found."""
    exts = {name: getattr(io, name) for name in io.get_extensions(data=False)}
    titles = {getattr(ext, "name", name): name for name, ext in exts.items()}
    if extension is not None:
        key = titles.get(extension, extension)
        if key not in exts:
            raise FlowsError(
                f"no extension {extension!r}; the system has {', '.join(exts) or 'none'}",
                Where(_source(io), id=extension),
            )
        exts = {key: exts[key]}
    for pattern in LABOUR_PATTERNS:
        for name, ext in exts.items():
            if ext.F is None:
                continue
            rows = [_label(i) for i in ext.F.index if pattern.search(_label(i))]
            if rows:
                return name, rows
    searched = "; ".join(
        f"{name}: {', '.join(_label(i) for i in ext.F.index[:8])}"
        + (" ..." if len(ext.F.index) > 8 else "")
        for name, ext in exts.items()
        if ext.F is not None
    )
    raise FlowsError(
        "no labour account: no extension has rows named 'Employment hours: ...', 'H_EMP', "
        "'labour', 'hours' or 'Employment: ...' (searched "
        + (searched or "no extensions")
        + "); add an extension with hours worked per sector, or name its rows",
        Where(_source(io), field="labour"),
    )


def flows_from_pymrio(
    io,
    *,
    extension: str | None = None,
    rows: Sequence[str] | None = None,
    value: tuple[str, Sequence[str]] | None = None,
    method: str = "auto",
) -> LabourFlows:
    """Embodied labour between the regions of a pymrio ``IOSystem``.

    ``extension`` and ``rows`` pick the labour account (labels, a tuple joined with '/');
    without them it is found by :func:`find_labour`. ``value`` = (extension, rows) names a
    value-added account (money) for the value-adjusted exchange ratio. The system is not
    changed: A and x are computed aside when missing. Raises :class:`FlowsError` naming the
    extension and field of what is missing.
    """
    source = _source(io)
    if io.Y is None or (io.A is None and io.Z is None):
        raise FlowsError(
            "the system has no final demand Y or no A/Z matrix", Where(source, field="Y/A")
        )
    if rows is None:
        extension, rows = find_labour(io, extension)
    elif extension is None:
        raise FlowsError("name the extension that holds the labour rows", Where(source))
    f, ext_name, ext = _rows(io, extension, rows, source, "labour")
    y = io.Y
    if io.A is not None:
        a_frame = io.A
    else:
        x_z = io.x if io.x is not None else _output_from_z(io.Z, y)
        a_frame = io.Z.div(x_z.to_numpy().reshape(-1), axis=1).replace([np.inf, -np.inf], 0)
        a_frame = a_frame.fillna(0.0)
    sectors = a_frame.columns
    if not y.index.equals(sectors):
        y = y.reindex(sectors).fillna(0.0)
    f = f.reindex(columns=sectors).fillna(0.0)
    x = None if io.x is None else io.x.reindex(sectors).to_numpy(dtype=np.float64).reshape(-1)
    f_y = None
    if getattr(ext, "F_Y", None) is not None:
        f_y_frame = ext.F_Y.loc[f.index].reindex(columns=y.columns).fillna(0.0)
        if np.any(f_y_frame.to_numpy() != 0):
            f_y = f_y_frame.to_numpy(dtype=np.float64)
    unit = _unit(ext, f.index, "hours")
    value_row = value_unit = None
    if value is not None:
        v, _, v_ext = _rows(io, value[0], value[1], source, "value")
        value_row = v.reindex(columns=sectors).fillna(0.0).to_numpy(dtype=np.float64).sum(axis=0)
        value_unit = _unit(v_ext, v.index, "money")
    region_of = [_label(c[0] if isinstance(c, tuple) else c) for c in sectors]
    demand_of = [_label(c[0] if isinstance(c, tuple) else c) for c in y.columns]
    return labour_flows(
        sp.csr_array(a_frame.to_numpy(dtype=np.float64)),
        y.to_numpy(dtype=np.float64),
        f.to_numpy(dtype=np.float64),
        sector_region=region_of,
        demand_region=demand_of,
        kinds=[_label(i) for i in f.index],
        unit=unit,
        output=x,
        labour_final_demand=f_y,
        value=value_row,
        value_unit=value_unit,
        method=method,
    )


def _source(io) -> str:
    name = getattr(io, "name", None)
    return f"pymrio system {name!r}" if name else "pymrio system"


def _rows(io, extension: str, rows: Sequence[str], source: str, what: str):
    exts = {name: getattr(io, name) for name in io.get_extensions(data=False)}
    titles = {getattr(ext, "name", name): name for name, ext in exts.items()}
    key = titles.get(extension, extension)
    if key not in exts:
        raise FlowsError(
            f"no extension {extension!r} for the {what} account; the system has "
            + (", ".join(exts) or "no extensions"),
            Where(source, id=extension, field=what),
        )
    ext = exts[key]
    if ext.F is None:
        raise FlowsError(f"extension {key!r} has no F table", Where(source, id=key, field="F"))
    labels = [_label(i) for i in ext.F.index]
    picked = []
    for row in rows:
        if row not in labels:
            raise FlowsError(
                f"extension {key!r} has no row {row!r}; its rows are "
                + ", ".join(repr(lab) for lab in labels[:20]),
                Where(source, id=key, field=row),
            )
        picked.append(labels.index(row))
    if not picked:
        raise FlowsError(f"name at least one {what} row", Where(source, id=key, field=what))
    return ext.F.iloc[picked], key, ext


def _unit(ext, index, default: str) -> str:
    unit = getattr(ext, "unit", None)
    if unit is None or "unit" not in unit.columns:
        return default
    units = {str(u) for u in unit["unit"].reindex(index).dropna()}
    return units.pop() if len(units) == 1 else default


def _output_from_z(z, y):
    """x = Z 1 + Y 1, as pymrio's calc_x does."""
    return (z.sum(axis=1) + y.sum(axis=1)).to_frame("indout")
