"""The demo town: a small world of councils, members and ballots to explore."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from councilplan.councils.service.accounts import register_account
from councilplan.councils.service.ballots import cast_vote, close_ballot, open_ballot, table_motion
from councilplan.councils.service.councils import create_council, join_council, join_federation
from councilplan.councils.service.delegation import open_election
from councilplan.councils.service.records import Store, _now

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
    town: two workplace councils and a neighbourhood council with members, a planning
    federation they send delegates to (elections held and closed), and a motion voted on in the
    neighbourhood. Every account's password is ``password``, hashed by ``hash_password``
    (default: argon2id, as the web login expects). Returns the ids made. All acts go on record.
    """
    start = _now(now) - timedelta(days=30)
    people = ["ada", "bea", "cai", "dan", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lee"]
    if hash_password is None:
        hash_password = PasswordHasher().hash  # the same hasher as councilplan.web.auth
    hashed = hash_password(password)
    ids = {
        p: register_account(
            store, username=p, display_name=p.title(), password_hash=hashed, now=start
        )
        for p in people
    }
    bakery = create_council(
        store, name="Bakery workers", kind="workplace", founder_id=ids["ada"], now=start
    )
    clinic = create_council(
        store, name="Clinic workers", kind="workplace", founder_id=ids["eve"], now=start
    )
    hood = create_council(
        store, name="Riverside neighbourhood", kind="consumer", founder_id=ids["ivy"], now=start
    )
    federation = create_council(
        store,
        name="Town planning federation",
        kind="federation",
        founder_id=ids["ada"],
        weighted_votes=True,
        now=start,
    )
    groups = {bakery.id: people[:4], clinic.id: people[4:8], hood.id: people[8:] + ["ada", "eve"]}
    for council_id, names in groups.items():
        for p in names[1:]:
            join_council(
                store, council_id=council_id, account_id=ids[p], now=start + timedelta(hours=1)
            )
    t = start + timedelta(days=1)
    elections = {}
    for council_id, names in groups.items():
        join_federation(
            store,
            federation_id=federation.id,
            council_id=council_id,
            actor_id=ids[names[0]],
            seats=1,
            weight=len(names),
            now=t,
        )
        ballot = open_election(
            store,
            council_id=council_id,
            federation_id=federation.id,
            opened_by=ids[names[0]],
            candidates=[ids[n] for n in names[:2]],
            mandate="Press for the clinic's new wing; report back monthly.",
            closes_at=t + timedelta(days=2),
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
        elections[council_id] = close_ballot(
            store, ballot_id=ballot.id, now=t + timedelta(days=2)
        ).id
    t = start + timedelta(days=5)
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
        title=m["title"],
        rule="yes_no",
        motion_id=m["id"],
        secret=True,
        closes_at=t + timedelta(days=3),
        now=t,
    )
    for i, voter in enumerate(groups[hood.id]):
        cast_vote(
            store,
            ballot_id=vote.id,
            voter_id=ids[voter],
            choice=("yes", "yes", "no")[i % 3],
            now=t + timedelta(hours=1),
        )
    close_ballot(store, ballot_id=vote.id, now=t + timedelta(days=3))
    return {
        "accounts": ids,
        "councils": {
            "bakery": bakery.id,
            "clinic": clinic.id,
            "neighbourhood": hood.id,
            "federation": federation.id,
        },
        "elections": elections,
        "motion": m["id"],
        "motion_ballot": vote.id,
    }
