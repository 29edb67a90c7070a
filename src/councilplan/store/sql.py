"""What SQLite and PostgreSQL share: the councils' :class:`~councilplan.councils.service.Records`
written with SQLAlchemy (:class:`SqlRecords`) and the store around an engine (:class:`SqlStore`).

``store/sqlite.py`` and ``store/postgres.py`` subclass both; ``store/engine.py`` picks the pair
for a URL. Each act is one transaction: ``store.transaction()`` yields the records bound to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from councilplan.audit.chain import Entry, Verification, canonical_json, verify
from councilplan.councils.service import Duplicate, GuardRefused
from councilplan.store.tables import audit_head, audit_log, metadata, votes


class SqlRecords:
    """The :class:`Records` interface over one connection inside one transaction, but for
    ``append_event``: each database chains its audit log its own way."""

    def __init__(self, connection: Connection):
        self.connection = connection

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
            return key if key is not None else result.inserted_primary_key[0]
        return tuple(values[c.name] for c in pk)

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._execute(self._table(table).insert(), [dict(r) for r in rows])

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

    def delete(self, table: str, where: Mapping[str, Any]) -> int:
        t = self._table(table)
        if not where:
            raise ValueError("delete without a where clause")
        return self._execute(t.delete().where(*self._where(t, where))).rowcount


def _aware(row: Mapping[str, Any]) -> dict:
    """SQLite gives naive datetimes back; every moment in the store is UTC."""
    out = dict(row)
    for k, v in out.items():
        if isinstance(v, datetime) and v.tzinfo is None:
            out[k] = v.replace(tzinfo=UTC)
    return out


def log_row(entry: Entry) -> dict:
    """``entry`` as a row of audit_log."""
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "payload": canonical_json(entry.payload).decode(),
        "recorded_at": entry.recorded_at,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


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


class SqlStore:
    """A councilplan database: ``transaction()`` (in each database's subclass) is one act,
    committed or not at all; ``reading()`` gives single reads outside a transaction."""

    def __init__(self, engine: Engine, *, schema: str | None = None):
        self.engine = engine
        self.schema = schema

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

    def dispose(self) -> None:
        self.engine.dispose()
