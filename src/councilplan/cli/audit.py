"""`councilplan audit`: the record, the hash-chained audit log."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from councilplan.cli.common import console, err_console, fail, reason
from councilplan.cli.db import DB_URL_HELP, resolve_database_url, shown_url

audit_app = typer.Typer(
    help="The record: the hash-chained audit log.", no_args_is_help=True, rich_markup_mode=None
)


@audit_app.command("verify")
def audit_verify(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
    expect_head: str = typer.Option(
        None, "--expect-head", help="A head hash published earlier: catches a cut-off end"
    ),
) -> None:
    """Check the record: recompute the audit chain, check every entry's signature, replay the
    record and compare every table it governs. Exit 0 when all hold; 1 naming the first bad
    entry or row."""
    from councilplan.store import open_store

    url = resolve_database_url(database_url, data_dir, create=False)
    try:
        store = open_store(url, upgrade=False)
        try:
            # chains correctly signed staged events first
            checked = store.verify_record(expected_head=expect_head)
        finally:
            store.dispose()
    except Exception as error:  # noqa: BLE001
        fail(f"cannot read the audit log at {shown_url(url)}: {reason(error)}")
    if checked.sealed:
        console.print(f"chained {checked.sealed} signed event(s) that were staged, not chained")
    result = checked.chain
    if not result.ok:
        err_console.print(
            Text.assemble(
                ("audit log broken", "bold red"),
                f" at entry {result.first_bad_seq} ({result.problem}): {result.message}",
            ),
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(f"audit log intact: {result.checked} entries, head {result.head_hash}")
    if not checked.state.ok:
        err_console.print(
            Text.assemble(("tables and record disagree", "bold red"), f": {checked.state.message}"),
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(f"tables follow from the record: {checked.state.message}")
