"""The equality report gathered from the record, on SQLite and PostgreSQL: the demo town with
its plan adopted, a week's hours and draws (one draw undone), the demo's sections and
declared groups. Each figure is checked against a computation of its own: hours less draws
is each member's ledger balance; who stated is who the statements name; the period's voters
are the ballots' participants; and the CLI writes the same report as files."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from typer.testing import CliRunner

from councilplan.audit import equality as eq
from councilplan.cli import app
from councilplan.councils import service as s
from councilplan.councils.service import sections
from councilplan.councils.service.equality import equality_report
from planning_setup import DAY, T0, adopted_plan, demo_town

AFTER = T0 + 24 * DAY


def _week(store, town):
    a = town.accounts
    bakery, clinic = town.councils["bakery"], town.councils["clinic"]
    s.record_hours_batch(
        store,
        workplace_id=bakery,
        entries=[
            {"member_id": a["bea"], "hours": "38"},
            {"member_id": a["cai"], "hours": "20"},
            {"member_id": a["dan"], "hours": "7.5"},
        ],
        actor_id=a["ada"],
        now=AFTER,
    )
    s.record_hours(store, workplace_id=bakery, member_id=a["ada"], hours="30", actor_id=a["bea"],
                   now=AFTER)  # fmt: skip
    s.record_hours(store, workplace_id=clinic, member_id=a["fay"], hours="40", actor_id=a["eve"],
                   now=AFTER)  # fmt: skip
    s.draw_goods(store, member_id=a["bea"], product="bread", quantity="0.006", now=AFTER)
    s.draw_goods(store, member_id=a["fay"], product="milk", quantity="0.008", now=AFTER)
    mistake = s.draw_goods(store, member_id=a["dan"], product="bread", quantity="0.001", now=AFTER)
    s.reverse_transfer(store, tid=mistake.transfers[0].tid, actor_id=a["dan"],
                       reason="drew the wrong loaf", now=AFTER)  # fmt: skip


def test_the_periods_report_follows_from_the_record(council_store, monkeypatch):
    store = council_store
    town = demo_town(store)
    period = adopted_plan(store, town)
    _week(store, town)
    sections.demo_sections(store, accounts=town.accounts, councils=town.councils, at=AFTER)
    report = equality_report(store, period_id=period.id)
    # The store reads members in chunks (a federation's may be millions): the same report.
    import councilplan.store.sections as store_sections

    monkeypatch.setattr(store_sections, "CHUNK", 3)
    assert eq.report_json(equality_report(store, period_id=period.id)) == eq.report_json(report)
    monkeypatch.undo()
    assert report.members == 18
    names = {v: k for k, v in town.accounts.items()}

    # Distribution: each member's hours less her draws is her ledger balance.
    people = report.distribution[0]
    assert people.totals["members"] == 18
    balances = {}
    for name, account in town.accounts.items():
        mine = s.my_ledger(store, account_id=account, limit=1)
        balances[name] = Fraction(Decimal(mine.balance.replace(",", "")))
    gathered = _people(store, period.id)
    assert len(gathered) == 18
    total_hours = sum(p.hours for p in gathered)
    total_drawn = sum(p.drawn for p in gathered)
    assert total_hours - total_drawn == sum(balances.values())
    assert people.totals["hours"] == total_hours > 0
    assert people.totals["drawn"] == total_drawn > 0
    # The undone draw counts for nothing: dan drew none.
    (hours_curve, drawn_curve) = report.inequality
    assert drawn_curve.members == 18 and drawn_curve.gini is not None
    assert hours_curve.total == total_hours

    # Participation: who stated is who the statements name; every delegate voted.
    stated = {st.stated_by for st in s.list_statements(store, period_id=period.id)}
    gender = report.participation[0]
    assert gender.totals["stated"] == len(stated)
    assert gender.totals["delegate"] >= len(town.delegate)
    assert gender.totals["voted"] >= len(set(town.delegate.values()))
    # Declared groups are counted under their normalised keys: "Night Shift", "night  shift".
    group = {r.category: r for r in report.participation[1].rows}
    assert group["night shift"].cells["members"].value == 5
    assert "Night Shift" not in group and "night  shift" not in group
    assert eq.NOT_DECLARED in group
    assert {r.category for r in gender.rows} >= {"woman", "man"}

    # Motions of sections: one carried in time once its ballot closes, one overdue.
    overdue = sections.demo_sections_settle(store, at=AFTER + 30 * DAY)
    assert len(overdue) == 1
    report = equality_report(store, federation_id=town.federation)
    summary = eq.motion_summary(report.motions)
    assert summary == {
        "tabled": 2,
        "carried": 1,
        "not_carried": 0,
        "void": 0,
        "waiting": 1,
        "breached": 1,
    }
    assert {names[a] for a in stated} <= set(names.values())
    assert store.verify_record().ok


def _people(store, period_id):
    """The people as the service gathers them (its private step, read here to compare)."""
    from councilplan.councils.service import equality as gather

    with store.reading() as tx:
        period = tx.period(period_id)
        councils = [period["federation_id"], *tx.report_affiliated(period["federation_id"])]
        return gather._people(
            tx, councils, period_id, period["proposed_at"], period["deciding_closes_at"]
        )


def test_report_equality_writes_its_folder(tmp_path):
    from councilplan.store import open_store

    url = f"sqlite:///{tmp_path / 'town.sqlite'}"
    store = open_store(url)
    town = demo_town(store)
    sections.demo_sections(store, accounts=town.accounts, councils=town.councils, at=T0)
    store.dispose()
    out = tmp_path / "report"
    runner = CliRunner()
    args = ["report", "equality", "--federation", str(town.federation), "--database-url", url]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "18 members in scope" in result.output
    files = sorted(p.name for p in out.iterdir())
    assert "participation_gender.csv" in files and "lorenz.png" in files
    assert "report.json" in files
    # Again: the folder is not empty, so it is refused unless --overwrite.
    again = runner.invoke(app, [*args, "--out", str(out)])
    assert again.exit_code == 2 and "not empty" in again.output
    both = runner.invoke(app, [*args, "--council", "1", "--out", str(tmp_path / "x")])
    assert both.exit_code == 2 and "exactly one" in both.output
