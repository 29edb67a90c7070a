"""The ``councilplan`` command line: a thin layer over the library; each command does one job.

Long work shows a Rich progress display; each command ends with a one-screen summary.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    help="councilplan: plan an economy democratically, from below.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a user-facing error (what was wrong and where) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


# Commands are registered below, one section per area. Keep each section self-contained.
