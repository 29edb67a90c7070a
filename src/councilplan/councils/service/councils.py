"""Councils and who belongs to them: founding a council, asking to join and being admitted (by
the council's decision, a member's invitation, or at once where a consumer council decided to
be open), leaving, the council's rules, and councils asking to join a federation.

Membership comes from the council, never from the applicant alone; the rules are the council's
own, changed only by its ballot (``decisions`` carries out what such a ballot decides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from councilplan.councils.service.accounts import checked_name
from councilplan.councils.service.ballots import yes_no_ballot
from councilplan.councils.service.mandates import end_mandate, end_seats
from councilplan.councils.service.records import (
    ADMISSION_RULES,
    COUNCIL_KINDS,
    DEFAULT_ADMISSION,
    DEFAULT_MIN_BALLOT_DAYS,
    DEFAULT_MIN_STANDING_DAYS,
    DEFAULT_RECALL_SHARE,
    DEFAULT_SECTION_MOTION_DAYS,
    MIN_BALLOT_DAYS_RANGE,
    MIN_STANDING_DAYS_RANGE,
    SECTION_MOTION_DAYS_RANGE,
    Conflict,
    Invalid,
    Refused,
    existing,
    get_account,
    now_utc,
    read_share,
    record,
    require_counted,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Duplicate, Records, Store
from councilplan.councils.service.results import (
    Application,
    Ballot,
    Council,
    CouncilRules,
    Delegate,
    Membership,
    application_result,
    council_result,
    council_rules_result,
    delegate_result,
    membership_result,
)
from councilplan.councils.service.sections import end_section_memberships

RULE_NAMES = (
    "admission",
    "min_standing_days",
    "min_ballot_days",
    "recall_share",
    "statements_by",
    "hours_recorded_by",
    "section_motion_days",
    "ledger_persons",
)
#: How a council states for a planning period: by its delegate's mandate or its own ballot
#: ("delegate"), or only by its ballot ("ballot").
STATEMENTS_BY = ("delegate", "ballot")
#: How a federation's labour-time transfers show persons to other members (docs/ledger.md).
LEDGER_PERSONS = ("numbered", "hidden")


def create_council(
    store: Store,
    *,
    name: str,
    kind: str,
    founder_id: int,
    description: str = "",
    recall_share: Fraction | str = DEFAULT_RECALL_SHARE,
    weighted_votes: bool = False,
    now: datetime | None = None,
) -> Council:
    """Found a council with the default rules (admission by decision, 7 days' standing, ballots
    open 3 days). The founder of a workplace or consumer council is its first member; a
    federation has no members of its own, only delegates of the councils it admits (the
    founder admits the first)."""
    now = now_utc(now)
    name = checked_name(text_field(name, "name", limit=200), "name")
    if kind not in COUNCIL_KINDS:
        raise Invalid(
            "bad_kind", f"kind: {kind!r} is not one of {', '.join(COUNCIL_KINDS)}", "kind"
        )
    share = read_share(recall_share, "recall_share", allow_zero=False)
    if weighted_votes and kind != "federation":
        raise Invalid(
            "weights_need_federation",
            "weighted_votes: only a federation weighs its delegates' votes",
            "weighted_votes",
        )
    with store.transaction() as tx:
        get_account(tx, founder_id, "founder_id")
        try:
            council_id = tx.add_council(
                {
                    "name": name,
                    "kind": kind,
                    "description": description or "",
                    "recall_share": str(share),
                    "weighted_votes": weighted_votes,
                    "created_at": now,
                    "admission": DEFAULT_ADMISSION,
                    "min_standing_days": DEFAULT_MIN_STANDING_DAYS,
                    "min_ballot_days": DEFAULT_MIN_BALLOT_DAYS,
                    "statements_by": "delegate",
                    "hours_recorded_by": "member",
                    "section_motion_days": DEFAULT_SECTION_MOTION_DAYS,
                    "ledger_persons": "numbered",
                    "founded_by": founder_id,
                },
            )
        except Duplicate:
            raise Conflict(
                "name_taken", f"name: a council called {name!r} exists already", "name"
            ) from None
        if kind != "federation":
            tx.add_membership(council_id, founder_id, now)
        record(
            tx,
            "council.created",
            {
                "council_id": council_id,
                "name": name,
                "kind": kind,
                "founder_id": founder_id,
                "recall_share": str(share),
                "weighted_votes": weighted_votes,
                "rules": _rules_of(tx.council(council_id)),
            },
            now,
        )
        return council_result(tx.council(council_id))


def get_council(store: Store, council_id: int) -> Council:
    with store.transaction() as tx:
        return council_result(existing(tx.council, council_id, "council", "council_id"))


def list_councils(store: Store) -> list[Council]:
    with store.transaction() as tx:
        return [council_result(r) for r in tx.councils()]


def _rules_of(council: Mapping[str, Any]) -> dict:
    return {name: council[name] for name in RULE_NAMES}


def council_rules(store: Store, council_id: int) -> CouncilRules:
    """The rules ``council_id`` has set itself (docs/councils.md), which only its own ballot
    (purpose "rules") changes."""
    with store.transaction() as tx:
        return council_rules_result(existing(tx.council, council_id, "council", "council_id"))


# ---------------------------------------------------------------------------------------------
# Joining: an application the council decides.


def join_council(
    store: Store, *, council_id: int, account_id: int, now: datetime | None = None
) -> Application:
    """Ask to join a workplace or consumer council. The account is a member at once only where
    a member invited her (rule "invitation") or the council decided to be open (rule "open", a
    consumer council); otherwise her application waits for the council's admission ballot.
    Returns the application (``status`` admitted or pending)."""
    now = now_utc(now)
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        get_account(tx, account_id)
        if council["kind"] == "federation":
            raise Refused(
                "federation_has_delegates",
                f"council_id: {council_id} is a federation; its members are delegates elected "
                "by the councils it admits",
                "council_id",
            )
        _refuse_member(tx, council_id, account_id)
        waiting = _open_application(tx, council_id, account_id)
        if waiting is not None and waiting["status"] == "pending":
            raise Conflict(
                "already_applied",
                f"account {account_id} has asked to join council {council_id} already "
                f"(application {waiting['id']}); the council decides",
                "council_id",
            )
        if waiting is not None:  # invited: her asking accepts the invitation
            return admit_member(tx, waiting, now, how="invitation")
        application = _apply(tx, council_id, account_id, now)
        if council["admission"] == "open":
            return admit_member(tx, application, now, how="open")
        return application_result(application)


def invite_member(
    store: Store,
    *,
    council_id: int,
    member_id: int,
    account_id: int,
    now: datetime | None = None,
) -> Application:
    """A member of a council whose rule is admission by invitation invites an account; she is a
    member once she asks (at once, if she has asked already). The inviting member needs the
    council's minimum standing, so a new member cannot bring in others the same day."""
    now = now_utc(now)
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        get_account(tx, account_id)
        if council["admission"] not in ("invitation", "open"):
            raise Refused(
                "admission_by_decision",
                f"council {council_id} ({council['name']}) admits members by its decision "
                "(rule admission=decision): open an admission ballot on the application "
                "instead; the council may change the rule by a rules ballot",
                "council_id",
            )
        require_counted(tx, council, member_id, "invite", now)
        _refuse_member(tx, council_id, account_id)
        waiting = _open_application(tx, council_id, account_id)
        if waiting is not None and waiting["status"] == "invited":
            raise Conflict(
                "already_invited",
                f"account {account_id} is invited to council {council_id} already",
                "account_id",
            )
        if waiting is not None:  # she has asked already
            tx.set_application_inviter(waiting["id"], member_id)
            return admit_member(tx, tx.application(waiting["id"]), now, how="invitation")
        application_id = tx.add_application(
            {
                "council_id": council_id,
                "account_id": account_id,
                "status": "invited",
                "made_at": now,
                "invited_by": member_id,
            }
        )
        record(
            tx,
            "member.invited",
            {"council_id": council_id, "account_id": account_id, "by": member_id},
            now,
        )
        return application_result(tx.application(application_id))


def applications(store: Store, council_id: int, *, waiting: bool = True) -> list[Application]:
    """Applications to a council (a federation: councils asking to join it); by default only
    those waiting for its decision."""
    with store.transaction() as tx:
        existing(tx.council, council_id, "council", "council_id")
        rows = tx.applications(council_id)
        return [
            application_result(r)
            for r in rows
            if not waiting or r["status"] in ("pending", "invited")
        ]


def open_admission(
    store: Store,
    *,
    council_id: int,
    opened_by: int,
    application_ids: Sequence[int],
    closes_at: datetime,
    now: datetime | None = None,
) -> Ballot:
    """Put pending applications to the council's vote (yes/no, majority of votes cast): in a
    workplace or consumer council a member opens it (purpose "admission"), in a federation a
    current delegate (purpose "affiliation"). Carried, every applicant is admitted at the close."""
    now = now_utc(now)
    closes_at = now_utc(closes_at)
    ids = list(dict.fromkeys(application_ids))
    if not ids or len(ids) > 10_000:
        raise Invalid(
            "bad_applications",
            "application_ids: name between 1 and 10000 pending applications",
            "application_ids",
        )
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, opened_by, "open an admission ballot")
        federation = council["kind"] == "federation"
        for application_id in ids:
            application = existing(tx.application, application_id, "application", "application_ids")
            if application["council_id"] != council_id or application["status"] != "pending":
                raise Invalid(
                    "application_not_pending",
                    f"application_ids: application {application_id} is not a pending "
                    f"application to council {council_id}",
                    "application_ids",
                )
            if application["ballot_id"] is not None:
                ballot = tx.ballot(application["ballot_id"])
                if ballot is not None and ballot["status"] == "open":
                    raise Conflict(
                        "admission_under_way",
                        f"application_ids: application {application_id} is before ballot "
                        f"{ballot['id']} already",
                        "application_ids",
                    )
        names = ", ".join(str(i) for i in ids[:20]) + (
            f" and {len(ids) - 20} more" * (len(ids) > 20)
        )
        ballot = yes_no_ballot(
            tx,
            council=council,
            purpose="affiliation" if federation else "admission",
            title=f"Admit application(s) {names}",
            subject={"application_ids": ids},
            opened_by=opened_by,
            closes_at=closes_at,
            now=now,
            secret=not council["weighted_votes"],
        )
        for application_id in ids:
            tx.put_application_to_ballot(application_id, ballot.id)
        return ballot


def _refuse_member(tx: Records, council_id: int, account_id: int) -> None:
    if tx.current_membership(council_id, account_id):
        raise Conflict(
            "already_a_member",
            f"account {account_id} is already a member of council {council_id}",
            "council_id",
        )


def _open_application(tx: Records, council_id: int, account_id: int) -> dict | None:
    for status in ("pending", "invited"):
        application = tx.application_with_status(council_id, account_id, status)
        if application is not None:
            return application
    return None


def _apply(tx: Records, council_id: int, account_id: int, now: datetime) -> dict:
    try:
        application_id = tx.add_application(
            {
                "council_id": council_id,
                "account_id": account_id,
                "status": "pending",
                "made_at": now,
            }
        )
    except Duplicate:
        raise Conflict(
            "already_applied",
            f"account {account_id} has asked to join council {council_id} already",
            "council_id",
        ) from None
    record(tx, "member.applied", {"council_id": council_id, "account_id": account_id}, now)
    return tx.application(application_id)


def admit_member(
    tx: Records, application: Mapping[str, Any], now: datetime, *, how: str
) -> Application:
    """Make an application's account a member at ``now`` (``how``: decision, invitation, open);
    the database admits no membership without such an application (migration 0010). Returns
    the application as it now stands."""
    council_id, account_id = application["council_id"], application["account_id"]
    tx.decide_application(application["id"], "admitted", now)
    try:
        tx.add_membership(council_id, account_id, now)
    except Duplicate:
        raise Conflict(
            "already_a_member",
            f"account {account_id} is already a member of council {council_id}",
            "council_id",
        ) from None
    record(
        tx,
        "member.joined",
        {
            "council_id": council_id,
            "account_id": account_id,
            "application_id": application["id"],
            "how": how,
            "invited_by": application["invited_by"],
        },
        now,
    )
    return application_result(tx.application(application["id"]))


def refuse_application(tx: Records, application: Mapping[str, Any], now: datetime) -> None:
    """An application the council's ballot did not carry."""
    tx.decide_application(application["id"], "refused", now)
    record(
        tx,
        "application.refused",
        {"application_id": application["id"], "council_id": application["council_id"]},
        now,
    )


def leave_council(
    store: Store, *, council_id: int, account_id: int, now: datetime | None = None
) -> Membership:
    """Leave a council. A delegate who leaves the council that sent them loses the mandate, and
    a member who leaves no longer votes in the council's open ballots."""
    now = now_utc(now)
    with store.transaction() as tx:
        existing(tx.council, council_id, "council", "council_id")
        membership = tx.current_membership(council_id, account_id)
        if membership is None:
            raise Refused(
                "not_a_member",
                f"account {account_id} is not a member of council {council_id}",
                "council_id",
            )
        tx.end_membership(membership["id"], now)
        ended = []
        for d in tx.delegates(council_id=council_id, account_id=account_id):
            end_mandate(tx, d, "left_council", now)
            ended.append(d["id"])
        # The workplace seats held by virtue of membership end with it.
        end_seats(
            tx,
            account_id=account_id,
            side="workplace",
            council_id=council_id,
            why="left the council",
            now=now,
        )
        end_section_memberships(tx, council_id, account_id, now)
        record(
            tx,
            "member.left",
            {"council_id": council_id, "account_id": account_id, "delegacies_ended": ended},
            now,
        )
        return membership_result(tx.membership(membership["id"]))


def members(
    store: Store, council_id: int, *, current: bool = True
) -> list[Membership] | list[Delegate]:
    """Memberships of a council with join and leave dates (federations: current delegates)."""
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        if council["kind"] == "federation":
            rows = tx.delegates(federation_id=council_id, current=current)
            return [delegate_result(r) for r in rows]
        return [membership_result(r) for r in tx.memberships(council_id, current=current)]


# ---------------------------------------------------------------------------------------------
# The council's rules: changed by its own ballot only.


def checked_rules(council: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
    """``changes`` to ``council``'s rules in their stored form, or :class:`Invalid` naming the
    rule at fault."""
    if not changes:
        raise Invalid("no_rules", f"rules: name at least one of {', '.join(RULE_NAMES)}", "rules")
    unknown = [k for k in changes if k not in RULE_NAMES]
    if unknown:
        raise Invalid(
            "bad_rule_name",
            f"rules: {unknown[0]!r} is not a council rule; rules: {', '.join(RULE_NAMES)}",
            "rules",
        )
    out: dict[str, Any] = {}
    for name, value in changes.items():
        field = f"rules.{name}"
        if name == "admission":
            allowed = {
                "workplace": ("decision", "invitation"),
                "consumer": ADMISSION_RULES,
                "federation": ("decision",),
            }[council["kind"]]
            if value not in allowed:
                raise Invalid(
                    "bad_admission",
                    f"{field}: {value!r}; a {council['kind']} council admits by "
                    f"{' or '.join(allowed)}",
                    field,
                )
            out[name] = value
        elif name == "recall_share":
            out[name] = str(read_share(value, field, allow_zero=False))
        elif name == "statements_by":
            if value not in STATEMENTS_BY:
                raise Invalid(
                    "bad_statements_by",
                    f"{field}: {value!r}; a council states by 'delegate' (its delegate's "
                    "mandate or its ballot) or 'ballot' (its ballot only)",
                    field,
                )
            out[name] = value
        elif name == "hours_recorded_by":
            if value not in ("member", "delegate") or council["kind"] != "workplace":
                raise Invalid(
                    "bad_hours_recorded_by",
                    f"{field}: {value!r}; a workplace council's hours are recorded by any "
                    "'member' with its standing or only by its 'delegate's (never one's own); "
                    "the rule is a workplace council's",
                    field,
                )
            out[name] = value
        elif name == "ledger_persons":
            if value not in LEDGER_PERSONS or council["kind"] != "federation":
                raise Invalid(
                    "bad_ledger_persons",
                    f"{field}: {value!r}; a federation shows the persons in its labour-time "
                    "transfers 'numbered' (member #17) or 'hidden' (a member); the rule is a "
                    "federation's",
                    field,
                )
            out[name] = value
        else:
            low, high = {
                "min_standing_days": MIN_STANDING_DAYS_RANGE,
                "section_motion_days": SECTION_MOTION_DAYS_RANGE,
            }.get(name, MIN_BALLOT_DAYS_RANGE)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Invalid(
                    "bad_days", f"{field}: {value!r} must be whole days from {low} to {high}", field
                )
            out[name] = value
    return out


def open_rules_ballot(
    store: Store,
    *,
    council_id: int,
    opened_by: int,
    rules: Mapping[str, Any],
    closes_at: datetime,
    now: datetime | None = None,
) -> Ballot:
    """Put a change of the council's rules to its vote (yes/no, majority of votes cast, purpose
    "rules"); carried, the rules change at the close. No member changes a rule alone."""
    now = now_utc(now)
    closes_at = now_utc(closes_at)
    with store.transaction() as tx:
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, opened_by, "open a rules ballot")
        changes = checked_rules(council, rules)
        text = ", ".join(f"{k}={v}" for k, v in changes.items())
        return yes_no_ballot(
            tx,
            council=council,
            purpose="rules",
            title=f"Change the council's rules: {text}",
            subject={"rules": changes},
            opened_by=opened_by,
            closes_at=closes_at,
            now=now,
        )


def change_rules(
    tx: Records, council_id: int, changes: Mapping[str, Any], ballot_id: int, now: datetime
) -> None:
    """Carry out a rules ballot: the rules change from ``now`` (open ballots keep the electorate
    and closing time they opened with)."""
    council = tx.council(council_id)
    changes = checked_rules(council, changes)
    tx.set_council_rules(council_id, changes)
    record(
        tx,
        "council.rules_changed",
        {"council_id": council_id, "ballot_id": ballot_id, "rules": changes},
        now,
    )


# ---------------------------------------------------------------------------------------------
# Federations: a council asks, the federation decides.


def apply_for_affiliation(
    store: Store,
    *,
    federation_id: int,
    council_id: int,
    actor_id: int,
    seats: int = 1,
    now: datetime | None = None,
) -> Application:
    """A member of a council asks, for it, to join a federation with ``seats`` delegates. The
    federation decides: its founder for the first council, then its delegates by ballot
    (:func:`open_admission`). A council's weight is never asked for: each ballot derives it
    from the council's counted members when it opens."""
    now = now_utc(now)
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= 100:
        raise Invalid("bad_seats", f"seats: {seats} must be between 1 and 100", "seats")
    with store.transaction() as tx:
        federation = existing(tx.council, federation_id, "council", "federation_id")
        council = existing(tx.council, council_id, "council", "council_id")
        if federation["kind"] != "federation":
            raise Invalid(
                "not_a_federation",
                f"federation_id: council {federation_id} is not a federation",
                "federation_id",
            )
        if council_id == federation_id:
            raise Invalid(
                "self_affiliation", "council_id: a federation cannot join itself", "council_id"
            )
        require_standing(tx, council, actor_id, "ask for its affiliation")
        if tx.affiliation(federation_id, council_id):
            raise Conflict(
                "already_affiliated",
                f"council {council_id} already belongs to federation {federation_id}",
                "council_id",
            )
        try:
            application_id = tx.add_application(
                {
                    "council_id": federation_id,
                    "applicant_council_id": council_id,
                    "seats": seats,
                    "status": "pending",
                    "made_at": now,
                    "invited_by": actor_id,
                }
            )
        except Duplicate:
            raise Conflict(
                "already_applied",
                f"council {council_id} has asked to join federation {federation_id} already",
                "council_id",
            ) from None
        record(
            tx,
            "federation.applied",
            {
                "federation_id": federation_id,
                "council_id": council_id,
                "seats": seats,
                "by": actor_id,
            },
            now,
        )
        return application_result(tx.application(application_id))


def admit_first_council(
    store: Store, *, application_id: int, actor_id: int, now: datetime | None = None
) -> Application:
    """The founder of a federation admits its first council: until one is affiliated there are
    no delegates to decide. Every later council is admitted by the delegates' ballot."""
    now = now_utc(now)
    with store.transaction() as tx:
        application = existing(tx.application, application_id, "application", "application_id")
        federation = tx.council(application["council_id"])
        if application["applicant_council_id"] is None or application["status"] != "pending":
            raise Invalid(
                "application_not_pending",
                f"application_id: {application_id} is not a pending application to a federation",
                "application_id",
            )
        if federation["founded_by"] != actor_id:
            raise Refused(
                "not_the_founder",
                f"account {actor_id} did not found federation {federation['id']}; its "
                "delegates decide by ballot",
                "account_id",
            )
        if tx.affiliations(federation["id"]):
            raise Refused(
                "affiliation_by_ballot",
                f"federation {federation['id']} has affiliated councils: its delegates decide "
                "on this application by ballot (purpose affiliation), not its founder",
                "application_id",
            )
        return affiliate_council(tx, application, now, how="founder")


def affiliate_council(
    tx: Records, application: Mapping[str, Any], now: datetime, *, how: str
) -> Application:
    """Affiliate an application's council with the federation at ``now`` (``how``: founder,
    decision). Its stored weight is 1: weights are derived per ballot."""
    federation_id, council_id = application["council_id"], application["applicant_council_id"]
    if tx.affiliation(federation_id, council_id):
        raise Conflict(
            "already_affiliated",
            f"council {council_id} already belongs to federation {federation_id}",
            "council_id",
        )
    tx.decide_application(application["id"], "admitted", now)
    tx.add_affiliation(
        {
            "federation_id": federation_id,
            "council_id": council_id,
            "seats": application["seats"],
            "weight": 1,
            "joined_at": now,
        },
    )
    record(
        tx,
        "federation.joined",
        {
            "federation_id": federation_id,
            "council_id": council_id,
            "seats": application["seats"],
            "application_id": application["id"],
            "how": how,
        },
        now,
    )
    return application_result(tx.application(application["id"]))
