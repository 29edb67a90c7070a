"""Participatory-planning experiments in the pequod layout: consumer and worker councils.

An :class:`Experiment` is what the participatory rounds (``councilplan.planning.rounds``) run
on: consumer councils with Cobb-Douglas preferences and worker councils with Cobb-Douglas
production functions, over five categories of goods with the same number of goods each
(private, intermediate, nature, labour, public). The councils are held as arrays, one row
per council; a worker council's inputs are a CSR row (``input_indptr``/``input_goods``
into the global good index, the exponents as data).

Two ways in: :func:`load_experiment` reads the authors' ``dep1exNN.clj`` files
(Hahnel and Szczepanczyk, pequod-cljs), and :func:`generate_experiment` draws one of any
size following the authors' generator (parameter ranges in
docs/rounds.md and the spec, §1). :func:`perturb_exponents` is the "augmented reset" that
starts the second phase of a run.

Units: incomes and prices are in the experiment's unit of account (the authors use 5000 per
consumer council and start every price at 700); quantities are units of each good;
nature and labour supplies are units (labour: hours) available per planning period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from councilplan.economy.errors import EconomyError
from councilplan.errors import Where

#: The five categories of goods, in the order of the global good index.
CATEGORIES = ("private", "intermediate", "nature", "labour", "public")
PRIVATE, INTERMEDIATE, NATURE, LABOUR, PUBLIC = range(5)
#: A worker council's ``industry`` -> the category of the good it makes.
INDUSTRY_CATEGORY = np.array([PRIVATE, INTERMEDIATE, PUBLIC], dtype=np.int64)
#: The fixed supply of each nature and labour good in the authors' experiments.
DEFAULT_FIXED_SUPPLY = 1000.0


def good_index(category: int, good_id: int, goods_per_category: int) -> int:
    """The global index of good ``good_id`` (1-based) of ``category`` (0..4)."""
    return goods_per_category * category + (good_id - 1)


def good_names(goods_per_category: int) -> tuple[str, ...]:
    """Labels of all goods in global-index order: ``private-1`` .. ``public-G``."""
    return tuple(f"{c}-{i}" for c in CATEGORIES for i in range(1, goods_per_category + 1))


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ConsumerCouncils:
    """Consumer councils, one row each, in file order.

    Attributes:
        ids: (N,) council ids (the authors number them 1..N by file position).
        income: (N,) budget per planning period, in the unit of account.
        utility_exponents: (N, G) Cobb-Douglas weights on the G private goods.
        public_good_exponents: (N, G) weights on the G public goods.
    """

    ids: np.ndarray
    income: np.ndarray
    utility_exponents: np.ndarray
    public_good_exponents: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def spending(self) -> tuple[np.ndarray, np.ndarray]:
        """Budget each council spends on each good: m_i u_ij / S_i, m_i g_ij / S_i; (N, G) each.

        Cobb-Douglas demand is spending / price, so these fix every response of the council.
        S_i sums all utility exponents, then all public-good exponents (the authors' order).
        """
        total = self.utility_exponents.sum(axis=1) + self.public_good_exponents.sum(axis=1)
        share = self.income / total
        return self.utility_exponents * share[:, None], self.public_good_exponents * share[:, None]

    def total_spending(self) -> tuple[np.ndarray, np.ndarray]:
        """Column sums of :meth:`spending` (K_j, G_j; (G,) each) without forming (N, G) arrays."""
        total = self.utility_exponents.sum(axis=1) + self.public_good_exponents.sum(axis=1)
        share = self.income / total
        return self.utility_exponents.T @ share, self.public_good_exponents.T @ share


@dataclass(frozen=True, eq=False)
class WorkerCouncils:
    """Worker councils, one row each, in file order.

    Production is q = a · e^c · Π x_i^{b_i} (e: effort), disutility of effort s · e^k.

    Attributes:
        ids: (W,) council ids (1..W by file position).
        industry: (W,) 0 makes a private good, 1 an intermediate good, 2 a public good.
        product: (W,) 1-based id of the good it makes within its category.
        input_indptr: (W+1,) CSR row pointers into ``input_goods``/``input_exponents``.
        input_goods: (nnz,) global index of each input (intermediate, nature or labour good),
            per council in the order intermediate, nature, labour as in the file.
        input_exponents: (nnz,) the exponent b_i of each input.
        productivity: (W,) a.
        effort_exponent: (W,) c.
        disutility_exponent: (W,) k (the authors' ``:du``).
        disutility_scale: (W,) s.
    """

    ids: np.ndarray
    industry: np.ndarray
    product: np.ndarray
    input_indptr: np.ndarray
    input_goods: np.ndarray
    input_exponents: np.ndarray
    productivity: np.ndarray
    effort_exponent: np.ndarray
    disutility_exponent: np.ndarray
    disutility_scale: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_inputs(self) -> np.ndarray:
        """(W,) number of inputs of each council."""
        return np.diff(self.input_indptr)

    def output_goods(self, goods_per_category: int) -> np.ndarray:
        """(W,) global index of the good each council makes."""
        return goods_per_category * INDUSTRY_CATEGORY[self.industry] + self.product - 1

    def input_rows(self) -> np.ndarray:
        """(nnz,) the row (council position) of each input entry."""
        return np.repeat(np.arange(self.n, dtype=np.int64), self.n_inputs)

    def exponent_sums(self, goods_per_category: int) -> np.ndarray:
        """(W,) c + Σ labour + Σ intermediate + Σ nature exponents, added left to right.

        This is the authors' printed "exponent-sum", in their order, so it matches their
        log exactly.
        """
        category = self.input_goods // goods_per_category
        # rank in the authors' order: labour first, then intermediate, then nature
        rank = np.select([category == LABOUR, category == INTERMEDIATE], [0, 1], 2)
        rows = self.input_rows()
        # rows are already in order, so a stable sort on row·3 + rank is nearly linear
        order = np.argsort(rows * 3 + rank, kind="stable")
        values = self.input_exponents[order]
        # slot of each entry within its row; then add slot by slot (a loop over at most
        # max-inputs slots, not over councils) so each row is summed strictly left to right
        slot = np.arange(rows.size) - self.input_indptr[rows]
        total = self.effort_exponent.astype(np.float64, copy=True)
        for position in range(int(slot.max(initial=-1)) + 1):
            at = slot == position
            total[rows[at]] += values[at]
        return total


@dataclass(frozen=True, eq=False)
class Experiment:
    """Consumer and worker councils over 5 categories of ``goods_per_category`` goods each.

    Attributes:
        name: a short label (the file stem for the authors' experiments).
        goods_per_category: G; the global good index is G · category + (id − 1).
        consumers, workers: the councils.
        nature_supply, labour_supply: (G,) fixed supply of each nature and labour good.
        source: where it came from (a file path or the generator's parameters).
    """

    name: str
    goods_per_category: int
    consumers: ConsumerCouncils
    workers: WorkerCouncils
    nature_supply: np.ndarray
    labour_supply: np.ndarray
    source: str = ""

    @property
    def n_goods(self) -> int:
        return 5 * self.goods_per_category

    def good_names(self) -> tuple[str, ...]:
        return good_names(self.goods_per_category)


# --------------------------------------------------------------------------- validation


def make_experiment(
    *,
    name: str,
    goods_per_category: int,
    consumer_income,
    utility_exponents,
    public_good_exponents,
    industry,
    product,
    input_indptr,
    input_goods,
    input_exponents,
    productivity,
    effort_exponent,
    disutility_exponent,
    disutility_scale,
    nature_supply=None,
    labour_supply=None,
    consumer_ids=None,
    worker_ids=None,
    source: str = "",
    absent_goods=None,
) -> Experiment:
    """Validate arrays (vectorised) and build a frozen :class:`Experiment`.

    Raises :class:`EconomyError` naming the first offending council id and field: a worker
    council with no inputs, an input outside the intermediate/nature/labour goods, a
    repeated input, a zero or negative exponent, productivity or income, or exponents that
    sum to 1 or more (then profit has no maximum).

    ``absent_goods`` (global indices) pads a category that has fewer than G real goods (an
    economy mapped onto the procedure, docs/rounds.md "The demo town"): no consumer council
    wants an absent good (exponent 0), no worker council makes or uses it, and an absent
    nature or labour good has supply 0. With 0 supply and 0 demand it balances trivially and
    its price never moves.
    """
    g = int(goods_per_category)
    if g < 1:
        raise EconomyError(f"goods_per_category must be at least 1, got {g}", Where(source))
    absent = np.zeros(5 * g, dtype=bool)
    if absent_goods is not None:
        at = np.asarray(absent_goods, dtype=np.int64).reshape(-1)
        if ((at < 0) | (at >= 5 * g)).any():
            raise EconomyError(
                f"absent_goods: indices must be 0..{5 * g - 1}", Where(source, field="absent_goods")
            )
        absent[at] = True
    income = np.asarray(consumer_income, dtype=np.float64).reshape(-1)
    n_cc = income.shape[0]
    u = np.asarray(utility_exponents, dtype=np.float64)
    pg = np.asarray(public_good_exponents, dtype=np.float64)
    cc_ids = np.arange(1, n_cc + 1) if consumer_ids is None else np.asarray(consumer_ids)

    def cc_error(row: int, field: str, message: str) -> EconomyError:
        return EconomyError(
            f"consumer council {cc_ids[row]}: {message}",
            Where(source, id=f"cc {cc_ids[row]}", field=field),
        )

    for field, arr, category in (
        ("utility-exponents", u, PRIVATE),
        ("public-good-exponents", pg, PUBLIC),
    ):
        if arr.shape != (n_cc, g):
            raise EconomyError(
                f"{field}: expected shape ({n_cc}, {g}) (councils x goods), got {arr.shape}",
                Where(source, field=field),
            )
        if (arr > 0).all() and np.isfinite(arr).all() and not absent.any():
            continue  # the common case, without (N, G) temporaries
        gone = absent[category * g : (category + 1) * g]
        bad = np.where(gone, arr != 0, ~(arr > 0) | ~np.isfinite(arr))
        if bad.any():
            row, col = np.argwhere(bad)[0]
            if gone[col]:
                raise cc_error(
                    row,
                    field,
                    f"exponent {col + 1} is {float(arr[row, col])!r}; the good is absent: use 0",
                )
            raise cc_error(
                row,
                field,
                f"exponent {col + 1} is {float(arr[row, col])!r}; exponents must be positive "
                "(a good the council does not want is left out of the experiment instead)",
            )
    bad = ~(income > 0) | ~np.isfinite(income)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise cc_error(row, "income", f"income is {float(income[row])!r}; it must be positive")

    industry = np.asarray(industry, dtype=np.int64).reshape(-1)
    n_wc = industry.shape[0]
    wc_ids = np.arange(1, n_wc + 1) if worker_ids is None else np.asarray(worker_ids)

    def wc_error(row: int, field: str, message: str) -> EconomyError:
        return EconomyError(
            f"worker council {wc_ids[row]}: {message}",
            Where(source, id=f"wc {wc_ids[row]}", field=field),
        )

    product = np.asarray(product, dtype=np.int64).reshape(-1)
    per_wc = {}
    for field, values in (
        ("a", productivity),
        ("c", effort_exponent),
        ("du", disutility_exponent),
        ("s", disutility_scale),
    ):
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.shape != (n_wc,):
            raise EconomyError(
                f"{field}: expected {n_wc} values, got {arr.shape[0]}", Where(source, field=field)
            )
        bad = ~(arr > 0) | ~np.isfinite(arr)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise wc_error(row, field, f":{field} is {float(arr[row])!r}; it must be positive")
        per_wc[field] = arr
    if product.shape != (n_wc,):
        raise EconomyError(f"product: expected {n_wc} values", Where(source, field="product"))
    bad = (industry < 0) | (industry > 2)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise wc_error(row, "industry", f":industry is {industry[row]}; use 0, 1 or 2")
    bad = (product < 1) | (product > g)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise wc_error(row, "product", f":product is {product[row]}; use 1..{g}")

    indptr = np.asarray(input_indptr, dtype=np.int64).reshape(-1)
    goods = np.asarray(input_goods, dtype=np.int64).reshape(-1)
    b = np.asarray(input_exponents, dtype=np.float64).reshape(-1)
    if indptr.shape != (n_wc + 1,) or indptr[0] != 0 or goods.shape != b.shape:
        raise EconomyError(
            "input_indptr must have one entry per worker council plus one, start at 0, and "
            "input_goods and input_exponents must have the same length",
            Where(source, field="production-inputs"),
        )
    counts = np.diff(indptr)
    if (counts < 0).any() or indptr[-1] != goods.size:
        raise EconomyError("input_indptr is not a valid CSR row pointer", Where(source))
    if (counts == 0).any():
        row = int(np.flatnonzero(counts == 0)[0])
        raise wc_error(
            row,
            "production-inputs",
            "has no inputs; every worker council needs at least one intermediate, nature or "
            "labour input",
        )
    rows = np.repeat(np.arange(n_wc), counts)
    category = goods // g
    bad = (goods < 0) | (category < INTERMEDIATE) | (category > LABOUR)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise wc_error(
            rows[at],
            "production-inputs",
            f"input good index {goods[at]} is not an intermediate, nature or labour good "
            f"(indices {g}..{4 * g - 1})",
        )
    bad = ~(b > 0) | ~np.isfinite(b)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        field = ("input-exponents", "nature-exponents", "labor-exponents")[category[at] - 1]
        raise wc_error(rows[at], field, f"exponent {float(b[at])!r}; exponents must be positive")
    key = rows * (5 * g) + goods
    sorted_key = np.sort(key)
    dup = sorted_key[1:] == sorted_key[:-1]
    if dup.any():
        k = int(sorted_key[1:][dup][0])
        raise wc_error(
            k // (5 * g),
            "production-inputs",
            f"lists input good index {k % (5 * g)} twice; list each input once",
        )
    made = g * INDUSTRY_CATEGORY[industry] + product - 1
    for what, rows_of, goods_of in (("makes", np.arange(n_wc), made), ("uses", rows, goods)):
        bad = absent[goods_of]
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise wc_error(
                rows_of[at],
                "production-inputs",
                f"{what} good index {goods_of[at]}, which is absent",
            )
    total = np.add.reduceat(b, indptr[:-1]) + per_wc["c"]
    bad = total >= 1
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise wc_error(
            row,
            "input-exponents",
            f"c plus the input exponents is {total[row]:.6g} >= 1 (increasing returns): "
            "profit has no maximum; scale the exponents down",
        )

    supplies = []
    for field, values, category in (
        ("nature_supply", nature_supply, NATURE),
        ("labour_supply", labour_supply, LABOUR),
    ):
        arr = np.full(g, DEFAULT_FIXED_SUPPLY) if values is None else np.asarray(values, float)
        arr = np.broadcast_to(arr, (g,))
        gone = absent[category * g : (category + 1) * g]
        if not (np.isfinite(arr).all() and np.where(gone, arr == 0, arr > 0).all()):
            raise EconomyError(
                f"{field} must be positive and finite (0 for an absent good)",
                Where(source, field=field),
            )
        supplies.append(_frozen(arr, np.float64))

    consumers = ConsumerCouncils(
        ids=_frozen(cc_ids, np.int64),
        income=_frozen(income, np.float64),
        utility_exponents=_frozen(u, np.float64),
        public_good_exponents=_frozen(pg, np.float64),
    )
    workers = WorkerCouncils(
        ids=_frozen(wc_ids, np.int64),
        industry=_frozen(industry, np.int8),
        product=_frozen(product, np.int64),
        input_indptr=_frozen(indptr, np.int64),
        input_goods=_frozen(goods, np.int32 if 5 * g < 2**31 else np.int64),
        input_exponents=_frozen(b, np.float64),
        productivity=_frozen(per_wc["a"], np.float64),
        effort_exponent=_frozen(per_wc["c"], np.float64),
        disutility_exponent=_frozen(per_wc["du"], np.float64),
        disutility_scale=_frozen(per_wc["s"], np.float64),
    )
    return Experiment(
        name=name,
        goods_per_category=g,
        consumers=consumers,
        workers=workers,
        nature_supply=supplies[0],
        labour_supply=supplies[1],
        source=source,
    )


# --------------------------------------------------------------------------- the .clj files


def _forms(text: str, source: str) -> dict[str, list]:
    # A file is read once per run, so a well-kept EDN parser (edn_format) is fast enough and
    # spares a hand-written one. The file is EDN inside (ns ...) and (def ...) forms.
    import edn_format
    from edn_format.exceptions import EDNDecodeError

    try:
        forms = edn_format.loads_all(text)
    except EDNDecodeError as e:
        raise EconomyError(f"not a readable EDN/Clojure data file: {e}", Where(source)) from e
    defs: dict[str, list] = {}
    for form in forms:
        parts = list(form) if isinstance(form, Sequence) and not isinstance(form, str) else []
        if len(parts) == 3 and str(parts[0]) == "def":
            defs[str(parts[1])] = parts[2]
    for name in ("ccs", "wcs"):
        if name not in defs:
            raise EconomyError(
                f"no (def {name} [...]) form; an experiment file defines ccs (consumer "
                "councils) and wcs (worker councils)",
                Where(source, field=name),
            )
    return defs


def _plain(council) -> dict[str, object]:
    return {str(k).lstrip(":"): v for k, v in council.items()}


def _numbers(value, expected: int | None, where: Where, what: str) -> list[float]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise EconomyError(f"{what} must be a vector of numbers, got {value!r}", where)
    if expected is not None and len(value) != expected:
        raise EconomyError(f"{what} has {len(value)} entries, expected {expected}", where)
    return [float(v) for v in value]


def _number(council: dict, field: str, where: Where) -> float:
    if field not in council:
        raise EconomyError(f"missing field :{field}", replace(where, field=field))
    value = council[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EconomyError(f":{field} must be a number, got {value!r}", replace(where, field=field))
    return float(value)


def load_experiment(
    path: str | Path, *, goods_per_category: int = 10, name: str | None = None
) -> Experiment:
    """Read an experiment file of the authors (``dep1exNN.clj``) into an :class:`Experiment`.

    Councils get ids 1..N in file order, as in the authors' program. Fields the procedure does
    not use (``:effort``, ``:output``, ``:toothache``, ...) are ignored. Errors name the file,
    the council (``cc 17`` / ``wc 17``) and the field.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise EconomyError(f"cannot read the experiment file: {e.strerror}", Where(source)) from e
    defs = _forms(text, source)
    g = goods_per_category

    income, u, pg = [], [], []
    for i, raw in enumerate(defs["ccs"], start=1):
        where = Where(source, id=f"cc {i}")
        if not hasattr(raw, "items"):
            raise EconomyError(f"consumer council {i} is not a map", where)
        cc = _plain(raw)
        income.append(_number(cc, "income", where))
        for field, out in (("utility-exponents", u), ("public-good-exponents", pg)):
            out.append(
                _numbers(
                    cc.get(field), g, replace(where, field=field), f"consumer council {i} :{field}"
                )
            )

    counts, goods, exps = [], [], []
    cols: dict[str, list[float]] = {k: [] for k in ("a", "c", "du", "s", "industry", "product")}
    groups = (
        ("input-exponents", INTERMEDIATE),
        ("nature-exponents", NATURE),
        ("labor-exponents", LABOUR),
    )
    for w, raw in enumerate(defs["wcs"], start=1):
        where = Where(source, id=f"wc {w}")
        if not hasattr(raw, "items"):
            raise EconomyError(f"worker council {w} is not a map", where)
        wc = _plain(raw)
        for field in cols:
            cols[field].append(_number(wc, field, where))
        inputs = wc.get("production-inputs")
        fw = replace(where, field="production-inputs")
        if not isinstance(inputs, Sequence) or isinstance(inputs, str) or len(inputs) != 3:
            raise EconomyError(
                f"worker council {w} :production-inputs must be [[intermediate ids] "
                f"[nature ids] [labour ids]], got {inputs!r}",
                fw,
            )
        n = 0
        for ids, (field, category) in zip(inputs, groups, strict=True):
            ids = _numbers(ids, None, fw, f"worker council {w} :production-inputs")
            b = _numbers(
                wc.get(field), len(ids), replace(where, field=field), f"worker council {w} :{field}"
            )
            for good_id in ids:
                if not (good_id.is_integer() and 1 <= good_id <= g):
                    raise EconomyError(
                        f"worker council {w}: input id {good_id:g} is not a good id 1..{g}", fw
                    )
                goods.append(good_index(category, int(good_id), g))
            exps.extend(b)
            n += len(ids)
        counts.append(n)

    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    for field in ("industry", "product"):
        values = np.asarray(cols[field])
        bad = values != np.round(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise EconomyError(
                f"worker council {row + 1}: :{field} must be an integer",
                Where(source, id=f"wc {row + 1}", field=field),
            )
    return make_experiment(
        name=name or path.stem,
        goods_per_category=g,
        consumer_income=income,
        utility_exponents=np.asarray(u, dtype=np.float64).reshape(len(income), g),
        public_good_exponents=np.asarray(pg, dtype=np.float64).reshape(len(income), g),
        industry=cols["industry"],
        product=cols["product"],
        input_indptr=indptr,
        input_goods=goods,
        input_exponents=exps,
        productivity=cols["a"],
        effort_exponent=cols["c"],
        disutility_exponent=cols["du"],
        disutility_scale=cols["s"],
        source=source,
    )


# --------------------------------------------------------------------------- the generator


def _distinct(rng: np.random.Generator, n: int, k: int, pool: int) -> np.ndarray:
    """(n, k) ids 0..pool-1, distinct within each row, drawn uniformly without replacement.

    Draw j picks among the pool − j ids not yet taken, then steps over the taken ones in
    ascending order; a loop over the k slots, not over rows. Any prefix of a row is a uniform
    random subset.
    """
    chosen = np.empty((n, k), dtype=np.int64)
    for j in range(k):
        r = rng.integers(0, pool - j, size=n)
        taken = np.sort(chosen[:, :j], axis=1)
        for t in range(j):
            r += r >= taken[:, t]
        chosen[:, j] = r
    return chosen


def _uniform(rng: np.random.Generator, low: float, high: float, shape) -> np.ndarray:
    # random() scaled in place: Generator.uniform is slower at 10^8 draws.
    out = rng.random(shape)
    out *= high - low
    out += low
    return out


def generate_experiment(
    consumer_councils: int = 3000,
    worker_councils: int | None = None,
    goods_per_category: int = 10,
    *,
    seed: int = 0,
    income: float = 5000.0,
    fixed_supply: float = DEFAULT_FIXED_SUPPLY,
    name: str | None = None,
) -> Experiment:
    """A random experiment following the authors' generator (gen.clj, ccs.clj, wcs.clj).

    Consumer councils: income ``income``; every utility and public-good exponent uniform in
    [0.025, 0.05). Worker councils: the same number for every (industry, product) pair (in
    blocks, as in the authors' files); 1–4 intermediate, 1–2 nature and 1–2 labour inputs
    (distinct ids, sorted, each count uniform); each exponent uniform in [0.75/n, 0.85/n) with
    n the number of inputs; a in [4, 6), c in [0.05, 0.1), k in [3, 4), s = 1. Nature and
    labour supply ``fixed_supply`` each. With ``goods_per_category`` G < 4 the intermediate
    count is capped at G. Reproducible from ``seed``; vectorised, so 10^6 councils are within
    reach (memory goes mostly to the (N, G) consumer exponents).
    """
    n_cc = int(consumer_councils)
    n_wc = n_cc if worker_councils is None else int(worker_councils)
    g = int(goods_per_category)
    if n_cc < 1 or n_wc < 1 or g < 1:
        raise EconomyError("need at least one consumer council, one worker council and one good")
    rng = np.random.default_rng(seed)
    u = _uniform(rng, 0.025, 0.05, (n_cc, g))
    pg = _uniform(rng, 0.025, 0.05, (n_cc, g))

    pair = np.arange(n_wc, dtype=np.int64) * (3 * g) // n_wc
    industry = pair // g
    product = pair % g + 1

    groups = []  # (counts, ids) per input group, ids (n_wc, max count) with -1 padding
    for category, low, high in ((INTERMEDIATE, 1, 4), (NATURE, 1, 2), (LABOUR, 1, 2)):
        high = min(high, g)
        count = rng.integers(low, high + 1, size=n_wc)
        ids = _distinct(rng, n_wc, high, g) + category * g
        # keep the first `count` draws of each row, sorted, padded with -1 at the end
        ids = np.where(np.arange(high) < count[:, None], ids, np.iinfo(np.int64).max)
        ids.sort(axis=1)
        ids[ids == np.iinfo(np.int64).max] = -1
        groups.append((count, ids))
    counts = sum(c for c, _ in groups)
    padded = np.concatenate([ids for _, ids in groups], axis=1)
    goods = padded[padded >= 0]
    n_of_entry = np.repeat(counts, counts)
    exps = _uniform(rng, 0.75, 0.85, goods.size) / n_of_entry
    indptr = np.zeros(n_wc + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])

    return make_experiment(
        name=name or f"generated-{n_cc}x{n_wc}-g{g}-seed{seed}",
        goods_per_category=g,
        consumer_income=np.full(n_cc, float(income)),
        utility_exponents=u,
        public_good_exponents=pg,
        industry=industry,
        product=product,
        input_indptr=indptr,
        input_goods=goods,
        input_exponents=exps,
        productivity=_uniform(rng, 4.0, 6.0, n_wc),
        effort_exponent=_uniform(rng, 0.05, 0.1, n_wc),
        disutility_exponent=_uniform(rng, 3.0, 4.0, n_wc),
        disutility_scale=np.ones(n_wc),
        nature_supply=np.full(g, float(fixed_supply)),
        labour_supply=np.full(g, float(fixed_supply)),
        source=f"generate_experiment({n_cc}, {n_wc}, {g}, seed={seed})",
    )


#: The authors' phase-2 draws: added to every worker-council input exponent, and to every
#: consumer-council exponent (spec §6). Literal values, so sums match Clojure's doubles.
WORKER_EXPONENT_STEPS = np.array([0.0, 0.001, 0.002, 0.003, 0.004])
CONSUMER_EXPONENT_STEPS = np.array([-0.002, -0.001, 0.0, 0.001, 0.002])


def _add_steps(base: np.ndarray, steps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """base + one uniformly drawn entry of ``steps`` per element, in chunks of rows so the
    draws and lookups need little memory beside the result (10^6 x 100 arrays)."""
    out = base.astype(np.float64, copy=True)
    flat = out.reshape(out.shape[0], -1)
    chunk = max(1, (1 << 22) // max(1, flat.shape[1]))
    for start in range(0, flat.shape[0], chunk):
        block = flat[start : start + chunk]
        block += steps[rng.integers(0, steps.size, size=block.shape, dtype=np.int8)]
    return out


def perturb_exponents(experiment: Experiment, rng: np.random.Generator) -> Experiment:
    """The "augmented reset" before phase 2: every exponent gets a small uniform random step.

    Each worker-council input exponent gets one of {0, .001, .002, .003, .004} added, each
    consumer-council exponent one of {−.002, −.001, 0, .001, .002}; a, c, k and s are
    unchanged. The authors drew with an unseeded ``rand-nth``; here ``rng`` makes it
    reproducible. Returns a new experiment (the input is unchanged).
    """
    cc, wc = experiment.consumers, experiment.workers
    u = _add_steps(cc.utility_exponents, CONSUMER_EXPONENT_STEPS, rng)
    pg = _add_steps(cc.public_good_exponents, CONSUMER_EXPONENT_STEPS, rng)
    b = _add_steps(wc.input_exponents, WORKER_EXPONENT_STEPS, rng)
    # a step must not make an exponent non-positive or returns increasing; the authors' ranges
    # never do, but a user's experiment might
    for arr, what in ((u, "consumer utility"), (pg, "consumer public-good"), (b, "worker input")):
        if not (arr > 0).all():
            raise EconomyError(
                f"the phase-2 perturbation made a {what} exponent non-positive; "
                "run phase 1 only (--phases 1) for this experiment",
                Where(experiment.source),
            )
    total = np.add.reduceat(b, wc.input_indptr[:-1]) + wc.effort_exponent
    if (total >= 1).any():
        row = int(np.flatnonzero(total >= 1)[0])
        raise EconomyError(
            f"the phase-2 perturbation gives worker council {wc.ids[row]} exponents summing to "
            f"{total[row]:.6g} >= 1; run phase 1 only (--phases 1) for this experiment",
            Where(experiment.source, id=f"wc {wc.ids[row]}"),
        )
    return replace(
        experiment,
        consumers=replace(
            cc,
            utility_exponents=_frozen(u, np.float64),
            public_good_exponents=_frozen(pg, np.float64),
        ),
        workers=replace(wc, input_exponents=_frozen(b, np.float64)),
    )
