"""The hash-chained record: every edit, removal or move of an entry is caught and named."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from councilplan.audit.chain import (
    GENESIS_HASH,
    Entry,
    canonical_json,
    entry_hash,
    entry_hash_canonical,
    next_entry,
    verify,
)


def make_chain(n: int) -> list[Entry]:
    chain: list[Entry] = []
    for i in range(n):
        prev = chain[-1] if chain else None
        chain.append(
            next_entry(
                prev,
                "ballot.voted",
                {"ballot_id": 1 + i % 3, "account_id": i},
                f"2026-01-01T00:00:{i % 60:02d}.000000+00:00",
            )
        )
    return chain


def test_intact_chain_verifies_and_reports_its_head():
    chain = make_chain(10)
    result = verify(chain)
    assert result.ok and result.checked == 10 and result.head_hash == chain[-1].hash
    assert chain[0].prev_hash == GENESIS_HASH
    assert verify([]).ok


def test_each_hash_covers_the_previous_one():
    chain = make_chain(3)
    e = chain[2]
    assert e.prev_hash == chain[1].hash
    assert e.hash == entry_hash(e.seq, e.kind, e.payload, e.recorded_at, e.prev_hash)


def test_edited_payload_is_named_as_altered():
    chain = make_chain(8)
    chain[4] = dataclasses.replace(chain[4], payload={"ballot_id": 2, "account_id": 999})
    result = verify(chain)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (5, "altered")
    assert "entry 5" in result.message and result.checked == 4


def test_edited_timestamp_is_caught():
    chain = make_chain(5)
    chain[0] = dataclasses.replace(chain[0], recorded_at="2025-01-01T00:00:00.000000+00:00")
    assert (verify(chain).first_bad_seq, verify(chain).problem) == (1, "altered")


def test_deleted_entry_is_named_as_removed():
    chain = make_chain(8)
    del chain[3]
    result = verify(chain)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 4, "removed")


def test_deleted_entry_with_the_rest_renumbered_is_named_as_removed():
    chain = make_chain(8)
    del chain[3]
    chain = [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(chain)]
    result = verify(chain)
    assert (result.first_bad_seq, result.problem) == (4, "removed")


def test_swapped_entries_are_named_as_reordered():
    chain = make_chain(8)
    a, b = chain[2], chain[3]
    # Exchange their places: each now carries the other's seq.
    chain[2], chain[3] = dataclasses.replace(b, seq=3), dataclasses.replace(a, seq=4)
    result = verify(chain)
    assert (result.first_bad_seq, result.problem) == (3, "reordered")
    assert "recorded as entry 4" in result.message


def test_removed_tail_is_caught_against_the_published_head():
    chain = make_chain(6)
    head = chain[-1].hash
    assert verify(chain[:4]).ok  # the chain alone cannot know it was longer
    result = verify(chain[:4], expected_head=head)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 5, "removed")
    assert verify(chain, expected_head=head).ok


def test_floats_are_refused_in_payloads():
    with pytest.raises(ValueError, match=r"payload\.hours"):
        canonical_json({"hours": 1.5})
    assert canonical_json({"b": 1, "a": "ü"}) == '{"a":"ü","b":1}'.encode()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=10**12),
    kind=st.text(min_size=1),
    payload=st.dictionaries(st.text(), _json_values, max_size=5),
    recorded_at=st.text(),
    prev=st.text(),
)
def test_the_hash_around_a_canonical_payload_is_the_entry_hash(
    seq, kind, payload, recorded_at, prev
):
    """The chainer's shortcut (the payload canonicalized once) hashes the same bytes."""
    fast = entry_hash_canonical(seq, kind, canonical_json(payload), recorded_at, prev)
    assert fast == entry_hash(seq, kind, payload, recorded_at, prev)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=25),
    data=st.data(),
)
def test_any_single_edit_is_found_at_that_entry(n, data):
    chain = make_chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(st.sampled_from(["kind", "payload", "recorded_at", "prev_hash"]))
    value = {
        "kind": "ballot.closed",
        "payload": {"ballot_id": -1},
        "recorded_at": "1999-12-31T23:59:59.000000+00:00",
        "prev_hash": "f" * 64,
    }[field]
    chain[i] = dataclasses.replace(chain[i], **{field: value})
    result = verify(chain)
    assert not result.ok
    assert result.first_bad_seq == i + 1
