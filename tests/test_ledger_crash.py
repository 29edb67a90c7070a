"""A sheet of hours recorded in one transaction survives a crash whole or not at all: a process
killed (SIGKILL) in the middle of ``record_hours_batch`` leaves every account as it was before
the sheet, and the same sheet recorded to completion afterwards is kept whole. On SQLite and
PostgreSQL.

The writer is a child process of this test (``CHILD``, run with ``python -c``): it opens the
same database and records the sheet, its ``ledger.post`` wrapped so that after the first
``stop_after`` rows are posted it says so on its stdout and sleeps until it is killed. The test
waits for that line, checks that nobody else sees any of the sheet yet, and kills it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest

from councilplan.councils import service as s
from councilplan.errors import Where
from councilplan.ledger import QUANTUM, Account, AccountKind, hours_worked, read_rate
from planning_setup import DAY, T0, adopted_plan, demo_town

AFTER = T0 + 24 * DAY  # the plan is adopted at T0 + 23 days
ROWS = 900  # rows in the sheet
STOP_AFTER = 600  # the killed writer stops after posting this many rows
WAIT_S = 120  # for the child's line; far more than it needs

CHILD = r"""
import importlib, json, sys, time
from datetime import datetime
from councilplan.councils import service as s
from councilplan.store import open_store

job = json.loads(sys.argv[1])
store = open_store(job["url"], schema=job["schema"], upgrade=False, pool_size=2)
ledger = importlib.import_module("councilplan.councils.service.ledger")
real_post, posted = ledger.post, 0

def post(*args, **kwargs):
    global posted
    kept = real_post(*args, **kwargs)
    posted += 1
    if posted == job["stop_after"]:
        print("posted", posted, flush=True)
        time.sleep(3600)  # inside the sheet's transaction, until killed
    return kept

ledger.post = post
acts = s.record_hours_batch(
    store,
    workplace_id=job["workplace"],
    entries=job["entries"],
    actor_id=job["actor"],
    now=datetime.fromisoformat(job["now"]),
)
print("committed", len(acts), flush=True)
store.dispose()
"""


def _balances(store) -> dict[str, int]:
    """Every account's balance, in units of the quantum (0.0001 h)."""
    with store.reading() as tx:
        return {r["key"]: r["balance"] for r in tx.ledger_accounts()}


def _transfers(store) -> int:
    """How many transfers are kept (read as ``reading`` reads: no write lock on SQLite)."""
    with store.reading() as tx:
        return tx.connection.exec_driver_sql("SELECT count(*) FROM transfers").scalar_one()


def _child(store, job: dict) -> subprocess.Popen:
    job = {
        "url": store.engine.url.render_as_string(hide_password=False),
        "schema": store.schema,
        **job,
    }
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,  # the test session's audit key (conftest) with it
    )


def _line(child: subprocess.Popen) -> str:
    """The child's next line on stdout; its stderr in the failure if it ended without one."""
    line = child.stdout.readline()
    if not line:
        child.wait(WAIT_S)
        pytest.fail(f"the writer ended ({child.returncode}) without a word:\n{child.stderr.read()}")
    return line.strip()


def _expected(store, town, period, entries) -> Counter:
    """What the sheet changes, account key by account key (units of the quantum), made by the
    ledger's own ``hours_worked`` at the plan's levy rate: independent of the service."""
    rate = read_rate(s.get_levy(store, period_id=period.id).rate, Where("levy"))
    workplace = str(town.councils["bakery"])
    labour = Account(AccountKind.LABOUR_FUND, workplace)
    common = Account(AccountKind.COMMON_FUND, str(town.federation))
    change: Counter = Counter()
    for i, entry in enumerate(entries):
        member = Account(AccountKind.MEMBER, str(entry["member_id"]))
        for t in hours_worked(labour, member, common, entry["hours"], rate, id=f"x{i}"):
            units = int(t.amount / QUANTUM)
            change[str(t.debit)] -= units
            change[str(t.credit)] += units
    return change


def test_a_killed_sheet_leaves_every_account_as_before_and_a_finished_one_keeps_all(
    council_store,
):
    store = council_store
    town = demo_town(store)
    period = adopted_plan(store, town)
    a, bakery = town.accounts, town.councils["bakery"]
    # Something on the accounts already, so "as before" is not "empty".
    s.record_hours(store, workplace_id=bakery, member_id=a["bea"], hours="8", actor_id=a["ada"],
                   now=AFTER)  # fmt: skip
    members = [a["bea"], a["cai"], a["dan"]]  # the bakery's, recorded by ada
    entries = [
        {"member_id": members[i % 3], "hours": f"{1 + i % 8}.{i % 10}", "note": f"shift {i}"}
        for i in range(ROWS)
    ]
    job = {"workplace": bakery, "actor": a["ada"], "entries": entries, "now": AFTER.isoformat()}
    before, transfers_before, head_before = _balances(store), _transfers(store), store.audit_head()

    child = _child(store, {**job, "stop_after": STOP_AFTER})
    try:
        assert _line(child) == f"posted {STOP_AFTER}"
        # Two thirds of the sheet is written in the child's open transaction: nobody sees it.
        assert _balances(store) == before and _transfers(store) == transfers_before
        child.send_signal(signal.SIGKILL)
        assert child.wait(WAIT_S) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()

    assert _balances(store) == before  # none of the sheet kept
    assert _transfers(store) == transfers_before
    assert sum(before.values()) == 0
    assert store.audit_head() == head_before
    assert store.verify_record().ok

    child = _child(store, {**job, "stop_after": 0})  # 0: never stops
    out, err = child.communicate(timeout=WAIT_S)
    assert child.returncode == 0, err
    assert out.split() == ["committed", str(ROWS)]
    after = _balances(store)
    change = _expected(store, town, period, entries)
    assert {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(
        key, 0)} == {key: units for key, units in change.items() if units}  # fmt: skip
    assert sum(after.values()) == 0
    assert _transfers(store) == transfers_before + 2 * ROWS
    assert store.audit_head()[0] == head_before[0] + ROWS  # one event per row
    assert store.verify_record().ok
    mine = s.my_ledger(store, account_id=a["bea"], limit=1)
    assert Decimal(mine.balance.replace(",", "")) == Decimal(after[f"member:{a['bea']}"]) * QUANTUM
