"""`councilplan sections`: the sections of a council (docs/equality.md) from the command line.

``check`` does what the server's loop does every few seconds, for a deployment that runs no
server or wants it from cron: closes the section ballots whose time is up and finds the
section motions whose council let the deadline pass, putting each breach on record.
``motions`` lists a council's section motions and what became of them. Neither needs a token:
both only read, or do what anyone may ask (as closing a due ballot is).
"""

from __future__ import annotations

from pathlib import Path

import typer

from councilplan.cli.common import console, summary
from councilplan.cli.db import DB_URL_HELP
from councilplan.cli.period import opened_store, refusals, when

sections_app = typer.Typer(
    help="Sections of councils: close due section ballots, find overdue motions, list them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _database_url_option():
    return typer.Option(None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP)


def _data_dir_option():
    return typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite")


@sections_app.command("check")
def check(database_url: str = _database_url_option(), data_dir: Path = _data_dir_option()) -> None:
    """Close the section ballots whose time is up; put on record every council in breach of a
    section motion's deadline (once per motion)."""
    from councilplan.councils.service import sections

    with opened_store(database_url, data_dir) as store, refusals():
        closed = sections.close_due_section_ballots(store)
        breached = sections.check_section_deadlines(store)
        found = [m for m in sections.section_motions_breached(store) if m.id in breached]
    for motion in found:
        console.print(
            f"council {motion.council_id} is in breach: motion {motion.motion_id} of section "
            f"{motion.section_id} ({motion.title}) was not voted on by {when(motion.deadline)}",
            highlight=False,
            soft_wrap=True,
        )
    summary(
        "Sections checked",
        [("section ballots closed", len(closed)), ("motions found overdue now", len(breached))],
    )


@sections_app.command("motions")
def motions(
    council_id: int = typer.Argument(..., metavar="COUNCIL", help="The council's id."),
    database_url: str = _database_url_option(),
    data_dir: Path = _data_dir_option(),
) -> None:
    """The motions the council's sections tabled: deadline, outcome, breach."""
    from councilplan.councils.service import sections

    with opened_store(database_url, data_dir) as store, refusals():
        found = sections.section_motions(store, council_id=council_id)
    for m in found:
        became = m.outcome or "waiting"
        timing = "" if m.in_time is None else (" in time" if m.in_time else " late")
        breach = f"; in breach since {when(m.breached_at)}" if m.breached_at else ""
        console.print(
            f"motion {m.motion_id} (section {m.section_id}): {m.title}: deadline "
            f"{when(m.deadline)}; {became}{timing}{breach}",
            highlight=False,
            soft_wrap=True,
        )
    summary("Section motions", [("council", council_id), ("motions", len(found))])
