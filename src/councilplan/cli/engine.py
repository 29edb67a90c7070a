"""The engine's commands: generate, values, import (BEA, pymrio), rounds and plan."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from pathlib import Path

import typer
from rich.text import Text

from councilplan.cli.common import (
    OVERWRITE_HELP,
    check_bundle_output,
    check_output,
    check_seed,
    console,
    fail,
    needs_folder,
    peak_memory_gib,
    progress_display,
    read_economy,
    reason,
    replacing,
    summary,
    write_frame,
    writing_bundle,
)
from councilplan.cli.db import DB_URL_HELP

# --- Economy: generate, values (labour values) -------------------------------------------


def _generated_needs(economy, seed: int):
    """Needs for a generated economy, reproducible from ``seed``: one row per product (no
    council), a final demand of about 1 to 10 units of each; a table of ``product,amount``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng([seed, 1])  # a stream of its own: the economy stays as it was
    amount = np.round(rng.lognormal(mean=1.0, sigma=0.6, size=economy.n_products), 3)
    return pd.DataFrame({"product": list(economy.product_ids), "amount": amount})


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
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Generate a reproducible synthetic economy of any size (for benchmarks and tests).

    Writes the bundle and a needs table, needs/total.csv (product,amount: a final demand for
    every product), which `councilplan plan OUT --needs OUT/needs/total.csv` plans for.
    """
    import time

    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.synthetic import generate_economy

    check_seed(seed)
    check_bundle_output(out, overwrite)
    with progress_display() as progress:
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
        with writing_bundle(out, overwrite) as (bundle_path, needs_dir):
            write_bundle(economy, bundle_path)
            needs_dir.mkdir(parents=True, exist_ok=True)
            needs.to_csv(needs_dir / "total.csv", index=False)
    summary(
        f"Generated {economy.name}",
        [
            ("products", f"{economy.n_products:,}"),
            ("techniques", f"{economy.n_techniques:,}"),
            ("non-zeros", f"{economy.nnz:,}"),
            ("labour kinds", economy.n_labour_kinds),
            ("resources", economy.n_resources),
            ("needs", f"{len(needs):,} in {needs_folder(out) / 'total.csv'}"),
            ("written to", out),
            (
                "time",
                f"{generated:.2f} s to generate, "
                f"{time.perf_counter() - started - generated:.2f} s to write",
            ),
            ("peak memory", f"{peak_memory_gib():.2f} GiB"),
        ],
    )


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
    check_output(out, "--out", folder=False, overwrite=True)
    with progress_display() as progress:
        task = progress.add_task(f"reading {bundle}", total=None)
        started = time.perf_counter()
        economy = read_economy(bundle)
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
        with replacing(out, "--out", folder=False, overwrite=True) as path:
            write_frame(result.to_frame(), path)
        write_time = time.perf_counter() - written
    summary(
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
            ("peak memory", f"{peak_memory_gib():.2f} GiB"),
            ("written to", out),
        ],
    )


# --- Import: real input-output tables (BEA, pymrio) -> economy bundle + needs ------------

import_app = typer.Typer(
    help="Import real input-output tables as an economy bundle and needs files.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _import_summary(title: str, economy, rows: list[tuple[str, object]], out: Path) -> None:
    summary(
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
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
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
    check_bundle_output(out, overwrite, reads)
    try:
        if make is not None:
            tables = load_bea_use_make(use, make)
        else:
            tables = load_bea_supply_use(supply, use)
    except EconomyError as error:
        fail(str(error))
    with writing_bundle(out, overwrite, reads) as (bundle_path, needs_path):
        try:
            write_bundle(tables.economy, bundle_path)
        except EconomyError as error:
            fail(str(error))
        needs = write_bea_needs(tables, needs_path)
    needs_at = needs_folder(out)
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
            ("needs files", f"{len(needs)} in {needs_at} ({', '.join(needs)})"),
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
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """Import a pymrio system (EXIOBASE, WIOD, ... as saved by pymrio): products region/sector."""
    from councilplan.economy.bundle import write_bundle
    from councilplan.economy.errors import EconomyError
    from councilplan.economy.pymrio_io import economy_from_pymrio

    reads = [] if source == "test" else [Path(source)]
    check_bundle_output(out, overwrite, reads)
    try:
        import pymrio
    except ImportError:
        fail("pymrio is not installed: pip install 'councilplan[pymrio]' (or pip install pymrio)")
    try:
        io = pymrio.load_test() if source == "test" else pymrio.load_all(source)
    except Exception as error:  # pymrio raises many kinds on a bad folder
        fail(f"{source}: cannot load a pymrio system ({reason(error)})")
    try:
        economy = economy_from_pymrio(io, labour, extension)
    except EconomyError as error:
        fail(str(error))
    # Needs: the system's total final demand per product (all regions and categories).
    total = io.Y.sum(axis=1)
    total.index = ["/".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in total.index]
    total = total.reindex(list(economy.product_ids)).fillna(0.0)
    frame = total.rename("amount").rename_axis("product").reset_index()
    with writing_bundle(out, overwrite, reads) as (bundle_path, needs_path):
        try:
            write_bundle(economy, bundle_path)
        except EconomyError as error:
            fail(str(error))
        needs_path.mkdir(parents=True, exist_ok=True)
        frame.to_csv(needs_path / "total.csv", index=False)
    needs_at = needs_folder(out)
    negative = int((economy.inputs.data < 0).sum())
    _import_summary(
        f"Imported {economy.name}",
        economy,
        [
            (
                "negative coefficients",
                f"{negative} (by-products: {', '.join(sorted(economy.byproducts)) or '-'})",
            ),
            ("needs files", f"total.csv in {needs_at}"),
        ],
        out,
    )


# --- Participatory planning rounds (Hahnel and Szczepanczyk) -------------------------------


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
    check_seed(seed)
    if log is not None:
        check_output(log, "--log", folder=False, overwrite=True)
    with progress_display() as progress:
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
                path = outputs.enter_context(replacing(log, "--log", folder=False, overwrite=True))
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
        ("peak memory", f"{peak_memory_gib():.2f} GiB"),
    ]
    if not result.converged:
        shown = ", ".join(f"{name} {pct:.3g}%" for name, pct in result.unbalanced[:12])
        more = len(result.unbalanced) - 12
        rows.append(("not balanced", shown + (f" and {more} more" if more > 0 else "")))
    if log is not None:
        rows.append(("log", str(log)))
    summary(f"Participatory rounds on {experiment.name}", rows)
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


# --- Plan: meet the councils' needs with the least labour, within every limit ---------------

#: Above this many techniques the activity table is written as Parquet, not CSV.
_PLAN_PARQUET_ABOVE = 100_000
#: The plan command's default --time-limit: ten minutes per solver run, so that a method
#: too slow for the economy stops with a message rather than running for an hour.
DEFAULT_PLAN_SECONDS = 600.0


def plan_command(
    bundle: Path = typer.Argument(
        None, help="The economy bundle (folder or .zip); not with --from-record."
    ),
    needs: Path = typer.Option(
        None, "--needs", help="needs.csv: product,amount[,council][,priority]"
    ),
    limits: Path = typer.Option(
        None, "--limits", help="limits.toml: [labour] kind = hours, [resources], [capacity]"
    ),
    method: str = typer.Option("auto", help="auto, labour, decomposition, highs or pdlp."),
    out: Path = typer.Option(None, "--out", help="Folder for the plan's tables and report.md"),
    tol: float = typer.Option(1e-6, help="PDLP's relative optimality tolerance."),
    time_limit: float = typer.Option(
        DEFAULT_PLAN_SECONDS,
        "--time-limit",
        help="Seconds each solver run may take before the plan stops with a message; raise it "
        "for large economies solved by highs or pdlp.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    from_record: int = typer.Option(
        None,
        "--from-record",
        metavar="PERIOD",
        help="Instead of a bundle: re-run every computed variant of planning period PERIOD "
        "from the councils database's record and compare its inputs' and plan's digests "
        "with those recorded; exit 1 if any differs.",
    ),
    database_url: str = typer.Option(
        None,
        "--database-url",
        envvar="COUNCILPLAN_DATABASE_URL",
        help=f"With --from-record: the councils database's {DB_URL_HELP}",
    ),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="With --from-record: the folder of councilplan.sqlite"
    ),
) -> None:
    """The plan: activities, outputs, labour, shadow prices; shortfalls named when any.

    Give a bundle with --needs and --out; or --from-record PERIOD to re-compute a planning
    period's variants from the record and check their digests.
    """
    import time

    from councilplan.planning.needs import (
        PlanInputError,
        read_limits,
        read_needs,
        resolve_limits,
    )
    from councilplan.planning.plan import METHODS, PlanError, plan

    if from_record is not None:
        if bundle is not None:
            fail(f"give either a bundle ({bundle}) or --from-record {from_record}, not both")
        engine_only = {
            "--needs": needs,
            "--limits": limits,
            "--out": out,
            "--method": None if method == "auto" else method,
            "--overwrite": overwrite or None,
        }
        for option, value in engine_only.items():
            if value is not None:
                fail(
                    f"{option} is for planning a bundle; --from-record re-runs each variant "
                    "with the needs, limits and economy on the record"
                )
        plan_from_record(from_record, database_url, data_dir)
        return
    if bundle is None:
        fail("give the economy bundle (a folder or .zip) to plan, or --from-record PERIOD")
    if needs is None:
        fail("give --needs: a needs.csv of product,amount[,council][,priority]")
    if out is None:
        fail("give --out: the folder for the plan's tables and report.md")
    if method not in METHODS:
        fail(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    if not (math.isfinite(time_limit) and time_limit > 0):
        fail(f"--time-limit must be a number of seconds above 0, not {time_limit}")
    reads = [p for p in (bundle, needs, limits) if p is not None]
    check_output(out, "--out", folder=True, overwrite=overwrite, reads=reads)
    with progress_display() as progress:
        task = progress.add_task(f"reading {bundle}", total=None)
        economy = read_economy(bundle)
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
        written = write_plan(result, out, "--out", overwrite=overwrite, reads=reads)

    d = result.diagnostics
    summary(
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
    print_plan_findings(result, out)


def plan_from_record(period_id: int, database_url: str | None, data_dir: Path | None) -> None:
    """Re-compute every computed variant of the period from the record alone and print, per
    variant, the recorded and the recomputed inputs' and plan's digests; exit 1 if any
    differs."""
    from councilplan.cli.period import opened_store, refusals
    from councilplan.councils import service

    with opened_store(database_url, data_dir) as store, refusals():
        period = service.get_period(store, period_id)
        with progress_display() as progress:
            task = progress.add_task(f"re-computing period {period_id}", total=None)

            def step(stage: str, _done: float) -> None:
                progress.update(task, description=f"re-computing period {period_id}: {stage}")

            again = service.recompute_period(store, period_id, progress=step)
    console.print(
        f"Period {period.id} ({period.title}): {len(again)} computed variant(s) re-computed "
        "from the record",
        highlight=False,
    )
    for r in again:
        console.print(
            Text.assemble(
                (f"{r.name}", "bold"),
                f" (variant {r.variant_id}): ",
                ("the same", "green") if r.matches else ("DIFFERS", "bold red"),
            ),
            highlight=False,
        )
        for what, recorded, recomputed in (
            ("inputs", r.recorded_inputs_digest, r.inputs_digest),
            ("plan", r.recorded_plan_digest, r.plan_digest),
        ):
            mark = "" if recorded == recomputed else "  <- differs"
            console.print(f"  {what:<6}  recorded    {recorded}", soft_wrap=True, highlight=False)
            console.print(
                f"  {'':<6}  recomputed  {recomputed}{mark}", soft_wrap=True, highlight=False
            )
    differing = [r.name for r in again if not r.matches]
    if differing:
        console.print(
            Text.assemble(
                ("differs from the record: ", "bold red"),
                f"{', '.join(differing)}; `councilplan audit verify` checks the record itself",
            ),
            highlight=False,
        )
        raise typer.Exit(1)
    if again:
        console.print("every variant re-computed from the record has its recorded digests")


def print_plan_findings(result, out: Path | None = None) -> None:
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
                str(row.product),
                str(row.council),
                f"{row.need:,.6g}",
                f"{row.met:,.6g}",
                f"{row.short:,.6g}",
                str(row.binding),
            )
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


def write_plan(
    result, out: Path, option: str, *, overwrite: bool, reads: Iterable[Path] = ()
) -> list[str]:
    """Write the plan's tables and report.md to the folder ``out``, replacing it whole (see
    :func:`replacing`); the names of the files written."""
    names = []
    with replacing(out, option, folder=True, overwrite=overwrite, reads=reads) as folder:
        for name, frame in result.tables().items():
            large = name == "activity" and len(frame) > _PLAN_PARQUET_ABOVE
            path = folder / f"{name}.{'parquet' if large else 'csv'}"
            write_frame(frame, path)
            names.append(path.name)
        (folder / "report.md").write_text(result.report(), encoding="utf-8")
        names.append("report.md")
    return names
