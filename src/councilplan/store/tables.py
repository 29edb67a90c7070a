"""The councils' tables (SQLAlchemy 2 Core), the same on SQLite and PostgreSQL.

The schema itself is created by the Alembic migrations in ``store/migrations``; this metadata is
what the repositories query and what ``alembic revision --autogenerate`` compares against.
Secret ballots keep who voted (``ballot_participation``) apart from what was voted (``votes``):
``votes`` has no member column, random UUID keys, no timestamps, and on SQLite no rowid, so
nothing in a row orders or joins it back to a voter. When a secret ballot closes, its votes
leave ``votes`` for one row of ``ballot_boxes`` (sorted, with no keys at all), so not even the
transaction or physical order of the rows written while it was open links a vote to a
participation row. Open ballots add ``open_votes`` linking a vote to its voter.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
Moment = sa.DateTime(timezone=True)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    # NFKC of the case-folded username (councils/names.py name_key): "Ada", "ada" and "Ａｄａ" are
    # one name, so one account. Longer than username: NFKC can lengthen a name.
    sa.Column("name_key", sa.String(255), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", Moment, nullable=False),
)

auth_tokens = sa.Table(
    "auth_tokens",
    metadata,
    # Only the SHA-256 of a token is stored, so a copy of the database cannot log anyone in.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "session" (cookie) or "bearer"
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("expires_at", Moment, nullable=False),
)

councils = sa.Table(
    "councils",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),  # workplace, consumer, federation
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("recall_share", sa.String(20), nullable=False),  # a fraction, e.g. "1/4"
    sa.Column("weighted_votes", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Moment, nullable=False),
    # The council's rules (docs/councils.md), changed only by its own ballot (purpose "rules"):
    # how members are admitted (decision, invitation, open: consumer councils only), how long
    # a member must have belonged to vote, how long a ballot stays open at least.
    sa.Column("admission", sa.String(12), nullable=False, server_default="decision"),
    sa.Column("min_standing_days", sa.Integer, nullable=False, server_default="7"),
    sa.Column("min_ballot_days", sa.Integer, nullable=False, server_default="3"),
    sa.Column("founded_by", sa.ForeignKey("accounts.id"), nullable=True),
    # How the council states its needs or techniques for a planning period: "delegate" (its
    # delegate under the mandate, or the council's ballot) or "ballot" (only its ballot).
    sa.Column("statements_by", sa.String(10), nullable=False, server_default="delegate"),
    # Who records a member's hours in a workplace council's labour-time accounts: "member"
    # (any member with its standing, never for her own hours) or "delegate" (only its
    # current delegates, never for their own hours).
    sa.Column("hours_recorded_by", sa.String(10), nullable=False, server_default="member"),
    # How a federation's labour-time transfers show persons to other members: "numbered"
    # (by their ledger account's number, member #17) or "hidden" (as "a member", and no
    # member reads another's account); workplaces and funds are always named.
    sa.Column("ledger_persons", sa.String(10), nullable=False, server_default="numbered"),
    # Days within which the council's vote on a motion its section tabled must be over; a
    # council that lets them pass is shown in breach on the record (docs/equality.md).
    sa.Column("section_motion_days", sa.Integer, nullable=False, server_default="14"),
    sa.CheckConstraint("kind in ('workplace', 'consumer', 'federation')", name="kind"),
    sa.CheckConstraint(
        "admission = 'decision' OR (admission = 'invitation' AND kind <> 'federation') "
        "OR (admission = 'open' AND kind = 'consumer')",
        name="admission",
    ),
    sa.CheckConstraint(
        "min_standing_days BETWEEN 0 AND 365 AND min_ballot_days BETWEEN 1 AND 60",
        name="rule_days",
    ),
)

applications = sa.Table(
    "applications",
    metadata,
    # Asking to belong: an account to a workplace or consumer council (account_id), or a
    # council to a federation (applicant_council_id, with the seats it asks for). The council
    # (the federation) decides: status pending -> admitted or refused (by ballot_id), or
    # withdrawn; "invited" is a member's invitation the account has not yet accepted.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("applicant_council_id", sa.ForeignKey("councils.id"), nullable=True),
    sa.Column("seats", sa.Integer, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("made_at", Moment, nullable=False),
    sa.Column("invited_by", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("decided_at", Moment, nullable=True),
    sa.Column("ballot_id", sa.Integer, nullable=True),
    sa.CheckConstraint(
        "(account_id IS NULL) <> (applicant_council_id IS NULL)", name="one_applicant"
    ),
    sa.CheckConstraint(
        "status in ('pending', 'invited', 'admitted', 'refused', 'withdrawn')", name="status"
    ),
    sa.Index(
        "uq_applications_account_open",
        "council_id",
        "account_id",
        unique=True,
        sqlite_where=sa.text("account_id IS NOT NULL AND status IN ('pending', 'invited')"),
        postgresql_where=sa.text("account_id IS NOT NULL AND status IN ('pending', 'invited')"),
    ),
    sa.Index(
        "uq_applications_council_open",
        "council_id",
        "applicant_council_id",
        unique=True,
        sqlite_where=sa.text("applicant_council_id IS NOT NULL AND status = 'pending'"),
        postgresql_where=sa.text("applicant_council_id IS NOT NULL AND status = 'pending'"),
    ),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("joined_at", Moment, nullable=False),
    sa.Column("left_at", Moment, nullable=True),
    sa.Index(
        "uq_memberships_current",
        "council_id",
        "account_id",
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    ),
)

federation_members = sa.Table(
    "federation_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("federation_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    # Kept for the rows written before 0010; always 1 now. A council's weight is derived from
    # its counted members at each ballot's opening and fixed in ballots.weights.
    sa.Column("weight", sa.Integer, nullable=False),
    sa.Column("joined_at", Moment, nullable=False),
    sa.Column("left_at", Moment, nullable=True),
    sa.Index(
        "uq_federation_members_current",
        "federation_id",
        "council_id",
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    ),
    sa.CheckConstraint("seats >= 1 and weight >= 1", name="seats_weight"),
)

delegates = sa.Table(
    "delegates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("federation_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("mandate", sa.Text, nullable=False),
    sa.Column("election_ballot_id", sa.Integer, nullable=True),
    sa.Column("elected_at", Moment, nullable=False),
    sa.Column("ended_at", Moment, nullable=True),
    sa.Column("end_reason", sa.String(20), nullable=True),  # recalled, replaced, left_council
    sa.Index("ix_delegates_federation_current", "federation_id", "ended_at"),
)

motions = sa.Table(
    "motions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    sa.Column("tabled_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tabled_at", Moment, nullable=False),
)

amendments = sa.Table(
    "amendments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("motion_id", sa.ForeignKey("motions.id"), nullable=False, index=True),
    sa.Column("tabled_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("tabled_at", Moment, nullable=False),
)

ballots = sa.Table(
    "ballots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    # motion, election, recall, budget, admission, affiliation, rules
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("subject", JSON, nullable=False),  # what the ballot decides: ids, mandate, ...
    sa.Column("rule", sa.String(20), nullable=False),
    sa.Column("options", JSON, nullable=False),
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("quorum", sa.String(20), nullable=False),  # share of the electorate, "1/3"
    sa.Column("majority", sa.String(20), nullable=False),  # share of votes cast, "1/2"
    sa.Column("secret", sa.Boolean, nullable=False),
    sa.Column("weighted", sa.Boolean, nullable=False),
    sa.Column("opened_by", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("opens_at", Moment, nullable=False),  # before this: nominations or proposals
    sa.Column("closes_at", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # open, closed
    sa.Column("closed_at", Moment, nullable=True),
    # Fixed when the ballot opens (created_at): how many may vote (the quorum's base); in a
    # workplace or consumer council, members who joined at or before members_since (the
    # opening less the council's minimum standing) and still belong; in a federation, the
    # delegates then of the councils in weights ({council id: weight}, derived from each
    # council's counted members), whose mandate began by the opening and has not ended.
    sa.Column("electorate", sa.Integer, nullable=True),
    sa.Column("members_since", Moment, nullable=True),
    sa.Column("weights", JSON, nullable=True),
    sa.Column("tally", JSON, nullable=True),
    sa.Column("votes_digest", sa.String(64), nullable=True),
    sa.CheckConstraint("status in ('open', 'closed')", name="status"),
)

ballot_participation = sa.Table(
    "ballot_participation",
    metadata,
    # Who voted, never what: the primary key is also the one-member-one-vote guarantee.
    sa.Column("ballot_id", sa.ForeignKey("ballots.id"), primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), primary_key=True),
    sqlite_with_rowid=False,
)

votes = sa.Table(
    "votes",
    metadata,
    # What was voted, never who: random keys, no timestamp, no rowid to order by.
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("ballot_id", sa.ForeignKey("ballots.id"), nullable=False, index=True),
    sa.Column("choice", JSON, nullable=False),
    sa.Column("weight", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

open_votes = sa.Table(
    "open_votes",
    metadata,
    # Only for open (non-secret) ballots: whose vote is whose, for accountability. vote_id
    # names a row of votes of the same ballot, written in the same transaction; it is not a
    # foreign key, because PostgreSQL would check every vote deleted when a secret ballot's
    # votes move into its box (a check per row, 1 s per 100,000 votes) for references that a
    # secret ballot never has.
    sa.Column("vote_id", sa.String(36), primary_key=True),
    sa.Column("ballot_id", sa.ForeignKey("ballots.id"), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False),
    sa.UniqueConstraint("ballot_id", "account_id", name="uq_open_votes_ballot_account"),
)

ballot_boxes = sa.Table(
    "ballot_boxes",
    metadata,
    # A closed secret ballot's votes, sealed: one line of compact JSON [choice, weight] per
    # vote, sorted, joined by newlines. Written once, in the transaction that closes the ballot
    # (which deletes its rows from votes); the database refuses any later insert, update or
    # delete. votes_digest in ballots is the SHA-256 of these lines sorted, so of this text
    # (migration 0007 moved older ballots' rows here in key order, the order they were counted).
    # PostgreSQL compresses it with lz4 where the server has it (0007).
    sa.Column("ballot_id", sa.ForeignKey("ballots.id"), primary_key=True),
    sa.Column("votes", sa.Text, nullable=False),
)

recalls = sa.Table(
    "recalls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("delegate_id", sa.ForeignKey("delegates.id"), nullable=False, index=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("opened_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("opened_at", Moment, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # collecting, balloting, recalled, kept
    sa.Column("ballot_id", sa.Integer, nullable=True),
    sa.Column("by_election_ballot_id", sa.Integer, nullable=True),
)

recall_supporters = sa.Table(
    "recall_supporters",
    metadata,
    sa.Column("recall_id", sa.ForeignKey("recalls.id"), primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("supported_at", Moment, nullable=False),
)

budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("hours", sa.String(40), nullable=False),  # a decimal string, hours of labour
    sa.Column("ballot_id", sa.ForeignKey("ballots.id"), nullable=False),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("result", JSON, nullable=True),
)

budget_proposals = sa.Table(
    "budget_proposals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("budget_id", sa.ForeignKey("budgets.id"), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("cost_hours", sa.String(40), nullable=False),
    sa.Column("proposed_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("proposed_at", Moment, nullable=False),
)

commissions = sa.Table(
    "commissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("workplace_council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("federation_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("seats_per_side", sa.Integer, nullable=False),
    sa.Column("created_at", Moment, nullable=False),
)

commission_seats = sa.Table(
    "commission_seats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("commission_id", sa.ForeignKey("commissions.id"), nullable=False, index=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("side", sa.String(10), nullable=False),  # workplace, planning
    sa.Column("seated_at", Moment, nullable=False),
    sa.Column("left_at", Moment, nullable=True),
    sa.CheckConstraint("side in ('workplace', 'planning')", name="side"),
)

disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("commission_id", sa.ForeignKey("commissions.id"), nullable=False, index=True),
    sa.Column("filed_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("state", JSON, nullable=False),  # the disputes state machine's record, as JSON
    sa.Column("filed_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
)

# --- planning periods (issue 14; docs/planning-cycle.md) ----------------------------------------

bundles = sa.Table(
    "bundles",
    metadata,
    # An economy bundle as one deterministic zip (economy/archive.py), kept by its SHA-256 so a
    # period names exactly the economy it plans. Written once; the record keeps its digest.
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("archive", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("added_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("added_at", Moment, nullable=False),
)

periods = sa.Table(
    "periods",
    metadata,
    # A planning period of a federation: proposed by a delegate, opened by the federation's
    # ballot (ballot_id), then: statements until stating_closes_at, variants computed and
    # rounds run until proposing_closes_at, the adoption ballot closing by deciding_closes_at.
    # status: proposed -> open -> adopted, or proposed -> refused.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("federation_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("bundle_digest", sa.ForeignKey("bundles.digest"), nullable=False),
    sa.Column("starts_on", sa.String(10), nullable=False),  # ISO dates of the span planned
    sa.Column("ends_on", sa.String(10), nullable=False),
    sa.Column("limits", JSON, nullable=False),  # {"labour": {id: hours}, "resources": {...}}
    sa.Column("rounds", JSON, nullable=True),  # {"round_hours", "max_rounds", "threshold"}
    sa.Column("stating_closes_at", Moment, nullable=False),
    sa.Column("proposing_closes_at", Moment, nullable=False),
    sa.Column("deciding_closes_at", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("proposed_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("proposed_at", Moment, nullable=False),
    sa.Column("ballot_id", sa.Integer, nullable=True),
    sa.Column("opened_at", Moment, nullable=True),
    sa.Column("adoption_ballot_id", sa.Integer, nullable=True),
    sa.Column("adopted_variant_id", sa.Integer, nullable=True),
    sa.Column("plan_digest", sa.String(64), nullable=True),
    sa.Column("adopted_at", Moment, nullable=True),
    # For the labour-time accounts (docs/ledger.md): the products that are public goods (free
    # at the point of use, funded by the levy) and the hours the federation puts in its common
    # reserves, as decimal text.
    sa.Column("public_goods", JSON, nullable=True),
    sa.Column("reserve_hours", sa.String(40), nullable=True),
    sa.CheckConstraint("status in ('proposed', 'open', 'refused', 'adopted')", name="status"),
)

statements = sa.Table(
    "statements",
    metadata,
    # What a council states for a period: a consumer council its needs (rows of product,
    # quantity, priority), a workplace council its techniques (technique, capacity) and the
    # hours it offers (labour, hours). In force from its council's decision: a current
    # delegate's mandate (delegate_id) or the council's ballot (ballot_id; status "proposed"
    # until it closes). A newer statement of the same kind supersedes it.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("period_id", sa.ForeignKey("periods.id"), nullable=False),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("content", JSON, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("stated_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("delegate_id", sa.Integer, nullable=True),
    sa.Column("ballot_id", sa.Integer, nullable=True),
    sa.Column("stated_at", Moment, nullable=False),
    sa.Column("decided_at", Moment, nullable=True),
    sa.Index("ix_statements_period_id_council_id", "period_id", "council_id"),
    sa.CheckConstraint("kind in ('needs', 'techniques')", name="kind"),
    sa.CheckConstraint(
        "status in ('proposed', 'in_force', 'superseded', 'refused')", name="status"
    ),
)

variants = sa.Table(
    "variants",
    metadata,
    # A plan variant of a period, and its job: requested (queued), claimed by a worker
    # (running), computed (done: inputs_digest, plan_digest and the published plan in result)
    # or failed (error). kind "plan": planning.plan with the period's limits and the variant's
    # constraints; "rounds": the participatory rounds' outcome.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("period_id", sa.ForeignKey("periods.id"), nullable=False, index=True),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("constraints", JSON, nullable=False),
    sa.Column("requested_by", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("requested_at", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("worker", sa.String(100), nullable=True),
    sa.Column("started_at", Moment, nullable=True),
    sa.Column("finished_at", Moment, nullable=True),
    sa.Column("inputs_digest", sa.String(64), nullable=True),
    sa.Column("plan_digest", sa.String(64), nullable=True),
    sa.Column("summary", JSON, nullable=True),
    sa.Column("result", sa.Text, nullable=True),  # the published plan, canonical JSON text
    sa.Column("error", sa.Text, nullable=True),
    sa.UniqueConstraint("period_id", "name", name="uq_variants_period_name"),
    sa.CheckConstraint("kind in ('plan', 'rounds')", name="kind"),
    sa.CheckConstraint("status in ('queued', 'running', 'done', 'failed')", name="status"),
)

job_progress = sa.Table(
    "job_progress",
    metadata,
    # How far a running variant's job is: operational, not governed (not on the record), as
    # the status it reaches is.
    sa.Column("variant_id", sa.ForeignKey("variants.id"), primary_key=True),
    sa.Column("stage", sa.String(100), nullable=False),
    sa.Column("done", sa.Float, nullable=False),  # share of the job done, 0..1
    sa.Column("updated_at", Moment, nullable=False),
)

plan_rounds = sa.Table(
    "plan_rounds",
    metadata,
    # The participatory rounds of a period (planning/rounds/live.py): the setup once (round 0
    # holds it), then one row per round: open for answers until closes_at, with the indicative
    # prices it answers (state before), and after its close the state after, who answered
    # themselves and the round's outcome.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("period_id", sa.ForeignKey("periods.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("opened_at", Moment, nullable=False),
    sa.Column("closes_at", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("state", JSON, nullable=False),  # the procedure's state at the round's start
    sa.Column("outcome", JSON, nullable=True),
    sa.Column("closed_at", Moment, nullable=True),
    sa.UniqueConstraint("period_id", "number", name="uq_plan_rounds_period_number"),
    sa.CheckConstraint("status in ('open', 'closed')", name="status"),
)

round_answers = sa.Table(
    "round_answers",
    metadata,
    # A council's own answer to a round's prices (its latest, while the round is open).
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("round_id", sa.ForeignKey("plan_rounds.id"), nullable=False, index=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("answered_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("answer", JSON, nullable=False),
    sa.Column("answered_at", Moment, nullable=False),
    sa.UniqueConstraint("round_id", "council_id", name="uq_round_answers_round_council"),
)

# --- labour-time accounts (issue 15; docs/ledger.md) ----------------------------------------------

#: Amounts are whole units of 0.0001 hour (ledger.hours.QUANTUM): exact on both databases.
ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    # An account (ledger.book.Account): key is its text ("member:12", "labour_fund:4",
    # "issue:6:3"); balance is maintained by every transfer, in the transfer's act.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(250), nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("period", sa.String(40), nullable=True),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("opened_at", Moment, nullable=False),
    sa.CheckConstraint("balance >= 0 OR kind IN ('labour_fund', 'issue')", name="not_overdrawn"),
)

transfers = sa.Table(
    "transfers",
    metadata,
    # A transfer (ledger.book.Transfer), append-only: tid is its id in the ledger, reverses
    # the tid it undoes (at most once).
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tid", sa.String(250), nullable=False, unique=True),
    sa.Column("debit_id", sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("credit_id", sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("reverses", sa.String(250), nullable=True, unique=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("ref", JSON, nullable=False),
    sa.Column("made_by", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("made_at", Moment, nullable=False),
    sa.Column("period_id", sa.Integer, nullable=True),
    sa.CheckConstraint("amount > 0", name="positive"),
    sa.CheckConstraint("debit_id <> credit_id", name="two_accounts"),
    # An account's transfers newest first, each side on its own index (SqlRecords.transfers_of
    # reads the two sides' newest and merges them: an OR over both would walk the primary key
    # back to an account's latest transfer, however old).
    sa.Index("ix_transfers_debit_id_id", "debit_id", "id"),
    sa.Index("ix_transfers_credit_id_id", "credit_id", "id"),
)

levies = sa.Table(
    "levies",
    metadata,
    # The levy of an adopted plan (ledger.levy): its exact rate ("p/q") and derivation.
    sa.Column("period_id", sa.ForeignKey("periods.id"), primary_key=True),
    sa.Column("federation_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("rate", sa.String(100), nullable=False),
    sa.Column("derivation", JSON, nullable=False),
    sa.Column("computed_at", Moment, nullable=False),
)

# --- sections and declared groups (issue 17; docs/equality.md) ---------------------------------

sections = sa.Table(
    "sections",
    metadata,
    # Members of a council who share a situation (women workers, night shift, apprentices):
    # they join by their own act, elect their own delegate to the council's meetings, table
    # motions the council must put to a vote in time; only their own vote dissolves them.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("founded_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("founded_at", Moment, nullable=False),
    sa.Column("dissolved_at", Moment, nullable=True),
    sa.Column("dissolution_ballot_id", sa.Integer, nullable=True),
    sa.Index(
        "uq_sections_council_name",
        "council_id",
        "name",
        unique=True,
        sqlite_where=sa.text("dissolved_at IS NULL"),
        postgresql_where=sa.text("dissolved_at IS NULL"),
    ),
)

section_members = sa.Table(
    "section_members",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("section_id", sa.ForeignKey("sections.id"), nullable=False, index=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("joined_at", Moment, nullable=False),
    sa.Column("left_at", Moment, nullable=True),
    sa.Index(
        "uq_section_members_current",
        "section_id",
        "account_id",
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    ),
)

section_ballots = sa.Table(
    "section_ballots",
    metadata,
    # A section's own vote: electing its delegate ("election", options: candidates' account
    # ids as text, majority with run-off) or dissolving itself ("dissolution", yes/no). The
    # electorate (account ids) is fixed at opening: the section's members then.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("section_id", sa.ForeignKey("sections.id"), nullable=False, index=True),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("rule", sa.String(20), nullable=False),
    sa.Column("options", JSON, nullable=False),
    sa.Column("electorate", JSON, nullable=False),
    sa.Column("opened_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("opened_at", Moment, nullable=False),
    sa.Column("closes_at", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("tally", JSON, nullable=True),
    sa.Column("closed_at", Moment, nullable=True),
    sa.CheckConstraint("purpose in ('election', 'dissolution')", name="purpose"),
    sa.CheckConstraint("status in ('open', 'closed')", name="status"),
)

section_votes = sa.Table(
    "section_votes",
    metadata,
    # One vote per member per section ballot (the key), open to the section's members.
    sa.Column("ballot_id", sa.ForeignKey("section_ballots.id"), primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("choice", JSON, nullable=False),
    sa.Column("cast_at", Moment, nullable=False),
)

section_delegates = sa.Table(
    "section_delegates",
    metadata,
    # The section's delegate to its council's meetings, from its election until replaced by
    # the next one, or until she leaves the section.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("section_id", sa.ForeignKey("sections.id"), nullable=False, index=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("ballot_id", sa.ForeignKey("section_ballots.id"), nullable=False),
    sa.Column("elected_at", Moment, nullable=False),
    sa.Column("ended_at", Moment, nullable=True),
    sa.Column("end_reason", sa.String(20), nullable=True),
)

section_motions = sa.Table(
    "section_motions",
    metadata,
    # A motion a section tabled in its council (the motion itself is a row of motions), the
    # deadline by which the council's vote on it must be over (the council's rule
    # section_motion_days), and what became of it: status waiting -> decided (by ballot_id,
    # outcome carried / not_carried / void), and breached_at when the deadline passed first.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("section_id", sa.ForeignKey("sections.id"), nullable=False, index=True),
    sa.Column("council_id", sa.ForeignKey("councils.id"), nullable=False),
    sa.Column("motion_id", sa.ForeignKey("motions.id"), nullable=False, unique=True),
    sa.Column("tabled_by", sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("tabled_at", Moment, nullable=False),
    sa.Column("deadline", Moment, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("ballot_id", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=True),
    sa.Column("decided_at", Moment, nullable=True),
    sa.Column("breached_at", Moment, nullable=True),
    sa.CheckConstraint("status in ('waiting', 'decided')", name="status"),
)

declared_groups = sa.Table(
    "declared_groups",
    metadata,
    # What a member chose to declare of herself, never required: gender and a self-described
    # group (as written, and folded to group_key for counting). Seen by her and by the
    # equality reports' suppressed aggregates only; the record keeps the row as a digest salted
    # with salt, which stays here (store/record.py SEALED), so the log does not show it.
    sa.Column("account_id", sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("gender", sa.String(100), nullable=True),
    sa.Column("group_text", sa.String(200), nullable=True),
    sa.Column("group_key", sa.String(200), nullable=True),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("declared_at", Moment, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # canonical JSON, exactly as hashed
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # Not hashed: which audit_pending row the entry was chained from (PostgreSQL), so the act
    # that staged it can find its seq. NULL where the entry was appended directly (SQLite).
    sa.Column("event_id", sa.BigInteger, nullable=True),
    # Not hashed, but fixed by it: the changes the act made to the governed tables and the
    # salt of their commitment, whose SHA-256 the payload carries as state_sha256 (readable by
    # whoever reads the database, never served as part of the public record); and the
    # service's HMAC of the event (see store/record.py and docs/audit.md).
    sa.Column("state", sa.Text, nullable=True),
    sa.Column("mac", sa.String(64), nullable=True),
    sa.Index("uq_audit_log_event_id", "event_id", unique=True),
)

audit_pending = sa.Table(
    "audit_pending",
    metadata,
    # PostgreSQL: an act stages its event here in its own transaction (no global lock), and
    # the events are chained into audit_log in batches right after (group commit; see
    # docs/audit.md). Rows live here for milliseconds; chaining moves them in one transaction.
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # canonical JSON, exactly as it will be hashed
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("state", sa.Text, nullable=True),  # as in audit_log
    sa.Column("mac", sa.String(64), nullable=True),  # NULL only from the one-call vote
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    # One row: the latest seq and hash. Appends lock it, so the chain has no forks.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=True),  # the head's own prev_hash
)
