"""The rates-and-conflicts commission: disputes about a work norm (hours a product should
take) or about recorded hours, as a pure state machine.

    filed --hear--> heard --decide--> decided --appeal--> appealed --finalise--> final
                                          \\--finalise (appeal window closed)---------> final

The commission has equal seats for the workplace council and the planning federation; a
decision needs a majority of all seats, so neither side decides alone. Deadlines: a dispute
not heard (or, once heard, not decided) in time is decided by the policy's default, for the
worker unless the federation has set otherwise; a decision nobody appeals in time becomes
final; an appeal not decided in time leaves the first decision final. Every function returns
the new :class:`Dispute` or a :class:`~councilplan.councils.rules.Rejection`; decisions carry
the :class:`Effect` (new norm hours or corrected hours) for the service to record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from councilplan.councils.counting import Tally, count
from councilplan.councils.rules import Reason, Rejection

__all__ = [
    "Commission",
    "Decision",
    "DeadlinePolicy",
    "Dispute",
    "Effect",
    "FiledBy",
    "State",
    "Subject",
    "appeal",
    "apply_deadlines",
    "cast_vote",
    "decide",
    "file_dispute",
    "finalise",
    "hear",
    "vacate_seat",
]

Number = int | Fraction


class State(StrEnum):
    FILED = "filed"
    HEARD = "heard"
    DECIDED = "decided"
    APPEALED = "appealed"
    FINAL = "final"


class Subject(StrEnum):
    WORK_NORM = "work_norm"  # hours a unit of a product should take
    RECORDED_HOURS = "recorded_hours"  # hours recorded for a worker's shift or task


class FiledBy(StrEnum):
    WORKER = "worker"
    WORKPLACE_COUNCIL = "workplace_council"


@dataclass(frozen=True)
class DeadlinePolicy:
    """Deadlines, each counted from the step before, and the default when the commission does
    not act in time: "worker" (the claim takes effect) or "record" (the norm or record
    stands). A federation may set its own."""

    hear_within: timedelta = timedelta(days=14)
    decide_within: timedelta = timedelta(days=14)
    appeal_within: timedelta = timedelta(days=14)
    appeal_decide_within: timedelta = timedelta(days=28)
    default_for: str = "worker"

    def __post_init__(self) -> None:
        if self.default_for not in ("worker", "record"):
            raise ValueError(
                f"DeadlinePolicy.default_for is {self.default_for!r}; use 'worker' or 'record'"
            )
        for name in ("hear_within", "decide_within", "appeal_within", "appeal_decide_within"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"DeadlinePolicy.{name} must be a positive duration")


@dataclass(frozen=True)
class Commission:
    """Equal seats for the workplace council and the planning federation (member ids)."""

    workplace_seats: tuple[str, ...]
    federation_seats: tuple[str, ...]

    @property
    def seats(self) -> tuple[str, ...]:
        return self.workplace_seats + self.federation_seats


@dataclass(frozen=True)
class Effect:
    """What takes effect: ``hours`` becomes the work norm of ``target`` (a product) or the
    recorded hours of ``target`` (a record id); ``previous_hours`` is what it replaces."""

    subject: Subject
    target: str
    workplace_id: str
    worker_id: str | None
    hours: Number
    previous_hours: Number

    @property
    def changes_anything(self) -> bool:
        return self.hours != self.previous_hours


@dataclass(frozen=True)
class Decision:
    """A decision on a dispute: by the commission's vote (``tally``) or by ``deadline``."""

    effect: Effect
    decided_at: datetime
    decided_by: str  # "commission", "appeal" or "deadline"
    tally: Tally | None = None
    note: str = ""


@dataclass(frozen=True)
class Dispute:
    id: str
    subject: Subject
    filed_by: FiledBy
    filer_id: str
    workplace_id: str
    worker_id: str | None
    target: str
    current_hours: Number
    claimed_hours: Number
    grounds: str
    commission: Commission
    policy: DeadlinePolicy
    filed_at: datetime
    state: State = State.FILED
    deadline: datetime | None = None  # for the step now due
    heard_at: datetime | None = None
    decision: Decision | None = None
    appealed_at: datetime | None = None
    appealed_by: str | None = None
    appeal_grounds: str = ""
    appeal_decision: Decision | None = None
    final_at: datetime | None = None
    # Each seat's own vote on the question now before the commission (the decision, or the
    # appeal): (seat, hours proposed, 'yes'/'no'/'abstain'); cleared when the stage changes.
    votes: tuple[tuple[str, Number, str], ...] = ()
    vacant: tuple[str, ...] = ()  # seats whose holder lost the right to sit (mandate ended)
    excluded: tuple[str, ...] = ()  # commissioners not sitting because they are parties
    history: tuple[tuple[datetime, State, str], ...] = ()

    @property
    def effect(self) -> Effect | None:
        """What is in force from this dispute: the appeal's decision if any, else the first."""
        d = self.appeal_decision or self.decision
        return d.effect if d else None


def _step(d: Dispute, at: datetime, state: State, note: str, **changes) -> Dispute:
    return replace(d, state=state, history=(*d.history, (at, state, note)), **changes)


def _wrong_state(d: Dispute, action: str, allowed: Collection[State]) -> Rejection:
    return Rejection(
        Reason.WRONG_STATE,
        f"dispute {d.id!r} is {d.state}; it can be {action} only when "
        f"{' or '.join(str(s) for s in allowed)}",
        id=d.id,
        field="state",
    )


def _hours(x, what: str) -> Number | Rejection:
    if isinstance(x, bool) or not isinstance(x, int | Fraction) or x < 0:
        return Rejection(
            Reason.INVALID_HOURS,
            f"{what} {x!r} must be 0 or more hours as an int or Fraction",
            field=what.replace(" ", "_"),
        )
    return x


def file_dispute(
    *,
    id: str,
    subject: Subject | str,
    filed_by: FiledBy | str,
    filer_id: str,
    workplace_id: str,
    target: str,
    current_hours: Number,
    claimed_hours: Number,
    commission: Commission,
    now: datetime,
    worker_id: str | None = None,
    grounds: str = "",
    policy: DeadlinePolicy | None = None,
    parties: Collection[str] = (),
) -> Dispute | Rejection:
    """File a dispute about a work norm (``target`` = product id) or recorded hours
    (``target`` = record id, ``worker_id`` required). A worker files for themselves; a
    workplace council files for its workplace.

    Nobody sits on a dispute they are party to: the filer, the worker concerned and any of
    ``parties`` (e.g. the filing council's delegates) are skipped, and the commission for the
    dispute is filled from the other seats, the first seated on each side first, keeping the
    sides equal."""
    policy = policy or DeadlinePolicy()
    try:
        subject, filed_by = Subject(subject), FiledBy(filed_by)
    except ValueError as exc:
        return Rejection(Reason.MISSING_DETAIL, f"{exc}; see Subject and FiledBy", id=id)
    for x, what in ((current_hours, "current hours"), (claimed_hours, "claimed hours")):
        r = _hours(x, what)
        if isinstance(r, Rejection):
            return replace(r, id=id)
    if claimed_hours == current_hours:
        return Rejection(
            Reason.NOTHING_IN_DISPUTE,
            f"the claim ({claimed_hours} h) equals the current figure; nothing to decide",
            id=id,
        )
    if filed_by is FiledBy.WORKER:
        worker_id = worker_id or filer_id
        if worker_id != filer_id:
            return Rejection(
                Reason.NOT_A_PARTY,
                f"worker {filer_id!r} may file only about their own hours or norm, not "
                f"{worker_id!r}; their workplace council can file for others",
                id=id,
                field="worker_id",
            )
    if subject is Subject.RECORDED_HOURS and not worker_id:
        return Rejection(
            Reason.MISSING_DETAIL,
            "a dispute about recorded hours must name the worker whose hours they are",
            id=id,
            field="worker_id",
        )
    w, f = commission.workplace_seats, commission.federation_seats
    if set(w) & set(f) or len(set(w + f)) != len(w + f) or any(not s for s in w + f):
        return Rejection(
            Reason.UNEQUAL_COMMISSION,
            "the commission's seats must be distinct, one seat per commissioner",
            id=id,
            field="commission",
        )
    barred = {filer_id, *parties} | ({worker_id} if worker_id else set())
    excluded = tuple(s for s in w + f if s in barred)
    w = tuple(s for s in w if s not in barred)
    f = tuple(s for s in f if s not in barred)
    if excluded and w and f:
        n = min(len(w), len(f))
        w, f = w[:n], f[:n]
    commission = Commission(w, f)
    if not w or len(w) != len(f):
        return Rejection(
            Reason.UNEQUAL_COMMISSION,
            f"the commission needs equal, distinct seats for the workplace ({len(w)}) and the "
            f"planning federation ({len(f)}), at least one each"
            + (
                f", not counting {', '.join(map(repr, excluded))}, party to the dispute"
                if excluded
                else ""
            ),
            id=id,
            field="commission",
        )
    return Dispute(
        id=id,
        subject=subject,
        filed_by=filed_by,
        filer_id=filer_id,
        workplace_id=workplace_id,
        worker_id=worker_id,
        target=target,
        current_hours=current_hours,
        claimed_hours=claimed_hours,
        grounds=grounds,
        commission=commission,
        policy=policy,
        filed_at=now,
        excluded=excluded,
        deadline=now + policy.hear_within,
        history=((now, State.FILED, f"filed by {filed_by} {filer_id}"),),
    )


def hear(dispute: Dispute, now: datetime, *, present: Collection[str]) -> Dispute | Rejection:
    """Record the hearing; both sides of the commission must be present."""
    if dispute.state is not State.FILED:
        return _wrong_state(dispute, "heard", [State.FILED])
    if now > dispute.deadline:
        return Rejection(
            Reason.DEADLINE_PASSED,
            f"the hearing deadline {dispute.deadline:%Y-%m-%d %H:%M} has passed; the dispute "
            "is decided by the deadline rule (apply_deadlines)",
            id=dispute.id,
        )
    c = dispute.commission
    present = set(present) - set(dispute.vacant)
    strangers = sorted(set(present) - set(c.seats))
    if strangers:
        return Rejection(
            Reason.NOT_A_COMMISSIONER,
            f"{strangers[0]!r} holds no seat on this commission",
            id=strangers[0],
        )
    if not set(present) & set(c.workplace_seats) or not set(present) & set(c.federation_seats):
        return Rejection(
            Reason.SIDE_ABSENT,
            "a hearing needs commissioners from both the workplace and the federation present",
            id=dispute.id,
        )
    return _step(
        dispute,
        now,
        State.HEARD,
        f"heard with {len(set(present))} commissioner(s)",
        heard_at=now,
        deadline=now + dispute.policy.decide_within,
    )


def _effect(d: Dispute, hours: Number) -> Effect:
    return Effect(d.subject, d.target, d.workplace_id, d.worker_id, hours, d.current_hours)


def _commission_vote(
    d: Dispute, hours: Number, votes: Mapping[str, str]
) -> tuple[Tally, None] | tuple[None, Rejection]:
    r = _hours(hours, "decided hours")
    if isinstance(r, Rejection):
        return None, replace(r, id=d.id)
    seats = d.commission.seats
    vacant = sorted(set(votes) & set(d.vacant))
    if vacant:
        return None, _vacant(d, vacant[0])
    strangers = sorted(set(votes) - set(seats))
    if strangers:
        return None, Rejection(
            Reason.NOT_A_COMMISSIONER,
            f"{strangers[0]!r} holds no seat on this commission",
            id=strangers[0],
        )
    bad = [v for v in votes.values() if v not in ("yes", "no", "abstain")]
    if bad:
        return None, Rejection(
            Reason.MISSING_DETAIL, f"vote {bad[0]!r} must be 'yes', 'no' or 'abstain'", id=d.id
        )
    tally = count("yes_no", [votes[s] for s in seats if s in votes])
    # A majority of all seats, not of those voting: with equal sides, neither decides alone.
    if 2 * tally.counts["yes"] <= len(seats):
        return None, Rejection(
            Reason.NO_MAJORITY,
            f"{tally.counts['yes']} of {len(seats)} commissioners voted for {hours} h; a "
            "decision needs more than half of all seats. Seek a proposal both sides can carry "
            "before the deadline",
            id=d.id,
        )
    return tally, None


def decide(
    dispute: Dispute, now: datetime, *, hours: Number, votes: Mapping[str, str]
) -> Dispute | Rejection:
    """The commission decides that ``hours`` takes effect (the claim, the current figure, or a
    figure between); ``votes`` maps commissioner -> 'yes'/'no'/'abstain' on that proposal."""
    if dispute.state is not State.HEARD:
        return _wrong_state(dispute, "decided", [State.HEARD])
    if now > dispute.deadline:
        return Rejection(
            Reason.DEADLINE_PASSED,
            f"the decision deadline {dispute.deadline:%Y-%m-%d %H:%M} has passed; the dispute "
            "is decided by the deadline rule (apply_deadlines)",
            id=dispute.id,
        )
    tally, rejection = _commission_vote(dispute, hours, votes)
    if rejection:
        return rejection
    decision = Decision(_effect(dispute, hours), now, "commission", tally)
    return _step(
        dispute,
        now,
        State.DECIDED,
        f"decided: {hours} h",
        decision=decision,
        votes=(),
        deadline=now + dispute.policy.appeal_within,
    )


def appeal(dispute: Dispute, now: datetime, *, by: str, grounds: str = "") -> Dispute | Rejection:
    """A party appeals a decision within the appeal window: the filer, the worker concerned,
    the workplace council (by its id) or the planning federation (any of its commissioners)."""
    if dispute.state is not State.DECIDED:
        return _wrong_state(dispute, "appealed", [State.DECIDED])
    if now > dispute.deadline:
        return Rejection(
            Reason.DEADLINE_PASSED,
            f"the appeal window closed on {dispute.deadline:%Y-%m-%d %H:%M}; the decision is final",
            id=dispute.id,
        )
    parties = {dispute.filer_id, dispute.workplace_id, *dispute.commission.federation_seats}
    if dispute.worker_id:
        parties.add(dispute.worker_id)
    if by not in parties:
        return Rejection(
            Reason.NOT_A_PARTY, f"{by!r} is not a party to dispute {dispute.id!r}", id=by
        )
    return _step(
        dispute,
        now,
        State.APPEALED,
        f"appealed by {by}",
        appealed_at=now,
        appealed_by=by,
        appeal_grounds=grounds,
        votes=(),
        deadline=now + dispute.policy.appeal_decide_within,
    )


def finalise(
    dispute: Dispute,
    now: datetime,
    *,
    hours: Number | None = None,
    votes: Mapping[str, str] | None = None,
) -> Dispute | Rejection:
    """Make a dispute final: a decided one once its appeal window has closed (no hours or
    votes), or an appealed one by the commission's decision on the appeal."""
    if dispute.state is State.DECIDED:
        if now <= dispute.deadline:
            return Rejection(
                Reason.WRONG_STATE,
                f"the appeal window is open until {dispute.deadline:%Y-%m-%d %H:%M}; the "
                "decision becomes final after it",
                id=dispute.id,
            )
        return _step(dispute, now, State.FINAL, "final: not appealed", final_at=now, deadline=None)
    if dispute.state is State.APPEALED:
        if hours is None or votes is None:
            return Rejection(
                Reason.MISSING_DETAIL,
                "deciding an appeal needs the hours decided and the commissioners' votes, "
                "each cast by her own seat (cast_vote)",
                id=dispute.id,
            )
        if now > dispute.deadline:
            return Rejection(
                Reason.DEADLINE_PASSED,
                "the appeal was not decided in time; the first decision stands (apply_deadlines)",
                id=dispute.id,
            )
        tally, rejection = _commission_vote(dispute, hours, votes)
        if rejection:
            return rejection
        decision = Decision(_effect(dispute, hours), now, "appeal", tally)
        return _step(
            dispute,
            now,
            State.FINAL,
            f"appeal decided: {hours} h",
            appeal_decision=decision,
            votes=(),
            final_at=now,
            deadline=None,
        )
    return _wrong_state(dispute, "made final", [State.DECIDED, State.APPEALED])


def _vacant(d: Dispute, seat: str) -> Rejection:
    return Rejection(
        Reason.SEAT_VACANT,
        f"{seat!r} no longer sits on the commission for dispute {d.id!r}: the right to the "
        "seat ended with the mandate it came from; the seat is vacant",
        id=seat,
        field="seat",
    )


def cast_vote(
    dispute: Dispute, now: datetime, *, seat: str, hours: Number, choice: str
) -> Dispute | Rejection:
    """One commissioner casts her own seat's vote ('yes', 'no' or 'abstain') on ``hours``, on
    the decision (when heard) or on the appeal (when appealed); a later vote of the same seat
    replaces her earlier one. When more than half of all seats have voted yes on the same
    hours, the decision (or the appeal's decision) follows at once."""
    if dispute.state not in (State.HEARD, State.APPEALED):
        return _wrong_state(dispute, "voted on", [State.HEARD, State.APPEALED])
    if now > dispute.deadline:
        return Rejection(
            Reason.DEADLINE_PASSED,
            f"the deadline {dispute.deadline:%Y-%m-%d %H:%M} has passed; the dispute is "
            "settled by the deadline rule (apply_deadlines)",
            id=dispute.id,
        )
    if seat in dispute.vacant:
        return _vacant(dispute, seat)
    if seat not in dispute.commission.seats:
        why = (
            "is party to the dispute and cannot sit on it"
            if seat in dispute.excluded
            else "holds no seat on the commission for this dispute"
        )
        return Rejection(Reason.NOT_A_COMMISSIONER, f"{seat!r} {why}", id=seat, field="seat")
    r = _hours(hours, "decided hours")
    if isinstance(r, Rejection):
        return replace(r, id=dispute.id)
    if choice not in ("yes", "no", "abstain"):
        return Rejection(
            Reason.MISSING_DETAIL, f"vote {choice!r} must be 'yes', 'no' or 'abstain'", id=seat
        )
    votes = (*(v for v in dispute.votes if v[0] != seat), (seat, hours, choice))
    dispute = _step(dispute, now, dispute.state, f"{seat} voted {choice} on {hours} h", votes=votes)
    on_hours = {s: c for s, h, c in votes if h == hours}
    if 2 * sum(c == "yes" for c in on_hours.values()) <= len(dispute.commission.seats):
        return dispute
    if dispute.state is State.HEARD:
        return decide(dispute, now, hours=hours, votes=on_hours)
    return finalise(dispute, now, hours=hours, votes=on_hours)


def vacate_seat(dispute: Dispute, now: datetime, *, seat: str, why: str = "") -> Dispute:
    """The holder of ``seat`` lost the right to sit (her mandate ended): the seat is vacant
    for this dispute and her votes not yet acted on are struck out. A decided or final dispute
    keeps what was decided. Unchanged if she holds no seat or it is vacant already."""
    if seat not in dispute.commission.seats or seat in dispute.vacant:
        return dispute
    return _step(
        dispute,
        now,
        dispute.state,
        f"seat of {seat} vacant" + (f": {why}" if why else ""),
        vacant=(*dispute.vacant, seat),
        votes=tuple(v for v in dispute.votes if v[0] != seat),
    )


def apply_deadlines(
    dispute: Dispute, now: datetime, policy: DeadlinePolicy | None = None
) -> Dispute:
    """Apply every deadline that has passed by ``now`` (strictly after it), in order, each at
    its own deadline time. ``policy`` overrides the dispute's own (e.g. the federation's
    current default). Unchanged if nothing is due."""
    policy = policy or dispute.policy
    while dispute.deadline is not None and now > dispute.deadline:
        at = dispute.deadline
        if dispute.state in (State.FILED, State.HEARD):
            for_worker = policy.default_for == "worker"
            hours = dispute.claimed_hours if for_worker else dispute.current_hours
            missed = "heard" if dispute.state is State.FILED else "decided"
            note = (
                f"not {missed} by the deadline: decided by default for the "
                f"{'worker' if for_worker else 'standing record'}"
            )
            decision = Decision(_effect(dispute, hours), at, "deadline", None, note)
            dispute = _step(
                dispute,
                at,
                State.DECIDED,
                note,
                decision=decision,
                votes=(),
                deadline=at + policy.appeal_within,
            )
        elif dispute.state is State.DECIDED:
            dispute = _step(
                dispute, at, State.FINAL, "final: not appealed", final_at=at, deadline=None
            )
        elif dispute.state is State.APPEALED:
            dispute = _step(
                dispute,
                at,
                State.FINAL,
                "final: appeal not decided in time, the first decision stands",
                votes=(),
                final_at=at,
                deadline=None,
            )
        else:
            break
    return dispute
