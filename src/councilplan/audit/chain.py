"""The record: an append-only event log where each entry holds the SHA-256 hash of the one before.

Pure functions over plain data; the store keeps the entries, this module makes and checks them.
An entry's hash covers the canonical JSON of ``seq, kind, payload, recorded_at, prev_hash``, so
editing any field, dropping an entry or moving one breaks the chain at a place ``verify`` names.
Details and the threat model: docs/audit.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry: nothing came before it."""


@dataclass(frozen=True)
class Entry:
    """One event on record. ``seq`` counts from 1; ``recorded_at`` is an ISO 8601 UTC string."""

    seq: int
    kind: str
    payload: Mapping[str, Any]
    recorded_at: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: ``ok``, how many entries it checked, and the first bad entry."""

    ok: bool
    checked: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: Literal["altered", "removed", "reordered"] | None = None
    message: str = "the chain is intact"


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that is hashed: sorted keys, no spaces, UTF-8.

    Floats are refused because their text form is not stable across writers; record hours and
    shares as strings ("12.5", "1/4") or integers instead.
    """
    _refuse_floats(value, "payload")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_floats(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"{where}: float {value!r} in an audit payload; record it as a string")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            _refuse_floats(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _refuse_floats(item, f"{where}[{i}]")


def entry_hash(seq: int, kind: str, payload: Mapping[str, Any], recorded_at: str, prev: str) -> str:
    """SHA-256 (hex) of the canonical JSON of the entry's five fields."""
    body = {
        "seq": seq,
        "kind": kind,
        "payload": payload,
        "recorded_at": recorded_at,
        "prev_hash": prev,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def entry_hash_canonical(
    seq: int, kind: str, canonical_payload: bytes, recorded_at: str, prev: str
) -> str:
    """:func:`entry_hash` given the payload already in canonical form (``canonical_json``):
    the same bytes hashed, built around it rather than canonicalizing the payload again (the
    chainer's per-event cost under load; tests/test_audit_chain.py checks the two agree)."""
    body = b"".join(
        (
            b'{"kind":',
            json.dumps(kind, ensure_ascii=False).encode(),
            b',"payload":',
            canonical_payload,
            b',"prev_hash":',
            json.dumps(prev, ensure_ascii=False).encode(),
            b',"recorded_at":',
            json.dumps(recorded_at, ensure_ascii=False).encode(),
            b',"seq":',
            str(int(seq)).encode(),
            b"}",
        )
    )
    return hashlib.sha256(body).hexdigest()


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 UTC timestamp with microseconds, the form ``recorded_at`` is stored in."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def next_entry(
    previous: Entry | None,
    kind: str,
    payload: Mapping[str, Any],
    recorded_at: str | None = None,
) -> Entry:
    """The entry that follows ``previous`` (None for the first one)."""
    if previous is None:
        return entry_after(0, GENESIS_HASH, kind, payload, recorded_at)
    return entry_after(previous.seq, previous.hash, kind, payload, recorded_at)


def event_payload(kind: str, payload: Mapping[str, Any]) -> dict:
    """A detached, JSON-clean copy of an event's payload; refuses a missing kind and floats."""
    if not kind:
        raise ValueError("kind: an audit event needs a kind, e.g. 'ballot.closed'")
    return json.loads(canonical_json(dict(payload)))


def entry_after(
    head_seq: int,
    head_hash: str,
    kind: str,
    payload: Mapping[str, Any],
    recorded_at: str | None = None,
) -> Entry:
    """The entry that follows the head ``(head_seq, head_hash)``; ``(0, GENESIS_HASH)`` for none."""
    payload = event_payload(kind, payload)
    seq = head_seq + 1
    prev = head_hash
    recorded_at = recorded_at or utc_timestamp()
    return Entry(
        seq, kind, payload, recorded_at, prev, entry_hash(seq, kind, payload, recorded_at, prev)
    )


def verify(entries: Iterable[Entry], *, expected_head: str | None = None) -> Verification:
    """Recompute the chain over ``entries`` in stored order and name the first bad entry.

    An entry is *altered* when its fields no longer give its hash; *removed* when a seq is
    missing or an entry points at a hash that is nowhere in the log; *reordered* when an entry
    is intact but sits at another place than the one it was recorded at. Removing entries from
    the end leaves no trace in the chain itself: pass the head hash published earlier as
    ``expected_head`` to catch that.
    """
    log = list(entries)
    known = {e.hash for e in log}
    prev = GENESIS_HASH
    expected_seq = 1
    for e in log:
        if e.seq > expected_seq:
            return _bad(
                expected_seq - 1,
                prev,
                expected_seq,
                "removed",
                f"entry {expected_seq} is missing (the next entry on record is {e.seq})",
            )
        if e.seq < expected_seq:
            return _bad(
                expected_seq - 1,
                prev,
                e.seq,
                "reordered",
                f"entry {e.seq} appears again after entry {expected_seq - 1}",
            )
        if entry_hash(e.seq, e.kind, e.payload, e.recorded_at, e.prev_hash) != e.hash:
            recorded_seq = _seq_it_was_recorded_at(e, len(log) + 1)
            if recorded_seq is None:
                return _bad(
                    expected_seq - 1,
                    prev,
                    e.seq,
                    "altered",
                    f"entry {e.seq} ({e.kind}) was altered: its content no longer gives its hash",
                )
            if e.prev_hash != GENESIS_HASH and e.prev_hash not in known:
                return _bad(
                    expected_seq - 1,
                    prev,
                    e.seq,
                    "removed",
                    f"entry {e.seq} was recorded as entry {recorded_seq} and its predecessor "
                    "is no longer in the log: entries were removed and the rest renumbered",
                )
            return _bad(
                expected_seq - 1,
                prev,
                e.seq,
                "reordered",
                f"entry {e.seq} ({e.kind}) was recorded as entry {recorded_seq}: "
                "entries were moved",
            )
        if e.prev_hash != prev:
            if e.prev_hash == GENESIS_HASH or e.prev_hash in known:
                problem, why = "reordered", "it points at another entry than the one before it"
            else:
                problem, why = "removed", "the entry it points at is no longer in the log"
            bad_seq = e.seq if problem == "reordered" else e.seq - 1
            return _bad(
                expected_seq - 1,
                prev,
                bad_seq,
                problem,
                f"entry {e.seq} does not follow entry {e.seq - 1}: {why} "
                f"(or entry {e.seq - 1} was altered and re-hashed)",
            )
        prev = e.hash
        expected_seq += 1
    checked = expected_seq - 1
    if expected_head is not None and expected_head != prev:
        where = next((e.seq for e in log if e.hash == expected_head), None)
        if where is None:
            message = (
                f"the published head {expected_head[:12]}... is not in the log: "
                f"entries after {checked} were removed or the log was rewritten"
            )
            return _bad(checked, prev, checked + 1, "removed", message)
    return Verification(True, checked, prev)


def _seq_it_was_recorded_at(e: Entry, upper: int) -> int | None:
    """The seq under which ``e`` hashes correctly, if it is an intact entry that was moved."""
    for seq in range(1, upper + 1):
        if (
            seq != e.seq
            and entry_hash(seq, e.kind, e.payload, e.recorded_at, e.prev_hash) == e.hash
        ):
            return seq
    return None


def _bad(checked: int, head: str, seq: int, problem: Any, message: str) -> Verification:
    return Verification(False, checked, head, seq, problem, message)
