"""The command line's rough edges, as a newcomer meets them: output folders that mix or
vanish, tracebacks instead of messages, markup eaten from messages, databases conjured from
nothing, half-written logs, undocumented options, ``GET /`` and the tour's files in git.

Every refusal exits 2 with one line naming what was wrong and where, and leaves the disk as
it was."""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.economy.bundle import write_bundle
from test_plan_shortfall import village

runner = CliRunner(env={"COUNCILPLAN_DATABASE_URL": None})
ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def refused(result, *words: str) -> str:
    """The single line of a refusal (exit 2, no traceback), holding every one of ``words``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its contents: what is on disk, to compare."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture()
def bundle(tmp_path):
    return write_bundle(village(), tmp_path / "village")


@pytest.fixture()
def needs(tmp_path):
    path = tmp_path / "needs.csv"
    path.write_text("product,amount\nbread,4\n")
    return path


def generate(out: Path, *extra: object):
    return invoke("generate", "--products", 30, "--inputs-per-product", 3, "--out", out, *extra)


# -- 1. --out: refuse a folder that is not empty; with --overwrite, replace it whole ----------


def test_plan_refuses_a_folder_that_is_not_empty_and_overwrite_replaces_it_whole(
    bundle, needs, tmp_path
):
    short = tmp_path / "short.csv"
    short.write_text("product,amount\nbread,100\n")
    limits = tmp_path / "limits.toml"
    limits.write_text("[resources]\nwater = 10\n")
    out = tmp_path / "plan"
    first = invoke("plan", bundle, "--needs", short, "--limits", limits, "--out", out)
    assert first.exit_code == 0, first.output
    assert (out / "shortfall.csv").is_file()
    before = listing(out)

    again = invoke("plan", bundle, "--needs", needs, "--out", out)
    refused(again, f"--out {out}", "not empty", "--overwrite")
    assert listing(out) == before

    replaced = invoke("plan", bundle, "--needs", needs, "--out", out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "shortfall.csv").exists()  # the first plan's table went with it
    assert (out / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["village", "needs.csv", "short.csv", "limits.toml", "plan"]
    )


def test_plan_into_an_empty_folder_needs_no_overwrite(bundle, needs, tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    result = invoke("plan", bundle, "--needs", needs, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file()


def test_generate_over_a_bundle_refuses_then_replaces_it_with_overwrite(tmp_path):
    out = tmp_path / "eco"
    assert generate(out, "--seed", 1).exit_code == 0
    (out / "README.md").write_text("the old economy")
    before = listing(out)

    refused(generate(out, "--seed", 2), f"--out {out}", "not empty", "--overwrite")
    assert listing(out) == before

    result = generate(out, "--seed", 2, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (out / "README.md").exists()
    assert listing(out) != before
    assert [p.name for p in tmp_path.iterdir()] == ["eco"]  # no temporary folder left


def test_overwrite_refuses_to_replace_the_folder_it_reads(bundle, tmp_path):
    result = invoke("plan", bundle, "--needs", tmp_path / "n.csv", "--out", bundle, "--overwrite")
    refused(result, f"--out {bundle}", "reads")
    assert (bundle / "economy.toml").is_file()


@pytest.mark.parametrize(
    ("error", "code"),
    [(OSError(errno.ENOSPC, "No space left on device"), 2), (RuntimeError("a bug"), 1)],
    ids=["disk-full", "bug"],
)
def test_a_failure_mid_write_leaves_the_old_folder_and_no_temporary_one(
    tmp_path, monkeypatch, error, code
):
    out = tmp_path / "eco"
    assert generate(out).exit_code == 0
    before = listing(out)

    def half_written(economy, path, **kwargs):
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "products.csv").write_text("half a table")
        raise error

    monkeypatch.setattr("councilplan.economy.bundle.write_bundle", half_written)
    result = generate(out, "--seed", 5, "--overwrite")
    assert result.exit_code == code, result.output
    if code == 2:
        refused(result, str(out), "No space left on device")
    assert listing(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["eco"]


def test_import_bea_refuses_a_folder_that_is_not_empty(bea_dir, tmp_path):
    from test_bea import SUMMARY_MAKE, SUMMARY_USE

    out = tmp_path / "us2017"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["import", "bea", "--use", bea_dir / SUMMARY_USE, "--make", bea_dir / SUMMARY_MAKE]
    refused(invoke(*args, "--out", out), f"--out {out}", "not empty", "--overwrite")
    assert listing(out) == {"notes.txt": b"mine"}

    result = invoke(*args, "--out", out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists()
    assert (out / "economy.toml").is_file() and (out / "needs" / "F010.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["us2017"]


def test_the_demo_writes_its_database_and_nothing_else(tmp_path):
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    result = invoke("demo", "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    # Its plans are in the database, as the API and `period status` show them; its equality
    # report's tables and charts in equality/.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "councilplan.sqlite",
        "equality",
        "notes.txt",
    ]
    assert (tmp_path / "equality" / "lorenz.png").read_bytes().startswith(b"\x89PNG")
    assert mine.read_text() == "mine"


# -- 2. an --out or --log that cannot be written, and negative seeds: one line, no traceback ---


def test_out_that_is_a_file_is_refused(bundle, needs, tmp_path):
    file = tmp_path / "taken"
    file.write_text("keep me")
    refused(invoke("plan", bundle, "--needs", needs, "--out", file), f"--out {file}", "file")
    refused(generate(file), f"--out {file}", "file")
    refused(generate(file, "--overwrite"), f"--out {file}", "file")
    assert file.read_text() == "keep me"


@pytest.mark.parametrize("command", ["plan", "generate", "values"])
def test_out_under_a_regular_file_cannot_be_written(command, bundle, needs, tmp_path):
    file = tmp_path / "file"
    file.write_text("keep me")
    out = file / "sub" / ("v.csv" if command == "values" else "out")
    if command == "plan":
        result = invoke("plan", bundle, "--needs", needs, "--out", out)
    elif command == "generate":
        result = generate(out)
    else:
        result = invoke("values", bundle, "--out", out)
    refused(result, f"--out {out}", f"{file} is not a folder")
    assert file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "needs.csv", "village"]


def test_rounds_log_that_is_a_folder_or_under_a_file(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    small = ["rounds", "--generate", "--councils", 30, "--goods", 2]
    refused(invoke(*small, "--log", folder), f"--log {folder}", "folder")
    assert list(folder.iterdir()) == []
    file = tmp_path / "file"
    file.write_text("keep me")
    refused(invoke(*small, "--log", file / "run.csv"), f"--log {file / 'run.csv'}", "not a folder")
    assert file.read_text() == "keep me"


def test_rounds_log_is_replaced_whole(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("an older run\n" * 1000)
    result = invoke("rounds", "--generate", "--councils", 30, "--goods", 2, "--log", log)
    assert result.exit_code in (0, 1), result.output
    assert "an older run" not in log.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]


def test_negative_seeds_are_refused(tmp_path):
    refused(generate(tmp_path / "eco", "--seed", -1), "--seed", "-1")
    log = tmp_path / "run.csv"
    result = invoke("rounds", "--generate", "--councils", 30, "--seed", -1, "--log", log)
    refused(result, "--seed", "-1")
    assert list(tmp_path.iterdir()) == []


# -- 3. messages and help print literally: brackets are not markup --------------------------


def test_limits_section_names_print_literally(bundle, needs, tmp_path):
    limits = tmp_path / "limits.toml"
    limits.write_text("[labour]\ngenral = 5\n")
    result = invoke("plan", bundle, "--needs", needs, "--limits", limits, "--out", tmp_path / "p")
    refused(result, "unknown labour kind 'genral' in [labour]", str(limits))
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("product", ["[/red]", "[red]fert", "[bold]x[/bold]"])
def test_product_ids_that_look_like_markup_print_literally(bundle, tmp_path, product):
    needs = tmp_path / "needs.csv"
    needs.write_text(f"product,amount\n{product},1\n")
    result = invoke("plan", bundle, "--needs", needs, "--out", tmp_path / "p")
    refused(result, f"unknown product '{product}'")


def test_paths_that_look_like_markup_print_literally(tmp_path):
    out = tmp_path / "[bold]eco[/]"
    result = generate(out)
    assert result.exit_code == 0, result.output
    assert str(out) in "".join(result.output.split())  # the summary table folds long paths
    refused(generate(out), f"--out {out}")


def test_help_texts_print_brackets_literally():
    result = invoke("plan", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "limits.toml: [labour] kind = hours, [resources], [capacity]" in text
    assert "product,amount[,council][,priority]" in text


# -- 4. commands that read a database refuse a missing SQLite file, creating nothing ----------


@pytest.mark.parametrize("command", [["audit", "verify"], ["serve"]])
def test_a_missing_database_is_named_and_not_created(command, tmp_path, monkeypatch):
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started a server"))
    data_dir = tmp_path / "data"
    refused(invoke(*command, "--data-dir", data_dir), str(data_dir / "councilplan.sqlite"))
    assert not data_dir.exists()

    monkeypatch.chdir(tmp_path)
    refused(invoke(*command), "councilplan.sqlite")
    file = tmp_path / "elsewhere.sqlite"
    refused(invoke(*command, "--database-url", f"sqlite:///{file}"), str(file))
    assert sorted(tmp_path.iterdir()) == []


def test_a_file_that_is_no_database_is_one_line(tmp_path):
    (tmp_path / "councilplan.sqlite").write_bytes(b"")
    line = refused(invoke("audit", "verify", "--data-dir", tmp_path), "councilplan.sqlite")
    assert "SELECT" not in line


def test_db_upgrade_creates_the_database_that_serve_and_verify_read(tmp_path):
    data_dir = tmp_path / "new"
    result = invoke("db", "upgrade", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    assert (data_dir / "councilplan.sqlite").is_file()
    result = invoke("audit", "verify", "--data-dir", data_dir)
    assert result.exit_code == 0 and "intact" in result.output


# -- 5. rounds validates everything before writing anything ---------------------------------


@pytest.mark.parametrize("threshold", ["0", "-1", "nan", "inf"])
def test_rounds_bad_threshold_writes_no_log(tmp_path, threshold):
    log = tmp_path / "run.csv"
    result = invoke(
        "rounds", "--generate", "--councils", 30, "--threshold", threshold, "--log", log
    )
    refused(result, "--threshold", threshold)
    assert list(tmp_path.iterdir()) == []


# -- 6. every option says what it does; generate writes needs that plan reads ----------------


def _commands(command, path: tuple[str, ...] = ()):
    if hasattr(command, "commands"):  # a group (Typer's own click, not click.Group)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def test_every_option_and_argument_has_a_help_text():
    commands = dict(_commands(typer.main.get_command(app)))
    assert {"generate", "plan", "import bea", "audit verify"} <= set(commands)
    missing = [
        f"{name} {param.name}"
        for name, command in commands.items()
        for param in command.params
        if not getattr(param, "help", None)
    ]
    assert missing == []


def test_generate_help_describes_every_option():
    text = " ".join(invoke("generate", "--help").output.split())
    for option in ("--inputs-per-product", "--techniques-per-product", "--labour-kinds"):
        assert re.search(re.escape(option) + r" <[^>]+> [A-Z]", text), option
    assert "--resources" in text and "--overwrite" in text


def test_generate_writes_needs_that_plan_can_plan_for(tmp_path):
    out = tmp_path / "eco"
    result = generate(out, "--labour-kinds", 2, "--resources", 1, "--seed", 3)
    assert result.exit_code == 0, result.output
    needs = pd.read_csv(out / "needs" / "total.csv")
    assert list(needs.columns) == ["product", "amount"]
    assert len(needs) == 30 and (needs["amount"] > 0).all()
    again = tmp_path / "again"
    assert generate(again, "--labour-kinds", 2, "--resources", 1, "--seed", 3).exit_code == 0
    assert listing(out) == listing(again)  # reproducible from the seed, needs too

    plan = tmp_path / "plan"
    result = invoke("plan", out, "--needs", out / "needs" / "total.csv", "--out", plan)
    assert result.exit_code == 0, result.output
    assert "optimal" in result.output
    assert (plan / "report.md").is_file()


def test_generate_into_a_zip_puts_the_needs_beside_it(tmp_path):
    out = tmp_path / "eco.zip"
    assert generate(out).exit_code == 0
    assert out.is_file() and (tmp_path / "eco-needs" / "total.csv").is_file()
    refused(generate(out), f"--out {out}", "--overwrite")
    result = generate(out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eco-needs", "eco.zip"]


# -- 7. GET / is the sign-in page; the API's docs are at /docs --------------------------------


def test_the_root_is_the_sign_in_page_and_the_docs_are_linked(council_store):
    from fastapi.testclient import TestClient

    from councilplan.web.app import create_app

    with TestClient(create_app(council_store, close_every_s=None)) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 200, r.text
        assert 'action="/signin"' in r.text and 'href="/docs"' in r.text
        assert client.get("/docs").status_code == 200
        assert "/" not in client.get("/openapi.json").json()["paths"]


# -- 8. the tour's outputs are ignored by git --------------------------------------------------


def _tour_outputs() -> list[str]:
    """The files and folders the README's tour writes with --out and --log."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in tour.splitlines() if line.startswith("    councilplan")]
    return [m for c in commands for m in re.findall(r"--(?:out|log) (\S+)", c)]


def test_the_tours_outputs_are_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    outputs = _tour_outputs()
    assert {"us2017/", "big/", "values.csv", "plan/", "run.csv"} <= set(outputs)
    for path in [*outputs, "councilplan.sqlite"]:  # serve's and the demo's database
        done = subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
        )
        assert done.returncode == 0, f"{path} is not ignored by .gitignore"
    for path in outputs:  # anchored at the root: a docs/plan/ folder is not ignored
        nested = subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", f"docs/{path}"], cwd=ROOT, check=False
        )
        assert nested.returncode == 1, f"{path} is ignored below the root too"
