"""Charts of an equality report (``councilplan.audit.equality``), drawn with matplotlib: bars of
participation rates by category (a suppressed cell is drawn as a hatched stub marked
"suppressed", never as a value), and the Lorenz curves of hours credited and goods drawn with
their Gini coefficients. SVG for the web, PNG for the command line.

Figures are made without pyplot's global state, so charts may be drawn from several threads.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from councilplan.audit.equality import ACTIVITIES, HIDDEN, EqualityReport, Inequality, Table

LABELS = {
    "stated": "stated needs",
    "voted": "voted",
    "delegate": "delegate",
    "commission": "commission seat",
    "hours": "hours credited",
    "drawn": "goods drawn",
}


def _save(figure: Figure, fmt: str) -> bytes:
    if fmt not in ("svg", "png"):
        raise ValueError(f"format: {fmt!r}; charts are drawn as 'svg' or 'png'")
    buffer = io.BytesIO()
    # A fixed hash salt and no date: the same report gives the same SVG bytes.
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()


def participation_chart(table: Table, fmt: str = "svg") -> bytes:
    """Grouped bars: for each category, the share of its members who did each activity."""
    rows = [r for r in table.rows if r.category != HIDDEN]
    figure = Figure(figsize=(max(6.0, 1.6 * len(rows) + 2), 4.2))
    ax = figure.subplots()
    width = 0.8 / len(ACTIVITIES)
    for j, activity in enumerate(ACTIVITIES):
        for i, row in enumerate(rows):
            x = i + (j - (len(ACTIVITIES) - 1) / 2) * width
            cell, members = row.cells[activity], row.cells["members"].value
            if cell.suppressed or not members:
                ax.bar(x, 0.03, width, color="white", edgecolor="grey", hatch="///")
                ax.text(x, 0.04, "suppressed", rotation=90, ha="center", va="bottom", fontsize=7)
                continue
            share = float(cell.value) / float(members)
            ax.bar(x, share, width, color=f"C{j}")
            if share == 0:  # a published zero: none of the category did it
                ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7, color=f"C{j}")
    ax.set_xticks(range(len(rows)), [f"{r.category}\n({r.cells['members'].value})" for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of the category's members")
    title = f"Participation by {table.dimension} (cells under {table.k} people suppressed)"
    if table.hidden_categories:
        title += f"\n{table.hidden_categories} small categories hidden"
    ax.set_title(title, fontsize=10)
    if rows:
        handles = [Patch(color=f"C{j}", label=LABELS[a]) for j, a in enumerate(ACTIVITIES)]
        handles.append(Patch(facecolor="white", edgecolor="grey", hatch="///", label="suppressed"))
        ax.legend(handles=handles, fontsize=8, loc="upper right")
    else:
        ax.text(
            0.5, 0.5, "every category is under the threshold", ha="center", transform=ax.transAxes
        )
    return _save(figure, fmt)


def lorenz_chart(curves: tuple[Inequality, ...], fmt: str = "svg") -> bytes:
    """Lorenz curves with the line of equality; the Gini coefficient in each curve's label."""
    figure = Figure(figsize=(5.2, 5.0))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equality")
    notes = []
    for j, q in enumerate(curves):
        if q.gini is None:
            notes.append(f"{LABELS.get(q.quantity, q.quantity)}: {q.reason}")
            continue
        xs = [float(x) for x, _ in q.lorenz]
        ys = [float(y) for _, y in q.lorenz]
        label = f"{LABELS.get(q.quantity, q.quantity)} (Gini {float(q.gini):.3f})"
        ax.plot(xs, ys, color=f"C{j}", label=label, drawstyle="default")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("share of members, those with least first")
    ax.set_ylabel("share of the total")
    ax.set_title("Lorenz curves", fontsize=10)
    for i, note in enumerate(notes):
        ax.text(0.02, 0.95 - 0.05 * i, note, fontsize=7, transform=ax.transAxes, va="top")
    ax.legend(fontsize=8, loc="upper left" if not notes else "lower right")
    return _save(figure, fmt)


def report_charts(report: EqualityReport, fmt: str = "svg") -> dict[str, bytes]:
    """Every chart of ``report`` by file name."""
    charts = {
        f"participation_{t.dimension}.{fmt}": participation_chart(t, fmt)
        for t in report.participation
    }
    charts[f"lorenz.{fmt}"] = lorenz_chart(report.inequality, fmt)
    return charts
