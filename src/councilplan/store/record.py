"""The store's side of "the record covers the state" (see ``councilplan.audit.record``).

:class:`Changes` collects what one transaction writes to the governed tables and hands it to
the events the act records: the changes made before an event go with it, any made after the
last event go with the last one, and a transaction that changes a governed table without
recording an event is refused. :func:`plain_row` gives a row's values in the plain JSON form
the record keeps, for the changes and for reading the tables back when they are verified.

Two rules keep secrets out of the state. A secret ballot's vote (a row of ``votes`` with no
``open_votes`` row for it in the same act) is kept without its key and choice: the record
proves that a vote of that weight was cast, and who took part, never what they chose. A
ballot box is kept as the SHA-256 of its text, which the closing event's tally already fixes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from councilplan.audit.chain import canonical_json, utc_timestamp
from councilplan.audit.record import (
    Replay,
    ReplayError,
    compare,
    mac_matches,
    state_commitment,
)
from councilplan.store.tables import audit_log, audit_pending, metadata

#: Tables kept by the record itself, not governed by it.
RECORD_TABLES = ("audit_log", "audit_pending", "audit_head")
#: Operational tables outside the record: how far a running job is (its outcome is governed).
UNGOVERNED = (*RECORD_TABLES, "job_progress")

#: Each governed table's key columns, in the order the verifier reads them.
GOVERNED: dict[str, tuple[str, ...]] = {
    t.name: tuple(c.name for c in t.primary_key.columns)
    for t in metadata.sorted_tables
    if t.name not in UNGOVERNED
}

#: Columns kept in the record as the SHA-256 of their text (bytes: of themselves; JSON: of its
#: sorted compact text, where floats are allowed, as Python writes them): a sealed ballot box,
#: a bundle's archive, a computed plan (its stored text, whose SHA-256 is the plan's digest)
#: and the rounds' numeric state. Every other JSON column keeps numbers as text or integers
#: (chain.canonical_json refuses floats).
DIGESTED = {
    ("ballot_boxes", "votes"),
    ("bundles", "archive"),
    ("variants", "summary"),
    ("variants", "result"),
    ("plan_rounds", "state"),
    ("plan_rounds", "outcome"),
}


def plain(column: sa.Column, value: Any) -> Any:
    """``value`` of ``column`` as the record keeps it: moments as UTC ISO text, booleans as
    booleans, decimals as text, JSON as JSON."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(column.type, sa.Boolean):
        return bool(value)
    if isinstance(value, Decimal):
        return str(value)
    if (column.table.name, column.name) in DIGESTED:
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
        elif isinstance(column.type, sa.JSON):
            data = json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode()
        else:
            data = str(value).encode()
        return {"sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(column.type, sa.JSON):
        return json.loads(canonical_json(value))
    return value


#: Tables whose private columns the record keeps only as one digest, salted with the row's own
#: ``salt`` column, which stays in the table and never goes on record: a member's declared
#: groups (docs/equality.md). Whoever reads the log cannot learn or guess them (the salt is 128
#: random bits); whoever verifies with the database checks the row against the digest.
SEALED: dict[str, tuple[str, tuple[str, ...]]] = {
    "declared_groups": ("salt", ("gender", "group_text", "group_key")),
}


def plain_row(table: str, row: Mapping[str, Any]) -> dict:
    t = metadata.tables[table]
    out = {c: plain(t.c[c], v) for c, v in row.items()}
    sealed = SEALED.get(table)
    if sealed is not None and sealed[0] not in out and any(c in out for c in sealed[1]):
        raise ValueError(f"{table}: its private columns are written only with a new salt")
    if sealed is not None and sealed[0] in out:
        salt, private = out.pop(sealed[0]), [out.pop(c, None) for c in sealed[1]]
        digest = hashlib.sha256(f"{salt}\n".encode() + canonical_json(private)).hexdigest()
        out["sealed"] = {"sha256": digest}
    return out


def full_row(table: str, values: Mapping[str, Any], key: Any = None) -> dict:
    """The whole row an insert of ``values`` writes: the given values, each other column's
    scalar default (or NULL), and the generated ``key`` when the table's single key column was
    not given."""
    t = metadata.tables[table]
    row = {}
    for column in t.columns:
        if column.name in values:
            row[column.name] = values[column.name]
        elif column.primary_key and key is not None:
            row[column.name] = key
        elif column.default is not None and column.default.is_scalar:
            row[column.name] = column.default.arg
        else:
            row[column.name] = None
    return plain_row(table, row)


@dataclass
class Changes:
    """What one transaction writes to the governed tables, in order."""

    items: list[list] = field(default_factory=list)

    def insert(self, table: str, values: Mapping[str, Any], key: Any = None) -> None:
        if table in GOVERNED:
            self.items.append(["insert", table, full_row(table, values, key)])

    def update(self, table: str, key: Any, values: Mapping[str, Any]) -> None:
        if table in GOVERNED:
            self.items.append(["update", table, key, plain_row(table, values)])

    def delete(self, table: str, where: Mapping[str, Any]) -> None:
        if table in GOVERNED:
            self.items.append(["delete", table, plain_row(table, where)])

    def take(self) -> list[list]:
        """The changes so far, as the record keeps them (secret votes anonymous); forgets them."""
        items, self.items = self.items, []
        return anonymise_secret_votes(items)


def anonymise_secret_votes(items: Sequence[list]) -> list[list]:
    """``items`` with each secret vote (a ``votes`` insert with no ``open_votes`` insert naming
    it) cut down to its ballot and weight."""
    open_ids = {c[2]["vote_id"] for c in items if c[0] == "insert" and c[1] == "open_votes"}
    out = []
    for change in items:
        if change[0] == "insert" and change[1] == "votes" and change[2].get("id") not in open_ids:
            row = change[2]
            change = ["insert", "votes", {"ballot_id": row["ballot_id"], "weight": row["weight"]}]
        out.append(change)
    return out


@dataclass
class State:
    """One event's state as stored beside its entry: the changes and the salt of their
    commitment."""

    changes: list[list]
    salt: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def commitment(self) -> str:
        return state_commitment(self.salt, self.changes)

    def text(self) -> str:
        return canonical_json({"salt": self.salt, "changes": self.changes}).decode()

    @classmethod
    def parse(cls, text: str) -> State:
        data = json.loads(text)
        return cls(data["changes"], data["salt"])


def with_commitment(payload: Mapping[str, Any], state: State) -> dict:
    """The public payload: the act's own, and the commitment to its state."""
    return {**payload, "state_sha256": state.commitment}


# ---------------------------------------------------------------------------------------------
# The key that signs events (never stored in the database).

KEY_ENV = "COUNCILPLAN_AUDIT_KEY_FILE"


def audit_key(url: str) -> bytes:
    """The key this service signs its events with: the file named by COUNCILPLAN_AUDIT_KEY_FILE,
    else a file beside a SQLite database (``<name>.audit-key``), else
    ``~/.config/councilplan/audit.key``; created (32 random bytes, readable by its owner only)
    when missing."""
    path = _key_path(url)
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another process
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as f:
            f.write(key + b"\n")
    if len(key) < 32:
        raise ValueError(f"{path}: an audit key needs at least 32 characters, found {len(key)}")
    return key


def _key_path(url: str) -> Path:
    named = os.environ.get(KEY_ENV)
    if named:
        return Path(named)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        database = Path(url.removeprefix("sqlite:///"))
        return database.with_name(database.name + ".audit-key")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "councilplan" / "audit.key"


# ---------------------------------------------------------------------------------------------
# Checking the tables against the record.


@dataclass(frozen=True)
class StateCheck:
    """What replaying the record found: ``ok``; how many entries' states were replayed; the
    staged events not yet chained; and, when not ok, the first problem, named."""

    ok: bool
    replayed: int
    staged: int
    message: str
    first_bad_seq: int | None = None
    table: str | None = None
    key: Mapping[str, Any] | None = None


def check_state(connection: sa.Connection, key: bytes | None) -> StateCheck:
    """Replay every entry's state from the latest ``record.began`` (or the first entry) and
    compare the governed tables with the result; check each entry's MAC under ``key`` (when
    given) and every staged event's. The first problem found is reported."""
    log = audit_log
    began = connection.execute(
        sa.select(sa.func.max(log.c.seq)).where(log.c.kind == "record.began")
    ).scalar()
    replay = Replay(GOVERNED)
    rows = connection.execute(
        sa.select(log.c.seq, log.c.kind, log.c.payload, log.c.recorded_at, log.c.state, log.c.mac)
        .where(log.c.seq >= (began or 0))
        .order_by(log.c.seq)
    )
    for seq, kind, payload, recorded_at, state_text, mac in rows:
        if key is not None and not mac_matches(key, mac, kind, payload.encode(), recorded_at):
            return StateCheck(
                False,
                replay.applied,
                0,
                f"entry {seq} ({kind}) does not carry the service's signature: it was not made "
                "by this service, or this check uses another key than the service's",
                seq,
            )
        if state_text is None:
            return StateCheck(
                False,
                replay.applied,
                0,
                f"entry {seq} ({kind}) keeps no state: the tables cannot be rebuilt past it",
                seq,
            )
        state = State.parse(state_text)
        committed = json.loads(payload).get("state_sha256")
        if committed != state.commitment:
            return StateCheck(
                False,
                replay.applied,
                0,
                f"entry {seq} ({kind}): its kept state is not the one its payload commits to "
                "(state_sha256): the state was changed after the event was recorded",
                seq,
            )
        try:
            replay.apply(seq, state.changes)
        except ReplayError as error:
            return StateCheck(False, replay.applied, 0, str(error), seq)
    tables = {}
    for table in GOVERNED:
        t = metadata.tables[table]
        tables[table] = [plain_row(table, r) for r in connection.execute(sa.select(t)).mappings()]
    mismatch = compare(replay, tables)
    staged = connection.execute(
        sa.select(
            audit_pending.c.id,
            audit_pending.c.kind,
            audit_pending.c.payload,
            audit_pending.c.recorded_at,
            audit_pending.c.mac,
        ).order_by(audit_pending.c.id)
    ).all()
    if mismatch is not None:
        return StateCheck(
            False,
            replay.applied,
            len(staged),
            mismatch.message,
            mismatch.last_seq,
            mismatch.table,
            mismatch.key,
        )
    if key is not None:
        for event_id, kind, payload, recorded_at, mac in staged:
            if not mac_matches(key, mac, kind, payload.encode(), recorded_at):
                return StateCheck(
                    False,
                    replay.applied,
                    len(staged),
                    f"staged event {event_id} ({kind}) in audit_pending does not carry the "
                    "service's signature: no act of this service staged it; it will not be "
                    "chained",
                )
    waiting = f"; {len(staged)} staged event(s) not yet chained" if staged else ""
    return StateCheck(
        True,
        replay.applied,
        len(staged),
        f"every governed table follows from the record ({replay.applied} entries replayed"
        f"{waiting})",
    )
