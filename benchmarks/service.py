"""The councils service under load: votes cast over HTTP by 50 concurrent clients, and the
time to tally 100,000 ranked ballots, against the goals (>= 1,000 votes/s with p99 < 50 ms;
tally < 1 s), on PostgreSQL, with SQLite (the embedded default) alongside.

    python benchmarks/service.py                       # COUNCILPLAN_TEST_DATABASE_URL or local
    python benchmarks/service.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python benchmarks/service.py --rate 1000 --duration 10 --drain 5
    python benchmarks/service.py --quick               # fewer votes, shorter run, fewer ballots

Each database gets a fresh PostgreSQL schema (dropped afterwards) or a temporary SQLite file, a
council of 50 members (one bearer token each) and enough open secret yes/no ballots that every
request is a real, accepted vote (201: participation row, vote row, audit entry, one
transaction; one member, one vote per ballot). Setup goes through the service functions and is
not timed. One ``councilplan serve`` on 127.0.0.1 then serves two runs (one worker process,
its default; ``--workers N``: N, each with a socket of its own), each client a member with its
own token and keep-alive connection (a minimal HTTP/1.1 client, ``Member``: on a 2-core
machine the client's CPU is CPU the server does not get, and aiohttp spent 0.2-0.3 ms per
vote):

1. Capacity, a closed loop: each client sends its next vote as soon as the last is answered.
   Votes/s is the capacity; its latency is not the goal's: with 50 clients always busy,
   mean latency = 50 / throughput (Little's law), whatever the server does.
2. At the goal rate, an open loop (as wrk2 does it): ``--rate`` votes/s are scheduled for
   ``--duration`` seconds, evenly, round robin over the clients (each client every
   clients/rate seconds). A client sends a vote when it is due or, when still waiting on its
   previous answer, as soon as that comes ("sent late"); latency runs from the scheduled time,
   so a server that falls behind shows it (no coordinated omission). Nothing is sent after
   duration + ``--drain`` seconds; what was not sent by then is "not sent", an answer slower
   than 10 s "failed". Percentiles are over all scheduled votes, a vote not accepted counting
   as slower than any ("inf").

Both databases run both loops. The CPU each side used (this client, the server, PostgreSQL,
the rest of the machine) is measured per run; the stored participation rows are checked
against the 201s, and the audit chain is verified after both runs. Alongside each run a probe
(``DiskProbe``) times fdatasync of a small file on the database's filesystem, the call each
commit waits for: where the disk stalls, every vote committed meanwhile waits as long, and the
table shows it. The tally is timed three
ways: ``count`` alone on ballots in memory, ``recount`` (load the stored votes and count), and
``close_ballot`` (move the secret votes into the ballot box, count, store the tally, append the
audit entry).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

import councilplan
from councilplan.councils import counting
from councilplan.councils import service as s
from councilplan.store import open_store
from councilplan.store.tables import votes as votes_table
from councilplan.web import auth

OPTIONS = [f"option-{i}" for i in range(10)]
ANSWER_TIMEOUT_S = 10  # open loop: an answer slower than this counts as failed


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
    # Founded a month ago, its members admitted by its rules: they have standing to vote now.
    council, _ = s.found_council_with_members(
        store,
        name="Bench works",
        kind="workplace",
        founder_id=ids[0],
        member_ids=ids[1:],
        founded_at=now - timedelta(days=30),
    )
    # The service opens one ballot per transaction (about 3 ms each): fast enough.
    ballot_ids = [
        s.open_ballot(
            store,
            council_id=council.id,
            opened_by=ids[0],
            title=f"Q{i}",
            rule="yes_no",
            secret=True,
            closes_at=now + timedelta(days=council.min_ballot_days + 1),
            now=now,
        ).id
        for i in range(ballots)
    ]

    # Logging in is an argon2 check (~0.1 s of CPU): in threads, as argon2 releases the GIL.
    def login(i: int) -> str:
        return auth.login(store, f"bench{i}", "benchmark password", kind="bearer")[1]

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        tokens = list(pool.map(login, range(clients)))
    return ballot_ids, tokens


def quantile(latencies: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted ``latencies`` (seconds; inf: never answered)."""
    return latencies[max(0, math.ceil(q * len(latencies)) - 1)] if latencies else math.nan


class Member:
    """One member's keep-alive HTTP/1.1 connection, speaking just the HTTP the votes need.

    Hand-written rather than aiohttp (or httpx) because the load generator shares the cores
    with the server it measures: aiohttp cost 0.2-0.3 ms of CPU per vote here, a sixth of what
    the server and PostgreSQL spend on it; a request prepared as bytes and a response read with
    two stream calls cost a fraction of that. It understands only answers with Content-Length,
    which is all uvicorn sends for JSON.
    """

    def __init__(self, port: int, token: str):
        self.port = port
        self.head = (
            "Host: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """Send one request and read its answer; the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self.head
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            await self.reader.readexactly(length)
        except BaseException:
            await self.close()  # the connection's state is unknown: start afresh next time
            raise
        return int(head[9:12])

    async def vote(self, ballot_id: int) -> int:
        return await self.request("POST", f"/api/ballots/{ballot_id}/votes", VOTE_YES)

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class DiskProbe:
    """Write 8 KiB and fdatasync it every 20 ms, in a file of its own on the filesystem the
    database writes to, and keep how long each took: the disk's answer to the call every
    commit waits for (PostgreSQL's WAL flush, synchronous_commit on; SQLite's journal). On a
    virtual machine's shared disk it sometimes takes hundreds of milliseconds, whatever the
    server does, and every vote committed meanwhile waits with it: this tells those runs apart.
    A thread, not a process: the call releases the GIL, and the client's event loop is not
    held while it waits."""

    INTERVAL_S = 0.02

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.durations: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DiskProbe:
        if self.directory is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        block = os.urandom(8192)
        fd, path = tempfile.mkstemp(prefix="councilplan-disk-probe-", dir=self.directory)
        try:
            while not self._stop.wait(self.INTERVAL_S):
                t = time.perf_counter()
                os.pwrite(fd, block, 0)
                os.fdatasync(fd)
                self.durations.append(time.perf_counter() - t)
        finally:
            os.close(fd)
            os.unlink(path)

    def summary(self) -> dict:
        d = sorted(self.durations)
        if not d:
            return {"probes": 0}
        return {
            "probes": len(d),
            "p99_ms": 1000 * quantile(d, 0.99),
            "max_ms": 1000 * d[-1],
            "stalls": sum(x > 0.05 for x in d),
        }


def probe_directory(url: str) -> Path | None:
    """A directory on the filesystem the database writes to, for :class:`DiskProbe`: SQLite's
    file's own; for PostgreSQL on this machine, the temporary directory (or else the working
    one) when it shares a filesystem with the server's data directory (asked of the server:
    superusers and pg_read_all_settings only). None when that cannot be told."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    if sa.engine.make_url(url).host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return None  # another machine's disk: its data directory's path means nothing here
    try:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                data = conn.exec_driver_sql("SELECT current_setting('data_directory')").scalar()
        finally:
            engine.dispose()
        device = os.stat(data).st_dev
    except (sa.exc.SQLAlchemyError, OSError):
        return None
    for candidate in (Path(tempfile.gettempdir()), Path.cwd()):
        with contextlib.suppress(OSError):
            if os.stat(candidate).st_dev == device and os.access(candidate, os.W_OK):
                return candidate
    return None


VOTE_YES = b'{"choice":"yes"}'


async def closed_loop(members: list[Member], ballot_ids: list[int]) -> dict:
    """Every client votes once on every ballot, the next as soon as the last is answered."""
    latencies: list[float] = []
    accepted = 0

    async def client(member: Member) -> None:
        nonlocal accepted
        order = list(ballot_ids)
        random.shuffle(order)
        for ballot_id in order:  # bounded: one vote per ballot
            t = time.perf_counter()
            status = await member.vote(ballot_id)
            latencies.append(time.perf_counter() - t)
            accepted += status == 201

    start = time.perf_counter()
    await asyncio.gather(*(client(m) for m in members))
    seconds = time.perf_counter() - start
    latencies.sort()
    return {
        "votes": len(latencies),
        "accepted": accepted,
        "per_s": len(latencies) / seconds,
        "p50_ms": 1000 * quantile(latencies, 0.5),
        "p99_ms": 1000 * quantile(latencies, 0.99),
    }


async def open_loop(
    members: list[Member],
    ballot_ids: list[int],
    rate: float,
    duration: float,
    drain: float,
) -> dict:
    """``rate`` votes/s scheduled for ``duration`` s, round robin over the clients; latency
    from each vote's scheduled time. Nothing is sent after ``duration + drain`` s."""
    clients = len(members)
    n = round(rate * duration)
    answered: list[float] = []  # latency of each 201, from its scheduled time
    lag: list[float] = []  # send time - scheduled time, for votes the client was free to send
    failures: Counter[str] = Counter()
    late = 0
    last_answer = 0.0
    start = time.perf_counter() + 0.2  # every client's task is waiting before the first vote
    cutoff = start + duration + drain

    async def client(i: int, member: Member) -> None:
        nonlocal late, last_answer
        order = list(ballot_ids)
        random.shuffle(order)
        previous_answer = 0.0
        for k, j in enumerate(range(i, n, clients)):
            due = start + j / rate
            now = time.perf_counter()
            if now < due:
                await asyncio.sleep(due - now)
            sent = time.perf_counter()
            if sent >= cutoff:
                return
            if previous_answer > due:
                late += 1
            else:
                lag.append(max(0.0, sent - due))
            try:
                status = str(
                    await asyncio.wait_for(member.vote(order[k]), timeout=ANSWER_TIMEOUT_S)
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as e:
                status = type(e).__name__
            previous_answer = last_answer = time.perf_counter()
            if status == "201":
                answered.append(previous_answer - due)
            else:
                failures[status] += 1

    await asyncio.gather(*(client(i, m) for i, m in enumerate(members)))
    failed = sum(failures.values())
    # A vote not accepted counts as slower than any, so the percentiles cannot flatter.
    latencies = sorted(answered) + [math.inf] * (n - len(answered))
    lag.sort()
    return {
        "votes": n,
        "accepted": len(answered),
        "failed": failed,
        "failures": failures,
        "not_sent": n - len(answered) - failed,
        "late": late,
        "per_s": len(answered) / (last_answer - start) if answered else 0.0,
        **{
            f"{name}_ms": 1000 * quantile(latencies, q)
            for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))
        },
        "accepted_p50_ms": 1000 * quantile(latencies[: len(answered)], 0.5),
        "accepted_p99_ms": 1000 * quantile(latencies[: len(answered)], 0.99),
        "lag_p99_ms": 1000 * quantile(lag, 0.99),
    }


async def drive(
    port: int,
    ballot_ids: list[int],
    tokens: list[str],
    closed: int,
    opened: dict,
    count: Callable[[], int],
    server_pid: int,
    disk: Path | None,
) -> tuple[dict, dict]:
    """The closed loop on the first ``closed`` ballots, then the open loop on the rest, each
    with its CPU seconds per side (``cpu``), the participation rows it stored, and the disk's
    fdatasync times meanwhile (``disk``: a :class:`DiskProbe` in the directory ``disk``; not
    probed when it is None)."""
    members = [Member(port, token) for token in tokens]
    try:
        # Warm up (not timed): open the HTTP connections and the servers' database pools.
        for _ in range(3):
            statuses = await asyncio.gather(*(m.request("GET", "/api/me") for m in members))
            assert set(statuses) == {200}, statuses
        results = []
        for run in (
            lambda: closed_loop(members, ballot_ids[:closed]),
            lambda: open_loop(members, ballot_ids[closed:], **opened),
        ):
            stored_before, before, t = count(), cpu_snapshot(server_pid), time.perf_counter()
            with DiskProbe(disk) as probe:
                result = await run()
            result["wall_s"] = time.perf_counter() - t
            result["disk"] = probe.summary()
            result["cpu"] = cpu_used(before, cpu_snapshot(server_pid))
            result["stored"] = count() - stored_before
            results.append(result)
        return tuple(results)
    finally:
        for m in members:
            await m.close()


def wait_for(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"councilplan serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("councilplan serve did not start within a minute")


def votes_over_http(
    url: str, clients: int, closed: int, workers: int, rate: float, duration: float, drain: float
) -> dict:
    """Both loops against one server on a fresh database: {"closed", "open", "audit_intact"}."""
    store = open_store(url)
    per_client = math.ceil(round(rate * duration) / clients)
    ballot_ids, tokens = prepare(store, clients, closed + per_client)

    def count() -> int:
        with store.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM ballot_participation").scalar_one()

    port = free_port()
    env = dict(os.environ, COUNCILPLAN_DATABASE_URL=url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "councilplan",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--keep-alive",  # clients may wait seconds under load; keep connections
            "120",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(port, proc)
        opened = {"rate": rate, "duration": duration, "drain": drain}
        closed_run, open_run = asyncio.run(
            drive(port, ballot_ids, tokens, closed, opened, count, proc.pid, probe_directory(url))
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    intact = store.verify_audit().ok
    store.dispose()
    return {"closed": closed_run, "open": open_run, "audit_intact": intact}


_CLIENT_PORT = re.compile(r"\((\d+)\)|\[local\]")  # a backend's title: "... 127.0.0.1(45678) idle"


def cpu_snapshot(server_pid: int) -> dict:
    """CPU seconds used so far: per process by the uvicorn server (with its workers) and by every
    ``postgres`` process, with the client port a PostgreSQL backend serves (None: not a backend,
    as the checkpointer); all PostgreSQL, ended backends included (the postmaster is credited
    with its children's CPU when they end); the ports of the server's TCP connections; this
    client; the whole machine."""
    server = psutil.Process(server_pid)
    snap: dict = {"server": {}, "postgres": {}, "postgres_all": 0.0, "ports": set()}
    for p in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            snap["server"][p.pid] = t.user + t.system
            snap["ports"].update(c.laddr.port for c in p.net_connections("tcp") if c.raddr)
    for p in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        if p.info["name"] == "postgres" and (t := p.info["cpu_times"]) is not None:
            title = _CLIENT_PORT.search(" ".join(p.info["cmdline"] or ()))
            port = None if title is None else int(title[1] or 0)
            snap["postgres"][p.pid] = (t.user + t.system, port)
            snap["postgres_all"] += t.user + t.system + t.children_user + t.children_system
    client, total = psutil.Process().cpu_times(), psutil.cpu_times()
    snap["client"] = client.user + client.system
    snap["busy"] = total.user + total.system + total.nice + total.irq + total.softirq
    return snap


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two snapshots used by this client, the server, PostgreSQL and
    everything else on the machine. PostgreSQL is all of it less the backends of other
    sessions (the machine is shared) still open at the end; the CPU of other sessions'
    backends that ended meanwhile cannot be told apart and stays in."""
    server = sum(t - before["server"].get(pid, 0.0) for pid, t in after["server"].items())
    ports = before["ports"] | after["ports"]
    others = sum(
        t - before["postgres"].get(pid, (0.0, None))[0]
        for pid, (t, port) in after["postgres"].items()
        if port is not None and port not in ports
    )
    postgres = after["postgres_all"] - before["postgres_all"] - others
    client = after["client"] - before["client"]
    busy = after["busy"] - before["busy"]
    return {
        "client": client,
        "server": server,
        "postgres": postgres,
        "other": busy - client - server - postgres,
    }


def tally_times(url: str, n_ballots: int) -> dict:
    store = open_store(url)
    now = datetime.now(UTC) - timedelta(days=10)  # the ballot has run its minimum time
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
        closes_at=now + timedelta(days=council.min_ballot_days),
        now=now,
    )
    rng = random.Random(0)
    rankings = []
    for _ in range(n_ballots):
        order = OPTIONS[:]
        rng.shuffle(order)
        rankings.append(order[: rng.randint(3, 10)])
    # Setup, not timed: the votes go straight into the votes table, with SQL, behind the
    # record's back (members and their participation rows would only slow the setup; the
    # tally reads votes alone; this database is the benchmark's own).
    rows = [
        {"id": str(uuid.uuid4()), "ballot_id": ballot.id, "choice": r, "weight": 1}
        for r in rankings
    ]
    with store.engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(votes_table.insert(), rows[i : i + 10_000])
    t = time.perf_counter()
    tally = counting.count("schulze", rankings, options=OPTIONS)
    count_s = time.perf_counter() - t
    t = time.perf_counter()
    closed = s.close_ballot(store, ballot_id=ballot.id, now=ballot.closes_at)
    close_s = time.perf_counter() - t
    t = time.perf_counter()
    recount = s.recount(store, ballot.id)
    recount_s = time.perf_counter() - t
    assert recount.matches and closed.tally["winners"] == list(tally.winners)
    store.dispose()
    return {"count_s": count_s, "recount_s": recount_s, "close_s": close_s}


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


def cpu_line(name: str, run: dict) -> str:
    wall, votes = run["wall_s"], max(1, run["accepted"])
    return (
        f"{name}: CPU seconds per second of the run: "
        + ", ".join(f"{side} {cpu / wall:.2f}" for side, cpu in run["cpu"].items())
        + f" (of {os.cpu_count()} cores); CPU per accepted vote: server "
        f"{1000 * run['cpu']['server'] / votes:.1f} ms, PostgreSQL "
        f"{1000 * run['cpu']['postgres'] / votes:.1f} ms, client "
        f"{1000 * run['cpu']['client'] / votes:.1f} ms"
    )


def ms(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:,.1f}"


def votes_rows(args: argparse.Namespace) -> list[tuple[str, str, object]]:
    """(label, goal, value of a result) for each row of the votes table; a label starting
    with '#' opens a section."""

    def counts(run: dict) -> str:
        ok = "" if run["stored"] == run["accepted"] else " MISMATCH"
        return f"{run['accepted']:,} / {run['stored']:,}{ok}"

    def disk(run: dict) -> str:
        d = run["disk"]
        if not d["probes"]:
            return "not probed"
        return f"{ms(d['p99_ms'])} / {ms(d['max_ms'])} ({d['stalls']:,} over 50)"

    return [
        ("# Capacity (closed loop)", "", None),
        ("votes sent", "", lambda v: f"{v['closed']['votes']:,}"),
        ("accepted (201) / stored", "all", lambda v: counts(v["closed"])),
        ("votes/s", ">= 1,000", lambda v: f"{v['closed']['per_s']:,.0f}"),
        ("p50 ms", "", lambda v: ms(v["closed"]["p50_ms"])),
        ("p99 ms", "", lambda v: ms(v["closed"]["p99_ms"])),
        ("disk: fdatasync p99 / max ms", "", lambda v: disk(v["closed"])),
        (f"# At {args.rate:,g} votes/s for {args.duration:g} s (open loop)", "", None),
        ("votes scheduled", "", lambda v: f"{v['open']['votes']:,}"),
        ("accepted (201) / stored", "all", lambda v: counts(v["open"])),
        ("achieved votes/s", f">= {args.rate:,g}", lambda v: f"{v['open']['per_s']:,.0f}"),
        ("sent late", "", lambda v: f"{v['open']['late']:,}"),
        (
            "failed / not sent by the cut-off",
            "0 / 0",
            lambda v: f"{v['open']['failed']:,} / {v['open']['not_sent']:,}",
        ),
        ("p50 ms", "", lambda v: ms(v["open"]["p50_ms"])),
        ("p99 ms", "< 50", lambda v: ms(v["open"]["p99_ms"])),
        ("p99.9 ms", "", lambda v: ms(v["open"]["p999_ms"])),
        ("max ms", "", lambda v: ms(v["open"]["max_ms"])),
        (
            "p50 / p99 ms of the accepted only",
            "",
            lambda v: f"{ms(v['open']['accepted_p50_ms'])} / {ms(v['open']['accepted_p99_ms'])}",
        ),
        ("disk: fdatasync p99 / max ms", "", lambda v: disk(v["open"])),
        ("# Both runs", "", None),
        ("audit chain", "intact", lambda v: "intact" if v["audit_intact"] else "BROKEN"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COUNCILPLAN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--ballots", type=int, default=40, help="closed loop: votes per client")
    parser.add_argument("--rate", type=float, default=1000, help="open loop: votes/s offered")
    parser.add_argument("--duration", type=float, default=10, help="open loop: seconds offered")
    parser.add_argument(
        "--drain", type=float, default=5, help="open loop: seconds after --duration to send"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes (councilplan serve's)"
    )
    parser.add_argument("--tally-ballots", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.ballots, args.duration, args.drain, args.tally_ballots = 10, 3, 2, 20_000
    # Written to a file or a pipe, Rich assumes 80 columns and folds the labels of the table.
    console = Console() if sys.stdout.isatty() else Console(width=110)
    backends = [("PostgreSQL", args.database_url)]
    if not args.no_sqlite:
        backends.append(("SQLite", None))
    # The server inherits this environment (PYTHONPATH included): say which code is measured.
    server_code = subprocess.run(
        [sys.executable, "-c", "import councilplan; print(councilplan.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    votes = {}
    tally_table = Table(
        title=f"Tally of {args.tally_ballots:,} ranked ballots (Schulze, {len(OPTIONS)} options)"
    )
    for col in ("database", "count() s", "recount s", "close_ballot s", "goal"):
        tally_table.add_column(col, justify="right")
    cpu_lines: list[str] = []
    notes: list[str] = []
    for name, url in backends:
        with tempfile.TemporaryDirectory() as tmp:

            def make(url=url, tmp=tmp):
                if url is None:
                    return f"sqlite:///{Path(tmp) / f'{uuid.uuid4().hex}.sqlite'}", lambda: None
                return fresh_postgres(url)

            db, drop = make()
            try:
                v = votes[name] = votes_over_http(
                    db,
                    args.clients,
                    args.ballots,
                    args.workers,
                    args.rate,
                    args.duration,
                    args.drain,
                )
            finally:
                drop()
            cpu_lines.append(cpu_line(f"{name}, closed loop", v["closed"]))
            cpu_lines.append(cpu_line(f"{name}, open loop", v["open"]))
            o = v["open"]
            notes.append(
                f"{name}, open loop: client timer lag p99 {o['lag_p99_ms']:.1f} ms"
                + (
                    "; failures: " + ", ".join(f"{k} x{n}" for k, n in o["failures"].items())
                    if o["failures"]
                    else ""
                )
            )
            db, drop = make()
            try:
                t = tally_times(db, args.tally_ballots)
            finally:
                drop()
            tally_table.add_row(
                name, f"{t['count_s']:.2f}", f"{t['recount_s']:.2f}", f"{t['close_s']:.2f}", "< 1 s"
            )
    votes_table = Table(
        title=f"Votes over HTTP: {args.clients} clients (members, own token and connection), "
        f"councilplan serve, {args.workers} workers, on 127.0.0.1",
        caption_justify="left",
        caption=f"Closed loop: {args.ballots} votes per client, each sent when the last is "
        "answered; latency from sending. Open loop: votes scheduled evenly, round robin over "
        "the clients; latency from the scheduled time; sent late: due while the client still "
        f"waited on its previous vote; cut-off at {args.duration + args.drain:g} s; "
        "percentiles over all scheduled votes, inf: not accepted by the cut-off. Disk: "
        "8 KiB written and fdatasync'd every 20 ms meanwhile, on the database's filesystem "
        "(DiskProbe); every commit waits for that call, so a stall there holds every vote.",
    )
    votes_table.add_column("")
    for name in votes:
        votes_table.add_column(name, justify="right")
    votes_table.add_column("goal", justify="right")
    for label, goal, value in votes_rows(args):
        if value is None:
            if votes_table.row_count:
                votes_table.add_section()
            votes_table.add_row(f"[bold]{label[2:]}[/bold]")
        else:
            votes_table.add_row(label, *(value(v) for v in votes.values()), goal)
    console.print(votes_table)
    for line in cpu_lines + notes:
        console.print(line)
    console.print(tally_table)
    console.print(
        f"code measured (this process and the server): {Path(councilplan.__file__).parent}"
        + ("" if server_code == councilplan.__file__ else f"; server: {server_code}")
    )
    console.print(
        f"machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (shared; timings are noisy)"
    )


if __name__ == "__main__":
    main()
