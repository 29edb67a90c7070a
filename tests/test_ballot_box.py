"""The canonical form a closed secret ballot's votes are sealed in (its ballot box): what the
published digest is the SHA-256 of, so it must be exactly the compact JSON of each vote."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from councilplan.councils.service.ballots import _box, _json_lines, _unbox, _votes_digest

choices = st.one_of(st.text(), st.lists(st.text(), max_size=6))
votes = st.lists(st.tuples(choices, st.integers(min_value=1, max_value=10**6)), max_size=30)


@given(votes)
def test_each_vote_is_written_as_json_writes_it(votes):
    assert _json_lines(votes) == [
        json.dumps([c, w], separators=(",", ":"), ensure_ascii=False) for c, w in votes
    ]


@given(votes)
def test_a_box_is_sorted_lines_and_gives_back_its_votes_and_digest(votes):
    box, ordered = _box(votes)
    lines = box.split("\n") if votes else []
    assert lines == sorted(lines) and len(lines) == len(votes)
    assert sorted(map(repr, ordered)) == sorted(map(repr, votes))
    unboxed, digest = _unbox(box)
    assert [(c if isinstance(c, str) else tuple(c), w) for c, w in unboxed] == [
        (c if isinstance(c, str) else tuple(c), w) for c, w in ordered
    ]
    assert digest == _votes_digest(votes) == hashlib.sha256(box.encode()).hexdigest()


def test_the_digest_does_not_depend_on_the_order_of_a_box():
    box = '["b",1]\n["a",1]'  # as migration 0007 moves a ballot's rows: in key order
    assert _unbox(box)[1] == _votes_digest([("a", 1), ("b", 1)])
    assert _unbox("") == ([], hashlib.sha256(b"").hexdigest())
