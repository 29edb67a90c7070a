"""`councilplan period`: the planning cycle (docs/planning-cycle.md) for operators' scripts,
and the job runner as a process of its own.

Each command is the same act as its API twin: it calls the same service function, so the
same checks decide and the record names the same member. A refusal prints its reason and
field on one line: exit 1 when the service refuses the act (who may, when), exit 2 when
what was given cannot be used (a file, an option, a number, a token).

Who acts. The command line has no login of its own. An act is done by the member whose API
token is given (``--token`` or ``$COUNCILPLAN_TOKEN``; ``POST /api/tokens`` with her name and
password gives one), looked up exactly as the API looks it up, so a script has the rights
the API would give that member and no more. A password option would leave the password in
the shell's history and the process list; an ``--as ACCOUNT`` option would let whoever can
open the database act as any member, and the record could not tell that from her own act.
Reading (``status``) needs no token: whoever can open the database can read it anyway, and
every member may read a period through the API.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from councilplan.cli.common import console, err_console, fail, reason, summary
from councilplan.cli.db import DB_URL_HELP, resolve_database_url, shown_url

period_app = typer.Typer(
    help="The planning cycle: open a period, read its status, compute plan variants, open "
    "the adoption ballot, run the job runner.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TOKEN_HELP = (
    "The acting member's API token (POST /api/tokens gives one): the act is hers, with the "
    "rights the API gives her."
)


def _database_url_option():
    return typer.Option(None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP)


def _data_dir_option():
    return typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite")


def _token_option():
    return typer.Option(None, "--token", envvar="COUNCILPLAN_TOKEN", help=TOKEN_HELP)


# --- What every command shares: the database, who acts, refusals, times -----------------------


@contextlib.contextmanager
def opened_store(database_url: str | None, data_dir: Path | None) -> Iterator[Any]:
    """The councils database a command works on, opened as `councilplan serve` opens it
    (migrated to the newest schema first), and closed when the block ends."""
    from councilplan.store import open_store

    url = resolve_database_url(database_url, data_dir, create=False)
    try:
        store = open_store(url)
    except Exception as error:  # noqa: BLE001 - shown to the user, with the URL
        fail(f"cannot open the database {shown_url(url)}: {reason(error)}")
    try:
        yield store
    finally:
        store.dispose()


def acting_account(store, token: str | None) -> int:
    """The account whose API token ``token`` is, looked up as the API looks it up; a missing,
    unknown or expired token is refused (exit 2) saying how to get one."""
    from councilplan.web.auth import account_for_token, token_expired

    get_one = "POST /api/tokens with your name and password gives one"
    if not token:
        fail(
            "this act needs the acting member's API token: give --token or "
            f"COUNCILPLAN_TOKEN ({get_one})"
        )
    account = account_for_token(store, token)
    if account is None:
        if token_expired(store, token):
            fail(f"--token: the token has expired; {get_one}")
        fail(f"--token: no member of this database holds that token (revoked?); {get_one}")
    return account


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """A refusal of the service as one line naming its reason and field: exit 2 for what was
    given (Invalid), 1 for the act itself (not allowed, not now, not found, in conflict)."""
    from councilplan.councils import service

    try:
        yield
    except service.Refused as refusal:
        field = f", {refusal.field}" if refusal.field else ""
        code = 2 if isinstance(refusal, service.Invalid) else 1
        fail(f"refused ({refusal.reason}{field}): {refusal.message}", code=code)
    except service.GuardRefused as error:
        fail(f"refused by the database's guard: {reason(error)}", code=1)


def when(moment: datetime | None) -> str:
    """A moment as people read it: ``2026-12-09 23:19 UTC``."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def read_settings(path: Path, option: str) -> dict:
    """The object in a .toml or .json file (limits, constraints), or exit 2 naming the file
    and what is wrong with it."""
    import tomllib

    if path.suffix.lower() not in (".toml", ".json"):
        fail(f"{option} {path}: give a .toml or a .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        fail(f"{option} {path}: {reason(error)}")
    except UnicodeDecodeError:
        fail(f"{option} {path}: not UTF-8 text")
    try:
        value = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as error:
        fail(f"{option} {path}: not TOML: {error}")
    except json.JSONDecodeError as error:
        fail(f"{option} {path}: not JSON: {error.msg} at line {error.lineno}, column {error.colno}")
    if not isinstance(value, dict):
        fail(f'{option} {path}: give an object ({{"labour": {{...}}, "resources": {{...}}}})')
    return value


def default_worker_name() -> str:
    """How a worker names itself on the record: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.contextmanager
def finishing_on_interrupt(stop: threading.Event, doing: str) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) sets ``stop``: the variant being computed is finished and kept,
    then the loop ends; a second Ctrl-C stops at once (the variant then stays "running" on
    the record). Only the main thread can take signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def asked(signum, _frame) -> None:  # noqa: ANN001
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        err_console.print(f"stopping ({doing}; Ctrl-C again to stop at once)")

    previous = {s: signal.signal(s, asked) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# --- The job runner ---------------------------------------------------------------------------


def variant_line(variant, seconds: float | None = None) -> Text:
    """One line on a computed (or failed) variant, as `period work` logs it."""
    took = "" if seconds is None else f" in {seconds:.1f} s"
    head = f"{when(datetime.now(UTC))}  period {variant.period_id}, variant {variant.id} "
    head += f"{variant.name!r}: "
    if variant.status == "failed":
        return Text.assemble(head, ("failed", "bold red"), f"{took}: {variant.error}")
    s = variant.summary or {}
    return Text.assemble(
        head,
        (variant.status, "bold"),
        f"{took}, {s.get('status', '?')}, {float(s.get('total_labour', 0)):,.0f} hours, "
        f"{s.get('shortfalls', 0)} shortfall(s), plan {str(variant.plan_digest)[:16]}",
    )


# --- period open ------------------------------------------------------------------------------


@period_app.command("open")
def period_open(
    federation: int = typer.Option(..., "--federation", help="The federation's council id."),
    bundle: Path = typer.Option(
        ...,
        "--bundle",
        help="The economy bundle (folder or .zip): packed deterministically and kept by its "
        "SHA-256, which the period names.",
    ),
    title: str = typer.Option(..., "--title", help="The period's title."),
    starts_on: str = typer.Option(..., "--starts-on", help="First day planned (YYYY-MM-DD)."),
    ends_on: str = typer.Option(..., "--ends-on", help="Last day planned (YYYY-MM-DD)."),
    ballot_days: int = typer.Option(
        ..., "--ballot-days", min=1, help="Days the federation votes on opening the period."
    ),
    stating_days: int = typer.Option(
        ..., "--stating-days", min=1, help="Days councils state needs and techniques, after that."
    ),
    proposing_days: int = typer.Option(
        ..., "--proposing-days", min=1, help="Days for variants and rounds, after stating."
    ),
    deciding_days: int = typer.Option(
        ..., "--deciding-days", min=1, help="Days for the adoption ballot, after proposing."
    ),
    limits: Path = typer.Option(
        None,
        "--limits",
        help="A .toml or .json file overriding the bundle's limits by id: [labour] kind = hours "
        '(or "offered", or "none"), [resources] id = units.',
    ),
    rounds_hours: int = typer.Option(
        None,
        "--rounds-hours",
        help="Hold participatory rounds, each open this many hours (default: no rounds).",
    ),
    max_rounds: int = typer.Option(
        None, "--max-rounds", help="Hold participatory rounds, at most this many (default 60)."
    ),
    public_goods: str = typer.Option(
        "",
        "--public-goods",
        help="Products free at the point of use, paid by the levy, by id: health_care,library.",
    ),
    reserve_hours: str = typer.Option(
        "0", "--reserve-hours", help="Hours set aside for common reserves (part of the levy)."
    ),
    token: str = _token_option(),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Propose a planning period to the federation's vote: keep the bundle, then open the
    federation's yes/no ballot on the period (the same two acts as the API's)."""
    from councilplan.councils import service
    from councilplan.economy.archive import economy_from_archive, pack_bundle
    from councilplan.economy.errors import EconomyError

    settings = read_settings(limits, "--limits") if limits is not None else None
    public = [p.strip() for p in public_goods.split(",") if p.strip()]
    rounds = None
    if rounds_hours is not None or max_rounds is not None:
        rounds = {"round_hours": rounds_hours if rounds_hours is not None else 24}
        if max_rounds is not None:
            rounds["max_rounds"] = max_rounds
    try:
        archive = pack_bundle(bundle)
        name = economy_from_archive(archive).name
    except EconomyError as error:
        fail(str(error))
    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        now = datetime.now(UTC)
        ballot_closes = now + timedelta(days=ballot_days)
        stating_closes = ballot_closes + timedelta(days=stating_days)
        proposing_closes = stating_closes + timedelta(days=proposing_days)
        deciding_closes = proposing_closes + timedelta(days=deciding_days)
        with refusals():
            kept = service.add_bundle(store, actor_id=actor, name=name, archive=archive, now=now)
            period = service.propose_period(
                store,
                federation_id=federation,
                actor_id=actor,
                title=title,
                bundle_digest=kept.digest,
                starts_on=starts_on,
                ends_on=ends_on,
                ballot_closes_at=ballot_closes,
                stating_closes_at=stating_closes,
                proposing_closes_at=proposing_closes,
                deciding_closes_at=deciding_closes,
                limits=settings,
                rounds=rounds,
                public_goods=public,
                reserve_hours=reserve_hours,
                now=now,
            )
    summary(
        f"Period {period.id} proposed: {period.title}",
        [
            ("period", period.id),
            ("ballot", f"{period.ballot_id}: the federation votes until {when(ballot_closes)}"),
            ("bundle", f"{kept.name}, {kept.size:,} bytes, sha256 {kept.digest}"),
            ("stating closes", when(period.stating_closes_at)),
            ("proposing closes", when(period.proposing_closes_at)),
            ("deciding closes", when(period.deciding_closes_at)),
            ("rounds", _rounds_text(period.rounds)),
            ("public goods", ", ".join(period.public_goods or ()) or "none"),
            ("reserve", f"{period.reserve_hours} hours"),
        ],
    )


def _rounds_text(rounds) -> str:
    if not rounds:
        return "none"
    return (
        f"{rounds['round_hours']} hours each, at most {rounds['max_rounds']}, balanced within "
        f"{rounds['threshold']}%"
    )


# --- period status ----------------------------------------------------------------------------


@period_app.command("status")
def period_status(
    period_id: int = typer.Argument(..., metavar="PERIOD", help="The period's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts instead."),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """A period: its stage and deadlines, the statements in force, the variants with their
    status and progress, the rounds, the adoption ballot."""
    from councilplan.councils import service

    with opened_store(database_url, data_dir) as store, refusals():
        period = service.get_period(store, period_id)
        federation = service.get_council(store, period.federation_id)
        statements = service.list_statements(store, period_id=period_id)
        names = {c.id: c.name for c in service.list_councils(store)}
        variants = service.list_variants(store, period_id)
        rounds = service.list_rounds(store, period_id)
        opening = service.get_ballot(store, period.ballot_id) if period.ballot_id else None
        adoption = (
            service.get_ballot(store, period.adoption_ballot_id)
            if period.adoption_ballot_id
            else None
        )
    if as_json:
        shown = {
            "period": service.as_dict(period),
            "opening_ballot": _ballot_json(opening),
            "statements": [
                {
                    "id": s.id,
                    "council_id": s.council_id,
                    "council": names.get(s.council_id),
                    "kind": s.kind,
                    "rows": sum(len(rows) for rows in s.content.values()),
                    "stated_by": s.stated_by,
                    "ballot_id": s.ballot_id,
                    "stated_at": service.as_dict(s.stated_at),
                }
                for s in statements
            ],
            "variants": [service.as_dict(v) for v in variants],
            "rounds": [
                {k: v for k, v in service.as_dict(r).items() if k != "prices"} for r in rounds
            ],
            "adoption_ballot": _ballot_json(adoption),
        }
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    _print_status(period, federation, opening, adoption, statements, names, variants, rounds)


def _ballot_json(ballot) -> dict | None:
    if ballot is None:
        return None
    tally = ballot.tally or {}
    return {
        "id": ballot.id,
        "status": ballot.status,
        "rule": ballot.rule,
        "options": list(ballot.options),
        "closes_at": ballot.closes_at.astimezone(UTC).isoformat(),
        "outcome": tally.get("outcome"),
        "winners": tally.get("winners"),
    }


def _ballot_text(ballot) -> str:
    if ballot is None:
        return "-"
    if ballot.status == "open":
        return f"ballot {ballot.id}, open until {when(ballot.closes_at)}"
    tally = ballot.tally or {}
    outcome = tally.get("winners") or tally.get("outcome") or "-"
    if isinstance(outcome, list):
        outcome = ", ".join(outcome)
    return f"ballot {ballot.id}, closed {when(ballot.closed_at)}: {outcome}"


def _print_status(period, federation, opening, adoption, statements, names, variants, rounds):
    from rich.table import Table

    adopted = next((v for v in variants if v.id == period.adopted_variant_id), None)
    summary(
        f"Period {period.id}: {period.title}",
        [
            ("stage", f"{period.stage} (status {period.status}) at {when(datetime.now(UTC))}"),
            ("federation", f"{federation.name} ({federation.id})"),
            ("span", f"{period.starts_on} to {period.ends_on}"),
            ("bundle", f"sha256 {period.bundle_digest[:16]}... (--json: whole)"),
            ("limits", json.dumps(dict(period.limits)) if period.limits else "the bundle's"),
            ("opening", _ballot_text(opening)),
            ("stating closes", when(period.stating_closes_at)),
            ("proposing closes", when(period.proposing_closes_at)),
            ("deciding closes", when(period.deciding_closes_at)),
            ("rounds", _rounds_text(period.rounds)),
            ("adoption", _ballot_text(adoption)),
            (
                "adopted",
                f"{adopted.name} (variant {adopted.id}), plan {period.plan_digest[:16]}..."
                if adopted is not None
                else "-",
            ),
        ],
    )
    table = Table(title="Statements in force", title_justify="left")
    for column in ("council", "kind", "rows", "stated (UTC)", "by"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for s in statements:
        by = f"ballot {s.ballot_id}" if s.ballot_id else f"account {s.stated_by}"
        rows = sum(len(r) for r in s.content.values())
        table.add_row(
            f"{names.get(s.council_id, '?')} ({s.council_id})",
            s.kind,
            str(rows),
            when(s.stated_at).removesuffix(" UTC"),
            by,
        )
    console.print(table if statements else "Statements in force: none yet")
    table = Table(title="Variants", title_justify="left")
    for column in ("id", "name", "kind", "status", "hours", "short", "plan, or progress"):
        table.add_column(column, justify="right" if column in ("id", "hours", "short") else "left")
    for v in variants:
        s = v.summary or {}
        if v.status == "done":
            last = f"{str(v.plan_digest)[:16]}..."
        elif v.status == "failed":
            last = str(v.error)
        elif v.progress:
            last = f"{v.progress['stage']} ({100 * float(v.progress['done']):.0f}%)"
        else:
            last = "waiting for a worker"
        table.add_row(
            str(v.id),
            v.name,
            v.kind,
            v.status,
            f"{float(s['total_labour']):,.0f}" if "total_labour" in s else "-",
            str(s.get("shortfalls", "-")),
            last,
        )
    console.print(table if variants else "Variants: none asked for yet")
    if rounds:
        last = rounds[-1]
        outcome = last.outcome or {}
        said = (
            f"round {last.number} open until {when(last.closes_at)}"
            if last.status == "open"
            else f"round {last.number} closed: worst imbalance "
            f"{float(outcome.get('worst_imbalance', 0)):.3g}%, "
            f"{'balanced' if outcome.get('balanced') else 'not balanced'}"
        )
        answered = sum(1 for r in rounds if r.outcome and r.outcome.get("answered"))
        console.print(
            f"Rounds: {len(rounds)} ({said}); councils answered themselves in {answered} of them"
        )


# --- period compute ---------------------------------------------------------------------------


@period_app.command("compute")
def period_compute(
    period_id: int = typer.Argument(..., metavar="PERIOD", help="The period's id."),
    name: str = typer.Option(
        ..., "--name", help="The variant's name: lower-case letters, digits, dashes."
    ),
    constraints: Path = typer.Option(
        None,
        "--constraints",
        help="A .toml or .json file of limits overriding the period's for this variant "
        "([resources] co2 = 17000).",
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Compute it here and now (a worker in this process, with a progress bar), "
        "then print its summary; without it, a worker (serve, period work) computes it.",
    ),
    worker: str = typer.Option(
        None, "--worker", help="With --wait: the worker's name on the record (default HOST:PID)."
    ),
    token: str = _token_option(),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Ask for a plan variant of the period (the same act as the API's); with --wait, compute
    it in this process and print what it plans."""
    from councilplan.councils import service

    settings = read_settings(constraints, "--constraints") if constraints is not None else None
    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        with refusals():
            variant = service.request_variant(
                store, period_id=period_id, actor_id=actor, name=name, constraints=settings
            )
        console.print(
            f"variant {variant.id} {variant.name!r} of period {period_id} queued", highlight=False
        )
        if not wait:
            console.print(
                "a worker computes it: `councilplan serve` runs one, `councilplan period work` "
                f"runs more; `councilplan period status {period_id}` follows it",
                highlight=False,
            )
            return
        variant = _wait_for(store, variant, worker or default_worker_name())
    print_variant(variant)
    if variant.status != "done":
        raise typer.Exit(1)


def _wait_for(store, variant, worker: str):
    """Run the job runner here until ``variant`` is done or failed (variants queued before it
    are computed first, oldest first); its progress on a bar."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from councilplan.councils import service

    stop = threading.Event()
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=err_console, transient=True) as progress,
        finishing_on_interrupt(stop, "a variant being computed is finished first"),
    ):
        task = progress.add_task(f"{variant.name}: waiting", total=1.0)

        def show(stage: str, done: float) -> None:
            progress.update(task, description=f"{stage}", completed=done)

        while True:
            current = service.get_variant(store, variant.id)
            if current.status in ("done", "failed") or stop.is_set():
                return current
            if current.status == "running":  # another worker has it: follow its progress
                if current.progress:
                    show(
                        f"{variant.name}: {current.progress['stage']} ({current.worker})",
                        float(current.progress["done"]),
                    )
                stop.wait(1.0)
                continue
            progress.update(task, description=f"{variant.name}: computing", completed=0.0)
            computed = service.run_next_job(store, worker=worker, on_progress=show)
            if computed is not None and computed.id != variant.id:
                console.print(
                    f"computed variant {computed.id} {computed.name!r} of period "
                    f"{computed.period_id} first (it was queued before)",
                    highlight=False,
                )


def print_variant(variant) -> None:
    """A variant's summary: status, labour, resources, the needs that cannot be met."""
    from rich.table import Table

    if variant.status != "done":
        state = variant.status if variant.status != "failed" else f"failed: {variant.error}"
        summary(f"Variant {variant.id} {variant.name!r}", [("status", state)])
        return
    s = variant.summary or {}
    rows = [
        ("status", f"{s.get('status')} ({s.get('method')})"),
        ("total labour", f"{float(s['total_labour']):,.0f} hours"),
        ("labour", ", ".join(f"{k} {float(v):,.0f}" for k, v in (s.get("labour") or {}).items())),
        (
            "resources",
            ", ".join(f"{k} {float(v):,.6g}" for k, v in (s.get("resources") or {}).items()) or "-",
        ),
        ("shortfalls", s.get("shortfalls", 0)),
        ("computed", f"by {variant.worker}, {when(variant.finished_at)}"),
    ]
    if variant.constraints:
        rows.insert(1, ("constraints", json.dumps(dict(variant.constraints))))
    summary(f"Variant {variant.id} {variant.name!r} of period {variant.period_id}", rows)
    # Digests whole on a line of their own, to compare and to copy.
    console.print(f"  inputs digest  {variant.inputs_digest}", soft_wrap=True, highlight=False)
    console.print(f"  plan digest    {variant.plan_digest}", soft_wrap=True, highlight=False)
    shortfall = s.get("shortfall") or []
    if shortfall:
        table = Table(title="Needs that cannot be met", title_justify="left")
        for column in ("product", "council", "need", "met", "short", "binding limits"):
            table.add_column(
                column, justify="right" if column in ("need", "met", "short") else "left"
            )
        for row in shortfall[:20]:
            table.add_row(
                str(row["product"]),
                str(row["council"]),
                f"{float(row['need']):,.6g}",
                f"{float(row['met']):,.6g}",
                f"{float(row['short']):,.6g}",
                str(row.get("binding", "")),
            )
        console.print(table)
        if int(s.get("shortfalls", 0)) > 20:
            console.print(f"... and {int(s['shortfalls']) - 20} more (GET the variant's result)")


# --- period adopt -----------------------------------------------------------------------------


@period_app.command("adopt")
def period_adopt(
    period_id: int = typer.Argument(..., metavar="PERIOD", help="The period's id."),
    closes_in_days: int = typer.Option(
        ..., "--closes-in-days", min=1, help="Days the federation's delegates have to vote."
    ),
    rule: str = typer.Option("schulze", "--rule", help="schulze (rank them) or approval."),
    token: str = _token_option(),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Open the federation's adoption ballot over the period's computed variants (the same act
    as the API's); its winner, at the close, is the period's plan. Delegates vote as in any
    ballot: POST /api/ballots/{id}/votes."""
    from councilplan.councils import service

    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        now = datetime.now(UTC)
        with refusals():
            ballot = service.open_adoption(
                store,
                period_id=period_id,
                actor_id=actor,
                closes_at=now + timedelta(days=closes_in_days),
                rule=rule,
                now=now,
            )
            variants = {v.name: v for v in service.list_variants(store, period_id)}
    how = (
        '{"choice": ["first", "second", ...]}: the variants ranked, most preferred first'
        if rule == "schulze"
        else '{"choice": [...]}: the variants approved'
    )
    summary(
        f"Adoption ballot {ballot.id} for period {period_id}",
        [
            ("ballot", ballot.id),
            ("rule", f"{ballot.rule}, weighted by the councils' counted members"),
            ("closes", when(ballot.closes_at)),
            *[
                (
                    f"option {name}",
                    f"{float(variants[name].summary['total_labour']):,.0f} hours, plan "
                    f"{str(variants[name].plan_digest)[:16]}",
                )
                for name in ballot.options
            ],
            ("to vote", f"POST /api/ballots/{ballot.id}/votes {how}"),
        ],
    )


# --- period work ------------------------------------------------------------------------------


@period_app.command("work")
def period_work(
    once: bool = typer.Option(
        False, "--once", help="Compute what is queued, then stop (exit 1 if any failed)."
    ),
    worker: str = typer.Option(
        None, "--worker", help="The worker's name on the record (default HOST:PID)."
    ),
    idle_seconds: float = typer.Option(
        2.0, "--idle-seconds", min=0.1, help="Seconds between looks at an empty queue."
    ),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """The job runner as a process of its own: compute queued plan variants, oldest first,
    logging each, and close the participatory rounds whose time is up; Ctrl-C stops it once
    the variant being computed is kept. Run as many as the machine holds: two workers never
    compute the same variant."""
    from councilplan.councils.service import run_jobs

    name = worker or default_worker_name()
    failed = 0

    def computed(variant, seconds: float) -> None:
        nonlocal failed
        failed += variant.status == "failed"
        console.print(variant_line(variant, seconds), highlight=False, soft_wrap=True)

    def trouble(error: BaseException) -> None:
        err_console.print(
            f"{when(datetime.now(UTC))}  the database failed: {reason(error)}; trying again",
            highlight=False,
        )

    stop = threading.Event()
    with opened_store(database_url, data_dir) as store:
        console.print(
            f"worker {name} on {store.engine.url.render_as_string(hide_password=True)}"
            + ("" if once else " (Ctrl-C stops it)"),
            highlight=False,
        )
        with finishing_on_interrupt(stop, "a variant being computed is finished first"):
            try:
                done = run_jobs(
                    store,
                    worker=name,
                    stop=stop,
                    once=once,
                    idle_seconds=idle_seconds,
                    on_computed=computed,
                    on_error=trouble,
                )
            except Exception as error:  # noqa: BLE001 - with --once: one line, exit 2
                fail(f"the database failed: {reason(error)}")
    console.print(f"worker {name} stopped: {done} variant(s) computed", highlight=False)
    if once and failed:
        raise typer.Exit(1)
