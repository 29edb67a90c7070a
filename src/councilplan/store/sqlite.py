"""SQLite, the embedded default: one writer at a time.

Transactions start with ``BEGIN IMMEDIATE``, so concurrent writers queue on the database lock
instead of failing half-way, and an act chains its audit events in its own transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from councilplan.audit.chain import entry_hash_canonical
from councilplan.store.sql import SqlRecords, SqlStore
from councilplan.store.tables import audit_head, audit_log


def sqlite_engine(url: str) -> Engine:
    """An engine for the SQLite database at ``url``: foreign keys on, WAL, writers queued."""
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy, not the driver, decide when transactions begin (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if ":memory:" not in url and url != "sqlite://":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):  # noqa: ANN001
        # Take the write lock at the start: two acts never interleave read-then-write.
        # Plain reads (SqliteStore.reading) begin deferred and take no write lock.
        if connection.get_execution_options().get("councilplan_read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SqliteRecords(SqlRecords):
    def chain_events(self) -> None:
        """Chain the act's events after the head, in its own transaction (which holds the
        database's write lock)."""
        events = self.seal_events()
        if not events:
            return
        head = self._execute(sa.select(audit_head).where(audit_head.c.id == 1)).mappings().one()
        seq, hash_ = head["seq"], head["hash"]
        for recorded in events:
            prev, seq = hash_, seq + 1
            at = recorded.recorded_at
            hash_ = entry_hash_canonical(seq, recorded.kind, recorded.body, at, prev)
            self._execute(
                audit_log.insert().values(
                    seq=seq,
                    kind=recorded.kind,
                    payload=recorded.body.decode(),
                    recorded_at=recorded.recorded_at,
                    prev_hash=prev,
                    hash=hash_,
                    state=recorded.state.text(),
                    mac=recorded.mac,
                )
            )
            recorded.resolve(seq, prev, hash_)
        self._execute(
            audit_head.update()
            .where(audit_head.c.id == 1)
            .values(seq=seq, hash=hash_, prev_hash=events[-1].prev_hash)
        )


class SqliteStore(SqlStore):
    def __init__(self, engine: Engine, *, schema: str | None = None):
        super().__init__(engine, schema=schema)
        # Threads of this process queue on a lock instead of polling the database's busy
        # handler (which sleeps, giving long tail latencies).
        self._writer = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[SqliteRecords]:
        with self._writer, self.engine.begin() as connection:
            records = SqliteRecords(connection, self.key)
            try:
                yield records
                records.chain_events()
            finally:
                records.resume_collection()

    @contextmanager
    def reading(self) -> Iterator[SqliteRecords]:
        """Single reads (a deferred BEGIN, no write lock): for lookups that need no consistency
        with anything else, such as a token's owner."""
        with self.engine.connect() as connection:
            records = SqliteRecords(connection.execution_options(councilplan_read_only=True))
            try:
                yield records
            finally:
                records.resume_collection()
