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


class Row(dict):
    """A thing's fields: fields never set read as None, as a new row's empty columns do."""

    def __missing__(self, key):
        return None


class FakeRecords:
    """The :class:`~councilplan.councils.service.Records` interface over ``state``: {kind of
    thing: {its id: Row}}. Ids count up from 1; votes are keyed by the id the service gives."""

    def __init__(self, state, log):
        self.state, self.log = state, log

    # -- kinds of things kept by id ---------------------------------------------------------------

    def _add(self, kind, fields, key=None):
        rows = self.state.setdefault(kind, {})
        key = len(rows) + 1 if key is None else key
        if key in rows:
            raise s.Duplicate(kind, str(key))
        rows[key] = Row(fields, id=key) if isinstance(key, int) else Row(fields)
        return key

    def _one(self, kind, key):
        row = self.state.get(kind, {}).get(key)
        return Row(row) if row is not None else None

    def _all(self, kind, current=None, **match):
        """Things matching ``match`` (None given: any), in key order; ``current`` names the
        moment that ends one (left_at, ended_at): only those without it."""
        rows = self.state.get(kind, {})
        return [
            Row(row)
            for _, row in sorted(rows.items())
            if all(v is None or row[k] == v for k, v in match.items())
            and (current is None or row[current] is None)
        ]

    def _first(self, kind, current=None, **match):
        rows = self._all(kind, current, **match)
        return rows[0] if rows else None

    def _change(self, kind, key, **fields):
        self.state[kind][key].update(fields)

    def _unique(self, kind, current=None, **match):
        if self._all(kind, current, **match):
            raise s.Duplicate(kind, str(match))

    # -- accounts and tokens ------------------------------------------------------------------

    def account(self, account_id):
        return self._one("account", account_id)

    def account_by_name_key(self, name_key):
        return self._first("account", name_key=name_key)

    def account_by_username(self, username):
        return self._first("account", username=username)

    def add_account(self, fields):
        self._unique("account", username=fields["username"])
        self._unique("account", name_key=fields["name_key"])
        return self._add("account", fields)

    def set_account_identity(self, account_id, fields):
        self._change("account", account_id, **fields)

    def set_password_hash(self, account_id, password_hash):
        self._change("account", account_id, password_hash=password_hash)

    def add_token(self, fields):
        self._add("token", fields, key=fields["token_hash"])

    def token(self, token_hash):
        return self._one("token", token_hash)

    def tokens_of(self, account_id):
        return self._all("token", account_id=account_id)

    def delete_token(self, token_hash):
        return self.state.get("token", {}).pop(token_hash, None) is not None

    # -- councils -------------------------------------------------------------------------------

    def council(self, council_id):
        return self._one("council", council_id)

    def councils(self):
        return self._all("council")

    def add_council(self, fields):
        self._unique("council", name=fields["name"])
        return self._add("council", fields)

    def set_council_rules(self, council_id, rules):
        self._change("council", council_id, **rules)

    def membership(self, membership_id):
        return self._one("membership", membership_id)

    def current_membership(self, council_id, account_id):
        return self._first("membership", "left_at", council_id=council_id, account_id=account_id)

    def memberships(self, council_id, *, current=True):
        return self._all("membership", "left_at" if current else None, council_id=council_id)

    def memberships_of(self, account_id):
        return self._all("membership", "left_at", account_id=account_id)

    def add_membership(self, council_id, account_id, joined_at):
        self._unique("membership", "left_at", council_id=council_id, account_id=account_id)
        fields = {"council_id": council_id, "account_id": account_id, "joined_at": joined_at}
        return self._add("membership", fields)

    def end_membership(self, membership_id, left_at):
        self._change("membership", membership_id, left_at=left_at)

    def application(self, application_id):
        return self._one("application", application_id)

    def applications(self, council_id):
        return self._all("application", council_id=council_id)

    def application_with_status(self, council_id, account_id, status):
        return self._first(
            "application", council_id=council_id, account_id=account_id, status=status
        )

    def add_application(self, fields):
        return self._add("application", fields)

    def set_application_inviter(self, application_id, invited_by):
        self._change("application", application_id, invited_by=invited_by)

    def decide_application(self, application_id, status, decided_at):
        self._change("application", application_id, status=status, decided_at=decided_at)

    def put_application_to_ballot(self, application_id, ballot_id):
        self._change("application", application_id, ballot_id=ballot_id)

    def affiliation(self, federation_id, council_id):
        return self._first(
            "affiliation", "left_at", federation_id=federation_id, council_id=council_id
        )

    def affiliations(self, federation_id):
        return self._all("affiliation", "left_at", federation_id=federation_id)

    def add_affiliation(self, fields):
        return self._add("affiliation", fields)

    # -- delegates and recalls ------------------------------------------------------------------

    def delegate(self, delegate_id):
        return self._one("delegate", delegate_id)

    def delegates(self, *, federation_id=None, council_id=None, account_id=None, current=True):
        return self._all(
            "delegate",
            "ended_at" if current else None,
            federation_id=federation_id,
            council_id=council_id,
            account_id=account_id,
        )

    def add_delegate(self, fields):
        return self._add("delegate", fields)

    def end_delegate(self, delegate_id, ended_at, reason):
        self._change("delegate", delegate_id, ended_at=ended_at, end_reason=reason)

    def recall(self, recall_id, *, lock=None):
        return self._one("recall", recall_id)

    def recall_with_status(self, delegate_id, status):
        return self._first("recall", delegate_id=delegate_id, status=status)

    def add_recall(self, fields):
        return self._add("recall", fields)

    def set_recall_status(self, recall_id, status, *, ballot_id=None, by_election_ballot_id=None):
        given = {"ballot_id": ballot_id, "by_election_ballot_id": by_election_ballot_id}
        more = {k: v for k, v in given.items() if v is not None}
        self._change("recall", recall_id, status=status, **more)

    def add_recall_supporter(self, recall_id, account_id, at):
        fields = {"recall_id": recall_id, "account_id": account_id, "supported_at": at}
        self._add("recall supporter", fields, key=(recall_id, account_id))

    def recall_support(self, recall_id):
        return len(self._all("recall supporter", recall_id=recall_id))

    # -- motions and ballots --------------------------------------------------------------------

    def motion(self, motion_id):
        return self._one("motion", motion_id)

    def add_motion(self, fields):
        return self._add("motion", fields)

    def amendment(self, amendment_id):
        return self._one("amendment", amendment_id)

    def amendments(self, motion_id):
        return self._all("amendment", motion_id=motion_id)

    def add_amendment(self, fields):
        return self._add("amendment", fields)

    def ballot(self, ballot_id, *, lock=None):
        return self._one("ballot", ballot_id)

    def ballots(self, council_id):
        return self._all("ballot", council_id=council_id)

    def open_ballots(self):
        return self._all("ballot", status="open")

    def add_ballot(self, fields):
        return self._add("ballot", fields)

    def set_ballot_options(self, ballot_id, options):
        self._change("ballot", ballot_id, options=list(options))

    def set_ballot_subject(self, ballot_id, subject):
        self._change("ballot", ballot_id, subject=dict(subject))

    def close_ballot_row(self, ballot_id, *, closed_at, electorate, tally, votes_digest):
        self._change(
            "ballot",
            ballot_id,
            status="closed",
            closed_at=closed_at,
            electorate=electorate,
            tally=tally,
            votes_digest=votes_digest,
        )

    def record_participation(self, ballot_id, account_id):
        fields = {"ballot_id": ballot_id, "account_id": account_id}
        self._add("participation", fields, key=(ballot_id, account_id))

    def participants(self, ballot_id):
        return [p["account_id"] for p in self._all("participation", ballot_id=ballot_id)]

    def add_vote(self, vote_id, ballot_id, choice, weight):
        fields = {"ballot_id": ballot_id, "choice": choice, "weight": weight}
        self._add("vote", fields, key=vote_id)

    def add_open_vote(self, vote_id, ballot_id, account_id):
        self._unique("open vote", ballot_id=ballot_id, account_id=account_id)
        fields = {"vote_id": vote_id, "ballot_id": ballot_id, "account_id": account_id}
        self._add("open vote", fields, key=vote_id)

    def open_votes(self, ballot_id):
        votes = self.state.get("vote", {})
        return [
            {
                "account_id": o["account_id"],
                "choice": votes[o["vote_id"]]["choice"],
                "weight": votes[o["vote_id"]]["weight"],
            }
            for o in self._all("open vote", ballot_id=ballot_id)
        ]

    def ballot_votes(self, ballot_id):
        return [(v["choice"], v["weight"]) for v in self._all("vote", ballot_id=ballot_id)]

    def take_votes(self, ballot_id):
        taken = self.ballot_votes(ballot_id)
        votes = self.state.get("vote", {})
        for key in [k for k, v in votes.items() if v["ballot_id"] == ballot_id]:
            del votes[key]
        return taken

    def add_ballot_box(self, ballot_id, votes):
        self._add("ballot box", {"votes": votes}, key=("box", ballot_id))

    def ballot_box(self, ballot_id):
        box = self._one("ballot box", ("box", ballot_id))
        return box["votes"] if box is not None else None

    # -- budgets --------------------------------------------------------------------------------

    def budget(self, budget_id):
        return self._one("budget", budget_id)

    def add_budget(self, fields):
        return self._add("budget", fields)

    def set_budget_result(self, budget_id, result):
        self._change("budget", budget_id, result=result)

    def budget_proposal(self, proposal_id):
        return self._one("budget proposal", proposal_id)

    def budget_proposals(self, budget_id):
        return self._all("budget proposal", budget_id=budget_id)

    def add_budget_proposal(self, fields):
        return self._add("budget proposal", fields)

    # -- commissions and disputes ---------------------------------------------------------------

    def commission(self, commission_id, *, lock=None):
        return self._one("commission", commission_id)

    def commissions(self, *, federation_id=None, workplace_council_id=None):
        return self._all(
            "commission", federation_id=federation_id, workplace_council_id=workplace_council_id
        )

    def add_commission(self, fields):
        self._unique("commission", name=fields["name"])
        return self._add("commission", fields)

    def commission_seat(self, seat_id):
        return self._one("seat", seat_id)

    def commission_seats(self, commission_id=None, *, account_id=None, side=None, current=True):
        return self._all(
            "seat",
            "left_at" if current else None,
            commission_id=commission_id,
            account_id=account_id,
            side=side,
        )

    def add_commission_seat(self, fields):
        return self._add("seat", fields)

    def end_commission_seat(self, seat_id, left_at):
        self._change("seat", seat_id, left_at=left_at)

    def dispute(self, dispute_id, *, lock=None):
        return self._one("dispute", dispute_id)

    def disputes(self, commission_id=None):
        return self._all("dispute", commission_id=commission_id)

    def add_dispute(self, fields):
        return self._add("dispute", fields)

    def set_dispute_state(self, dispute_id, state, status, updated_at):
        self._change("dispute", dispute_id, state=state, status=status, updated_at=updated_at)

    # -- planning periods -----------------------------------------------------------------------

    def bundle(self, digest, *, archive=False):
        row = self._one("bundle", digest)
        if row is not None and not archive:
            row.pop("archive")
        return row

    def add_bundle(self, fields):
        return self._add("bundle", fields, key=fields["digest"])

    def period(self, period_id, *, lock=None):
        return self._one("period", period_id)

    def ledger_persons(self, period_id):
        period = self._one("period", period_id)
        return (
            None
            if period is None
            else self._one("council", period["federation_id"])["ledger_persons"]
        )

    def periods(self, federation_id=None):
        return self._all("period", federation_id=federation_id)

    def add_period(self, fields):
        return self._add("period", fields)

    def update_period(self, period_id, values):
        self._change("period", period_id, **values)

    def statement(self, statement_id):
        return self._one("statement", statement_id)

    def statements(self, period_id, *, council_id=None, status=None):
        return self._all("statement", period_id=period_id, council_id=council_id, status=status)

    def add_statement(self, fields):
        return self._add("statement", fields)

    def set_statement_status(self, statement_id, status, decided_at):
        self._change("statement", statement_id, status=status, decided_at=decided_at)

    def set_statement_ballot(self, statement_id, ballot_id):
        self._change("statement", statement_id, ballot_id=ballot_id)

    def variant(self, variant_id, *, lock=None, result=False):
        row = self._one("variant", variant_id)
        if row is not None and not result:
            row.pop("result", None)
        return row

    def variants(self, period_id):
        return [self.variant(v["id"]) for v in self._all("variant", period_id=period_id)]

    def add_variant(self, fields):
        self._unique("variant", period_id=fields["period_id"], name=fields["name"])
        return self._add("variant", fields)

    def claim_variant(self, worker, started_at, stale_before=None):
        queued = self._first("variant", status="queued")
        if queued is None:
            return None
        self._change(
            "variant", queued["id"], status="running", worker=worker, started_at=started_at
        )
        return self.variant(queued["id"])

    def update_variant(self, variant_id, values):
        self._change("variant", variant_id, **values)

    def set_progress(self, variant_id, stage, done, at):
        self.state.setdefault("progress", {})[variant_id] = Row(
            variant_id=variant_id, stage=stage, done=done, updated_at=at
        )

    def progress(self, variant_id):
        return self._one("progress", variant_id)

    def plan_round(self, round_id, *, lock=None):
        return self._one("plan_round", round_id)

    def plan_rounds(self, period_id):
        return sorted(self._all("plan_round", period_id=period_id), key=lambda r: r["number"])

    def plan_round_number(self, period_id, number):
        return self._first("plan_round", period_id=period_id, number=number)

    def add_plan_round(self, fields):
        return self._add("plan_round", fields)

    def update_plan_round(self, round_id, values):
        self._change("plan_round", round_id, **values)

    def round_answers(self, round_id):
        return sorted(self._all("round_answer", round_id=round_id), key=lambda r: r["council_id"])

    def round_answer(self, round_id, council_id):
        return self._first("round_answer", round_id=round_id, council_id=council_id)

    def add_round_answer(self, fields):
        return self._add("round_answer", fields)

    def update_round_answer(self, answer_id, values):
        self._change("round_answer", answer_id, **values)

    # -- labour-time accounts -------------------------------------------------------------------

    def ledger_account(self, key, *, lock=None):
        return self._first("ledger_account", key=key)

    def ledger_account_by_id(self, account_id):
        return self._one("ledger_account", account_id)

    def ledger_accounts(self, *, kind=None, owner=None):
        return self._all("ledger_account", kind=kind, owner=owner)

    def open_ledger_account(self, fields):
        if not self._all("ledger_account", key=fields["key"]):
            self._add("ledger_account", fields)

    def set_ledger_balance(self, account_id, balance):
        self._change("ledger_account", account_id, balance=balance)

    def add_transfer(self, fields):
        self._unique("transfer", tid=fields["tid"])
        if fields.get("reverses") is not None:
            self._unique("transfer", reverses=fields["reverses"])
        return self._add("transfer", fields)

    def transfer(self, tid):
        return self._first("transfer", tid=tid)

    def reversal_of(self, tid):
        return self._first("transfer", reverses=tid)

    def transfers_of(self, ledger_account_id, *, limit, before=None):
        rows = [
            r
            for r in self._all("transfer")
            if ledger_account_id in (r["debit_id"], r["credit_id"])
            and (before is None or r["id"] < before)
        ]
        return sorted(rows, key=lambda r: -r["id"])[:limit]

    def levy(self, period_id):
        return self._one("levy", period_id)

    def add_levy(self, fields):
        self._add("levy", fields, key=fields["period_id"])

    # -- the record -----------------------------------------------------------------------------

    def append_event(self, kind, payload, recorded_at):
        head = self.log[-1] if self.log else None
        entry = entry_after(
            head.seq if head else 0, head.hash if head else GENESIS_HASH, kind, payload, recorded_at
        )
        self.log.append(entry)
        return entry


class FakeStore:
    """Transactions over copies: a refused act leaves the state as it was."""

    def __init__(self):
        self.state, self.log = {}, []
        self.is_async = False

    @contextmanager
    def transaction(self):
        state, log = copy.deepcopy(self.state), list(self.log)
        yield FakeRecords(state, log)
        self.state, self.log = state, log

    reading = transaction

    async def open_async(self):
        return None

    async def close_async(self):
        return None

    async def token_async(self, token_hash):
        raise RuntimeError("the fake does not answer on an event loop")

    def post_ledger_act(self, act, event):
        return None  # no one step: the general path

    async def quick_vote_async(self, **_vote):
        return None


@pytest.fixture
def store():
    return FakeStore()


def test_demo_town_on_the_fake(store):
    made = s.create_demo_town(store, hash_password=lambda p: "h:" + p, now=T0)
    fed = made["councils"]["federation"]
    assert len(s.delegates(store, federation_id=fed)) == 5
    assert s.get_ballot(store, made["motion_ballot"]).tally["outcome"] == "carried"
    assert s.recount(store, made["motion_ballot"]).matches
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
    before = (copy.deepcopy(store.state), len(store.log))
    with pytest.raises(s.Conflict):
        s.cast_vote(store, ballot_id=b.id, voter_id=ada, choice="no", now=T0)
    assert (store.state, len(store.log)) == before


def test_recall_on_the_fake(store):
    made = s.create_demo_town(store, hash_password=lambda p: "h:" + p, now=T0)
    ids, bakery = made["accounts"], made["councils"]["bakery"]
    (delegate,) = s.delegates(store, council_id=bakery)
    t = T0 + DAY
    recall = s.open_recall(store, delegate_id=delegate.id, member_id=ids["bea"], reason="r", now=t)
    for name in ("bea", "cai", "dan"):
        s.cast_vote(store, ballot_id=recall.ballot_id, voter_id=ids[name], choice="yes", now=t)
    assert s.get_recall(store, recall.id).status == "recalled"
    assert s.delegates(store, council_id=bakery) == []


def test_the_fake_and_the_store_offer_what_the_acts_need():
    from councilplan.store.sql import SqlRecords, SqlStore

    needed = {name for name in vars(s.Records) if not name.startswith("_")}
    assert needed <= set(dir(FakeRecords)) and needed <= set(dir(SqlRecords))
    needed = {name for name in vars(s.Store) if not name.startswith("_")}
    assert needed <= set(dir(FakeStore())) and needed - {"transaction", "reading"} <= set(
        dir(SqlStore)
    )
