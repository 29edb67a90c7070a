"""What every command shares: the console, one-line errors, the progress display, summaries,
and outputs written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

# markup=False: every string printed, file names and ids included, prints literally ("[red]"
# in a product id is not a colour). Styled output is built from rich.text.Text.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a user-facing error (what was wrong and where) on one line, literally, and exit."""
    line = " ".join(str(message).splitlines())
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)
    raise typer.Exit(code)


def reason(error: BaseException) -> str:
    """An error's own message on one line: the OS's words for an OSError, a database driver's
    without SQLAlchemy's statement and links."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def progress_display():
    """The progress display of long work: a spinner, what is being done, time elapsed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True)


# --- Outputs: written whole or not at all ---------------------------------------------------


def check_output(
    out: Path, option: str, *, folder: bool, overwrite: bool, reads: Iterable[Path] = ()
) -> None:
    """Refuse, before any work is done, an output that cannot or must not be replaced.

    A folder that is not empty is refused unless ``overwrite``; so is an existing file where
    ``overwrite`` is False. ``option`` names the output in the message (e.g. "--out");
    ``reads`` are the command's inputs, which an overwritten folder must not hold.
    """
    shown = f"{option} {out}"
    if out.is_symlink() or out.exists():
        if folder and not out.is_dir():
            fail(f"{shown} is a file, not a folder; choose a folder")
        if not folder and out.is_dir():
            fail(f"{shown} is a folder; give a file name")
        if not overwrite:
            if not folder:
                fail(f"{shown} exists; give --overwrite to replace it, or choose another name")
            if any(out.iterdir()):
                fail(
                    f"{shown} is not empty; give --overwrite to replace it whole, "
                    "or choose another folder"
                )
        target = out.resolve()
        for path in [*reads, Path.cwd()]:
            held = Path(path).resolve()
            if held == target or target in held.parents:
                what = (
                    "the current folder"
                    if path == Path.cwd()
                    else f"{path}, which this command reads"
                )
                fail(f"{shown} holds {what}; choose another folder")
    ancestor = out.parent
    while not (ancestor.is_symlink() or ancestor.exists()) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        fail(f"cannot write {shown}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK):
        fail(f"cannot write {shown}: {ancestor} is read-only")


@contextlib.contextmanager
def replacing(
    out: Path, option: str, *, folder: bool, overwrite: bool, reads: Iterable[Path] = ()
) -> Iterator[Path]:
    """Write an output whole or not at all: every output folder and file of the commands.

    Checks ``out`` as :func:`check_output` does, then yields a path in a new temporary folder
    beside ``out``: that folder itself (``folder``) or a file in it with ``out``'s name. When
    the block ends, what was written takes ``out``'s place by rename; an old folder goes
    whole, never merged. When it fails, the old ``out`` stays as it was and the temporary
    folder is removed; an OSError is reported as one line (exit 2).
    """
    check_output(out, option, folder=folder, overwrite=overwrite, reads=reads)
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        )
    except OSError as error:
        fail(f"cannot write {option} {out}: {reason(error)}")
    try:
        yield stage if folder else stage / target.name
        if not folder:
            os.replace(stage / target.name, target)
            stage.rmdir()
        elif not (target.is_symlink() or target.exists()):
            stage.rename(target)
        else:
            old = stage.with_name(stage.name.removesuffix(".partial") + ".old")
            target.rename(old)
            try:
                stage.rename(target)
            except OSError:
                old.rename(target)
                raise
            shutil.rmtree(old, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(stage, ignore_errors=True)
        fail(f"cannot write {option} {out}: {reason(error)}")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def needs_folder(out: Path) -> Path:
    """Needs files go in the bundle folder's needs/, or beside a zipped bundle."""
    return out.with_name(out.stem + "-needs") if out.suffix.lower() == ".zip" else out / "needs"


def _bundle_outputs(out: Path) -> list[tuple[Path, str, bool]]:
    """What writing a bundle to ``out`` replaces: (path, option, is a folder). A bundle folder
    holds its needs/; a zipped bundle has its needs folder beside it (see needs_folder)."""
    if out.suffix.lower() == ".zip":
        return [(out, "--out", False), (needs_folder(out), "--out's needs folder", True)]
    return [(out, "--out", True)]


def check_bundle_output(out: Path, overwrite: bool, reads: Iterable[Path] = ()) -> None:
    for path, option, folder in _bundle_outputs(out):
        check_output(path, option, folder=folder, overwrite=overwrite, reads=reads)


@contextlib.contextmanager
def writing_bundle(
    out: Path, overwrite: bool, reads: Iterable[Path] = ()
) -> Iterator[tuple[Path, Path]]:
    """Paths to write a bundle and its needs folder to, replacing ``out`` (and a zip's needs
    folder) whole when the block ends: see :func:`replacing`."""
    with contextlib.ExitStack() as stack:
        paths = [
            stack.enter_context(
                replacing(path, option, folder=folder, overwrite=overwrite, reads=reads)
            )
            for path, option, folder in _bundle_outputs(out)
        ]
        yield paths[0], paths[1] if len(paths) > 1 else paths[0] / "needs"


OVERWRITE_HELP = "Replace an --out folder that is not empty, whole (its old files go)."


def peak_memory_gib() -> float:
    """Peak resident memory of this process so far, in GiB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def summary(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # a long path is folded, not cut short
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)


def read_economy(path: Path):
    from councilplan.economy.bundle import read_bundle
    from councilplan.economy.errors import EconomyError

    try:
        return read_bundle(path)
    except (EconomyError, FileNotFoundError, NotADirectoryError) as error:
        fail(str(error))


def write_frame(frame, out: Path) -> None:
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise ValueError(f"{out}: write to a .csv or a .parquet file")


def check_seed(seed: int) -> None:
    if seed < 0:
        fail(f"--seed must be a whole number >= 0, not {seed}")


def rule(title: str, text: str):
    """A section's rule: its title in bold, then what it shows."""
    from rich.rule import Rule

    return Rule(Text.assemble((title, "bold"), f": {text}"))
