"""Gathering an equality report (``councilplan.audit.equality``) for a council, a federation
or a planning period: who is in scope, what each declared and did, hours credited and goods
drawn from the ledger's tables, and the sections' motions. The report itself is pure; this
module only reads (docs/equality.md says what each scope counts).

- **council**: its current members; ballots, statements and mandates of the council at any
  time; hours and draws in every period;
- **federation**: the current members of its affiliated councils (each once); ballots of those
  councils and of the federation; mandates from those councils;
- **period**: as the federation of the period, with statements of the period, ballots opened
  from the period's proposal to its deciding deadline, mandates and seats held meanwhile, and
  hours and draws booked to the period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from councilplan.audit import equality
from councilplan.audit.chain import utc_timestamp
from councilplan.councils.service.records import Invalid, existing
from councilplan.councils.service.repository import Records, Store

#: Ledger amounts are whole units of 0.0001 hour (ledger.hours.QUANTUM).
_UNITS_PER_HOUR = 10_000


class ReportRecords(Records, Protocol):
    """What gathering a report reads (store/sections.py implements it)."""

    def report_memberships(self, council_ids: Sequence[int]) -> list[dict]: ...
    def report_workplaces(self, account_ids: Sequence[int]) -> dict[int, str]: ...
    def report_groups(self, account_ids: Sequence[int]) -> dict[int, dict]: ...
    def report_stated(self, council_ids: Sequence[int], period_id: int | None) -> set[int]: ...
    def report_voted(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]: ...
    def report_delegates(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]: ...
    def report_commission_seats(
        self, council_ids: Sequence[int], since: datetime | None, until: datetime | None
    ) -> set[int]: ...
    def report_flows(
        self, account_ids: Sequence[int], period_id: int | None
    ) -> dict[int, tuple[int, int]]: ...
    def report_affiliated(self, federation_id: int) -> list[int]: ...
    def section_motions(
        self, *, section_id: int | None = None, council_id: int | None = None
    ) -> list[dict]: ...
    def section(self, section_id: int) -> dict | None: ...


def equality_report(
    store: Store,
    *,
    council_id: int | None = None,
    federation_id: int | None = None,
    period_id: int | None = None,
    k: int = equality.DEFAULT_K,
) -> equality.EqualityReport:
    """The equality report for exactly one of a council, a federation or a period, with cells
    under ``k`` people suppressed (``k`` at least 5: it may be raised, never lowered)."""
    given = [
        n
        for n, v in (
            ("council_id", council_id),
            ("federation_id", federation_id),
            ("period_id", period_id),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise Invalid(
            "bad_scope",
            "scope: name exactly one of council_id, federation_id, period_id",
            given[1] if len(given) > 1 else "council_id",
        )
    if isinstance(k, bool) or not isinstance(k, int) or not equality.DEFAULT_K <= k <= 1000:
        # Whoever asks may raise the threshold, never lower it: k = 2 would show groups of 2.
        raise Invalid(
            "bad_k",
            f"k: {k!r}; the threshold is a whole number of people from {equality.DEFAULT_K} "
            "(the least that protects a small group) to 1000",
            "k",
        )
    with store.reading() as tx:
        since = until = None
        if period_id is not None:
            period = existing(tx.period, period_id, "period", "period_id")
            federation = tx.council(period["federation_id"])
            councils = [federation["id"], *tx.report_affiliated(federation["id"])]
            since, until = period["proposed_at"], period["deciding_closes_at"]
            scope = {
                "period_id": period_id,
                "title": period["title"],
                "federation": federation["name"],
                "from": utc_timestamp(since),
                "until": utc_timestamp(until),
            }
        elif federation_id is not None:
            federation = existing(tx.council, federation_id, "council", "federation_id")
            if federation["kind"] != "federation":
                raise Invalid(
                    "not_a_federation",
                    f"federation_id: council {federation_id} is not a federation",
                    "federation_id",
                )
            councils = [federation_id, *tx.report_affiliated(federation_id)]
            scope = {"federation_id": federation_id, "federation": federation["name"]}
        else:
            council = existing(tx.council, council_id, "council", "council_id")
            councils = [council_id]
            if council["kind"] == "federation":
                councils += tx.report_affiliated(council_id)
            scope = {"council_id": council_id, "council": council["name"]}
        people = _people(tx, councils, period_id, since, until)
        motions = _motions(tx, councils)
    return equality.equality_report(people, scope=scope, k=k, motions=motions)


def _people(
    tx: ReportRecords,
    councils: Sequence[int],
    period_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> list[equality.Person]:
    accounts = sorted({m["account_id"] for m in tx.report_memberships(councils)})
    groups = tx.report_groups(accounts)
    workplaces = tx.report_workplaces(accounts)
    stated = tx.report_stated(councils, period_id)
    voted = tx.report_voted(councils, since, until)
    delegates = tx.report_delegates(councils, since, until)
    seats = tx.report_commission_seats(councils, since, until)
    flows = tx.report_flows(accounts, period_id)
    people = []
    for a in accounts:
        declared = groups.get(a) or {}
        hours, drawn = flows.get(a, (0, 0))
        people.append(
            equality.Person(
                gender=declared.get("gender"),
                group=declared.get("group_key"),
                workplace=workplaces.get(a),
                stated=a in stated,
                voted=a in voted,
                delegate=a in delegates,
                commission=a in seats,
                hours=Fraction(hours, _UNITS_PER_HOUR),
                drawn=Fraction(drawn, _UNITS_PER_HOUR),
            )
        )
    return people


def _motions(tx: ReportRecords, councils: Sequence[int]) -> list[equality.MotionOutcome]:
    out = []
    for council_id in councils:
        council = tx.council(council_id)
        for row in tx.section_motions(council_id=council_id):
            motion = tx.motion(row["motion_id"])
            in_time = None
            if row["status"] == "decided":
                ballot = tx.ballot(row["ballot_id"])
                in_time = ballot is not None and ballot["closes_at"] <= row["deadline"]
            out.append(
                equality.MotionOutcome(
                    section=tx.section(row["section_id"])["name"],
                    council=council["name"],
                    title=motion["title"],
                    tabled_at=utc_timestamp(row["tabled_at"]),
                    deadline=utc_timestamp(row["deadline"]),
                    status=row["status"],
                    outcome=row["outcome"],
                    in_time=in_time,
                    breached=row["breached_at"] is not None,
                )
            )
    return out


def report_tables(report: equality.EqualityReport) -> Mapping[str, Any]:
    """Every table of ``report`` by file name (``participation_gender.csv``...), as CSV text."""
    tables = {}
    for t in (*report.participation, *report.distribution):
        kind = t.name.split(" ")[0]
        tables[f"{kind}_{t.dimension}.csv"] = equality.table_csv(t)
    return tables
