"""The councils' use cases: one function per act, one transaction per act, each act on record.

Every function takes a :class:`Store` (anything with ``transaction()``), the acting account and
the time ``now`` explicitly, checks who may do it, changes the records and appends an audit
event in the same transaction, and returns plain data. A refusal raises :class:`Refused` with a
named ``reason`` and the ``field`` at fault, and nothing is written.

Persistence is reached only through the small :class:`Records` interface (in ``records``)
(``store.repository`` implements it for SQLite and PostgreSQL), so this package imports nothing
from ``store`` or ``web``. Counting is done only by :func:`councilplan.councils.counting.count`
(and ``budgets.equal_shares`` for budgets).

The acts live in modules by area: ``records`` (the Records/Store interface, errors, results,
shared helpers), ``accounts``, ``councils`` (membership), ``ballots`` (motions, votes, closing),
``delegation`` (elections, recall), ``budgets``, ``disputes`` and ``demo``; every public name is
imported here, so ``from councilplan.councils.service import X`` is the way in.
"""

from __future__ import annotations

from councilplan.councils.service.accounts import register_account
from councilplan.councils.service.ballots import (
    amend_motion,
    cast_vote,
    cast_vote_async,
    check_choice,
    close_ballot,
    close_due_ballots,
    get_ballot,
    list_ballots,
    motion,
    open_ballot,
    open_votes,
    participation,
    recount,
    table_motion,
)
from councilplan.councils.service.budgets import get_budget, open_budget, propose_project
from councilplan.councils.service.councils import (
    create_council,
    get_council,
    join_council,
    join_federation,
    leave_council,
    list_councils,
    members,
)
from councilplan.councils.service.delegation import (
    delegates,
    get_recall,
    nominate,
    open_election,
    open_recall,
    support_recall,
)
from councilplan.councils.service.demo import create_demo_town
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
    COUNCIL_KINDS,
    DEFAULT_RECALL_SHARE,
    MOTION_RULES,
    Ballot,
    Conflict,
    Council,
    Duplicate,
    GuardRefused,
    Invalid,
    NotFound,
    QuickVote,
    Records,
    Refused,
    Store,
    VoteReceipt,
    as_dict,
    standing,
)

__all__ = [
    "Ballot",
    "COUNCIL_KINDS",
    "Conflict",
    "Council",
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
    "amend_motion",
    "appeal_dispute",
    "apply_dispute_deadlines",
    "as_dict",
    "cast_vote",
    "cast_vote_async",
    "check_choice",
    "close_ballot",
    "close_due_ballots",
    "create_commission",
    "create_council",
    "create_demo_town",
    "decide_dispute",
    "delegates",
    "file_dispute",
    "finalise_dispute",
    "get_ballot",
    "get_budget",
    "get_council",
    "get_dispute",
    "get_recall",
    "hear_dispute",
    "join_council",
    "join_federation",
    "leave_council",
    "list_ballots",
    "list_councils",
    "members",
    "motion",
    "my_disputes",
    "nominate",
    "open_ballot",
    "open_budget",
    "open_election",
    "open_recall",
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
