"""The one place where a vote is counted.

Every count is exact: ballots and weights are ints or :class:`fractions.Fraction`, never floats,
so a recount on any machine gives the same tally. Identical ballots are grouped first
(``collections.Counter``) and the rules work on the distinct ones. Ties are broken by a fixed,
published order (``tie_break``, else option ids in lexicographic order), never at random.

Rules (see docs/councils.md for the precise definitions and sources):

- ``yes_no``: yes / no / abstain; carried by simple or qualified majority of yes among yes+no.
- ``approval``: each ballot approves a set of options; the ``seats`` most approved win.
- ``schulze``: ranked ballots, Schulze (2011) beatpath method.
- ``majority_runoff``: one seat, ranked ballots, instant run-off (alternative vote).
- ``stv``: several seats, single transferable vote, Droop quota, weighted inclusive Gregory
  transfers with exact fractions.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import numpy as np

from councilplan.errors import Where

__all__ = [
    "RULES",
    "CountingError",
    "Tally",
    "count",
    "count_yes_no",
    "count_approval",
    "count_schulze",
    "count_majority_runoff",
    "count_stv",
    "droop_quota",
]

RULES = ("yes_no", "approval", "schulze", "majority_runoff", "stv")
YES_NO_CHOICES = ("yes", "no", "abstain")

Number = int | Fraction

# Tally.outcome values.
CARRIED = "carried"
DEFEATED = "defeated"
NO_QUORUM = "no quorum"
ELECTED = "elected"
TIE = "tie"  # elected, but only by the published tie-break order; a council may re-vote
NONE_ELECTED = "none elected"


class CountingError(ValueError):
    """Ballots or count settings that cannot be counted. ``where`` names the ballot (1-based
    row of the ``ballots`` sequence) or the setting at fault."""

    def __init__(self, message: str, where: Where | None = None):
        self.message = message
        self.where = where or Where()
        located = str(self.where)
        super().__init__(f"{located}: {message}" if located else message)


def jsonable(value: Any) -> Any:
    """Fractions become ints when whole, else the exact string 'p/q'; containers recurse."""
    if isinstance(value, Fraction):
        return (
            value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
        )
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


@dataclass(frozen=True)
class Tally:
    """The result of one count, with everything a member needs to check it.

    ``counts`` are weighted votes (ints, or Fractions when weights or transfers make them so):
    yes_no: yes/no/abstain; approval: approvals; schulze: how many options each option beats
    on strongest paths; majority_runoff and stv: each option's votes in the last round it was
    counted in. ``rounds`` holds per-round counts (run-off, STV) or the pairwise matrix and
    strongest paths (Schulze). ``ranking`` is the full finishing order where the rule gives one.
    """

    rule: str
    options: tuple[str, ...]
    winners: tuple[str, ...]
    outcome: str
    counts: Mapping[str, Number]
    rounds: tuple[Mapping[str, Any], ...]
    ballots_cast: int
    quorum_met: bool
    explanation: str
    seats: int = 1
    tie_broken: bool = False
    ranking: tuple[str, ...] = ()
    tie_break: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; exact fractions are written as 'p/q' strings."""
        return {
            "rule": self.rule,
            "options": list(self.options),
            "seats": self.seats,
            "winners": list(self.winners),
            "outcome": self.outcome,
            "counts": jsonable(self.counts),
            "rounds": jsonable(self.rounds),
            "ballots_cast": self.ballots_cast,
            "quorum_met": self.quorum_met,
            "tie_broken": self.tie_broken,
            "ranking": list(self.ranking),
            "tie_break": list(self.tie_break),
            "details": jsonable(self.details),
            "explanation": self.explanation,
        }


# ---------------------------------------------------------------------------------------------
# Shared helpers: weights, grouping, quorum, tie-break order, majority test.


def _fmt(x: Number) -> str:
    """A number as a member reads it: exact, with a decimal hint for fractions."""
    if isinstance(x, Fraction) and x.denominator != 1:
        return f"{x.numerator}/{x.denominator} (≈{float(x):.4g})"
    return str(int(x))


def _as_number(x: Any, where: Where) -> Number:
    if isinstance(x, bool) or not isinstance(x, int | Fraction):
        raise CountingError(
            f"weight {x!r} is not an int or fractions.Fraction; give exact weights "
            "(a float would make the count depend on rounding)",
            where,
        )
    if x < 0:
        raise CountingError(f"weight {x} is negative; weights must be 0 or more", where)
    return x.numerator if isinstance(x, Fraction) and x.denominator == 1 else x


def _scaled_weights(weights: Sequence, n: int) -> tuple[list[int] | None, int]:
    """Exact weights as integers over one common denominator: (scaled weights, denominator).
    Counting in these integer units keeps Fraction arithmetic off the per-ballot path."""
    if weights is None:
        return None, 1
    if len(weights) != n:
        raise CountingError(
            f"{len(weights)} weights for {n} ballots; give one weight per ballot",
            Where(source="weights"),
        )
    den = 1
    for row, w in enumerate(weights):
        t = type(w)
        if t is int:
            if w < 0:
                _as_number(w, Where(source="weights", row=row + 1))
        elif t is Fraction:
            if w.numerator < 0:
                _as_number(w, Where(source="weights", row=row + 1))
            if den % w.denominator:
                den = math.lcm(den, w.denominator)
        elif isinstance(w, numbers.Integral) and not isinstance(w, bool):
            if w < 0:  # e.g. a NumPy integer: exact, used as a Python int
                _as_number(int(w), Where(source="weights", row=row + 1))
        else:
            _as_number(w, Where(source="weights", row=row + 1))  # raises for floats, bools, ...
    if den == 1:
        return [int(w) for w in weights], 1
    return [
        w.numerator * (den // w.denominator) if type(w) is Fraction else int(w) * den
        for w in weights
    ], den


def _group(
    ballots: Sequence, weights: Sequence | None, key: Callable[[Any], Any]
) -> tuple[dict[Any, int], int, Callable[[Any], int | None]]:
    """Distinct ballot -> total weight in integer units of 1/den, den, and a function giving
    the 1-based row of a distinct ballot's first occurrence (only to word an error)."""
    scaled, den = _scaled_weights(weights, len(ballots))
    try:
        keyed = list(map(key, ballots))
        if scaled is None:
            grouped: dict[Any, int] = Counter(keyed)
        else:
            grouped = {}
            get = grouped.get
            for k, w in zip(keyed, scaled, strict=True):
                grouped[k] = get(k, 0) + w
    except TypeError:
        for row, b in enumerate(ballots):
            try:
                hash(key(b))
            except TypeError as exc:
                raise CountingError(
                    f"ballot {b!r} has the wrong shape ({exc})",
                    Where(source="ballots", row=row + 1),
                ) from None
        raise
    return grouped, den, lambda k: _first_row(ballots, k, key)


def _unscale(x: Number, den: int) -> Number:
    """A count in units of 1/den back to an exact number (int when whole)."""
    if den != 1:
        x = Fraction(x) / den
    return x.numerator if isinstance(x, Fraction) and x.denominator == 1 else x


def _first_row(items: Sequence, target: Any, key: Callable[[Any], Any]) -> int | None:
    for row, item in enumerate(items):
        try:
            if key(item) == target:
                return row + 1
        except TypeError:
            continue
    return None


def _check_options(options: Sequence[str], rule: str) -> tuple[str, ...]:
    opts = tuple(options)
    if not opts:
        raise CountingError(f"rule {rule!r} needs at least one option", Where(field="options"))
    for o in opts:
        if not isinstance(o, str) or not o:
            raise CountingError(
                f"option {o!r} is not a non-empty string id", Where(field="options", id=str(o))
            )
    dup = [o for o, c in Counter(opts).items() if c > 1]
    if dup:
        raise CountingError(f"option {dup[0]!r} is listed twice", Where(field="options", id=dup[0]))
    return opts


def _priority(options: tuple[str, ...], tie_break: Sequence[str] | None) -> dict[str, int]:
    """Option -> rank in the tie-break order (0 = favoured). Options missing from ``tie_break``
    follow the listed ones in lexicographic order of their ids."""
    listed = tuple(tie_break or ())
    known = set(options)
    for o in listed:
        if o not in known:
            raise CountingError(
                f"tie-break order names {o!r}, which is not an option on this ballot",
                Where(field="tie_break", id=str(o)),
            )
    if len(set(listed)) != len(listed):
        raise CountingError("tie-break order lists an option twice", Where(field="tie_break"))
    rest = sorted(known - set(listed))
    return {o: i for i, o in enumerate((*listed, *rest))}


def _quorum(
    ballots_cast: int, quorum: int, electorate: int | None, quorum_share: Fraction | None
) -> tuple[bool, int]:
    """(met, ballots needed). Quorum counts ballots cast, abstentions and blanks included, one
    per voter whatever their weight."""
    if quorum < 0:
        raise CountingError(f"quorum {quorum} is negative", Where(field="quorum"))
    needed = quorum
    if electorate is not None:
        if electorate < 0:
            raise CountingError(f"electorate {electorate} is negative", Where(field="electorate"))
        if ballots_cast > electorate:
            raise CountingError(
                f"{ballots_cast} ballots cast but the electorate is only {electorate}; "
                "check the voter roll",
                Where(field="electorate"),
            )
    if quorum_share is not None:
        if electorate is None:
            raise CountingError(
                "quorum_share needs the electorate (how many may vote)", Where(field="electorate")
            )
        needed = max(needed, math.ceil(Fraction(quorum_share) * electorate))
    return ballots_cast >= needed, needed


def _reaches(part: Number, whole: Number, majority: Fraction, inclusive: bool | None) -> bool:
    """Does ``part`` make the required share of ``whole``? Simple majority (1/2) means strictly
    more than half; any higher share (e.g. 2/3) means at least that share, unless ``inclusive``
    says otherwise."""
    if whole == 0:
        return False
    if inclusive is None:
        inclusive = majority != Fraction(1, 2)
    share = Fraction(part) / Fraction(whole)
    return share >= majority if inclusive else share > majority


def _check_majority(majority: Fraction) -> Fraction:
    m = Fraction(majority)
    if not Fraction(1, 2) <= m <= 1:
        raise CountingError(
            f"required majority {m} is outside [1/2, 1]; use 1/2 for simple, 2/3 for qualified",
            Where(field="majority"),
        )
    return m


def _tally(**kw: Any) -> Tally:
    kw["counts"] = MappingProxyType(dict(kw["counts"]))
    kw["rounds"] = tuple(MappingProxyType(r) for r in kw.get("rounds", ()))
    kw["details"] = MappingProxyType(dict(kw.get("details", {})))
    return Tally(**kw)


def _no_quorum(rule, options, counts, ballots_cast, needed, seats, prio) -> Tally:
    return _tally(
        rule=rule,
        options=options,
        winners=(),
        outcome=NO_QUORUM,
        counts=counts,
        rounds=(),
        ballots_cast=ballots_cast,
        quorum_met=False,
        seats=seats,
        tie_break=tuple(sorted(prio, key=prio.__getitem__)),
        explanation=(
            f"No quorum: {ballots_cast} ballot(s) cast, {needed} needed; nothing is decided."
        ),
    )


# ---------------------------------------------------------------------------------------------
# yes / no / abstain


def count_yes_no(
    ballots: Sequence[str],
    *,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    quorum_share: Fraction | None = None,
    majority: Fraction = Fraction(1, 2),
    inclusive: bool | None = None,
) -> Tally:
    """Yes/no/abstain. Carried when yes/(yes+no) > 1/2 (simple majority), or >= ``majority``
    for a qualified majority such as 2/3; abstentions count for quorum only. A tie, or no yes
    or no votes at all, does not carry."""
    majority = _check_majority(majority)
    grouped, den, first_row = _group(ballots, weights, lambda b: b)
    for b in grouped:
        if b not in YES_NO_CHOICES:
            row = first_row(b)
            raise CountingError(
                f"ballot {b!r} is not one of 'yes', 'no', 'abstain'",
                Where(source="ballots", row=row),
            )
    counts = {c: _unscale(grouped.get(c, 0), den) for c in YES_NO_CHOICES}
    prio = {c: i for i, c in enumerate(YES_NO_CHOICES)}
    cast = len(ballots)
    met, needed = _quorum(cast, quorum, electorate, quorum_share)
    if not met:
        return _no_quorum("yes_no", YES_NO_CHOICES, counts, cast, needed, 1, prio)
    yes, no, abstain = counts["yes"], counts["no"], counts["abstain"]
    carried = _reaches(yes, yes + no, majority, inclusive)
    strict = (majority == Fraction(1, 2)) if inclusive is None else not inclusive
    need = f"{'more than' if strict else 'at least'} {majority} of yes and no votes"
    share = "no yes or no votes"
    if yes + no:
        share = f"{float(Fraction(yes) / (yes + no)) * 100:.1f}% yes"
    verdict = "Carried" if carried else "Defeated"
    tie_note = " A tie does not carry." if (yes == no and yes > 0 and not carried) else ""
    explanation = (
        f"{verdict}: {_fmt(yes)} yes, {_fmt(no)} no ({share}; {need} required), "
        f"{_fmt(abstain)} abstaining; {cast} ballot(s) cast"
        + (f", quorum of {needed} met." if needed else ".")
        + tie_note
    )
    return _tally(
        rule="yes_no",
        options=YES_NO_CHOICES,
        winners=("yes",) if carried else ("no",),
        outcome=CARRIED if carried else DEFEATED,
        counts=counts,
        rounds=(),
        ballots_cast=cast,
        quorum_met=True,
        explanation=explanation,
        details={"majority": majority, "inclusive": not strict},
    )


# ---------------------------------------------------------------------------------------------
# approval


def count_approval(
    ballots: Sequence,
    *,
    options: Sequence[str],
    seats: int = 1,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    quorum_share: Fraction | None = None,
    tie_break: Sequence[str] | None = None,
) -> Tally:
    """Approval voting: each ballot is a collection of approved options (empty = blank).
    The ``seats`` options with most (weighted) approvals win; options nobody approved are
    never elected."""
    opts = _check_options(options, "approval")
    _check_seats(seats, opts)
    prio = _priority(opts, tie_break)
    grouped, den, first_row = _group(ballots, weights, _approval_key)
    known = set(opts)
    counts: dict[str, Number] = dict.fromkeys(opts, 0)
    for b, w in grouped.items():
        bad = [o for o in b if o not in known]
        if bad:
            raise CountingError(
                f"ballot approves {sorted(map(str, bad))[0]!r}, which is not an option",
                Where(source="ballots", row=first_row(b)),
            )
        for o in b:
            counts[o] += w
    counts = {o: _unscale(c, den) for o, c in counts.items()}
    cast = len(ballots)
    met, needed = _quorum(cast, quorum, electorate, quorum_share)
    if not met:
        return _no_quorum("approval", opts, counts, cast, needed, seats, prio)
    ranking = tuple(sorted(opts, key=lambda o: (-counts[o], prio[o])))
    winners = tuple(o for o in ranking[:seats] if counts[o] > 0)
    tie_broken = (
        len(winners) == seats
        and seats < len(ranking)
        and counts[ranking[seats - 1]] == counts[ranking[seats]]
    )
    outcome = TIE if tie_broken else (ELECTED if winners else NONE_ELECTED)
    listing = ", ".join(f"{o} {_fmt(counts[o])}" for o in ranking)
    explanation = (
        f"Approvals: {listing}. "
        + (
            f"Elected to {seats} seat(s): {', '.join(winners)}."
            if winners
            else "Nobody approved any option; none elected."
        )
        + (
            f" {ranking[seats - 1]} and {ranking[seats]} tied for the last seat; the published "
            "tie-break order decided."
            if tie_broken
            else ""
        )
        + (f" {seats - len(winners)} seat(s) left unfilled." if 0 < len(winners) < seats else "")
    )
    return _tally(
        rule="approval",
        options=opts,
        winners=winners,
        outcome=outcome,
        counts=counts,
        rounds=(),
        ballots_cast=cast,
        quorum_met=True,
        explanation=explanation,
        seats=seats,
        tie_broken=tie_broken,
        ranking=ranking,
        tie_break=tuple(sorted(prio, key=prio.__getitem__)),
    )


def _approval_key(b: Any) -> frozenset:
    if isinstance(b, str):
        raise TypeError("an approval ballot is a collection of options, not one string")
    return frozenset(b)


def _check_seats(seats: int, opts: tuple[str, ...]) -> None:
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
        raise CountingError(f"seats {seats!r} must be a whole number >= 1", Where(field="seats"))
    if seats > len(opts):
        raise CountingError(
            f"{seats} seats but only {len(opts)} options; list more candidates or fewer seats",
            Where(field="seats"),
        )


# ---------------------------------------------------------------------------------------------
# ranked ballots: validation into a rank matrix


def _ranking_key(b: Any) -> tuple:
    if isinstance(b, str):
        raise TypeError("a ranking is a sequence of options, not one string")
    return tuple(b)


def _ranked(
    ballots: Sequence, weights: Sequence | None, opts: tuple[str, ...]
) -> tuple[list[tuple], list[int], int]:
    """Group and validate ranked ballots: distinct rankings, their total weights, first rows."""
    grouped, den, first_row = _group(ballots, weights, _ranking_key)
    keys = list(grouped)
    known = set(opts)
    for b in keys:
        if len(set(b)) != len(b) or not known.issuperset(b):
            row = first_row(b)
            bad = [o for o in b if o not in known]
            if bad:
                raise CountingError(
                    f"ranking names {bad[0]!r}, which is not an option",
                    Where(source="ballots", row=row),
                )
            dup = next(o for o, c in Counter(b).items() if c > 1)
            raise CountingError(
                f"ranking lists {dup!r} more than once; rank each option at most once",
                Where(source="ballots", row=row),
            )
    return keys, [grouped[k] for k in keys], den


def _weight_array(weights: list[int]) -> np.ndarray:
    """int64 when the total is safely small, else Python ints (object dtype): never overflows."""
    return np.array(weights, dtype=np.int64 if sum(weights) < 2**62 else object)


def _rank_matrix(keys: list[tuple], opts: tuple[str, ...]) -> np.ndarray:
    """(ballots, options) position of each option on each distinct ranking; unranked options
    share position len(options), below every ranked one. The rankings are validated
    (``_ranked``): every name an option, none twice."""
    n = len(opts)
    index = {o: i for i, o in enumerate(opts)}
    ranks = np.full((len(keys), n), n, dtype=np.int32)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    total = int(lengths.sum())
    # All rankings flattened: each name's column, its row and its place in its ranking, by
    # one dict lookup per name (quicker than searching an array of the names).
    cols = np.fromiter((index[o] for b in keys for o in b), dtype=np.int64, count=total)
    rows = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    ranks[rows, cols] = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    return ranks


# ---------------------------------------------------------------------------------------------
# Schulze


def schulze_matrices(
    keys: list[tuple], weights: list[int], opts: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise preferences d[i, j] (weight of ballots ranking i above j) and strongest path
    strengths p[i, j] (Schulze 2011, section 2.3), in the integer weight units of ``weights``
    (distinct rankings ``keys`` and their integer weights)."""
    n = len(opts)
    w = _weight_array(weights)
    if keys:
        ranks = _rank_matrix(keys, opts)
        d = np.zeros((n, n), dtype=w.dtype)
        for i in range(n):
            # Ballots ranking i strictly above j, weighted; vectorised over ballots and j.
            d[i] = w @ (ranks[:, i, None] < ranks)
    else:
        d = np.zeros((n, n), dtype=np.int64)
    p = np.where(d > d.T, d, 0)
    np.fill_diagonal(p, 0)
    for k in range(n):
        # Floyd-Warshall widest path: p[i,j] = max(p[i,j], min(p[i,k], p[k,j])).
        via = np.minimum(p[:, k, None], p[None, k, :])
        p = np.maximum(p, via)
        np.fill_diagonal(p, 0)
    return d, p


def count_schulze(
    ballots: Sequence,
    *,
    options: Sequence[str],
    seats: int = 1,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    quorum_share: Fraction | None = None,
    tie_break: Sequence[str] | None = None,
) -> Tally:
    """Schulze method on ranked ballots (truncated rankings allowed; unranked options tie
    below all ranked ones). X beats Y when the strongest path from X to Y is stronger than
    the one back (Schulze 2011). Seat by seat, the options that no other remaining option
    beats are the unbeaten ones; the seat goes to the tie-break favourite among them. The
    outcome is a tie when the tie-break order decided who was elected: with one seat, when
    more than one option is unbeaten. With ``seats`` > 1 this fills the seats from the top
    of the Schulze ranking (not proportional: use STV for proportional seats)."""
    opts = _check_options(options, "schulze")
    _check_seats(seats, opts)
    prio = _priority(opts, tie_break)
    keys, w, den = _ranked(ballots, weights, opts)
    cast = len(ballots)
    d, p = schulze_matrices(keys, w, opts)
    n = len(opts)
    beats = p > p.T  # beats[i, j]: i beats j on strongest paths (transitive, Schulze 4.1)
    wins = beats.sum(axis=1)
    counts = {o: int(wins[i]) for i, o in enumerate(opts)}
    met, needed = _quorum(cast, quorum, electorate, quorum_share)
    if not met:
        return _no_quorum("schulze", opts, counts, cast, needed, seats, prio)

    def exact(m: np.ndarray) -> dict[str, dict[str, Number]]:
        return {
            opts[i]: {opts[j]: _unscale(int(m[i, j]), den) for j in range(n) if j != i}
            for i in range(n)
        }

    # The Schulze ranking, one place at a time: the tie-break favourite among the options
    # not beaten by any option still unplaced. ``beaten_by[j]`` counts the unplaced options
    # that beat j. The beat relation is a strict partial order (transitive, Schulze 4.1), so
    # some unplaced option is always unbeaten, and the ranking extends the relation.
    by_prio = sorted(range(n), key=lambda i: prio[opts[i]])
    beaten_by = beats.sum(axis=0)
    placed = np.zeros(n, dtype=bool)
    order: list[int] = []
    seat_by_seat: list[dict[str, Any]] = []
    for place in range(n):
        unbeaten = [i for i in by_prio if not placed[i] and beaten_by[i] == 0]
        first = unbeaten[0]
        if place < seats:
            seat_by_seat.append(
                {
                    "seat": place + 1,
                    "unbeaten": tuple(opts[i] for i in unbeaten),
                    "elected": opts[first],
                }
            )
        order.append(first)
        placed[first] = True
        beaten_by -= beats[first]
    ranking = tuple(opts[i] for i in order)
    potential = [o for j, o in enumerate(opts) if not beats[:, j].any()]
    voted = any(len(k) for k in keys)
    winners = ranking[:seats] if voted else ()
    # Did the tie-break order decide who was elected, i.e. could another order elect another
    # set? Exactly when some winner does not beat some option left out. If every winner beats
    # every option left out, every ranking that extends the beat relation puts the winners on
    # top. If not, some winner does not beat some option t left out that only winners beat
    # (by transitivity, beating all those means beating every option left out); let m be the
    # last-placed winner not beating t. No option outside the winners less m plus t beats
    # one inside (what m beats is placed after m, so it does not beat t either), so a
    # tie-break order listing that set first, in an order extending the relation, elects it.
    elected, left_out = order[:seats], order[seats:]
    tie_broken = bool(voted and left_out and not beats[np.ix_(elected, left_out)].all())
    if not voted:
        outcome, explanation = NONE_ELECTED, "No ballot ranks any option; none elected."
        seat_by_seat = []
    else:
        outcome = TIE if tie_broken else ELECTED
        explanation = (
            f"Schulze ranking: {' > '.join(ranking)}. Elected: {', '.join(winners)}"
            + _schulze_ties(seat_by_seat, seats, tie_broken)
        )
    return _tally(
        rule="schulze",
        options=opts,
        winners=winners,
        outcome=outcome,
        counts=counts,
        rounds=({"pairwise": exact(d), "strongest_paths": exact(p)},),
        ballots_cast=cast,
        quorum_met=True,
        explanation=explanation,
        seats=seats,
        tie_broken=tie_broken,
        ranking=ranking,
        tie_break=tuple(sorted(prio, key=prio.__getitem__)),
        details={"potential_winners": tuple(potential), "seat_by_seat": tuple(seat_by_seat)},
    )


def _schulze_ties(seat_by_seat: list[dict[str, Any]], seats: int, tie_broken: bool) -> str:
    """The end of a Schulze explanation: which seats the tie-break order filled, and whether
    that decided who was elected."""

    def names(seat: dict[str, Any]) -> str:
        u = seat["unbeaten"]
        return f"{', '.join(u[:-1])} and {u[-1]}"

    several = [s for s in seat_by_seat if len(s["unbeaten"]) > 1]
    if seats == 1:
        if not several:
            return ", which beats every other option on strongest paths."
        return (
            f" — {names(several[0])} each beat or tie every other option on strongest paths "
            "(none is beaten); the published tie-break order decided."
        )
    text = (
        "." if tie_broken else ", each of whom beats every option not elected on strongest paths."
    )
    for s in several:
        text += (
            f" Seat {s['seat']}: {names(s)} were unbeaten among the options left; "
            f"{s['elected']} by the published tie-break order."
        )
    if tie_broken:
        text += " The tie-break order decided who was elected."
    elif several:
        text += " The tie-break order decided only the order of the seats, not who was elected."
    return text


# ---------------------------------------------------------------------------------------------
# Transferable ballots (run-off and STV)


class _Piles:
    """Each option's pile of ballots, grouped by ballot value so a surplus transfer costs one
    Fraction multiplication per value group, not one per ballot (fast and exact)."""

    def __init__(self, keys: list[tuple], weights: list[int], opts: tuple[str, ...], den: int):
        self.keys = keys
        self.weights = weights  # integers in units of 1/den
        self.den = den
        # option -> value -> list of (ballot index, position on the ballot)
        self.piles: dict[str, dict[Number, list[tuple[int, int]]]] = {o: {} for o in opts}
        self.sums: dict[str, dict[Number, Number]] = {o: {} for o in opts}
        self.exhausted: Number = 0
        self.continuing = set(opts)
        for i, b in enumerate(keys):
            if b:
                self._put(b[0], 1, i, 0)

    def _put(self, option: str, value: Number, i: int, pos: int) -> None:
        pile = self.piles[option].get(value)
        if pile is None:
            self.piles[option][value] = [(i, pos)]
            self.sums[option][value] = self.weights[i]
        else:
            pile.append((i, pos))
            self.sums[option][value] += self.weights[i]

    def total(self, option: str) -> Number:
        """Votes on ``option``'s pile (exact, in votes)."""
        return _unscale(sum((v * s for v, s in self.sums[option].items()), 0), self.den)

    def exhausted_votes(self) -> Number:
        return _unscale(self.exhausted, self.den)

    def remove(self, option: str) -> None:
        self.continuing.discard(option)

    def transfer(self, option: str, factor: Number) -> None:
        """Pass every ballot on ``option``'s pile to its next continuing preference at its value
        times ``factor``; ballots with no continuing preference left are exhausted."""
        keys, weights, cont = self.keys, self.weights, self.continuing
        lost: Number = 0
        for value, pile in self.piles.pop(option).items():
            new_value = value * factor
            if isinstance(new_value, Fraction) and new_value.denominator == 1:
                new_value = new_value.numerator
            if new_value == 0:
                continue
            for i, pos in pile:
                b = keys[i]
                nxt = pos + 1
                while nxt < len(b) and b[nxt] not in cont:
                    nxt += 1
                if nxt < len(b):
                    self._put(b[nxt], new_value, i, nxt)
                else:
                    lost += new_value * weights[i]
        self.sums.pop(option)
        self.piles[option] = {}
        self.sums[option] = {}
        self.exhausted = _whole(self.exhausted + lost)


def _whole(x: Number) -> Number:
    return x.numerator if isinstance(x, Fraction) and x.denominator == 1 else x


def _lowest(
    candidates: list[str], rounds: Sequence[Mapping[str, Any]], prio: Mapping[str, int]
) -> tuple[str, bool]:
    """The option to eliminate: fewest votes this round. Among equals, the one with fewest
    votes at the latest earlier round where they differed (backwards tie-breaking, as in the
    Scottish STV rules); if equal in every round, the one latest in the tie-break order, in
    place of drawing lots. Returns (option, whether the tie-break order decided)."""
    votes = rounds[-1]["counts"]
    low = min(votes[c] for c in candidates)
    tied = [c for c in candidates if votes[c] == low]
    for earlier in reversed(rounds[:-1]):
        if len(tied) == 1:
            break
        counts = earlier["counts"]
        low = min(counts[c] for c in tied)
        tied = [c for c in tied if counts[c] == low]
    return max(tied, key=prio.__getitem__), len(tied) > 1


def count_majority_runoff(
    ballots: Sequence,
    *,
    options: Sequence[str],
    seats: int = 1,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    quorum_share: Fraction | None = None,
    majority: Fraction = Fraction(1, 2),
    inclusive: bool | None = None,
    tie_break: Sequence[str] | None = None,
) -> Tally:
    """One seat by instant run-off (alternative vote) on ranked ballots: count first
    preferences; if an option has more than half of the votes still in play it wins, else
    the option with fewest votes is eliminated and its ballots pass to their next continuing
    preference. Chosen over a two-round ballot because all preferences are collected at once
    and no second meeting is needed."""
    opts = _check_options(options, "majority_runoff")
    if seats != 1:
        raise CountingError(
            f"majority_runoff fills one seat, not {seats}; use 'stv' for several seats",
            Where(field="seats"),
        )
    majority = _check_majority(majority)
    prio = _priority(opts, tie_break)
    keys, w, den = _ranked(ballots, weights, opts)
    cast = len(ballots)
    piles = _Piles(keys, w, opts, den)
    first_prefs = {o: piles.total(o) for o in opts}
    met, needed = _quorum(cast, quorum, electorate, quorum_share)
    if not met:
        return _no_quorum("majority_runoff", opts, first_prefs, cast, needed, 1, prio)
    rounds: list[dict[str, Any]] = []
    final: dict[str, Number] = {}
    eliminated: list[str] = []
    tie_broken = False
    winner: str | None = None
    while piles.continuing:
        cont = sorted(piles.continuing, key=prio.__getitem__)
        votes = {c: piles.total(c) for c in cont}
        active = sum(votes.values())
        rnd: dict[str, Any] = {
            "round": len(rounds) + 1,
            "counts": votes,
            "active": active,
            "exhausted": piles.exhausted_votes(),
        }
        rounds.append(rnd)
        final.update(votes)
        if active == 0:
            break
        top = max(cont, key=lambda c: (votes[c], -prio[c]))
        if _reaches(votes[top], active, majority, inclusive) or len(cont) == 1:
            winner = top
            rnd["elected"] = [top]
            break
        loser, by_order = _lowest(cont, rounds, prio)
        tie_broken |= by_order
        rnd["eliminated"] = [loser]
        eliminated.append(loser)
        piles.remove(loser)
        piles.transfer(loser, 1)
    ranking = (
        ((winner,) if winner else ())
        + tuple(
            sorted(
                (o for o in opts if o != winner and o not in eliminated),
                key=lambda o: (-final.get(o, 0), prio[o]),
            )
        )
        + tuple(reversed(eliminated))
    )
    if winner is None:
        outcome, explanation = NONE_ELECTED, "No ballot ranks any option; none elected."
    else:
        last = rounds[-1]
        outcome = TIE if tie_broken else ELECTED
        explanation = (
            f"{winner} elected in round {last['round']} with {_fmt(last['counts'][winner])} of "
            f"{_fmt(last['active'])} votes still in play"
            + (f" after eliminating {', '.join(eliminated)} in turn" if eliminated else "")
            + "."
            + (
                " A tie for last place was decided by the published tie-break order."
                if tie_broken
                else ""
            )
        )
    return _tally(
        rule="majority_runoff",
        options=opts,
        winners=(winner,) if winner else (),
        outcome=outcome,
        counts=final,
        rounds=tuple(rounds),
        ballots_cast=cast,
        quorum_met=True,
        explanation=explanation,
        tie_broken=tie_broken,
        ranking=ranking,
        tie_break=tuple(sorted(prio, key=prio.__getitem__)),
        details={"first_preferences": first_prefs},
    )


def droop_quota(valid_votes: Number, seats: int) -> int:
    """Droop quota: floor(valid votes / (seats + 1)) + 1. No more than ``seats`` candidates
    can reach it, since seats + 1 of them would need more votes than were cast."""
    return math.floor(Fraction(valid_votes) / (seats + 1)) + 1


def count_stv(
    ballots: Sequence,
    *,
    options: Sequence[str],
    seats: int = 1,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    quorum_share: Fraction | None = None,
    tie_break: Sequence[str] | None = None,
) -> Tally:
    """Single transferable vote with the Droop quota and weighted inclusive Gregory transfers
    in exact fractions: an elected candidate's surplus passes on all their ballots at
    value x surplus / candidate's votes. Each round: elect everyone at or above the quota
    (most votes first) and transfer their surpluses; if nobody reached it, elect all
    continuing candidates when they are no more than the seats left, else eliminate the one
    with fewest votes."""
    opts = _check_options(options, "stv")
    _check_seats(seats, opts)
    prio = _priority(opts, tie_break)
    keys, w, den = _ranked(ballots, weights, opts)
    cast = len(ballots)
    piles = _Piles(keys, w, opts, den)
    first_prefs = {o: piles.total(o) for o in opts}
    met, needed = _quorum(cast, quorum, electorate, quorum_share)
    if not met:
        return _no_quorum("stv", opts, first_prefs, cast, needed, seats, prio)
    valid = sum(first_prefs.values())
    quota = droop_quota(valid, seats)
    elected: list[str] = []
    eliminated: list[str] = []
    final: dict[str, Number] = {}
    rounds: list[dict[str, Any]] = []
    tie_broken = False
    while len(elected) < seats and piles.continuing:
        cont = sorted(piles.continuing, key=prio.__getitem__)
        votes = {c: piles.total(c) for c in cont}
        rnd: dict[str, Any] = {
            "round": len(rounds) + 1,
            "counts": votes,
            "exhausted": piles.exhausted_votes(),
            "quota": quota,
        }
        rounds.append(rnd)
        final.update(votes)
        reached = sorted((c for c in cont if votes[c] >= quota), key=lambda c: (-votes[c], prio[c]))
        left = seats - len(elected)
        if reached:
            reached = reached[:left]  # cannot happen with the Droop quota; kept as a guard
            for c in reached:
                elected.append(c)
                piles.remove(c)
            rnd["elected"] = list(reached)
            transfers = {}
            for c in reached:
                surplus = votes[c] - quota
                if surplus > 0 and len(elected) < seats:
                    factor = Fraction(surplus) / votes[c]
                    transfers[c] = factor
                    piles.transfer(c, factor)
            if transfers:
                rnd["transfer_values"] = transfers
            continue
        if len(cont) <= left:
            # As many continuing candidates as seats left: all are elected.
            rest = sorted(cont, key=lambda c: (-votes[c], prio[c]))
            elected.extend(rest)
            rnd["elected"] = rest
            break
        loser, by_order = _lowest(cont, rounds, prio)
        tie_broken |= by_order
        rnd["eliminated"] = [loser]
        eliminated.append(loser)
        piles.remove(loser)
        piles.transfer(loser, 1)
    winners = tuple(elected)
    ranking = (
        winners
        + tuple(
            sorted(
                (o for o in opts if o not in elected and o not in eliminated),
                key=lambda o: (-final.get(o, 0), prio[o]),
            )
        )
        + tuple(reversed(eliminated))
    )
    if valid == 0:
        winners, outcome = (), NONE_ELECTED
        explanation = "No ballot ranks any option; none elected."
    else:
        outcome = TIE if tie_broken else ELECTED
        explanation = (
            f"Quota {quota} (Droop: {_fmt(valid)} valid votes, {seats} seat(s)). "
            f"Elected in order: {', '.join(winners)}"
            + (f"; eliminated in order: {', '.join(eliminated)}" if eliminated else "")
            + f". {len(rounds)} round(s)."
            + (
                " A tie for elimination was decided by the published tie-break order."
                if tie_broken
                else ""
            )
        )
    return _tally(
        rule="stv",
        options=opts,
        winners=winners,
        outcome=outcome,
        counts=final,
        rounds=tuple(rounds),
        ballots_cast=cast,
        quorum_met=True,
        explanation=explanation,
        seats=seats,
        tie_broken=tie_broken,
        ranking=ranking,
        tie_break=tuple(sorted(prio, key=prio.__getitem__)),
        details={"quota": quota, "first_preferences": first_prefs, "valid_votes": valid},
    )


# ---------------------------------------------------------------------------------------------
# The one entry point


def count(
    rule: str,
    ballots: Sequence,
    *,
    options: Sequence[str] = (),
    seats: int = 1,
    weights: Sequence[Number] | None = None,
    quorum: int = 0,
    electorate: int | None = None,
    majority: Fraction = Fraction(1, 2),
    tie_break: Sequence[str] | None = None,
    quorum_share: Fraction | None = None,
    inclusive: bool | None = None,
) -> Tally:
    """Count ``ballots`` by ``rule`` (one of :data:`RULES`) and return the :class:`Tally`.

    Ballot shapes: yes_no: 'yes' / 'no' / 'abstain'; approval: a collection of options;
    schulze, majority_runoff, stv: a ranking, most preferred first, truncation allowed.
    ``weights``: one int or Fraction per ballot (a delegate voting with their council's
    weight); default 1 each. ``quorum``: ballots (voters, not weight) that must be cast,
    abstentions and blanks included; ``quorum_share`` with ``electorate`` adds a quorum as a
    share of those entitled to vote. ``majority``: required share of yes among yes+no, or of
    votes in play in a run-off: 1/2 means strictly more than half, a higher share such as 2/3
    means at least that share (override with ``inclusive``). ``tie_break``: options in order
    of precedence for ties (favoured first); unlisted options follow by lexicographic id.
    """
    common = {"weights": weights, "quorum": quorum, "electorate": electorate}
    common["quorum_share"] = quorum_share
    if rule == "yes_no":
        if options and not set(options) <= set(YES_NO_CHOICES):
            raise CountingError(
                f"yes_no options must be among {YES_NO_CHOICES}, got {tuple(options)}",
                Where(field="options"),
            )
        return count_yes_no(ballots, majority=majority, inclusive=inclusive, **common)
    if rule == "approval":
        return count_approval(ballots, options=options, seats=seats, tie_break=tie_break, **common)
    if rule == "schulze":
        return count_schulze(ballots, options=options, seats=seats, tie_break=tie_break, **common)
    if rule == "majority_runoff":
        return count_majority_runoff(
            ballots,
            options=options,
            seats=seats,
            majority=majority,
            inclusive=inclusive,
            tie_break=tie_break,
            **common,
        )
    if rule == "stv":
        return count_stv(ballots, options=options, seats=seats, tie_break=tie_break, **common)
    raise CountingError(
        f"unknown counting rule {rule!r}; use one of {', '.join(RULES)}", Where(field="rule")
    )
