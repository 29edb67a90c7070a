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
    table.add_column()
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
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        fail(f"{out}: write to a .csv or a .parquet file")


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the economy bundle to."),
    products: int = typer.Option(..., "--products", min=1, help="Number of products."),
    inputs_per_product: int = typer.Option(20, "--inputs-per-product", min=0),
    techniques_per_product: int = typer.Option(1, "--techniques-per-product", min=1),
    labour_kinds: int = typer.Option(1, "--labour-kinds", min=1),
    resources: int = typer.Option(0, "--resources", min=0),
    seed: int = typer.Option(0, "--seed", help="The same seed always gives the same economy."),
) -> None:
    """Generate a reproducible synthetic economy of any size (for benchmarks and tests)."""
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.synthetic import generate_economy

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
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
        generated = time.perf_counter() - started
        progress.update(task, description=f"writing {out}")
        written_to = write_bundle(economy, out)
    _summary(
        f"Generated {economy.name}",
        [
            ("products", f"{economy.n_products:,}"),
            ("techniques", f"{economy.n_techniques:,}"),
            ("non-zeros", f"{economy.nnz:,}"),
            ("labour kinds", economy.n_labour_kinds),
            ("resources", economy.n_resources),
            ("written to", written_to or out),
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

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from councilplan.planning.values import ValuesNotConvergedError, labour_values

    if method not in {"auto", "direct", "iterative"}:
        fail(f"--method must be auto, direct or iterative, not {method!r}")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
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
        _write_frame(result.to_frame(), out)
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
