"""What SQLite and PostgreSQL share: the councils' :class:`~councilplan.councils.service.Records`
written with SQLAlchemy (:class:`SqlRecords`) and the store around an engine (:class:`SqlStore`).

``store/sqlite.py`` and ``store/postgres.py`` subclass both; ``store/engine.py`` picks the pair
for a URL. Each act is one transaction: ``store.transaction()`` yields the records bound to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from councilplan.audit.chain import (
    GENESIS_HASH,
    Entry,
    Verification,
    canonical_json,
    entry_after,
    utc_timestamp,
    verify,
)
from councilplan.audit.record import event_mac
from councilplan.councils.service import Duplicate, GuardRefused
from councilplan.store.record import (
    GOVERNED,
    Changes,
    State,
    StateCheck,
    audit_key,
    check_state,
    full_row,
    with_commitment,
)
from councilplan.store.tables import audit_head, audit_log, metadata, votes


class RecordedEvent:
    """An event an act records: its public payload (with the commitment to its state), its
    state, and the service's MAC, made when the act is done (:meth:`SqlRecords.seal_events`).
    ``seq``, ``prev_hash`` and ``hash`` are known once it has been chained, which may be after
    the act's transaction commits (reading them earlier is an error)."""

    def __init__(self, kind: str, payload: Mapping[str, Any], recorded_at: str, state: State):
        self.kind, self.payload, self.recorded_at, self.state = kind, payload, recorded_at, state
        self.body = b""  # the canonical payload, as hashed
        self.mac = ""
        self.event_id: int | None = None  # its row in audit_pending (PostgreSQL)
        self._entry: Entry | None = None

    def seal(self, key: bytes) -> None:
        self.payload = with_commitment(self.payload, self.state)
        self.body = canonical_json(self.payload)
        self.mac = event_mac(key, self.kind, self.body, self.recorded_at)

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


class SqlRecords:
    """The :class:`Records` interface over one connection inside one transaction. Every write to
    a governed table is collected (:class:`~councilplan.store.record.Changes`) and goes on
    record with the act's events; each database chains them its own way."""

    def __init__(self, connection: Connection, key: bytes | None = None):
        self.connection = connection
        self.key = key
        self.changes = Changes()
        self.events: list[RecordedEvent] = []

    def append_event(
        self, kind: str, payload: Mapping[str, Any], recorded_at: str
    ) -> RecordedEvent:
        """Record an event with the changes made since the previous one; it is chained when the
        act is done."""
        probe = entry_after(0, GENESIS_HASH, kind, payload, recorded_at)  # refuses floats
        event = RecordedEvent(kind, probe.payload, recorded_at, State(self.changes.take()))
        self.events.append(event)
        return event

    def seal_events(self) -> list[RecordedEvent]:
        """The act's events, each with its state, commitment and MAC, ready to be chained. Changes
        made after the last event go with it; changes with no event at all are refused: every
        change of a governed table must follow from the record."""
        trailing = self.changes.take()
        if trailing:
            if not self.events:
                tables = sorted({change[1] for change in trailing})
                raise RuntimeError(
                    f"an act changed {', '.join(tables)} without recording an event; every "
                    "change of a governed table goes on record (store/record.py)"
                )
            self.events[-1].state.changes.extend(trailing)
        if self.events and self.key is None:
            raise RuntimeError("this store has no audit key to sign its events with")
        for event in self.events:
            event.seal(self.key)
        return self.events

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

    def insert(self, table: str, values: Mapping[str, Any]) -> Any:
        t = self._table(table)
        pk = list(t.primary_key.columns)
        result = self._execute(t.insert().values(**values))
        if len(pk) == 1:
            key = values.get(pk[0].name)
            key = key if key is not None else result.inserted_primary_key[0]
        else:
            key = tuple(values[c.name] for c in pk)
        self.changes.insert(table, values, key)
        return key

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self.insert(table, row)

    def ballot_votes(self, ballot_id: int) -> list[tuple]:
        # Sorted here rather than by the database: the same order on SQLite and PostgreSQL
        # whatever the collation, and faster than ORDER BY on text keys.
        query = sa.select(votes.c.id, votes.c.choice, votes.c.weight).where(
            votes.c.ballot_id == ballot_id
        )
        rows = sorted(tuple(row) for row in self._execute(query))
        return [(choice, weight) for _, choice, weight in rows]

    def take_votes(self, ballot_id: int) -> list:
        where = votes.c.ballot_id == ballot_id
        rows = self._execute(sa.select(votes.c.choice, votes.c.weight).where(where)).all()
        self._execute(votes.delete().where(where))
        self.changes.delete("votes", {"ballot_id": ballot_id})
        return [(choice, weight) for choice, weight in rows]

    def get(self, table: str, key: Any, *, lock: str | None = None) -> dict | None:
        t = self._table(table)
        (pk,) = t.primary_key.columns
        row = self._execute(sa.select(t).where(pk == key)).mappings().first()
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
        self.changes.update(table, key, values)

    def delete(self, table: str, where: Mapping[str, Any]) -> int:
        t = self._table(table)
        if not where:
            raise ValueError("delete without a where clause")
        deleted = self._execute(t.delete().where(*self._where(t, where))).rowcount
        if deleted:
            self.changes.delete(table, where)
        return deleted


def _aware(row: Mapping[str, Any]) -> dict:
    """SQLite gives naive datetimes back; every moment in the store is UTC."""
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime) and v.tzinfo is None:
            out[k] = v.replace(tzinfo=UTC)
    return out


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


@dataclass(frozen=True)
class RecordVerification:
    """The chain's check and the tables' check against the record, together."""

    chain: Verification
    state: StateCheck
    sealed: int = 0  # signed staged events chained first

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.state.ok

    @property
    def message(self) -> str:
        return self.chain.message if not self.chain.ok else self.state.message


class SqlStore:
    """A councilplan database: ``transaction()`` (in each database's subclass) is one act,
    committed or not at all; ``reading()`` gives single reads outside a transaction. ``key``
    signs its events (default: :func:`~councilplan.store.record.audit_key` for its URL)."""

    def __init__(self, engine: Engine, *, schema: str | None = None, key: bytes | None = None):
        self.engine = engine
        self.schema = schema
        self.key = key or audit_key(engine.url.render_as_string(hide_password=False))

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def audit_entries(self, *, after: int = 0, limit: int | None = None) -> list[Entry]:
        """Audit entries with seq above ``after`` in stored order (by seq); all by default."""
        with self.engine.connect() as connection:
            return read_entries(connection, after=after, limit=limit)

    def audit_head(self) -> tuple[int, str]:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).first()
        return (row.seq, row.hash) if row else (0, "0" * 64)

    def seal_audit(self) -> int:
        """Chain any audit events staged but not yet chained; returns how many it chained
        (none here: an act that chains as it goes leaves none)."""
        return 0

    def verify_audit(self) -> Verification:
        """Recompute the audit chain, checking its end against the stored head too. Events
        whose acts committed are chained first (:meth:`seal_audit`), so every act is checked."""
        self.seal_audit()
        _, head = self.audit_head()
        return verify(self.audit_entries(), expected_head=head)

    def verify_record(self) -> RecordVerification:
        """:meth:`verify_audit`, then every entry's signature and state, and every governed
        table against the record (:func:`~councilplan.store.record.check_state`)."""
        sealed = self.seal_audit()
        chain = self.verify_audit()
        with self.engine.connect() as connection:
            state = check_state(connection, self.key)
        return RecordVerification(chain, state, sealed)

    def begin_record(self) -> bool:
        """Record the governed tables as they stand (one ``record.began`` entry) when this
        database's log keeps no states yet but there is something to keep: a database older
        than the state record. Never once any entry keeps a state. True if it recorded."""
        with self.engine.connect() as connection:
            has_state = connection.execute(
                sa.select(audit_log.c.seq).where(audit_log.c.state.is_not(None)).limit(1)
            ).first()
            if has_state is not None:
                return False
            rows = {
                table: [
                    dict(r)
                    for r in connection.execute(sa.select(metadata.tables[table])).mappings()
                ]
                for table in GOVERNED
            }
            logged = connection.execute(sa.select(sa.func.count()).select_from(audit_log))
            if not logged.scalar_one() and not any(rows.values()):
                return False
        with self.transaction() as tx:
            for table, table_rows in rows.items():
                for row in table_rows:
                    tx.changes.items.append(["insert", table, full_row(table, row)])
            tx.append_event(
                "record.began",
                {"tables": {table: len(table_rows) for table, table_rows in rows.items()}},
                utc_timestamp(),
            )
        return True

    def dispose(self) -> None:
        self.engine.dispose()
