"""Labour-time accounts under load, on PostgreSQL: transfers per second with 50 clients
(goal >= 2,000/s) and the time to read a balance with 10^6 transfers on record (goal < 5 ms),
against re-summing the account's transfers (the read the issue rejects) in the same run.

    python benchmarks/ledger.py                        # COUNCILPLAN_TEST_DATABASE_URL or local
    python benchmarks/ledger.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python benchmarks/ledger.py --quick                # 20,000 transfers of history, 3 s runs
    python benchmarks/ledger.py --profile              # and cProfile one client's acts

Set-up, in a PostgreSQL schema of its own (dropped at the end), all through the service's acts:
the tests' demo town taken to an adopted plan (``tests/planning_setup.py``: two workplaces,
bakery and clinic, in one federation), then ``--clients`` x ``--members`` new members admitted
to the two workplaces by their councils' admission ballots, and one "quiet" member more.

History: ``--history`` transfers (10^6 by default). The first ``--by-acts`` (100,000) are made
by ``record_hours_batch``, sheets of ``--sheet`` rows (each row one recording of hours: its two
transfers, hours and levy, and its audit event), a sheet per transaction, bakery and clinic in
turn, round robin over their members: the acts' own path. It is faster than an act per
transaction only by a sheet's single commit and chaining: each row still costs nearly an act
(about 260 transfers/s on the 2-core machine this was written on, so 10^6 would take over an
hour). The rest are written by COPY behind the acts' back (:func:`copied_history`): copies of
the sheets' latest rows for the next members in turn, with the balances they change, in one
transaction. Balances and transfers stay consistent (checked at the end: every balance against
the sum of its transfers, and all balances summing to 0); the audit record does not cover the
copied rows. The quiet member is credited once, in the first sheet, and never again, so her
latest transfer is about the oldest. Then VACUUM ANALYZE and CHECKPOINT, so that autovacuum
and the checkpointer, busy after a million rows, do not run during the timed runs.

Measured, through the real acts (``record_hours``: 2 transfers each; ``draw_goods``: 1),
``--duration`` seconds each, a closed loop (each client acts again as soon as its act returns),
as the service runs them on PostgreSQL (the "one step": ``councilplan_ledger_post``, the acts
of a process's threads batched by its ``LedgerPoster``) and, for comparison, by the general path
alone (``ledger.ONE_STEP`` off; spread only):

* 1 client alone, for the unloaded latency;
* ``--clients`` clients in threads of this process, and the same in ``--processes`` worker
  processes (threads among them), since the acts are Python under one GIL per process;
* "spread": each client acts on its own ``--members`` members (hours recorded for them by
  their workplace's founder; draws by them); "hot": every client on one member.

Every recording of hours locks the federation's common fund (its levy goes there) and the
workplace's labour fund, and every draw the federation's goods account, after the member's
account (a federation's accounts are locked last). So "spread" is hot too, on those accounts:
a one-step batch holds them once for all its acts (``a batch``: acts a batch, counted by a
wrapper around ``LedgerPoster._posted``). A general-path act is timed in parts by wrappers
around three store calls (timestamps only): ``lock wait``, the locking SELECTs of ``post``;
``held``, from the federation account's lock granted to COMMIT done, the time every other act
waits on that account; ``chain``, waiting for the audit chainer after COMMIT. At most
1000 / held general-path acts/s go through one account.

The floor, without the service: PostgreSQL's own ``UPDATE`` of one row and ``COMMIT`` in a loop,
by 1 client, by ``--clients`` on one row, and by ``--clients`` on a row each.

Reading, with the history (and the runs' acts) on record, ``--reads`` times each, one client:
``my_ledger(limit=1)`` (a member's balance and latest transfer) or ``ledger_account(limit=1)``
for a fund; the bare balance row (``ledger_account`` of the store, by key); and the baseline,
``SUM`` over the account's transfers, credits less debits. For an active member, the quiet
member, a workplace's labour fund and the federation's common fund, with the plan PostgreSQL
chose for the latest-transfer query. Then that query alone, as the store asks it (each side's
newest on its index ``(debit_id, id)`` or ``(credit_id, id)``, merged) and as one ``OR`` over
both sides, which walks the primary key back to a quiet account's latest transfer.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing as mp
import os
import pstats
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import psycopg.rows
import sqlalchemy as sa
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table

import councilplan
from councilplan.councils import service as s
from councilplan.councils.service import ledger as ledger_service
from councilplan.councils.service.ledger import FEDERATION_KINDS
from councilplan.store import open_store
from councilplan.store.postgres import LedgerPoster, PgRecords

# The demo town and its adopted plan: the tests' set-up, one copy of it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from planning_setup import DAY, T0, Town, adopted_plan, demo_town  # noqa: E402

ADMITTED = T0 + 24 * DAY  # the plan is adopted at T0 + 23 days; new members ask the next day
DRAWN = "bread"  # about 74 h a tonne in the demo plan
DRAW_QUANTITY = "0.001"  # a kilogram: 0.07 h
GOALS = {"transfers_per_s": 2000, "read_ms": 5}


# ---------------------------------------------------------------------------------------------
# Set-up.


def fresh_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A new schema on ``url``'s database: a URL that uses it, and a function that drops it."""
    schema = f"cp_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def admit_members(store, town: Town, count: int) -> tuple[dict[str, list[int]], datetime]:
    """``count`` new accounts admitted to the bakery and the clinic in turn, each workplace's
    founder opening one admission ballot for its applicants and voting yes. Returns the new
    members by workplace and the moment they are members."""
    at = ADMITTED
    made = {"bakery": [], "clinic": []}
    for i in range(count):
        made[("bakery", "clinic")[i % 2]].append(
            s.register_account(
                store, username=f"worker{i}", display_name="W", password_hash="h:x", now=at
            )
        )
    closes = at
    for key, ids in made.items():
        council = s.get_council(store, town.councils[key])
        founder = town.accounts[FOUNDERS[key]]
        asked = [s.join_council(store, council_id=council.id, account_id=a, now=at).id for a in ids]
        closes = at + timedelta(days=council.min_ballot_days)
        ballot = s.open_admission(
            store,
            council_id=council.id,
            opened_by=founder,
            application_ids=asked,
            closes_at=closes,
            now=at,
        )
        s.cast_vote(store, ballot_id=ballot.id, voter_id=founder, choice="yes", now=at)
        s.close_ballot(store, ballot_id=ballot.id, now=closes)
    return made, closes + DAY


#: Who records hours in each workplace: its founder (tests/planning_setup's demo town).
FOUNDERS = {"bakery": "ada", "clinic": "eve"}


def make_history(
    store, town: Town, members: dict[str, list[int]], quiet: int, transfers: int, sheet: int, now
) -> dict:
    """``transfers`` transfers of recorded hours, sheets of ``sheet`` rows by
    ``record_hours_batch``, bakery and clinic in turn; the quiet member in the first sheet
    only. Returns rows, sheets and seconds."""
    rows_left = transfers // 2
    turn = {key: 0 for key in members}
    sheets = 0
    start = time.perf_counter()
    while rows_left > 0:
        key = ("bakery", "clinic")[sheets % 2]
        ids = members[key]
        rows = min(sheet, rows_left)
        entries = []
        for _ in range(rows):
            entries.append({"member_id": ids[turn[key] % len(ids)], "hours": "7.5"})
            turn[key] += 1
        if sheets == 0:
            entries[0] = {"member_id": quiet, "hours": "7.5"}
        s.record_hours_batch(
            store,
            workplace_id=town.councils[key],
            entries=entries,
            actor_id=town.accounts[FOUNDERS[key]],
            now=now,
        )
        rows_left -= rows
        sheets += 1
        if sheets % 50 == 0:
            done = transfers // 2 - rows_left
            print(
                f"  history: {2 * done:,} transfers in {time.perf_counter() - start:,.0f} s",
                flush=True,
            )
    return {"rows": transfers // 2, "sheets": sheets, "seconds": time.perf_counter() - start}


def copied_history(store, members: dict[str, list[int]], workplace: dict, transfers: int) -> dict:
    """``transfers`` transfers more, written by COPY behind the acts' back (a faster path, for
    when the acts would take too long): recordings of hours alternating bakery and clinic, each
    a copy of that workplace's latest recording made by :func:`make_history` (amounts, ref,
    recorder, moment, period) for the next of its members in turn, as the sheets go; the
    balances they change updated in the same transaction, so balances and transfers agree. The
    audit record does not cover these rows: ``verify_record`` would name them."""
    rows, start = transfers // 2, time.perf_counter()
    with store.engine.begin() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor(row_factory=psycopg.rows.dict_row)
        ledger_id = {
            r["owner"]: r["id"]
            for r in cursor.execute("SELECT id, owner FROM ledger_accounts WHERE kind = 'member'")
        }
        made = {}
        for key, council in workplace.items():
            (hours,) = cursor.execute(
                "SELECT t.* FROM transfers t JOIN ledger_accounts a ON a.id = t.debit_id "
                "WHERE a.key = %s AND t.kind = 'hours' ORDER BY t.id DESC LIMIT 1",
                (f"labour_fund:{council}",),
            ).fetchall()
            (levy,) = cursor.execute(
                "SELECT * FROM transfers WHERE tid = %s",
                (hours["tid"].rsplit(":", 1)[0] + ":levy",),
            ).fetchall()
            made[key] = (hours, levy, [ledger_id[str(m)] for m in members[key]])
        change: dict[int, int] = {}
        columns = "tid, debit_id, credit_id, amount, kind, reason, ref, made_by, made_at, period_id"
        with raw.cursor().copy(f"COPY transfers ({columns}) FROM STDIN") as copy:
            for k in range(rows):
                hours, levy, ids = made[("bakery", "clinic")[k % 2]]
                member = ids[(k // 2) % len(ids)]
                for t, credit in ((hours, member), (levy, levy["credit_id"])):
                    copy.write_row(
                        (f"copied-{k}:{t['kind']}", t["debit_id"], credit, t["amount"], t["kind"],
                         t["reason"], Jsonb(t["ref"]), t["made_by"], t["made_at"], t["period_id"])
                    )  # fmt: skip
                    change[t["debit_id"]] = change.get(t["debit_id"], 0) - t["amount"]
                    change[credit] = change.get(credit, 0) + t["amount"]
        cursor.executemany(
            "UPDATE ledger_accounts SET balance = balance + %s WHERE id = %s",
            [(units, account) for account, units in change.items()],
        )
    return {"rows": rows, "seconds": time.perf_counter() - start}


def settle(url: str) -> None:
    """VACUUM ANALYZE the ledger's and the record's tables and CHECKPOINT: after writing the
    history, so that autovacuum and the checkpointer do not do it during the timed runs. The
    history leaves a dead row in audit_pending for every event it chained, and until they are
    vacuumed every chaining reads them all (15 ms each after 50,000)."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE transfers, ledger_accounts, audit_log, audit_pending")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("  (no CHECKPOINT: the role may not; the runs may meet the checkpointer)")


# ---------------------------------------------------------------------------------------------
# Timing an act in parts: wrappers that only take timestamps.

_act = threading.local()
PARTS = ("lock_wait", "held", "chain")
#: Batches the process's LedgerPoster posted, and the acts in them (the one-step path).
BATCHES = {"batches": 0, "acts": 0}
#: The federation's accounts' keys: every act locks one of them, the last (``_lock_order``).
FEDERATION_PREFIXES = tuple(f"{kind.value}:" for kind in FEDERATION_KINDS)


def install_timers(store) -> None:
    """Wrap the locking reads of ``post``, an act's COMMIT and its wait for the audit chainer,
    so that an act timed by :func:`timed` notes when its federation account's lock was granted,
    how long its locking SELECTs took, when its COMMIT returned and how long it waited to be
    chained."""
    if not getattr(PgRecords, "_bench_timed", False):
        ledger_account, commit_pg = PgRecords.ledger_account, PgRecords.commit_pg

        def timed_ledger_account(self, key, *, lock=None):
            parts = getattr(_act, "parts", None)
            if lock != "update" or parts is None:
                return ledger_account(self, key, lock=lock)
            t = time.perf_counter()
            row = ledger_account(self, key, lock=lock)
            done = time.perf_counter()
            parts["lock_wait"] += done - t
            if key.startswith(FEDERATION_PREFIXES):
                parts.setdefault("locked_at", done)
            return row

        def timed_commit(self):
            events = commit_pg(self)
            parts = getattr(_act, "parts", None)
            if parts is not None:
                parts["committed_at"] = time.perf_counter()
            return events

        PgRecords.ledger_account = timed_ledger_account
        PgRecords.commit_pg = timed_commit
        PgRecords._bench_timed = True
    if not getattr(LedgerPoster, "_bench_counted", False):
        posted = LedgerPoster._posted

        def counted(self, raw, batch):
            BATCHES["batches"] += 1
            BATCHES["acts"] += len(batch)
            return posted(self, raw, batch)

        LedgerPoster._posted = counted
        LedgerPoster._bench_counted = True
    chained = store._chainer.chained

    def timed_chained(event_ids, timeout=60):
        t = time.perf_counter()
        try:
            return chained(event_ids, timeout)
        finally:
            parts = getattr(_act, "parts", None)
            if parts is not None:
                parts["chain"] += time.perf_counter() - t

    store._chainer.chained = timed_chained


def timed(act: Callable[[], object]) -> tuple[float, dict, object]:
    """Run ``act``: its latency (s), its parts (s), and what it returned."""
    _act.parts = parts = {"lock_wait": 0.0, "chain": 0.0}
    t = time.perf_counter()
    try:
        result = act()
    finally:
        _act.parts = None
    latency = time.perf_counter() - t
    held = parts.get("committed_at", t) - parts.get("locked_at", t)
    return latency, {"lock_wait": parts["lock_wait"], "held": held, "chain": parts["chain"]}, result


# ---------------------------------------------------------------------------------------------
# The write runs: clients in threads of one process, or in several processes.


def client_act(store, job: dict, kind: str, mode: str, client: int) -> Callable[[int], Callable]:
    """The ``i``-th act of client ``client``: a recording of hours for, or a draw by, one of its
    own members ("spread") or the hot member ("hot"). Members are (workplace, actor, member)."""
    mine = [job["hot"]] if mode == "hot" else job["clients"][client]
    at = job["now"]

    def act(i: int) -> Callable:
        workplace, actor, member = mine[i % len(mine)]
        if kind == "hours":
            return lambda: s.record_hours(
                store, workplace_id=workplace, member_id=member, hours="7.5", actor_id=actor, now=at
            )
        return lambda: s.draw_goods(
            store, member_id=member, product=DRAWN, quantity=DRAW_QUANTITY, now=at
        )

    return act


def run_clients(store, job: dict, kind: str, mode: str, clients: list[int], start) -> dict:
    """Each of ``clients`` in a thread of its own: one act untimed (connections, caches), then,
    once ``start`` (a barrier, shared with the parent in process mode) lets all go, acts
    back to back for ``job["duration"]`` seconds. Returns the latencies and parts (s), the
    transfers made, failures, the monotonic window, and this process's CPU seconds in it."""
    out = {"lat": [], **{p: [] for p in PARTS}, "transfers": 0, "failed": []}
    ledger_service.ONE_STEP = job["one_step"]
    ready, go = threading.Barrier(len(clients) + 1), threading.Event()
    lock = threading.Lock()
    window = {"end": 0.0}

    def client(c: int) -> None:
        act = client_act(store, job, kind, mode, c)
        mine = {"lat": [], **{p: [] for p in PARTS}, "transfers": 0, "failed": []}
        i = c * 7919  # clients of one member start at different members
        try:
            act(i)()
        finally:
            ready.wait()
        go.wait()
        deadline = window["start"] + job["duration"]
        while time.monotonic() < deadline:
            i += 1
            try:
                latency, parts, result = timed(act(i))
            except Exception as error:  # noqa: BLE001 - counted and shown in the table
                mine["failed"].append(f"{type(error).__name__}: {error}"[:300])
                continue
            mine["lat"].append(latency)
            for part in PARTS:
                mine[part].append(parts[part])
            mine["transfers"] += len(result.transfers)
        with lock:
            for key in ("lat", *PARTS, "failed"):
                out[key].extend(mine[key])
            out["transfers"] += mine["transfers"]
            window["end"] = max(window["end"], time.monotonic())

    threads = [threading.Thread(target=client, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    ready.wait()
    start.wait()
    window["start"], cpu = time.monotonic(), time.process_time()
    batches = dict(BATCHES)
    go.set()
    for t in threads:
        t.join()
    out["cpu"] = time.process_time() - cpu
    out["batches"] = {k: BATCHES[k] - batches[k] for k in BATCHES}
    ledger_service.ONE_STEP = True
    out["window"] = (window["start"], window["end"])
    return out


def worker(url: str, job: dict, kind: str, mode: str, clients: list[int], start, results) -> None:
    """A worker process: a store of its own, its ``clients`` in threads, results on
    ``results``."""
    store = open_store(url, upgrade=False, pool_size=len(clients) + 1)
    install_timers(store)
    try:
        results.put(run_clients(store, job, kind, mode, clients, start))
    except BaseException as error:
        results.put({"error": f"{type(error).__name__}: {error}"})
        raise
    finally:
        store.dispose()


class _Started:
    """The start of a run in threads: notes the CPU used so far when the clients are let go."""

    def wait(self) -> None:
        self.cpu = cpu_now()


def cpu_now() -> dict:
    """CPU seconds used so far by every ``postgres`` process, ended backends included (the
    postmaster is credited with its children's CPU when they end), and by the whole machine,
    with the moment (monotonic)."""
    postgres = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] == "postgres" and (t := p.info["cpu_times"]) is not None:
            postgres += t.user + t.system + t.children_user + t.children_system
    total = psutil.cpu_times()
    busy = total.user + total.system + total.nice + total.irq + total.softirq
    return {"postgres": postgres, "busy": busy, "at": time.monotonic()}


def write_run(
    store, url: str, job: dict, kind: str, mode: str, clients: int, processes: int, one_step: bool
):
    """One run of ``clients`` clients, in this process's threads (``processes`` 0) or spread
    over ``processes`` worker processes, by the service's one step or its general path only; a
    summary for the table."""
    job = {**job, "one_step": one_step}
    if processes == 0:
        started = _Started()
        outs = [run_clients(store, job, kind, mode, list(range(clients)), started)]
        before, after = started.cpu, cpu_now()
    else:
        ctx = mp.get_context("spawn")
        start, results = ctx.Barrier(processes + 1), ctx.Queue()
        share = [list(range(clients))[p::processes] for p in range(processes)]
        procs = [
            ctx.Process(target=worker, args=(url, job, kind, mode, mine, start, results))
            for mine in share
        ]
        for proc in procs:
            proc.start()
        start.wait()
        before = cpu_now()
        outs = [results.get(timeout=job["duration"] + 600) for _ in procs]
        after = cpu_now()
        for proc in procs:
            proc.join(timeout=60)
        errors = [o["error"] for o in outs if "error" in o]
        if errors:
            raise SystemExit(f"a worker process failed: {errors[0]}")
    pg, python = after["postgres"] - before["postgres"], sum(o["cpu"] for o in outs)
    others = after["busy"] - before["busy"] - pg - python
    lat = sorted(x for o in outs for x in o["lat"])
    seconds = max(o["window"][1] for o in outs) - min(o["window"][0] for o in outs)
    acts = len(lat)
    mean = {p: sum(x for o in outs for x in o[p]) / max(1, acts) for p in PARTS}
    batches = sum(o["batches"]["batches"] for o in outs)
    return {
        "kind": kind,
        "mode": mode,
        "one_step": one_step,
        "per_batch": sum(o["batches"]["acts"] for o in outs) / batches if batches else None,
        "clients": clients,
        "processes": processes,
        "acts": acts,
        "seconds": seconds,
        "acts_per_s": acts / seconds,
        "transfers_per_s": sum(o["transfers"] for o in outs) / seconds,
        "p50_ms": 1000 * quantile(lat, 0.5),
        "p99_ms": 1000 * quantile(lat, 0.99),
        **{f"{p}_ms": 1000 * mean[p] for p in PARTS},
        "python_ms": 1000 * python / max(1, acts),
        "postgres_ms": 1000 * pg / max(1, acts),
        "others_cores": others / (after["at"] - before["at"]),
        "failed": [f for o in outs for f in o["failed"]],
    }


def quantile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``sorted_values`` (nan when empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# ---------------------------------------------------------------------------------------------
# The floor: one row updated and committed, without the service.


def commit_floor(url: str, clients: int, seconds: float) -> list[dict]:
    """What PostgreSQL alone allows: ``UPDATE one row; COMMIT`` in a loop (psycopg, autocommit)
    by 1 client, by ``clients`` clients on one row (each waits for the row lock, which the one
    before holds until its COMMIT is flushed), and by ``clients`` clients on a row each (their
    commits flushed together). A table of this run's own in the benchmark's schema."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_rows (id integer PRIMARY KEY, n bigint NOT NULL)")
        conn.execute("INSERT INTO bench_rows SELECT i, 0 FROM generate_series(0, %s) i", (clients,))
    runs = (
        ("1 client", 1, 1),
        (f"{clients} clients, one row", clients, 1),
        (f"{clients} clients, a row each", clients, clients),
    )
    return [{"label": label, "per_s": _commits(dsn, n, rows, seconds)} for label, n, rows in runs]


def _commits(dsn: str, clients: int, rows: int, seconds: float) -> float:
    """Commits/s of ``clients`` threads each updating row ``i % rows`` in a loop."""
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
    counts, go = [0] * clients, threading.Event()

    def loop(i: int) -> None:
        go.wait()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            conns[i].execute("UPDATE bench_rows SET n = n + 1 WHERE id = %s", (i % rows,))
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join()
    for conn in conns:
        conn.close()
    return sum(counts) / seconds


# ---------------------------------------------------------------------------------------------
# Reading a balance.

#: What ``SqlRecords.transfers_of(limit=1)`` asks, for EXPLAIN.
LATEST = "SELECT * FROM transfers WHERE debit_id = %s OR credit_id = %s ORDER BY id DESC LIMIT 1"
#: The baseline: the balance re-summed over the account's transfers, credits less debits.
RESUM = (
    "SELECT COALESCE(SUM(CASE WHEN credit_id = %s THEN amount ELSE -amount END), 0) "
    "FROM transfers WHERE credit_id = %s OR debit_id = %s"
)


def time_reads(read: Callable[[], object], times: int, budget_s: float) -> dict:
    """``read`` ``times`` times (fewer once ``budget_s`` seconds are spent): p50, p99 (ms)."""
    read()  # warm: the pool's connection, the statement's plan
    lat = []
    spent = time.perf_counter()
    for _ in range(times):
        t = time.perf_counter()
        read()
        lat.append(time.perf_counter() - t)
        if time.perf_counter() - spent > budget_s:
            break
    lat.sort()
    return {
        "n": len(lat),
        "p50_ms": 1000 * quantile(lat, 0.5),
        "p99_ms": 1000 * quantile(lat, 0.99),
    }


def scan_of(store, account_id: int, sql: str = LATEST) -> str:
    """The scans PostgreSQL chose for ``sql`` (an account's latest transfer), each with the
    rows it read (returned and filtered out)."""
    with store.reading() as tx:
        (plan,) = tx.connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, (account_id, account_id)
        ).scalar_one()
    scans, nodes = [], [plan["Plan"]]
    while nodes:
        node = nodes.pop(0)
        nodes.extend(node.get("Plans", ()))
        if "Relation Name" in node or "Index Name" in node:
            read = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            index = f" {node['Index Name']}" if "Index Name" in node else ""
            scans.append(f"{node['Node Type']}{index}: {read:,} rows read")
    return "; ".join(scans)


def read_balances(store, accounts: list[tuple[str, str, Callable[[], object]]], times: int):
    """For each (label, key, the service's read) the three reads, timed; rows for the table."""
    rows = []
    for label, key, service_read in accounts:
        with store.reading() as tx:
            row = tx.ledger_account(key)
            ledger_id, balance = row["id"], row["balance"]
            count = tx.connection.exec_driver_sql(
                "SELECT count(*) FROM transfers WHERE debit_id = %s OR credit_id = %s",
                (ledger_id, ledger_id),
            ).scalar_one()

        def bare(key=key):
            with store.reading() as tx:
                return tx.ledger_account(key)["balance"]

        def resum(ledger_id=ledger_id):
            with store.reading() as tx:
                return tx.connection.exec_driver_sql(
                    RESUM, (ledger_id, ledger_id, ledger_id)
                ).scalar_one()

        if resum() != balance:
            raise SystemExit(f"{key}: balance {balance} but its transfers sum to {resum()}")
        rows.append(
            {
                "label": label,
                "key": key,
                "transfers": count,
                "service": time_reads(service_read, times, 20),
                "bare": time_reads(bare, times, 20),
                "resum": time_reads(resum, times, 20),
                "scan": scan_of(store, ledger_id, LATEST_BY_SIDE),
            }
        )
    return rows


#: The latest transfer by two indexes that end in id, one for each side of a transfer: each
#: scan stops at its first row, however old the account's latest transfer is.
LATEST_BY_SIDE = (
    "(SELECT * FROM transfers WHERE debit_id = %s ORDER BY id DESC LIMIT 1) UNION ALL "
    "(SELECT * FROM transfers WHERE credit_id = %s ORDER BY id DESC LIMIT 1) "
    "ORDER BY id DESC LIMIT 1"
)


def latest_alone(store, accounts: list[tuple[str, str]], times: int) -> list[dict]:
    """The latest-transfer query alone, for each (label, key): one OR over both sides
    (:data:`LATEST`) and by side (:data:`LATEST_BY_SIDE`, as the store asks it), on the
    indexes (debit_id, id) and (credit_id, id)."""

    def timer(sql: str, ledger_id: int) -> Callable[[], object]:
        def read():
            with store.reading() as tx:
                return tx.connection.exec_driver_sql(sql, (ledger_id, ledger_id)).first()

        return read

    ids = []
    with store.reading() as tx:
        for label, key in accounts:
            ids.append((label, tx.ledger_account(key)["id"]))
    return [
        {
            "label": label,
            "or": time_reads(timer(LATEST, i), times, 20),
            "by_side": time_reads(timer(LATEST_BY_SIDE, i), times, 20),
            "scans": (scan_of(store, i, LATEST), scan_of(store, i, LATEST_BY_SIDE)),
        }
        for label, i in ids
    ]


def consistency(store) -> dict:
    """Every balance against the sum of its transfers, and the sum over all accounts."""
    with store.engine.connect() as conn:
        wrong = conn.exec_driver_sql(
            "SELECT count(*) FROM ledger_accounts a "
            "LEFT JOIN (SELECT credit_id, SUM(amount) s FROM transfers GROUP BY credit_id) c "
            "ON c.credit_id = a.id "
            "LEFT JOIN (SELECT debit_id, SUM(amount) s FROM transfers GROUP BY debit_id) d "
            "ON d.debit_id = a.id "
            "WHERE a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)"
        ).scalar_one()
        total = conn.exec_driver_sql("SELECT SUM(balance) FROM ledger_accounts").scalar_one()
        transfers = conn.exec_driver_sql("SELECT count(*) FROM transfers").scalar_one()
        events = conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar_one()
        size = conn.exec_driver_sql(
            "SELECT pg_total_relation_size('transfers'), pg_total_relation_size('audit_log')"
        ).one()
    return {
        "wrong": wrong,
        "total": total,
        "transfers": transfers,
        "events": events,
        "transfers_mb": size[0] / 2**20,
        "audit_mb": size[1] / 2**20,
    }


# ---------------------------------------------------------------------------------------------
# Profile: where one client's time goes in Python.


def profile(store, job: dict, acts: int) -> str:
    """cProfile over ``acts`` recordings of hours and as many draws by one client: the
    functions with the most time of their own."""
    hours, draw = (client_act(store, job, kind, "spread", 0) for kind in ("hours", "draws"))
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(acts):
        hours(i)()
        draw(i)()
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime")
    stats.print_stats(18)
    return text.getvalue()


# ---------------------------------------------------------------------------------------------
# Main.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COUNCILPLAN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--members", type=int, default=4, help="members of each client")
    parser.add_argument("--processes", type=int, default=10, help="worker processes")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each run")
    parser.add_argument("--history", type=int, default=1_000_000, help="transfers before")
    parser.add_argument(
        "--by-acts",
        type=int,
        default=100_000,
        help="transfers of the history made by the acts' sheets; the rest by COPY",
    )
    parser.add_argument("--sheet", type=int, default=1000, help="rows in a history sheet")
    parser.add_argument("--reads", type=int, default=500, help="reads of each kind")
    parser.add_argument("--profile", action="store_true", help="cProfile one client's acts")
    parser.add_argument("--verify", action="store_true", help="verify_record at the end")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.history, args.duration, args.reads = 20_000, 3, 100
    # Written to a file or a pipe, Rich assumes 80 columns and folds the tables' columns.
    console = Console() if sys.stdout.isatty() else Console(width=170)

    url, drop = fresh_schema(args.database_url)
    # Stopped by SIGTERM, still drop the schema (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    store = open_store(url, pool_size=args.clients // 2 + 1)
    try:
        t = time.perf_counter()
        town = demo_town(store)
        period = adopted_plan(store, town)
        made, now = admit_members(store, town, args.clients * args.members + 2)
        quiet, hot = made["bakery"].pop(), made["bakery"].pop()
        workplace = {key: town.councils[key] for key in made}
        actor = {key: town.accounts[FOUNDERS[key]] for key in made}
        flat = [
            (workplace[key], actor[key], m)
            for pair in zip(made["bakery"], made["clinic"], strict=False)
            for key, m in zip(("bakery", "clinic"), pair, strict=True)
        ]
        job = {
            "clients": [
                flat[c * args.members : (c + 1) * args.members] for c in range(args.clients)
            ],
            "hot": (workplace["bakery"], actor["bakery"], hot),
            "now": now,
            "duration": args.duration,
        }
        # Enough on every account for the draws, whatever the history's size.
        for key, ids in made.items():
            s.record_hours_batch(
                store,
                workplace_id=workplace[key],
                entries=[{"member_id": m, "hours": "1000"} for m in ids]
                + ([{"member_id": hot, "hours": "1000000"}] if key == "bakery" else []),
                actor_id=actor[key],
                now=now,
            )
        setup_s = time.perf_counter() - t
        print(f"set-up: {setup_s:.0f} s; history of {args.history:,} transfers ...", flush=True)
        by_acts = min(args.history, args.by_acts)
        history_members = {k: v + ([hot] if k == "bakery" else []) for k, v in made.items()}
        history = make_history(store, town, history_members, quiet, by_acts, args.sheet, now)
        copied = {"rows": 0, "seconds": 0.0}
        if args.history > by_acts:
            print(f"copying {args.history - by_acts:,} transfers ...", flush=True)
            copied = copied_history(store, history_members, workplace, args.history - by_acts)
        history["copied"] = copied
        settle(url)

        install_timers(store)
        runs = []
        plan = []
        for kind in ("hours", "draws"):
            plan.append((kind, "spread", 1, 0, True))
            for processes in (0, args.processes):
                for mode in ("spread", "hot"):
                    plan.append((kind, mode, args.clients, processes, True))
            # The general path alone, for what the one step buys.
            plan.append((kind, "spread", 1, 0, False))
            for processes in (0, args.processes):
                plan.append((kind, "spread", args.clients, processes, False))
        for kind, mode, clients, processes, one_step in plan:
            if processes:
                store.engine.dispose()  # the workers need the connections
            where = f"{processes} processes" if processes else "threads"
            path = "one step" if one_step else "general path"
            print(f"run: {kind}, {path}, {mode}, {clients} clients in {where} ...", flush=True)
            runs.append(write_run(store, url, job, kind, mode, clients, processes, one_step))

        print("floor: one row updated and committed ...", flush=True)
        floor = commit_floor(url, args.clients, min(args.duration, 5))
        if args.profile:
            profiled = profile(store, job, 200)

        with store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would have, by now
        active = job["clients"][0][0][2]
        viewer = town.accounts["ada"]
        common = f"common_fund:{town.federation}"
        labour = f"labour_fund:{workplace['bakery']}"
        reads = read_balances(
            store,
            [
                ("active member", f"member:{active}",
                 lambda: s.my_ledger(store, account_id=active, limit=1)),
                ("quiet member (one transfer, the oldest)", f"member:{quiet}",
                 lambda: s.my_ledger(store, account_id=quiet, limit=1)),
                ("bakery's labour fund", labour,
                 lambda: s.ledger_account(store, key=labour, viewer_id=viewer, limit=1)),
                ("federation's common fund", common,
                 lambda: s.ledger_account(store, key=common, viewer_id=viewer, limit=1)),
            ],
            args.reads,
        )  # fmt: skip
        indexed = latest_alone(store, [(r["label"], r["key"]) for r in reads], args.reads)
        checked = consistency(store)
        verified = None
        if args.verify:
            t = time.perf_counter()
            verified = (store.verify_record().ok, time.perf_counter() - t)
    finally:
        store.dispose()
        drop()

    print_tables(
        console, args, runs, floor, reads, indexed, checked, history, setup_s, verified, period
    )
    if args.profile:
        console.print("cProfile, one client, 200 recordings of hours and 200 draws:")
        console.print(profiled, markup=False, highlight=False)


def print_tables(
    console, args, runs, floor, reads, indexed, checked, history, setup_s, verified, period
) -> None:
    writes = Table(
        title=f"Acts on the accounts: closed loop, {args.duration:g} s a run, "
        f"{checked['transfers']:,} transfers on record at the end",
        caption_justify="left",
        caption="hours: record_hours, 2 transfers an act (hours, levy); draws: draw_goods, 1. "
        "path: one step (the service on PostgreSQL: one call of councilplan_ledger_post for a "
        "batch of the process's acts) or the general path alone (ledger.ONE_STEP off). "
        f"spread: each client its own {args.members} members; hot: all on one member. Times in "
        "ms. a batch: acts a batch, mean (one step). General path, means: lock wait: post's "
        "locking SELECTs; held: the federation account's lock granted to COMMIT returned "
        "(every act holds the federation's common fund or goods account that long, so at most "
        "1000/held acts/s pass); chain: waiting for the audit chainer after COMMIT. CPU per act "
        "(ms): this process and its workers (Python), every "
        "postgres process (other sessions' too). others: cores the rest of the machine used "
        "meanwhile (another job running: the run is disturbed). goal: transfers/s.",
    )
    for col in (
        "act", "path", "clients in", "n", "acts", "acts/s", "transfers/s", "p50", "p99",
        "a batch", "lock wait", "held", "1000/held", "chain", "CPU Python / PG", "others",
        "failed", "goal",
    ):  # fmt: skip
        writes.add_column(col, justify="left" if col in ("act", "path", "clients in") else "right")
    for r in runs:
        where = f"{r['processes']} processes" if r["processes"] else "threads"
        general = not r["one_step"]
        writes.add_row(
            r["kind"],
            "one step" if r["one_step"] else "general",
            f"{r['mode']}, {where}",
            str(r["clients"]),
            f"{r['acts']:,}",
            f"{r['acts_per_s']:,.0f}",
            f"{r['transfers_per_s']:,.0f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:,.1f}",
            f"{r['per_batch']:.1f}" if r["per_batch"] is not None else "",
            f"{r['lock_wait_ms']:,.1f}" if general else "",
            f"{r['held_ms']:.2f}" if general else "",
            f"{1000 / r['held_ms']:,.0f}" if general and r["held_ms"] > 0 else "",
            f"{r['chain_ms']:.2f}" if general else "",
            f"{r['python_ms']:.1f} / {r['postgres_ms']:.1f}",
            f"{r['others_cores']:.2f}",
            str(len(r["failed"])),
            f">= {GOALS['transfers_per_s']:,}/s" if r["clients"] >= 50 else "",
        )
    console.print(writes)
    for r in runs:
        for failure in sorted(set(r["failed"]))[:3]:
            path = "one step" if r["one_step"] else "general"
            console.print(f"  {r['kind']} {path} {r['mode']}: {failure}", markup=False)
    console.print(
        "PostgreSQL alone, UPDATE of one row and COMMIT, autocommit, no service: "
        + "; ".join(f"{f['label']}: {f['per_s']:,.0f} commits/s" for f in floor)
    )

    table = Table(
        title=f"Reading a balance, {checked['transfers']:,} transfers on record, one client "
        f"(p50 / p99 ms over up to {args.reads} reads each)",
        caption_justify="left",
        caption="service: my_ledger(limit=1) for a member, ledger_account(limit=1) for a fund "
        "(balance and latest transfer); balance row: the maintained balance, by key; re-sum: "
        "SUM over the account's transfers (the baseline). scan: PostgreSQL's plan for the "
        "latest transfer, as the store asks it (each side's newest, merged).",
    )
    for col in ("account", "its transfers", "service", "balance row", "re-sum", "goal", "scan"):
        table.add_column(col, justify="left" if col in ("account", "scan") else "right")

    def ms(x: dict) -> str:
        return f"{x['p50_ms']:.2f} / {x['p99_ms']:.2f}" + ("" if x["n"] >= args.reads else
                                                          f" ({x['n']})")  # fmt: skip

    for r in reads:
        table.add_row(
            r["label"],
            f"{r['transfers']:,}",
            ms(r["service"]),
            ms(r["bare"]),
            ms(r["resum"]),
            f"< {GOALS['read_ms']} ms",
            r["scan"],
        )
    console.print(table)
    table = Table(
        title="The latest transfer alone (SQL, p50 / p99 ms), on the indexes (debit_id, id) "
        "and (credit_id, id)",
        caption_justify="left",
        caption="OR: WHERE debit_id = x OR credit_id = x ORDER BY id DESC LIMIT 1, one scan for "
        "both sides; by side (the store's query): the newest of each side's newest, UNION ALL "
        "of two LIMIT 1 scans.",
    )
    for col in ("account", "OR", "by side"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for r in indexed:
        table.add_row(r["label"], ms(r["or"]), ms(r["by_side"]))
    console.print(table)
    for r in indexed:
        console.print(f"  {r['label']}: OR: {r['scans'][0]}; by side: {r['scans'][1]}")
    copied = history["copied"]
    console.print(
        f"set-up through the acts: {setup_s:.0f} s (demo town, plan of period {period.id} "
        f"adopted, {args.clients * args.members + 2} members admitted); history by the acts: "
        f"{history['rows']:,} recordings of hours ({2 * history['rows']:,} transfers) in "
        f"{history['sheets']:,} sheets of up to {args.sheet:,} rows (record_hours_batch), "
        f"{history['seconds']:,.0f} s, {2 * history['rows'] / max(history['seconds'], 1e-9):,.0f}"
        " transfers/s"
        + (
            f"; by COPY behind the acts' back: {2 * copied['rows']:,} transfers in "
            f"{copied['seconds']:,.0f} s (balances updated with them; the audit record does "
            "not cover them)"
            if copied["rows"]
            else ""
        )
    )
    console.print(
        f"consistency: {checked['wrong']} balances differ from the sum of their transfers; "
        f"all balances sum to {checked['total']}; {checked['events']:,} audit entries; "
        f"transfers {checked['transfers_mb']:,.0f} MiB, audit_log {checked['audit_mb']:,.0f} MiB"
        + (
            ""
            if args.verify is False
            else f"; verify_record: {'ok' if verified[0] else 'FAILED'} in {verified[1]:.0f} s"
            + (" (the copied rows are not on the record)" if copied["rows"] else "")
        )
    )
    console.print(
        f"code measured: {Path(councilplan.__file__).parent}; machine: {os.cpu_count()} cores, "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
