"""The record rebuilds the tables: replaying states, and naming the first row that differs."""

from __future__ import annotations

import pytest

from councilplan.audit.record import (
    Replay,
    ReplayError,
    compare,
    event_mac,
    mac_matches,
    state_commitment,
)

KEYS = {"memberships": ("id",), "votes": ("id",), "participation": ("ballot_id", "account_id")}


def _replayed() -> Replay:
    replay = Replay(KEYS)
    replay.apply(1, [["insert", "memberships", {"id": 1, "account_id": 7, "left_at": None}]])
    replay.apply(2, [["insert", "memberships", {"id": 2, "account_id": 8, "left_at": None}]])
    replay.apply(3, [["update", "memberships", 2, {"left_at": "2026-01-01T00:00:00.000000+00:00"}]])
    return replay


def _tables(**changed) -> dict:
    tables = {
        "memberships": [
            {"id": 1, "account_id": 7, "left_at": None},
            {"id": 2, "account_id": 8, "left_at": "2026-01-01T00:00:00.000000+00:00"},
        ],
        "votes": [],
        "participation": [],
    }
    tables.update(changed)
    return tables


def test_tables_that_follow_from_the_record_compare_equal():
    assert compare(_replayed(), _tables()) is None


def test_a_row_no_event_made_is_named():
    extra = {"id": 3, "account_id": 9, "left_at": None}
    mismatch = compare(_replayed(), _tables(memberships=[*_tables()["memberships"], extra]))
    assert mismatch.table == "memberships" and mismatch.key == {"id": 3}
    assert "no event on record made it" in mismatch.message


def test_an_undone_update_is_named_with_the_entry_that_made_it():
    rows = [dict(r) for r in _tables()["memberships"]]
    rows[1]["left_at"] = None  # un-ending a membership behind the record's back
    mismatch = compare(_replayed(), _tables(memberships=rows))
    assert mismatch.key == {"id": 2} and mismatch.last_seq == 3
    assert "left_at is null in the table" in mismatch.message
    assert "(entry 3)" in mismatch.message


def test_a_deleted_row_is_named():
    mismatch = compare(_replayed(), _tables(memberships=_tables()["memberships"][:1]))
    assert mismatch.key == {"id": 2} and "not in the table" in mismatch.message


def test_anonymous_rows_are_matched_by_what_the_record_keeps():
    replay = Replay(KEYS)
    replay.apply(1, [["insert", "votes", {"ballot_id": 1, "weight": 1}]])
    replay.apply(2, [["insert", "votes", {"ballot_id": 1, "weight": 3}]])
    rows = [
        {"id": "a", "ballot_id": 1, "choice": "yes", "weight": 3},
        {"id": "b", "ballot_id": 1, "choice": "no", "weight": 1},
    ]
    assert compare(replay, {"votes": rows}) is None
    forged = [*rows, {"id": "c", "ballot_id": 1, "choice": "yes", "weight": 1}]
    assert "no event on record made it" in compare(replay, {"votes": forged}).message
    assert "on record but not in the table" in compare(replay, {"votes": rows[:1]}).message
    replay.apply(3, [["delete", "votes", {"ballot_id": 1}]])
    assert compare(replay, {"votes": []}) is None


def test_a_record_that_contradicts_itself_is_refused_at_its_entry():
    replay = _replayed()
    with pytest.raises(ReplayError, match="entry 4: memberships id=1 inserted twice"):
        replay.apply(4, [["insert", "memberships", {"id": 1, "account_id": 7, "left_at": None}]])
    with pytest.raises(ReplayError, match="entry 5: update of memberships id=9"):
        replay.apply(5, [["update", "memberships", 9, {"left_at": None}]])
    with pytest.raises(ReplayError, match="'secrets', which the record does not govern"):
        replay.apply(6, [["insert", "secrets", {"id": 1}]])


def test_the_commitment_hides_a_short_state_behind_its_salt():
    state = [["update", "disputes", 1, {"status": "upheld"}]]
    assert state_commitment("a" * 32, state) != state_commitment("b" * 32, state)
    assert state_commitment("a" * 32, state) == state_commitment("a" * 32, [list(state[0])])


def test_a_mac_needs_the_key():
    mac = event_mac(b"k" * 32, "member.joined", b'{"account_id":1}', "2026-01-01")
    assert mac_matches(b"k" * 32, mac, "member.joined", b'{"account_id":1}', "2026-01-01")
    assert not mac_matches(b"x" * 32, mac, "member.joined", b'{"account_id":1}', "2026-01-01")
    assert not mac_matches(b"k" * 32, mac, "member.joined", b'{"account_id":2}', "2026-01-01")
    assert not mac_matches(b"k" * 32, None, "member.joined", b'{"account_id":1}', "2026-01-01")
