"""The councils' use cases: one function per act, one transaction per act, each act on record.

Every function takes a :class:`Store` (``transaction()`` and a few more), the acting account and
the time ``now`` explicitly, checks who may do it, changes the records and appends an audit
event in the same transaction, and returns plain data. A refusal raises :class:`Refused` with a
named ``reason`` and the ``field`` at fault, and nothing is written.

Persistence is reached only through the :class:`Records` interface (in ``repository``), named
by what the acts need rather than by table (``store/sql.py`` implements it for SQLite and
PostgreSQL), so this package imports nothing from ``store`` or ``web``. Counting is done only
by :func:`councilplan.councils.counting.count` (and ``budgets.equal_shares`` for budgets).

The acts live in modules by area: ``repository`` (the Records/Store interface), ``records``
(errors, results, the councils' rules and shared helpers), ``accounts``, ``councils``
(membership, admission, rules, affiliation), ``ballots`` (motions, opening ballots, votes),
``delegation`` (elections, recall), ``budgets``, ``decisions`` (closing a ballot and carrying
out what it decided, above the modules that open ballots), ``disputes`` and ``demo``; every
public name is imported here, so ``from councilplan.councils.service import X`` is the way in.
"""

from __future__ import annotations

from councilplan.councils.service.accounts import register_account
from councilplan.councils.service.ballots import (
    amend_motion,
    check_choice,
    get_ballot,
    list_ballots,
    motion,
    open_ballot,
    open_votes,
    participation,
    table_motion,
)
from councilplan.councils.service.budgets import get_budget, open_budget, propose_project
from councilplan.councils.service.councils import (
    admit_first_council,
    applications,
    apply_for_affiliation,
    council_rules,
    create_council,
    get_council,
    invite_member,
    join_council,
    leave_council,
    list_councils,
    members,
    open_admission,
    open_rules_ballot,
)
from councilplan.councils.service.decisions import (
    cast_vote,
    cast_vote_async,
    close_ballot,
    close_due_ballots,
    recount,
)
from councilplan.councils.service.delegation import (
    delegates,
    get_recall,
    nominate,
    open_election,
    open_recall,
    support_recall,
)
from councilplan.councils.service.demo import create_demo_town, found_council_with_members
from councilplan.councils.service.disputes import (
    appeal_dispute,
    apply_dispute_deadlines,
    create_commission,
    decide_dispute,
    file_dispute,
    finalise_dispute,
    get_dispute,
    hear_dispute,
    my_disputes,
    take_commission_seat,
)
from councilplan.councils.service.records import (
    ADMISSION_RULES,
    COUNCIL_KINDS,
    DEFAULT_ADMISSION,
    DEFAULT_MIN_BALLOT_DAYS,
    DEFAULT_MIN_STANDING_DAYS,
    DEFAULT_RECALL_SHARE,
    MOTION_RULES,
    Ballot,
    Conflict,
    Council,
    Invalid,
    NotFound,
    Refused,
    VoteReceipt,
    as_dict,
    standing,
)
from councilplan.councils.service.repository import (
    Duplicate,
    GuardRefused,
    QuickVote,
    Records,
    Store,
)

__all__ = [
    "ADMISSION_RULES",
    "Ballot",
    "COUNCIL_KINDS",
    "Conflict",
    "Council",
    "DEFAULT_ADMISSION",
    "DEFAULT_MIN_BALLOT_DAYS",
    "DEFAULT_MIN_STANDING_DAYS",
    "DEFAULT_RECALL_SHARE",
    "Duplicate",
    "GuardRefused",
    "Invalid",
    "MOTION_RULES",
    "NotFound",
    "QuickVote",
    "Records",
    "Refused",
    "Store",
    "VoteReceipt",
    "admit_first_council",
    "amend_motion",
    "appeal_dispute",
    "applications",
    "apply_dispute_deadlines",
    "apply_for_affiliation",
    "as_dict",
    "cast_vote",
    "cast_vote_async",
    "check_choice",
    "close_ballot",
    "close_due_ballots",
    "council_rules",
    "create_commission",
    "create_council",
    "create_demo_town",
    "decide_dispute",
    "delegates",
    "file_dispute",
    "finalise_dispute",
    "found_council_with_members",
    "get_ballot",
    "get_budget",
    "get_council",
    "get_dispute",
    "get_recall",
    "hear_dispute",
    "invite_member",
    "join_council",
    "leave_council",
    "list_ballots",
    "list_councils",
    "members",
    "motion",
    "my_disputes",
    "nominate",
    "open_admission",
    "open_ballot",
    "open_budget",
    "open_election",
    "open_recall",
    "open_rules_ballot",
    "open_votes",
    "participation",
    "propose_project",
    "recount",
    "register_account",
    "standing",
    "support_recall",
    "table_motion",
    "take_commission_seat",
]
