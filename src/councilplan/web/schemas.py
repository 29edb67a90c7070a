"""The API's request bodies: what each endpoint accepts, checked at the door (lengths, ranges,
patterns), so a bad input is a 422 naming its field before any service function runs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictFloat, StrictInt, model_validator

from councilplan.councils.service.planning import (
    MAX_ROUNDS_RANGE,
    MAX_STATEMENT_ROWS,
    ROUND_HOURS_RANGE,
)
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
    statements_by: Literal["delegate", "ballot"] | None = None
    hours_recorded_by: Literal["member", "delegate"] | None = None
    section_motion_days: Annotated[int, Field(ge=1, le=90)] | None = None
    ledger_persons: Literal["numbered", "hidden"] | None = None
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


# -- the planning cycle (routers/planning.py) ---------------------------------------------------
# Numbers councils state reach the service as sent: a JSON number, or decimal text, which the
# service keeps exactly ("6666.666666666666666666666667"); it checks their range and names the
# row at fault. The ids of products, techniques, labour kinds and resources are checked there
# against the period's economy.

Number = Annotated[
    StrictInt | StrictFloat | Annotated[str, Field(min_length=1, max_length=40)],
    Field(description='a JSON number, or decimal text kept exactly ("3.2e6", "12.5")'),
]
EconomyId = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean)]
DIGEST_PATTERN = r"^[0-9a-f]{64}$"  # a bundle's SHA-256, in hex
Digest = Annotated[str, Field(pattern=DIGEST_PATTERN)]
#: A bundle's name (a query parameter: its length is the route's).
BundleName = Annotated[str, AfterValidator(_clean)]
Rows = Field(max_length=MAX_STATEMENT_ROWS)


class LimitsIn(Strict):
    """Limits by id of the economy's labour kinds and resources: a number, ``"none"`` (no
    limit) or, for labour, ``"offered"`` (the hours the workplace councils offer)."""

    labour: Annotated[dict[EconomyId, Number], Field(max_length=10_000)] = {}
    resources: Annotated[dict[EconomyId, Number], Field(max_length=10_000)] = {}


class RoundsIn(Strict):
    """Participatory rounds: hours a round stays open, most rounds, and the imbalance (%) at
    which the goods count as balanced. Left out, the service's defaults (24, 60, "3")."""

    round_hours: Annotated[int, Field(ge=ROUND_HOURS_RANGE[0], le=ROUND_HOURS_RANGE[1])] = 24
    max_rounds: Annotated[int, Field(ge=MAX_ROUNDS_RANGE[0], le=MAX_ROUNDS_RANGE[1])] = 60
    threshold: Number = "3"


class PeriodIn(Strict):
    title: Short
    bundle_digest: Digest
    starts_on: date
    ends_on: date
    ballot_closes_at: When
    stating_closes_at: When
    proposing_closes_at: When
    deciding_closes_at: When
    limits: LimitsIn | None = None
    rounds: RoundsIn | None = None
    public_goods: Annotated[
        list[EconomyId],
        Field(max_length=10_000, description="products free at the point of use, paid by the levy"),
    ] = []
    reserve_hours: Annotated[
        Number, Field(description="hours the federation sets aside for common reserves")
    ] = "0"


class NeedIn(Strict):
    product: EconomyId
    quantity: Annotated[Number, Field(description="units of the product, not negative")]
    priority: Annotated[Number | None, Field(description="positive; left out, 1")] = None


class TechniqueIn(Strict):
    technique: EconomyId
    capacity: Annotated[Number | None, Field(description="most activity; left out, none")] = None


class OfferedHoursIn(Strict):
    labour: EconomyId
    hours: Number


class NeedsIn(Strict):
    needs: Annotated[list[NeedIn], Rows]


class TechniquesIn(Strict):
    techniques: Annotated[list[TechniqueIn], Rows]
    hours: Annotated[list[OfferedHoursIn], Rows] = []


class StatementContentIn(Strict):
    """``{"needs": [...]}`` for needs, ``{"techniques": [...], "hours": [...]}`` for
    techniques."""

    needs: Annotated[list[NeedIn], Rows] | None = None
    techniques: Annotated[list[TechniqueIn], Rows] | None = None
    hours: Annotated[list[OfferedHoursIn], Rows] | None = None


class StatementBallotIn(Strict):
    kind: Literal["needs", "techniques"]
    content: StatementContentIn
    closes_at: When


class VariantIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=60, examples=["least-labour"])]
    constraints: LimitsIn | None = None


Units = Annotated[
    dict[Annotated[str, Field(max_length=300)], StrictInt | StrictFloat],
    Field(max_length=100_000),
]


class RoundAnswerIn(Strict):
    """A council's answer to a round's prices, goods named as the round's price list names
    them, units as JSON numbers: a consumer council's ``demands``; a workplace council's
    ``supplies`` and ``demands``. A good left out counts as zero."""

    demands: Units | None = None
    supplies: Units | None = None


class AdoptionIn(Strict):
    closes_at: When
    rule: Literal["schulze", "approval"] = "schulze"


# -- labour-time accounts (routers/ledger.py) ---------------------------------------------------
# Hours and quantities reach the service as sent, a JSON number or decimal text, and the ledger
# reads them exactly (docs/ledger.md): more than four decimals of an hour, a negative amount or
# a number out of range is refused there by name (too_precise, negative, too_large).

#: The most rows one sheet of hours may have (the body limit usually binds first).
MAX_SHEET_ROWS = 10_000
Note = Annotated[str, Field(max_length=500), AfterValidator(_clean)]


class HoursEntryIn(Strict):
    member_id: Id
    hours: Annotated[Number, Field(description="hours worked, at most 4 decimals")]
    note: Note = ""


class HoursIn(Strict):
    """One entry of hours worked (``member_id``, ``hours``, ``note``), or a sheet of them
    (``entries``), kept whole or not at all."""

    member_id: Id | None = None
    hours: Annotated[Number | None, Field(description="hours worked, at most 4 decimals")] = None
    note: Note = ""
    entries: (
        Annotated[list[HoursEntryIn], Field(min_length=1, max_length=MAX_SHEET_ROWS)] | None
    ) = None

    @model_validator(mode="after")
    def one_entry_or_a_sheet(self) -> HoursIn:
        one = self.member_id is not None or self.hours is not None or self.note != ""
        if self.entries is not None and one:
            raise ValueError("give one entry (member_id, hours, note) or entries, not both")
        if self.entries is None and (self.member_id is None or self.hours is None):
            raise ValueError("give member_id and hours, or entries: a sheet of them")
        return self

    def rows(self) -> list[dict]:
        """The entries as the service takes them."""
        if self.entries is not None:
            return [entry.model_dump() for entry in self.entries]
        return [{"member_id": self.member_id, "hours": self.hours, "note": self.note}]


class DrawIn(Strict):
    product: EconomyId
    quantity: Annotated[Number, Field(description="units of the product, as the plan's")]


class WorkplaceDrawIn(DrawIn):
    fund: Literal["materials", "means"] = "materials"


class ReversalIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_clean)]
