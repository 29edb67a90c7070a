"""The planning cycle through the service (docs/planning-cycle.md): a federation opens a
planning period by ballot, councils state their needs and techniques, the engine proposes
plan variants (a job outside the request), the councils may revise their proposals in
participatory rounds, the federation adopts one variant by ballot, and every council reads
what the adopted plan means for it.

Every step is an act on the record. A variant is computed from the record alone (the bundle
kept by its digest, the statements in force when stating closed, the period's limits, the
variant's constraints, the work norms the rates-and-conflicts commission made final, the
rounds' answers), so :func:`recompute_period` re-runs it and compares digests.

Numbers that councils state are kept as the decimal text they were read as (the record hashes
no floats); the engine reads them as floats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from councilplan.audit.chain import canonical_json, utc_timestamp
from councilplan.councils import counting
from councilplan.councils.service.ballots import insert_ballot, require_ballot_time, yes_no_ballot
from councilplan.councils.service.records import (
    Conflict,
    Invalid,
    NotFound,
    Refused,
    existing,
    now_utc,
    record,
    require_standing,
    text_field,
)
from councilplan.councils.service.repository import Records, Store
from councilplan.councils.service.results import (
    Ballot,
    Bundle,
    Period,
    PlanRound,
    RoundAnswer,
    Statement,
    Targets,
    Variant,
    from_row,
)

#: Most rows one statement may carry (a council stating a need for every product of a
#: 10^5-product economy stays well within it).
MAX_STATEMENT_ROWS = 200_000
#: Rounds settings a period may ask for: hours a round stays open, most rounds, threshold (%).
ROUND_HOURS_RANGE = (1, 24 * 30)
MAX_ROUNDS_RANGE = (1, 500)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


# ---------------------------------------------------------------------------------------------
# Bundles: the economy a period plans, kept by its digest.


def add_bundle(
    store: Store, *, actor_id: int, name: str, archive: bytes, now: datetime | None = None
) -> Bundle:
    """Keep an economy bundle (a deterministic archive from ``economy.archive.pack_bundle``)
    for periods to name by its digest. A current delegate to some federation may add one; the
    bundle is read first, and one that cannot be read is refused with what is wrong. Adding a
    bundle that is already kept returns it."""
    from councilplan.economy.archive import bundle_digest, economy_from_archive
    from councilplan.economy.errors import EconomyError

    now = now_utc(now)
    name = text_field(name, "name", limit=200)
    if not isinstance(archive, bytes | bytearray) or not archive:
        raise Invalid(
            "bad_bundle", "archive: give the bundle's archive (a zip) as bytes", "archive"
        )
    archive = bytes(archive)
    try:
        economy_from_archive(archive)
    except EconomyError as error:
        raise Invalid("bad_bundle", f"archive: {error}", "archive") from None
    digest = bundle_digest(archive)
    with store.transaction() as tx:
        get_account_or_refuse(tx, actor_id)
        if not tx.delegates(account_id=actor_id):
            raise Refused(
                "not_a_current_delegate",
                f"account {actor_id} is no current delegate to any federation; a federation's "
                "delegates keep the bundles its periods plan",
                "actor_id",
            )
        kept = tx.bundle(digest)
        if kept is not None:
            return from_row(Bundle, kept)
        tx.add_bundle(
            {
                "digest": digest,
                "name": name,
                "archive": archive,
                "size": len(archive),
                "added_by": actor_id,
                "added_at": now,
            }
        )
        record(
            tx,
            "bundle.added",
            {"digest": digest, "name": name, "size": len(archive), "by": actor_id},
            now,
        )
        return from_row(Bundle, tx.bundle(digest))


def get_bundle(store: Store, digest: str) -> Bundle:
    with store.reading() as tx:
        return from_row(Bundle, existing_bundle(tx, digest))


def bundle_archive(store: Store, digest: str) -> bytes:
    """The archive of a kept bundle, as stored (its SHA-256 is ``digest``)."""
    with store.reading() as tx:
        return bytes(existing_bundle(tx, digest, archive=True)["archive"])


def existing_bundle(tx: Records, digest: Any, *, archive: bool = False) -> dict:
    row = tx.bundle(digest, archive=archive) if isinstance(digest, str) else None
    if row is None:
        raise NotFound("no_such_bundle", f"bundle_digest: no bundle {digest!r} is kept", "bundle")
    return row


def get_account_or_refuse(tx: Records, account_id: int) -> dict:
    return existing(tx.account, account_id, "account", "actor_id")


# ---------------------------------------------------------------------------------------------
# Opening a period: the federation's decision.


def propose_period(
    store: Store,
    *,
    federation_id: int,
    actor_id: int,
    title: str,
    bundle_digest: str,
    starts_on: str | date,
    ends_on: str | date,
    ballot_closes_at: datetime,
    stating_closes_at: datetime,
    proposing_closes_at: datetime,
    deciding_closes_at: datetime,
    limits: Mapping[str, Any] | None = None,
    rounds: Mapping[str, Any] | None = None,
    public_goods: Sequence[str] = (),
    reserve_hours: Any = "0",
    now: datetime | None = None,
) -> Period:
    """Propose a planning period to the federation's vote (yes/no, purpose "period", open until
    ``ballot_closes_at``); carried, the period opens. ``limits`` override the bundle's labour
    and resource limits by id (``{"labour": {"general": "3.2e6"}, "resources": {...}}``; a
    labour kind's limit may be ``"offered"``: the hours the workplace councils offer);
    ``rounds`` asks for participatory rounds (``{"round_hours": 24, "max_rounds": 60,
    "threshold": "3"}``). ``public_goods``: the products free at the point of use, funded by
    the levy, and ``reserve_hours`` the hours set aside for common reserves (docs/ledger.md).
    The stages follow one another: the ballot closes, then stating, then proposing (variants
    and rounds), then deciding (the adoption ballot)."""
    now = now_utc(now)
    title = text_field(title, "title", limit=300)
    starts, ends = _iso_date(starts_on, "starts_on"), _iso_date(ends_on, "ends_on")
    if ends <= starts:
        raise Invalid("bad_span", f"ends_on: {ends} is not after starts_on {starts}", "ends_on")
    moments = {
        "ballot_closes_at": now_utc(ballot_closes_at),
        "stating_closes_at": now_utc(stating_closes_at),
        "proposing_closes_at": now_utc(proposing_closes_at),
        "deciding_closes_at": now_utc(deciding_closes_at),
    }
    names = list(moments)
    for earlier, later in zip(names, names[1:], strict=False):
        if moments[later] <= moments[earlier]:
            raise Invalid(
                "stages_out_of_order",
                f"{later}: {utc_timestamp(moments[later])} must come after {earlier} "
                f"({utc_timestamp(moments[earlier])}); a period's stages follow one another",
                later,
            )
    rounds_settings = _rounds_settings(rounds)
    with store.transaction() as tx:
        federation = _federation(tx, federation_id)
        require_standing(tx, federation, actor_id, "propose a planning period")
        bundle = existing_bundle(tx, bundle_digest)
        economy = _economy(tx, bundle["digest"])
        checked_limits = _checked_limits(economy, limits or {}, "limits")
        public = _checked_public_goods(tx, bundle["digest"], public_goods)
        reserve = _number(reserve_hours, "reserve_hours", minimum="0")
        require_ballot_time(federation, now, moments["ballot_closes_at"], "ballot_closes_at")
        terms = {
            "federation_id": federation_id,
            "title": title,
            "bundle_digest": bundle["digest"],
            "starts_on": starts.isoformat(),
            "ends_on": ends.isoformat(),
            "limits": checked_limits,
            "rounds": rounds_settings,
            "public_goods": public,
            "reserve_hours": reserve,
            **{k: v for k, v in moments.items() if k != "ballot_closes_at"},
        }
        period_id = tx.add_period(
            {**terms, "status": "proposed", "proposed_by": actor_id, "proposed_at": now}
        )
        record(tx, "period.proposed", {"period_id": period_id, **terms, "by": actor_id}, now)
        ballot = yes_no_ballot(
            tx,
            council=federation,
            purpose="period",
            title=f"Open the planning period: {title}",
            subject={"period_id": period_id},
            opened_by=actor_id,
            closes_at=moments["ballot_closes_at"],
            now=now,
        )
        tx.update_period(period_id, {"ballot_id": ballot.id})
        return _period(tx.period(period_id), now)


def open_period(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """The federation's ballot on a period, closed: carried, the period opens; otherwise it is
    refused."""
    period = tx.period(ballot["subject"]["period_id"])
    if period is None or period["status"] != "proposed":
        return
    if counted is not None and counted.outcome == counting.CARRIED:
        tx.update_period(period["id"], {"status": "open", "opened_at": now})
        record(tx, "period.opened", {"period_id": period["id"], "ballot_id": ballot["id"]}, now)
    else:
        tx.update_period(period["id"], {"status": "refused"})
        record(tx, "period.refused", {"period_id": period["id"], "ballot_id": ballot["id"]}, now)


def get_period(store: Store, period_id: int, *, now: datetime | None = None) -> Period:
    with store.reading() as tx:
        return _period(existing(tx.period, period_id, "period", "period_id"), now_utc(now))


def list_periods(store: Store, federation_id: int, *, now: datetime | None = None) -> list[Period]:
    now = now_utc(now)
    with store.reading() as tx:
        _federation(tx, federation_id)
        return [_period(row, now) for row in tx.periods(federation_id)]


def _period(row: Mapping[str, Any], now: datetime) -> Period:
    return from_row(Period, row, stage=period_stage(row, now))


def period_stage(period: Mapping[str, Any], now: datetime) -> str:
    """What a period is open for at ``now``."""
    if period["status"] in ("proposed", "refused", "adopted"):
        return period["status"]
    if now < period["stating_closes_at"]:
        return "stating"
    if now < period["proposing_closes_at"]:
        return "proposing"
    if now < period["deciding_closes_at"]:
        return "deciding"
    return "closed"


def _federation(tx: Records, federation_id: int) -> dict:
    council = existing(tx.council, federation_id, "council", "federation_id")
    if council["kind"] != "federation":
        raise Invalid(
            "not_a_federation",
            f"federation_id: council {federation_id} ({council['name']}) is a {council['kind']} "
            "council; planning periods are a federation's",
            "federation_id",
        )
    return council


def _open_period(
    tx: Records, period_id: int, stage: str, now: datetime, act: str, lock: str | None = None
) -> dict:
    """The period, refused unless it is open and in ``stage`` at ``now``. Statements,
    answers and requests take no lock on it (its stage follows from the clock, and its
    status changes only by ballots of other stages), so councils state side by side; acts
    that change the period lock it."""
    period = existing(tx.period, period_id, "period", "period_id", lock=lock)
    current = period_stage(period, now)
    if current != stage:
        deadline = {
            "stating": "stating_closes_at",
            "proposing": "proposing_closes_at",
            "deciding": "deciding_closes_at",
        }[stage]
        raise Conflict(
            f"not_{stage}",
            f"period {period_id} is {current} at {utc_timestamp(now)}; {act} is for its "
            f"{stage} stage (until {deadline} {utc_timestamp(period[deadline])})",
            "period_id",
        )
    return period


# ---------------------------------------------------------------------------------------------
# Statements: what each council states, by its delegate's mandate or by its own ballot.


def state_needs(
    store: Store,
    *,
    period_id: int,
    council_id: int,
    actor_id: int,
    needs: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
) -> Statement:
    """A consumer council's needs for the period: rows of ``product``, ``quantity`` (units of
    the product, not negative) and ``priority`` (positive, default 1), stated by one of its
    current delegates to the federation (their mandate). It replaces the council's earlier
    needs; amendable until stating closes."""
    return _state(store, period_id, council_id, actor_id, "needs", {"needs": needs}, now)


def state_techniques(
    store: Store,
    *,
    period_id: int,
    council_id: int,
    actor_id: int,
    techniques: Sequence[Mapping[str, Any]],
    hours: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> Statement:
    """A workplace council's techniques for the period: rows of ``technique`` (an id of the
    period's bundle) and ``capacity`` (the most activity it can run, or left out), and the
    ``hours`` it offers (rows of ``labour`` kind and ``hours``); stated by one of its current
    delegates to the federation. It replaces the council's earlier statement."""
    content = {"techniques": techniques, "hours": hours}
    return _state(store, period_id, council_id, actor_id, "techniques", content, now)


def propose_statement(
    store: Store,
    *,
    period_id: int,
    council_id: int,
    actor_id: int,
    kind: str,
    content: Mapping[str, Any],
    closes_at: datetime,
    now: datetime | None = None,
) -> Statement:
    """Put a statement to the council's own vote (yes/no, purpose "statement", closing by the
    end of stating): carried, it is in force as if a delegate had stated it. ``content`` is
    ``{"needs": [...]}`` or ``{"techniques": [...], "hours": [...]}``."""
    now = now_utc(now)
    closes_at = now_utc(closes_at)
    with store.transaction() as tx:
        period = _open_period(tx, period_id, "stating", now, "stating")
        council = existing(tx.council, council_id, "council", "council_id")
        require_standing(tx, council, actor_id, "propose a statement")
        checked = _checked_statement(tx, period, council, kind, content)
        if closes_at > period["stating_closes_at"]:
            raise Invalid(
                "ballot_after_stating",
                f"closes_at: {utc_timestamp(closes_at)} is after period {period_id}'s stating "
                f"closes ({utc_timestamp(period['stating_closes_at'])})",
                "closes_at",
            )
        statement_id = tx.add_statement(
            {
                "period_id": period_id,
                "council_id": council_id,
                "kind": kind,
                "content": checked,
                "status": "proposed",
                "stated_by": actor_id,
                "stated_at": now,
            }
        )
        record(tx, "period.statement_proposed", _statement_event(tx, statement_id), now)
        ballot = yes_no_ballot(
            tx,
            council=council,
            purpose="statement",
            title=f"State our {kind} for planning period {period_id}",
            subject={"period_id": period_id, "statement_id": statement_id},
            opened_by=actor_id,
            closes_at=closes_at,
            now=now,
        )
        tx.set_statement_ballot(statement_id, ballot.id)
        return from_row(Statement, tx.statement(statement_id))


def adopt_statement(
    tx: Records, ballot: dict, _tally: Any, counted: counting.Tally | None, now: datetime
) -> None:
    """A council's ballot on a statement, closed: carried while stating is open, the statement
    is in force (replacing the council's earlier one); otherwise refused."""
    statement = tx.statement(ballot["subject"]["statement_id"])
    if statement is None or statement["status"] != "proposed":
        return
    period = tx.period(statement["period_id"])
    carried = counted is not None and counted.outcome == counting.CARRIED
    if carried and period_stage(period, now) == "stating":
        _put_in_force(tx, statement, now)
        record(tx, "period.stated", _statement_event(tx, statement["id"], ballot["id"]), now)
    else:
        tx.set_statement_status(statement["id"], "refused", now)
        why = "not carried" if not carried else "stating had closed"
        record(
            tx,
            "period.statement_refused",
            {"statement_id": statement["id"], "ballot_id": ballot["id"], "why": why},
            now,
        )


def _state(
    store: Store,
    period_id: int,
    council_id: int,
    actor_id: int,
    kind: str,
    content: Mapping[str, Any],
    now: datetime | None,
) -> Statement:
    now = now_utc(now)
    with store.transaction() as tx:
        period = _open_period(tx, period_id, "stating", now, "stating")
        council = existing(tx.council, council_id, "council", "council_id")
        delegate = _mandate(tx, period, council, actor_id)
        if council["statements_by"] == "ballot":
            raise Refused(
                "statements_by_ballot",
                f"council {council_id} ({council['name']}) states only by its own ballot "
                "(its rule statements_by); propose the statement to its members",
                "council_id",
            )
        checked = _checked_statement(tx, period, council, kind, content)
        statement_id = tx.add_statement(
            {
                "period_id": period_id,
                "council_id": council_id,
                "kind": kind,
                "content": checked,
                "status": "proposed",
                "stated_by": actor_id,
                "delegate_id": delegate["id"],
                "stated_at": now,
            }
        )
        _put_in_force(tx, tx.statement(statement_id), now)
        record(tx, "period.stated", _statement_event(tx, statement_id), now)
        return from_row(Statement, tx.statement(statement_id))


def _put_in_force(tx: Records, statement: Mapping[str, Any], now: datetime) -> None:
    for earlier in tx.statements(
        statement["period_id"], council_id=statement["council_id"], status="in_force"
    ):
        if earlier["kind"] == statement["kind"]:
            tx.set_statement_status(earlier["id"], "superseded", now)
    tx.set_statement_status(statement["id"], "in_force", now)


def _statement_event(tx: Records, statement_id: int, ballot_id: int | None = None) -> dict:
    s = tx.statement(statement_id)
    content = s["content"]
    return {
        "statement_id": statement_id,
        "period_id": s["period_id"],
        "council_id": s["council_id"],
        "kind": s["kind"],
        "rows": sum(len(v) for v in content.values()),
        "content_sha256": hashlib.sha256(canonical_json(content)).hexdigest(),
        "by": s["stated_by"],
        "delegate_id": s["delegate_id"],
        "ballot_id": ballot_id,
    }


def _mandate(tx: Records, period: Mapping[str, Any], council: Mapping[str, Any], actor: int):
    """The actor's current mandate from ``council`` to the period's federation; refused with
    the reason otherwise (not a member; a member without a mandate)."""
    if not tx.current_membership(council["id"], actor):
        raise Refused(
            "not_a_member",
            f"account {actor} is not a member of council {council['id']} ({council['name']}) "
            "and may not state for it",
            "actor_id",
        )
    rows = tx.delegates(
        federation_id=period["federation_id"], council_id=council["id"], account_id=actor
    )
    if not rows:
        raise Refused(
            "no_mandate",
            f"account {actor} holds no current mandate from council {council['id']} "
            f"({council['name']}) to federation {period['federation_id']}: a council states "
            "through its delegate or by its own ballot (propose a statement)",
            "actor_id",
        )
    return rows[0]


def _checked_statement(
    tx: Records,
    period: Mapping[str, Any],
    council: Mapping[str, Any],
    kind: str,
    content: Mapping[str, Any],
) -> dict:
    """The statement as kept (numbers as decimal text), or :class:`Invalid` naming the row and
    field at fault."""
    wanted = {"needs": "consumer", "techniques": "workplace"}
    if kind not in wanted:
        raise Invalid("bad_kind", f"kind: {kind!r} is not 'needs' or 'techniques'", "kind")
    if council["kind"] != wanted[kind]:
        raise Invalid(
            "wrong_council_kind",
            f"council_id: council {council['id']} ({council['name']}) is a {council['kind']} "
            f"council; {kind} are stated by {wanted[kind]} councils",
            "council_id",
        )
    if not tx.affiliation(period["federation_id"], council["id"]):
        raise Refused(
            "not_affiliated",
            f"council_id: council {council['id']} ({council['name']}) does not belong to "
            f"federation {period['federation_id']}, whose period this is",
            "council_id",
        )
    ids = _catalogue(tx, period["bundle_digest"])
    if not isinstance(content, Mapping):
        raise Invalid("bad_statement", "content: must be an object", "content")
    if kind == "needs":
        rows = _rows(content.get("needs"), "needs")
        products = ids.products
        out, seen = [], set()
        for i, row in enumerate(rows):
            where = f"needs[{i}]"
            product = _known(row, "product", products, where, "product", period)
            quantity = _number(row.get("quantity"), f"{where}.quantity", minimum="0")
            priority = _number(row.get("priority", "1"), f"{where}.priority", minimum="0")
            if Decimal(priority) == 0:
                field = f"{where}.priority"
                raise Invalid("bad_number", f"{field}: must be positive", field)
            if (product, priority) in seen:
                raise Invalid(
                    "stated_twice",
                    f"{where}: product {product!r} with priority {priority} is stated twice",
                    where,
                )
            seen.add((product, priority))
            out.append({"product": product, "quantity": quantity, "priority": priority})
        return {"needs": out}
    techniques, labour = ids.techniques, ids.labour
    out_t, seen = [], set()
    for i, row in enumerate(_rows(content.get("techniques"), "techniques")):
        where = f"techniques[{i}]"
        technique = _known(row, "technique", techniques, where, "technique", period)
        if technique in seen:
            raise Invalid(
                "stated_twice", f"{where}: technique {technique!r} is stated twice", where
            )
        seen.add(technique)
        capacity = row.get("capacity")
        kept = {"technique": technique}
        if capacity is not None:
            kept["capacity"] = _number(capacity, f"{where}.capacity", minimum="0")
        out_t.append(kept)
    out_h, seen = [], set()
    for i, row in enumerate(_rows(content.get("hours", []), "hours", empty=True)):
        where = f"hours[{i}]"
        kind_id = _known(row, "labour", labour, where, "labour kind", period)
        if kind_id in seen:
            raise Invalid("stated_twice", f"{where}: labour {kind_id!r} is stated twice", where)
        seen.add(kind_id)
        out_h.append({"labour": kind_id, "hours": _number(row.get("hours"), f"{where}.hours", "0")})
    return {"techniques": out_t, "hours": out_h}


def _rows(value: Any, field: str, *, empty: bool = False) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple) or (not value and not empty):
        raise Invalid("bad_statement", f"{field}: give a list of rows", field)
    if len(value) > MAX_STATEMENT_ROWS:
        raise Invalid(
            "too_many_rows", f"{field}: {len(value)} rows, at most {MAX_STATEMENT_ROWS}", field
        )
    for i, row in enumerate(value):
        if not isinstance(row, Mapping):
            raise Invalid("bad_statement", f"{field}[{i}]: must be an object", f"{field}[{i}]")
    return list(value)


def _known(row, key: str, known: frozenset[str], where: str, what: str, period) -> str:
    value = row.get(key)
    if not isinstance(value, str) or value not in known:
        raise Invalid(
            f"unknown_{what.replace(' ', '_')}",
            f"{where}.{key}: {value!r} is not a {what} of the period's economy (bundle "
            f"{period['bundle_digest'][:12]})",
            f"{where}.{key}",
        )
    return value


def _number(value: Any, where: str, minimum: str | None = None) -> str:
    """A finite decimal number as its normalised text; refused with ``where`` otherwise."""
    if isinstance(value, bool) or value is None:
        raise Invalid("bad_number", f"{where}: give a number, not {value!r}", where)
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if len(text) > 40:
        raise Invalid("bad_number", f"{where}: {text[:40]!r}... is too long a number", where)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Invalid("bad_number", f"{where}: {value!r} is not a number", where) from None
    if not number.is_finite() or abs(number.adjusted()) > 30:
        raise Invalid("bad_number", f"{where}: {value!r} is not a finite number in range", where)
    if minimum is not None and number < Decimal(minimum):
        raise Invalid("bad_number", f"{where}: {value!r} must be at least {minimum}", where)
    return _decimal_text(number)


def _decimal_text(number: Decimal) -> str:
    if number == 0:
        return "0"
    text = format(number.normalize(), "f") if abs(number.adjusted()) < 15 else str(number)
    return text


def _ids(values: Sequence[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


def _checked_limits(economy, limits: Mapping[str, Any], field: str) -> dict:
    """Overrides of the economy's labour and resource limits by id, as kept: decimal text,
    ``"none"`` (no limit) or, for labour, ``"offered"``."""
    if not isinstance(limits, Mapping):
        raise Invalid("bad_limits", f"{field}: must be an object of labour and resources", field)
    unknown = set(limits) - {"labour", "resources"}
    if unknown:
        raise Invalid(
            "bad_limits",
            f"{field}: {sorted(unknown)[0]!r} is not a kind of limit (labour, resources)",
            field,
        )
    out: dict[str, dict[str, str]] = {}
    for section, ids, what in (
        ("labour", economy.labour_ids, "labour kind"),
        ("resources", economy.resource_ids, "resource"),
    ):
        given = limits.get(section) or {}
        if not isinstance(given, Mapping):
            raise Invalid("bad_limits", f"{field}.{section}: must be an object", field)
        known = _ids(ids)
        kept = {}
        for key, value in given.items():
            where = f"{field}.{section}.{key}"
            if key not in known:
                raise Invalid(
                    "bad_limits", f"{where}: {key!r} is not a {what} of the economy", where
                )
            if value in ("none", "offered"):
                if value == "offered" and section != "labour":
                    raise Invalid("bad_limits", f"{where}: only labour may be 'offered'", where)
                kept[key] = value
            else:
                kept[key] = _number(value, where, minimum="0")
        if kept:
            out[section] = kept
    return out


def _checked_public_goods(tx: Records, digest: str, products: Any) -> list[str]:
    if isinstance(products, str) or not isinstance(products, Sequence):
        raise Invalid(
            "bad_public_goods", "public_goods: give a list of product ids", "public_goods"
        )
    known = _catalogue(tx, digest).products
    for i, product in enumerate(products):
        if product not in known:
            field = f"public_goods[{i}]"
            raise Invalid(
                "unknown_product",
                f"{field}: {product!r} is not a product of the period's economy",
                field,
            )
    return sorted(set(products))


def _rounds_settings(rounds: Mapping[str, Any] | None) -> dict | None:
    if rounds is None:
        return None
    if not isinstance(rounds, Mapping):
        raise Invalid("bad_rounds", "rounds: must be an object or left out", "rounds")
    unknown = set(rounds) - {"round_hours", "max_rounds", "threshold"}
    if unknown:
        raise Invalid("bad_rounds", f"rounds.{sorted(unknown)[0]}: no such setting", "rounds")
    out = {
        "round_hours": _whole(
            rounds.get("round_hours", 24), "rounds.round_hours", ROUND_HOURS_RANGE
        ),
        "max_rounds": _whole(rounds.get("max_rounds", 60), "rounds.max_rounds", MAX_ROUNDS_RANGE),
        "threshold": _number(rounds.get("threshold", "3"), "rounds.threshold", minimum="0"),
    }
    if Decimal(out["threshold"]) == 0:
        raise Invalid("bad_rounds", "rounds.threshold: must be a positive percentage", "rounds")
    return out


def _whole(value: Any, where: str, bounds: tuple[int, int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise Invalid(
            "bad_rounds",
            f"{where}: {value!r} must be a whole number {bounds[0]}..{bounds[1]}",
            where,
        )
    return value


def _iso_date(value: str | date, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid("bad_date", f"{field}: {value!r} is not a date (YYYY-MM-DD)", field) from None


def list_statements(
    store: Store, *, period_id: int, council_id: int | None = None, current: bool = True
) -> list[Statement]:
    """A period's statements (in force only, unless ``current`` is False)."""
    with store.reading() as tx:
        existing(tx.period, period_id, "period", "period_id")
        rows = tx.statements(period_id, council_id=council_id)
        return [from_row(Statement, r) for r in rows if not current or r["status"] == "in_force"]


# ---------------------------------------------------------------------------------------------
# Variants: requested by a delegate, computed by a job outside the request.


def request_variant(
    store: Store,
    *,
    period_id: int,
    actor_id: int,
    name: str,
    constraints: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Variant:
    """Ask for a plan variant of the period: the least-labour plan for the councils' needs
    within the period's limits, with ``constraints`` overriding them (``{"resources": {"co2":
    "1200"}}``: a lower CO2 cap). A current delegate to the federation asks, in the proposing
    stage; a worker (``run_next_job``) computes it."""
    now = now_utc(now)
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid(
            "bad_name",
            f"name: {name!r} must be 1 to 60 lower-case letters, digits and dashes",
            "name",
        )
    with store.transaction() as tx:
        period = _open_period(tx, period_id, "proposing", now, "asking for a variant")
        federation = tx.council(period["federation_id"])
        require_standing(tx, federation, actor_id, "ask for a plan variant")
        economy = _economy(tx, period["bundle_digest"])
        checked = _checked_limits(economy, constraints or {}, "constraints")
        return _queue_variant(tx, period, name, "plan", checked, actor_id, now)


def _queue_variant(
    tx: Records,
    period: Mapping[str, Any],
    name: str,
    kind: str,
    constraints: Mapping[str, Any],
    actor_id: int | None,
    now: datetime,
) -> Variant:
    if any(v["name"] == name for v in tx.variants(period["id"])):
        raise Conflict(
            "variant_exists",
            f"name: period {period['id']} has a variant {name!r} already; choose another name",
            "name",
        )
    variant_id = tx.add_variant(
        {
            "period_id": period["id"],
            "name": name,
            "kind": kind,
            "constraints": dict(constraints),
            "requested_by": actor_id,
            "requested_at": now,
            "status": "queued",
        }
    )
    record(
        tx,
        "variant.requested",
        {
            "variant_id": variant_id,
            "period_id": period["id"],
            "name": name,
            "kind": kind,
            "constraints": dict(constraints),
            "by": actor_id,
        },
        now,
    )
    return _variant(tx, variant_id)


def get_variant(store: Store, variant_id: int) -> Variant:
    with store.reading() as tx:
        existing(tx.variant, variant_id, "variant", "variant_id")
        return _variant(tx, variant_id)


def list_variants(store: Store, period_id: int) -> list[Variant]:
    with store.reading() as tx:
        existing(tx.period, period_id, "period", "period_id")
        return [_variant(tx, v["id"]) for v in tx.variants(period_id)]


def _variant(tx: Records, variant_id: int) -> Variant:
    row = tx.variant(variant_id)
    progress = tx.progress(variant_id) if row["status"] in ("queued", "running") else None
    shown = None
    if progress is not None:
        shown = {
            "stage": progress["stage"],
            "done": progress["done"],
            "updated_at": utc_timestamp(progress["updated_at"]),
        }
    return from_row(Variant, row, progress=shown)


Progress = Callable[[str, float], None]


#: A running job tells the queue it is alive this often; one not heard of for ``STALE`` (its
#: worker killed, its machine gone) is given to the next worker that asks.
HEARTBEAT = timedelta(seconds=30)
STALE = timedelta(minutes=5)


def run_next_job(
    store: Store,
    *,
    worker: str,
    now: Callable[[], datetime] | None = None,
    on_progress: Progress | None = None,
) -> Variant | None:
    """Claim the oldest queued variant of any period (or a running one whose worker has not
    been heard of for :data:`STALE`), compute it and keep the result; None when there is
    none. Its stages are kept as it goes (``job_progress``, shown with the variant, touched
    every :data:`HEARTBEAT` while the engine works) and passed to ``on_progress(stage, share
    done)``. A variant that cannot be computed is kept as failed, with the reason."""
    clock = now or (lambda: now_utc(None))
    with store.transaction() as tx:
        at = clock()
        claimed = tx.claim_variant(worker[:100], at, at - STALE)
        if claimed is None:
            return None
        record(
            tx,
            "variant.started",
            {
                "variant_id": claimed["id"],
                "period_id": claimed["period_id"],
                "worker": worker[:100],
            },
            at,
        )
        tx.set_progress(claimed["id"], "reading the record", 0.0, at)
    variant_id = claimed["id"]
    last = ["reading the record", 0.0]
    lock = threading.Lock()
    finished = threading.Event()

    def progress(stage: str, done: float) -> None:
        with lock, store.transaction() as ptx:
            last[:] = [stage, done]
            ptx.set_progress(variant_id, stage, done, clock())
        if on_progress is not None:
            on_progress(stage, done)

    def heartbeat() -> None:
        while not finished.wait(HEARTBEAT.total_seconds()):
            with contextlib.suppress(Exception), lock, store.transaction() as htx:
                htx.set_progress(variant_id, last[0], last[1], clock())

    threading.Thread(target=heartbeat, name=f"variant-{variant_id}", daemon=True).start()
    try:
        computed = compute_variant(store, variant_id, progress=progress)
    except Exception as error:  # noqa: BLE001 - any failure is kept with the variant, named
        finished.set()
        from councilplan.economy.errors import EconomyError

        known = isinstance(error, EconomyError | Refused | ValueError)
        message = str(error) if known else f"{type(error).__name__}: {error}"
        with store.transaction() as tx:
            tx.update_variant(
                variant_id, {"status": "failed", "error": message[:4000], "finished_at": clock()}
            )
            record(
                tx,
                "variant.failed",
                {"variant_id": variant_id, "error": message[:1000]},
                clock(),
            )
            return _variant(tx, variant_id)
    finished.set()
    with store.transaction() as tx:
        tx.update_variant(
            variant_id,
            {
                "status": "done",
                "finished_at": clock(),
                "inputs_digest": computed.inputs_digest,
                "plan_digest": computed.plan_digest,
                "summary": computed.summary,
                "result": computed.text,
            },
        )
        record(
            tx,
            "variant.computed",
            {
                "variant_id": variant_id,
                "period_id": claimed["period_id"],
                "name": claimed["name"],
                "inputs_digest": computed.inputs_digest,
                "plan_digest": computed.plan_digest,
                "status": computed.summary["status"],
                "total_labour": _decimal_text(Decimal(repr(computed.summary["total_labour"]))),
                "shortfalls": len(computed.published["shortfall"]),
            },
            clock(),
        )
        tx.set_progress(variant_id, "done", 1.0, clock())
        return _variant(tx, variant_id)


def run_jobs(
    store: Store,
    *,
    worker: str,
    stop: threading.Event | None = None,
    idle_seconds: float = 2.0,
    retry_seconds: float = 10.0,
    once: bool = False,
    on_progress: Progress | None = None,
    on_computed: Callable[[Variant, float], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> int:
    """The job runner: compute queued variants, oldest first, until ``stop`` is set (or, with
    ``once``, until none is queued); returns how many were computed. Between jobs it closes
    the rounds whose time is up (:func:`close_due_rounds`), so rounds move on with no one
    asking. Each variant computed (or failed) goes to ``on_computed(variant, seconds)``.
    Unless ``once``, it outlives a database error (the database restarting, a lock held past
    the busy timeout): ``on_error(error)``, then a new try ``retry_seconds`` later, so a
    server's worker does not die silently while members go on asking for variants."""
    done = 0
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            close_due_rounds(store)
            variant = run_next_job(store, worker=worker, on_progress=on_progress)
        except Exception as error:
            if once:
                raise
            if on_error is not None:
                on_error(error)
            stop.wait(retry_seconds)
            continue
        if variant is not None:
            done += 1
            if on_computed is not None:
                on_computed(variant, time.perf_counter() - started)
            continue
        if once:
            break
        stop.wait(idle_seconds)
    return done


@dataclass(frozen=True)
class Computed:
    """A variant computed from the record: its inputs' digest, the published plan, its text
    as kept (``planning.published.canonical_bytes``: the bytes whose SHA-256 is the plan's
    digest, and so the record's digest of the stored text too) and the summary."""

    inputs_digest: str
    plan_digest: str
    published: dict
    text: str
    summary: dict


def compute_variant(store: Store, variant_id: int, *, progress: Progress | None = None) -> Computed:
    """Compute a variant from the record alone (what a job does, and what ``plan
    --from-record`` does again): the period's bundle, the statements in force, the limits with
    the variant's constraints, the work norms made final, and for "rounds" the rounds' record."""
    from councilplan.planning import plan as make_plan
    from councilplan.planning.published import canonical_bytes, inputs_digest, publish

    progress = progress or (lambda stage, done: None)
    with store.reading() as tx:
        variant = existing(tx.variant, variant_id, "variant", "variant_id")
        period = tx.period(variant["period_id"])
        inputs = period_inputs(tx, period, variant)
        rounds_record = _rounds_record(tx, period) if variant["kind"] == "rounds" else None
        archive = bytes(tx.bundle(period["bundle_digest"], archive=True)["archive"])
    progress("reading the economy", 0.1)
    economy = _normed(_economy_from(archive), inputs["norms"])
    needs = needs_frame(inputs["needs"])
    limits = plan_limits(inputs)
    rounds_summary = None
    if rounds_record is not None:
        progress("replaying the rounds", 0.2)
        needs, rounds_summary = _rounds_needs(economy, needs, rounds_record)
    progress("planning", 0.3)
    planned = make_plan(economy, needs, limits)
    progress("publishing", 0.8)
    workplaces = {
        council: {t: (float(c) if c is not None else None) for t, c in techniques.items()}
        for council, techniques in inputs["workplaces"].items()
    }
    published = publish(planned, economy, workplaces=workplaces)
    published["norms"] = inputs["norms"]
    if rounds_summary is not None:
        published["rounds"] = rounds_summary
    data = canonical_bytes(published)  # encoded once: the digest, the stored text, the record's
    digest = hashlib.sha256(data).hexdigest()
    summary = {
        "status": planned.status,
        "method": planned.method,
        "total_labour": float(published["total_labour"]),
        "labour": published["labour"],
        "resources": published["resources"],
        "shortfall": published["shortfall"][:50],
        "shortfalls": len(published["shortfall"]),
        "norms": len(inputs["norms"]),
        "rounds": rounds_summary,
    }
    return Computed(inputs_digest(**inputs), digest, published, data.decode(), summary)


def period_inputs(tx: Records, period: Mapping[str, Any], variant: Mapping[str, Any]) -> dict:
    """Everything a variant is computed from, as the record has it (JSON, numbers as text)."""
    needs, workplaces, offered = [], {}, {}
    for s in tx.statements(period["id"], status="in_force"):
        council = str(s["council_id"])
        if s["kind"] == "needs":
            for row in s["content"]["needs"]:
                needs.append([row["product"], council, row["quantity"], row["priority"]])
        else:
            workplaces[council] = {
                row["technique"]: row.get("capacity") for row in s["content"]["techniques"]
            }
            for row in s["content"]["hours"]:
                offered[row["labour"]] = str(
                    Decimal(offered.get(row["labour"], "0")) + Decimal(row["hours"])
                )
    limits = {section: dict(values) for section, values in period["limits"].items()}
    for section, values in variant["constraints"].items():
        limits.setdefault(section, {}).update(values)
    return {
        "period_id": period["id"],
        "bundle_digest": period["bundle_digest"],
        "kind": variant["kind"],
        "limits": limits,
        "needs": needs,
        "workplaces": workplaces,
        "offered": offered,
        "norms": _norms(tx, period, workplaces),
    }


def needs_frame(rows: Sequence[Sequence[str]]):
    import pandas as pd

    return pd.DataFrame(
        {
            "product": [r[0] for r in rows],
            "council": [r[1] for r in rows],
            "amount": [float(r[2]) for r in rows],
            "priority": [float(r[3]) for r in rows],
        }
    )


def plan_limits(inputs: Mapping[str, Any]):
    """The engine's :class:`Limits` for the inputs: the period's limits with the variant's
    constraints; labour "offered" is the hours the workplaces offer; a technique's capacity is
    the sum its workplaces state, where each of them states one."""
    from councilplan.planning.needs import Limits

    def value(v: str, offered: str | None = None) -> float:
        if v == "none":
            return math.inf
        if v == "offered":
            return float(offered or 0)
        return float(v)

    labour = {
        k: value(v, inputs["offered"].get(k)) for k, v in inputs["limits"].get("labour", {}).items()
    }
    resources = {k: value(v) for k, v in inputs["limits"].get("resources", {}).items()}
    capacity: dict[str, float] = {}
    unbounded: set[str] = set()
    for techniques in inputs["workplaces"].values():
        for technique, cap in techniques.items():
            if cap is None:
                unbounded.add(technique)
            else:
                capacity[technique] = capacity.get(technique, 0.0) + float(cap)
    for technique in unbounded:
        capacity.pop(technique, None)
    return Limits(labour=labour, resources=resources, capacity=capacity)


def _norms(tx: Records, period: Mapping[str, Any], workplaces: Mapping[str, Any]) -> list[dict]:
    """Work norms the federation's rates-and-conflicts commissions made final before stating
    closed, applied to the techniques the disputing workplace runs that make the product in
    dispute (the latest final decision per workplace and product)."""
    from councilplan.councils.service.disputes import _current_view

    chosen: dict[tuple[str, str], dict] = {}
    ids = None
    for commission in tx.commissions(federation_id=period["federation_id"]):
        workplace = str(commission["workplace_council_id"])
        if workplace not in workplaces:
            continue
        for row in tx.disputes(commission["id"]):
            if row["status"] != "final":
                continue
            view = _current_view(row)
            if view.subject != "work_norm" or view.final_at is None:
                continue
            if view.final_at >= utc_timestamp(period["stating_closes_at"]):
                continue
            decision = view.appeal_decision or view.decision
            if decision is None:
                continue
            ids = ids or _catalogue(tx, period["bundle_digest"])
            product = view.target
            for technique in workplaces[workplace]:
                if ids.makes[technique] != product:
                    continue
                key = (workplace, technique)
                if key not in chosen or chosen[key]["final_at"] < view.final_at:
                    chosen[key] = {
                        "dispute_id": int(view.id),
                        "workplace": workplace,
                        "technique": technique,
                        "product": product,
                        "hours": str(decision.effect.hours),
                        "final_at": view.final_at,
                    }
    return [chosen[k] for k in sorted(chosen)]


# ---------------------------------------------------------------------------------------------
# The participatory rounds through the service.


def open_rounds(
    store: Store, *, period_id: int, actor_id: int, now: datetime | None = None
) -> PlanRound:
    """Start the period's participatory rounds (if its opening asked for them): the councils
    that stated are calibrated to the least-labour plan for their needs, and round 1 opens
    with labour-value prices for ``round_hours``. A current delegate to the federation starts
    them, in the proposing stage."""
    from councilplan.planning.rounds.live import start_rounds

    now = now_utc(now)
    with store.transaction() as tx:
        period = _open_period(tx, period_id, "proposing", now, "starting the rounds", "update")
        require_standing(tx, tx.council(period["federation_id"]), actor_id, "start the rounds")
        settings = period["rounds"]
        if settings is None:
            raise Conflict(
                "no_rounds",
                f"period {period_id} was opened without participatory rounds",
                "period_id",
            )
        if tx.plan_rounds(period_id):
            raise Conflict("rounds_started", f"period {period_id}'s rounds have begun", "period_id")
        inputs = period_inputs(tx, period, {"kind": "rounds", "constraints": {}})
        economy = _normed(_economy(tx, period["bundle_digest"]), inputs["norms"])
        consumers = sorted({row[1] for row in inputs["needs"]}, key=int)
        if not consumers:
            raise Conflict("no_needs", f"no council has stated needs for period {period_id}")
        live = start_rounds(
            economy,
            needs_frame(inputs["needs"]),
            consumers=consumers,
            workplaces={c: sorted(t) for c, t in inputs["workplaces"].items()},
            threshold=float(settings["threshold"]),
            max_rounds=settings["max_rounds"],
            seed=period_id,
        )
        _LIVE.put((period_id, _setup_key(live.setup)), live)
        closes_at = now + timedelta(hours=settings["round_hours"])
        round_id = tx.add_plan_round(
            {
                "period_id": period_id,
                "number": 1,
                "opened_at": now,
                "closes_at": closes_at,
                "status": "open",
                "state": {"setup": live.setup, "state": live.initial_state()},
            }
        )
        record(
            tx,
            "rounds.opened",
            {
                "period_id": period_id,
                "round_id": round_id,
                "number": 1,
                "closes_at": closes_at,
                "councils": consumers + sorted(inputs["workplaces"], key=int),
            },
            now,
        )
        return _round(tx, round_id)


def answer_round(
    store: Store,
    *,
    round_id: int,
    council_id: int,
    actor_id: int,
    answer: Mapping[str, Any],
    now: datetime | None = None,
) -> RoundAnswer:
    """A council's own answer to a round's prices, by its current delegate to the federation:
    a consumer council's ``{"demands": {good: units}}``, a workplace council's ``{"supplies":
    {...}, "demands": {...}}`` (goods as the round's price list names them). It replaces the
    council's earlier answer to this round; the round's close counts it."""
    from councilplan.planning.rounds.procedure import RoundsError

    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.plan_round, round_id, "round", "round_id", lock="share")
        period = tx.period(row["period_id"])
        if row["status"] != "open" or now >= row["closes_at"]:
            raise Conflict(
                "round_closed",
                f"round {row['number']} of period {period['id']} closed at "
                f"{utc_timestamp(row['closes_at'])}; answer the open round",
                "round_id",
            )
        council = existing(tx.council, council_id, "council", "council_id")
        _mandate(tx, period, council, actor_id)
        live = _live(tx, period)
        if not isinstance(answer, Mapping):
            raise Invalid("bad_answer", "answer: must be an object", "answer")
        kept = _answer_as_text(answer)
        try:
            live.read_answer(str(council_id), _answer_as_numbers(kept))
        except RoundsError as error:
            raise Invalid("bad_answer", f"answer: {error}", "answer") from None
        earlier = tx.round_answer(round_id, council_id)
        if earlier is None:
            answer_id = tx.add_round_answer(
                {
                    "round_id": round_id,
                    "council_id": council_id,
                    "answered_by": actor_id,
                    "answer": kept,
                    "answered_at": now,
                }
            )
        else:
            answer_id = earlier["id"]
            tx.update_round_answer(
                answer_id, {"answered_by": actor_id, "answer": kept, "answered_at": now}
            )
        record(
            tx,
            "rounds.answered",
            {
                "round_id": round_id,
                "council_id": council_id,
                "by": actor_id,
                "answer_sha256": hashlib.sha256(canonical_json(kept)).hexdigest(),
            },
            now,
        )
        answer_row = tx.round_answer(round_id, council_id)
        return from_row(RoundAnswer, answer_row)


def close_round(store: Store, *, round_id: int, now: datetime | None = None) -> PlanRound:
    """Close a round whose time is up (anyone may ask): the councils that answered count with
    their answers, the others with their calibrated responses; prices move. Unless the goods
    balance, the rounds reach their most, or the next round would end after proposing closes,
    the next round opens; otherwise the rounds' outcome is queued as the variant "rounds"."""
    now = now_utc(now)
    with store.transaction() as tx:
        row = existing(tx.plan_round, round_id, "round", "round_id", lock="update")
        if row["status"] != "open":
            raise Conflict("round_closed", f"round {round_id} is closed already", "round_id")
        if now < row["closes_at"]:
            raise Conflict(
                "round_still_open",
                f"round {round_id} closes at {utc_timestamp(row['closes_at'])}",
                "round_id",
            )
        period = tx.period(row["period_id"], lock="update")
        live = _live(tx, period)
        answers = {
            str(a["council_id"]): _answer_as_numbers(a["answer"])
            for a in tx.round_answers(round_id)
        }
        outcome = live.step(row["state"]["state"], answers)
        shown = {
            "number": row["number"],
            "answered": sorted(outcome.answered, key=int),
            "colour": outcome.colour,
            "worst_imbalance": float(outcome.worst_imbalance),
            "balanced": bool(outcome.balanced),
            "finished": bool(outcome.finished),
        }
        tx.update_plan_round(round_id, {"status": "closed", "closed_at": now, "outcome": shown})
        record(
            tx,
            "rounds.closed",
            {
                "round_id": round_id,
                "period_id": period["id"],
                "number": row["number"],
                "answered": shown["answered"],
                "worst_imbalance": f"{shown['worst_imbalance']:.6g}",
                "balanced": shown["balanced"],
            },
            now,
        )
        next_closes = now + timedelta(hours=period["rounds"]["round_hours"])
        if outcome.finished or next_closes > period["proposing_closes_at"]:
            _queue_variant(tx, period, "rounds", "rounds", {}, None, now)
        else:
            next_id = tx.add_plan_round(
                {
                    "period_id": period["id"],
                    "number": row["number"] + 1,
                    "opened_at": now,
                    "closes_at": next_closes,
                    "status": "open",
                    "state": {"state": outcome.state},
                }
            )
            record(
                tx,
                "rounds.opened",
                {
                    "period_id": period["id"],
                    "round_id": next_id,
                    "number": row["number"] + 1,
                    "closes_at": next_closes,
                },
                now,
            )
        return _round(tx, round_id)


def close_due_rounds(store: Store, *, now: datetime | None = None) -> list[int]:
    """Close every open round whose time is up (the next opens as :func:`close_round` says);
    returns their ids."""
    now = now_utc(now)
    with store.reading() as tx:
        due = [
            r["id"]
            for p in tx.periods()
            if p["status"] == "open" and p["rounds"] is not None
            for r in tx.plan_rounds(p["id"])
            if r["status"] == "open" and r["closes_at"] <= now
        ]
    closed = []
    for round_id in due:
        try:
            close_round(store, round_id=round_id, now=now)
            closed.append(round_id)
        except Conflict:
            pass  # closed meanwhile by someone else
    return closed


def get_round(store: Store, round_id: int) -> PlanRound:
    with store.reading() as tx:
        existing(tx.plan_round, round_id, "round", "round_id")
        return _round(tx, round_id)


def list_rounds(store: Store, period_id: int) -> list[PlanRound]:
    with store.reading() as tx:
        period = existing(tx.period, period_id, "period", "period_id")
        rows = tx.plan_rounds(period_id)
        if not rows:
            return []
        live = _live(tx, period, rows[0])
        return [_priced(live, row) for row in rows]


def current_round(store: Store, period_id: int) -> PlanRound | None:
    """The period's latest round (open, or the last one closed); None before the rounds."""
    with store.reading() as tx:
        period = existing(tx.period, period_id, "period", "period_id")
        rows = tx.plan_rounds(period_id)
        return _priced(_live(tx, period, rows[0]), rows[-1]) if rows else None


def _round(tx: Records, round_id: int) -> PlanRound:
    row = tx.plan_round(round_id)
    return _priced(_live(tx, tx.period(row["period_id"])), row)


def _priced(live, row: Mapping[str, Any]) -> PlanRound:
    return from_row(PlanRound, row, prices=live.prices(row["state"]["state"]))


def _rounds_record(tx: Records, period: Mapping[str, Any]) -> dict:
    rows = tx.plan_rounds(period["id"])
    if not rows or rows[0]["number"] != 1:
        raise Conflict("no_rounds", f"period {period['id']} has no rounds on record")
    answers = [
        {str(a["council_id"]): _answer_as_numbers(a["answer"]) for a in tx.round_answers(r["id"])}
        for r in rows
        if r["status"] == "closed"
    ]
    return {"setup": rows[0]["state"]["setup"], "answers": answers}


def _rounds_needs(economy, needs, rounds_record: Mapping[str, Any]):
    """What the rounds' last proposals make for final use (the consumption the least-labour
    plan of the rounds' variant must make), and the rounds' summary."""
    import numpy as np

    from councilplan.planning.rounds.calibration import compare_with_optimum
    from councilplan.planning.rounds.live import LiveRounds

    live = LiveRounds.from_setup(economy, needs, rounds_record["setup"])
    _, summary = live.result(rounds_record["answers"])
    comparison = compare_with_optimum(live.town, live.rerun(rounds_record["answers"]))
    consumption = np.clip(comparison.consumption, 0.0, None)
    return consumption, summary


def _answer_as_text(answer: Mapping[str, Any]) -> dict:
    """A round answer as kept: its numbers as decimal text (JSON numbers or decimal text in),
    refused with the field at fault."""
    out: dict[str, Any] = {}
    for side, goods in answer.items():
        field = f"answer.{side}"
        if side in ("supplies", "demands"):
            if not isinstance(goods, Mapping):
                raise Invalid("bad_answer", f"{field}: must be an object of goods", field)
            out[side] = {str(g): _number(v, f"{field}.{g}", minimum="0") for g, v in goods.items()}
        elif side == "effort":
            if goods is not None:
                out["effort"] = _number(goods, field, minimum="0")
        else:
            raise Invalid(
                "bad_answer", f"{field}: an answer has supplies, demands and effort only", field
            )
    return out


def _answer_as_numbers(answer: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for side, goods in answer.items():
        if isinstance(goods, Mapping):
            out[side] = {g: float(v) for g, v in goods.items()}
        else:
            out[side] = float(goods)
    return out


# ---------------------------------------------------------------------------------------------
# The federation decides; everyone reads what it means for them.


def open_adoption(
    store: Store,
    *,
    period_id: int,
    actor_id: int,
    closes_at: datetime,
    rule: str = "schulze",
    now: datetime | None = None,
) -> Ballot:
    """Put the period's computed variants to the federation's vote (purpose "adoption"; Schulze
    by default, weights from the councils' counted members), closing by the end of deciding.
    A current delegate opens it once proposing has closed and no variant is still queued or
    running. The winner, at the close, is the adopted plan."""
    now = now_utc(now)
    closes_at = now_utc(closes_at)
    if rule not in ("schulze", "approval"):
        raise Invalid("bad_rule", f"rule: {rule!r} is not schulze or approval", "rule")
    with store.transaction() as tx:
        period = _open_period(tx, period_id, "deciding", now, "the adoption ballot", "update")
        federation = tx.council(period["federation_id"])
        require_standing(tx, federation, actor_id, "open the adoption ballot")
        if period["adoption_ballot_id"] is not None:
            raise Conflict(
                "adoption_open",
                f"period {period_id} has its adoption ballot {period['adoption_ballot_id']}",
                "period_id",
            )
        variants = tx.variants(period_id)
        waiting = [v["name"] for v in variants if v["status"] in ("queued", "running")]
        if waiting:
            raise Conflict(
                "variants_computing",
                f"variants {', '.join(waiting)} are still being computed; the federation "
                "votes once every variant asked for is on the record",
                "period_id",
            )
        options = [v["name"] for v in variants if v["status"] == "done"]
        if len(options) < 2:
            raise Conflict(
                "too_few_variants",
                f"period {period_id} has {len(options)} computed variant(s); a choice needs two",
                "period_id",
            )
        if closes_at > period["deciding_closes_at"]:
            raise Invalid(
                "ballot_after_deciding",
                f"closes_at: {utc_timestamp(closes_at)} is after deciding closes "
                f"({utc_timestamp(period['deciding_closes_at'])})",
                "closes_at",
            )
        ballot = insert_ballot(
            tx,
            council=federation,
            purpose="adoption",
            title=f"Adopt a plan for {period['title']}",
            subject={
                "period_id": period_id,
                "variants": {
                    v["name"]: v["plan_digest"] for v in variants if v["status"] == "done"
                },
            },
            rule=rule,
            options=options,
            seats=1,
            quorum=Fraction(0),
            majority=Fraction(1, 2),
            secret=False,
            opened_by=actor_id,
            opens_at=now,
            closes_at=closes_at,
            now=now,
        )
        tx.update_period(period_id, {"adoption_ballot_id": ballot.id})
        return ballot


def adopt_plan(
    tx: Records, ballot: dict, tally: Mapping[str, Any], counted: Any, now: datetime
) -> None:
    """The adoption ballot, closed: its winner is the period's plan (its digest on the chain);
    no winner (no votes, a quorum not met), no plan."""
    period = tx.period(ballot["subject"]["period_id"])
    winners = list(tally.get("winners") or [])
    if period is None or period["status"] != "open" or counted is None or len(winners) != 1:
        record(
            tx,
            "plan.not_adopted",
            {"period_id": ballot["subject"]["period_id"], "ballot_id": ballot["id"]},
            now,
        )
        return
    (name,) = winners
    variant = next(v for v in tx.variants(period["id"]) if v["name"] == name)
    tx.update_period(
        period["id"],
        {
            "status": "adopted",
            "adopted_variant_id": variant["id"],
            "plan_digest": variant["plan_digest"],
            "adopted_at": now,
        },
    )
    record(
        tx,
        "plan.adopted",
        {
            "period_id": period["id"],
            "ballot_id": ballot["id"],
            "variant_id": variant["id"],
            "name": name,
            "inputs_digest": variant["inputs_digest"],
            "plan_digest": variant["plan_digest"],
        },
        now,
    )
    # The plan reaches the labour-time accounts: its levy, and what it issues to workplaces.
    from councilplan.councils.service.ledger import issue_plan

    issue_plan(tx, tx.period(period["id"]), _published(tx, variant), now)


def council_targets(store: Store, *, period_id: int, council_id: int) -> Targets:
    """What the adopted plan means for ``council_id``: a workplace's targets, a consumer
    council's needs against what it gets; with the plan's labour values. Public to every
    member (transparency)."""
    with store.reading() as tx:
        period = existing(tx.period, period_id, "period", "period_id")
        existing(tx.council, council_id, "council", "council_id")
        variant_id = period["adopted_variant_id"]
        if period["status"] != "adopted" or variant_id is None:
            raise Conflict(
                "not_adopted", f"period {period_id} has no adopted plan yet", "period_id"
            )
        variant = tx.variant(variant_id)
        result = _published(tx, variant)
    key = str(council_id)
    return Targets(
        period_id=period_id,
        council_id=council_id,
        variant=variant["name"],
        plan_digest=variant["plan_digest"],
        workplace=result["workplaces"].get(key),
        consumption=result["consumption"].get(key),
        norms=[n for n in result.get("norms", []) if n["workplace"] == key],
    )


def plan_values(store: Store, *, period_id: int) -> dict:
    """The adopted plan's labour values (product -> hours per unit) and its digest."""
    with store.reading() as tx:
        period = existing(tx.period, period_id, "period", "period_id")
        if period["status"] != "adopted":
            raise Conflict(
                "not_adopted", f"period {period_id} has no adopted plan yet", "period_id"
            )
        variant = tx.variant(period["adopted_variant_id"])
        result = _published(tx, variant)
    return {"plan_digest": variant["plan_digest"], "values": result["values"]}


def adopted_values(tx: Records, period: Mapping[str, Any]) -> Mapping[str, float]:
    """The labour values (product -> hours per unit) of the period's adopted plan."""
    return _published(tx, tx.variant(period["adopted_variant_id"]))["values"]


def variant_result(store: Store, variant_id: int) -> dict:
    """A computed variant's published plan (see planning/published.py)."""
    with store.reading() as tx:
        variant = existing(tx.variant, variant_id, "variant", "variant_id")
        if variant["status"] != "done":
            raise Conflict(
                "not_computed", f"variant {variant_id} is {variant['status']}", "variant_id"
            )
        return _published(tx, variant)


# ---------------------------------------------------------------------------------------------
# Re-running from the record.


@dataclass(frozen=True)
class Recomputed:
    variant_id: int
    name: str
    inputs_digest: str
    recorded_inputs_digest: str
    plan_digest: str
    recorded_plan_digest: str

    @property
    def matches(self) -> bool:
        return (
            self.inputs_digest == self.recorded_inputs_digest
            and self.plan_digest == self.recorded_plan_digest
        )


def recompute_period(
    store: Store, period_id: int, *, progress: Progress | None = None
) -> list[Recomputed]:
    """Compute every computed variant of the period again from the record and compare its
    digests with those recorded."""
    with store.reading() as tx:
        existing(tx.period, period_id, "period", "period_id")
        done = [v for v in tx.variants(period_id) if v["status"] == "done"]
    out = []
    for v in done:
        computed = compute_variant(store, v["id"], progress=progress)
        out.append(
            Recomputed(
                v["id"],
                v["name"],
                computed.inputs_digest,
                v["inputs_digest"],
                computed.plan_digest,
                v["plan_digest"],
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Caches: bundles read once per process, published plans and live rounds by their keys. What
# they hold is immutable on the record (a bundle by its digest, a computed variant).


class _Cache:
    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_PUBLISHED = _Cache(8)
_LIVE = _Cache(8)


_ECONOMIES = _Cache(4)


def _economy(tx: Records, digest: str):
    """The economy of a kept bundle, read once per process: a bundle never changes, and its
    archive (tens of megabytes at 10^5 products) is fetched only on the first use."""
    from councilplan.economy.archive import economy_from_archive

    economy = _ECONOMIES.get(digest)
    if economy is None:
        economy = economy_from_archive(bytes(tx.bundle(digest, archive=True)["archive"]))
        _ECONOMIES.put(digest, economy)
    return economy


@dataclass(frozen=True)
class _Ids:
    """The ids a statement is checked against, and the product each technique makes."""

    products: frozenset[str]
    techniques: frozenset[str]
    labour: frozenset[str]
    makes: Mapping[str, str]


_CATALOGUES = _Cache(4)


def _catalogue(tx: Records, digest: str) -> _Ids:
    ids = _CATALOGUES.get(digest)
    if ids is None:
        economy = _economy(tx, digest)
        products = [str(p) for p in economy.product_ids]
        techniques = [str(t) for t in economy.technique_ids]
        ids = _Ids(
            products=frozenset(products),
            techniques=frozenset(techniques),
            labour=_ids(economy.labour_ids),
            makes={
                t: products[j] for t, j in zip(techniques, economy.technique_product, strict=True)
            },
        )
        _CATALOGUES.put(digest, ids)
    return ids


def _normed(economy, norms: Sequence[Mapping[str, Any]]):
    """``economy`` with the work norms the commission made final (hours per unit)."""
    from councilplan.planning.published import with_norms

    if not norms:
        return economy
    return with_norms(economy, {n["technique"]: float(Fraction(n["hours"])) for n in norms})


def _economy_from(archive: bytes):
    from councilplan.economy.archive import economy_from_archive

    return economy_from_archive(archive)


def _published(tx: Records, variant: Mapping[str, Any]) -> dict:
    key = (variant["id"], variant["plan_digest"])
    cached = _PUBLISHED.get(key)
    if cached is None:
        cached = json.loads(tx.variant(variant["id"], result=True)["result"])
        _PUBLISHED.put(key, cached)
    return cached


def _setup_key(setup: Mapping[str, Any]) -> str:
    import json

    return hashlib.sha256(json.dumps(setup, sort_keys=True).encode()).hexdigest()


def _live(tx: Records, period: Mapping[str, Any], first: Mapping[str, Any] | None = None):
    """The period's rounds, rebuilt from round 1's setup (cached); ``first``: round 1's row,
    if the caller has it."""
    from councilplan.planning.rounds.live import LiveRounds

    first = first or tx.plan_round_number(period["id"], 1)
    setup = first["state"]["setup"]
    key = (period["id"], _setup_key(setup))
    live = _LIVE.get(key)
    if live is None:
        inputs = period_inputs(tx, period, {"kind": "rounds", "constraints": {}})
        economy = _normed(_economy(tx, period["bundle_digest"]), inputs["norms"])
        live = LiveRounds.from_setup(economy, needs_frame(inputs["needs"]), setup)
        _LIVE.put(key, live)
    return live
