"""PostgreSQL: acts at READ COMMITTED with explicit row locks, the acts' common statements sent
through psycopg directly, and the audit chain appended in groups.

An act reads with ``lock="share" | "update"`` what it is about to depend on. Its audit events go
to ``audit_pending`` with its own COMMIT (:meth:`PgRecords.commit_pg`); :func:`seal_pg` then
chains every staged event under the head's row lock, one commit for all the acts that committed
meanwhile (group commit). A vote is one call of ``councilplan_cast_vote`` (migrations 0006,
0008), awaited on the web API's event loop: :class:`LoopVoter` casts and chains the votes that
arrive together in one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from councilplan.audit.chain import (
    canonical_json,
    entry_hash_canonical,
    event_payload,
    utc_timestamp,
)
from councilplan.audit.record import event_mac, mac_matches
from councilplan.councils.service import Duplicate, GuardRefused, QuickVote
from councilplan.store.record import State, with_commitment
from councilplan.store.sql import RecordedEvent, SqlRecords, SqlStore
from councilplan.store.tables import metadata


def postgres_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> Engine:
    """An engine for the PostgreSQL database at ``url`` (a ``postgresql+psycopg`` URL), its
    tables looked up in ``schema`` when given."""
    connect_args = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,  # no pre-ping: it would cost a round trip on every act
        connect_args=connect_args,
    )


# -- statements ------------------------------------------------------------------------------


@functools.cache
def _get_sql(table: str, lock: str | None) -> str:
    t = metadata.tables[table]
    (pk,) = t.primary_key.columns
    sql = f'SELECT * FROM "{t.name}" WHERE "{pk.name}" = %s'
    if lock:
        sql += " FOR SHARE" if lock == "share" else " FOR UPDATE"
    return sql


@functools.cache
def _find_sql(
    table: str, where: tuple[tuple[str, bool], ...], order_by: str | None, limited: bool
) -> str:
    t = metadata.tables[table]
    clauses = [
        f'"{t.c[column].name}" IS NULL' if is_null else f'"{t.c[column].name}" = %s'
        for column, is_null in where
    ]
    sql = f'SELECT * FROM "{t.name}"'
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if order_by:
        sql += f' ORDER BY "{t.c[order_by].name}"'
    if limited:
        sql += " LIMIT %s"
    return sql


@functools.cache
def _insert_sql(table: str, given: tuple[str, ...]) -> tuple[str, tuple[str, ...], bool]:
    """The INSERT for the columns ``given`` plus those with a Python-side default, the columns
    in parameter order, and whether the primary key is among them."""
    t = metadata.tables[table]
    columns = tuple(t.c[c].name for c in given) + tuple(
        c.name for c in t.columns if c.name not in given and c.default is not None
    )
    pk = list(t.primary_key.columns)
    key_given = len(pk) == 1 and pk[0].name in given
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{t.name}" ({names}) VALUES ({", ".join(["%s"] * len(columns))})'
    if len(pk) == 1 and not key_given:
        sql += f' RETURNING "{pk[0].name}"'
    return sql, columns, key_given


def _value(column: sa.Column, value: Any) -> Any:
    return Jsonb(value) if isinstance(column.type, sa.JSON) and value is not None else value


def _default(column: sa.Column) -> Any:
    return column.default.arg  # scalar defaults only in tables.py


# A ballot's votes as one text of [choice, weight] arrays, then the rows deleted: two statements
# take less than half the time of one DELETE ... RETURNING feeding an aggregate.
_VOTES_TEXT = (
    "SELECT string_agg('[' || choice::text || ',' || weight || ']', ',') "
    "FROM votes WHERE ballot_id = %s"
)
_DELETE_VOTES = "DELETE FROM votes WHERE ballot_id = %s"
_BALLOT_VOTES = "SELECT id, choice::text, weight FROM votes WHERE ballot_id = %s"

# The audit path: an act stages its events with its own COMMIT; chaining takes the head's lock.
_STAGE = (
    "INSERT INTO audit_pending (kind, payload, recorded_at, state, mac) "
    "VALUES (%s, %s, %s, %s, %s) RETURNING id"
)
_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
_STAGED = "SELECT id, kind, payload, recorded_at, state, mac FROM audit_pending ORDER BY id"
_SEALED = "SELECT event_id, seq, prev_hash, hash FROM audit_log WHERE event_id = ANY(%s)"
_CHAIN = (
    "INSERT INTO audit_log (seq, kind, payload, recorded_at, prev_hash, hash, event_id, state, "
    "mac) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_MOVE_HEAD = "UPDATE audit_head SET seq = %s, hash = %s, prev_hash = %s WHERE id = 1"
_UNSTAGE = "DELETE FROM audit_pending WHERE id = ANY(%s)"

_CAST_VOTE = "SELECT * FROM councilplan_cast_vote(%s, %s, %s, %s, %s)"
# Several votes in one statement, councilplan_cast_vote for each in the order given, sent as one
# JSON array (psycopg would quote five arrays element by element).
_CAST_VOTES = (
    "SELECT r.* FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS v(vote, i) "
    "CROSS JOIN LATERAL councilplan_cast_vote((v.vote->>0)::integer, (v.vote->>1)::integer, "
    "v.vote->2, (v.vote->>3)::timestamptz, v.vote->>4) AS r ORDER BY v.i"
)
_LEDGER_POST = "SELECT * FROM councilplan_ledger_post_many(%s)"
_LEDGER_ACCOUNT = "SELECT * FROM ledger_accounts WHERE key = %s"
# An account's transfers newest first: each side's newest on its own index, merged (as
# SqlRecords.transfers_of).
_SIDE = (
    "(SELECT * FROM transfers WHERE {side} = %(account)s{before} ORDER BY id DESC LIMIT %(limit)s)"
)
_TRANSFERS_OF, _TRANSFERS_OF_BEFORE = (
    f"SELECT * FROM ({_SIDE.format(side='debit_id', before=b)} UNION ALL "
    f"{_SIDE.format(side='credit_id', before=b)}) AS t ORDER BY id DESC LIMIT %(limit)s"
    for b in ("", " AND id < %(before)s")
)
_LEDGER_PERSONS = (
    "SELECT c.ledger_persons FROM periods p JOIN councils c ON c.id = p.federation_id "
    "WHERE p.id = %s"
)
# The advisory lock on a ballot's votes: councilplan_cast_vote takes it in share mode, whatever
# changes the ballot in exclusive mode. 1129335874 is "CPLB", councilplan's key space.
_BALLOT_VOTES_LOCK = "SELECT pg_advisory_xact_lock(1129335874, %s)"


# -- errors and waiting ----------------------------------------------------------------------


def _translated(error: psycopg.Error, table: str, sql: str, params: Any) -> Exception:
    """The service's exception for a psycopg error: a guard's refusal, a taken key, or else
    SQLAlchemy's wrapper (as for statements run through SQLAlchemy)."""
    text = str(error).lower()
    if "closed" in text or "append-only" in text:
        return GuardRefused(str(error).splitlines()[0])
    if isinstance(error, psycopg.errors.UniqueViolation):
        return Duplicate(table, text)
    return DBAPIError.instance(sql, params, error, psycopg.Error)


async def _translate_async(execution: Awaitable, table: str) -> None:
    try:
        await execution
    except psycopg.Error as error:
        raise _translated(error, table, "", None) from error


def _resolve(future: asyncio.Future | Future, outcome: Any) -> None:
    """Hand a waiting act its outcome, or the error; nothing when it stopped waiting (a
    cancelled request)."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _lost(event_id: int) -> RuntimeError:
    # Only if someone deleted the staged event by hand.
    return RuntimeError(
        f"audit event {event_id} was committed but is neither in audit_pending nor in "
        "audit_log; run `councilplan audit verify`"
    )


# -- the audit chain, in groups ----------------------------------------------------------------


def seal_pg(raw: Any, key: bytes, mine: Sequence[int] = ()) -> dict[int, tuple[int, str, str]]:
    """Chain the staged audit events into audit_log: group commit of the hash chain.

    ``raw`` is a psycopg connection outside any transaction; ``mine`` the staged event ids the
    caller waits for. Takes the head's row lock, and unless every event in ``mine`` was chained
    meanwhile by another caller (then it just lets go), chains *every* committed staged event
    in id order and commits: every one signed under ``key`` (:func:`_chain_rows`). Returns
    {event id: (seq, prev_hash, hash)} for ``mine`` and for every event it chained.
    """
    mine = list(mine)
    with raw.pipeline():
        head = raw.execute(_HEAD)  # waits here while another batch is being chained
        staged = raw.execute(_STAGED)
        sealed = raw.execute(_SEALED, [mine])
    seq, hash_ = head.fetchone()
    staged = staged.fetchall()
    found = {event_id: tuple(rest) for event_id, *rest in sealed.fetchall()}
    if not staged or (mine and len(found) == len(mine)):
        raw.rollback()
        return found
    rows = _chain_rows(seq, hash_, staged, found, key)
    if not rows:
        raw.rollback()
        return found
    with raw.pipeline():
        raw.cursor().executemany(_CHAIN, rows)
        raw.execute(_MOVE_HEAD, (rows[-1][0], rows[-1][5], rows[-1][4]))
        raw.execute(_UNSTAGE, [[r[6] for r in rows]])
        raw.commit()
    return found


def _chain_rows(
    seq: int, hash_: str, staged: list, found: dict, key: bytes, vouched: Sequence[int] = ()
) -> list[tuple]:
    """audit_log rows for the ``staged`` events after the head ``(seq, hash_)``; notes each
    event's (seq, prev_hash, hash) in ``found``. Only events an act of this service staged are
    chained: those signed under ``key``, and those in ``vouched``, the one-call votes cast in
    the caller's own transaction, which the database could not sign (they are signed here, with
    the commitment to their state). Anything else stays staged for ``audit verify`` to name."""
    vouched = set(vouched)
    rows = []
    for event_id, kind, payload, recorded_at, state, mac in staged:
        if event_id in vouched:
            kept = State(json.loads(state)["changes"])
            body = canonical_json(with_commitment(json.loads(payload), kept))
            state, mac = kept.text(), event_mac(key, kind, body, recorded_at)
        elif mac_matches(key, mac, kind, payload.encode(), recorded_at):
            body = payload.encode()  # canonical already: the act wrote it so, and it is signed
        else:
            continue
        prev, seq = hash_, seq + 1
        hash_ = entry_hash_canonical(seq, kind, body, recorded_at, prev)
        rows.append((seq, kind, body.decode(), recorded_at, prev, hash_, event_id, state, mac))
        found[event_id] = (seq, prev, hash_)
    return rows


class Chainer:
    """Chains the audit events of this process's acts: one thread, batches of whatever is staged.

    Acts that each called :func:`seal_pg` would queue for the head's row lock one by one, each
    finding its events chained by the one before. Chainers of other processes may chain some
    of the events first; seal_pg reports those too.
    """

    def __init__(self, engine: Engine, key: bytes):
        self.engine = engine
        self.key = key
        self._wake = threading.Condition()
        self._waiting: dict[int, Future] = {}
        self._thread: threading.Thread | None = None
        self._closing = False
        self.gather_s = 0.002

    def chained(self, event_ids: Sequence[int], timeout: float = 60) -> dict[int, tuple]:
        """{event id: (seq, prev_hash, hash)} once each committed event is in the chain."""
        with self._wake:
            futures = {e: self._waiting.setdefault(e, Future()) for e in event_ids}
            self._closing = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="councilplan-audit-chainer", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        return {e: f.result(timeout) for e, f in futures.items()}

    def close(self) -> None:
        """Let the thread end once nothing waits (the store is being disposed of)."""
        with self._wake:
            self._closing = True
            self._wake.notify()

    def _run(self) -> None:
        busy = False
        while True:
            if busy:
                # Under load, let a batch gather (group commit, as PostgreSQL's commit_delay):
                # a batch's fixed cost outweighs its events'. An act alone never waits here.
                time.sleep(self.gather_s)
            with self._wake:
                while not self._waiting and not self._closing:
                    self._wake.wait()
                if not self._waiting:
                    self._thread = None
                    return
                batch, self._waiting = self._waiting, {}
            busy = len(batch) > 1
            try:
                with self.engine.connect() as connection:
                    found = seal_pg(connection.connection.dbapi_connection, self.key, list(batch))
            except Exception as error:  # noqa: BLE001 - handed to every waiting act
                found = dict.fromkeys(batch, error)
            for event_id, future in batch.items():
                _resolve(future, found.get(event_id) or _lost(event_id))


class LedgerPoster:
    """Posts the one-step ledger acts of this process's threads in batches (group commit): the
    acts that arrive while a batch is in the database go together in the next, in one
    transaction that posts them all (one statement, ``councilplan_ledger_post_many``), signs
    their events (with the changes the database reports) and chains every staged event, theirs
    included, before it commits. Every act holds a federation's account (its common fund, its
    goods) from its lock to COMMIT; a batch takes that lock once for all of its acts.

    An act alone never waits for others: its batch goes at once. ``in_flight`` batches may be
    in the database at once (one waits for the other's accounts, but prepares and signs
    meanwhile). Accounts are locked by each act in one order (the service's ``_lock_order``)
    and the chain's head last, so batches and single acts wait for each other without
    deadlock. Should a batch fail (it then wrote
    nothing), each of its acts is tried alone, so that an error belongs to the act that caused
    it.
    """

    def __init__(self, engine: Engine, key: bytes, *, in_flight: int = 2, most: int = 200):
        self.engine = engine
        self.key = key
        self.in_flight = in_flight
        self.most = most
        self._lock = threading.Lock()
        self._queue: list[tuple[dict, Any, Future]] = []
        self._running = 0  # threads posting batches, at most in_flight

    def post(self, act: Mapping[str, Any], event: Any) -> tuple:
        """``(outcome, {account key: id})`` once ``act`` (check, accounts, transfers, now,
        kind) is posted and its event, ``event(ids)``, chained and committed; or the outcome
        that kept it from being posted, having written nothing. It waits as long as the
        database takes: an act given up on while its batch commits would be kept unanswered."""
        future: Future = Future()
        with self._lock:
            self._queue.append((act, event, future))
            if self._running < self.in_flight:
                self._running += 1
                threading.Thread(
                    target=self._run, name="councilplan-ledger-poster", daemon=True
                ).start()
        return future.result()

    def _run(self) -> None:
        while True:
            with self._lock:  # found empty and counted out under one lock: no act left behind
                if not self._queue:
                    self._running -= 1
                    return
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
            try:
                self._post(batch)  # hands every act of the batch its outcome or error
            except BaseException as error:  # an interpreter exit, say: count this thread out
                with self._lock:
                    self._running -= 1
                for *_, future in batch:
                    _resolve(future, error)
                raise

    def _post(self, batch: list[tuple[dict, Any, Future]]) -> None:
        try:
            with self.engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                try:
                    results = self._posted(raw, batch)
                except BaseException:
                    raw.rollback()
                    raise
        except psycopg.Error as error:
            if len(batch) == 1:
                _resolve(batch[0][2], _translated(error, "transfers", "", None))
            else:
                for item in batch:
                    self._post([item])
            return
        except Exception as error:  # noqa: BLE001 - handed to every waiting act
            for *_, future in batch:
                _resolve(future, error)
            return
        for (*_, future), result in zip(batch, results, strict=True):
            _resolve(future, result)

    def _posted(self, raw: Any, batch: list[tuple[dict, Any, Future]]) -> list[tuple]:
        acts = [
            {**act, "now": act["now"].isoformat(), "now_text": utc_timestamp(act["now"])}
            for act, _, _ in batch
        ]
        rows = raw.execute(_LEDGER_POST, (Jsonb(acts),)).fetchall()
        events, results = [], []
        for (act, event, _), (outcome, changes, ids) in zip(batch, rows, strict=True):
            results.append((outcome, ids or {}))
            if outcome == "posted":
                kind = act["kind"]
                recorded = RecordedEvent(
                    kind,
                    event_payload(kind, event(ids)),
                    utc_timestamp(act["now"]),
                    State(changes),
                )
                recorded.seal(self.key)
                events.append(recorded)
        if events:
            with raw.pipeline():
                raw.cursor().executemany(
                    _STAGE,
                    [
                        (e.kind, e.body.decode(), e.recorded_at, e.state.text(), e.mac)
                        for e in events
                    ],
                )
                head = raw.execute(_HEAD)  # after the accounts: see above
                staged = raw.execute(_STAGED)
            seq, hash_ = head.fetchone()
            rows = _chain_rows(seq, hash_, staged.fetchall(), {}, self.key)
            with raw.pipeline():  # rows holds this batch's events at least: they are signed
                raw.cursor().executemany(_CHAIN, rows)
                raw.execute(_MOVE_HEAD, (rows[-1][0], rows[-1][5], rows[-1][4]))
                raw.execute(_UNSTAGE, [[r[6] for r in rows]])
        raw.commit()
        return results


class LoopVoter:
    """Votes awaited on an event loop, cast and chained in batches: the votes that arrive while a
    batch is in the database go together in the next, in one transaction that casts them all
    (one statement) and chains every staged audit event, theirs included (as :func:`seal_pg`).

    Why: where PostgreSQL shares the server's cores, each round trip and commit costs both sides
    more CPU than the statements in it. An act alone never waits: its batch goes at once.

    ``in_flight``: batches in the database at once. A batch is sorted by (ballot, voter), so two
    batches take their participation keys in the same order; the chain head is locked last,
    after the votes, so whoever holds it waits for nothing else: no deadlock. Should a batch
    fail (it then wrote nothing), each of its votes is tried alone, so that an error belongs to
    the vote that caused it.
    """

    def __init__(
        self, pool: AsyncConnectionPool, key: bytes, *, in_flight: int = 1, most: int = 200
    ):
        self.pool = pool
        self.key = key
        self.in_flight = in_flight
        self.most = most
        self._queue: list[tuple[tuple, asyncio.Future]] = []
        self._tasks: set[asyncio.Task] = set()
        self._running = 0  # counted here, not by done tasks: see _run

    async def cast(self, params: tuple) -> tuple:
        """(outcome, weight, audit seq or None, purpose) for councilplan_cast_vote(*params),
        its event chained and committed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((params, future))
        if self._running < self.in_flight:
            self._running += 1
            task = loop.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _run(self) -> None:
        # No await between finding the queue empty and counting this runner out, so a vote
        # queued meanwhile either is found here or finds a runner slot free (a task's own done
        # callbacks run later: counting by them left such a vote waiting for ever).
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
                batch.sort(key=lambda item: item[0][:2])
                await self._cast(batch)
        finally:
            self._running -= 1

    async def _cast(self, batch: list[tuple[tuple, asyncio.Future]]) -> None:
        try:
            async with self.pool.connection() as conn, conn.transaction():
                async with conn.pipeline():
                    if len(batch) == 1:
                        votes = await conn.execute(_CAST_VOTE, batch[0][0])
                    else:
                        votes = await conn.execute(_CAST_VOTES, (_as_json(batch),))
                    head = await conn.execute(_HEAD)  # after the votes: see above
                    staged = await conn.execute(_STAGED)
                outcomes = await votes.fetchall()
                seq, hash_ = await head.fetchone()
                found: dict[int, tuple] = {}
                mine = [event_id for outcome, _, event_id, _ in outcomes if outcome == "voted"]
                rows = _chain_rows(seq, hash_, await staged.fetchall(), found, self.key, mine)
                if rows:
                    async with conn.pipeline():
                        await conn.cursor().executemany(_CHAIN, rows)
                        await conn.execute(_MOVE_HEAD, (rows[-1][0], rows[-1][5], rows[-1][4]))
                        await conn.execute(_UNSTAGE, [[r[6] for r in rows]])
        except psycopg.Error as error:
            if len(batch) == 1:
                _resolve(batch[0][1], _translated(error, "votes", "", None))
            else:
                for item in batch:
                    await self._cast([item])
            return
        except Exception as error:  # noqa: BLE001 - handed to every waiting vote
            for _, future in batch:
                _resolve(future, error)
            return
        for (_, future), (outcome, weight, event_id, purpose) in zip(batch, outcomes, strict=True):
            if outcome != "voted":
                _resolve(future, (outcome, weight, None, purpose))
            elif event_id in found:
                _resolve(future, (outcome, weight, found[event_id][0], purpose))
            else:
                _resolve(future, _lost(event_id))


def _as_json(batch: list[tuple[tuple, asyncio.Future]]) -> str:
    """The batch's votes for _CAST_VOTES: [[ballot, voter, choice, now, recorded_at], ...]."""
    return json.dumps(
        [[b, v, choice.obj, now.isoformat(), at] for (b, v, choice, now, at), _ in batch],
        ensure_ascii=False,
    )


# -- records and store -------------------------------------------------------------------------


class PgRecords(SqlRecords):
    """The acts' common statements (reads by key or fields, inserts, a ballot's votes) go to
    psycopg directly, skipping SQLAlchemy's statement building and result processing; psycopg
    gives the same Python values for jsonb and timestamptz."""

    def _raw(self, sql: str, params: Sequence[Any], table: str = "?") -> Any:
        """Run ``sql`` on the psycopg connection directly, rows as dicts."""
        cursor = self.connection.connection.dbapi_connection.cursor(row_factory=dict_row)
        try:
            cursor.execute(sql, params)
        except psycopg.Error as error:
            raise _translated(error, table, sql, params) from error
        return cursor

    def _insert(self, table: str, values: Mapping[str, Any]) -> Any:
        t = self._table(table)
        pk = list(t.primary_key.columns)
        sql, columns, key_given = _insert_sql(table, tuple(values))
        params = [_value(t.c[c], values[c]) if c in values else _default(t.c[c]) for c in columns]
        cursor = self._raw(sql, params, table)
        if len(pk) == 1:
            key = values[pk[0].name] if key_given else cursor.fetchone()[pk[0].name]
        else:
            key = tuple(values[c.name] for c in pk)
        self.changes.insert(table, values, key)
        return key

    # The labour-time accounts' reads, as SqlRecords asks them (a member's page reads all three).

    def ledger_account(self, key: str, *, lock: str | None = None) -> dict | None:
        sql = _LEDGER_ACCOUNT + {None: "", "share": " FOR SHARE", "update": " FOR UPDATE"}[lock]
        return self._raw(sql, (key,), "ledger_accounts").fetchone()

    def transfers_of(
        self, ledger_account_id: int, *, limit: int, before: int | None = None
    ) -> list[dict]:
        sql = _TRANSFERS_OF if before is None else _TRANSFERS_OF_BEFORE
        params = {"account": ledger_account_id, "limit": limit, "before": before}
        return self._raw(sql, params, "transfers").fetchall()

    def ledger_persons(self, period_id: int) -> str | None:
        row = self._raw(_LEDGER_PERSONS, (period_id,), "periods").fetchone()
        return row["ledger_persons"] if row is not None else None

    def ballot_votes(self, ballot_id: int) -> list[tuple]:
        self.pause_collection()
        # Fetched as text and parsed by one json.loads over them all (psycopg would call it once
        # per row); sorted here, as on SQLite, rather than by the collation.
        cursor = self._raw(_BALLOT_VOTES, (ballot_id,), "votes")
        cursor.row_factory = tuple_row
        rows = cursor.fetchall()
        rows.sort()
        choices = json.loads("[" + ",".join(choice for _, choice, _ in rows) + "]")
        return [(choice, weight) for choice, (_, _, weight) in zip(choices, rows, strict=True)]

    def take_votes(self, ballot_id: int) -> list:
        self.pause_collection()
        # One text from the server, one parse here: no row objects for 100,000 votes.
        (text,) = self._raw(_VOTES_TEXT, (ballot_id,), "votes").fetchone().values()
        taken = json.loads("[" + (text or "") + "]")
        deleted = self._raw(_DELETE_VOTES, (ballot_id,), "votes").rowcount
        self.changes.delete("votes", {"ballot_id": ballot_id})
        if deleted != len(taken):  # no vote written in between: the caller locks the ballot
            raise RuntimeError(
                f"ballot {ballot_id}: {deleted} vote rows deleted but {len(taken)} read; "
                "was a vote written without the ballot's locks?"
            )
        return taken

    def _get(self, table: str, key: Any, *, lock: str | None = None) -> dict | None:
        self._table(table)
        if table == "ballots" and lock == "update":
            # Excludes one-call votes in flight, which hold this key in share mode (0008).
            self._raw(_BALLOT_VOTES_LOCK, (key,), table)
        return self._raw(_get_sql(table, lock), (key,), table).fetchone()

    def _find(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        self._table(table)
        where = dict(where or {})
        sql = _find_sql(
            table, tuple((c, where[c] is None) for c in where), order_by, limit is not None
        )
        params = [v for v in where.values() if v is not None]
        if limit is not None:
            params.append(limit)
        return self._raw(sql, params, table).fetchall()

    def commit_pg(self) -> list[int]:
        """Stage the act's audit events (signed, with their states) and COMMIT in one round
        trip; their event ids.

        The act holds no global lock: its events go to audit_pending in its own transaction, so
        concurrent acts commit (and flush the WAL) together; :meth:`PostgresStore.transaction`
        then waits until they are chained (:meth:`chained`).
        """
        events = self.seal_events()
        if not events:
            return []
        raw = self.connection.connection.dbapi_connection
        with raw.pipeline():
            cursors = [
                raw.execute(
                    _STAGE,
                    (e.kind, e.body.decode(), e.recorded_at, e.state.text(), e.mac),
                )
                for e in events
            ]
            raw.commit()
        for event, cursor in zip(events, cursors, strict=True):
            event.event_id = cursor.fetchone()[0]
        return [e.event_id for e in events]

    def chained(self, found: Mapping[int, tuple[int, str, str]]) -> None:
        """Fill in the staged entries from ``found``, {event id: (seq, prev_hash, hash)}."""
        for event in self.events:
            if event.event_id not in found:
                raise _lost(event.event_id)
            event.resolve(*found[event.event_id])


class PostgresStore(SqlStore):
    """A PostgreSQL database. Between :meth:`open_async` and :meth:`close_async` (the web app's
    lifespan) it also answers on an event loop: :meth:`token_async`, :meth:`quick_vote_async`."""

    def __init__(self, engine: Engine, *, schema: str | None = None, key: bytes | None = None):
        super().__init__(engine, schema=schema, key=key)
        self._chainer = Chainer(engine, self.key)
        self._ledger_poster = LedgerPoster(engine, self.key) if self.key is not None else None
        self._async_pool: AsyncConnectionPool | None = None
        self._loop_voter: LoopVoter | None = None  # with the pool

    @contextmanager
    def transaction(self) -> Iterator[PgRecords]:
        records = None
        try:
            with self.engine.begin() as connection:
                records = PgRecords(connection, self.key)
                yield records
                staged = records.commit_pg()  # SQLAlchemy's commit is then a no-op
            if staged:
                # Waited for with the connection back in the pool: the chainer needs one too.
                records.chained(self._chainer.chained(staged))
        finally:
            if records is not None:
                records.resume_collection()

    @contextmanager
    def reading(self) -> Iterator[PgRecords]:
        """Single reads in autocommit (no BEGIN and COMMIT round trips): for lookups that need
        no consistency with anything else, such as a token's owner."""
        with self.engine.connect() as connection:
            records = PgRecords(connection.execution_options(isolation_level="AUTOCOMMIT"))
            try:
                yield records
            finally:
                records.resume_collection()

    # -- awaited on an event loop: no thread hop, no GIL hand-offs per round trip ---------------

    async def open_async(self, max_size: int = 8) -> None:
        """Open psycopg's async connection pool."""
        if self._async_pool is not None:
            return
        _, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's own adapters: plain psycopg here
        if self.schema:
            kwargs["options"] = f"-csearch_path={self.schema}"
        pool = AsyncConnectionPool(
            kwargs=dict(kwargs, autocommit=True), min_size=2, max_size=max_size, open=False
        )
        await pool.open()
        self._async_pool = pool
        self._loop_voter = LoopVoter(pool, self.key)

    async def close_async(self) -> None:
        pool, self._async_pool = self._async_pool, None
        if pool is not None:
            await self._loop_voter.close()
            self._loop_voter = None
            await pool.close()

    @property
    def is_async(self) -> bool:
        return self._async_pool is not None

    async def token_async(self, token_hash: str) -> dict | None:
        """A login token's row read outside any transaction, as ``reading`` (only while
        :attr:`is_async`)."""
        if self._async_pool is None:
            raise RuntimeError("token_async needs open_async() first")
        async with self._async_pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            sql = _get_sql("auth_tokens", None)
            await _translate_async(cursor.execute(sql, (token_hash,)), "auth_tokens")
            return await cursor.fetchone()

    async def quick_vote_async(
        self, *, ballot_id: int, voter_id: int, choice: Any, now: datetime, recorded_at: str
    ) -> QuickVote | None:
        """Cast a vote in one database call (``councilplan_cast_vote``) when every rule allows
        it; None when a rule refuses it or no pool is open, and then nothing was written and the
        service casts it the general way, naming the refusal."""
        if self._async_pool is None:
            return None
        params = (ballot_id, voter_id, Jsonb(choice), now, recorded_at)
        outcome, weight, seq, purpose = await self._loop_voter.cast(params)
        if outcome != "voted":
            return None
        return QuickVote(weight=weight, audit_seq=seq, purpose=purpose)

    def seal_audit(self) -> int:
        """Chain any audit events staged but not yet chained (after a crash between an act's
        commit and its chaining, say). Returns how many it chained."""
        with self.engine.begin() as connection:
            return len(seal_pg(connection.connection.dbapi_connection, self.key))

    def post_ledger_act(self, act: Mapping[str, Any], event: Any) -> tuple | None:
        """See :meth:`Store.post_ledger_act`: posted by this process's :class:`LedgerPoster`."""
        if self._ledger_poster is None:
            return None
        return self._ledger_poster.post(act, event)

    def dispose(self) -> None:
        self._chainer.close()
        super().dispose()
