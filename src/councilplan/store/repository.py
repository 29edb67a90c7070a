"""SQLAlchemy implementation of the councils' :class:`~councilplan.councils.service.Records`.

``open_store(url)`` gives a :class:`SqlStore`; ``store.transaction()`` yields :class:`SqlRecords`
bound to one connection and one transaction. SQLite transactions start with ``BEGIN IMMEDIATE``
so concurrent writers queue on the database lock instead of failing half-way; PostgreSQL runs
at READ COMMITTED with explicit row locks (``lock="share" | "update"``) where an act reads what
it is about to depend on, and the audit head row locked for every append.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from councilplan.audit.chain import (
    GENESIS_HASH,
    Entry,
    Verification,
    canonical_json,
    entry_after,
    entry_hash_canonical,
    verify,
)
from councilplan.councils.service import Duplicate, GuardRefused, QuickVote
from councilplan.store import migrate
from councilplan.store.tables import audit_head, audit_log, metadata, votes

DEFAULT_SQLITE = "councilplan.sqlite"


def default_url(data_dir: str | Path | None = None) -> str:
    """The embedded default: a SQLite file ``councilplan.sqlite`` in ``data_dir`` (or here)."""
    path = Path(data_dir or ".") / DEFAULT_SQLITE
    return f"sqlite:///{path.resolve()}"


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> Engine:
    """An engine for ``url`` set up for councilplan (SQLite locking, PostgreSQL pool, schema)."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):  # noqa: ANN001
            # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA busy_timeout = 30000")
            if ":memory:" not in url and url != "sqlite://":
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):  # noqa: ANN001
            # Take the write lock at the start: two acts never interleave read-then-write.
            # Plain reads (SqlStore.reading) begin deferred and take no write lock.
            if connection.get_execution_options().get("councilplan_read_only"):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
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


@functools.cache
def _pg_get_sql(table: str, lock: str | None) -> str:
    t = metadata.tables[table]
    (pk,) = t.primary_key.columns
    sql = f'SELECT * FROM "{t.name}" WHERE "{pk.name}" = %s'
    if lock:
        sql += " FOR SHARE" if lock == "share" else " FOR UPDATE"
    return sql


@functools.cache
def _pg_find_sql(
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
def _pg_insert_sql(table: str, given: tuple[str, ...]) -> tuple[str, tuple[str, ...], bool]:
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


def _pg_value(column: sa.Column, value: Any) -> Any:
    return Jsonb(value) if isinstance(column.type, sa.JSON) and value is not None else value


def _default(column: sa.Column) -> Any:
    return column.default.arg  # scalar defaults only in tables.py


def _aware(row: Mapping[str, Any]) -> dict:
    """SQLite gives naive datetimes back; every moment in the store is UTC."""
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime) and v.tzinfo is None:
            out[k] = v.replace(tzinfo=UTC)
    return out


# A ballot's votes as one text, [choice, weight] arrays separated by commas, then the rows
# deleted: two statements take less than half the time of one DELETE ... RETURNING feeding
# an aggregate.
_VOTES_TEXT_PG = (
    "SELECT string_agg('[' || choice::text || ',' || weight || ']', ',') "
    "FROM votes WHERE ballot_id = %s"
)
_DELETE_VOTES_PG = "DELETE FROM votes WHERE ballot_id = %s"

_BALLOT_VOTES_PG = "SELECT id, choice::text, weight FROM votes WHERE ballot_id = %s"

# PostgreSQL's audit path (psycopg directly, in pipeline mode): an act stages its events in
# audit_pending with its own COMMIT; seal_pg then chains every staged event under the head lock.
_STAGE_PG = (
    "INSERT INTO audit_pending (kind, payload, recorded_at) VALUES (%s, %s, %s) RETURNING id"
)
_HEAD_PG = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
_STAGED_PG = "SELECT id, kind, payload, recorded_at FROM audit_pending ORDER BY id"
_SEALED_PG = "SELECT event_id, seq, prev_hash, hash FROM audit_log WHERE event_id = ANY(%s)"
_CHAIN_PG = (
    "INSERT INTO audit_log (seq, kind, payload, recorded_at, prev_hash, hash, event_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_MOVE_HEAD_PG = "UPDATE audit_head SET seq = %s, hash = %s, prev_hash = %s WHERE id = 1"
_UNSTAGE_PG = "DELETE FROM audit_pending WHERE id = ANY(%s)"


def seal_pg(raw: Any, mine: Sequence[int] = ()) -> dict[int, tuple[int, str, str]]:
    """Chain the staged audit events into audit_log: group commit of the hash chain.

    ``raw`` is a psycopg connection outside any transaction; ``mine`` the staged event ids the
    caller waits for. Takes the head's row lock, and unless every event in ``mine`` was chained
    meanwhile by another caller (then it just lets go), chains *every* committed staged event
    in id order and commits: one commit, one WAL flush, for all the acts that committed while
    the previous batch was being chained. Returns {event id: (seq, prev_hash, hash)} for
    ``mine`` and for every event it chained.
    """
    mine = list(mine)
    with raw.pipeline():
        head = raw.execute(_HEAD_PG)  # waits here while another batch is being chained
        staged = raw.execute(_STAGED_PG)
        sealed = raw.execute(_SEALED_PG, [mine])
    seq, hash_ = head.fetchone()
    staged = staged.fetchall()
    found = {event_id: tuple(rest) for event_id, *rest in sealed.fetchall()}
    if not staged or (mine and len(found) == len(mine)):
        raw.rollback()
        return found
    rows = _chain_rows(seq, hash_, staged, found)
    with raw.pipeline():
        raw.cursor().executemany(_CHAIN_PG, rows)
        raw.execute(_MOVE_HEAD_PG, (rows[-1][0], rows[-1][5], rows[-1][4]))
        raw.execute(_UNSTAGE_PG, [[r[6] for r in rows]])
        raw.commit()
    return found


def _chain_rows(seq: int, hash_: str, staged: list, found: dict) -> list[tuple]:
    """audit_log rows for the ``staged`` events after the head ``(seq, hash_)``; notes each
    event's (seq, prev_hash, hash) in ``found``. Each payload is canonicalized once: the row
    stores those bytes and the hash covers them (as ``entry_after`` would give)."""
    rows = []
    for event_id, kind, payload, recorded_at in staged:
        if not kind:
            raise ValueError(f"audit event {event_id} has no kind")
        body = canonical_json(json.loads(payload))
        prev, seq = hash_, seq + 1
        hash_ = entry_hash_canonical(seq, kind, body, recorded_at, prev)
        rows.append((seq, kind, body.decode(), recorded_at, prev, hash_, event_id))
        found[event_id] = (seq, prev, hash_)
    return rows


# Several votes in one statement: councilplan_cast_vote for each, in the order given. The votes
# go as one JSON array (one json.dumps; five arrays cost psycopg a regex per element to quote).
_CAST_VOTES_PG = (
    "SELECT r.* FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS v(vote, i) "
    "CROSS JOIN LATERAL councilplan_cast_vote((v.vote->>0)::integer, (v.vote->>1)::integer, "
    "v.vote->2, (v.vote->>3)::timestamptz, v.vote->>4) AS r ORDER BY v.i"
)


class LoopVoter:
    """Votes awaited on an event loop (PostgreSQL), cast and chained in batches: the votes that
    arrive while a batch is in the database go together in the next one, in one transaction
    that casts them all (councilplan_cast_vote for each, in one statement) and chains every
    staged audit event into the log (as :func:`seal_pg`), theirs included.

    Why: on a machine whose cores PostgreSQL shares, each round trip, transaction and commit
    costs both sides far more CPU than the statements in it (measured with a vote at a time:
    about 0.8 ms of this process's CPU and 0.8 ms of PostgreSQL's per vote at 150 votes/s,
    0.2 and 0.3 ms at 2,000/s, where batches are large). A vote alone took three round trips and
    two commits (cast, then chained by a chainer); a batch takes two and one. An act alone
    never waits: with nothing in flight, its batch goes at once.

    ``in_flight``: batches in the database at once. One, measured with benchmarks/service.py
    at 1,000 votes/s against two: the same p99 (31 against 32-35 ms), with larger batches and
    less CPU on both sides (0.6 against 0.7 ms of the server's and 0.5 against 0.6 ms of
    PostgreSQL's per vote).

    A batch is sorted by (ballot, voter), so two batches take their participation keys in the
    same order; the chain head is locked last, after the votes, so whoever holds it waits for
    nothing else: no deadlock. Should a batch fail (it then wrote nothing), each of its votes
    is tried alone, so that an error belongs to the vote that caused it.
    """

    def __init__(self, pool: AsyncConnectionPool, *, in_flight: int = 1, most: int = 200):
        self.pool = pool
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
                        votes = await conn.execute(_CAST_VOTE_PG, batch[0][0])
                    else:
                        votes = await conn.execute(_CAST_VOTES_PG, (_as_json(batch),))
                    head = await conn.execute(_HEAD_PG)  # after the votes: see above
                    staged = await conn.execute(_STAGED_PG)
                outcomes = await votes.fetchall()
                seq, hash_ = await head.fetchone()
                found: dict[int, tuple] = {}
                rows = _chain_rows(seq, hash_, await staged.fetchall(), found)
                if rows:
                    async with conn.pipeline():
                        await conn.cursor().executemany(_CHAIN_PG, rows)
                        await conn.execute(_MOVE_HEAD_PG, (rows[-1][0], rows[-1][5], rows[-1][4]))
                        await conn.execute(_UNSTAGE_PG, [[r[6] for r in rows]])
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
    """The batch's votes for _CAST_VOTES_PG: [[ballot, voter, choice, now, recorded_at], ...]."""
    return json.dumps(
        [[b, v, choice.obj, now.isoformat(), at] for (b, v, choice, now, at), _ in batch],
        ensure_ascii=False,
    )


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


class Chainer:
    """Chains the audit events of this process's acts: one thread, batches of whatever is staged.

    An act that has committed waits here until its events are in the chain. Had every act called
    :func:`seal_pg` itself, they would queue for the head's row lock one by one, each taking it
    only to find its events chained by the one before (measured with benchmarks/service.py: the
    queue, not the work, set the latency under load). Chainers of other processes may chain
    some of the events first; seal_pg reports those too.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
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
                # chaining costs about 0.5 ms of CPU per batch and 0.06 ms per event in it, so
                # batches of one or two, all a busy chainer gets otherwise, cost the server more
                # than the votes themselves. An act alone never waits here.
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
                    found = seal_pg(connection.connection.dbapi_connection, list(batch))
            except Exception as error:  # noqa: BLE001 - handed to every waiting act
                found = dict.fromkeys(batch, error)
            for event_id, future in batch.items():
                _resolve(future, found.get(event_id) or _lost(event_id))


_CAST_VOTE_PG = "SELECT * FROM councilplan_cast_vote(%s, %s, %s, %s, %s)"
# The advisory lock on a ballot's votes: councilplan_cast_vote takes it in share mode, whatever
# changes the ballot in exclusive mode. 1129335874 is "CPLB", councilplan's key space.
_BALLOT_VOTES_LOCK_PG = "SELECT pg_advisory_xact_lock(1129335874, %s)"


class SqlRecords:
    """The :class:`Records` interface over one connection inside one transaction."""

    def __init__(self, connection: Connection, chain: Callable[[list[int]], dict] | None = None):
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.pending: list[PendingEntry] = []
        # How this act's staged audit events get chained once it has committed (PostgreSQL):
        # the store's chainer, or seal_pg on this connection when there is none.
        self.chain = chain

    def _table(self, name: str) -> sa.Table:
        try:
            return metadata.tables[name]
        except KeyError:
            raise ValueError(f"no table {name!r} in the councilplan schema") from None

    def _where(self, table: sa.Table, where: Mapping[str, Any] | None) -> list:
        clauses = []
        for column, value in (where or {}).items():
            col = table.c[column]
            clauses.append(col.is_(None) if value is None else col == value)
        return clauses

    def _execute(self, statement: Any, params: Any = None) -> Any:
        try:
            return self.connection.execute(statement, params)
        except IntegrityError as error:
            text = str(error.orig).lower()
            if "closed" in text or "append-only" in text:
                raise GuardRefused(str(error.orig).splitlines()[0]) from error
            if "unique" in text or "duplicate key" in text or "primary key" in text:
                raise Duplicate(getattr(statement, "table", "?").__str__(), text) from error
            raise
        except DBAPIError as error:
            text = str(error.orig).lower()
            if "closed" in text or "append-only" in text:
                raise GuardRefused(str(error.orig).splitlines()[0]) from error
            raise

    def _raw(self, sql: str, params: Sequence[Any], table: str = "?") -> Any:
        """Run ``sql`` on the psycopg connection directly, rows as dicts (PostgreSQL only).

        The acts' common statements (get, find, insert) take this path: it skips SQLAlchemy's
        statement building and result processing, most of the CPU an act costs on the server.
        psycopg itself turns jsonb and timestamptz into the same Python values SQLAlchemy does.
        """
        cursor = self.connection.connection.dbapi_connection.cursor(row_factory=dict_row)
        try:
            cursor.execute(sql, params)
        except psycopg.Error as error:
            raise _translated(error, table, sql, params) from error
        return cursor

    def insert(self, table: str, values: Mapping[str, Any]) -> Any:
        t = self._table(table)
        pk = list(t.primary_key.columns)
        if self.postgres:
            sql, columns, key_given = _pg_insert_sql(table, tuple(values))
            params = [
                _pg_value(t.c[c], values[c]) if c in values else _default(t.c[c]) for c in columns
            ]
            cursor = self._raw(sql, params, table)
            if len(pk) == 1:
                return values[pk[0].name] if key_given else cursor.fetchone()[pk[0].name]
            return tuple(values[c.name] for c in pk)
        result = self._execute(t.insert().values(**values))
        if len(pk) == 1:
            key = values.get(pk[0].name)
            return key if key is not None else result.inserted_primary_key[0]
        return tuple(values[c.name] for c in pk)

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._execute(self._table(table).insert(), [dict(r) for r in rows])

    def ballot_votes(self, ballot_id: int) -> list[tuple]:
        # Sorted here rather than by the database: the same order on SQLite and PostgreSQL
        # whatever the collation, and faster than ORDER BY on text keys.
        if self.postgres:
            # 100,000 ballots: fetched as text and parsed by one json.loads over them all,
            # several times faster than psycopg's one json.loads call per row.
            cursor = self._raw(_BALLOT_VOTES_PG, (ballot_id,), "votes")
            cursor.row_factory = tuple_row
            rows = cursor.fetchall()
            rows.sort()
            choices = json.loads("[" + ",".join(choice for _, choice, _ in rows) + "]")
            return [(choice, weight) for choice, (_, _, weight) in zip(choices, rows, strict=True)]
        query = sa.select(votes.c.id, votes.c.choice, votes.c.weight).where(
            votes.c.ballot_id == ballot_id
        )
        rows = sorted(tuple(row) for row in self._execute(query))
        return [(choice, weight) for _, choice, weight in rows]

    def take_votes(self, ballot_id: int) -> list:
        if self.postgres:
            # One text from the server, one parse here: no row objects for 100,000 votes.
            (text,) = self._raw(_VOTES_TEXT_PG, (ballot_id,), "votes").fetchone().values()
            taken = json.loads("[" + (text or "") + "]")
            deleted = self._raw(_DELETE_VOTES_PG, (ballot_id,), "votes").rowcount
            if deleted != len(taken):  # no vote written in between: the caller locks the ballot
                raise RuntimeError(
                    f"ballot {ballot_id}: {deleted} vote rows deleted but {len(taken)} read; "
                    "was a vote written without the ballot's locks?"
                )
            return taken
        where = votes.c.ballot_id == ballot_id
        rows = self._execute(sa.select(votes.c.choice, votes.c.weight).where(where)).all()
        self._execute(votes.delete().where(where))
        return [(choice, weight) for choice, weight in rows]

    def get(self, table: str, key: Any, *, lock: str | None = None) -> dict | None:
        t = self._table(table)
        if self.postgres:
            if table == "ballots" and lock == "update":
                # Excludes one-call votes in flight, which hold this key in share mode (0008).
                self._raw(_BALLOT_VOTES_LOCK_PG, (key,), table)
            return self._raw(_pg_get_sql(table, lock), (key,), table).fetchone()
        (pk,) = t.primary_key.columns
        query = sa.select(t).where(pk == key)
        if lock and self.postgres:
            query = query.with_for_update(read=(lock == "share"))
        row = self._execute(query).mappings().first()
        return _aware(row) if row is not None else None

    def find(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        t = self._table(table)
        if self.postgres:
            where = dict(where or {})
            sql = _pg_find_sql(
                table,
                tuple((c, where[c] is None) for c in where),
                order_by,
                limit is not None,
            )
            params = [v for v in where.values() if v is not None]
            if limit is not None:
                params.append(limit)
            return self._raw(sql, params, table).fetchall()
        query = sa.select(t).where(*self._where(t, where))
        if order_by:
            query = query.order_by(t.c[order_by])
        if limit is not None:
            query = query.limit(limit)
        return [_aware(r) for r in self._execute(query).mappings()]

    def count(self, table: str, where: Mapping[str, Any] | None = None) -> int:
        t = self._table(table)
        query = sa.select(sa.func.count()).select_from(t).where(*self._where(t, where))
        return int(self._execute(query).scalar_one())

    def update(self, table: str, key: Any, values: Mapping[str, Any]) -> None:
        t = self._table(table)
        (pk,) = t.primary_key.columns
        self._execute(t.update().where(pk == key).values(**values))

    def delete(self, table: str, where: Mapping[str, Any]) -> int:
        t = self._table(table)
        if not where:
            raise ValueError("delete without a where clause")
        return self._execute(t.delete().where(*self._where(t, where))).rowcount

    def append_event(self, kind: str, payload: Mapping[str, Any], recorded_at: str) -> Entry:
        if self.postgres:
            return self._append_event_pg(kind, payload, recorded_at)
        head = self._execute(sa.select(audit_head).where(audit_head.c.id == 1)).mappings().one()
        entry = entry_after(head["seq"], head["hash"], kind, payload, recorded_at)
        self._execute(audit_log.insert().values(**_log_row(entry)))
        self._execute(
            audit_head.update()
            .where(audit_head.c.id == 1)
            .values(seq=entry.seq, hash=entry.hash, prev_hash=entry.prev_hash)
        )
        return entry

    def _append_event_pg(self, kind: str, payload: Mapping[str, Any], recorded_at: str) -> Any:
        """Stage the event; :meth:`commit_pg` writes it with the COMMIT and then chains it."""
        probe = entry_after(0, GENESIS_HASH, kind, payload, recorded_at)  # refuses floats
        pending = PendingEntry(kind, probe.payload, recorded_at)
        self.pending.append(pending)
        return pending

    def commit_pg(self) -> None:
        """Stage the act's audit events and COMMIT in one round trip, then chain them (PostgreSQL).

        The act holds no global lock: its events go to audit_pending in its own transaction, so
        concurrent acts commit (and flush the WAL) together. The store's :class:`Chainer` then
        chains them in batches; the act returns once its events are in the chain.
        """
        if not self.pending:
            return
        raw = self.connection.connection.dbapi_connection
        with raw.pipeline():
            cursors = [
                raw.execute(
                    _STAGE_PG,
                    (p.kind, canonical_json(p.payload).decode(), p.recorded_at),
                )
                for p in self.pending
            ]
            raw.commit()
        for pending, cursor in zip(self.pending, cursors, strict=True):
            pending.event_id = cursor.fetchone()[0]
        mine = [p.event_id for p in self.pending]
        chained = self.chain(mine) if self.chain is not None else seal_pg(raw, mine)
        for pending in self.pending:
            if pending.event_id not in chained:
                raise _lost(pending.event_id)
            pending.resolve(*chained[pending.event_id])


class PendingEntry:
    """An audit entry staged on PostgreSQL: ``seq``, ``prev_hash`` and ``hash`` are filled in
    when it has been chained, right after the act commits (reading them earlier is an error)."""

    def __init__(self, kind: str, payload: Mapping[str, Any], recorded_at: str):
        self.kind, self.payload, self.recorded_at = kind, payload, recorded_at
        self.event_id: int | None = None
        self._entry: Entry | None = None

    def resolve(self, seq: int, prev_hash: str, hash_: str) -> None:
        self._entry = Entry(seq, self.kind, self.payload, self.recorded_at, prev_hash, hash_)

    @property
    def entry(self) -> Entry:
        if self._entry is None:
            raise RuntimeError("the audit entry is chained when the transaction commits")
        return self._entry

    def __getattr__(self, name: str) -> Any:
        if name in ("seq", "prev_hash", "hash"):
            return getattr(self.entry, name)
        raise AttributeError(name)


def _log_row(entry: Entry) -> dict:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "payload": canonical_json(entry.payload).decode(),
        "recorded_at": entry.recorded_at,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


class SqlStore:
    """A councilplan database: ``transaction()`` is one act, committed or not at all."""

    def __init__(self, engine: Engine, *, schema: str | None = None):
        self.engine = engine
        self.schema = schema
        self._async_pool: AsyncConnectionPool | None = None
        self._loop_voter: LoopVoter | None = None  # with the pool
        # SQLite has one writer at a time; threads of this process queue on a lock instead of
        # polling the database's busy handler (which sleeps, giving long tail latencies).
        self._sqlite_writer = threading.Lock() if engine.dialect.name == "sqlite" else None
        self._chainer = Chainer(engine) if engine.dialect.name == "postgresql" else None

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[SqlRecords]:
        if self._sqlite_writer is not None:
            with self._sqlite_writer, self.engine.begin() as connection:
                yield SqlRecords(connection)
            return
        with self.engine.begin() as connection:
            records = SqlRecords(connection, self._chainer.chained if self._chainer else None)
            yield records
            if records.postgres:
                records.commit_pg()  # audit append + COMMIT; SQLAlchemy's commit is then a no-op

    @contextmanager
    def reading(self) -> Iterator[SqlRecords]:
        """Single reads outside a transaction (autocommit): no BEGIN and COMMIT round trips.
        For lookups that need no consistency with anything else, such as a token's owner."""
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            else:
                connection = connection.execution_options(councilplan_read_only=True)
            yield SqlRecords(connection)

    def quick_vote(
        self, *, ballot_id: int, voter_id: int, choice: Any, now: datetime, recorded_at: str
    ) -> QuickVote | None:
        """Cast a vote in one database call (PostgreSQL's ``councilplan_cast_vote``, migration
        0006) when every rule allows it; None when a rule refuses it or on SQLite, and then
        nothing was written and the service casts it the general way, naming the refusal."""
        if self._chainer is None:
            return None
        with self.reading() as records:
            row = records._raw(
                _CAST_VOTE_PG, (ballot_id, voter_id, Jsonb(choice), now, recorded_at)
            )
            outcome, weight, event_id, purpose = row.fetchone().values()
        if outcome != "voted":
            return None
        seq = self._chainer.chained([event_id])[event_id][0]
        return QuickVote(weight=weight, audit_seq=seq, purpose=purpose)

    # -- awaited on an event loop (the web API's busiest requests; PostgreSQL) -----------------
    #
    # A request served by a worker thread costs the server a thread hop and, with many threads,
    # a contended GIL at every database round trip; these are awaited on the event loop itself.
    # They work between open_async() and close_async() (the web app's lifespan), while
    # is_async; otherwise quick_vote_async answers None and callers go the threaded way.

    async def open_async(self, max_size: int = 8) -> None:
        """Open psycopg's async connection pool (PostgreSQL; nothing on SQLite)."""
        if self._chainer is None or self._async_pool is not None:
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
        self._loop_voter = LoopVoter(pool)

    async def close_async(self) -> None:
        pool, self._async_pool = self._async_pool, None
        if pool is not None:
            await self._loop_voter.close()
            self._loop_voter = None
            await pool.close()

    @property
    def is_async(self) -> bool:
        return self._async_pool is not None

    async def get_async(self, table: str, key: Any) -> dict | None:
        """The row with primary key ``key`` read outside any transaction, as ``reading``
        (only while :attr:`is_async`)."""
        if self._async_pool is None:
            raise RuntimeError("get_async needs open_async() first")
        async with self._async_pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await _translate_async(cursor.execute(_pg_get_sql(table, None), (key,)), table)
            return await cursor.fetchone()

    async def quick_vote_async(
        self, *, ballot_id: int, voter_id: int, choice: Any, now: datetime, recorded_at: str
    ) -> QuickVote | None:
        """:meth:`quick_vote` awaited on the event loop; None also when no pool is open."""
        if self._async_pool is None:
            return None
        params = (ballot_id, voter_id, Jsonb(choice), now, recorded_at)
        outcome, weight, seq, purpose = await self._loop_voter.cast(params)
        if outcome != "voted":
            return None
        return QuickVote(weight=weight, audit_seq=seq, purpose=purpose)

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Audit entries with seq above ``after`` in stored order (by seq); all by default."""
        with self.engine.connect() as connection:
            return read_entries(connection, after=after, limit=limit)

    def audit_head(self) -> tuple[int, str]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
        return (row.seq, row.hash) if row else (0, "0" * 64)

    def seal_audit(self) -> int:
        """Chain any audit events staged but not yet chained (PostgreSQL; after a crash between
        an act's commit and its chaining, say). Returns how many it chained."""
        if self.engine.dialect.name != "postgresql":
            return 0
        with self.engine.begin() as connection:
            return len(seal_pg(connection.connection.dbapi_connection))

    def verify_audit(self) -> Verification:
        """Recompute the audit chain, checking its end against the stored head too. Events
        whose acts committed are chained first (:meth:`seal_audit`), so every act is checked."""
        self.seal_audit()
        _, head = self.audit_head()
        return verify(self.audit_entries(), expected_head=head)

    def dispose(self) -> None:
        if self._chainer is not None:
            self._chainer.close()
        self.engine.dispose()


def read_entries(
    connection: Connection, *, after: int = 0, limit: int | None = None
) -> list[Entry]:
    query = sa.select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
    rows = connection.execute(query.limit(limit)).mappings()
    return [
        Entry(
            r["seq"],
            r["kind"],
            json.loads(r["payload"]),
            r["recorded_at"],
            r["prev_hash"],
            r["hash"],
        )
        for r in rows
    ]


def open_store(
    url: str | None = None, *, upgrade: bool = True, schema: str | None = None, pool_size: int = 20
) -> SqlStore:
    """Open the database at ``url`` (default: ./councilplan.sqlite), migrating it to the newest
    schema unless ``upgrade`` is False."""
    engine = make_engine(url or default_url(), schema=schema, pool_size=pool_size)
    if upgrade:
        migrate.upgrade(engine)
    return SqlStore(engine, schema=schema)
