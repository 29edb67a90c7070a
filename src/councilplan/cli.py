"""The ``councilplan`` command line: a thin layer over the library; each command does one job.

Long work shows a Rich progress display; each command ends with a one-screen summary.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

# rich_markup_mode=None: help texts print as written; "[labour]" in a help text is not markup.
app = typer.Typer(
    help="councilplan: plan an economy democratically, from below.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# markup=False: every string printed, file names and ids included, prints literally ("[red]"
# in a product id is not a colour). Styled output is built from rich.text.Text.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a user-facing error (what was wrong and where) on one line, literally, and exit."""
    line = " ".join(str(message).splitlines())
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)
    raise typer.Exit(code)


def _reason(error: BaseException) -> str:
    """An error's own message on one line: the OS's words for an OSError, a database driver's
    without SQLAlchemy's statement and links."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _progress():
    """The progress display of long work: a spinner, what is being done, time elapsed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=True)


# --- Outputs: written whole or not at all ---------------------------------------------------


def _check_output(
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
def _replacing(
    out: Path, option: str, *, folder: bool, overwrite: bool, reads: Iterable[Path] = ()
) -> Iterator[Path]:
    """Write an output whole or not at all: every output folder and file of the commands.

    Checks ``out`` as :func:`_check_output` does, then yields a path in a new temporary folder
    beside ``out``: that folder itself (``folder``) or a file in it with ``out``'s name. When
    the block ends, what was written takes ``out``'s place by rename; an old folder goes
    whole, never merged. When it fails, the old ``out`` stays as it was and the temporary
    folder is removed; an OSError is reported as one line (exit 2).
    """
    _check_output(out, option, folder=folder, overwrite=overwrite, reads=reads)
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        )
    except OSError as error:
        fail(f"cannot write {option} {out}: {_reason(error)}")
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
        fail(f"cannot write {option} {out}: {_reason(error)}")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _needs_dir(out: Path) -> Path:
    """Needs files go in the bundle folder's needs/, or beside a zipped bundle."""
    return out.with_name(out.stem + "-needs") if out.suffix.lower() == ".zip" else out / "needs"


def _bundle_outputs(out: Path) -> list[tuple[Path, str, bool]]:
    """What writing a bundle to ``out`` replaces: (path, option, is a folder). A bundle folder
    holds its needs/; a zipped bundle has its needs folder beside it (see _needs_dir)."""
    if out.suffix.lower() == ".zip":
        return [(out, "--out", False), (_needs_dir(out), "--out's needs folder", True)]
    return [(out, "--out", True)]


def _check_bundle_output(out: Path, overwrite: bool, reads: Iterable[Path] = ()) -> None:
    for path, option, folder in _bundle_outputs(out):
        _check_output(path, option, folder=folder, overwrite=overwrite, reads=reads)


@contextlib.contextmanager
def _writing_bundle(
    out: Path, overwrite: bool, reads: Iterable[Path] = ()
) -> Iterator[tuple[Path, Path]]:
    """Paths to write a bundle and its needs folder to, replacing ``out`` (and a zip's needs
    folder) whole when the block ends: see :func:`_replacing`."""
    with contextlib.ExitStack() as stack:
        paths = [
            stack.enter_context(
                _replacing(path, option, folder=folder, overwrite=overwrite, reads=reads)
            )
            for path, option, folder in _bundle_outputs(out)
        ]
        yield paths[0], paths[1] if len(paths) > 1 else paths[0] / "needs"


_OVERWRITE_HELP = "Replace an --out folder that is not empty, whole (its old files go)."


# Commands are registered below, one section per area. Keep each section self-contained.


# --- Economy: generate, values (labour values) -------------------------------------------


def _peak_memory_gib() -> float:
    """Peak resident memory of this process so far, in GiB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def _summary(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # a long path is folded, not cut short
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)


def _read_economy(path: Path):
    from councilplan.economy.bundle import read_bundle
    from councilplan.economy.errors import EconomyError

    try:
        return read_bundle(path)
    except (EconomyError, FileNotFoundError, NotADirectoryError) as error:
        fail(str(error))


def _write_frame(frame, out: Path) -> None:
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise ValueError(f"{out}: write to a .csv or a .parquet file")


def _check_seed(seed: int) -> None:
    if seed < 0:
        fail(f"--seed must be a whole number >= 0, not {seed}")


def _generated_needs(economy, seed: int):
    """Needs for a generated economy, reproducible from ``seed``: one row per product (no
    council), a final demand of about 1 to 10 units of each; a table of ``product,amount``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, 1])  # a stream of its own: the economy stays as it was
    amount = np.round(rng.lognormal(mean=1.0, sigma=0.6, size=economy.n_products), 3)
    return pd.DataFrame({"product": list(economy.product_ids), "amount": amount})


@app.command()
def generate(
    out: Path = typer.Option(
        ...,
        "--out",
        help="Folder for the economy bundle and its needs/total.csv (or a .zip, with the "
        "needs in NAME-needs/ beside it).",
    ),
    products: int = typer.Option(..., "--products", min=1, help="Number of products."),
    inputs_per_product: int = typer.Option(
        20,
        "--inputs-per-product",
        min=0,
        help="Input draws per technique (draws of the same product merge, so a few less).",
    ),
    techniques_per_product: int = typer.Option(
        1, "--techniques-per-product", min=1, help="Techniques that make each product."
    ),
    labour_kinds: int = typer.Option(
        1, "--labour-kinds", min=1, help="Kinds of labour; each technique uses a mix of them."
    ),
    resources: int = typer.Option(
        0,
        "--resources",
        min=0,
        help="Natural resources, each used by about 3 in 10 techniques (no limits set).",
    ),
    seed: int = typer.Option(
        0, "--seed", help="A whole number >= 0: the same seed always gives the same economy."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
) -> None:
    """Generate a reproducible synthetic economy of any size (for benchmarks and tests).

    Writes the bundle and a needs table, needs/total.csv (product,amount: a final demand for
    every product), which `councilplan plan OUT --needs OUT/needs/total.csv` plans for.
    """
    import time

    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.synthetic import generate_economy

    _check_seed(seed)
    _check_bundle_output(out, overwrite)
    with _progress() as progress:
        task = progress.add_task(f"generating {products:,} products", total=None)
        started = time.perf_counter()
        economy = generate_economy(
            products,
            inputs_per_product=inputs_per_product,
            techniques_per_product=techniques_per_product,
            labour_kinds=labour_kinds,
            resources=resources,
            seed=seed,
        )
        needs = _generated_needs(economy, seed)
        generated = time.perf_counter() - started
        progress.update(task, description=f"writing {out}")
        with _writing_bundle(out, overwrite) as (bundle_path, needs_dir):
            write_bundle(economy, bundle_path)
            needs_dir.mkdir(parents=True, exist_ok=True)
            needs.to_csv(needs_dir / "total.csv", index=False)
    _summary(
        f"Generated {economy.name}",
        [
            ("products", f"{economy.n_products:,}"),
            ("techniques", f"{economy.n_techniques:,}"),
            ("non-zeros", f"{economy.nnz:,}"),
            ("labour kinds", economy.n_labour_kinds),
            ("resources", economy.n_resources),
            ("needs", f"{len(needs):,} in {_needs_dir(out) / 'total.csv'}"),
            ("written to", out),
            (
                "time",
                f"{generated:.2f} s to generate, "
                f"{time.perf_counter() - started - generated:.2f} s to write",
            ),
            ("peak memory", f"{_peak_memory_gib():.2f} GiB"),
        ],
    )


@app.command()
def values(
    bundle: Path = typer.Argument(..., help="The economy bundle (folder or .zip)."),
    out: Path = typer.Option(..., "--out", help="values.csv or values.parquet: product,value"),
    method: str = typer.Option("auto", help="auto, direct or iterative."),
    tol: float = typer.Option(1e-12, help="Relative residual the iterative solve must reach."),
) -> None:
    """Labour values: hours of labour each product embodies (v = vA + l)."""
    import time

    from councilplan.planning.values import ValuesNotConvergedError, labour_values

    if method not in {"auto", "direct", "iterative"}:
        fail(f"--method must be auto, direct or iterative, not {method!r}")
    if out.suffix not in {".csv", ".parquet"}:
        fail(f"--out {out}: write to a .csv or a .parquet file")
    _check_output(out, "--out", folder=False, overwrite=True)
    with _progress() as progress:
        task = progress.add_task(f"reading {bundle}", total=None)
        started = time.perf_counter()
        economy = _read_economy(bundle)
        read_time = time.perf_counter() - started
        progress.update(task, description=f"solving for {economy.n_products:,} products")

        def step(iteration: int) -> None:
            progress.update(task, description=f"solving: iteration {iteration}")

        try:
            result = labour_values(economy, method=method, tol=tol, progress=step)
        except ValuesNotConvergedError as error:
            fail(str(error))
        progress.update(task, description=f"writing {out}")
        written = time.perf_counter()
        with _replacing(out, "--out", folder=False, overwrite=True) as path:
            _write_frame(result.to_frame(), path)
        write_time = time.perf_counter() - written
    _summary(
        f"Labour values of {economy.name}",
        [
            ("products", f"{economy.n_products:,}"),
            ("techniques", f"{economy.n_techniques:,}"),
            ("non-zeros", f"{economy.nnz:,}"),
            ("method", result.method),
            ("iterations", result.iterations),
            ("technique rounds", result.technique_rounds),
            ("residual", f"{result.residual:.2e} (relative, ||v - vA - l|| / ||l||)"),
            (
                "time",
                f"{result.seconds:.2f} s solve, {read_time:.2f} s read, {write_time:.2f} s write",
            ),
            ("peak memory", f"{_peak_memory_gib():.2f} GiB"),
            ("written to", out),
        ],
    )


# --- Import: real input-output tables (BEA, pymrio) -> economy bundle + needs ------------

import_app = typer.Typer(
    help="Import real input-output tables as an economy bundle and needs files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(import_app, name="import")


def _import_summary(title: str, economy, rows: list[tuple[str, object]], out: Path) -> None:
    _summary(
        title,
        [
            ("products", f"{economy.n_products:,}"),
            ("non-zeros", f"{economy.nnz:,}"),
            ("labour kinds", ", ".join(economy.labour_ids)),
            *rows,
            ("written to", out),
        ],
    )


@import_app.command("bea")
def import_bea(
    use: Path = typer.Option(..., "--use", help="BEA Use table (CSV)."),
    make: Path = typer.Option(None, "--make", help="BEA summary Make table (CSV)."),
    supply: Path = typer.Option(None, "--supply", help="BEA detail Supply table (CSV), for SUT."),
    out: Path = typer.Option(..., "--out", help="Folder for the bundle and needs/<column>.csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
) -> None:
    """Import BEA use and make (or supply) tables: a commodity-by-commodity economy.

    Labour is compensation of employees per dollar of output. Writes the economy bundle to
    OUT and one needs file per final-demand column, plus total.csv and domestic.csv, to
    OUT/needs/. See docs/loaders.md.
    """
    from councilplan.economy.bea import load_bea_supply_use, load_bea_use_make, write_bea_needs
    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.errors import EconomyError

    if (make is None) == (supply is None):
        fail("give either --make (summary tables) or --supply (detail supply-use tables)")
    reads = [p for p in (use, make, supply) if p is not None]
    _check_bundle_output(out, overwrite, reads)
    try:
        if make is not None:
            tables = load_bea_use_make(use, make)
        else:
            tables = load_bea_supply_use(supply, use)
    except EconomyError as error:
        fail(str(error))
    with _writing_bundle(out, overwrite, reads) as (bundle_path, needs_path):
        try:
            write_bundle(tables.economy, bundle_path)
        except EconomyError as error:
            fail(str(error))
        needs = write_bea_needs(tables, needs_path)
    needs_dir = _needs_dir(out)
    report = tables.report
    negatives = ", ".join(
        f"{e.row}->{e.column} {e.value:.3g}" for e in report.negative_coefficients
    )
    dropped = ", ".join(
        f"{d.code} (total use {d.total_use:,.0f})" for d in report.dropped_commodities
    )
    residuals = {r.identity for r in report.identity_residuals}
    _import_summary(
        f"Imported {tables.economy.name}",
        tables.economy,
        [
            ("negative coefficients", f"{len(report.negative_coefficients)}: {negatives or '-'}"),
            ("negative uses", f"{len(report.negative_uses)} cells of the use table"),
            ("zero-labour products", ", ".join(report.zero_labour_products) or "-"),
            ("dropped commodities", dropped or "-"),
            ("idle industries", ", ".join(report.idle_industries) or "-"),
            ("identity residuals", f"{len(report.identity_residuals)} in {len(residuals)} totals"),
            ("needs files", f"{len(needs)} in {needs_dir} ({', '.join(needs)})"),
        ],
        out,
    )
    for line in report.identity_findings():
        console.print(Text.assemble("  ", ("-", "dim"), " ", line), highlight=False)


@import_app.command("pymrio")
def import_pymrio(
    source: str = typer.Argument(..., help="A folder saved by pymrio, or 'test' (its test MRIO)."),
    labour: list[str] = typer.Option(..., "--labour", help="Stressor row that is labour."),
    extension: str = typer.Option(None, "--extension", help="Extension holding the rows."),
    out: Path = typer.Option(..., "--out", help="Folder for the bundle and needs/total.csv."),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
) -> None:
    """Import a pymrio system (EXIOBASE, WIOD, ... as saved by pymrio): products region/sector."""
    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.errors import EconomyError
    from councilplan.economy.pymrio_io import economy_from_pymrio

    reads = [] if source == "test" else [Path(source)]
    _check_bundle_output(out, overwrite, reads)
    try:
        import pymrio
    except ImportError:
        fail("pymrio is not installed: pip install 'councilplan[pymrio]' (or pip install pymrio)")
    try:
        io = pymrio.load_test() if source == "test" else pymrio.load_all(source)
    except Exception as error:  # pymrio raises many kinds on a bad folder
        fail(f"{source}: cannot load a pymrio system ({_reason(error)})")
    try:
        economy = economy_from_pymrio(io, labour, extension)
    except EconomyError as error:
        fail(str(error))
    # Needs: the system's total final demand per product (all regions and categories).
    total = io.Y.sum(axis=1)
    total.index = ["/".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in total.index]
    total = total.reindex(list(economy.product_ids)).fillna(0.0)
    frame = total.rename("amount").rename_axis("product").reset_index()
    with _writing_bundle(out, overwrite, reads) as (bundle_path, needs_path):
        try:
            write_bundle(economy, bundle_path)
        except EconomyError as error:
            fail(str(error))
        needs_path.mkdir(parents=True, exist_ok=True)
        frame.to_csv(needs_path / "total.csv", index=False)
    needs_dir = _needs_dir(out)
    negative = int((economy.inputs.data < 0).sum())
    _import_summary(
        f"Imported {economy.name}",
        economy,
        [
            (
                "negative coefficients",
                f"{negative} (by-products: {', '.join(sorted(economy.byproducts)) or '-'})",
            ),
            ("needs files", f"total.csv in {needs_dir}"),
        ],
        out,
    )


# --- Participatory planning rounds (Hahnel and Szczepanczyk) -------------------------------


@app.command()
def rounds(
    experiment_file: Path | None = typer.Argument(
        None, help="An experiment file of the authors (dep1exNN.clj); or use --generate."
    ),
    log: Path | None = typer.Option(
        None, "--log", help="Write the per-round log here, in the authors' CSV layout."
    ),
    threshold: float = typer.Option(
        3.0, "--threshold", help="Stop when every good balances within this percent."
    ),
    phases: int = typer.Option(
        1, "--phases", min=1, max=2, help="2 adds the authors' perturbed second phase."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the phase-2 perturbation/generator."),
    max_rounds: int = typer.Option(200, "--max-rounds", min=1, help="Rounds cap per phase."),
    generate: bool = typer.Option(
        False, "--generate", help="Generate an experiment instead of reading one."
    ),
    councils: int = typer.Option(
        3000, "--councils", min=1, help="With --generate: consumer councils, and worker councils."
    ),
    goods: int = typer.Option(10, "--goods", min=1, help="With --generate: goods per category."),
    worker_columns: bool = typer.Option(
        True,
        "--worker-columns/--no-worker-columns",
        help="Log each worker council's output and effort (2 columns per council).",
    ),
) -> None:
    """Participatory planning rounds: councils propose at indicative prices until all balance.

    Exits with status 1 when the cap is reached before every good balanced.
    """
    import math
    import time

    from councilplan.economy.errors import EconomyError
    from councilplan.economy.pequod import generate_experiment, load_experiment
    from councilplan.planning.rounds import RoundSettings, RoundsLogWriter, run_rounds

    if generate == (experiment_file is not None):
        fail("give either an experiment file (EXPERIMENT.clj) or --generate, not both or neither")
    # Everything is checked before anything is written: no log is left for a refused run.
    if not (math.isfinite(threshold) and threshold > 0):
        fail(f"--threshold must be a positive percentage, not {threshold:g}")
    _check_seed(seed)
    if log is not None:
        _check_output(log, "--log", folder=False, overwrite=True)
    with _progress() as progress:
        started = time.perf_counter()
        try:
            if generate:
                task = progress.add_task(
                    f"generating {councils:,} + {councils:,} councils, {goods} goods per category",
                    total=None,
                )
                experiment = generate_experiment(councils, goods_per_category=goods, seed=seed)
            else:
                task = progress.add_task(f"reading {experiment_file}", total=None)
                experiment = load_experiment(experiment_file)
        except EconomyError as error:
            fail(str(error))
        loaded = time.perf_counter() - started

        # The log is written to a file beside it and takes its place when the run ends.
        with contextlib.ExitStack() as outputs:
            writer = None
            if log is not None:
                path = outputs.enter_context(_replacing(log, "--log", folder=False, overwrite=True))
                writer = outputs.enter_context(
                    RoundsLogWriter(path, experiment, worker_columns=worker_columns)
                )

            progress.update(task, description="round 1")
            try:
                settings = RoundSettings(
                    threshold=threshold, max_rounds=max_rounds, phases=phases, seed=seed
                )
                result = run_rounds(
                    experiment,
                    settings,
                    observer=_RoundsProgress(progress, task, threshold, writer),
                )
            except EconomyError as error:
                fail(str(error))

    n_rounds = sum(result.phase_iterations)
    rows = [
        ("councils", f"{experiment.consumers.n:,} consumer, {experiment.workers.n:,} worker"),
        ("goods", f"{experiment.n_goods} ({experiment.goods_per_category} per category)"),
        ("rounds", " + ".join(str(n) for n in result.phase_iterations) + f" (cap {max_rounds})"),
        (
            "converged",
            f"yes, every good within {threshold:g}%"
            if result.converged
            else f"no: {len(result.unbalanced)} goods above {threshold:g}%",
        ),
        ("worst imbalance", f"{result.worst_imbalance:.3g}% ({result.rows[-1].colour})"),
        (
            "time",
            f"{result.round_seconds / n_rounds * 1e3:.2f} ms per round, "
            f"{result.seconds:.2f} s in all"
            + (" (with writing the log)" if log is not None else "")
            + f", {loaded:.2f} s {'generating' if generate else 'reading'}",
        ),
        ("peak memory", f"{_peak_memory_gib():.2f} GiB"),
    ]
    if not result.converged:
        shown = ", ".join(f"{name} {pct:.3g}%" for name, pct in result.unbalanced[:12])
        more = len(result.unbalanced) - 12
        rows.append(("not balanced", shown + (f" and {more} more" if more > 0 else "")))
    if log is not None:
        rows.append(("log", str(log)))
    _summary(f"Participatory rounds on {experiment.name}", rows)
    if not result.converged:
        raise typer.Exit(1)


class _RoundsProgress:
    """Shows each round on the progress display and hands it on to the log, if any."""

    def __init__(self, progress, task, threshold: float, writer) -> None:
        self.progress, self.task, self.threshold, self.writer = progress, task, threshold, writer
        self.wants_council_rows = writer is not None and writer.wants_council_rows

    def on_round(self, record) -> None:
        self.progress.update(
            self.task,
            description=f"phase {record.phase}, round {record.iteration}: worst "
            f"imbalance {record.worst_imbalance:.3g}% (target {self.threshold:g}%)",
        )
        if self.writer is not None:
            self.writer.on_round(record)

    def on_phase_end(self, phase: int, experiment, exponent_sums) -> None:
        if self.writer is not None:
            self.writer.on_phase_end(phase, experiment, exponent_sums)


# --- Councils service: serve, db upgrade, audit verify ------------------------------------

db_app = typer.Typer(
    help="The councils database: migrations.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(db_app, name="db")
audit_app = typer.Typer(
    help="The record: the hash-chained audit log.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(audit_app, name="audit")

_DB_URL_HELP = "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite file)"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases (PostgreSQL) and in-memory SQLite."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - not a URL we can read: left to the driver to report
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def _shown_url(url: str) -> str:
    """``url`` to print: its password, if any, hidden."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def _database_url(database_url: str | None, data_dir: Path | None, *, create: bool) -> str:
    """The database a command works on: ``--database-url``, or councilplan.sqlite in
    ``--data-dir`` (default: here).

    Only a command that creates the database (``create``: db upgrade) makes a missing SQLite
    file and its folder; the others refuse it, naming the file, and create nothing. A
    PostgreSQL URL is not a file: it is left to connect (and to fail) as it will.
    """
    from councilplan.store import DEFAULT_SQLITE, default_url

    if database_url:
        url, file, flag = (
            database_url,
            _sqlite_file(database_url),
            f" --database-url {database_url}",
        )
    else:
        url, file = default_url(data_dir), Path(data_dir or ".") / DEFAULT_SQLITE
        flag = "" if data_dir is None else f" --data-dir {data_dir}"
    if file is None:
        return url
    if create:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            fail(f"cannot create the database {file}: {_reason(error)}")
    elif not file.is_file():
        fail(
            f"no database at {file}: create one with `councilplan db upgrade{flag}` "
            "(or run `councilplan demo` for the demo town's)"
        )
    return url


@app.command()
def serve(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=_DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="Port to listen on"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Worker processes; on Linux each listens on a socket of its own (SO_REUSEPORT), "
        "so that connections are spread over them",
    ),
    keep_alive: int = typer.Option(
        5, "--keep-alive", min=1, help="Seconds an idle HTTP connection is kept open"
    ),
) -> None:
    """Run the JSON API (OpenAPI at /docs), migrating the database first."""
    import os

    import uvicorn

    from councilplan.store import open_store
    from councilplan.web import serving

    url = _database_url(database_url, data_dir, create=False)
    try:
        open_store(url).dispose()  # runs the migrations once, before the workers start
    except Exception as error:  # noqa: BLE001 - shown to the user, with the URL
        fail(f"cannot open the database {_shown_url(url)}: {_reason(error)}")
    os.environ["COUNCILPLAN_DATABASE_URL"] = url
    options = {
        "log_level": "warning",
        "access_log": False,
        "timeout_keep_alive": keep_alive,
        "server_header": False,
    }
    if workers == 1 or not serving.spreads_connections():
        console.print(
            f"councilplan API on http://{host}:{port}/docs  (database: {_shown_url(url)})"
        )
        uvicorn.run(serving.APP, host=host, port=port, workers=workers, **options)
        return
    try:
        sockets = serving.listening_sockets(host, port, workers)
    except OSError as error:
        fail(str(error.strerror or error))
    port = sockets[0].getsockname()[1]
    console.print(
        f"councilplan API on http://{host}:{port}/docs  "
        f"(database: {_shown_url(url)}; {workers} workers)"
    )
    raise typer.Exit(serving.run_workers(sockets, options))


@db_app.command("upgrade")
def db_upgrade(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=_DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
) -> None:
    """Create or migrate the councils database to the newest schema."""
    from councilplan.store import make_engine, migrate

    url = _database_url(database_url, data_dir, create=True)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        revision = migrate.current_revision(engine)
        console.print(f"database at revision {revision}: {_shown_url(url)}")
    except Exception as error:  # noqa: BLE001
        fail(f"cannot migrate {_shown_url(url)}: {_reason(error)}")
    finally:
        engine.dispose()


@audit_app.command("verify")
def audit_verify(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=_DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
    expect_head: str = typer.Option(
        None, "--expect-head", help="A head hash published earlier: catches a cut-off end"
    ),
) -> None:
    """Recompute the audit chain. Exit 0 when intact; 1 naming the first bad entry."""
    from councilplan.audit.chain import verify
    from councilplan.store import open_store

    url = _database_url(database_url, data_dir, create=False)
    try:
        store = open_store(url, upgrade=False)
        entries = store.audit_entries()
        _, head = store.audit_head()
        store.dispose()
    except Exception as error:  # noqa: BLE001
        fail(f"cannot read the audit log at {_shown_url(url)}: {_reason(error)}")
    result = verify(entries, expected_head=expect_head or head)
    if result.ok:
        console.print(f"audit log intact: {result.checked} entries, head {result.head_hash}")
        return
    err_console.print(
        Text.assemble(
            ("audit log broken", "bold red"),
            f" at entry {result.first_bad_seq} ({result.problem}): {result.message}",
        ),
        highlight=False,
    )
    raise typer.Exit(1)


# --- Plan: meet the councils' needs with the least labour, within every limit ---------------

#: Above this many techniques the activity table is written as Parquet, not CSV.
_PLAN_PARQUET_ABOVE = 100_000
#: The plan command's default --time-limit: ten minutes per solver run, so that a method
#: too slow for the economy stops with a message rather than running for an hour.
DEFAULT_PLAN_SECONDS = 600.0


@app.command("plan")
def plan_command(
    bundle: Path = typer.Argument(..., help="The economy bundle (folder or .zip)."),
    needs: Path = typer.Option(
        ..., "--needs", help="needs.csv: product,amount[,council][,priority]"
    ),
    limits: Path = typer.Option(
        None, "--limits", help="limits.toml: [labour] kind = hours, [resources], [capacity]"
    ),
    method: str = typer.Option("auto", help="auto, labour, decomposition, highs or pdlp."),
    out: Path = typer.Option(..., "--out", help="Folder for the plan's tables and report.md"),
    tol: float = typer.Option(1e-6, help="PDLP's relative optimality tolerance."),
    time_limit: float = typer.Option(
        DEFAULT_PLAN_SECONDS,
        "--time-limit",
        help="Seconds each solver run may take before the plan stops with a message; raise it "
        "for large economies solved by highs or pdlp.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
) -> None:
    """The plan: activities, outputs, labour, shadow prices; shortfalls named when any."""
    import time

    from councilplan.planning.needs import (
        PlanInputError,
        read_limits,
        read_needs,
        resolve_limits,
    )
    from councilplan.planning.plan import METHODS, PlanError, plan

    if method not in METHODS:
        fail(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if not (math.isfinite(time_limit) and time_limit > 0):
        fail(f"--time-limit must be a number of seconds above 0, not {time_limit}")
    reads = [p for p in (bundle, needs, limits) if p is not None]
    _check_output(out, "--out", folder=True, overwrite=overwrite, reads=reads)
    with _progress() as progress:
        task = progress.add_task(f"reading {bundle}", total=None)
        economy = _read_economy(bundle)
        try:
            progress.update(task, description=f"reading {needs}")
            stated = read_needs(needs, economy)
            limit = None
            if limits is not None:
                progress.update(task, description=f"reading {limits}")
                limit = resolve_limits(economy, read_limits(limits), source=str(limits))
            progress.update(
                task, description=f"planning {economy.n_products:,} products ({method})"
            )
            started = time.perf_counter()
            result = plan(
                economy,
                stated,
                None if limit is None else _plan_limits_of(economy, limit),
                method,
                tol=tol,
                time_limit=time_limit,
            )
            seconds = time.perf_counter() - started
        except PlanInputError as error:
            fail(str(error))
        except PlanError as error:
            # The library names its keyword; say the option's name and what this run had.
            said = f"a longer --time-limit (this run had {time_limit:g} s)"
            fail(str(error).replace("a longer time_limit", said), code=1)
        progress.update(task, description=f"writing {out}")
        written = _write_plan(result, out, "--out", overwrite=overwrite, reads=reads)

    d = result.diagnostics
    _summary(
        f"Plan for {economy.name}",
        [
            ("status", result.status),
            ("method", f"{result.method} ({d.solver})"),
            ("products / techniques", f"{economy.n_products:,} / {economy.n_techniques:,}"),
            ("total labour", f"{result.total_labour:,.6g} {result._labour_unit()}"),
            ("relative gap", f"{d.relative_gap:.2e}"),
            ("residuals", f"primal {d.primal_residual:.2e}, dual {d.dual_residual:.2e}"),
            ("time", f"{seconds:.2f} s ({d.iterations} iterations)"),
            ("written to", f"{out} ({', '.join(written)})"),
        ],
    )
    _print_plan_findings(result, out)


def _print_plan_findings(result, out: Path | None = None) -> None:
    """The binding limits and, when any, the needs that cannot be met, as tables."""
    from rich.table import Table

    table = result.limits_table()
    binding = table[table["binding"]]
    if len(binding):
        limits_table = Table(title="Binding limits", title_justify="left")
        for name in ("kind", "id", "used", "limit", "hours saved per extra unit"):
            limits_table.add_column(name, justify="right" if name[0] in "ulh" else "left")
        for row in binding.head(10).itertuples(index=False):
            limits_table.add_row(
                row.kind, str(row.id), f"{row.used:,.6g}", f"{row.limit:,.6g}", f"{row.dual:.4g}"
            )
        console.print(limits_table)
    if result.shortfall is not None and len(result.shortfall):
        short = Table(title="Needs that cannot be met", title_justify="left")
        for name in ("product", "council", "need", "met", "short", "binding limits"):
            short.add_column(name, justify="right" if name in {"need", "met", "short"} else "left")
        for row in result.shortfall.head(20).itertuples(index=False):
            short.add_row(
                str(row.product), str(row.council), f"{row.need:,.6g}", f"{row.met:,.6g}",
                f"{row.short:,.6g}", str(row.binding),
            )  # fmt: skip
        console.print(short)
        if len(result.shortfall) > 20:
            where = f" in {out / 'shortfall.csv'}" if out is not None else ""
            console.print(f"... and {len(result.shortfall) - 20} more{where}")


def _plan_limits_of(economy, resolved):
    """A resolved set of limits as the mapping ``plan`` takes."""
    return {
        "labour": dict(zip(economy.labour_ids, resolved.labour, strict=True)),
        "resources": dict(zip(economy.resource_ids, resolved.resources, strict=True)),
        "capacity": dict(zip(economy.technique_ids, resolved.capacity, strict=True)),
    }


def _write_plan(
    result, out: Path, option: str, *, overwrite: bool, reads: Iterable[Path] = ()
) -> list[str]:
    """Write the plan's tables and report.md to the folder ``out``, replacing it whole (see
    :func:`_replacing`); the names of the files written."""
    names = []
    with _replacing(out, option, folder=True, overwrite=overwrite, reads=reads) as folder:
        for name, frame in result.tables().items():
            large = name == "activity" and len(frame) > _PLAN_PARQUET_ABOVE
            path = folder / f"{name}.{'parquet' if large else 'csv'}"
            _write_frame(frame, path)
            names.append(path.name)
        (folder / "report.md").write_text(result.report(), encoding="utf-8")
        names.append("report.md")
    return names


# --- Demo: the shipped demo town, end to end ------------------------------------------------


@app.command()
def demo(
    data_dir: Path = typer.Option(
        Path("."),
        "--data-dir",
        help="Folder for the demo's SQLite database (councilplan.sqlite, which `councilplan "
        "serve` then serves) and the plans' tables (demo-plans/).",
    ),
) -> None:
    """Run councilplan on the shipped demo town: values, the plan, rounds, councils' vote."""
    import numpy as np
    from rich.table import Table

    from councilplan.economy import DEMO_BUNDLE, load_demo
    from councilplan.planning import labour_values, plan, read_needs

    database_url = _demo_database(data_dir)
    economy = load_demo()
    console.print(_rule("The demo town", economy.description or economy.name))
    limits = Table(title="Labour and nature the town can give in a year", title_justify="left")
    for name in ("kind", "id", "limit", "unit"):
        limits.add_column(name, justify="right" if name == "limit" else "left")
    for kind, ids, caps, units in (
        ("labour", economy.labour_ids, economy.labour_limits, economy.labour_units),
        ("resource", economy.resource_ids, economy.resource_limits, economy.resource_units),
    ):
        for i, cap, unit in zip(ids, caps, units, strict=True):
            limits.add_row(kind, str(i), f"{cap:,.6g}", str(unit))
    console.print(
        f"{economy.n_products} products, {economy.n_techniques} techniques, "
        f"{economy.nnz} input coefficients"
    )
    console.print(limits)

    console.print(_rule("Labour values", "hours embodied per unit"))
    values_result = labour_values(economy)
    table = Table(show_header=True, box=None, padding=(0, 2))
    for name in ("product", "unit", "hours per unit", "technique"):
        table.add_column(name, justify="right" if name == "hours per unit" else "left")
    for i in np.argsort(-values_result.values):
        table.add_row(
            str(economy.product_ids[i]),
            str(economy.product_units[i]),
            f"{values_result.values[i]:,.4g}",
            str(economy.technique_ids[values_result.choice[i]]),
        )
    console.print(table)
    console.print(
        f"method {values_result.method}, residual {values_result.residual:.1e}, "
        f"{values_result.seconds * 1000:.1f} ms"
    )

    console.print(_rule("The plan", "the councils' needs with the least labour"))
    needs_file = DEMO_BUNDLE / "needs" / "town.csv"
    needs = read_needs(needs_file, economy)
    optimum = plan(economy, needs)
    out = data_dir / "demo-plans" / "least-labour"
    written = _write_plan(optimum, out, "--data-dir's plan folder", overwrite=True)
    _summary(
        "",
        [
            (
                "needs",
                f"{len(needs.amount)} needs of {len(set(needs.council))} councils "
                f"({needs_file.name})",
            ),
            ("status", optimum.status),
            ("total labour", f"{optimum.total_labour:,.0f} hours"),
            ("method", f"{optimum.method} ({optimum.diagnostics.solver})"),
            ("written to", f"{out} ({', '.join(written)})"),
        ],
    )
    _print_plan_findings(optimum, out)

    console.print(_rule("Participatory rounds", "councils answer prices until it balances"))
    from councilplan.planning.rounds.calibration import rounds_against_optimum

    _, comparison = rounds_against_optimum(economy, needs, seed=0)
    for line in comparison.report():
        console.print(line, highlight=False)

    console.print(_rule("The councils decide", "the federation votes on the plan variants"))
    co2 = next((i for i, r in enumerate(economy.resource_ids) if r == "co2"), None)
    greener = None
    if co2 is not None:
        cap = 0.68 * float(economy.resource_limits[co2])
        greener = plan(economy, needs, {"resources": {"co2": cap}})
        low_carbon = data_dir / "demo-plans" / "low-carbon"
        _write_plan(greener, low_carbon, "--data-dir's plan folder", overwrite=True)
    variants = {
        "least-labour": f"the planner's optimum: {optimum.total_labour:,.0f} hours",
        "participatory": (
            f"the councils' own proposals after the rounds: "
            f"{comparison.participatory_total:,.0f} hours"
        ),
    }
    if greener is not None and greener.feasible:
        variants["low-carbon"] = (
            f"CO2 capped at {cap:,.0f} t: {greener.total_labour:,.0f} hours "
            f"({100 * (greener.total_labour / optimum.total_labour - 1):+.2f}%)"
        )
    _demo_councils_vote(database_url, data_dir, variants)


def _rule(title: str, text: str):
    """A section's rule: its title in bold, then what it shows."""
    from rich.rule import Rule

    return Rule(Text.assemble((title, "bold"), f": {text}"))


#: The demo town's federation (councils.service.create_demo_town): marks the demo's database.
DEMO_FEDERATION = "Town planning federation"


def _demo_database(data_dir: Path) -> str:
    """The URL of the demo's SQLite file in ``data_dir``, removed if an earlier demo made it;
    refused if something else is there, so the demo never overwrites a real database."""
    from councilplan.councils import service
    from councilplan.store import default_url, open_store

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot write --data-dir {data_dir}: {_reason(error)}")
    url = default_url(data_dir)
    database = Path(url.removeprefix("sqlite:///"))
    if database.exists():
        try:
            store = open_store(url)
            names = {c.name for c in service.list_councils(store)}
            store.dispose()
        except Exception:  # noqa: BLE001 - any unreadable file is reported the same way
            names = set()
        if DEMO_FEDERATION not in names:
            fail(
                f"{database} holds something other than the demo's database; run the demo with "
                "--data-dir pointing to another folder"
            )
        database.unlink()  # the demo's own database from an earlier run: start afresh
    return url


def _demo_councils_vote(url: str, data_dir: Path, variants: dict[str, str]) -> None:
    """Create the demo town's councils in the SQLite file at ``url`` and put the plan variants
    to the federation's vote; print the outcome and the audit chain's head."""
    from datetime import UTC, datetime, timedelta

    from councilplan.councils import service
    from councilplan.store import open_store

    database = url.removeprefix("sqlite:///")

    store = open_store(url)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        town = service.create_demo_town(store, now=now - timedelta(days=14))
        federation = town["councils"]["federation"]
        seated = service.delegates(store, federation_id=federation)
        opened = now - timedelta(days=7)
        options = list(variants)
        motion = service.table_motion(
            store,
            council_id=federation,
            member_id=seated[0]["account_id"],
            title="Adopt the town's plan for the year",
            text="The federation adopts one of these plan variants:\n"
            + "\n".join(f"- {name}: {text}" for name, text in variants.items()),
            now=opened,
        )
        ballot = service.open_ballot(
            store,
            council_id=federation,
            opened_by=seated[0]["account_id"],
            title=motion["title"],
            rule="schulze",
            options=options,
            motion_id=motion["id"],
            closes_at=opened + timedelta(days=3),
            now=opened,
        )
        # Each delegate ranks the variants as their council's mandate says (the demo's
        # councils differ: one puts labour first, one the climate, one its own proposals).
        for i, delegate in enumerate(seated):
            ranking = options[i % len(options) :] + options[: i % len(options)]
            service.cast_vote(
                store,
                ballot_id=ballot.id,
                voter_id=delegate["account_id"],
                choice=ranking,
                now=opened + timedelta(hours=2 + i),
            )
        closed = service.close_ballot(store, ballot_id=ballot.id, now=opened + timedelta(days=3))
        seq, head = store.audit_head()
        verified = store.verify_audit()
    finally:
        store.dispose()
    tally = closed.tally or {}
    for name, text in variants.items():
        console.print(f"  {name}: {text}", highlight=False)
    console.print(
        f"{len(seated)} delegates voted (weighted by their councils' members), Schulze method."
    )
    decided = tally.get("explanation", tally.get("outcome", "?"))
    console.print(Text.assemble(("Decided:", "bold"), f" {decided}"))
    console.print(
        f"The record: {seq} acts, chain head {head[:16]}..., "
        f"{'intact' if verified.ok else 'BROKEN'} ({database})"
    )
    console.print(
        Text.assemble(
            "Next: ",
            (f"councilplan serve --data-dir {data_dir}", "bold"),
            " and log in as ada (password: demo); ",
            (f"councilplan audit verify --data-dir {data_dir}", "bold"),
            " checks the record.",
        )
    )
