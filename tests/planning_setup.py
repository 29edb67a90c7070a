"""A planning period on the demo town, built through the service's acts: the shared set-up of
the planning cycle's tests (service, API, CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from councilplan.councils import service as s
from councilplan.councils.service.demo import (
    DEMO_HOURS,
    DEMO_NEIGHBOURHOODS,
    DEMO_TECHNIQUES,
    demo_needs,
)
from councilplan.economy import DEMO_BUNDLE
from councilplan.economy.archive import pack_bundle

#: The period is proposed at T0; the demo town is made a month before.
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# What the demo town's councils state: one copy, in the service's demo module (the demo
# command states the same).
NEIGHBOURHOODS = DEMO_NEIGHBOURHOODS
WORKPLACES = DEMO_TECHNIQUES
OFFERED = DEMO_HOURS


@dataclass(frozen=True)
class Town:
    accounts: dict[str, int]
    councils: dict[str, int]
    delegate: dict[str, int]  # council key -> its delegate's account id
    federation: int
    bundle: str


def _quick_hash(password: str) -> str:
    return "h:" + password


def demo_town(store, *, t0: datetime = T0, hash_password=_quick_hash) -> Town:
    """The demo town made before ``t0`` (its acts until ``t0`` - 2 days), its delegates to the
    federation, and the demo bundle kept at ``t0`` - 1 day. ``hash_password=None``: argon2,
    so that members log in (the API's and the CLI's tests)."""
    made = s.create_demo_town(store, hash_password=hash_password, now=t0 - 2 * DAY)
    federation = made["councils"]["federation"]
    delegate = {
        key: s.delegates(store, federation_id=federation, council_id=council)[0].account_id
        for key, council in made["councils"].items()
        if key != "federation"
    }
    bundle = s.add_bundle(
        store,
        actor_id=delegate["bakery"],
        name="demo town",
        archive=pack_bundle(DEMO_BUNDLE),
        now=t0 - DAY,
    )
    return Town(made["accounts"], made["councils"], delegate, federation, bundle.digest)


#: The demo town's public goods (free at the point of use, funded by the levy).
PUBLIC_GOODS = ("health_care", "library", "transit")


def open_period(
    store,
    town: Town,
    *,
    rounds: dict | None = None,
    limits=None,
    public_goods=PUBLIC_GOODS,
    reserve_hours="20000",
) -> s.Period:
    """Propose the demo period at T0, every delegate votes yes, the ballot closes at T0 + 3 days:
    stating until T0 + 10 days, proposing until T0 + 20, deciding until T0 + 30."""
    period = s.propose_period(
        store,
        federation_id=town.federation,
        actor_id=town.delegate["bakery"],
        title="The town's plan for 2027",
        bundle_digest=town.bundle,
        starts_on="2027-01-01",
        ends_on="2027-12-31",
        ballot_closes_at=T0 + 3 * DAY,
        stating_closes_at=T0 + 10 * DAY,
        proposing_closes_at=T0 + 20 * DAY,
        deciding_closes_at=T0 + 30 * DAY,
        limits=limits,
        rounds=rounds,
        public_goods=public_goods,
        reserve_hours=reserve_hours,
        now=T0,
    )
    for account in town.delegate.values():
        s.cast_vote(store, ballot_id=period.ballot_id, voter_id=account, choice="yes", now=T0)
    s.close_ballot(store, ballot_id=period.ballot_id, now=T0 + 3 * DAY)
    return s.get_period(store, period.id, now=T0 + 3 * DAY)


def state_everything(store, town: Town, period_id: int, at: datetime = T0 + 4 * DAY) -> None:
    """Each neighbourhood states its needs, each workplace its techniques and hours, through
    its delegate."""
    for council, needs in demo_needs().items():
        s.state_needs(
            store,
            period_id=period_id,
            council_id=town.councils[council],
            actor_id=town.delegate[council],
            needs=needs,
            now=at,
        )
    for council, techniques in WORKPLACES.items():
        s.state_techniques(
            store,
            period_id=period_id,
            council_id=town.councils[council],
            actor_id=town.delegate[council],
            techniques=techniques,
            hours=OFFERED[council],
            now=at,
        )


def adopted_plan(store, town: Town) -> s.Period:
    """A period taken to its adopted plan: statements, two variants computed, the federation's
    Schulze ballot (least-labour wins), closed at T0 + 23 days."""
    period = open_period(store, town)
    state_everything(store, town, period.id)
    t = T0 + 11 * DAY
    for name, constraints in (
        ("least-labour", None),
        ("low-carbon", {"resources": {"co2": "17000"}}),
    ):
        s.request_variant(
            store,
            period_id=period.id,
            actor_id=town.delegate["bakery"],
            name=name,
            constraints=constraints,
            now=t,
        )
    s.run_jobs(store, worker="test", once=True)
    t = T0 + 20 * DAY
    ballot = s.open_adoption(
        store, period_id=period.id, actor_id=town.delegate["bakery"], closes_at=t + 3 * DAY, now=t
    )
    for account in town.delegate.values():
        s.cast_vote(store, ballot_id=ballot.id, voter_id=account, choice=["least-labour"], now=t)
    s.close_ballot(store, ballot_id=ballot.id, now=t + 3 * DAY)
    return s.get_period(store, period.id, now=t + 3 * DAY)
