"""`councilplan demo`: the shipped demo economy and its councils, end to end."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from councilplan.cli.common import console, fail, reason, rule, summary
from councilplan.cli.engine import print_plan_findings, write_plan


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
    console.print(rule("The demo town", economy.description or economy.name))
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

    console.print(rule("Labour values", "hours embodied per unit"))
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

    console.print(rule("The plan", "the councils' needs with the least labour"))
    needs_file = DEMO_BUNDLE / "needs" / "town.csv"
    needs = read_needs(needs_file, economy)
    optimum = plan(economy, needs)
    out = data_dir / "demo-plans" / "least-labour"
    written = write_plan(optimum, out, "--data-dir's plan folder", overwrite=True)
    summary(
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
    print_plan_findings(optimum, out)

    console.print(rule("Participatory rounds", "councils answer prices until it balances"))
    from councilplan.planning.rounds.calibration import rounds_against_optimum

    _, comparison = rounds_against_optimum(economy, needs, seed=0)
    for line in comparison.report():
        console.print(line, highlight=False)

    console.print(rule("The councils decide", "the federation votes on the plan variants"))
    co2 = next((i for i, r in enumerate(economy.resource_ids) if r == "co2"), None)
    greener = None
    if co2 is not None:
        cap = 0.68 * float(economy.resource_limits[co2])
        greener = plan(economy, needs, {"resources": {"co2": cap}})
        low_carbon = data_dir / "demo-plans" / "low-carbon"
        write_plan(greener, low_carbon, "--data-dir's plan folder", overwrite=True)
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
        fail(f"cannot write --data-dir {data_dir}: {reason(error)}")
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
            member_id=seated[0].account_id,
            title="Adopt the town's plan for the year",
            text="The federation adopts one of these plan variants:\n"
            + "\n".join(f"- {name}: {text}" for name, text in variants.items()),
            now=opened,
        )
        ballot = service.open_ballot(
            store,
            council_id=federation,
            opened_by=seated[0].account_id,
            title=motion.title,
            rule="schulze",
            options=options,
            motion_id=motion.id,
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
                voter_id=delegate.account_id,
                choice=ranking,
                now=opened + timedelta(hours=2 + i),
            )
        closed = service.close_ballot(store, ballot_id=ballot.id, now=opened + timedelta(days=3))
        seq, head = store.audit_head()
        verified = store.verify_record()  # the chain, and the tables against it
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
        f"{'intact, every table following from it' if verified.ok else 'BROKEN'} ({database})"
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
