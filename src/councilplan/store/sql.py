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
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

import councilplan.store.collector as collector
from councilplan.audit.chain import (
    Entry,
    Verification,
    canonical_json,
    event_payload,
    utc_timestamp,
    verify,
)
from councilplan.audit.record import event_mac
from councilplan.councils.service import Duplicate, GuardRefused, QuickVote
from councilplan.store.record import (
    GOVERNED,
    Changes,
    State,
    StateCheck,
    audit_key,
    check_state,
    with_commitment,
)
from councilplan.store.sections import SectionRecords
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


class SqlRecords(SectionRecords):
    """The :class:`Records` interface over one connection inside one transaction. Every write to
    a governed table is collected (:class:`~councilplan.store.record.Changes`) and goes on
    record with the act's events; each database chains them its own way."""

    def __init__(self, connection: Connection, key: bytes | None = None):
        self.connection = connection
        self.key = key
        self.changes = Changes()
        self.events: list[RecordedEvent] = []
        self._collector_paused = False

    def pause_collection(self) -> None:
        """Pause the cycle collector until :meth:`resume_collection` (the act's end): the act
        is about to work on a whole ballot's votes (store/collector.py)."""
        if not self._collector_paused:
            collector.pause()
            self._collector_paused = True

    def resume_collection(self) -> None:
        if self._collector_paused:
            self._collector_paused = False
            collector.resume()

    def append_event(
        self, kind: str, payload: Mapping[str, Any], recorded_at: str
    ) -> RecordedEvent:
        """Record an event with the changes made since the previous one; it is chained when the
        act is done."""
        checked = event_payload(kind, payload)
        event = RecordedEvent(kind, checked, recorded_at, State(self.changes.take()))
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

    # -- the councils' Records (councils/service/repository.py), on the generic helpers below --

    def account(self, account_id: int) -> dict | None:
        return self._get("accounts", account_id)

    def account_by_name_key(self, name_key: str) -> dict | None:
        return self._first("accounts", {"name_key": name_key})

    def account_by_username(self, username: str) -> dict | None:
        return self._first("accounts", {"username": username})

    def add_account(self, fields: Mapping[str, Any]) -> int:
        return self._insert("accounts", fields)

    def set_account_identity(self, account_id: int, fields: Mapping[str, Any]) -> None:
        self._update("accounts", account_id, fields)

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        self._update("accounts", account_id, {"password_hash": password_hash})

    def add_token(self, fields: Mapping[str, Any]) -> None:
        self._insert("auth_tokens", fields)

    def token(self, token_hash: str) -> dict | None:
        return self._get("auth_tokens", token_hash)

    def tokens_of(self, account_id: int) -> list[dict]:
        return self._find("auth_tokens", {"account_id": account_id})

    def delete_token(self, token_hash: str) -> bool:
        return bool(self._delete("auth_tokens", {"token_hash": token_hash}))

    def council(self, council_id: int) -> dict | None:
        return self._get("councils", council_id)

    def councils(self) -> list[dict]:
        return self._find("councils", order_by="id")

    def add_council(self, fields: Mapping[str, Any]) -> int:
        return self._insert("councils", fields)

    def set_council_rules(self, council_id: int, rules: Mapping[str, Any]) -> None:
        self._update("councils", council_id, rules)

    def membership(self, membership_id: int) -> dict | None:
        return self._get("memberships", membership_id)

    def current_membership(self, council_id: int, account_id: int) -> dict | None:
        where = {"council_id": council_id, "account_id": account_id, "left_at": None}
        return self._first("memberships", where)

    def memberships(self, council_id: int, *, current: bool = True) -> list[dict]:
        where = {"council_id": council_id} | ({"left_at": None} if current else {})
        return self._find("memberships", where, order_by="id")

    def memberships_of(self, account_id: int) -> list[dict]:
        where = {"account_id": account_id, "left_at": None}
        return self._find("memberships", where, order_by="id")

    def add_membership(self, council_id: int, account_id: int, joined_at: datetime) -> int:
        values = {"council_id": council_id, "account_id": account_id, "joined_at": joined_at}
        return self._insert("memberships", values)

    def end_membership(self, membership_id: int, left_at: datetime) -> None:
        self._update("memberships", membership_id, {"left_at": left_at})

    def application(self, application_id: int) -> dict | None:
        return self._get("applications", application_id)

    def applications(self, council_id: int) -> list[dict]:
        return self._find("applications", {"council_id": council_id}, order_by="id")

    def application_with_status(self, council_id: int, account_id: int, status: str) -> dict | None:
        where = {"council_id": council_id, "account_id": account_id, "status": status}
        return self._first("applications", where)

    def add_application(self, fields: Mapping[str, Any]) -> int:
        return self._insert("applications", fields)

    def set_application_inviter(self, application_id: int, invited_by: int) -> None:
        self._update("applications", application_id, {"invited_by": invited_by})

    def decide_application(self, application_id: int, status: str, decided_at: datetime) -> None:
        values = {"status": status, "decided_at": decided_at}
        self._update("applications", application_id, values)

    def put_application_to_ballot(self, application_id: int, ballot_id: int) -> None:
        self._update("applications", application_id, {"ballot_id": ballot_id})

    def affiliation(self, federation_id: int, council_id: int) -> dict | None:
        where = {"federation_id": federation_id, "council_id": council_id, "left_at": None}
        return self._first("federation_members", where)

    def affiliations(self, federation_id: int) -> list[dict]:
        where = {"federation_id": federation_id, "left_at": None}
        return self._find("federation_members", where, order_by="id")

    def add_affiliation(self, fields: Mapping[str, Any]) -> int:
        return self._insert("federation_members", fields)

    def delegate(self, delegate_id: int) -> dict | None:
        return self._get("delegates", delegate_id)

    def delegates(
        self,
        *,
        federation_id: int | None = None,
        council_id: int | None = None,
        account_id: int | None = None,
        current: bool = True,
    ) -> list[dict]:
        given = {"federation_id": federation_id, "council_id": council_id, "account_id": account_id}
        where = {k: v for k, v in given.items() if v is not None}
        if current:
            where["ended_at"] = None
        return self._find("delegates", where, order_by="id")

    def add_delegate(self, fields: Mapping[str, Any]) -> int:
        return self._insert("delegates", fields)

    def end_delegate(self, delegate_id: int, ended_at: datetime, reason: str) -> None:
        self._update("delegates", delegate_id, {"ended_at": ended_at, "end_reason": reason})

    def recall(self, recall_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("recalls", recall_id, lock=lock)

    def recall_with_status(self, delegate_id: int, status: str) -> dict | None:
        return self._first("recalls", {"delegate_id": delegate_id, "status": status})

    def add_recall(self, fields: Mapping[str, Any]) -> int:
        return self._insert("recalls", fields)

    def set_recall_status(
        self,
        recall_id: int,
        status: str,
        *,
        ballot_id: int | None = None,
        by_election_ballot_id: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if ballot_id is not None:
            values["ballot_id"] = ballot_id
        if by_election_ballot_id is not None:
            values["by_election_ballot_id"] = by_election_ballot_id
        self._update("recalls", recall_id, values)

    def add_recall_supporter(self, recall_id: int, account_id: int, at: datetime) -> None:
        values = {"recall_id": recall_id, "account_id": account_id, "supported_at": at}
        self._insert("recall_supporters", values)

    def recall_support(self, recall_id: int) -> int:
        return self._count("recall_supporters", {"recall_id": recall_id})

    def motion(self, motion_id: int) -> dict | None:
        return self._get("motions", motion_id)

    def add_motion(self, fields: Mapping[str, Any]) -> int:
        return self._insert("motions", fields)

    def amendment(self, amendment_id: int) -> dict | None:
        return self._get("amendments", amendment_id)

    def amendments(self, motion_id: int) -> list[dict]:
        return self._find("amendments", {"motion_id": motion_id}, order_by="id")

    def add_amendment(self, fields: Mapping[str, Any]) -> int:
        return self._insert("amendments", fields)

    def ballot(self, ballot_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("ballots", ballot_id, lock=lock)

    def ballots(self, council_id: int) -> list[dict]:
        return self._find("ballots", {"council_id": council_id}, order_by="id")

    def open_ballots(self) -> list[dict]:
        return self._find("ballots", {"status": "open"})

    def add_ballot(self, fields: Mapping[str, Any]) -> int:
        return self._insert("ballots", fields)

    def set_ballot_options(self, ballot_id: int, options: Sequence[str]) -> None:
        self._update("ballots", ballot_id, {"options": list(options)})

    def set_ballot_subject(self, ballot_id: int, subject: Mapping[str, Any]) -> None:
        self._update("ballots", ballot_id, {"subject": dict(subject)})

    def close_ballot_row(
        self,
        ballot_id: int,
        *,
        closed_at: datetime,
        electorate: int,
        tally: Mapping[str, Any],
        votes_digest: str,
    ) -> None:
        values = {
            "status": "closed",
            "closed_at": closed_at,
            "electorate": electorate,
            "tally": tally,
            "votes_digest": votes_digest,
        }
        self._update("ballots", ballot_id, values)

    def record_participation(self, ballot_id: int, account_id: int) -> None:
        self._insert("ballot_participation", {"ballot_id": ballot_id, "account_id": account_id})

    def participants(self, ballot_id: int) -> list[int]:
        rows = self._find("ballot_participation", {"ballot_id": ballot_id})
        return [row["account_id"] for row in rows]

    def add_vote(self, vote_id: str, ballot_id: int, choice: Any, weight: int) -> None:
        values = {"id": vote_id, "ballot_id": ballot_id, "choice": choice, "weight": weight}
        self._insert("votes", values)

    def add_open_vote(self, vote_id: str, ballot_id: int, account_id: int) -> None:
        values = {"vote_id": vote_id, "ballot_id": ballot_id, "account_id": account_id}
        self._insert("open_votes", values)

    def open_votes(self, ballot_id: int) -> list[dict]:
        stored = {v["id"]: v for v in self._find("votes", {"ballot_id": ballot_id})}
        return [
            {
                "account_id": o["account_id"],
                "choice": stored[o["vote_id"]]["choice"],
                "weight": stored[o["vote_id"]]["weight"],
            }
            for o in self._find("open_votes", {"ballot_id": ballot_id})
        ]

    def ballot_votes(self, ballot_id: int) -> list[tuple]:
        self.pause_collection()
        # Sorted here rather than by the database: the same order on SQLite and PostgreSQL
        # whatever the collation, and faster than ORDER BY on text keys.
        query = sa.select(votes.c.id, votes.c.choice, votes.c.weight).where(
            votes.c.ballot_id == ballot_id
        )
        rows = sorted(tuple(row) for row in self._execute(query))
        return [(choice, weight) for _, choice, weight in rows]

    def take_votes(self, ballot_id: int) -> list:
        self.pause_collection()
        where = votes.c.ballot_id == ballot_id
        rows = self._execute(sa.select(votes.c.choice, votes.c.weight).where(where)).all()
        self._execute(votes.delete().where(where))
        self.changes.delete("votes", {"ballot_id": ballot_id})
        return [(choice, weight) for choice, weight in rows]

    def add_ballot_box(self, ballot_id: int, votes: str) -> None:
        self._insert("ballot_boxes", {"ballot_id": ballot_id, "votes": votes})

    def ballot_box(self, ballot_id: int) -> str | None:
        self.pause_collection()
        row = self._get("ballot_boxes", ballot_id)
        return row["votes"] if row is not None else None

    def budget(self, budget_id: int) -> dict | None:
        return self._get("budgets", budget_id)

    def add_budget(self, fields: Mapping[str, Any]) -> int:
        return self._insert("budgets", fields)

    def set_budget_result(self, budget_id: int, result: Mapping[str, Any]) -> None:
        self._update("budgets", budget_id, {"result": result})

    def budget_proposal(self, proposal_id: int) -> dict | None:
        return self._get("budget_proposals", proposal_id)

    def budget_proposals(self, budget_id: int) -> list[dict]:
        return self._find("budget_proposals", {"budget_id": budget_id}, order_by="id")

    def add_budget_proposal(self, fields: Mapping[str, Any]) -> int:
        return self._insert("budget_proposals", fields)

    def commission(self, commission_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("commissions", commission_id, lock=lock)

    def commissions(
        self, *, federation_id: int | None = None, workplace_council_id: int | None = None
    ) -> list[dict]:
        given = {"federation_id": federation_id, "workplace_council_id": workplace_council_id}
        where = {k: v for k, v in given.items() if v is not None}
        return self._find("commissions", where, order_by="id")

    def add_commission(self, fields: Mapping[str, Any]) -> int:
        return self._insert("commissions", fields)

    def commission_seat(self, seat_id: int) -> dict | None:
        return self._get("commission_seats", seat_id)

    def commission_seats(
        self,
        commission_id: int | None = None,
        *,
        account_id: int | None = None,
        side: str | None = None,
        current: bool = True,
    ) -> list[dict]:
        given = {"commission_id": commission_id, "account_id": account_id, "side": side}
        where = {k: v for k, v in given.items() if v is not None}
        if current:
            where["left_at"] = None
        return self._find("commission_seats", where, order_by="id")

    def add_commission_seat(self, fields: Mapping[str, Any]) -> int:
        return self._insert("commission_seats", fields)

    def end_commission_seat(self, seat_id: int, left_at: datetime) -> None:
        self._update("commission_seats", seat_id, {"left_at": left_at})

    def dispute(self, dispute_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("disputes", dispute_id, lock=lock)

    def disputes(self, commission_id: int | None = None) -> list[dict]:
        where = {} if commission_id is None else {"commission_id": commission_id}
        return self._find("disputes", where, order_by="id")

    def add_dispute(self, fields: Mapping[str, Any]) -> int:
        return self._insert("disputes", fields)

    def set_dispute_state(
        self, dispute_id: int, state: Mapping[str, Any], status: str, updated_at: datetime
    ) -> None:
        values = {"state": state, "status": status, "updated_at": updated_at}
        self._update("disputes", dispute_id, values)

    # -- planning periods ------------------------------------------------------------------------

    def bundle(self, digest: str, *, archive: bool = False) -> dict | None:
        t = self._table("bundles")
        columns = [c for c in t.c if archive or c.name != "archive"]
        row = self._execute(sa.select(*columns).where(t.c.digest == digest)).mappings().first()
        return _aware(row) if row is not None else None

    def add_bundle(self, fields: Mapping[str, Any]) -> str:
        return self._insert("bundles", fields)

    def period(self, period_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("periods", period_id, lock=lock)

    def ledger_persons(self, period_id: int) -> str | None:
        p, c = self._table("periods"), self._table("councils")
        query = (
            sa.select(c.c.ledger_persons)
            .select_from(p.join(c, c.c.id == p.c.federation_id))
            .where(p.c.id == period_id)
        )
        return self._execute(query).scalar_one_or_none()

    def periods(self, federation_id: int | None = None) -> list[dict]:
        where = {} if federation_id is None else {"federation_id": federation_id}
        return self._find("periods", where, order_by="id")

    def add_period(self, fields: Mapping[str, Any]) -> int:
        return self._insert("periods", fields)

    def update_period(self, period_id: int, values: Mapping[str, Any]) -> None:
        self._update("periods", period_id, values)

    def statement(self, statement_id: int) -> dict | None:
        return self._get("statements", statement_id)

    def statements(
        self, period_id: int, *, council_id: int | None = None, status: str | None = None
    ) -> list[dict]:
        where: dict[str, Any] = {"period_id": period_id}
        if council_id is not None:
            where["council_id"] = council_id
        if status is not None:
            where["status"] = status
        return self._find("statements", where, order_by="id")

    def add_statement(self, fields: Mapping[str, Any]) -> int:
        return self._insert("statements", fields)

    def set_statement_status(self, statement_id: int, status: str, decided_at: datetime) -> None:
        self._update("statements", statement_id, {"status": status, "decided_at": decided_at})

    def set_statement_ballot(self, statement_id: int, ballot_id: int) -> None:
        self._update("statements", statement_id, {"ballot_id": ballot_id})

    def variant(
        self, variant_id: int, *, lock: str | None = None, result: bool = False
    ) -> dict | None:
        if lock is not None or result:
            row = self._get("variants", variant_id, lock=lock)
            if row is not None and not result:
                row.pop("result")
            return row
        t = self._table("variants")  # a published plan may be megabytes: read only if asked
        query = sa.select(*[c for c in t.c if c.name != "result"]).where(t.c.id == variant_id)
        row = self._execute(query).mappings().first()
        return _aware(row) if row is not None else None

    def variants(self, period_id: int) -> list[dict]:
        t = self._table("variants")
        query = (
            sa.select(*[c for c in t.c if c.name != "result"])
            .where(t.c.period_id == period_id)
            .order_by(t.c.id)
        )
        return [_aware(r) for r in self._execute(query).mappings()]

    def add_variant(self, fields: Mapping[str, Any]) -> int:
        return self._insert("variants", fields)

    def claim_variant(
        self, worker: str, started_at: datetime, stale_before: datetime | None = None
    ) -> dict | None:
        t, p = self._table("variants"), self._table("job_progress")
        claimable = t.c.status == "queued"
        if stale_before is not None:
            heard = sa.func.coalesce(p.c.updated_at, t.c.started_at)
            claimable = sa.or_(claimable, sa.and_(t.c.status == "running", heard < stale_before))
        query = (
            sa.select(t.c.id, t.c.status, t.c.worker)
            .select_from(t.outerjoin(p, p.c.variant_id == t.c.id))
            .where(claimable)
            .order_by(t.c.id)
            .limit(1)
            .with_for_update(of=t, skip_locked=True)
        )
        for variant_id, status, was in self._execute(query).all():
            values = {"status": "running", "worker": worker, "started_at": started_at}
            same = [t.c.id == variant_id, t.c.status == status]
            if was is not None:
                same.append(t.c.worker == was)
            if self._execute(t.update().where(*same).values(**values)).rowcount:
                self.changes.update("variants", variant_id, values)
                return self.variant(variant_id)
        return None

    def update_variant(self, variant_id: int, values: Mapping[str, Any]) -> None:
        self._update("variants", variant_id, values)

    def set_progress(self, variant_id: int, stage: str, done: float, at: datetime) -> None:
        t = self._table("job_progress")
        values = {"stage": stage[:100], "done": float(done), "updated_at": at}
        if not self._execute(
            t.update().where(t.c.variant_id == variant_id).values(**values)
        ).rowcount:
            self._execute(t.insert().values(variant_id=variant_id, **values))

    def progress(self, variant_id: int) -> dict | None:
        return self._get("job_progress", variant_id)

    def plan_round(self, round_id: int, *, lock: str | None = None) -> dict | None:
        return self._get("plan_rounds", round_id, lock=lock)

    def plan_rounds(self, period_id: int) -> list[dict]:
        return self._find("plan_rounds", {"period_id": period_id}, order_by="number")

    def plan_round_number(self, period_id: int, number: int) -> dict | None:
        return self._first("plan_rounds", {"period_id": period_id, "number": number})

    def add_plan_round(self, fields: Mapping[str, Any]) -> int:
        return self._insert("plan_rounds", fields)

    def update_plan_round(self, round_id: int, values: Mapping[str, Any]) -> None:
        self._update("plan_rounds", round_id, values)

    def round_answers(self, round_id: int) -> list[dict]:
        return self._find("round_answers", {"round_id": round_id}, order_by="council_id")

    def round_answer(self, round_id: int, council_id: int) -> dict | None:
        return self._first("round_answers", {"round_id": round_id, "council_id": council_id})

    def add_round_answer(self, fields: Mapping[str, Any]) -> int:
        return self._insert("round_answers", fields)

    def update_round_answer(self, answer_id: int, values: Mapping[str, Any]) -> None:
        self._update("round_answers", answer_id, values)

    # -- labour-time accounts --------------------------------------------------------------------

    def ledger_account(self, key: str, *, lock: str | None = None) -> dict | None:
        t = self._table("ledger_accounts")
        query = sa.select(t).where(t.c.key == key)
        if lock is not None:
            query = query.with_for_update(read=lock == "share")
        row = self._execute(query).mappings().first()
        return _aware(row) if row is not None else None

    def ledger_account_by_id(self, account_id: int) -> dict | None:
        return self._get("ledger_accounts", account_id)

    def ledger_accounts(self, *, kind: str | None = None, owner: str | None = None) -> list[dict]:
        where = {k: v for k, v in (("kind", kind), ("owner", owner)) if v is not None}
        return self._find("ledger_accounts", where, order_by="id")

    def open_ledger_account(self, fields: Mapping[str, Any]) -> None:
        t = self._table("ledger_accounts")
        insert = (
            pg_dialect.insert(t)
            if self.connection.dialect.name == "postgresql"
            else sqlite_dialect.insert(t)
        )
        statement = (
            insert.values(**fields).on_conflict_do_nothing(index_elements=["key"]).returning(t.c.id)
        )
        opened = self._execute(statement).first()
        if opened is not None:  # else another act opened it first: it is theirs on the record
            self.changes.insert("ledger_accounts", fields, opened[0])

    def set_ledger_balance(self, account_id: int, balance: int) -> None:
        self._update("ledger_accounts", account_id, {"balance": balance})

    def add_transfer(self, fields: Mapping[str, Any]) -> int:
        return self._insert("transfers", fields)

    def transfer(self, tid: str) -> dict | None:
        return self._first("transfers", {"tid": tid})

    def reversal_of(self, tid: str) -> dict | None:
        return self._first("transfers", {"reverses": tid})

    def transfers_of(
        self, ledger_account_id: int, *, limit: int, before: int | None = None
    ) -> list[dict]:
        # Each side's newest by its own index (debit_id, id) or (credit_id, id), then merged:
        # a quiet account's latest transfer is found at once, however old (an OR over both
        # sides walked the primary key back to it). No transfer has the same account on both.
        t = self._table("transfers")
        sides = []
        for side in (t.c.debit_id, t.c.credit_id):
            query = sa.select(t).where(side == ledger_account_id)
            if before is not None:
                query = query.where(t.c.id < before)
            sides.append(query.order_by(t.c.id.desc()).limit(limit).subquery().select())
        both = sa.union_all(*sides).subquery()
        query = sa.select(both).order_by(both.c.id.desc()).limit(limit)
        return [_aware(r) for r in self._execute(query).mappings()]

    def levy(self, period_id: int) -> dict | None:
        return self._get("levies", period_id)

    def add_levy(self, fields: Mapping[str, Any]) -> None:
        self._insert("levies", fields)

    # -- private: generic reads and writes by table, every write collected for the record ------

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

    def _insert(self, table: str, values: Mapping[str, Any]) -> Any:
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

    def _get(self, table: str, key: Any, *, lock: str | None = None) -> dict | None:
        t = self._table(table)
        (pk,) = t.primary_key.columns
        row = self._execute(sa.select(t).where(pk == key)).mappings().first()
        return _aware(row) if row is not None else None

    def _find(
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

    def _first(self, table: str, where: Mapping[str, Any]) -> dict | None:
        rows = self._find(table, where, limit=1)
        return rows[0] if rows else None

    def _count(self, table: str, where: Mapping[str, Any] | None = None) -> int:
        t = self._table(table)
        query = sa.select(sa.func.count()).select_from(t).where(*self._where(t, where))
        return int(self._execute(query).scalar_one())

    def _update(self, table: str, key: Any, values: Mapping[str, Any]) -> None:
        t = self._table(table)
        (pk,) = t.primary_key.columns
        self._execute(t.update().where(pk == key).values(**values))
        self.changes.update(table, key, values)

    def _delete(self, table: str, where: Mapping[str, Any]) -> int:
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

    def verify_audit(self, expected_head: str | None = None) -> Verification:
        """Recompute the audit chain, checking its end against ``expected_head`` (a head
        published earlier), else the stored head. Events whose acts committed are chained first
        (:meth:`seal_audit`), so every act is checked."""
        self.seal_audit()
        _, head = self.audit_head()
        return verify(self.audit_entries(), expected_head=expected_head or head)

    def verify_record(self, expected_head: str | None = None) -> RecordVerification:
        """:meth:`verify_audit` (against ``expected_head`` if given), then every entry's
        signature and state, and every governed table against the record
        (:func:`~councilplan.store.record.check_state`)."""
        sealed = self.seal_audit()
        chain = self.verify_audit(expected_head)
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
                    tx.changes.insert(table, row)
            tx.append_event(
                "record.began",
                {"tables": {table: len(table_rows) for table, table_rows in rows.items()}},
                utc_timestamp(),
            )
        return True

    # -- answering on an event loop: PostgreSQL does (store/postgres.py), SQLite does not --------

    @property
    def is_async(self) -> bool:
        return False

    async def open_async(self) -> None:
        return None

    async def close_async(self) -> None:
        return None

    async def token_async(self, token_hash: str) -> dict | None:
        raise RuntimeError(f"{type(self).__name__} does not answer on an event loop")

    def post_ledger_act(self, act: Mapping[str, Any], event: Any) -> None:
        """No one-step ledger act here: the service takes its general path."""
        return None

    async def quick_vote_async(
        self, *, ballot_id: int, voter_id: int, choice: Any, now: datetime, recorded_at: str
    ) -> QuickVote | None:
        """No one-call vote here: ``cast_vote`` takes its general path."""
        return None

    def dispose(self) -> None:
        self.engine.dispose()
