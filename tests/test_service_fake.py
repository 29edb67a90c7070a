"""The service against an in-memory fake of its small ``Records`` interface: the use cases need
no database, and the interface is all the store has to provide."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from councilplan.audit.chain import GENESIS_HASH, entry_after, verify
from councilplan.councils import service as s

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)

KEYS = {  # table -> primary key columns
    "ballot_participation": ("ballot_id", "account_id"),
    "recall_supporters": ("recall_id", "account_id"),
    "votes": ("id",),
    "open_votes": ("vote_id",),
    "ballot_boxes": ("ballot_id",),
    "auth_tokens": ("token_hash",),
}
UNIQUE = {  # table -> (columns, only where) the service relies on
    "accounts": [(("username",), None)],
    "councils": [(("name",), None)],
    "commissions": [(("name",), None)],
    "memberships": [(("council_id", "account_id"), "left_at")],
    "open_votes": [(("ballot_id", "account_id"), None)],
}


class Row(dict):
    """A row: columns never set read as NULL, as in the database."""

    def __missing__(self, key):
        return None


class FakeRecords:
    def __init__(self, tables, log):
        self.tables, self.log = tables, log

    def _key(self, table, row):
        return tuple(row[c] for c in KEYS.get(table, ("id",)))

    def insert(self, table, values):
        rows = self.tables.setdefault(table, {})
        row = Row(values)
        if KEYS.get(table, ("id",)) == ("id",) and "id" not in row:
            row["id"] = len(rows) + 1
        key = self._key(table, row)
        if key in rows:
            raise s.Duplicate(table, str(key))
        for columns, only_null in UNIQUE.get(table, []):
            for other in rows.values():
                same = all(other[c] == row[c] for c in columns)
                if same and (only_null is None or other.get(only_null) is None):
                    raise s.Duplicate(table, str(columns))
        rows[key] = row
        return key[0] if len(key) == 1 else key

    def insert_many(self, table, rows):
        for row in rows:
            self.insert(table, row)

    def get(self, table, key, *, lock=None):
        row = self.tables.get(table, {}).get((key,))
        return Row(row) if row is not None else None

    def find(self, table, where=None, *, order_by=None, limit=None):
        rows = [
            dict(r)
            for r in self.tables.get(table, {}).values()
            if all(r.get(k) == v for k, v in (where or {}).items())
        ]
        if order_by:
            rows.sort(key=lambda r: r[order_by])
        return rows[:limit]

    def count(self, table, where=None):
        return len(self.find(table, where))

    def update(self, table, key, values):
        self.tables[table][(key,)].update(values)

    def delete(self, table, where):
        rows = self.tables.get(table, {})
        gone = [k for k, r in rows.items() if all(r.get(c) == v for c, v in where.items())]
        for k in gone:
            del rows[k]
        return len(gone)

    def ballot_votes(self, ballot_id):
        return [
            (v["choice"], v["weight"])
            for v in sorted(self.find("votes", {"ballot_id": ballot_id}), key=lambda v: v["id"])
        ]

    def take_votes(self, ballot_id):
        taken = self.ballot_votes(ballot_id)
        self.delete("votes", {"ballot_id": ballot_id})
        return taken

    def append_event(self, kind, payload, recorded_at):
        head = self.log[-1] if self.log else None
        entry = entry_after(
            head.seq if head else 0, head.hash if head else GENESIS_HASH, kind, payload, recorded_at
        )
        self.log.append(entry)
        return entry


class FakeStore:
    """Transactions over copies: a refused act leaves the tables as they were."""

    def __init__(self):
        self.tables, self.log = {}, []

    @contextmanager
    def transaction(self):
        tables, log = copy.deepcopy(self.tables), list(self.log)
        yield FakeRecords(tables, log)
        self.tables, self.log = tables, log


@pytest.fixture
def store():
    return FakeStore()


def test_demo_town_on_the_fake(store):
    made = s.create_demo_town(store, hash_password=lambda p: "h:" + p, now=T0)
    fed = made["councils"]["federation"]
    assert len(s.delegates(store, federation_id=fed)) == 3
    assert s.get_ballot(store, made["motion_ballot"]).tally["outcome"] == "carried"
    assert s.recount(store, made["motion_ballot"])["matches"]
    assert verify(store.log).ok and len(store.log) > 50


def test_a_refused_act_writes_nothing(store):
    ada = s.register_account(store, username="ada", display_name="Ada", password_hash="h")
    c = s.create_council(store, name="Bakery", kind="workplace", founder_id=ada, now=T0)
    b = s.open_ballot(
        store,
        council_id=c.id,
        opened_by=ada,
        title="Q",
        rule="yes_no",
        closes_at=T0 + 3 * DAY,
        now=T0,
    )
    s.cast_vote(store, ballot_id=b.id, voter_id=ada, choice="yes", now=T0)
    before = (copy.deepcopy(store.tables), len(store.log))
    with pytest.raises(s.Conflict):
        s.cast_vote(store, ballot_id=b.id, voter_id=ada, choice="no", now=T0)
    assert (store.tables, len(store.log)) == before


def test_recall_on_the_fake(store):
    made = s.create_demo_town(store, hash_password=lambda p: "h:" + p, now=T0)
    ids, bakery = made["accounts"], made["councils"]["bakery"]
    (delegate,) = s.delegates(store, council_id=bakery)
    t = T0 + DAY
    recall = s.open_recall(
        store, delegate_id=delegate["id"], member_id=ids["bea"], reason="r", now=t
    )
    for name in ("bea", "cai", "dan"):
        s.cast_vote(store, ballot_id=recall["ballot_id"], voter_id=ids[name], choice="yes", now=t)
    assert s.get_recall(store, recall["id"])["status"] == "recalled"
    assert s.delegates(store, council_id=bakery) == []
