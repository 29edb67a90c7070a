"""Sections of a council and the groups members declare (issue 17; docs/equality.md).

A **section** is members of one council who share a situation (women workers, night shift,
apprentices). Members of the council join it by their own act, and no one else's; the section
elects its own delegate to the council's meetings by its own ballot; its delegate tables
motions in the council, which the council must have voted on within the days its rule
``section_motion_days`` sets (fixed when the motion is tabled). What became of each motion is on
record, and so is a council that let the deadline pass (:func:`check_section_deadlines`, run
with the loop that closes due ballots). Only the section's own members' vote dissolves it: no
act of the council, its rules or its ballots touches a section.

**Declared groups**: a member may say, if she chooses, her gender and a group she describes
herself; never required, changed or removed whenever she likes. Only she reads them back; the
equality reports count them, suppressing small cells (``councilplan.audit.equality``). The
record keeps them as a digest salted with a secret that stays in the table
(store/record.py ``SEALED``), and the public event names no one.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from councilplan.councils import counting
from councilplan.councils.service.ballots import check_choice, open_ballot
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    Refused,
    existing,
    get_account,
    now_utc,
    record,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Records, Store

# ---------------------------------------------------------------------------------------------
# What the acts need from the store, beyond Records (store/sections.py implements it).


class SectionRecords(Records, Protocol):
    def section(self, section_id: int) -> dict | None: ...
    def sections_of(self, council_id: int, *, current: bool = True) -> list[dict]: ...
    def add_section(self, fields: Mapping[str, Any]) -> int: ...
    def dissolve_section(self, section_id: int, at: datetime, ballot_id: int) -> None: ...
    def section_member(self, section_id: int, account_id: int) -> dict | None: ...
    def section_members(self, section_id: int) -> list[dict]: ...
    def section_memberships_in(self, council_id: int, account_id: int) -> list[dict]: ...
    def add_section_member(self, fields: Mapping[str, Any]) -> int: ...
    def end_section_member(self, row_id: int, at: datetime) -> None: ...
    def section_ballot(self, ballot_id: int) -> dict | None: ...
    def section_ballots(self, section_id: int) -> list[dict]: ...
    def open_section_ballots(self) -> list[dict]: ...
    def add_section_ballot(self, fields: Mapping[str, Any]) -> int: ...
    def close_section_ballot(
        self, ballot_id: int, tally: Mapping[str, Any], at: datetime
    ) -> None: ...
    def section_votes(self, ballot_id: int) -> list[dict]: ...
    def add_section_vote(self, fields: Mapping[str, Any]) -> None: ...
    def section_delegate(self, section_id: int) -> dict | None: ...
    def add_section_delegate(self, fields: Mapping[str, Any]) -> int: ...
    def end_section_delegate(self, row_id: int, at: datetime, reason: str) -> None: ...
    def section_motion(self, row_id: int) -> dict | None: ...
    def section_motion_of(self, motion_id: int) -> dict | None: ...
    def section_motions(
        self, *, section_id: int | None = None, council_id: int | None = None
    ) -> list[dict]: ...
    def waiting_section_motions(self) -> list[dict]: ...
    def add_section_motion(self, fields: Mapping[str, Any]) -> int: ...
    def update_section_motion(self, row_id: int, values: Mapping[str, Any]) -> None: ...
    def declared_groups(self, account_id: int) -> dict | None: ...
    def replace_declared_groups(
        self, account_id: int, fields: Mapping[str, Any] | None
    ) -> None: ...


# ---------------------------------------------------------------------------------------------
# Results.


@dataclass(frozen=True)
class Section:
    """A section: its council, name and purpose, when it was founded and (once its members
    voted so) dissolved; ``members`` how many belong now, ``delegate_id`` the account of its
    current delegate (None: none elected)."""

    id: int
    council_id: int
    name: str
    purpose: str
    founded_at: datetime
    dissolved_at: datetime | None
    dissolution_ballot_id: int | None
    members: int
    delegate_id: int | None


@dataclass(frozen=True)
class SectionBallot:
    """A section's own ballot: ``purpose`` election (options: candidates' account ids) or
    dissolution (yes/no); ``electorate`` how many may vote (its members at opening)."""

    id: int
    section_id: int
    purpose: str
    title: str
    rule: str
    options: tuple[str, ...]
    electorate: int
    opened_at: datetime
    closes_at: datetime
    status: str
    tally: Mapping[str, Any] | None
    closed_at: datetime | None


@dataclass(frozen=True)
class SectionMotion:
    """A motion a section tabled in its council and what became of it: ``status`` waiting or
    decided (``outcome`` carried, not_carried or void, by council ballot ``ballot_id``);
    ``in_time`` whether the vote was over by ``deadline``; ``breached_at`` when the council was
    found in breach of it (None: not, or not yet)."""

    id: int
    section_id: int
    council_id: int
    motion_id: int
    title: str
    tabled_at: datetime
    deadline: datetime
    status: str
    ballot_id: int | None
    outcome: str | None
    decided_at: datetime | None
    breached_at: datetime | None
    in_time: bool | None


@dataclass(frozen=True)
class DeclaredGroups:
    """What a member declared of herself: ``gender`` and ``group`` as she wrote them (None:
    not said), with the key a group is counted under."""

    gender: str | None
    group: str | None
    group_key: str | None
    declared_at: datetime | None


def _section(tx: SectionRecords, row: Mapping[str, Any]) -> Section:
    delegate = tx.section_delegate(row["id"])
    return Section(
        id=row["id"],
        council_id=row["council_id"],
        name=row["name"],
        purpose=row["purpose"],
        founded_at=row["founded_at"],
        dissolved_at=row["dissolved_at"],
        dissolution_ballot_id=row["dissolution_ballot_id"],
        members=len(tx.section_members(row["id"])),
        delegate_id=delegate["account_id"] if delegate else None,
    )


def _ballot(row: Mapping[str, Any]) -> SectionBallot:
    return SectionBallot(
        id=row["id"],
        section_id=row["section_id"],
        purpose=row["purpose"],
        title=row["title"],
        rule=row["rule"],
        options=tuple(row["options"]),
        electorate=len(row["electorate"]),
        opened_at=row["opened_at"],
        closes_at=row["closes_at"],
        status=row["status"],
        tally=row["tally"],
        closed_at=row["closed_at"],
    )


def _motion(tx: Records, row: Mapping[str, Any]) -> SectionMotion:
    motion = tx.motion(row["motion_id"])
    in_time = None
    if row["status"] == "decided":
        ballot = tx.ballot(row["ballot_id"])
        in_time = ballot is not None and ballot["closes_at"] <= row["deadline"]
    return SectionMotion(
        id=row["id"],
        section_id=row["section_id"],
        council_id=row["council_id"],
        motion_id=row["motion_id"],
        title=motion["title"] if motion else "",
        tabled_at=row["tabled_at"],
        deadline=row["deadline"],
        status=row["status"],
        ballot_id=row["ballot_id"],
        outcome=row["outcome"],
        decided_at=row["decided_at"],
        breached_at=row["breached_at"],
        in_time=in_time,
    )


# ---------------------------------------------------------------------------------------------
# Founding, joining, leaving.


def _live_section(tx: SectionRecords, section_id: int, field: str = "section_id") -> dict:
    section = existing(tx.section, section_id, "section", field)
    if section["dissolved_at"] is not None:
        raise Conflict(
            "section_dissolved",
            f"{field}: section {section_id} ({section['name']}) was dissolved by its members' "
            f"vote (ballot {section['dissolution_ballot_id']})",
            field,
        )
    return section


def _member_council(tx: Records, council_id: int, field: str = "council_id") -> dict:
    council = existing(tx.council, council_id, "council", field)
    if council["kind"] == "federation":
        raise Invalid(
            "federation_has_no_sections",
            f"{field}: council {council_id} is a federation; sections are of a workplace or "
            "consumer council's own members",
            field,
        )
    return council


def create_section(
    store: Store,
    *,
    council_id: int,
    founder_id: int,
    name: str,
    purpose: str = "",
    now: datetime | None = None,
) -> Section:
    """A member of a workplace or consumer council founds a section of it and is its first
    member. No vote of the council is needed, and none can stop it: a section is its members'."""
    now = now_utc(now)
    name = text_field(name, "name", limit=200)
    purpose = (purpose or "").strip()
    if len(purpose) > 2000:
        raise Invalid("too_long", f"purpose: {len(purpose)} characters, at most 2000", "purpose")
    with store.transaction() as tx:
        council = _member_council(tx, council_id)
        require_standing(tx, council, founder_id, "found a section")
        if any(s["name"] == name for s in tx.sections_of(council_id)):
            raise Conflict(
                "section_name_taken",
                f"name: council {council_id} has a section called {name!r} already; join it",
                "name",
            )
        try:
            section_id = tx.add_section(
                {
                    "council_id": council_id,
                    "name": name,
                    "purpose": purpose,
                    "founded_by": founder_id,
                    "founded_at": now,
                }
            )
        except Duplicate:
            raise Conflict(
                "section_name_taken", f"name: a section called {name!r} exists already", "name"
            ) from None
        tx.add_section_member(
            {"section_id": section_id, "account_id": founder_id, "joined_at": now}
        )
        # Who belongs to a section is the section's own business: the public record names the
        # section and how many belong, never who.
        record(
            tx,
            "section.founded",
            {"section_id": section_id, "council_id": council_id, "name": name, "members": 1},
            now,
        )
        return _section(tx, tx.section(section_id))


def join_section(
    store: Store, *, section_id: int, account_id: int, now: datetime | None = None
) -> Section:
    """A current member of the section's council joins it, by her own act (an account may
    only join for itself: the caller passes the acting account)."""
    now = now_utc(now)
    with store.transaction() as tx:
        section = _live_section(tx, section_id)
        get_account(tx, account_id)
        council = tx.council(section["council_id"])
        if not tx.current_membership(council["id"], account_id):
            raise Refused(
                "not_a_member",
                f"account {account_id} is not a member of council {council['id']} "
                f"({council['name']}); only its members join its sections",
                "account_id",
            )
        if tx.section_member(section_id, account_id):
            raise Conflict(
                "already_in_section",
                f"account {account_id} belongs to section {section_id} already",
                "section_id",
            )
        tx.add_section_member(
            {"section_id": section_id, "account_id": account_id, "joined_at": now}
        )
        record(
            tx,
            "section.joined",
            {"section_id": section_id, "members": len(tx.section_members(section_id))},
            now,
        )
        return _section(tx, section)


def leave_section(
    store: Store, *, section_id: int, account_id: int, now: datetime | None = None
) -> Section:
    """A member leaves a section; her mandate as its delegate, if she holds it, ends."""
    now = now_utc(now)
    with store.transaction() as tx:
        section = existing(tx.section, section_id, "section", "section_id")
        membership = tx.section_member(section_id, account_id)
        if membership is None:
            raise Refused(
                "not_in_section",
                f"account {account_id} does not belong to section {section_id}",
                "section_id",
            )
        _end_section_membership(tx, section, membership, now, "left the section")
        return _section(tx, section)


def _end_section_membership(
    tx: SectionRecords,
    section: Mapping[str, Any],
    membership: Mapping[str, Any],
    now: datetime,
    why: str,
) -> None:
    tx.end_section_member(membership["id"], now)
    delegate = tx.section_delegate(section["id"])
    ended = None
    if delegate is not None and delegate["account_id"] == membership["account_id"]:
        tx.end_section_delegate(delegate["id"], now, "left_section")
        ended = delegate["id"]
    record(
        tx,
        "section.left",
        {
            "section_id": section["id"],
            "members": len(tx.section_members(section["id"])),
            "why": why,
            "delegacy_ended": ended,
        },
        now,
    )


def end_section_memberships(
    tx: SectionRecords, council_id: int, account_id: int, now: datetime
) -> None:
    """A member who leaves a council leaves its sections (``leave_council`` calls this)."""
    memberships_in = getattr(tx, "section_memberships_in", None)
    if memberships_in is None:  # a store that keeps no sections (the tests' in-memory fake)
        return
    for membership in memberships_in(council_id, account_id):
        section = tx.section(membership["section_id"])
        _end_section_membership(tx, section, membership, now, "left the council")


def get_section(store: Store, section_id: int) -> Section:
    with store.transaction() as tx:
        return _section(tx, existing(tx.section, section_id, "section", "section_id"))


def list_sections(store: Store, council_id: int, *, current: bool = True) -> list[Section]:
    with store.transaction() as tx:
        existing(tx.council, council_id, "council", "council_id")
        return [_section(tx, r) for r in tx.sections_of(council_id, current=current)]


def section_members(store: Store, *, section_id: int, viewer_id: int) -> list[int]:
    """Who belongs to a section, for its own members (and no one else) to see."""
    with store.transaction() as tx:
        existing(tx.section, section_id, "section", "section_id")
        _require_section_member(tx, section_id, viewer_id, "see who belongs to it")
        return [m["account_id"] for m in tx.section_members(section_id)]


def _require_section_member(tx: SectionRecords, section_id: int, account_id: int, act: str) -> dict:
    membership = tx.section_member(section_id, account_id)
    if membership is None:
        raise Refused(
            "not_in_section",
            f"account {account_id} does not belong to section {section_id} and may not {act}; "
            "members of its council join it by their own act",
            "account_id",
        )
    return membership


# ---------------------------------------------------------------------------------------------
# The section's own ballots: electing its delegate, dissolving itself.

SECTION_PURPOSES = ("election", "dissolution")


def open_section_ballot(
    store: Store,
    *,
    section_id: int,
    opened_by: int,
    purpose: str,
    closes_at: datetime,
    candidates: Sequence[int] = (),
    now: datetime | None = None,
) -> SectionBallot:
    """A member of the section opens one of its ballots, open for at least its council's
    minimum ballot time. ``election``: its delegate to the council's meetings among
    ``candidates`` (members of the section), ranked, majority with run-off; ``dissolution``:
    yes/no, carried only by more than half of its electorate. Its electorate is fixed now: the
    section's members who have belonged for the council's minimum standing."""
    now = now_utc(now)
    closes_at = now_utc(closes_at)
    if purpose not in SECTION_PURPOSES:
        raise Invalid(
            "bad_purpose",
            f"purpose: {purpose!r} is not one of {', '.join(SECTION_PURPOSES)}",
            "purpose",
        )
    with store.transaction() as tx:
        section = _live_section(tx, section_id)
        council = tx.council(section["council_id"])
        _require_section_member(tx, section_id, opened_by, "open its ballots")
        if closes_at < now + timedelta(days=council["min_ballot_days"]):
            raise Invalid(
                "ballot_too_short",
                f"closes_at: council {council['id']}'s rule is that a ballot stays open "
                f"{council['min_ballot_days']} day(s) at least",
                "closes_at",
            )
        if any(
            b["status"] == "open" and b["purpose"] == purpose
            for b in tx.section_ballots(section_id)
        ):
            raise Conflict(
                "section_ballot_open",
                f"section {section_id} has an open {purpose} ballot already",
                "purpose",
            )
        if purpose == "election":
            ids = list(dict.fromkeys(candidates))
            if not ids:
                raise Invalid("no_candidates", "candidates: name at least one member", "candidates")
            for candidate in ids:
                if not isinstance(candidate, int) or not tx.section_member(section_id, candidate):
                    raise Invalid(
                        "bad_candidate",
                        f"candidates: account {candidate!r} does not belong to section "
                        f"{section_id}; its delegate is one of its members",
                        "candidates",
                    )
            rule, options = "majority_runoff", [str(c) for c in ids]
            title = f"Elect the delegate of section {section['name']}"
        else:
            rule, options = "yes_no", list(counting.YES_NO_CHOICES)
            title = f"Dissolve section {section['name']}"
        # As in the council (records.members_since): the council's minimum standing, or the
        # section's age when it is younger, so members who join to swing a vote cannot.
        age = max(timedelta(0), now - section["founded_at"])
        since = now - min(timedelta(days=council["min_standing_days"]), age)
        electorate = sorted(
            m["account_id"] for m in tx.section_members(section_id) if m["joined_at"] <= since
        )
        ballot_id = tx.add_section_ballot(
            {
                "section_id": section_id,
                "purpose": purpose,
                "title": title,
                "rule": rule,
                "options": options,
                "electorate": electorate,
                "opened_by": opened_by,
                "opened_at": now,
                "closes_at": closes_at,
                "status": "open",
            }
        )
        record(
            tx,
            "section.ballot_opened",
            {
                "section_id": section_id,
                "section_ballot_id": ballot_id,
                "purpose": purpose,
                "electorate": len(electorate),
                "closes_at": closes_at,
            },
            now,
        )
        return _ballot(tx.section_ballot(ballot_id))


def cast_section_vote(
    store: Store, *, ballot_id: int, voter_id: int, choice: Any, now: datetime | None = None
) -> SectionBallot:
    """A member of the ballot's electorate votes, once. Votes are open to the section's
    members (``section_ballot_votes``); the public record shows only that a vote was cast."""
    now = now_utc(now)
    with store.transaction() as tx:
        ballot = existing(tx.section_ballot, ballot_id, "section ballot", "ballot_id")
        if ballot["status"] != "open" or now >= ballot["closes_at"]:
            raise Conflict("ballot_closed", f"section ballot {ballot_id} is closed", "ballot_id")
        if voter_id not in ballot["electorate"] or not tx.section_member(
            ballot["section_id"], voter_id
        ):
            raise Refused(
                "not_in_electorate",
                f"account {voter_id} is not in the electorate of section ballot {ballot_id}: "
                "its members when it opened, who belong still",
                "voter_id",
            )
        stored = check_choice(
            "schulze" if ballot["rule"] == "majority_runoff" else ballot["rule"],
            ballot["options"],
            choice,
        )
        try:
            tx.add_section_vote(
                {"ballot_id": ballot_id, "account_id": voter_id, "choice": stored, "cast_at": now}
            )
        except Duplicate:
            raise Conflict(
                "already_voted", f"account {voter_id} has voted in ballot {ballot_id}", "voter_id"
            ) from None
        record(tx, "section.voted", {"section_ballot_id": ballot_id}, now)
        return _ballot(tx.section_ballot(ballot_id))


def section_ballot_votes(store: Store, *, ballot_id: int, viewer_id: int) -> list[dict]:
    """Who voted what in a section ballot, for the section's members to check."""
    with store.transaction() as tx:
        ballot = existing(tx.section_ballot, ballot_id, "section ballot", "ballot_id")
        _require_section_member(tx, ballot["section_id"], viewer_id, "see its votes")
        return [
            {"account_id": v["account_id"], "choice": v["choice"]}
            for v in tx.section_votes(ballot_id)
        ]


def get_section_ballot(store: Store, ballot_id: int) -> SectionBallot:
    with store.transaction() as tx:
        return _ballot(existing(tx.section_ballot, ballot_id, "section ballot", "ballot_id"))


def close_section_ballot(
    store: Store, *, ballot_id: int, now: datetime | None = None
) -> SectionBallot:
    """Count a section ballot whose time is up and carry out what it decided: an election
    seats its winner as the section's delegate (ending the mandate before); a dissolution
    carried by more than half of the electorate dissolves the section."""
    now = now_utc(now)
    with store.transaction() as tx:
        ballot = existing(tx.section_ballot, ballot_id, "section ballot", "ballot_id")
        if ballot["status"] != "open":
            raise Conflict("ballot_closed", f"section ballot {ballot_id} is closed", "ballot_id")
        if now < ballot["closes_at"]:
            raise Conflict(
                "ballot_still_open",
                f"section ballot {ballot_id} closes at {ballot['closes_at'].isoformat()}; it "
                "cannot be closed earlier",
                "ballot_id",
            )
        votes = tx.section_votes(ballot_id)
        electorate = len(ballot["electorate"])
        try:
            counted = counting.count(
                ballot["rule"],
                [v["choice"] for v in votes],
                options=ballot["options"],
                electorate=electorate,
                majority=Fraction(1, 2),
            )
            tally = counted.to_dict()
        except counting.CountingError as error:
            counted, tally = None, {"outcome": "void", "reason": str(error)}
        tx.close_section_ballot(ballot_id, tally, now)
        record(
            tx,
            "section.ballot_closed",
            {
                "section_ballot_id": ballot_id,
                "section_id": ballot["section_id"],
                "electorate": electorate,
                "ballots_cast": len(votes),
                "tally": tally,
            },
            now,
        )
        section = tx.section(ballot["section_id"])
        if counted is not None and section["dissolved_at"] is None:
            if ballot["purpose"] == "election" and counted.winners:
                _seat_delegate(tx, section, int(counted.winners[0]), ballot_id, now)
            elif ballot["purpose"] == "dissolution":
                yes = counted.counts.get("yes", 0)
                if yes * 2 > electorate:  # more than half of all who may vote, not of votes cast
                    _dissolve(tx, section, ballot_id, now)
        return _ballot(tx.section_ballot(ballot_id))


def _seat_delegate(
    tx: SectionRecords, section: Mapping[str, Any], account_id: int, ballot_id: int, now: datetime
) -> None:
    if not tx.section_member(section["id"], account_id):
        return  # she left the section while the ballot was open
    current = tx.section_delegate(section["id"])
    if current is not None:
        tx.end_section_delegate(current["id"], now, "replaced")
    delegate_id = tx.add_section_delegate(
        {
            "section_id": section["id"],
            "account_id": account_id,
            "ballot_id": ballot_id,
            "elected_at": now,
        }
    )
    # A delegate speaks for the section in the council's meetings: her mandate is public.
    record(
        tx,
        "section.delegate_elected",
        {
            "section_id": section["id"],
            "section_delegate_id": delegate_id,
            "account_id": account_id,
            "section_ballot_id": ballot_id,
        },
        now,
    )


def _dissolve(
    tx: SectionRecords, section: Mapping[str, Any], ballot_id: int, now: datetime
) -> None:
    tx.dissolve_section(section["id"], now, ballot_id)
    current = tx.section_delegate(section["id"])
    if current is not None:
        tx.end_section_delegate(current["id"], now, "dissolved")
    record(
        tx,
        "section.dissolved",
        {"section_id": section["id"], "section_ballot_id": ballot_id},
        now,
    )


def close_due_section_ballots(store: Store, *, now: datetime | None = None) -> list[int]:
    """Close every open section ballot whose time is up; returns their ids."""
    now = now_utc(now)
    with store.transaction() as tx:
        due = [b["id"] for b in tx.open_section_ballots() if b["closes_at"] <= now]
    closed = []
    for ballot_id in due:
        try:
            close_section_ballot(store, ballot_id=ballot_id, now=now)
            closed.append(ballot_id)
        except Conflict:
            pass  # closed meanwhile
    return closed


# ---------------------------------------------------------------------------------------------
# Motions a section tables in its council, and the council's deadline.


def table_section_motion(
    store: Store,
    *,
    section_id: int,
    delegate_id: int,
    title: str,
    text: str,
    now: datetime | None = None,
) -> SectionMotion:
    """The section's delegate tables a motion in its council. The council must have voted on
    it (a ballot on the motion closed) within its rule ``section_motion_days``, counted from
    now and fixed now (a later change of the rule does not move it)."""
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    text = text_field(text, "text")
    with store.transaction() as tx:
        section = _live_section(tx, section_id)
        council = tx.council(section["council_id"])
        delegate = tx.section_delegate(section_id)
        if delegate is None or delegate["account_id"] != delegate_id:
            raise Refused(
                "not_section_delegate",
                f"account {delegate_id} is not the elected delegate of section {section_id}; "
                "the section tables motions through the delegate it elected",
                "delegate_id",
            )
        require_standing(tx, council, delegate_id, "table a motion")
        motion_id = tx.add_motion(
            {
                "council_id": council["id"],
                "tabled_by": delegate_id,
                "title": title,
                "text": text,
                "tabled_at": now,
            }
        )
        deadline = now + timedelta(days=council["section_motion_days"])
        row_id = tx.add_section_motion(
            {
                "section_id": section_id,
                "council_id": council["id"],
                "motion_id": motion_id,
                "tabled_by": delegate_id,
                "tabled_at": now,
                "deadline": deadline,
                "status": "waiting",
            }
        )
        record(
            tx,
            "section.motion_tabled",
            {
                "section_motion_id": row_id,
                "section_id": section_id,
                "council_id": council["id"],
                "motion_id": motion_id,
                "by": delegate_id,
                "title": title,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "deadline": deadline,
            },
            now,
        )
        return _motion(tx, tx.section_motion(row_id))


def settle_section_motion(
    tx: SectionRecords,
    ballot: Mapping[str, Any],
    _tally: Any,
    counted: counting.Tally | None,
    now: datetime,
) -> None:
    """A council's motion ballot closed (``decisions.DECIDES["motion"]``): if the motion is a
    section's, its outcome goes on record, and whether the vote was over by the deadline."""
    motion_id = (ballot.get("subject") or {}).get("motion_id")
    find = getattr(tx, "section_motion_of", None)  # None: a store without sections (the fake)
    row = find(motion_id) if find is not None and isinstance(motion_id, int) else None
    if row is None or row["status"] != "waiting":
        return
    if counted is None:
        outcome = "void"
    else:
        outcome = "carried" if counted.outcome == counting.CARRIED else "not_carried"
    tx.update_section_motion(
        row["id"],
        {"status": "decided", "ballot_id": ballot["id"], "outcome": outcome, "decided_at": now},
    )
    record(
        tx,
        "section.motion_decided",
        {
            "section_motion_id": row["id"],
            "section_id": row["section_id"],
            "council_id": row["council_id"],
            "motion_id": motion_id,
            "ballot_id": ballot["id"],
            "outcome": outcome,
            "in_time": ballot["closes_at"] <= row["deadline"],
        },
        now,
    )


def check_section_deadlines(store: Store, *, now: datetime | None = None) -> list[int]:
    """Find every section motion whose deadline has passed with no vote of its council over by
    then (no ballot on it closed, or closing, by the deadline), and put the council's breach on
    record (``section.motion_overdue``), once per motion. Returns the motions found in breach
    now. Run with the loop that closes due ballots (web/app.py, ``councilplan sections
    check``); a ballot that closes by the deadline is no breach, even if closed late."""
    now = now_utc(now)
    breached = []
    with store.transaction() as tx:
        for row in tx.waiting_section_motions():
            if row["breached_at"] is not None or row["deadline"] >= now:
                continue
            on_time = [
                b
                for b in tx.ballots(row["council_id"])
                if b["purpose"] == "motion"
                and (b["subject"] or {}).get("motion_id") == row["motion_id"]
                and b["closes_at"] <= row["deadline"]
            ]
            if on_time:
                continue  # voted in time; its close records the outcome
            tx.update_section_motion(row["id"], {"breached_at": now})
            record(
                tx,
                "section.motion_overdue",
                {
                    "section_motion_id": row["id"],
                    "section_id": row["section_id"],
                    "council_id": row["council_id"],
                    "motion_id": row["motion_id"],
                    "deadline": row["deadline"],
                    "breach": f"council {row['council_id']} did not vote on the motion of "
                    f"section {row['section_id']} by its deadline",
                },
                now,
            )
            breached.append(row["id"])
    return breached


def section_motions(
    store: Store, *, section_id: int | None = None, council_id: int | None = None
) -> list[SectionMotion]:
    """The motions sections tabled (of one section, or in one council) and what became of
    them."""
    with store.transaction() as tx:
        if section_id is not None:
            existing(tx.section, section_id, "section", "section_id")
        if council_id is not None:
            existing(tx.council, council_id, "council", "council_id")
        rows = tx.section_motions(section_id=section_id, council_id=council_id)
        return [_motion(tx, r) for r in rows]


def section_motions_breached(store: Store) -> list[SectionMotion]:
    """Every section motion whose council has been found in breach of its deadline."""
    with store.transaction() as tx:
        rows = [r for r in tx.section_motions() if r["breached_at"] is not None]
        return [_motion(tx, r) for r in rows]


# ---------------------------------------------------------------------------------------------
# Declared groups.

GENDER_LIMIT = 100
GROUP_LIMIT = 200


def normalised(text: str) -> str:
    """The key a self-described group or gender is counted under: NFKC, case-folded, inner
    whitespace collapsed, so "Night  Shift" and "night shift" count together."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _declared(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("bad_group", f"{field}: give text, or leave it out", field)
    text = " ".join(unicodedata.normalize("NFKC", value).split())
    if not text:
        return None
    if len(text) > limit:
        raise Invalid("too_long", f"{field}: {len(text)} characters, at most {limit}", field)
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise Invalid("bad_group", f"{field}: control or invisible characters are refused", field)
    return text


def declare_groups(
    store: Store,
    *,
    account_id: int,
    gender: str | None = None,
    group: str | None = None,
    now: datetime | None = None,
) -> DeclaredGroups:
    """A member says, if she chooses, her gender and a group she describes herself; what she
    leaves out (None or empty) is not said. Declaring nothing removes what she said before.
    Only she reads it back (:func:`my_groups`); the reports count it, suppressed."""
    now = now_utc(now)
    gender_text = _declared(gender, "gender", GENDER_LIMIT)
    group_text = _declared(group, "group", GROUP_LIMIT)
    with store.transaction() as tx:
        get_account(tx, account_id)
        fields = None
        if gender_text is not None or group_text is not None:
            fields = {
                "gender": normalised(gender_text) if gender_text is not None else None,
                "group_text": group_text,
                "group_key": normalised(group_text) if group_text is not None else None,
                "salt": secrets.token_hex(16),
                "declared_at": now,
            }
        had = tx.declared_groups(account_id) is not None
        if fields is None and not had:
            return DeclaredGroups(None, None, None, None)
        tx.replace_declared_groups(account_id, fields)
        # The public event names no one and says nothing declared; the state keeps a salted
        # digest (store/record.py SEALED).
        record(tx, "groups.declared", {}, now)
        return _groups(tx.declared_groups(account_id))


def my_groups(store: Store, *, account_id: int) -> DeclaredGroups:
    """What ``account_id`` declared of herself: for her eyes only (the caller is she)."""
    with store.transaction() as tx:
        get_account(tx, account_id)
        return _groups(tx.declared_groups(account_id))


def _groups(row: Mapping[str, Any] | None) -> DeclaredGroups:
    if row is None:
        return DeclaredGroups(None, None, None, None)
    return DeclaredGroups(row["gender"], row["group_text"], row["group_key"], row["declared_at"])


__all__ = [
    "DeclaredGroups",
    "Section",
    "SectionBallot",
    "SectionMotion",
    "cast_section_vote",
    "check_section_deadlines",
    "close_due_section_ballots",
    "close_section_ballot",
    "create_section",
    "declare_groups",
    "end_section_memberships",
    "get_section",
    "get_section_ballot",
    "join_section",
    "leave_section",
    "list_sections",
    "my_groups",
    "normalised",
    "open_section_ballot",
    "section_ballot_votes",
    "section_members",
    "section_motions",
    "section_motions_breached",
    "settle_section_motion",
    "table_section_motion",
]


# ---------------------------------------------------------------------------------------------
# The demo town's sections and declared groups (councils.service.demo's people and councils).

#: What the demo town's members chose to declare (gender, group); absent: declared nothing.
#: "Night Shift" and "night  shift" count with "night shift": the key is normalised.
DEMO_GROUPS: dict[str, tuple[str | None, str | None]] = {
    "ada": ("woman", None),
    "bea": ("woman", "night shift"),
    "cai": ("man", None),
    "dan": ("man", "apprentices"),
    "eve": ("Woman", "night shift"),
    "fay": ("woman", "Night Shift"),
    "gus": ("man", "night shift"),
    "hal": ("non-binary", None),
    "ivy": ("woman", "parents"),
    "jo": (None, "parents"),
    "kim": ("man", None),
    "lee": ("woman", "parents"),
    "mo": ("man", None),
    "pat": ("woman", None),
    "quinn": (None, "night  shift"),
    "rae": ("woman", "parents"),
}

#: The demo's sections: (council key, name, purpose, members (the first founds it), motion
#: title and text, and whether the council votes on it in time).
DEMO_SECTIONS = (
    (
        "clinic",
        "Night shift",
        "Those of us who work nights at the clinic",
        ("eve", "fay", "gus"),
        "A night bus at every change of shift",
        "The federation runs a bus between the neighbourhoods and the clinic at 22:00 and 6:00.",
        True,
    ),
    (
        "neighbourhood",
        "Parents",
        "Members with children at home",
        ("ivy", "jo", "lee"),
        "Childcare during council meetings",
        "Every meeting of the council has childcare beside it, so parents can come.",
        False,
    ),
)


def demo_sections(
    store: Store, *, accounts: Mapping[str, int], councils: Mapping[str, int], at: datetime
) -> list[SectionMotion]:
    """Declare the demo members' groups, found the demo's sections at ``at``, elect each
    one's delegate (its founder's ballot, ``min_ballot_days`` later), table each one's motion,
    and, where the council will vote in time, open its ballot and vote. Returns the motions."""
    for name, (gender, group) in DEMO_GROUPS.items():
        declare_groups(store, account_id=accounts[name], gender=gender, group=group, now=at)
    motions = []
    for key, name, purpose, members, title, text, in_time in DEMO_SECTIONS:
        council = _council(store, councils[key])
        section = create_section(
            store,
            council_id=council["id"],
            founder_id=accounts[members[0]],
            name=name,
            purpose=purpose,
            now=at,
        )
        for member in members[1:]:
            join_section(store, section_id=section.id, account_id=accounts[member], now=at)
        delegate = accounts[members[1]]
        days = timedelta(days=council["min_ballot_days"])
        ballot = open_section_ballot(
            store,
            section_id=section.id,
            opened_by=accounts[members[0]],
            purpose="election",
            candidates=[delegate],
            closes_at=at + days,
            now=at,
        )
        for member in members:
            cast_section_vote(
                store,
                ballot_id=ballot.id,
                voter_id=accounts[member],
                choice=[str(delegate)],
                now=at,
            )
        close_section_ballot(store, ballot_id=ballot.id, now=at + days)
        tabled = at + days + timedelta(minutes=1)
        motion = table_section_motion(
            store, section_id=section.id, delegate_id=delegate, title=title, text=text, now=tabled
        )
        motions.append(motion)
        if in_time:
            opener = next(
                a
                for a in (m["account_id"] for m in _current_members(store, council["id"]))
                if a not in {accounts[m] for m in members}
            )
            opened = tabled + timedelta(minutes=1)
            vote = open_ballot(
                store,
                council_id=council["id"],
                opened_by=opener,
                title=title,
                rule="yes_no",
                motion_id=motion.motion_id,
                secret=True,
                closes_at=opened + days,
                now=opened,
            )
            for member in _current_members(store, council["id"]):
                choice = "no" if member["account_id"] == opener else "yes"
                _vote(store, vote.id, member["account_id"], choice, opened)
    return motions


def _council(store: Store, council_id: int) -> dict:
    with store.transaction() as tx:
        return existing(tx.council, council_id, "council", "council_id")


def _current_members(store: Store, council_id: int) -> list[dict]:
    with store.transaction() as tx:
        return tx.memberships(council_id)


def _vote(store: Store, ballot_id: int, voter_id: int, choice: str, now: datetime) -> None:
    from councilplan.councils.service.decisions import cast_vote  # decisions imports this module

    cast_vote(store, ballot_id=ballot_id, voter_id=voter_id, choice=choice, now=now)


def demo_sections_settle(store: Store, *, at: datetime) -> list[int]:
    """Later, at ``at``: the due ballots close (the council's vote on a section's motion among
    them) and the deadlines are checked; returns the motions found in breach."""
    from councilplan.councils.service.decisions import close_due_ballots

    close_due_ballots(store, now=at)
    close_due_section_ballots(store, now=at)
    return check_section_deadlines(store, now=at)
