"""The councils service under load: votes cast per second over HTTP with 50 concurrent clients,
and the time to tally 100,000 ranked ballots, against the goals (>= 1,000 votes/s with p99
< 50 ms; tally < 1 s), on PostgreSQL, with SQLite (the embedded default) alongside.

    python benchmarks/service.py                       # COUNCILPLAN_TEST_DATABASE_URL or local
    python benchmarks/service.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python benchmarks/service.py --quick               # fewer votes and ballots

Each run makes a fresh PostgreSQL schema (dropped afterwards) or a temporary SQLite file,
starts ``uvicorn councilplan.web.main:app`` on 127.0.0.1 only, and drives it with a bounded
loop of httpx clients: every client is a member with a bearer token casting one secret
yes/no vote on each of the ballots (so every request is a real, accepted vote: participation
row, vote row, audit entry, one transaction). The tally is timed three ways: ``count`` alone
on ballots in memory, ``recount`` (load the stored votes and count), and ``close_ballot``
(move the secret votes into the ballot box, count, store the tally, append the audit entry).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from councilplan.councils import counting
from councilplan.councils import service as s
from councilplan.store.repository import open_store
from councilplan.web import auth

OPTIONS = [f"option-{i}" for i in range(10)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(store, clients: int, ballots: int) -> tuple[list[int], list[str]]:
    """A council with ``clients`` members (one token each) and ``ballots`` open ballots."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    hashed = auth.hash_password("benchmark password")
    ids = [
        s.register_account(
            store, username=f"bench{i}", display_name="B", password_hash=hashed, now=now
        )
        for i in range(clients)
    ]
    council = s.create_council(
        store, name="Bench works", kind="workplace", founder_id=ids[0], now=now
    )
    for a in ids[1:]:
        s.join_council(store, council_id=council.id, account_id=a, now=now)
    ballot_ids = [
        s.open_ballot(
            store,
            council_id=council.id,
            opened_by=ids[0],
            title=f"Q{i}",
            rule="yes_no",
            secret=True,
            closes_at=now + timedelta(days=1),
            now=now,
        ).id
        for i in range(ballots)
    ]
    tokens = [
        auth.login(store, f"bench{i}", "benchmark password", kind="bearer")[1]
        for i in range(clients)
    ]
    return ballot_ids, tokens


async def drive(port: int, ballot_ids: list[int], tokens: list[str]) -> tuple[float, list, int]:
    """Every client votes once on every ballot; returns (seconds, latencies, accepted).

    The load comes from aiohttp (its client costs a fraction of httpx's CPU per request; on a
    2-core machine the client's CPU is CPU the server does not get)."""
    latencies: list[float] = []
    accepted = 0
    base = f"http://127.0.0.1:{port}"

    async def client(http: aiohttp.ClientSession, token: str) -> None:
        nonlocal accepted
        headers = {"Authorization": f"Bearer {token}"}
        order = list(ballot_ids)
        random.shuffle(order)
        for ballot_id in order:  # bounded: one vote per ballot
            t = time.perf_counter()
            async with http.post(
                f"{base}/api/ballots/{ballot_id}/votes", json={"choice": "yes"}, headers=headers
            ) as r:
                await r.read()
            latencies.append(time.perf_counter() - t)
            accepted += r.status == 201

    connector = aiohttp.TCPConnector(limit=len(tokens), keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def me(token: str) -> None:
            async with http.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}):
                pass

        # Warm up (not timed): open the HTTP connections and the servers' database pools.
        for _ in range(3):
            await asyncio.gather(*(me(tok) for tok in tokens))
        start = time.perf_counter()
        await asyncio.gather(*(client(http, tok) for tok in tokens))
        return time.perf_counter() - start, latencies, accepted


def wait_for(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("uvicorn did not start within a minute")


def votes_per_second(url: str, clients: int, ballots: int, workers: int) -> dict:
    store = open_store(url)
    ballot_ids, tokens = prepare(store, clients, ballots)
    port = free_port()
    env = dict(os.environ, COUNCILPLAN_DATABASE_URL=url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "councilplan.web.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",  # clients may wait seconds under load; keep connections
            "120",
        ],
        env=env,
    )
    try:
        wait_for(port, proc)
        before = cpu_seconds(proc.pid)
        seconds, latencies, accepted = asyncio.run(drive(port, ballot_ids, tokens))
        after = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with store.transaction() as tx:
        stored = tx.count("ballot_participation")
    intact = store.verify_audit().ok
    store.dispose()
    latencies.sort()
    return {
        "votes": len(latencies),
        "accepted": accepted,
        "stored": stored,
        "per_s": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "audit_intact": intact,
        # CPU seconds used during the timed run, per side (2 cores: at most 2 s per second).
        "cpu": {side: after[side] - before[side] for side in after},
        "seconds": seconds,
    }


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by this client, the uvicorn server (with its workers), PostgreSQL
    (every ``postgres`` process) and everything else on the machine."""
    server = psutil.Process(server_pid)
    procs = [server, *server.children(recursive=True)]
    server_s = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            server_s += t.user + t.system
    postgres_s = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] == "postgres" and p.info["cpu_times"] is not None:
            postgres_s += p.info["cpu_times"].user + p.info["cpu_times"].system
    client = psutil.Process().cpu_times()
    total = psutil.cpu_times()
    busy = total.user + total.system + total.nice + total.irq + total.softirq
    client_s = client.user + client.system
    return {
        "client": client_s,
        "server": server_s,
        "postgres": postgres_s,
        "other": busy - client_s - server_s - postgres_s,
    }


def tally_times(url: str, n_ballots: int) -> dict:
    store = open_store(url)
    now = datetime.now(UTC) - timedelta(minutes=5)
    founder = s.register_account(
        store, username="teller", display_name="T", password_hash="x", now=now
    )
    council = s.create_council(
        store, name="Tally works", kind="workplace", founder_id=founder, now=now
    )
    ballot = s.open_ballot(
        store,
        council_id=council.id,
        opened_by=founder,
        title="Ranked",
        rule="schulze",
        options=OPTIONS,
        secret=True,
        closes_at=now + timedelta(minutes=1),
        now=now,
    )
    rng = random.Random(0)
    rankings = []
    for _ in range(n_ballots):
        order = OPTIONS[:]
        rng.shuffle(order)
        rankings.append(order[: rng.randint(3, 10)])
    # Setup, not timed: the votes go straight into the votes table (members and their
    # participation rows would only slow the setup; the tally reads votes alone).
    rows = [
        {"id": str(uuid.uuid4()), "ballot_id": ballot.id, "choice": r, "weight": 1}
        for r in rankings
    ]
    with store.transaction() as tx:
        for i in range(0, len(rows), 10_000):
            tx.insert_many("votes", rows[i : i + 10_000])
    t = time.perf_counter()
    tally = counting.count("schulze", rankings, options=OPTIONS)
    count_s = time.perf_counter() - t
    t = time.perf_counter()
    closed = s.close_ballot(store, ballot_id=ballot.id, now=now + timedelta(minutes=2))
    close_s = time.perf_counter() - t
    t = time.perf_counter()
    recount = s.recount(store, ballot.id)
    recount_s = time.perf_counter() - t
    assert recount["matches"] and closed.tally["winners"] == list(tally.winners)
    store.dispose()
    return {"count_s": count_s, "recount_s": recount_s, "close_s": close_s}


def _split(v: dict) -> list[tuple[str, float, float]]:
    return [(side, cpu, v["seconds"]) for side, cpu in v["cpu"].items()]


def fresh_postgres(url: str) -> tuple[str, callable]:
    schema = f"cp_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COUNCILPLAN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--ballots", type=int, default=40, help="votes per client")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--tally-ballots", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.ballots, args.tally_ballots = 10, 20_000
    console = Console()
    backends = [("PostgreSQL", args.database_url)]
    if not args.no_sqlite:
        backends.append(("SQLite", None))
    votes_table = Table(
        title=f"Votes over HTTP: {args.clients} concurrent clients, "
        f"{args.ballots} votes each, uvicorn x{args.workers} on 127.0.0.1"
    )
    for col in (
        "database",
        "votes",
        "accepted",
        "stored",
        "votes/s",
        "p50 ms",
        "p99 ms",
        "audit",
        "goal",
    ):
        votes_table.add_column(col, justify="right")
    tally_table = Table(
        title=f"Tally of {args.tally_ballots:,} ranked ballots (Schulze, {len(OPTIONS)} options)"
    )
    for col in ("database", "count() s", "recount s", "close_ballot s", "goal"):
        tally_table.add_column(col, justify="right")
    cpu_lines: list[str] = []
    for name, url in backends:
        with tempfile.TemporaryDirectory() as tmp:

            def make(url=url, tmp=tmp):
                if url is None:
                    return f"sqlite:///{Path(tmp) / f'{uuid.uuid4().hex}.sqlite'}", lambda: None
                return fresh_postgres(url)

            db, drop = make()
            try:
                v = votes_per_second(db, args.clients, args.ballots, args.workers)
            finally:
                drop()
            cpu_lines.append(
                f"{name}: CPU seconds per second of the run: "
                + ", ".join(f"{k} {v / v_s:.2f}" for k, v, v_s in _split(v))
                + f" (of {os.cpu_count()} cores); CPU per vote: server "
                f"{1000 * v['cpu']['server'] / v['votes']:.1f} ms, PostgreSQL "
                f"{1000 * v['cpu']['postgres'] / v['votes']:.1f} ms, client "
                f"{1000 * v['cpu']['client'] / v['votes']:.1f} ms"
            )
            votes_table.add_row(
                name,
                str(v["votes"]),
                str(v["accepted"]),
                str(v["stored"]),
                f"{v['per_s']:,.0f}",
                f"{v['p50_ms']:.1f}",
                f"{v['p99_ms']:.1f}",
                "intact" if v["audit_intact"] else "BROKEN",
                ">= 1,000/s, p99 < 50 ms",
            )
            db, drop = make()
            try:
                t = tally_times(db, args.tally_ballots)
            finally:
                drop()
            tally_table.add_row(
                name, f"{t['count_s']:.2f}", f"{t['recount_s']:.2f}", f"{t['close_s']:.2f}", "< 1 s"
            )
    console.print(votes_table)
    for line in cpu_lines:
        console.print(line)
    console.print(tally_table)
    console.print(
        f"machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared; timings are noisy)"
    )


if __name__ == "__main__":
    main()
