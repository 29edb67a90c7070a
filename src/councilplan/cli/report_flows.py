"""`councilplan report flows`: the labour that flows between regions (docs/flows.md).

Reads a multi-regional input-output system (a pymrio-saved system, an EXIOBASE zip or
folder, or ``test`` for pymrio's test system), computes the embodied labour between its
regions with :mod:`councilplan.planning.flows`, and writes CSV tables and a chart (PNG and
SVG) of the net flows between region groups into one folder, whole or not at all.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import typer

from councilplan.cli.common import (
    OVERWRITE_HELP,
    check_output,
    fail,
    progress_display,
    reason,
    replacing,
    summary,
)

#: The columns of regions.csv after the region (and its group).
REGION_COLUMNS = [
    "skill", "labour_account", "performed", "footprint", "exports", "imports",
    "net_received", "exchange_ratio", "value_adjusted_ratio", "note", "unit",
]  # fmt: skip
#: What each column means, written into about.json beside the tables (docs/flows.md).
DEFINITIONS = {
    "labour (flows.csv)": "hours performed in performed_in embodied in the final demand of "
    "consumed_in: s_k (I - A)^-1 Y_s summed over performed_in's sectors",
    "net_labour (net.csv)": "hours from gives to on balance: E[from, to] - E[to, from]",
    "exports": "hours a region performs for other regions' final demand",
    "imports": "hours other regions perform for a region's final demand",
    "net_received": "imports - exports (= footprint - performed)",
    "exchange_ratio": "imports / exports: hours of others' labour one hour of the region's "
    "commands (Hickel, Hanbury Lemos and Barbour 2024)",
    "value_adjusted_ratio": "(imports / value added imported) / (exports / value added "
    "exported): 1 is equal hours for equal money",
}
#: Regions (or groups) shown in the summary; all are in the tables.
SUMMARY_REGIONS = 12
#: Hours a year per inhabitant in the illustrative labour account of pymrio's test system.
TEST_HOURS_PER_PERSON = 1000.0


def flows(
    mrio: str = typer.Argument(
        ...,
        metavar="MRIO",
        help="A pymrio-saved system (folder or zip), an EXIOBASE 3 zip or folder, or 'test' "
        "for pymrio's test system (with an illustrative labour account, see docs/flows.md).",
    ),
    out: Path = typer.Option(..., "--out", help="Folder for the tables and the chart."),
    extension: str = typer.Option(
        None, "--extension", help="The extension holding labour (default: found by row names)."
    ),
    labour: list[str] = typer.Option(
        None,
        "--labour",
        help="A labour row of --extension (repeat for several, e.g. one per skill level); "
        "default: the rows named 'Employment hours: ...' or the like.",
    ),
    value: str = typer.Option(
        None,
        "--value",
        help="EXTENSION:ROW[,ROW...] a value-added account, for the value-adjusted exchange "
        "ratio (default for 'test': factor_inputs:Value Added).",
    ),
    groups: Path = typer.Option(
        None, "--groups", help="CSV with columns region,group: the region groups to compare."
    ),
    group: list[str] = typer.Option(
        None, "--group", help="NAME=REGION,REGION,...: a region group (repeat for several)."
    ),
    rest: str = typer.Option(
        None, "--rest", help="The group of regions no group names (default: an error)."
    ),
    method: str = typer.Option(
        "auto", "--method", help="Leontief solve: auto, direct (LU) or bicgstab."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=OVERWRITE_HELP),
) -> None:
    """The labour embodied in each region's final demand, where it was performed, the net
    transfers between regions and groups, and each one's unequal-exchange ratio."""
    import numpy as np

    from councilplan.planning.flows import FlowsError, flows_from_pymrio

    if method not in ("auto", "direct", "bicgstab"):
        fail(f"--method {method}: use auto, direct or bicgstab")
    reads = [] if mrio == "test" else [Path(mrio)]
    check_output(out, "--out", folder=True, overwrite=overwrite, reads=reads)
    mapping = _read_groups(groups, group)
    value_account = _parse_value(value) if value else None
    notes: list[str] = []
    with progress_display() as progress:
        task = progress.add_task(f"reading {mrio}", total=None)
        started = time.perf_counter()
        io = _load(mrio)
        if mrio == "test":
            notes.append(_attach_test_labour(io))
            if value_account is None:
                value_account = ("factor_inputs", ["Value Added"])
            if not mapping:
                mapping, rest = _test_groups(), rest or "non-OECD"
                notes.append("groups: pymrio's test concordance OECD.txt (OECD / non-OECD)")
        read_seconds = time.perf_counter() - started
        progress.update(task, description="solving the Leontief system, one region at a time")
        try:
            result = flows_from_pymrio(
                io, extension=extension, rows=labour or None, value=value_account, method=method
            )
            grouped = result.grouped(mapping, rest=rest) if mapping else None
        except FlowsError as error:
            fail(f"{mrio}: {error}")
        # The largest share of a region's recorded labour that no final demand embodies.
        conservation = float(
            np.max(np.abs(result.unattributed())) / max(result.labour.sum(), 1e-300)
        )
        progress.update(task, description=f"writing {out}")
        with replacing(out, "--out", folder=True, overwrite=overwrite, reads=reads) as stage:
            _write_tables(stage, result, "", mapping, rest)
            if grouped is not None:
                _write_tables(stage, grouped, "group_", None, None)
            _chart(stage / "net_flows", grouped or result, title=_title(mrio, grouped))
            about = {
                "system": mrio,
                "regions": list(result.regions),
                "groups": {
                    g: [r for r in result.regions if mapping.get(r, rest) == g]
                    for g in grouped.regions
                }
                if grouped is not None
                else None,  # fmt: skip
                "labour_rows": list(result.kinds),
                "skills": {k: lv for k, lv in zip(result.kinds, result.skills, strict=True)},
                "unit": result.unit,
                "value_account": list(value_account[1]) if value_account else None,
                "value_unit": result.value_unit,
                "method": result.method,
                "residual": result.residual,
                "unattributed_share": conservation,
                "notes": notes,
                "definitions": DEFINITIONS,
            }
            (stage / "about.json").write_text(json.dumps(about, indent=2) + "\n", encoding="utf-8")
    shown = grouped or result
    rows: list[tuple[str, object]] = [
        ("system", f"{mrio}: {len(result.regions)} regions, {len(result.kinds)} labour rows"),
        ("labour", f"{_number(result.labour.sum())} {result.unit}, performed in all regions"),
        ("skill levels", ", ".join(result.skill_levels) or "none in the account"),
        ("conservation", f"flows differ from the labour account by {conservation:.1e} (relative)"),
        ("solve", f"{result.method}, residual {result.residual:.1e}, {result.seconds:.2f} s"),
        ("read", f"{read_seconds:.2f} s"),
    ]
    ratios = shown.exchange_ratio()
    for i, name in enumerate(shown.regions[:SUMMARY_REGIONS]):
        rows.append(
            (
                name,
                f"receives {_number(shown.appropriation()[i])} {result.unit} net; "
                + ("no exports" if ratios.mask[i] else f"1 h commands {ratios[i]:.2f} h"),
            )
        )
    if len(shown.regions) > SUMMARY_REGIONS:
        rows.append(("...", f"{len(shown.regions) - SUMMARY_REGIONS} more in regions.csv"))
    rows.append(("written", f"{out}: CSV tables, net_flows.png, net_flows.svg"))
    summary("Labour flows between regions", rows)
    for note in notes:
        summary("Note", [("", note)])


# --- inputs --------------------------------------------------------------------------------


def _load(mrio: str):
    try:
        import pymrio
    except ImportError:
        fail("report flows reads systems with pymrio, which is not installed: "
             "pip install 'councilplan[pymrio]'")  # fmt: skip
    if mrio == "test":
        return pymrio.load_test()
    path = Path(mrio)
    if not path.exists():
        fail(f"MRIO {mrio}: no such file or folder (give a pymrio-saved system, an EXIOBASE zip, "
             "or 'test')")  # fmt: skip
    try:
        # EXIOBASE 3 is distributed in pymrio's own format: pymrio.parse_exiobase3 is this
        # plus the F_hh step below and renaming the regions of one old release (left be, so
        # regions keep the names the files give them).
        io = pymrio.load_all(path)
    except Exception as error:  # pymrio raises many kinds; each means a file it cannot read
        fail(f"MRIO {mrio}: pymrio cannot read it as a saved system or an EXIOBASE 3 zip or "
             f"folder: {reason(error)}")  # fmt: skip
    for extension in io.get_extensions(data=True):
        # Older EXIOBASE releases call final demand's direct accounts F_hh (as pymrio does).
        if getattr(extension, "F_hh", None) is not None and getattr(extension, "F_Y", None) is None:
            extension.F_Y = extension.F_hh.copy()
    return io


def _attach_test_labour(io) -> str:
    """An illustrative labour account for pymrio's test system, which has none: each region's
    hours are its population times TEST_HOURS_PER_PERSON, spread over its sectors in
    proportion to their value added (one wage within a region)."""
    import pandas as pd
    import pymrio

    va = io.factor_inputs.F.loc["Value Added"]
    population = io.population.iloc[0]
    regions = va.index.get_level_values(0)
    share = va / va.groupby(level=0).transform("sum")
    hours = share * population.reindex(regions).to_numpy() * TEST_HOURS_PER_PERSON
    stressor = pd.Index(["labour (illustrative)"], name="stressor")
    io.labour = pymrio.Extension(
        name="labour",
        F=pd.DataFrame([hours.to_numpy()], index=stressor, columns=io.Z.columns),
        unit=pd.DataFrame({"unit": ["hours"]}, index=stressor),
    )
    return (
        "pymrio's test system has no labour account: an illustrative one is used, each "
        f"region's population x {TEST_HOURS_PER_PERSON:,.0f} hours spread over its sectors by "
        "value added. The numbers show the method, not any real economy."
    )


def _test_groups() -> dict[str, str]:
    import pymrio

    path = Path(pymrio.__file__).parent / "mrio_models" / "test_mrio" / "concordance" / "OECD.txt"
    with open(path, encoding="utf-8") as f:
        pairs = [line.split() for line in f if line.strip()]
    return {region: group for region, group in pairs if group != "None"}


def _read_groups(path: Path | None, options: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if path is not None:
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                fields = [c.strip().lower() for c in reader.fieldnames or []]
                if "region" not in fields or "group" not in fields:
                    fail(f"--groups {path}: the header must name columns region,group")
                for row_number, row in enumerate(reader, start=2):
                    row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                    if not row["region"] or not row["group"]:
                        fail(f"--groups {path}, row {row_number}: region and group are required")
                    if row["region"] in mapping and mapping[row["region"]] != row["group"]:
                        fail(f"--groups {path}, row {row_number}: region {row['region']!r} "
                             f"is already in group {mapping[row['region']]!r}")  # fmt: skip
                    mapping[row["region"]] = row["group"]
        except OSError as error:
            fail(f"--groups {path}: {reason(error)}")
    for option in options or []:
        name, sep, regions = option.partition("=")
        if not sep or not name.strip() or not regions.strip():
            fail(f"--group {option!r}: write NAME=REGION,REGION,...")
        for region in (r.strip() for r in regions.split(",") if r.strip()):
            if region in mapping and mapping[region] != name.strip():
                fail(f"--group {option!r}: region {region!r} is already in {mapping[region]!r}")
            mapping[region] = name.strip()
    return mapping


def _parse_value(option: str) -> tuple[str, list[str]]:
    extension, sep, rows = option.partition(":")
    names = [r.strip() for r in rows.split(",") if r.strip()]
    if not sep or not extension.strip() or not names:
        fail(f"--value {option!r}: write EXTENSION:ROW[,ROW...]")
    return extension.strip(), names


# --- outputs -------------------------------------------------------------------------------


def _write_tables(folder: Path, result, prefix: str, mapping, rest) -> None:
    skills = [None, *result.skill_levels]
    name = {None: "all"}
    with open(folder / f"{prefix}flows.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["skill", "performed_in", "consumed_in", "labour", "unit"])
        for skill in skills:
            e = result.flows(skill)
            for r, source in enumerate(result.regions):
                for s, sink in enumerate(result.regions):
                    writer.writerow([name.get(skill, skill), source, sink, _cell(e[r, s]),
                                     result.unit])  # fmt: skip
    with open(folder / f"{prefix}net.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["skill", "from", "to", "net_labour", "unit"])
        for skill in skills:
            net = result.net(skill)
            for r, source in enumerate(result.regions):
                for s, sink in enumerate(result.regions):
                    if net[r, s] > 0:
                        writer.writerow([name.get(skill, skill), source, sink, _cell(net[r, s]),
                                         result.unit])  # fmt: skip
    header = ["region" if not prefix else "group"]
    if mapping:
        header.append("group")
    header += REGION_COLUMNS
    with open(folder / f"{prefix}regions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for skill in skills:
            chosen = [k for k, lv in enumerate(result.skills) if skill is None or lv == skill]
            account = result.labour[chosen].sum(axis=0)
            columns = (result.performed(skill), result.footprint(skill), result.exports(skill),
                       result.imports(skill), result.appropriation(skill))  # fmt: skip
            ratio, why = result.exchange_ratio(skill), result.ratio_reason(skill)
            adjusted = result.value_adjusted_ratio(skill)
            for i, region in enumerate(result.regions):
                row = [region]
                if mapping:
                    row.append(mapping.get(region, rest or ""))
                row += [name.get(skill, skill), _cell(account[i])]
                row += [_cell(c[i]) for c in columns]
                row.append("" if ratio.mask[i] else _cell(ratio[i]))
                ok = adjusted is not None and not adjusted.mask[i]
                row.append(_cell(adjusted[i]) if ok else "")
                note = why[i] or ("" if ok or adjusted is None else "no trade in value added")
                row += [note, result.unit]
                writer.writerow(row)


def _cell(value) -> str:
    """A number for a CSV cell: shortest exact decimal of a float."""
    return repr(float(value))


def _chart(stem: Path, result, *, title: str) -> None:
    """Two panels: each region's (or group's) net labour received, by skill where the account
    has skills; and the matrix of net transfers between them."""
    import numpy as np
    from matplotlib.figure import Figure

    names = list(result.regions)
    skills = list(result.skill_levels)
    net = result.net()
    limit = float(np.abs(net).max()) or 1.0
    factor, prefix = _scale(limit)
    unit = f"{prefix}{result.unit}"
    many = len(names) > 12  # then: one panel above the other, small labels, totals only
    if many:
        side = min(24.0, 6 + 0.25 * len(names))
        fig = Figure(figsize=(side, side * 1.45), layout="constrained")
        bars, matrix = fig.subplots(2, 1, height_ratios=[1, 2.2])
    else:
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        bars, matrix = fig.subplots(1, 2, width_ratios=[1.1, 1])
    positions = np.arange(len(names))
    series = [(s, result.appropriation(s)) for s in skills if not many]
    series = series or [(None, result.appropriation())]
    width = 0.8 / len(series)
    colours = ["#9ecae1", "#4292c6", "#08519c"]
    for i, (skill, values) in enumerate(series):
        bars.bar(positions + (i - (len(series) - 1) / 2) * width, values / factor, width,
                 label=f"{skill}-skilled" if skill else "all labour",
                 color=colours[i % 3] if skill else "#4292c6")  # fmt: skip
    bars.axhline(0, color="black", linewidth=0.8)
    rotation = 90 if many else 30 if len(names) > 6 else 0
    align = {"ha": "center" if rotation in (0, 90) else "right", "fontsize": 7 if many else None}
    bars.set_xticks(positions, names, rotation=rotation, **align)
    bars.set_ylabel(f"net embodied labour received ({unit})")
    bars.set_title("Net labour received (imports - exports)")
    bars.legend(frameon=False)
    image = matrix.imshow(net / factor, cmap="RdBu_r", vmin=-limit / factor, vmax=limit / factor)
    matrix.set_xticks(positions, names, rotation=rotation, **align)
    matrix.set_yticks(positions, names, fontsize=7 if many else None)
    matrix.set_xlabel("to: final demand of")
    matrix.set_ylabel("from: labour performed in")
    matrix.set_title("Net transfer, row to column")
    if len(names) <= 12:
        for r in range(len(names)):
            for s in range(len(names)):
                dark = abs(net[r, s]) > 0.6 * limit
                matrix.text(s, r, f"{net[r, s] / factor:.3g}", ha="center", va="center",
                            fontsize=8, color="white" if dark else "black")  # fmt: skip
    fig.colorbar(image, ax=matrix, label=unit, shrink=0.6 if many else 1.0)
    fig.suptitle(title)
    fig.savefig(stem.with_suffix(".png"), dpi=150)
    fig.savefig(stem.with_suffix(".svg"))


def _title(mrio: str, grouped) -> str:
    what = "region groups" if grouped is not None else "regions"
    return f"Embodied labour between {what} ({'pymrio test system' if mrio == 'test' else mrio})"


def _scale(size: float) -> tuple[float, str]:
    """A factor and its word for an axis whose largest number is ``size``."""
    for limit, word in ((1e12, "trillion "), (1e9, "billion "), (1e6, "million ")):
        if size >= limit:
            return limit, word
    return 1.0, ""


def _number(value: float) -> str:
    size = abs(value)
    for limit, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"
