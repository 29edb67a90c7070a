"""The planning cycle through the councils service at the scale of a federation, on PostgreSQL:
councils stating their needs and techniques, the job computing the least-labour variant, and
workplaces reading their targets, against the engine alone on the same inputs.

    python benchmarks/planning_cycle.py                          # 10,000 councils, 10^5 products
    python benchmarks/planning_cycle.py --councils 200 --products 2000       # a quick run
    python benchmarks/planning_cycle.py --database-url postgresql+psycopg://postgres@127.0.0.1/test

``--councils`` consumer councils each state 20-50 needs (products drawn at random, seeded) and
``--workplaces`` workplace councils each state an equal share of the economy's techniques (no
capacity) and the hours they offer. The economy is ``generate_economy(--products,
techniques_per_product=2, resources=1)``, written as a bundle and packed with ``pack_bundle``;
the period sets no limits, so the plan is the least-labour plan for the stated needs.

Set-up (timed, not measured against anything), all through the service's acts, in a schema of
its own that is dropped at the end: an account and a council per council (``register_account``,
``create_council``: the founder is its one member), a weighted federation, every council's
``apply_for_affiliation``; the federation's founder admits the first council, which elects its
delegate (``open_election``, ``cast_vote``, ``close_ballot``); that delegate puts all the other
applications to one affiliation ballot (``open_admission`` takes up to 10,000 application ids;
more go in several ballots), votes yes, and the ballot's close affiliates them; then every
council elects its founder as its delegate (three acts each). These acts run on
``--setup-threads`` threads, as many councils' members would. The bundle is added, the period
proposed (``propose_period``), the first delegate votes yes and the ballot closes: the period
opens. Nothing in the set-up is written behind the service's back.

Measured, through the acts:

1. Stating: every council's delegate states once (``state_needs`` / ``state_techniques``), the
   statements shuffled and cut in three: a third from one client calling the acts in this
   process, a third from ``--clients`` threads calling them at once, and a third from
   ``--clients`` clients over the JSON API (``POST /api/periods/{id}/councils/{id}/needs``
   and ``.../techniques``, httpx, one keep-alive connection each, the delegate's bearer token
   from the API's login) to a ``councilplan serve --no-worker`` started on the benchmark's
   schema; the server's first statement is made alone first and shown apart (a new server
   process reads the bundle then). Without the API's routes (or with ``--no-http``) the
   statements are cut in two and the API is not measured. Statements/s and latency
   percentiles of each; how many sessions wait meanwhile for a lock on a period's row and
   for any lock; and the CPU this process, the server and PostgreSQL use per second (of the
   machine's cores: on a small machine the clients, the server and the database share them).
2. Computing: the least-labour variant is requested and ``run_next_job`` computes it, with the
   economy cache emptied first as a fresh worker process would find it ("cold"); a second,
   identical variant is computed in the same process ("warm": the bundle already read). The
   job's parts are timed by wrapping the functions it calls (``period_inputs``,
   ``economy_from_archive``, ``needs_frame``, ``plan_limits``, ``plan``, ``publish``,
   ``plan_digest``, ``inputs_digest``); what is left is the service's own: transactions, the
   record, fetching the archive, writing the result. Against it, the engine alone, the median
   of ``--engine-repeats`` runs: ``economy_from_archive`` on the archive's bytes (cache
   emptied) and ``plan(economy, needs, Limits())`` on needs built here from the same rows that
   were stated, no database; and ``publish`` alone. The service's overhead is its time less
   the engine's (and less the engine's and publish's); the two total labours are compared.
3. Reading targets: the two variants go to the federation's vote (``open_adoption``, one
   delegate ranks, ``close_ballot``); then ``council_targets`` for random workplace councils:
   cold (the published-plan cache emptied before each) and warm.

``--profile`` also runs cProfile over 20 statements (stated again afterwards) and over a third,
identical variant's computation (warm), and prints where their time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import os
import pstats
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import sqlalchemy as sa
from argon2 import PasswordHasher
from rich.console import Console
from rich.table import Table

import councilplan.economy.archive as archive_module
import councilplan.planning as planning_module
import councilplan.planning.published as published_module
from councilplan.councils import service as s
from councilplan.councils.service import planning as cycle
from councilplan.economy.archive import economy_from_archive, pack_bundle
from councilplan.economy.bundle import write_bundle
from councilplan.economy.synthetic import generate_economy
from councilplan.planning import Limits, plan
from councilplan.store import open_store
from councilplan.web import auth

DAY = timedelta(days=1)
#: The period is proposed at T0, five days ago, so that its stating stage is open now (the
#: JSON API states at the clock's time); the councils are founded a month before. The acts
#: called here are given their moments; the record's moments only ever move forward.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 5 * DAY
SETUP_START = T0 - 30 * DAY
#: Most application ids one affiliation ballot may name (``open_admission``'s bound).
ADMISSION_BATCH = 10_000
NEEDS_PER_COUNCIL = (20, 50)
#: Every delegate's password, hashed with argon2's smallest costs: the API's login verifies a
#: hash by the costs written in it, and the delegates stating over HTTP log in by the thousand.
PASSWORD = "benchmark password"
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted ``values``."""
    return values[max(0, math.ceil(q * len(values)) - 1)] if values else math.nan


# ---------------------------------------------------------------------------------------------
# The economy and what the councils state.


@dataclass(frozen=True)
class Inputs:
    archive: bytes
    economy_name: str
    techniques: int
    needs: list[list[dict]]  # per consumer council: rows of product, quantity, priority
    techniques_of: list[list[dict]]  # per workplace council: rows of technique
    hours_of: list[list[dict]]  # per workplace council: rows of labour, hours
    seconds: dict[str, float]


def make_inputs(products: int, councils: int, workplaces: int, seed: int, tmp: Path) -> Inputs:
    """The synthetic economy's bundle, every consumer council's needs (20-50 distinct products,
    quantities uniform in [0.5, 20) units, priority 1) and every workplace council's share of
    the techniques, all from ``seed``."""
    seconds = {}
    t = time.perf_counter()
    # One resource (no limit set): publish() cannot yet publish a plan of an economy without
    # resources (np.vstack of no rows in published._workplaces).
    economy = generate_economy(products, techniques_per_product=2, resources=1, seed=seed)
    seconds["generate_economy"] = time.perf_counter() - t
    t = time.perf_counter()
    write_bundle(economy, tmp / "bundle")
    archive = pack_bundle(tmp / "bundle")
    seconds["write_bundle + pack_bundle"] = time.perf_counter() - t
    rng = np.random.default_rng(seed + 1)
    product_ids = [str(p) for p in economy.product_ids]
    low, high = NEEDS_PER_COUNCIL
    needs = []
    for _ in range(councils):
        k = min(int(rng.integers(low, high + 1)), products)
        drawn = rng.integers(0, products, size=3 * k)
        _, first = np.unique(drawn, return_index=True)
        chosen = drawn[np.sort(first)][:k]
        quantities = rng.uniform(0.5, 20.0, size=len(chosen))
        needs.append(
            [
                {"product": product_ids[p], "quantity": f"{q:.3f}", "priority": "1"}
                for p, q in zip(chosen, quantities, strict=True)
            ]
        )
    technique_ids = [str(x) for x in economy.technique_ids]
    labour = str(economy.labour_ids[0])
    shares = np.array_split(np.arange(len(technique_ids)), workplaces)
    techniques_of = [[{"technique": technique_ids[i]} for i in share] for share in shares]
    hours_of = [[{"labour": labour, "hours": f"{rng.uniform(1_000, 50_000):.1f}"}] for _ in shares]
    return Inputs(
        archive,
        economy.name,
        len(technique_ids),
        needs,
        techniques_of,
        hours_of,
        seconds,
    )


# ---------------------------------------------------------------------------------------------
# Set-up: the federation and its councils, through the acts.


@dataclass
class Federation:
    federation: int
    founder: int
    consumers: list[int] = field(default_factory=list)  # council ids
    workplaces: list[int] = field(default_factory=list)
    delegate: dict[int, int] = field(default_factory=dict)  # council id -> account id
    username: dict[int, str] = field(default_factory=dict)  # account id -> username
    steps: list[tuple[str, int, float]] = field(default_factory=list)  # (step, acts, seconds)


def in_threads(threads: int, fn: Callable, items: Sequence) -> list:
    if threads <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def build_federation(store, councils: int, workplaces: int, threads: int, say) -> Federation:
    """The federation with ``councils`` consumer and ``workplaces`` workplace councils, all
    affiliated and each with its founder as its delegate, made by the service's acts (see the
    module's docstring for the order and the moments)."""
    steps: list[tuple[str, int, float]] = []

    def step(name: str, acts: int, started: float) -> None:
        seconds = time.perf_counter() - started
        steps.append((name, acts, seconds))
        say(f"  {name}: {acts:,} acts in {seconds:,.1f} s ({acts / seconds:,.0f} acts/s)")

    t0 = SETUP_START
    kinds = ["consumer"] * councils + ["workplace"] * workplaces
    total = len(kinds)

    started = time.perf_counter()
    founder = s.register_account(
        store,
        username="federation-founder",
        display_name="F",
        password_hash=CHEAP_HASH,
        now=t0,
    )
    federation = s.create_council(
        store,
        name="Benchmark federation",
        kind="federation",
        founder_id=founder,
        weighted_votes=True,
        now=t0,
    ).id

    def found(i: int) -> tuple[int, int]:
        account = s.register_account(
            store,
            username=f"delegate-{i:06d}",
            display_name=f"D{i}",
            password_hash=CHEAP_HASH,
            now=t0,
        )
        name = f"{kinds[i].title()} council {i:06d}"
        council = s.create_council(store, name=name, kind=kinds[i], founder_id=account, now=t0).id
        return council, account

    founded = in_threads(threads, found, range(total))
    step("register_account + create_council", 2 * total + 2, started)
    council_ids = [c for c, _ in founded]
    member = dict(founded)

    started = time.perf_counter()
    asked_at = t0 + 3 * DAY

    def apply(council: int) -> int:
        return s.apply_for_affiliation(
            store,
            federation_id=federation,
            council_id=council,
            actor_id=member[council],
            now=asked_at,
        ).id

    applications = in_threads(threads, apply, council_ids)
    step("apply_for_affiliation", total, started)

    # The first council: admitted by the founder, then it elects its delegate.
    started = time.perf_counter()
    first = council_ids[0]
    s.admit_first_council(store, application_id=applications[0], actor_id=founder, now=asked_at)
    elected_at = t0 + 10 * DAY
    elect(store, first, federation, member[first], elected_at)
    step("admit_first_council + its election", 4, started)
    first_delegate = member[first]

    started = time.perf_counter()
    opened = elected_at + 3 * DAY
    rest = applications[1:]
    acts = 0
    for i in range(0, len(rest), ADMISSION_BATCH):
        ballot = s.open_admission(
            store,
            council_id=federation,
            opened_by=first_delegate,
            application_ids=rest[i : i + ADMISSION_BATCH],
            closes_at=opened + 3 * DAY,
            now=opened,
        )
        s.cast_vote(store, ballot_id=ballot.id, voter_id=first_delegate, choice="yes", now=opened)
        s.close_ballot(store, ballot_id=ballot.id, now=opened + 3 * DAY)
        acts += 3
    step(f"affiliation ballots ({len(rest):,} councils admitted)", acts, started)

    started = time.perf_counter()
    election_at = opened + 3 * DAY
    in_threads(
        threads,
        lambda c: elect(store, c, federation, member[c], election_at),
        council_ids[1:],
    )
    step("elections (open_election, cast_vote, close_ballot)", 3 * (total - 1), started)

    out = Federation(federation, founder, steps=steps)
    out.consumers = council_ids[:councils]
    out.workplaces = council_ids[councils:]
    out.delegate = member
    out.username = {account: f"delegate-{i:06d}" for i, (_, account) in enumerate(founded)}
    return out


def elect(store, council: int, federation: int, account: int, at: datetime) -> None:
    """The council elects its founder, its one member, as its delegate to the federation."""
    ballot = s.open_election(
        store,
        council_id=council,
        federation_id=federation,
        opened_by=account,
        candidates=[account],
        mandate="State our needs and techniques for the period; report back.",
        closes_at=at + 3 * DAY,
        now=at,
    )
    s.cast_vote(store, ballot_id=ballot.id, voter_id=account, choice=list(ballot.options), now=at)
    s.close_ballot(store, ballot_id=ballot.id, now=at + 3 * DAY)


def open_the_period(store, fed: Federation, digest: str) -> tuple[s.Period, float]:
    """Propose the period at T0, the first delegate votes yes, the ballot closes at T0 + 3 days:
    stating until T0 + 10 days, proposing until T0 + 20, deciding until T0 + 30. Returns the
    period and the seconds ``propose_period`` took."""
    proposer = fed.delegate[fed.consumers[0]]
    started = time.perf_counter()
    period = s.propose_period(
        store,
        federation_id=fed.federation,
        actor_id=proposer,
        title="The federation's plan for 2027",
        bundle_digest=digest,
        starts_on="2027-01-01",
        ends_on="2027-12-31",
        ballot_closes_at=T0 + 3 * DAY,
        stating_closes_at=T0 + 10 * DAY,
        proposing_closes_at=T0 + 20 * DAY,
        deciding_closes_at=T0 + 30 * DAY,
        now=T0,
    )
    proposed_s = time.perf_counter() - started
    s.cast_vote(store, ballot_id=period.ballot_id, voter_id=proposer, choice="yes", now=T0)
    s.close_ballot(store, ballot_id=period.ballot_id, now=T0 + 3 * DAY)
    period = s.get_period(store, period.id, now=T0 + 3 * DAY)
    if period.status != "open":
        raise SystemExit(f"the period did not open: it is {period.status}")
    return period, proposed_s


# ---------------------------------------------------------------------------------------------
# 1. Stating.


@dataclass(frozen=True)
class Statement:
    kind: str  # "needs" or "techniques"
    council: int
    actor: int
    rows: list[dict]
    hours: list[dict]


def statements(fed: Federation, inputs: Inputs, seed: int) -> list[Statement]:
    out = [
        Statement("needs", c, fed.delegate[c], rows, [])
        for c, rows in zip(fed.consumers, inputs.needs, strict=True)
    ]
    out += [
        Statement("techniques", c, fed.delegate[c], rows, hours)
        for c, rows, hours in zip(
            fed.workplaces, inputs.techniques_of, inputs.hours_of, strict=True
        )
    ]
    random.Random(seed).shuffle(out)
    return out


def state(store, period_id: int, st: Statement) -> None:
    """One statement through its act, in-process."""
    at = T0 + 4 * DAY
    if st.kind == "needs":
        s.state_needs(
            store,
            period_id=period_id,
            council_id=st.council,
            actor_id=st.actor,
            needs=st.rows,
            now=at,
        )
    else:
        s.state_techniques(
            store,
            period_id=period_id,
            council_id=st.council,
            actor_id=st.actor,
            techniques=st.rows,
            hours=st.hours,
            now=at,
        )


#: A client of one thread: a context manager giving the function that makes one statement.
Client = Callable[[], contextlib.AbstractContextManager[Callable[[Statement], None]]]


def in_process(store, period_id: int) -> Client:
    return lambda: contextlib.nullcontext(lambda st: state(store, period_id, st))


def over_http(base_url: str, period_id: int, tokens: dict[int, str]) -> Client:
    """Statements POSTed to the JSON API, each with its delegate's bearer token, over one
    keep-alive connection per client."""

    @contextlib.contextmanager
    def client() -> Iterator[Callable[[Statement], None]]:
        with httpx.Client(base_url=base_url, timeout=300) as http:

            def send(st: Statement) -> None:
                path = f"/api/periods/{period_id}/councils/{st.council}/{st.kind}"
                body = {"needs": st.rows} if st.kind == "needs" else {"techniques": st.rows}
                if st.kind == "techniques":
                    body["hours"] = st.hours
                answer = http.post(
                    path, json=body, headers={"Authorization": f"Bearer {tokens[st.actor]}"}
                )
                if answer.status_code != 201:
                    raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text[:300]}")

            yield send

    return client


class LockProbe:
    """Every 20 ms, how many sessions of the database wait for a lock: on a period's row
    (``SELECT ... FROM "periods" ... FOR UPDATE``, as acts that change a period take it), and
    on any lock. Sessions of other schemas of the same database count too (another benchmark
    or test run beside this one)."""

    SQL = (
        "SELECT count(*) FILTER (WHERE position('FROM \"periods\"' in query) > 0 "
        "AND position('FOR UPDATE' in query) > 0), count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            while not self._stop.wait(0.02):
                period, any_lock = conn.exec_driver_sql(self.SQL).one()
                self.samples.append((period, any_lock))

    def summary(self) -> dict:
        n = max(1, len(self.samples))
        return {
            "period_waiting": sum(p for p, _ in self.samples) / n,
            "any_waiting": sum(a for _, a in self.samples) / n,
        }


def cpu_seconds(server: int | None) -> dict[str, float]:
    """CPU seconds used so far by this process, the server process ``server`` (and its
    children), and every ``postgres`` process (other sessions' too, ended backends included)."""

    def used(p: psutil.Process) -> float:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            return t.user + t.system + t.children_user + t.children_system
        return 0.0

    out = {"this process": used(psutil.Process()), "server": 0.0, "PostgreSQL": 0.0}
    if server is not None:
        top = psutil.Process(server)
        out["server"] = used(top) + sum(used(c) for c in top.children(recursive=True))
    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "postgres":
            out["PostgreSQL"] += used(p)
    return out


def stating_run(
    batch: Sequence[Statement],
    clients: int,
    client: Client,
    engine: sa.Engine,
    server: int | None = None,
) -> dict:
    """Every statement of ``batch`` stated, by ``clients`` threads each taking the next, with
    a :class:`LockProbe` on ``engine``'s database and the CPU used meanwhile (``server``: the
    API server's process id); a statement refused or failed stops the run."""
    latencies: dict[str, list[float]] = {"needs": [], "techniques": []}
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = iter(batch)

    def work() -> None:
        try:
            with client() as send:
                while not failures:
                    with lock:
                        st = next(queue, None)
                    if st is None:
                        return
                    started = time.perf_counter()
                    send(st)
                    seconds = time.perf_counter() - started
                    with lock:
                        latencies[st.kind].append(seconds)
        except BaseException as error:  # noqa: BLE001 - raised again once every thread ends
            failures.append(error)

    cpu_before = cpu_seconds(server)
    started = time.perf_counter()
    with LockProbe(engine) as probe:
        threads = [threading.Thread(target=work) for _ in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(server)
    if failures:
        raise failures[0]
    every = sorted(latencies["needs"] + latencies["techniques"])
    return {
        "clients": clients,
        "statements": len(every),
        "rows": sum(len(st.rows) + len(st.hours) for st in batch),
        "wall_s": wall,
        "per_s": len(every) / wall if wall else math.nan,
        "p50_ms": 1000 * quantile(every, 0.5),
        "p99_ms": 1000 * quantile(every, 0.99),
        "max_ms": 1000 * quantile(every, 1.0),
        **{
            f"{kind}_p50_ms": 1000 * quantile(sorted(values), 0.5)
            for kind, values in latencies.items()
        },
        **probe.summary(),
        "cpu": {k: (cpu_after[k] - cpu_before[k]) / wall for k in cpu_after},
    }


NEEDS_ROUTE = "/api/periods/{period_id}/councils/{council_id}/needs"


def api_states() -> bool:
    """Whether the JSON API has the planning cycle's statement routes."""
    try:
        from councilplan.web import app as web_app
        from councilplan.web.routers import planning as routes
    except ImportError:
        return False
    paths = {getattr(route, "path", None) for route in routes.router.routes}
    return routes in web_app.AREAS and NEEDS_ROUTE in paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(url: str, schema: str) -> Iterator[tuple[str, int]]:
    """``councilplan serve`` (one process, no variant worker) on the benchmark's schema, with
    this process's audit key; yields its base URL and process id."""
    port = free_port()
    sep = "&" if "?" in url else "?"
    env = dict(os.environ, COUNCILPLAN_DATABASE_URL=f"{url}{sep}options=-csearch_path%3D{schema}")
    command = [sys.executable, "-m", "councilplan", "serve", "--port", str(port), "--no-worker"]
    proc = subprocess.Popen([*command, "--keep-alive", "120"], env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"councilplan serve exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("councilplan serve did not answer within two minutes")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def log_in(store, fed: Federation, accounts: Sequence[int], threads: int) -> dict[int, str]:
    """A bearer token for each account, by the API's login (its password checked)."""

    def one(account: int) -> tuple[int, str]:
        found = auth.login(store, fed.username[account], PASSWORD, kind="bearer")
        if found is None:
            raise SystemExit(f"account {account} could not log in")
        return found

    return dict(in_threads(threads, one, accounts))


# ---------------------------------------------------------------------------------------------
# 2. Computing.


class Stopwatch:
    """Time every call of the named module attributes while active: {label: seconds} summed over
    calls. Patching a module's attribute reaches a caller that looks the name up at call time
    (a module global, or an import inside the calling function)."""

    def __init__(self, targets: Sequence[tuple[object, str, str]]):
        self.targets = targets
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def running(self) -> Iterator[Stopwatch]:
        originals = []
        for module, name, label in self.targets:
            original = getattr(module, name)
            originals.append((module, name, original))
            setattr(module, name, self._timed(original, label))
        try:
            yield self
        finally:
            for module, name, original in reversed(originals):
                setattr(module, name, original)

    def _timed(self, fn: Callable, label: str) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started

        return timed


JOB_PARTS = [
    (cycle, "compute_variant", "compute_variant"),
    (cycle, "period_inputs", "reading the statements (period_inputs)"),
    (archive_module, "economy_from_archive", "reading the bundle (economy_from_archive)"),
    (cycle, "needs_frame", "needs frame"),
    (cycle, "plan_limits", "limits"),
    (planning_module, "plan", "engine (plan)"),
    (published_module, "publish", "publishing (publish)"),
    (published_module, "plan_digest", "plan digest"),
    (published_module, "inputs_digest", "inputs digest"),
]


def run_job(store, at: datetime) -> dict:
    """``run_next_job`` on the oldest queued variant, timed whole and by part."""
    watch = Stopwatch(JOB_PARTS)
    started = time.perf_counter()
    with watch.running():
        variant = s.run_next_job(store, worker="benchmark", now=lambda: at)
    total = time.perf_counter() - started
    if variant is None or variant.status != "done":
        raise SystemExit(f"the job did not compute the variant: {variant}")
    parts = dict(watch.seconds)
    compute = parts.pop("compute_variant")
    named = sum(parts.values())
    parts["the rest of compute_variant (its read transaction, archive fetch, progress, ...)"] = (
        compute - named
    )
    parts["claiming, writing the result and the record (run_next_job less compute_variant)"] = (
        total - compute
    )
    return {"total_s": total, "parts": parts, "variant": variant}


def engine_alone(inputs: Inputs, fed: Federation, repeats: int) -> dict:
    """The engine on the same inputs, no database: the archive read (cache emptied) and
    ``plan`` on needs built from the stated rows, and ``publish``; the median of ``repeats``
    runs of each."""
    read, planned_s, publish_s = [], [], []
    rows = [
        (row["product"], str(c), float(row["quantity"]), float(row["priority"]))
        for c, needs in zip(fed.consumers, inputs.needs, strict=True)
        for row in needs
    ]
    needs = pd.DataFrame(rows, columns=["product", "council", "amount", "priority"])
    workplaces = {
        str(c): {t["technique"]: None for t in techniques}
        for c, techniques in zip(fed.workplaces, inputs.techniques_of, strict=True)
    }
    for _ in range(repeats):
        archive_module._cache.clear()
        started = time.perf_counter()
        economy = economy_from_archive(inputs.archive)
        read.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = plan(economy, needs, Limits())
        planned_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        published_module.publish(result, economy, workplaces=workplaces)
        publish_s.append(time.perf_counter() - started)
    return {
        "read_s": float(np.median(read)),
        "plan_s": float(np.median(planned_s)),
        "publish_s": float(np.median(publish_s)),
        "objective": float(result.objective),
        "method": result.method,
        "need_rows": len(needs),
    }


# ---------------------------------------------------------------------------------------------
# 3. Adoption and reading targets.


def adopt(store, fed: Federation, period_id: int, names: Sequence[str]) -> float:
    """The computed variants to the federation's vote; the first delegate ranks them in the
    order of ``names``; the ballot closes. Seconds ``open_adoption`` took."""
    delegate = fed.delegate[fed.consumers[0]]
    at = T0 + 20 * DAY
    started = time.perf_counter()
    ballot = s.open_adoption(
        store, period_id=period_id, actor_id=delegate, closes_at=at + 3 * DAY, now=at
    )
    opened_s = time.perf_counter() - started
    s.cast_vote(
        store,
        ballot_id=ballot.id,
        voter_id=delegate,
        choice=list(names),
        now=at,
    )
    s.close_ballot(store, ballot_id=ballot.id, now=at + 3 * DAY)
    if s.get_period(store, period_id, now=at + 3 * DAY).status != "adopted":
        raise SystemExit("the federation's ballot adopted no plan")
    return opened_s


def read_targets(
    store, period_id: int, workplaces: Sequence[int], cold: int, warm: int, budget: float, seed
) -> dict:
    """``council_targets`` of random workplace councils: ``cold`` reads, each after emptying the
    published-plan cache, then up to ``warm`` reads or ``budget`` seconds of them (at least 5)."""
    rng = random.Random(seed)
    cold_s, warm_s = [], []
    for _ in range(cold):
        cycle._PUBLISHED.items.clear()  # as a fresh server process finds it
        started = time.perf_counter()
        targets = s.council_targets(store, period_id=period_id, council_id=rng.choice(workplaces))
        cold_s.append(time.perf_counter() - started)
        if targets.workplace is None:
            raise SystemExit(f"council {targets.council_id} has no targets in the adopted plan")
    until = time.perf_counter() + budget
    for i in range(warm):
        if i >= 5 and time.perf_counter() > until:
            break
        started = time.perf_counter()
        s.council_targets(store, period_id=period_id, council_id=rng.choice(workplaces))
        warm_s.append(time.perf_counter() - started)
    cold_s.sort()
    warm_s.sort()
    return {
        "cold": len(cold_s),
        "cold_p50_ms": 1000 * quantile(cold_s, 0.5),
        "cold_max_ms": 1000 * quantile(cold_s, 1.0),
        "warm": len(warm_s),
        "warm_p50_ms": 1000 * quantile(warm_s, 0.5),
        "warm_p99_ms": 1000 * quantile(warm_s, 0.99),
    }


# ---------------------------------------------------------------------------------------------


def fresh_schema(url: str) -> tuple[str, Callable[[], None]]:
    schema = f"cp_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    return schema, drop


def profiled(fn: Callable[[], object], lines: int) -> str:
    """cProfile of ``fn()``: councilplan's functions by cumulative time, then every function by
    its own time."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        fn()
    finally:
        profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats("councilplan", lines)
    stats.sort_stats("tottime").print_stats(lines // 2)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COUNCILPLAN_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--councils", type=int, default=10_000, help="consumer councils")
    parser.add_argument("--workplaces", type=int, default=1_000, help="workplace councils")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8, help="threads stating at once")
    parser.add_argument(
        "--http",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="state a third of the statements over the JSON API (where it has the routes)",
    )
    parser.add_argument("--setup-threads", type=int, default=4)
    parser.add_argument("--engine-repeats", type=int, default=3)
    parser.add_argument("--cold-reads", type=int, default=3)
    parser.add_argument("--warm-reads", type=int, default=1_000)
    parser.add_argument(
        "--read-budget", type=float, default=60, help="seconds the warm reads may take at most"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile stating and computing")
    parser.add_argument(
        "--verify", action="store_true", help="verify the record against the tables at the end"
    )
    args = parser.parse_args()
    if args.councils < 1 or args.workplaces < 1 or args.products < NEEDS_PER_COUNCIL[1]:
        parser.error(
            f"need --councils >= 1, --workplaces >= 1, --products >= {NEEDS_PER_COUNCIL[1]}"
        )
    console = Console() if sys.stdout.isatty() else Console(width=120)
    os.environ.setdefault("COUNCILPLAN_AUDIT_KEY_FILE", str(Path(tempfile.mkdtemp()) / "audit.key"))

    def say(text: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text}")

    with tempfile.TemporaryDirectory(prefix="councilplan-bench-") as tmp:
        say(
            f"economy: {args.products:,} products x 2 techniques, {args.councils:,} councils' needs"
        )
        inputs = make_inputs(args.products, args.councils, args.workplaces, args.seed, Path(tmp))
    schema, drop = fresh_schema(args.database_url)
    store = open_store(args.database_url, schema=schema, pool_size=max(args.clients, 8) + 2)
    try:
        report = run(store, schema, inputs, args, say)
        if args.verify:
            started = time.perf_counter()
            verified = store.verify_record()
            report["verify"] = (verified.ok, time.perf_counter() - started)
        with store.engine.connect() as conn:
            report["postgres"] = conn.exec_driver_sql("SHOW server_version").scalar()
    finally:
        store.dispose()
        drop()
    print_report(console, args, inputs, report)


def run(store, schema: str, inputs: Inputs, args, say) -> dict:
    report: dict = {}
    say(
        f"set-up: {args.councils:,} consumer and {args.workplaces:,} workplace councils, "
        f"{args.setup_threads} threads"
    )
    fed = build_federation(store, args.councils, args.workplaces, args.setup_threads, say)
    started = time.perf_counter()
    bundle = s.add_bundle(
        store,
        actor_id=fed.delegate[fed.consumers[0]],
        name=inputs.economy_name,
        archive=inputs.archive,
        now=T0 - DAY,
    )
    fed.steps.append(("add_bundle", 1, time.perf_counter() - started))
    started = time.perf_counter()
    period, proposed_s = open_the_period(store, fed, bundle.digest)
    fed.steps.append(("propose_period", 1, proposed_s))
    fed.steps.append(
        ("the period's ballot (vote, close)", 2, time.perf_counter() - started - proposed_s)
    )
    report["setup"] = fed.steps

    batch = statements(fed, inputs, args.seed)
    http = args.http and api_states()
    if not http:
        report["http_not_measured"] = (
            "--no-http" if not args.http else "the JSON API has no statement routes here"
        )
    third = len(batch) // 3
    if http:
        alone, together, via_api = batch[:third], batch[third : 2 * third], batch[2 * third :]
    else:
        half = len(batch) // 2
        alone, together, via_api = batch[:half], batch[half:], []
    if args.profile:
        profile_n = min(20, len(alone))
        say(f"profiling {profile_n} statements (stated again below: each replaces its own)")
        report["profile_stating"] = profiled(
            lambda: [state(store, period.id, st) for st in alone[:profile_n]], 25
        )
    say(f"stating: {len(alone):,} statements from one client, in-process")
    report["single"] = stating_run(alone, 1, in_process(store, period.id), store.engine)
    say(f"stating: {len(together):,} statements from {args.clients} threads, in-process")
    report["concurrent"] = stating_run(
        together, args.clients, in_process(store, period.id), store.engine
    )
    if via_api:
        say(f"logging in the {len(via_api):,} delegates who state over HTTP")
        tokens = log_in(store, fed, [st.actor for st in via_api], args.setup_threads)
        with serving(args.database_url, schema) as (base, server):
            client = over_http(base, period.id, tokens)
            started = time.perf_counter()
            with client() as send:
                send(via_api[0])
            report["http_first_ms"] = 1000 * (time.perf_counter() - started)
            say(f"stating: {len(via_api) - 1:,} statements from {args.clients} clients over HTTP")
            report["http"] = stating_run(via_api[1:], args.clients, client, store.engine, server)
    in_force = s.list_statements(store, period_id=period.id)
    if len(in_force) != len(batch):
        raise SystemExit(f"{len(in_force)} statements in force, {len(batch)} stated")

    at = T0 + 11 * DAY
    requester = fed.delegate[fed.consumers[0]]
    names = ["least-labour", "least-labour-again"] + ["least-labour-profiled"] * args.profile
    for name in names:
        s.request_variant(store, period_id=period.id, actor_id=requester, name=name, now=at)
    # A fresh worker process has read no bundle.
    archive_module._cache.clear()
    cycle._ECONOMIES.items.clear()
    say("computing the least-labour variant (cold)")
    report["cold"] = run_job(store, at)
    say("computing it again (warm)")
    report["warm"] = run_job(store, at)
    if args.profile:
        say("computing it a third time (warm), under cProfile")
        report["profile_computing"] = profiled(lambda: run_job(store, at), 30)
    say("the engine alone on the same inputs")
    report["engine"] = engine_alone(inputs, fed, args.engine_repeats)
    report["service_labour"] = report["cold"]["variant"].summary["total_labour"]

    say("adoption and reading targets")
    report["open_adoption_s"] = adopt(store, fed, period.id, names)
    report["reads"] = read_targets(
        store,
        period.id,
        fed.workplaces,
        args.cold_reads,
        args.warm_reads,
        args.read_budget,
        args.seed,
    )
    with store.reading() as tx:
        report["result_bytes"] = tx.connection.exec_driver_sql(
            "SELECT pg_column_size(result) FROM variants ORDER BY id LIMIT 1"
        ).scalar()
    return report


def print_report(console: Console, args, inputs: Inputs, r: dict) -> None:
    single, concurrent = r["single"], r["concurrent"]
    cold, warm, engine = r["cold"], r["warm"], r["engine"]
    size = (
        f"{args.councils:,} consumer + {args.workplaces:,} workplace councils, "
        f"{args.products:,} products x 2 techniques ({len(inputs.archive) / 1e6:,.1f} MB bundle)"
    )

    setup = Table(title=f"Set-up through the acts: {size}")
    for col in ("step", "acts", "seconds", "acts/s"):
        setup.add_column(col, justify="left" if col == "step" else "right")
    for name, seconds in inputs.seconds.items():
        setup.add_row(name, "-", f"{seconds:,.1f}", "-")
    for name, acts, seconds in r["setup"]:
        setup.add_row(name, f"{acts:,}", f"{seconds:,.2f}", f"{acts / seconds:,.0f}")
    console.print(setup)

    runs = [("1 client, acts", single), (f"{args.clients} threads, acts", concurrent)]
    if "http" in r:
        runs.append((f"{args.clients} clients, HTTP", r["http"]))
    how = (
        f"; HTTP: POST /api/periods/{{id}}/councils/{{id}}/needs|techniques to councilplan serve "
        f"(one process) with the delegate's bearer token, httpx, a keep-alive connection per "
        f"client; its first statement, stated alone before (the new server reads the bundle): "
        f"{r['http_first_ms']:,.0f} ms"
        if "http" in r
        else f"; over HTTP not measured ({r['http_not_measured']})"
    )
    stating = Table(
        title="Stating: every council's delegate states once (state_needs / state_techniques)",
        caption=f"rows: needs rows + technique and hours rows; each consumer council states "
        f"{NEEDS_PER_COUNCIL[0]}-{NEEDS_PER_COUNCIL[1]} needs, each workplace "
        f"~{inputs.techniques // args.workplaces} techniques; acts: the service's functions "
        f"in this process{how}",
        caption_justify="left",
    )
    stating.add_column("")
    for name, _ in runs:
        stating.add_column(name, justify="right")
    rows = [
        ("statements", lambda x: f"{x['statements']:,}"),
        ("rows", lambda x: f"{x['rows']:,}"),
        ("seconds", lambda x: f"{x['wall_s']:,.1f}"),
        ("statements/s", lambda x: f"{x['per_s']:,.1f}"),
        ("p50 ms", lambda x: f"{x['p50_ms']:,.1f}"),
        ("p99 ms", lambda x: f"{x['p99_ms']:,.1f}"),
        ("max ms", lambda x: f"{x['max_ms']:,.1f}"),
        ("p50 ms, needs", lambda x: f"{x['needs_p50_ms']:,.1f}"),
        ("p50 ms, techniques", lambda x: f"{x['techniques_p50_ms']:,.1f}"),
        ("mean sessions waiting: period's row", lambda x: f"{x['period_waiting']:,.2f}"),
        ("mean sessions waiting: any lock", lambda x: f"{x['any_waiting']:,.2f}"),
        ("CPU/s: this process", lambda x: f"{x['cpu']['this process']:,.2f}"),
        ("CPU/s: API server", lambda x: f"{x['cpu']['server']:,.2f}"),
        ("CPU/s: PostgreSQL (all sessions)", lambda x: f"{x['cpu']['PostgreSQL']:,.2f}"),
    ]
    for label, value in rows:
        stating.add_row(label, *(value(x) for _, x in runs))
    console.print(stating)

    computing = Table(
        title=f"Computing the least-labour variant ({engine['need_rows']:,} need rows): "
        "the service's job against the engine alone",
        caption="cold: economy cache emptied first, as a new worker process; warm: the same "
        "inputs again in the same process. Engine alone: median of "
        f"{args.engine_repeats}, no database.",
        caption_justify="left",
    )
    computing.add_column("part")
    for col in ("service, cold s", "service, warm s", "engine alone s"):
        computing.add_column(col, justify="right")
    alone = {
        "reading the bundle (economy_from_archive)": engine["read_s"],
        "engine (plan)": engine["plan_s"],
        "publishing (publish)": engine["publish_s"],
    }
    for part in cold["parts"]:
        computing.add_row(
            part,
            f"{cold['parts'][part]:,.3f}",
            f"{warm['parts'].get(part, 0.0):,.3f}",
            f"{alone[part]:,.3f}" if part in alone else "",
        )
    computing.add_section()
    bare = engine["read_s"] + engine["plan_s"]
    published = bare + engine["publish_s"]
    computing.add_row(
        "total (engine alone: reading the bundle + plan)",
        f"{cold['total_s']:,.2f}",
        f"{warm['total_s']:,.2f}",
        f"{bare:,.2f}",
    )

    def overhead(job: dict, against: float) -> str:
        return f"{job['total_s'] - against:,.2f} ({job['total_s'] / against:,.1f}x)"

    computing.add_row(
        "service overhead: service - engine alone (ratio)",
        overhead(cold, bare),
        overhead(warm, bare),
        "",
    )
    computing.add_row(
        f"service overhead over engine alone + publish ({published:,.2f} s)",
        overhead(cold, published),
        overhead(warm, published),
        "",
    )
    console.print(computing)
    rel = abs(r["service_labour"] - engine["objective"]) / abs(engine["objective"])
    console.print(
        f"total labour: service {r['service_labour']:,.6f} h, engine alone "
        f"{engine['objective']:,.6f} h (relative difference {rel:.1e}); method {engine['method']}; "
        f"stored result {r['result_bytes'] / 1e6:,.1f} MB (pg_column_size)"
    )

    reads = r["reads"]
    reading = Table(title="Reading a workplace's targets: council_targets")
    for col in ("", "reads", "p50 ms", "p99 / max ms"):
        reading.add_column(col, justify="left" if not col else "right")
    reading.add_row(
        "cold (published plan loaded)",
        f"{reads['cold']:,}",
        f"{reads['cold_p50_ms']:,.1f}",
        f"{reads['cold_max_ms']:,.1f} (max)",
    )
    reading.add_row(
        "warm",
        f"{reads['warm']:,}",
        f"{reads['warm_p50_ms']:,.2f}",
        f"{reads['warm_p99_ms']:,.2f} (p99)",
    )
    console.print(reading)
    console.print(
        f"open_adoption (the federation's electorate fixed): {r['open_adoption_s']:,.2f} s"
    )
    if "verify" in r:
        ok, seconds = r["verify"]
        console.print(
            f"record verified against the tables: {'ok' if ok else 'MISMATCH'} ({seconds:,.1f} s)"
        )
    for key in ("profile_stating", "profile_computing"):
        if key in r:
            console.print(f"[bold]{key}[/bold]")
            console.print(r[key], markup=False, highlight=False)
    console.print(
        f"machine: {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}; PostgreSQL {r['postgres']}"
    )


if __name__ == "__main__":
    main()
