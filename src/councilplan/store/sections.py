"""The store's side of sections, declared groups and the equality reports' reads
(``councils/service/sections.py`` and ``equality.py`` name what they need in
:class:`~councilplan.councils.service.sections.SectionRecords` and
:class:`~councilplan.councils.service.equality.ReportRecords`).

A mixin of :class:`~councilplan.store.sql.SqlRecords`: every write goes through its generic
helpers, so it is collected for the record like any other act's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from councilplan.store.tables import (
    ballot_participation,
    ballots,
    commission_seats,
    commissions,
    councils,
    declared_groups,
    delegates,
    federation_members,
    ledger_accounts,
    memberships,
    section_delegates,
    section_members,
    sections,
    statements,
    transfers,
)

#: Ids sent in one IN list: SQLite takes at most 32,766 bound values in a statement (since
#: 3.32), PostgreSQL 65,535, so a federation's members go in chunks.
CHUNK = 5_000


def _ids(values: Iterable[int]) -> list[int]:
    return sorted({int(v) for v in values})


def _chunks(values: Iterable[int]) -> Iterator[list[int]]:
    ids = _ids(values)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


class SectionRecords:
    """Reads and writes of sections, their ballots, delegates and motions, declared groups, and
    the facts the equality reports count. Mixed into ``SqlRecords`` (``_insert``, ``_find``,
    ``_update``, ``_delete``, ``_execute`` come from it)."""

    # -- sections ----------------------------------------------------------------------------

    def section(self, section_id: int) -> dict | None:
        return self._get("sections", section_id)

    def sections_of(self, council_id: int, *, current: bool = True) -> list[dict]:
        where: dict[str, Any] = {"council_id": council_id}
        if current:
            where["dissolved_at"] = None
        return self._find("sections", where, order_by="id")

    def add_section(self, fields: Mapping[str, Any]) -> int:
        return self._insert("sections", fields)

    def dissolve_section(self, section_id: int, at: datetime, ballot_id: int) -> None:
        self._update(
            "sections", section_id, {"dissolved_at": at, "dissolution_ballot_id": ballot_id}
        )

    def section_member(self, section_id: int, account_id: int) -> dict | None:
        return self._first(
            "section_members", {"section_id": section_id, "account_id": account_id, "left_at": None}
        )

    def section_members(self, section_id: int) -> list[dict]:
        return self._find(
            "section_members", {"section_id": section_id, "left_at": None}, order_by="id"
        )

    def section_memberships_in(self, council_id: int, account_id: int) -> list[dict]:
        """``account_id``'s current memberships of ``council_id``'s sections."""
        t = section_members
        query = (
            sa.select(t)
            .join(sections, sections.c.id == t.c.section_id)
            .where(
                sections.c.council_id == council_id,
                t.c.account_id == account_id,
                t.c.left_at.is_(None),
            )
            .order_by(t.c.id)
        )
        return [dict(r) for r in self._execute(query).mappings()]

    def add_section_member(self, fields: Mapping[str, Any]) -> int:
        return self._insert("section_members", fields)

    def end_section_member(self, row_id: int, at: datetime) -> None:
        self._update("section_members", row_id, {"left_at": at})

    # -- a section's ballots and delegate -----------------------------------------------------

    def section_ballot(self, ballot_id: int) -> dict | None:
        return self._get("section_ballots", ballot_id)

    def section_ballots(self, section_id: int) -> list[dict]:
        return self._find("section_ballots", {"section_id": section_id}, order_by="id")

    def open_section_ballots(self) -> list[dict]:
        return self._find("section_ballots", {"status": "open"}, order_by="id")

    def add_section_ballot(self, fields: Mapping[str, Any]) -> int:
        return self._insert("section_ballots", fields)

    def close_section_ballot(self, ballot_id: int, tally: Mapping[str, Any], at: datetime) -> None:
        self._update(
            "section_ballots",
            ballot_id,
            {"status": "closed", "tally": dict(tally), "closed_at": at},
        )

    def section_votes(self, ballot_id: int) -> list[dict]:
        return self._find("section_votes", {"ballot_id": ballot_id})

    def add_section_vote(self, fields: Mapping[str, Any]) -> None:
        self._insert("section_votes", fields)

    def section_delegate(self, section_id: int) -> dict | None:
        return self._first("section_delegates", {"section_id": section_id, "ended_at": None})

    def add_section_delegate(self, fields: Mapping[str, Any]) -> int:
        return self._insert("section_delegates", fields)

    def end_section_delegate(self, row_id: int, at: datetime, reason: str) -> None:
        self._update("section_delegates", row_id, {"ended_at": at, "end_reason": reason})

    # -- motions a section tabled in its council ----------------------------------------------

    def section_motion(self, row_id: int) -> dict | None:
        return self._get("section_motions", row_id)

    def section_motion_of(self, motion_id: int) -> dict | None:
        return self._first("section_motions", {"motion_id": motion_id})

    def section_motions(
        self, *, section_id: int | None = None, council_id: int | None = None
    ) -> list[dict]:
        where = {k: v for k, v in (("section_id", section_id), ("council_id", council_id)) if v}
        return self._find("section_motions", where, order_by="id")

    def waiting_section_motions(self) -> list[dict]:
        return self._find("section_motions", {"status": "waiting"}, order_by="id")

    def add_section_motion(self, fields: Mapping[str, Any]) -> int:
        return self._insert("section_motions", fields)

    def update_section_motion(self, row_id: int, values: Mapping[str, Any]) -> None:
        self._update("section_motions", row_id, values)

    # -- declared groups -------------------------------------------------------------------------

    def declared_groups(self, account_id: int) -> dict | None:
        return self._get("declared_groups", account_id)

    def replace_declared_groups(self, account_id: int, fields: Mapping[str, Any] | None) -> None:
        """Remove ``account_id``'s declared groups and, unless ``fields`` is None, write them
        anew (always whole, with a new salt: the record keeps only their salted digest)."""
        self._delete("declared_groups", {"account_id": account_id})
        if fields is not None:
            self._insert("declared_groups", {**fields, "account_id": account_id})

    # -- what the equality reports count ---------------------------------------------------------

    def report_memberships(self, council_ids: Sequence[int]) -> list[dict]:
        """Current memberships of ``council_ids`` with each council's name and kind."""
        t = memberships
        out = []
        for chunk in _chunks(council_ids):
            query = (
                sa.select(t.c.account_id, t.c.council_id, councils.c.name, councils.c.kind)
                .join(councils, councils.c.id == t.c.council_id)
                .where(t.c.council_id.in_(chunk), t.c.left_at.is_(None))
                .order_by(t.c.id)
            )
            out += [dict(r) for r in self._execute(query).mappings()]
        return out

    def report_workplaces(self, account_ids: Sequence[int]) -> dict[int, str]:
        """Each account's workplace: the name of the first workplace council (by id) she is a
        current member of."""
        t = memberships
        out: dict[int, str] = {}
        for chunk in _chunks(account_ids):
            query = (
                sa.select(t.c.account_id, councils.c.name)
                .join(councils, councils.c.id == t.c.council_id)
                .where(
                    t.c.account_id.in_(chunk),
                    t.c.left_at.is_(None),
                    councils.c.kind == "workplace",
                )
                .order_by(councils.c.id)
            )
            for account_id, name in self._execute(query):
                out.setdefault(account_id, name)
        return out

    def report_groups(self, account_ids: Sequence[int]) -> dict[int, dict]:
        t = declared_groups
        out = {}
        for chunk in _chunks(account_ids):
            query = sa.select(t.c.account_id, t.c.gender, t.c.group_key).where(
                t.c.account_id.in_(chunk)
            )
            out.update({r["account_id"]: dict(r) for r in self._execute(query).mappings()})
        return out

    def report_stated(self, council_ids: Sequence[int], period_id: int | None) -> set[int]:
        """Accounts that stated needs or techniques for ``council_ids`` (in ``period_id``)."""
        t = statements
        found: set[int] = set()
        for chunk in _chunks(council_ids):
            query = sa.select(t.c.stated_by).where(t.c.council_id.in_(chunk))
            if period_id is not None:
                query = query.where(t.c.period_id == period_id)
            found |= {r[0] for r in self._execute(query)}
        return found

    def report_voted(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]:
        """Accounts that voted in a ballot of ``council_ids`` opened in [since, until]."""
        p, b = ballot_participation, ballots
        found: set[int] = set()
        for chunk in _chunks(council_ids):
            query = (
                sa.select(p.c.account_id)
                .join(b, b.c.id == p.c.ballot_id)
                .where(b.c.council_id.in_(chunk))
            )
            if since is not None:
                query = query.where(b.c.created_at >= since)
            if until is not None:
                query = query.where(b.c.created_at <= until)
            found |= {r[0] for r in self._execute(query.distinct())}
        return found

    def report_delegates(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]:
        """Accounts that held a mandate from ``council_ids`` (to a federation, or as a
        section's delegate to the council) at some moment of [since, until]."""
        found: set[int] = set()
        for chunk, (t, column, begun) in (
            (chunk, table)
            for chunk in _chunks(council_ids)
            for table in (
                (delegates, delegates.c.council_id, delegates.c.elected_at),
                (section_delegates, sections.c.council_id, section_delegates.c.elected_at),
            )
        ):
            query = sa.select(t.c.account_id).where(column.in_(chunk))
            if t is section_delegates:
                query = query.join(sections, sections.c.id == t.c.section_id)
            if until is not None:
                query = query.where(begun <= until)
            if since is not None:
                query = query.where(sa.or_(t.c.ended_at.is_(None), t.c.ended_at >= since))
            found |= {r[0] for r in self._execute(query)}
        return found

    def report_commission_seats(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]:
        """Accounts that held a seat on a commission of a workplace or federation in
        ``council_ids`` at some moment of [since, until]."""
        s, c = commission_seats, commissions
        found: set[int] = set()
        for ids in _chunks(council_ids):
            query = (
                sa.select(s.c.account_id)
                .join(c, c.c.id == s.c.commission_id)
                .where(sa.or_(c.c.workplace_council_id.in_(ids), c.c.federation_id.in_(ids)))
            )
            if until is not None:
                query = query.where(s.c.seated_at <= until)
            if since is not None:
                query = query.where(sa.or_(s.c.left_at.is_(None), s.c.left_at >= since))
            found |= {r[0] for r in self._execute(query)}
        return found

    def report_flows(
        self, account_ids: Sequence[int], period_id: int | None
    ) -> dict[int, tuple[int, int]]:
        """Each account's hours credited and goods drawn (ledger units of 0.0001 hour, net of
        reversals), in ``period_id`` or in all periods: {account id: (hours, drawn)}."""
        wanted = {str(a): a for a in _ids(account_ids)}
        out = {a: (0, 0) for a in wanted.values()}
        if not wanted:
            return out
        la = ledger_accounts
        owners = sorted(wanted)
        for start in range(0, len(owners), CHUNK):
            member_accounts = {
                row_id: wanted[owner]
                for row_id, owner in self._execute(
                    sa.select(la.c.id, la.c.owner).where(
                        la.c.kind == "member", la.c.owner.in_(owners[start : start + CHUNK])
                    )
                )
            }
            if member_accounts:
                self._add_flows(out, member_accounts, period_id)
        return out

    def _add_flows(
        self,
        out: dict[int, tuple[int, int]],
        member_accounts: dict[int, int],
        period_id: int | None,
    ) -> None:
        """Add to ``out`` the transfers of ``member_accounts`` ({ledger account id: account
        id}); a transfer counts only for the member accounts among these (no transfer goes
        from one member to another, ledger.book.ROUTES)."""
        t = transfers
        ids = list(member_accounts)
        query = sa.select(t.c.debit_id, t.c.credit_id, t.c.amount, t.c.kind).where(
            sa.or_(t.c.debit_id.in_(ids), t.c.credit_id.in_(ids))
        )
        if period_id is not None:
            query = query.where(t.c.period_id == period_id)
        for debit, credit, amount, kind in self._execute(query):
            if credit in member_accounts:
                account = member_accounts[credit]
                hours, drawn = out[account]
                if kind == "hours":
                    out[account] = (hours + amount, drawn)
                elif kind == "reversal":  # a draw undone
                    out[account] = (hours, drawn - amount)
            if debit in member_accounts:
                account = member_accounts[debit]
                hours, drawn = out[account]
                if kind == "draw":
                    out[account] = (hours, drawn + amount)
                elif kind == "reversal":  # hours undone
                    out[account] = (hours - amount, drawn)

    def report_affiliated(self, federation_id: int) -> list[int]:
        fm = federation_members
        query = sa.select(fm.c.council_id).where(
            fm.c.federation_id == federation_id, fm.c.left_at.is_(None)
        )
        return sorted(r[0] for r in self._execute(query))
