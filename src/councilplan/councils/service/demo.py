"""The demo town: a small world of councils, members and ballots to explore."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from argon2 import PasswordHasher

from councilplan.councils.service.accounts import register_account
from councilplan.councils.service.ballots import open_ballot, table_motion
from councilplan.councils.service.councils import (
    admit_first_council,
    apply_for_affiliation,
    create_council,
    join_council,
    open_admission,
)
from councilplan.councils.service.decisions import cast_vote, close_ballot
from councilplan.councils.service.delegation import delegates, open_election
from councilplan.councils.service.records import (
    DEFAULT_MIN_BALLOT_DAYS,
    DEFAULT_MIN_STANDING_DAYS,
    now_utc,
)
from councilplan.councils.service.repository import Store
from councilplan.councils.service.results import Council
from councilplan.ledger.hours import PLACES


def found_council_with_members(
    store: Store,
    *,
    name: str,
    kind: str,
    founder_id: int,
    member_ids: Sequence[int],
    founded_at: datetime,
) -> tuple[Council, datetime]:
    """Found a workplace or consumer council and admit ``member_ids`` by its rules: each asks
    to join, the founder (alone, as the council's only member) opens one admission ballot for
    them all and votes yes, and at its close, the council's minimum ballot time later, they are
    members. Returns the council and that moment; they vote in ballots opened once they have
    the council's minimum standing (7 days by default)."""
    founded_at = now_utc(founded_at)
    council = create_council(store, name=name, kind=kind, founder_id=founder_id, now=founded_at)
    if not member_ids:
        return council, founded_at
    asked = [
        join_council(store, council_id=council.id, account_id=a, now=founded_at).id
        for a in member_ids
    ]
    closes_at = founded_at + timedelta(days=council.min_ballot_days)
    ballot = open_admission(
        store,
        council_id=council.id,
        opened_by=founder_id,
        application_ids=asked,
        closes_at=closes_at,
        now=founded_at,
    )
    cast_vote(store, ballot_id=ballot.id, voter_id=founder_id, choice="yes", now=founded_at)
    close_ballot(store, ballot_id=ballot.id, now=closes_at)
    return council, closes_at


# ---------------------------------------------------------------------------------------------
# Demo hook.


def create_demo_town(
    store: Store,
    *,
    hash_password: Callable[[str], str] | None = None,
    password: str = "demo",
    now: datetime | None = None,
) -> dict:
    """Populate ``store`` (e.g. ``councilplan.store.repository.open_store(url)``) with a small
    town: two workplace councils and three neighbourhood councils with members, a planning
    federation they send delegates to (elections held and closed), and a motion voted on in the
    neighbourhood. Every account's password is ``password``, hashed by ``hash_password``
    (default: argon2id, as the web login expects). All acts go on record.

    Returns the ids made, as a plain dict ({"accounts": {username: id}, "councils": {key: id},
    ...}) rather than a result dataclass: it is a fixture for demos and tests, not an act.
    """
    start = now_utc(now) - timedelta(days=30)
    people = ["ada", "bea", "cai", "dan", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lee"]
    people += ["mo", "ned", "oz", "pat", "quinn", "rae"]
    if hash_password is None:
        hash_password = PasswordHasher().hash  # the same hasher as councilplan.web.auth
    hashed = hash_password(password)
    ids = {
        p: register_account(
            store, username=p, display_name=p.title(), password_hash=hashed, now=start
        )
        for p in people
    }
    # Five councils, each founded by its first member, who admits the rest by the council's
    # decision (an admission ballot: 3 days).
    groups = {
        "bakery": ("Bakery workers", "workplace", people[:4]),
        "clinic": ("Clinic workers", "workplace", people[4:8]),
        "neighbourhood": ("Riverside neighbourhood", "consumer", people[8:12] + ["ada", "eve"]),
        "north": ("North neighbourhood", "consumer", people[12:15]),
        "south": ("South neighbourhood", "consumer", people[15:18]),
    }
    councils, names_of = {}, {}
    for key, (name, kind, names) in groups.items():
        council, _ = found_council_with_members(
            store,
            name=name,
            kind=kind,
            founder_id=ids[names[0]],
            member_ids=[ids[n] for n in names[1:]],
            founded_at=start,
        )
        councils[key], names_of[council.id] = council, names
    bakery, clinic, hood = councils["bakery"], councils["clinic"], councils["neighbourhood"]
    north, south = councils["north"], councils["south"]
    federation = create_council(
        store,
        name="Town planning federation",
        kind="federation",
        founder_id=ids["ada"],
        weighted_votes=True,
        now=start,
    )
    # Each council asks to join the federation; its founder admits the first, and the first
    # council's delegate puts the others to the federation's vote.
    t = start + timedelta(days=DEFAULT_MIN_BALLOT_DAYS)
    asked = {
        c.id: apply_for_affiliation(
            store,
            federation_id=federation.id,
            council_id=c.id,
            actor_id=ids[names_of[c.id][0]],
            now=t,
        ).id
        for c in (bakery, clinic, hood, north, south)
    }
    admit_first_council(store, application_id=asked[bakery.id], actor_id=ids["ada"], now=t)
    # Elections once the admitted members have the minimum standing.
    t = t + timedelta(days=DEFAULT_MIN_STANDING_DAYS)
    elections = {bakery.id: _elect(store, bakery.id, federation.id, ids, names_of, t)}
    t = t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS)
    (seated,) = delegates(store, federation_id=federation.id, council_id=bakery.id)
    bakery_delegate = seated.account_id
    affiliation = open_admission(
        store,
        council_id=federation.id,
        opened_by=bakery_delegate,
        application_ids=[asked[c.id] for c in (clinic, hood, north, south)],
        closes_at=t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS),
        now=t,
    )
    cast_vote(store, ballot_id=affiliation.id, voter_id=bakery_delegate, choice="yes", now=t)
    t = t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS)
    close_ballot(store, ballot_id=affiliation.id, now=t)
    for council_id in (clinic.id, hood.id, north.id, south.id):
        elections[council_id] = _elect(store, council_id, federation.id, ids, names_of, t)
    t = t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS + 1)
    m = table_motion(
        store,
        council_id=hood.id,
        member_id=ids["ivy"],
        title="Extend the library's opening hours",
        text="The library opens until 21:00 on weekdays from next month.",
        now=t,
    )
    vote = open_ballot(
        store,
        council_id=hood.id,
        opened_by=ids["ivy"],
        title=m.title,
        rule="yes_no",
        motion_id=m.id,
        secret=True,
        closes_at=t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS),
        now=t,
    )
    for i, voter in enumerate(names_of[hood.id]):
        cast_vote(
            store,
            ballot_id=vote.id,
            voter_id=ids[voter],
            choice=("yes", "yes", "no")[i % 3],
            now=t + timedelta(hours=1),
        )
    close_ballot(store, ballot_id=vote.id, now=t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS))
    return {
        "accounts": ids,
        "councils": {
            "bakery": bakery.id,
            "clinic": clinic.id,
            "neighbourhood": hood.id,
            "north": north.id,
            "south": south.id,
            "federation": federation.id,
        },
        "elections": elections,
        "affiliation_ballot": affiliation.id,
        "motion": m.id,
        "motion_ballot": vote.id,
    }


# ---------------------------------------------------------------------------------------------
# What the demo town's councils state for a planning period.

#: The councils of the demo needs file (the demo bundle's needs/town.csv) as the demo town's
#: consumer council keys; the file's "town" rows are needs the three neighbourhoods share.
DEMO_NEIGHBOURHOODS = {"north": "north", "south": "south", "riverside": "neighbourhood"}
#: The techniques each demo workplace council runs, with the most activity it can run (units
#: of its product) where it states one.
DEMO_TECHNIQUES = {
    "bakery": [{"technique": "bakery", "capacity": "800"}, {"technique": "flour_mill"}],
    "clinic": [
        {"technique": "clinic"},
        {"technique": "pharmacy_lab"},
        {"technique": "dental_clinic"},
    ],
}
#: The hours of labour each demo workplace council offers for the year, by kind (a little
#: more than its techniques take in the demo's plans).
DEMO_HOURS = {
    "bakery": [
        {"labour": "general", "hours": "42000"},
        {"labour": "skilled", "hours": "4000"},
    ],
    "clinic": [
        {"labour": "general", "hours": "80000"},
        {"labour": "skilled", "hours": "65000"},
        {"labour": "care", "hours": "215000"},
    ],
}


#: The demo period's public goods, free at the point of use and paid by the levy, and the
#: hours the federation sets aside for common reserves.
DEMO_PUBLIC_GOODS = ("health_care", "library", "transit")
DEMO_RESERVE_HOURS = "20000"
#: A working week in each demo workplace council: hours by member (a part-timer or two).
DEMO_WEEK = {
    "bakery": {"ada": "38", "bea": "40", "cai": "32.5", "dan": "40"},
    "clinic": {"eve": "36", "fay": "40", "gus": "40", "hal": "24.5"},
}
#: What members draw after that week: (member, product, quantity in the product's unit, as
#: the demo bundle counts it: bread, vegetables, fruit and meat in tonnes).
DEMO_DRAWS = (
    ("bea", "bread", "0.006"),
    ("bea", "vegetables", "0.012"),
    ("dan", "fruit", "0.01"),
    ("eve", "clothing", "2"),
    ("eve", "milk", "0.008"),
    ("gus", "bicycles", "1"),
    ("hal", "books", "3"),
)
#: One draw keyed in wrong, undone by the member who drew: (member, product, quantity drawn,
#: quantity meant).
DEMO_MISTAKE = ("dan", "meat", "0.05", "0.005")


def ledger_balances(store: Store) -> dict[str, Decimal]:
    """Every ledger account's balance in hours, by its public key (a person's as
    ``member:#n``, by her ledger account's number): the demo shows that they add up to 0."""
    balances = {}
    with store.reading() as tx:
        for row in tx.ledger_accounts():
            key = f"member:#{row['id']}" if row["kind"] == "member" else row["key"]
            balances[key] = Decimal(row["balance"]).scaleb(-PLACES)
    return balances


def demo_needs() -> dict[str, list[dict]]:
    """The demo needs file's rows as each neighbourhood council states them (by council key):
    rows of product, quantity and priority, numbers as decimal text. The town's shared needs
    are split in three equal parts, one stated by each neighbourhood."""
    from councilplan.economy import DEMO_BUNDLE

    rows: dict[str, dict[tuple[str, str], Decimal]] = {}
    with open(DEMO_BUNDLE / "needs" / "town.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            councils = (
                list(DEMO_NEIGHBOURHOODS.values())
                if row["council"] == "town"
                else [DEMO_NEIGHBOURHOODS[row["council"]]]
            )
            share = Decimal(row["amount"]) / len(councils)
            for council in councils:
                key = (row["product"], row.get("priority") or "1")
                needs = rows.setdefault(council, {})
                needs[key] = needs.get(key, Decimal(0)) + share
    return {
        council: [
            {"product": p, "quantity": str(q.normalize()), "priority": pr}
            for (p, pr), q in sorted(needs.items())
        ]
        for council, needs in rows.items()
    }


def _elect(
    store: Store,
    council_id: int,
    federation_id: int,
    ids: dict[str, int],
    names_of: dict[int, list[str]],
    t: datetime,
) -> int:
    """Hold and close a council's election of one delegate (its first two members stand)."""
    names = names_of[council_id]
    ballot = open_election(
        store,
        council_id=council_id,
        federation_id=federation_id,
        opened_by=ids[names[0]],
        candidates=[ids[n] for n in names[:2]],
        mandate="Press for the clinic's new wing; report back monthly.",
        closes_at=t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS),
        now=t,
    )
    for i, voter in enumerate(names):
        first, second = (names[0], names[1]) if i % 3 else (names[1], names[0])
        cast_vote(
            store,
            ballot_id=ballot.id,
            voter_id=ids[voter],
            choice=[first, second],
            now=t + timedelta(hours=2),
        )
    return close_ballot(
        store, ballot_id=ballot.id, now=t + timedelta(days=DEFAULT_MIN_BALLOT_DAYS)
    ).id
