"""The record covers the state: replaying the events rebuilds the tables they govern.

Every change an act makes to a governed table travels with the act's event as its *state*: a
list of changes, each one of

- ``["insert", table, row]``: a row, every column given (a row without its key is
  *anonymous*: a secret ballot's vote, of which the record keeps only what may be public);
- ``["update", table, key, values]``: the row whose key columns equal ``key``, columns changed;
- ``["delete", table, where]``: every row whose columns equal ``where``.

Values are plain JSON (moments as ISO 8601 UTC text). The public payload carries only a
commitment to the state (:func:`state_commitment`, salted, so a short private fact cannot be
guessed from it); the state itself is kept beside the entry for whoever verifies with the
database. :class:`Replay` applies the states in order and :func:`compare` names the first row of
a table that does not follow from them. Why and against whom: docs/audit.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from councilplan.audit.chain import canonical_json

Row = Mapping[str, Any]


def state_commitment(salt: str, state: Sequence[Any]) -> str:
    """SHA-256 (hex) of ``salt`` and the state's canonical JSON: what the public payload shows."""
    return hashlib.sha256(salt.encode() + b"\n" + canonical_json(list(state))).hexdigest()


def event_mac(key: bytes, kind: str, canonical_payload: bytes, recorded_at: str) -> str:
    """HMAC-SHA-256 (hex) of an event's kind, canonical payload and time under ``key``: proof
    that a process holding the key (the service) made the event, which the database cannot
    give on its own (``key`` is never stored there)."""
    message = b"\x00".join((kind.encode(), canonical_payload, recorded_at.encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mac_matches(key: bytes, mac: str | None, kind: str, payload: bytes, recorded_at: str) -> bool:
    return mac is not None and hmac.compare_digest(mac, event_mac(key, kind, payload, recorded_at))


class ReplayError(ValueError):
    """A state that cannot be applied where it stands (an insert of a key already there, an
    update of a row that is not): the record contradicts itself at entry ``seq``."""

    def __init__(self, seq: int, message: str):
        super().__init__(f"entry {seq}: {message}")
        self.seq = seq


@dataclass(frozen=True)
class Mismatch:
    """The first row of a governed table that does not follow from the record."""

    table: str
    key: Mapping[str, Any] | None
    message: str
    last_seq: int | None = None  # the last entry that changed the row, if any


class Replay:
    """The governed tables as the record makes them. ``keys`` maps each governed table to its
    key columns; a change to any other table is refused (it is not governed, or misspelt)."""

    def __init__(self, keys: Mapping[str, Sequence[str]]):
        self.keys = {table: tuple(columns) for table, columns in keys.items()}
        self.rows: dict[str, dict[tuple, dict]] = {t: {} for t in self.keys}
        self.anonymous: dict[str, list[dict]] = {t: [] for t in self.keys}
        self.last_seq: dict[tuple[str, tuple], int] = {}
        self.applied = 0

    def apply(self, seq: int, state: Iterable[Sequence[Any]]) -> None:
        """Apply one entry's changes, in order."""
        for change in state:
            op, table = change[0], change[1]
            if table not in self.keys:
                raise ReplayError(seq, f"{op} into {table!r}, which the record does not govern")
            if op == "insert":
                self._insert(seq, table, dict(change[2]))
            elif op == "update":
                self._update(seq, table, change[2], change[3])
            elif op == "delete":
                self._delete(seq, table, change[2])
            else:
                raise ReplayError(seq, f"unknown change {op!r} on {table!r}")
        self.applied += 1

    def _key(self, table: str, values: Mapping[str, Any]) -> tuple:
        return tuple(values[c] for c in self.keys[table])

    def _insert(self, seq: int, table: str, row: dict) -> None:
        if not all(c in row for c in self.keys[table]):
            self.anonymous[table].append(row)
            return
        key = self._key(table, row)
        if key in self.rows[table]:
            raise ReplayError(seq, f"{table} {_named(self.keys[table], key)} inserted twice")
        self.rows[table][key] = row
        self.last_seq[table, key] = seq

    def _update(self, seq: int, table: str, key: Any, values: Mapping[str, Any]) -> None:
        key = tuple(key) if isinstance(key, list | tuple) else (key,)
        row = self.rows[table].get(key)
        if row is None:
            raise ReplayError(seq, f"update of {table} {_named(self.keys[table], key)}, not there")
        row.update(values)
        self.last_seq[table, key] = seq

    def _delete(self, seq: int, table: str, where: Mapping[str, Any]) -> None:
        doomed = [k for k, r in self.rows[table].items() if _matches(r, where)]
        for key in doomed:
            del self.rows[table][key]
            self.last_seq[table, key] = seq
        self.anonymous[table] = [r for r in self.anonymous[table] if not _matches(r, where)]


def compare(replay: Replay, actual: Mapping[str, Iterable[Row]]) -> Mismatch | None:
    """The first row, table by table in ``replay.keys`` order and by key within a table, in
    which ``actual`` (each governed table's rows, values as plain JSON) differs from the
    record: a row no event made, a row an event made that is gone, or a column that differs.
    None when every governed table follows from the record."""
    for table, key_columns in replay.keys.items():
        expected = replay.rows[table]
        anonymous = Counter(_frozen(r) for r in replay.anonymous[table])
        anonymous_columns = {tuple(sorted(r)) for r in replay.anonymous[table]}
        found: dict[tuple, dict] = {}
        unkeyed: list[dict] = []
        for row in actual.get(table, ()):
            key = tuple(row[c] for c in key_columns)
            if key in expected or not anonymous_columns:
                found[key] = dict(row)
            else:
                unkeyed.append(dict(row))
        for row in unkeyed:  # rows the record knows only without their key
            for columns in anonymous_columns:
                frozen = _frozen({c: row.get(c) for c in columns})
                if anonymous[frozen] > 0:
                    anonymous[frozen] -= 1
                    break
            else:
                found[tuple(row[c] for c in key_columns)] = row
        for key in sorted(set(expected) | set(found), key=_sortable):
            named = dict(zip(key_columns, key, strict=True))
            last = replay.last_seq.get((table, key))
            if key not in expected:
                return Mismatch(
                    table,
                    named,
                    f"{table} {_named(key_columns, key)} is in the table but no event on record "
                    "made it",
                    last,
                )
            if key not in found:
                return Mismatch(
                    table,
                    named,
                    f"{table} {_named(key_columns, key)} is on record (entry {last}) but not in "
                    "the table",
                    last,
                )
            for column, value in expected[key].items():
                if found[key].get(column) != value:
                    return Mismatch(
                        table,
                        named,
                        f"{table} {_named(key_columns, key)}: {column} is "
                        f"{_shown(found[key].get(column))} in the table but {_shown(value)} on "
                        f"record (entry {last})",
                        last,
                    )
        missing = +anonymous
        if missing:
            frozen = min(missing)
            shown = {c: json.loads(v) for c, v in frozen}
            return Mismatch(
                table, None, f"{table}: a row {_shown(shown)} is on record but not in the table"
            )
    return None


def _frozen(row: Mapping[str, Any]) -> tuple:
    return tuple(sorted((c, json.dumps(v, sort_keys=True)) for c, v in row.items()))


def _matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    return all(row.get(c) == v for c, v in where.items())


def _sortable(key: tuple) -> tuple:
    return tuple((0, v) if isinstance(v, int) else (1, str(v)) for v in key)


def _named(columns: Sequence[str], key: Sequence[Any]) -> str:
    return " ".join(f"{c}={v!r}" for c, v in zip(columns, key, strict=True))


def _shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:80] + "..."
