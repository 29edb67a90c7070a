"""The ``councilplan`` command line: a thin layer over the library; each command does one job.

Long work shows a Rich progress display; each command ends with a one-screen summary.

The commands live in one module per job: ``engine`` (generate, values, import, rounds,
plan), ``period`` (the planning cycle and its job runner), ``ledger`` (labour-time
accounts), ``serve``, ``db``, ``audit`` and ``demo``; ``common`` holds what they share.
"""

from __future__ import annotations

import typer

from councilplan.cli import audit, db, demo, engine, ledger, period, report, sections, serve

# rich_markup_mode=None: help texts print as written; "[labour]" in a help text is not markup.
app = typer.Typer(
    help="councilplan: plan an economy democratically, from below.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

app.command()(engine.generate)
app.command()(engine.values)
app.add_typer(engine.import_app, name="import")
app.command()(engine.rounds)
app.add_typer(db.db_app, name="db")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(period.period_app, name="period")
app.add_typer(ledger.ledger_app, name="ledger")
app.add_typer(report.report_app, name="report")
app.add_typer(sections.sections_app, name="sections")
app.command()(serve.serve)
app.command("plan")(engine.plan_command)
app.command()(demo.demo)

__all__ = ["app"]
