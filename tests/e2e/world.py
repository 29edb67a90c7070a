"""The town the end-to-end tests act in: `councilplan demo` (the demo town with an adopted plan
and a week of hours and draws, all in the past), then, at the real time the browser acts in, a
few things open through the service's acts: a Schulze ballot in the Riverside neighbourhood,
a question before the federation, and a rates-and-conflicts commission for the bakery."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from councilplan.councils import service as svc
from councilplan.store import default_url, open_store

PASSWORD = "demo"  # the demo's accounts all have it (cli/demo.py prints it)


@dataclass(frozen=True)
class World:
    data_dir: Path
    url: str
    accounts: dict[str, int]
    councils: dict[str, int]
    market_ballot: int  # Riverside's Schulze ballot: everyone but ada has voted
    federation_ballot: int  # a yes/no question before the federation, open for 3 days
    commission: int  # bakery <-> federation
    bea_hours_tid: str  # a transfer of hours credited to bea (what her dispute is about)


def build(data_dir: Path) -> World:
    env = {k: v for k, v in os.environ.items() if k != "COUNCILPLAN_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "councilplan", "demo", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    url = default_url(data_dir)
    store = open_store(url)
    try:
        return _open_things(store, data_dir, url)
    finally:
        store.dispose()


def _open_things(store, data_dir: Path, url: str) -> World:
    councils = {c.name: c.id for c in svc.list_councils(store)}
    names = {
        "bakery": councils["Bakery workers"],
        "clinic": councils["Clinic workers"],
        "riverside": councils["Riverside neighbourhood"],
        "federation": councils["Town planning federation"],
    }
    accounts = {}
    with store.reading() as tx:
        for who in ("ada", "bea", "cai", "dan", "eve", "ivy", "jo", "kim", "lee"):
            accounts[who] = tx.account_by_username(who)["id"]
    now = datetime.now(UTC)
    market = svc.open_ballot(
        store,
        council_id=names["riverside"],
        opened_by=accounts["jo"],
        title="Which day for the weekly market?",
        rule="schulze",
        options=["Friday", "Saturday", "Sunday"],
        closes_at=now + timedelta(days=3, minutes=5),
        now=now,
    )
    for who, ranking in (
        ("jo", ["Saturday", "Sunday", "Friday"]),
        ("kim", ["Sunday", "Saturday"]),
        ("lee", ["Friday", "Saturday", "Sunday"]),
        ("eve", ["Saturday", "Friday"]),
    ):
        svc.cast_vote(store, ballot_id=market.id, voter_id=accounts[who], choice=ranking, now=now)
    question = svc.open_ballot(
        store,
        council_id=names["federation"],
        opened_by=accounts["ada"],
        title="Build the second tram line next year?",
        rule="yes_no",
        closes_at=now + timedelta(days=3, minutes=5),
        now=now,
    )
    commission = svc.create_commission(
        store,
        name="Bakery rates and conflicts",
        workplace_council_id=names["bakery"],
        federation_id=names["federation"],
        actor_id=accounts["ada"],
        now=now,
    )
    svc.take_commission_seat(
        store, commission_id=commission.id, account_id=accounts["cai"], side="workplace", now=now
    )
    svc.take_commission_seat(
        store, commission_id=commission.id, account_id=accounts["eve"], side="planning", now=now
    )
    bea = svc.my_ledger(store, account_id=accounts["bea"])
    tid = next(t.tid for t in bea.transfers if t.kind == "hours" and t.credit == "you")
    return World(
        data_dir=data_dir,
        url=url,
        accounts=accounts,
        councils=names,
        market_ballot=market.id,
        federation_ballot=question.id,
        commission=commission.id,
        bea_hours_tid=tid.split(":")[0],
    )
