"""`councilplan report equality`: who takes part and who is left behind (docs/equality.md).

For one planning period (``--period``), federation or council, writes into one folder, whole
or not at all: each table as CSV (participation and distribution by gender, self-described
group and workplace, suppressed cells marked), ``report.json`` (everything, with the Lorenz
curves and the sections' motions), and the charts as PNG (``--format svg`` for SVG).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from councilplan.cli.common import OVERWRITE_HELP, check_output, console, fail, replacing, summary
from councilplan.cli.db import DB_URL_HELP
from councilplan.cli.period import opened_store, refusals


def write_equality(report, out: Path, fmt: str = "png") -> list[str]:
    """Write ``report``'s tables, JSON and charts into the folder ``out``; the files' names."""
    from councilplan.audit import equality, equality_charts
    from councilplan.councils.service.equality import report_tables

    written = []
    for name, text in report_tables(report).items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(name)
    data = equality.report_json(report)
    (out / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    written.append("report.json")
    for name, body in equality_charts.report_charts(report, fmt).items():
        (out / name).write_bytes(body)
        written.append(name)
    return written


def summary_lines(report) -> list[str]:
    """A few lines for people: who took part by gender, the Gini coefficients, the sections'
    motions; what was suppressed said as such."""
    from councilplan.audit import equality

    lines = [f"{report.members} members in scope; cells under {report.k} people suppressed."]
    gender = report.participation[0]
    if report.members:
        lines.append(
            "  all members: "
            + ", ".join(f"{a} {gender.totals[a]}/{report.members}" for a in equality.ACTIVITIES)
        )
    for row in gender.rows:
        if row.category == equality.HIDDEN:
            lines.append(
                f"  {gender.hidden_categories} small gender categories hidden together "
                "(with a complement)"
            )
            continue
        m = row.cells["members"].value
        parts = []
        for activity in equality.ACTIVITIES:
            cell = row.cells[activity]
            parts.append(
                f"{activity} suppressed" if cell.suppressed else f"{activity} {cell.value}/{m}"
            )
        lines.append(f"  {row.category}: " + ", ".join(parts))
    for q in report.inequality:
        what = "hours credited" if q.quantity == "hours" else "goods drawn"
        if q.gini is None:
            lines.append(f"  Gini of {what}: not formed ({q.reason})")
        else:
            lines.append(f"  Gini of {what}: {float(q.gini):.3f} over {q.members} members")
    outcomes = equality.motion_summary(report.motions)
    if outcomes["tabled"]:
        lines.append(
            f"  sections' motions: {outcomes['tabled']} tabled, {outcomes['carried']} carried, "
            f"{outcomes['not_carried']} not carried, {outcomes['waiting']} waiting; "
            f"councils in breach of the deadline on {outcomes['breached']}"
        )
    return lines


def equality(
    period: int = typer.Option(None, "--period", help="The planning period to report on."),
    federation: int = typer.Option(None, "--federation", help="Or a federation."),
    council: int = typer.Option(None, "--council", help="Or a council."),
    out: Path = typer.Option(..., "--out", help="Folder for the tables, report.json, charts."),
    k: int = typer.Option(
        5, "--k", min=5, max=1000, help="Suppress cells under k people (at least 5)."
    ),
    fmt: str = typer.Option("png", "--format", help="Charts as png or svg."),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
) -> None:
    """Participation and distribution by gender, self-described group and workplace, the
    Lorenz curves and Gini coefficients of hours and draws, and the sections' motions: CSV,
    JSON and charts in --out."""
    from councilplan.councils.service.equality import equality_report

    if fmt not in ("png", "svg"):
        fail(f"--format {fmt}: charts are written as png or svg")
    if sum(x is not None for x in (period, federation, council)) != 1:
        fail("give exactly one of --period, --federation, --council")
    check_output(out, "--out", folder=True, overwrite=overwrite)
    with opened_store(database_url, data_dir) as store, refusals():
        report = equality_report(
            store, council_id=council, federation_id=federation, period_id=period, k=k
        )
    with replacing(out, "--out", folder=True, overwrite=overwrite) as stage:
        written = write_equality(report, stage, fmt)
    for line in summary_lines(report):
        console.print(line, highlight=False)
    scope = ", ".join(f"{k} {v}" for k, v in report.scope.items())
    summary("Equality report", [("scope", scope), ("files", len(written)), ("in", out)])


def demo_sections(store, made: dict, at) -> None:
    """The demo town's sections and declared groups, from ``at`` (councils.service.sections
    DEMO_SECTIONS): a line for each section's motion."""
    from councilplan.councils.service import sections

    motions = sections.demo_sections(
        store, accounts=made["accounts"], councils=made["councils"], at=at
    )
    count = len(sections.DEMO_GROUPS)
    console.print(
        f"Sections: {len(motions)} sections founded, each electing its delegate, who tabled "
        f"a motion in the council; {count} members declared a gender or group of their own.",
        highlight=False,
    )


def demo_equality(store, period_id: int, data_dir: Path) -> None:
    """After the period: the council's overdue deadlines found, the equality report of the
    period printed in short and written (tables, JSON, PNG charts) to DATA_DIR/equality."""
    from datetime import UTC, datetime

    from councilplan.cli.common import rule
    from councilplan.councils.service import sections
    from councilplan.councils.service.equality import equality_report

    breached = sections.demo_sections_settle(store, at=datetime.now(UTC))
    report = equality_report(store, period_id=period_id)
    console.print(rule("Who takes part, who is left behind", "the period's equality report"))
    for line in summary_lines(report):
        console.print(line, highlight=False)
    console.print(
        "  (A town of 18: most cells count fewer than 5 people and are suppressed, as they "
        "would be anywhere; the totals and the Gini coefficients are whole-town figures.)",
        highlight=False,
    )
    for motion in report.motions:
        became = motion.outcome or "not yet voted"
        late = "; the council is in breach of its deadline" if motion.breached else ""
        console.print(f"  {motion.section} ({motion.council}): {motion.title}: {became}{late}")
    out = data_dir / "equality"
    with replacing(out, "--out", folder=True, overwrite=True) as stage:
        written = write_equality(report, stage, "png")
    console.print(
        f"  {len(written)} files in {out} (charts: participation_gender.png, lorenz.png); "
        f"{len(breached)} breach(es) found now",
        highlight=False,
    )
