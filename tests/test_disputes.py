"""The rates-and-conflicts commission as a state machine with deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.councils.disputes import (
    Commission,
    DeadlinePolicy,
    Dispute,
    State,
    Subject,
    appeal,
    apply_deadlines,
    decide,
    file_dispute,
    finalise,
    hear,
)
from councilplan.councils.rules import Reason, Rejection

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
COMMISSION = Commission(workplace_seats=("wp1", "wp2"), federation_seats=("fed1", "fed2"))
ALL_YES = {"wp1": "yes", "wp2": "yes", "fed1": "yes", "fed2": "no"}


def norm_dispute(**kw) -> Dispute:
    args = dict(
        id="d1",
        subject="work_norm",
        filed_by="worker",
        filer_id="ana",
        workplace_id="bakery",
        target="bread",
        current_hours=Fraction(1, 2),
        claimed_hours=Fraction(3, 4),
        commission=COMMISSION,
        now=T0,
        grounds="the new oven takes longer to heat",
    )
    d = file_dispute(**(args | kw))
    assert isinstance(d, Dispute), d
    return d


def test_full_path_filed_heard_decided_final():
    d = norm_dispute()
    assert d.state is State.FILED and d.deadline == T0 + 14 * DAY
    d = hear(d, T0 + 3 * DAY, present={"wp1", "fed1"})
    assert d.state is State.HEARD
    d = decide(d, T0 + 5 * DAY, hours=Fraction(2, 3), votes=ALL_YES)
    assert d.state is State.DECIDED
    assert d.effect.hours == Fraction(2, 3) and d.effect.previous_hours == Fraction(1, 2)
    assert d.effect.subject is Subject.WORK_NORM and d.effect.target == "bread"
    early = finalise(d, T0 + 6 * DAY)
    assert isinstance(early, Rejection) and "appeal window is open" in early.message
    d = finalise(d, T0 + 20 * DAY)
    assert d.state is State.FINAL and d.effect.hours == Fraction(2, 3)
    assert [s for _, s, _ in d.history] == [State.FILED, State.HEARD, State.DECIDED, State.FINAL]


def test_appeal_and_appeal_decision():
    d = hear(norm_dispute(), T0 + DAY, present={"wp1", "fed2"})
    d = decide(d, T0 + 2 * DAY, hours=Fraction(3, 4), votes=ALL_YES)
    outsider = appeal(d, T0 + 3 * DAY, by="zed")
    assert isinstance(outsider, Rejection) and outsider.reason is Reason.NOT_A_PARTY
    d = appeal(d, T0 + 3 * DAY, by="fed1", grounds="other bakeries take 1/2 hour")
    assert d.state is State.APPEALED and d.appealed_by == "fed1"
    missing = finalise(d, T0 + 4 * DAY)
    assert isinstance(missing, Rejection) and missing.reason is Reason.MISSING_DETAIL
    d = finalise(d, T0 + 10 * DAY, hours=Fraction(5, 8), votes=ALL_YES)
    assert d.state is State.FINAL
    assert d.effect.hours == Fraction(5, 8)  # the appeal's decision is what takes effect
    assert d.decision.effect.hours == Fraction(3, 4)


def test_decision_needs_a_majority_of_all_seats_so_no_side_decides_alone():
    d = hear(norm_dispute(), T0 + DAY, present={"wp1", "fed1"})
    one_side = decide(d, T0 + 2 * DAY, hours=Fraction(3, 4), votes={"wp1": "yes", "wp2": "yes"})
    assert isinstance(one_side, Rejection) and one_side.reason is Reason.NO_MAJORITY
    split = {"wp1": "yes", "wp2": "yes", "fed1": "no", "fed2": "no"}
    assert decide(d, T0 + 2 * DAY, hours=Fraction(3, 4), votes=split).reason is Reason.NO_MAJORITY
    stranger = decide(d, T0 + 2 * DAY, hours=1, votes={"boss": "yes"})
    assert stranger.reason is Reason.NOT_A_COMMISSIONER


def test_unheard_dispute_is_decided_for_the_worker_by_default():
    d = norm_dispute()
    assert apply_deadlines(d, T0 + 14 * DAY) is d  # on the deadline itself: still in time
    late = apply_deadlines(d, T0 + 15 * DAY)
    assert late.state is State.DECIDED
    assert late.decision.decided_by == "deadline"
    assert late.effect.hours == Fraction(3, 4)  # the worker's claim
    assert late.decision.decided_at == T0 + 14 * DAY
    refused = hear(d, T0 + 15 * DAY, present={"wp1", "fed1"})
    assert isinstance(refused, Rejection) and refused.reason is Reason.DEADLINE_PASSED


def test_federation_may_set_the_default_to_the_standing_record():
    d = norm_dispute(policy=DeadlinePolicy(default_for="record"))
    late = apply_deadlines(d, T0 + 15 * DAY)
    assert late.effect.hours == Fraction(1, 2)
    assert not late.effect.changes_anything


def test_deadlines_cascade_to_final():
    d = norm_dispute()
    final = apply_deadlines(d, T0 + 60 * DAY)
    assert final.state is State.FINAL
    assert final.final_at == T0 + 28 * DAY  # hearing deadline + appeal window
    assert final.effect.hours == Fraction(3, 4)


def test_appeal_not_decided_in_time_leaves_first_decision():
    d = hear(norm_dispute(), T0 + DAY, present={"wp1", "fed1"})
    d = decide(d, T0 + 2 * DAY, hours=Fraction(2, 3), votes=ALL_YES)
    d = appeal(d, T0 + 3 * DAY, by="ana")
    d = apply_deadlines(d, T0 + 40 * DAY)
    assert d.state is State.FINAL and d.effect.hours == Fraction(2, 3)
    assert d.appeal_decision is None


def test_recorded_hours_dispute_by_workplace_council():
    d = file_dispute(
        id="d2",
        subject=Subject.RECORDED_HOURS,
        filed_by="workplace_council",
        filer_id="bakery-council",
        workplace_id="bakery",
        worker_id="ben",
        target="shift-2026-03-01-ben",
        current_hours=6,
        claimed_hours=8,
        commission=COMMISSION,
        now=T0,
    )
    assert isinstance(d, Dispute) and d.worker_id == "ben"
    d = apply_deadlines(d, T0 + 15 * DAY)
    assert d.effect.subject is Subject.RECORDED_HOURS and d.effect.hours == 8
    assert d.effect.worker_id == "ben"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"claimed_hours": Fraction(1, 2)}, Reason.NOTHING_IN_DISPUTE),
        ({"claimed_hours": -1}, Reason.INVALID_HOURS),
        ({"claimed_hours": 0.75}, Reason.INVALID_HOURS),
        ({"worker_id": "ben"}, Reason.NOT_A_PARTY),
        ({"subject": "recorded_hours", "filed_by": "workplace_council"}, Reason.MISSING_DETAIL),
        ({"commission": Commission(("wp1",), ("fed1", "fed2"))}, Reason.UNEQUAL_COMMISSION),
        ({"commission": Commission(("x",), ("x",))}, Reason.UNEQUAL_COMMISSION),
        ({"subject": "wages"}, Reason.MISSING_DETAIL),
    ],
)
def test_filing_rejections(changes, reason):
    args = dict(
        id="d1",
        subject="work_norm",
        filed_by="worker",
        filer_id="ana",
        workplace_id="bakery",
        target="bread",
        current_hours=Fraction(1, 2),
        claimed_hours=Fraction(3, 4),
        commission=COMMISSION,
        now=T0,
    )
    r = file_dispute(**(args | changes))
    assert isinstance(r, Rejection) and r.reason is reason, r


def test_wrong_state_and_one_sided_hearing_are_refused():
    d = norm_dispute()
    assert decide(d, T0, hours=1, votes=ALL_YES).reason is Reason.WRONG_STATE
    assert appeal(d, T0, by="ana").reason is Reason.WRONG_STATE
    one_side = hear(d, T0 + DAY, present={"wp1", "wp2"})
    assert one_side.reason is Reason.SIDE_ABSENT


def test_policy_is_validated():
    with pytest.raises(ValueError, match="default_for"):
        DeadlinePolicy(default_for="boss")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=80), min_size=1, max_size=6))
def test_deadlines_only_move_forward_and_are_idempotent(days):
    """Applying deadlines at any sequence of times never goes back a state, and applying the
    same time twice changes nothing."""
    order = [State.FILED, State.HEARD, State.DECIDED, State.APPEALED, State.FINAL]
    d = norm_dispute()
    for day in sorted(days):
        now = T0 + day * DAY
        nxt = apply_deadlines(d, now)
        assert order.index(nxt.state) >= order.index(d.state)
        assert apply_deadlines(nxt, now) == nxt
        d = nxt
    if max(days) > 28:
        assert d.state is State.FINAL
