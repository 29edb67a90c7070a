"""`councilplan ledger`: labour-time accounts (docs/ledger.md) from the command line.

Each act is the same as its API twin and is done, as `councilplan period` does its acts, by
the member whose API token is given (``--token`` or ``$COUNCILPLAN_TOKEN``): a workplace
council's sheet of hours, a member's draw, a draw undone. Reading (the levy, an account by its
key) needs no token; one's own account does, since the token says whose it is. Refusals print
the service's reason and field on one line: exit 1 when the act is refused, 2 when what was
given cannot be used (nothing is recorded either way).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import typer

from councilplan.cli.common import console, fail, reason, summary
from councilplan.cli.db import DB_URL_HELP
from councilplan.cli.period import TOKEN_HELP, acting_account, opened_store, refusals, when

ledger_app = typer.Typer(
    help="Labour-time accounts: the levy and its derivation, a workplace's sheet of hours, "
    "balances, draws.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

#: The columns of a sheet of hours: member (username or account id), hours, and a note.
SHEET_COLUMNS = ("member", "hours", "note")
#: The fields of one entry of hours, as the service names them in a refusal.
ENTRY_FIELDS = ("member_id", "hours", "note", "actor_id", "entry")
#: Reading accounts without a token: no account has this id, so every person is shown by
#: her account's number, as to any other member.
NOBODY = 0


def _database_url_option():
    return typer.Option(None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP)


def _data_dir_option():
    return typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite")


def _token_option(text: str = TOKEN_HELP):
    return typer.Option(None, "--token", envvar="COUNCILPLAN_TOKEN", help=text)


# --- ledger levy ------------------------------------------------------------------------------


@ledger_app.command("levy")
def ledger_levy(
    period_id: int = typer.Argument(
        None, metavar="[PERIOD]", help="The period whose adopted plan's levy to show."
    ),
    council: int = typer.Option(
        None, "--council", help="Instead: the levy in force for this council (any kind)."
    ),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """The levy of an adopted plan: its rate, exactly and as a percentage, and the lines of its
    derivation (public goods' hours and the reserve over the plan's labour)."""
    from councilplan.councils import service

    if (period_id is None) == (council is None):
        fail("give a PERIOD, or --council ID for the levy in force for a council (not both)")
    with opened_store(database_url, data_dir) as store, refusals():
        if period_id is not None:
            levy = service.get_levy(store, period_id=period_id)
        else:
            levy = service.current_levy(store, council_id=council)
    summary(
        f"The levy of period {levy.period_id}'s plan",
        [
            ("levy", f"{levy.percent} of every hour recorded, to the common fund"),
            ("public goods", f"{_hours(levy.public_hours)} h"),
            ("reserves", f"{_hours(levy.reserve_hours)} h"),
            ("plan's labour", f"{_hours(levy.total_hours)} h"),
            ("federation", levy.federation_id),
            ("computed", when(levy.computed_at)),
        ],
    )
    console.print("Derivation:", highlight=False)
    for line in levy.lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


# --- ledger hours -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """A row of a sheet of hours: where it is (``row``, as a spreadsheet numbers it, the
    header being row 1) and what it says."""

    row: int
    member: str
    hours: str
    note: str


def read_sheet(path: Path) -> list[SheetRow]:
    """The rows of a CSV sheet of hours (columns member, hours and optionally note), or exit 2
    naming the file, and the row, of what cannot be read."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                fail(f"--file {path}: empty; give a header row member,hours[,note] and rows")
            columns = [c.strip().lower() for c in header]
            unknown = [c for c in columns if c not in SHEET_COLUMNS]
            if (
                unknown
                or len(set(columns)) != len(columns)
                or not {"member", "hours"} <= set(columns)
            ):
                fail(
                    f"--file {path}, row 1: the columns are {', '.join(header) or 'none'}; "
                    "a sheet has the columns member, hours and optionally note"
                )
            rows = []
            for number, cells in enumerate(reader, start=2):
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line
                if len(cells) > len(columns):
                    fail(
                        f"--file {path}, row {number}: {len(cells)} cells, for "
                        f"{len(columns)} columns"
                    )
                given = dict(zip(columns, (c.strip() for c in cells), strict=False))
                for column in ("member", "hours"):
                    if not given.get(column):
                        fail(f"--file {path}, row {number}: no {column}")
                rows.append(
                    SheetRow(number, given["member"], given["hours"], given.get("note", ""))
                )
    except OSError as error:
        fail(f"--file {path}: {reason(error)}")
    except UnicodeDecodeError:
        fail(f"--file {path}: not UTF-8 text")
    except csv.Error as error:
        fail(f"--file {path}: not CSV: {error}")
    if not rows:
        fail(f"--file {path}: no rows of hours under its header")
    return rows


def _member_ids(store, workplace: int, rows: list[SheetRow], path: Path) -> list[int]:
    """Each row's member as an account id: given as one, or the username of a current member
    of the workplace (compared as account names are: case and width do not matter)."""
    from councilplan.councils import service
    from councilplan.councils.names import name_key

    by_name: dict[str, int] | None = None
    ids = []
    for row in rows:
        if row.member.isdigit():
            ids.append(int(row.member))
            continue
        if by_name is None:
            members = service.members(store, workplace)
            by_name = {
                name_key(service.my_account(store, m.account_id).username): m.account_id
                for m in members
            }
        account = by_name.get(name_key(row.member))
        if account is None:
            fail(
                f"--file {path}, row {row.row}: member {row.member!r} is no current member of "
                f"council {workplace}; give a member's username or account id. Nothing was "
                "recorded"
            )
        ids.append(account)
    return ids


@ledger_app.command("hours")
def ledger_hours(
    workplace: int = typer.Option(..., "--workplace", help="The workplace council's id."),
    sheet: Path = typer.Option(
        ...,
        "--file",
        help="The sheet: a CSV file with the columns member (username or account id), hours "
        "(at most 4 decimals) and optionally note.",
    ),
    token: str = _token_option(
        "The API token of the member who records the hours (never her own): the council's "
        "rule hours_recorded_by says who may."
    ),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Record a workplace council's sheet of hours worked, in one act: every row or, at the
    first row refused (named by the file and its row), none. Each member is credited her hours
    less the levy of the plan in force, which goes to the common fund."""
    from rich.table import Table

    from councilplan.councils import service
    from councilplan.ledger import show

    rows = read_sheet(sheet)
    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        with refusals():
            ids = _member_ids(store, workplace, rows, sheet)
            entries = [
                {"member_id": i, "hours": r.hours, "note": r.note}
                for i, r in zip(ids, rows, strict=True)
            ]
            try:
                acts = service.record_hours_batch(
                    store, workplace_id=workplace, entries=entries, actor_id=actor
                )
            except service.Refused as refusal:
                _refused_row(refusal, rows, sheet)
                raise
            name = service.get_council(store, workplace).name
    table = Table(title=f"Hours recorded for {name} ({workplace})", title_justify="left")
    for column in ("row", "member", "hours", "credited", "levy", "note"):
        table.add_column(column, justify="left" if column in ("member", "note") else "right")
    totals = {"hours": Decimal(0), "credited": Decimal(0), "levy": Decimal(0)}
    for row, act in zip(rows, acts, strict=True):
        ref = act.transfers[0].ref
        shown = {key: Decimal(ref[key]) for key in totals}
        table.add_row(str(row.row), row.member, *(show(shown[k]) for k in totals), row.note)
        for key in totals:
            totals[key] += shown[key]
    console.print(table)
    console.print(
        f"{len(acts)} entries: {show(totals['hours'])} h worked, {show(totals['credited'])} h "
        f"credited to members, {show(totals['levy'])} h to the common fund "
        f"(levy {acts[0].transfers[0].ref['levy_rate']})",
        highlight=False,
    )


def _refused_row(refusal, rows: list[SheetRow], path: Path) -> None:
    """A refusal of one row of the sheet as one line naming the file and the row (exit 1, or 2
    for what the row gives); a refusal of the act as a whole is left to ``refusals``."""
    from councilplan.councils import service

    field, message = refusal.field or "", refusal.message
    found = re.fullmatch(r"entries\[(\d+)\]\.?(.*)", field)
    if found:
        row = rows[int(found[1])]
        field = found[2]
        message = message.removeprefix(f"entries[{found[1]}]: ")
    elif len(rows) == 1 and field in ENTRY_FIELDS:
        row = rows[0]
    else:
        return
    code = 2 if isinstance(refusal, service.Invalid) else 1
    fail(
        f"--file {path}, row {row.row} (member {row.member}): refused ({refusal.reason}, "
        f"{field}): {message}. Nothing was recorded",
        code=code,
    )


# --- ledger balance ---------------------------------------------------------------------------


@ledger_app.command("balance")
def ledger_balance(
    key: str = typer.Argument(
        None,
        metavar="[KEY]",
        help="An account's key: labour_fund:4, common_fund:6, goods:6, member:#17 (a member's "
        "by its number). Left out: your own, by --token.",
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="The most transfers shown."),
    before: int = typer.Option(
        None, "--before", min=1, help="Transfers older than this transfer id (to page back)."
    ),
    token: str = _token_option(
        "Your API token: without KEY, your own account; with one, you are shown as 'you'."
    ),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """An account's balance and its latest transfers, newest first: your own, or any account
    by its key (every member may read every account; persons by their number)."""
    from councilplan.councils import service

    if key is None and not token:
        fail("give an account's KEY, or --token (COUNCILPLAN_TOKEN) for your own account")
    if key is None and before is not None:
        fail("--before pages back through an account given by KEY")
    with opened_store(database_url, data_dir) as store:
        viewer = acting_account(store, token) if token else NOBODY
        with refusals():
            if key is None:
                account = service.my_ledger(store, account_id=viewer, limit=limit)
            else:
                account = service.ledger_account(
                    store, key=key, viewer_id=viewer, limit=limit, before=before
                )
    print_account(account, limit)


def print_account(account, limit: int) -> None:
    """An account's balance, then its transfers as a statement: each with the other account,
    and its hours as they come in (+) or go out (-)."""
    from rich.table import Table

    yours = " (yours)" if account.shown == "you" else ""
    console.print(f"{account.key}{yours}, {account.kind}: {account.balance} h", highlight=False)
    if not account.transfers:
        console.print("No transfers yet.")
        return
    table = Table(box=None, padding=(0, 1))
    for column in ("id", "when (UTC)", "kind", "with", "hours", "what"):
        right = column in ("id", "hours")
        table.add_column(column, justify="right" if right else "left", no_wrap=column != "what")
    for t in account.transfers:
        out = t.debit == account.shown
        table.add_row(
            str(t.id),
            when(t.made_at).removesuffix(" UTC"),
            t.kind,
            t.credit if out else t.debit,
            f"{'-' if out else '+'}{t.amount}",
            _what(t),
        )
    console.print(table)
    if len(account.transfers) == limit:
        console.print(f"older: --before {account.transfers[-1].id}", highlight=False)


def _what(t) -> str:
    """A transfer's details in a few words."""
    ref = t.ref
    if t.kind == "reversal":
        return f"undoes {t.reverses}: {t.reason}"
    if t.kind == "draw":
        return f"{ref.get('quantity')} {ref.get('product')} at {float(ref['value']):,.4g} h"
    if t.kind in ("hours", "levy"):
        cites = f", dispute {ref['dispute']}" if "dispute" in ref else ""
        return f"{_hours(ref['hours'])} h worked{cites}"
    if t.kind == "allotment":
        return f"plan of period {ref.get('period', '?')}"
    return ""


def _hours(text: str) -> str:
    """Hours kept as decimal text, as a member reads them (43,805.25)."""
    from councilplan.ledger import show

    return show(Decimal(text))


# --- ledger draw, ledger undo -----------------------------------------------------------------


@ledger_app.command("draw")
def ledger_draw(
    product: str = typer.Argument(..., metavar="PRODUCT", help="The product's id (bread)."),
    quantity: str = typer.Argument(
        ..., metavar="QUANTITY", help="Units of the product, as the plan counts them (0.02)."
    ),
    token: str = _token_option("Your API token: you draw from your own account."),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Draw goods at their labour value in the plan in force, from your account. Never more
    than you hold; public goods are free at the point of use and are not drawn."""
    from councilplan.councils import service

    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        with refusals():
            act = service.draw_goods(store, member_id=actor, product=product, quantity=quantity)
            left = service.my_ledger(store, account_id=actor, limit=1).balance
    (t,) = act.transfers
    summary(
        f"Drawn: {t.ref['quantity']} {product} for {t.amount} h",
        [
            ("value", f"{t.ref['value']} h a unit, in the plan of period {t.ref['period']}"),
            ("balance", f"{left} h"),
            ("transfer", t.tid),
            ("undo", f"councilplan ledger undo {t.tid} --reason ... (within a day)"),
        ],
    )


@ledger_app.command("undo")
def ledger_undo(
    tid: str = typer.Argument(..., metavar="TRANSFER", help="The transfer's id (its tid)."),
    why: str = typer.Option(..., "--reason", help="Why the entry is undone (on the record)."),
    token: str = _token_option(
        "The API token of who undoes it: your own draw, or hours of a co-worker's you may record."
    ),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """Undo a mistaken entry by a reversal citing it: your own draw within a day, or hours (with
    their levy) recorded for a co-worker. A transfer is undone once; nothing is deleted."""
    from councilplan.councils import service

    with opened_store(database_url, data_dir) as store:
        actor = acting_account(store, token)
        with refusals():
            act = service.reverse_transfer(store, tid=tid, reason=why, actor_id=actor)
    for t in act.transfers:
        console.print(
            f"{t.tid}: {t.amount} h back from {t.debit} to {t.credit}, undoing {t.reverses}",
            highlight=False,
        )
