"""`councilplan report`: reports people would rather look at, as tables and charts.

Each report is written into one folder (``--out DIR``), whole or not at all: ``flows``
(labour flowing between regions, docs/flows.md); ``equality`` (who takes part and who is
left behind, docs/equality.md).
"""

from __future__ import annotations

import typer

from councilplan.cli import report_equality, report_flows

report_app = typer.Typer(
    help="Reports as tables (CSV) and charts (PNG, SVG): labour flows between regions, "
    "equality (who takes part, who is left behind).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app = report_app  # the group's Typer app, under either name

report_app.command("flows")(report_flows.flows)
report_app.command("equality")(report_equality.equality)
