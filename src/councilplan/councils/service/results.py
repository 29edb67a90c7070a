"""What the councils' acts return: frozen dataclasses of the domain, one per kind of thing, each
built from its stored row by a small constructor (``motion_result(row)``...).

A result's fields are its row's fields, in the row's order, and whatever the act adds (a
motion's amendments, a recall's support), so :func:`~councilplan.councils.service.as_dict`
gives the web API the same JSON the rows gave. Times are UTC-aware datetimes; shares and hours
stay the text they are stored as ("1/4", "12.5"), exact for whoever reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[str, Any], **extra: Any) -> T:
    """``cls`` (a dataclass) with each of its fields taken from ``row`` unless given in
    ``extra``: a stored row, or a JSON view, read by field name."""
    taken = {f.name: row[f.name] for f in fields(cls) if f.name not in extra}  # type: ignore[arg-type]
    return cls(**taken, **extra)


# ---------------------------------------------------------------------------------------------
# Councils, who belongs to them, and their rules.


@dataclass(frozen=True)
class Council:
    id: int
    name: str
    kind: str
    description: str
    recall_share: str
    weighted_votes: bool
    created_at: datetime
    admission: str
    min_standing_days: int
    min_ballot_days: int
    founded_by: int | None
    statements_by: str
    hours_recorded_by: str
    section_motion_days: int
    ledger_persons: str


@dataclass(frozen=True)
class CouncilRules:
    """The rules a council has set itself (docs/councils.md)."""

    council_id: int
    admission: str
    min_standing_days: int
    min_ballot_days: int
    recall_share: str
    statements_by: str
    hours_recorded_by: str
    section_motion_days: int
    ledger_persons: str


@dataclass(frozen=True)
class Membership:
    id: int
    council_id: int
    account_id: int
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class Application:
    """An account asking to join a council (``account_id``), or a council asking to join a
    federation (``applicant_council_id``, with the ``seats`` it asks for); ``status`` pending,
    invited, admitted, refused or withdrawn."""

    id: int
    council_id: int
    account_id: int | None
    applicant_council_id: int | None
    seats: int | None
    status: str
    made_at: datetime
    invited_by: int | None
    decided_at: datetime | None
    ballot_id: int | None


def council_result(row: Mapping[str, Any]) -> Council:
    return from_row(Council, row, weighted_votes=bool(row["weighted_votes"]))


def council_rules_result(council: Mapping[str, Any]) -> CouncilRules:
    return from_row(CouncilRules, council, council_id=council["id"])


def membership_result(row: Mapping[str, Any]) -> Membership:
    return from_row(Membership, row)


def application_result(row: Mapping[str, Any]) -> Application:
    return from_row(Application, row)


# ---------------------------------------------------------------------------------------------
# Delegates and recalls.


@dataclass(frozen=True)
class Delegate:
    """A mandate to a federation: ``ended_at`` and ``end_reason`` once it ended."""

    id: int
    federation_id: int
    council_id: int
    account_id: int
    mandate: str
    election_ballot_id: int | None
    elected_at: datetime
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True)
class Recall:
    """A recall of a delegate with ``support`` members behind it; ``status`` collecting,
    balloting, recalled or kept."""

    id: int
    delegate_id: int
    council_id: int
    opened_by: int
    reason: str
    opened_at: datetime
    status: str
    ballot_id: int | None
    by_election_ballot_id: int | None
    support: int


@dataclass(frozen=True)
class RecallProgress(Recall):
    """A recall just supported: with the support ``needed`` for its ballot to run."""

    needed: int


def delegate_result(row: Mapping[str, Any]) -> Delegate:
    return from_row(Delegate, row)


def recall_result(row: Mapping[str, Any], support: int) -> Recall:
    return from_row(Recall, row, support=support)


def recall_progress(row: Mapping[str, Any], support: int, needed: int) -> RecallProgress:
    return from_row(RecallProgress, row, support=support, needed=needed)


# ---------------------------------------------------------------------------------------------
# Motions, ballots and votes.


@dataclass(frozen=True)
class Amendment:
    id: int
    motion_id: int
    tabled_by: int
    text: str
    tabled_at: datetime


@dataclass(frozen=True)
class Motion:
    id: int
    council_id: int
    tabled_by: int
    title: str
    text: str
    tabled_at: datetime


@dataclass(frozen=True)
class MotionDetail(Motion):
    """A motion with its amendments and the ids of the ballots on it."""

    amendments: tuple[Amendment, ...]
    ballots: tuple[int, ...]


@dataclass(frozen=True)
class Ballot:
    id: int
    council_id: int
    purpose: str
    title: str
    subject: Mapping[str, Any]
    rule: str
    options: tuple[str, ...]
    seats: int
    quorum: str
    majority: str
    secret: bool
    weighted: bool
    opened_by: int | None
    created_at: datetime
    opens_at: datetime
    closes_at: datetime
    status: str
    closed_at: datetime | None
    electorate: int | None
    tally: Mapping[str, Any] | None
    votes_digest: str | None
    members_since: datetime | None
    weights: Mapping[str, int] | None


@dataclass(frozen=True)
class VoteReceipt:
    """Proof of participation; for secret ballots it names no choice."""

    ballot_id: int
    account_id: int
    weight: int
    audit_seq: int


@dataclass(frozen=True)
class OpenVote:
    """Who voted what on an open ballot."""

    account_id: int
    choice: Any
    weight: int


@dataclass(frozen=True)
class Recount:
    """A closed ballot counted again from its stored votes, beside what was stored at close."""

    ballot_id: int
    matches: bool
    tally: Mapping[str, Any]
    stored_tally: Mapping[str, Any] | None
    votes_digest: str
    stored_votes_digest: str | None


def amendment_result(row: Mapping[str, Any]) -> Amendment:
    return from_row(Amendment, row)


def motion_result(row: Mapping[str, Any]) -> Motion:
    return from_row(Motion, row)


def motion_detail(
    row: Mapping[str, Any], amendments: Sequence[Mapping[str, Any]], ballot_ids: Sequence[int]
) -> MotionDetail:
    return from_row(
        MotionDetail,
        row,
        amendments=tuple(amendment_result(a) for a in amendments),
        ballots=tuple(ballot_ids),
    )


def ballot_result(row: Mapping[str, Any]) -> Ballot:
    return from_row(
        Ballot,
        row,
        options=tuple(row["options"]),
        secret=bool(row["secret"]),
        weighted=bool(row["weighted"]),
    )


def open_vote_result(row: Mapping[str, Any]) -> OpenVote:
    return from_row(OpenVote, row)


# ---------------------------------------------------------------------------------------------
# Budgets for common goods.


@dataclass(frozen=True)
class Budget:
    """``hours`` of labour (decimal text) shared among proposals by the approval ballot
    ``ballot_id``; ``result`` the allocation once it closed."""

    id: int
    council_id: int
    title: str
    hours: str
    ballot_id: int
    created_at: datetime
    result: Mapping[str, Any] | None


@dataclass(frozen=True)
class BudgetProposal:
    id: int
    budget_id: int
    title: str
    cost_hours: str
    proposed_by: int
    proposed_at: datetime


@dataclass(frozen=True)
class BudgetDetail(Budget):
    """A budget with its proposals."""

    proposals: tuple[BudgetProposal, ...]


def budget_result(row: Mapping[str, Any]) -> Budget:
    return from_row(Budget, row)


def budget_proposal_result(row: Mapping[str, Any]) -> BudgetProposal:
    return from_row(BudgetProposal, row)


def budget_detail(row: Mapping[str, Any], proposals: Sequence[Mapping[str, Any]]) -> BudgetDetail:
    return from_row(
        BudgetDetail, row, proposals=tuple(budget_proposal_result(p) for p in proposals)
    )


# ---------------------------------------------------------------------------------------------
# The rates-and-conflicts commission and its disputes. A dispute's view is the JSON of the
# ``disputes`` state machine's Dispute as stored: times as ISO text, hours as an int or "p/q".


@dataclass(frozen=True)
class Commission:
    id: int
    name: str
    workplace_council_id: int
    federation_id: int
    seats_per_side: int
    created_at: datetime


@dataclass(frozen=True)
class CommissionSeat:
    id: int
    commission_id: int
    account_id: int
    side: str
    seated_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class DisputeSeats:
    """The seats (account ids as text) of each side of the commission hearing a dispute."""

    workplace_seats: tuple[str, ...]
    federation_seats: tuple[str, ...]


@dataclass(frozen=True)
class DeadlinePolicyView:
    """How long each step may take (e.g. "1209600s"), and whose way a missed deadline goes."""

    hear_within: str
    decide_within: str
    appeal_within: str
    appeal_decide_within: str
    default_for: str


@dataclass(frozen=True)
class DisputeEffect:
    subject: str
    target: str
    workplace_id: str
    worker_id: str | None
    hours: int | str
    previous_hours: int | str


@dataclass(frozen=True)
class DisputeDecision:
    effect: DisputeEffect
    decided_at: str
    decided_by: str
    tally: Mapping[str, Any] | None
    note: str


@dataclass(frozen=True)
class DisputeView:
    """A dispute as its commissioners and parties read it."""

    id: str
    subject: str
    filed_by: str
    filer_id: str
    workplace_id: str
    worker_id: str | None
    target: str
    current_hours: int | str
    claimed_hours: int | str
    grounds: str
    commission: DisputeSeats
    policy: DeadlinePolicyView
    filed_at: str
    state: str
    deadline: str | None
    heard_at: str | None
    decision: DisputeDecision | None
    appealed_at: str | None
    appealed_by: str | None
    appeal_grounds: str
    appeal_decision: DisputeDecision | None
    final_at: str | None
    votes: tuple[tuple[Any, ...], ...]
    vacant: tuple[str, ...]
    excluded: tuple[str, ...]
    history: tuple[tuple[Any, ...], ...]
    dispute_id: int
    commission_id: int


def commission_result(row: Mapping[str, Any]) -> Commission:
    return from_row(Commission, row)


def commission_seat_result(row: Mapping[str, Any]) -> CommissionSeat:
    return from_row(CommissionSeat, row)


def _decision(view: Mapping[str, Any] | None) -> DisputeDecision | None:
    if view is None:
        return None
    return from_row(DisputeDecision, view, effect=from_row(DisputeEffect, view["effect"]))


def dispute_view(row: Mapping[str, Any]) -> DisputeView:
    """The view stored in a dispute's row (``state["view"]``), with its ids."""
    view = row["state"]["view"]
    seats = view["commission"]
    return from_row(
        DisputeView,
        view,
        commission=DisputeSeats(tuple(seats["workplace_seats"]), tuple(seats["federation_seats"])),
        policy=from_row(DeadlinePolicyView, view["policy"]),
        decision=_decision(view["decision"]),
        appeal_decision=_decision(view["appeal_decision"]),
        votes=tuple(tuple(v) for v in view["votes"]),
        vacant=tuple(view["vacant"]),
        excluded=tuple(view["excluded"]),
        history=tuple(tuple(h) for h in view["history"]),
        dispute_id=row["id"],
        commission_id=row["commission_id"],
    )


# ---------------------------------------------------------------------------------------------
# A member's own account.


@dataclass(frozen=True)
class MyAccount:
    """Who a member is, the councils she belongs to now and every mandate and commission
    seat she held or holds."""

    id: int
    username: str
    display_name: str
    councils: tuple[int, ...]
    delegacies: tuple[Delegate, ...]
    commission_seats: tuple[CommissionSeat, ...]


# ---------------------------------------------------------------------------------------------
# Planning periods (councils/service/planning.py).


@dataclass(frozen=True)
class Bundle:
    """An economy bundle kept by the service, named by the SHA-256 of its archive."""

    digest: str
    name: str
    size: int
    added_by: int
    added_at: datetime


@dataclass(frozen=True)
class Period:
    """A federation's planning period. ``stage``: what it is open for at the moment asked
    (proposed, stating, proposing, deciding, adopted, refused, closed)."""

    id: int
    federation_id: int
    title: str
    bundle_digest: str
    starts_on: str
    ends_on: str
    limits: Mapping[str, Any]
    rounds: Mapping[str, Any] | None
    stating_closes_at: datetime
    proposing_closes_at: datetime
    deciding_closes_at: datetime
    status: str
    proposed_by: int
    proposed_at: datetime
    ballot_id: int | None
    opened_at: datetime | None
    adoption_ballot_id: int | None
    adopted_variant_id: int | None
    plan_digest: str | None
    adopted_at: datetime | None
    public_goods: Sequence[str] | None
    reserve_hours: str | None
    stage: str


@dataclass(frozen=True)
class Statement:
    """What a council stated for a period: ``content`` is ``{"needs": [...]}`` or
    ``{"techniques": [...], "hours": [...]}``, numbers as the text they were read as."""

    id: int
    period_id: int
    council_id: int
    kind: str
    content: Mapping[str, Any]
    status: str
    stated_by: int
    delegate_id: int | None
    ballot_id: int | None
    stated_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class Variant:
    """A plan variant and its job. ``summary``: status, total labour, shortfalls... once
    done; ``progress``: the job's stage and share done while it runs."""

    id: int
    period_id: int
    name: str
    kind: str
    constraints: Mapping[str, Any]
    requested_by: int | None
    requested_at: datetime
    status: str
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    inputs_digest: str | None
    plan_digest: str | None
    summary: Mapping[str, Any] | None
    error: str | None
    progress: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PlanRound:
    """A participatory round: the indicative ``prices`` (good label -> price) it asks councils
    to answer until ``closes_at``; once closed, its ``outcome`` (who answered themselves, the
    worst imbalance, whether the goods balance)."""

    id: int
    period_id: int
    number: int
    opened_at: datetime
    closes_at: datetime
    status: str
    prices: Mapping[str, float]
    outcome: Mapping[str, Any] | None
    closed_at: datetime | None


@dataclass(frozen=True)
class RoundAnswer:
    id: int
    round_id: int
    council_id: int
    answered_by: int
    answer: Mapping[str, Any]
    answered_at: datetime


@dataclass(frozen=True)
class Targets:
    """What the adopted plan means for one council: a workplace's techniques, output, hours by
    kind, inputs and resources it may draw (``workplace``); a consumer council's needs as
    stated against what the plan provides (``consumption``); the plan's labour values
    (product -> hours per unit) for everyone. ``norms``: work norms decided by the
    rates-and-conflicts commission that the plan applied, with their dispute ids."""

    period_id: int
    council_id: int
    variant: str
    plan_digest: str
    workplace: Mapping[str, Any] | None
    consumption: Sequence[Mapping[str, Any]] | None
    norms: Sequence[Mapping[str, Any]]


# ---------------------------------------------------------------------------------------------
# Labour-time accounts (councils/service/ledger.py). Hours are decimal text ("6.63").


@dataclass(frozen=True)
class LedgerTransfer:
    """A transfer as members read it: the accounts by their public keys (a person's as
    ``member #n``, or ``you``)."""

    id: int | None
    tid: str
    kind: str
    debit: str
    credit: str
    amount: str
    reverses: str | None
    reason: str
    ref: Mapping[str, Any]
    made_at: datetime


@dataclass(frozen=True)
class LedgerAct:
    """What one act of the ledger kept: its id and its transfers."""

    act: str
    transfers: tuple[LedgerTransfer, ...]


@dataclass(frozen=True)
class LedgerAccount:
    key: str
    kind: str
    shown: str
    balance: str
    transfers: tuple[LedgerTransfer, ...]


@dataclass(frozen=True)
class LedgerLevy:
    """The levy of an adopted plan: its exact rate ("p/q"), as a percentage, and the
    derivation's numbers and lines."""

    period_id: int
    federation_id: int
    rate: str
    percent: str
    public_hours: str
    reserve_hours: str
    total_hours: str
    basis: str
    lines: tuple[str, ...]
    computed_at: datetime
