"""`councilplan sections check` finds a council in breach of a section motion's deadline and
puts it on record once; `sections motions` shows what became of each motion."""

from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.councils.service import sections
from councilplan.store import open_store
from planning_setup import DAY, demo_town


def test_sections_check_puts_a_breach_on_record_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'town.sqlite'}"
    store = open_store(url)
    t0 = datetime.now(UTC) - 60 * DAY  # `sections check` works at the real time now
    town = demo_town(store, t0=t0)
    motions = sections.demo_sections(
        store, accounts=town.accounts, councils=town.councils, at=t0 - DAY
    )
    store.dispose()
    runner = CliRunner()
    first = runner.invoke(app, ["sections", "check", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "is in breach" in first.output and "Childcare during council meetings" in first.output
    again = runner.invoke(app, ["sections", "check", "--database-url", url])
    assert again.exit_code == 0 and "is in breach" not in again.output
    hood = town.councils["neighbourhood"]
    listed = runner.invoke(app, ["sections", "motions", str(hood), "--database-url", url])
    assert listed.exit_code == 0 and "in breach since" in listed.output
    store = open_store(url)
    overdue = [e for e in store.audit_entries() if e.kind == "section.motion_overdue"]
    assert [e.payload["motion_id"] for e in overdue] == [motions[1].motion_id]
    assert store.verify_record().ok
    store.dispose()
