"""The API's request bodies: what each endpoint accepts, checked at the door (lengths, ranges,
patterns), so a bad input is a 422 naming its field before any service function runs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from councilplan.web import guards

MAX_ID = 2**31 - 1  # the largest id the API takes: a PostgreSQL integer


def _clean(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates; refuse them here with a 422.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Short = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_clean)]
Long = Annotated[str, Field(min_length=1, max_length=20_000), AfterValidator(_clean)]
ShareText = Annotated[
    str,
    Field(min_length=1, max_length=20, pattern=guards.SHARE_PATTERN, examples=["1/4"]),
    AfterValidator(_clean),
]
Hours = Annotated[
    Decimal, Field(gt=0, max_digits=14, decimal_places=4), AfterValidator(guards.bounded_hours)
]
When = Annotated[datetime, AfterValidator(guards.in_calendar)]


class Strict(BaseModel):
    model_config = {"extra": "forbid"}


class AccountIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    password: Annotated[str, Field(min_length=8, max_length=1024), AfterValidator(_clean)]
    display_name: Annotated[str, Field(max_length=200), AfterValidator(_clean)] = ""


class LoginIn(Strict):
    username: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean)]
    password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_clean)]


class PasswordIn(Strict):
    old_password: Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_clean)]
    new_password: Annotated[str, Field(min_length=8, max_length=1024), AfterValidator(_clean)]


class CouncilIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    kind: Literal["workplace", "consumer", "federation"]
    description: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""
    recall_share: ShareText = "1/4"
    weighted_votes: bool = False


class AffiliationIn(Strict):
    """A council asks to join a federation; its weight is never declared (derived per ballot)."""

    council_id: Id
    seats: Annotated[int, Field(ge=1, le=100)] = 1


class InvitationIn(Strict):
    account_id: Id


class AdmissionIn(Strict):
    application_ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)]
    closes_at: When


class RulesIn(Strict):
    """Changes to a council's rules (any of them), put to its vote until ``closes_at``."""

    admission: Literal["decision", "invitation", "open"] | None = None
    min_standing_days: Annotated[int, Field(ge=0, le=365)] | None = None
    min_ballot_days: Annotated[int, Field(ge=1, le=60)] | None = None
    recall_share: ShareText | None = None
    closes_at: When


class MotionIn(Strict):
    title: Short
    text: Long


class AmendmentIn(Strict):
    text: Long


class BallotIn(Strict):
    title: Short
    rule: Literal["yes_no", "approval", "schulze"]
    closes_at: When
    options: Annotated[list[Short], Field(max_length=200)] | None = None
    motion_id: Id | None = None
    quorum: ShareText = "0"
    majority: ShareText = "1/2"
    secret: bool = False
    seats: Annotated[int, Field(ge=1, le=200)] = 1


class VoteIn(Strict):
    choice: Literal["yes", "no", "abstain"] | Annotated[list[Short], Field(max_length=200)] = Field(
        description="yes_no: 'yes', 'no' or 'abstain'; approval: the options approved; "
        "schulze and elections: options ranked, most preferred first"
    )


class ElectionIn(Strict):
    federation_id: Id
    mandate: Long
    closes_at: When
    candidates: Annotated[list[Id], Field(max_length=200)] = []
    seats: Annotated[int, Field(ge=1, le=100)] | None = None
    nominations_close_at: When | None = None


class NominationIn(Strict):
    candidate_id: Id


class RecallIn(Strict):
    reason: Long


class BudgetIn(Strict):
    title: Short
    hours: Hours
    proposals_close_at: When
    closes_at: When


class ProposalIn(Strict):
    title: Short
    cost_hours: Hours


HoursText = Annotated[
    str, Field(max_length=30, pattern=r"^[0-9]{1,10}([./][0-9]{1,6})?$", examples=["7.5", "3/4"])
]
Vote = Literal["yes", "no", "abstain"]
Votes = Annotated[
    dict[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,9}$")], Vote],
    Field(max_length=100, description="commissioner account id -> vote"),
]


class CommissionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    workplace_council_id: Id
    federation_id: Id
    seats_per_side: Annotated[int, Field(ge=1, le=50)] = 1


class SeatIn(Strict):
    side: Literal["workplace", "planning"]


class DisputeIn(Strict):
    subject: Literal["work_norm", "recorded_hours"]
    target: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
    current_hours: HoursText
    claimed_hours: HoursText
    grounds: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""
    worker_id: Id | None = None
    for_council: bool = False


class HearingIn(Strict):
    present: Annotated[list[Id], Field(min_length=1, max_length=100)]


class DecisionIn(Strict):
    hours: HoursText
    vote: Annotated[Vote, Field(description="my own seat's vote on these hours")]


class AppealIn(Strict):
    grounds: Annotated[str, Field(max_length=20_000), AfterValidator(_clean)] = ""


class FinalIn(Strict):
    hours: HoursText | None = None
    vote: Annotated[Vote | None, Field(description="my own seat's vote on an appeal")] = None
