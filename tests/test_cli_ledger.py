"""`councilplan ledger ...` on a SQLite database, as a workplace council's or a member's script
runs it: acts with a member's API token at the real time now, reads without one.

The demo town and its adopted plan (the town's public goods, a reserve) are made through the
service in the past (acts take ``now=``): proposed 40 days ago, adopted 17 days ago, so that
members have their standing and the plan is in force when the commands run."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.councils import service as s
from councilplan.economy import DEMO_BUNDLE
from councilplan.store import default_url, open_store
from planning_setup import PUBLIC_GOODS, Town, demo_town, state_everything

runner = CliRunner(env={"COUNCILPLAN_DATABASE_URL": None, "COUNCILPLAN_TOKEN": None})
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class World:
    """A copy of the template database in ``data_dir``: the demo town with its plan adopted,
    and API tokens of some of its members by name."""

    data_dir: Path
    town: Town
    period: int
    tokens: dict[str, str]

    def store(self):
        return open_store(default_url(self.data_dir))


def build_world(data_dir: Path) -> World:
    from councilplan.web.auth import login

    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - 40 * DAY
    store = open_store(default_url(data_dir))
    try:
        town = demo_town(store, t0=t0, hash_password=None)  # argon2: tokens by password
        federation, delegate, bundle = town.federation, town.delegate, town.bundle
        period = s.propose_period(
            store,
            federation_id=federation,
            actor_id=delegate["bakery"],
            title="The town's plan",
            bundle_digest=bundle,
            starts_on="2027-01-01",
            ends_on="2027-12-31",
            ballot_closes_at=t0 + 3 * DAY,
            stating_closes_at=t0 + 10 * DAY,
            proposing_closes_at=t0 + 20 * DAY,
            deciding_closes_at=t0 + 30 * DAY,
            public_goods=PUBLIC_GOODS,
            reserve_hours="20000",
            now=t0,
        )
        for account in delegate.values():
            s.cast_vote(store, ballot_id=period.ballot_id, voter_id=account, choice="yes", now=t0)
        s.close_ballot(store, ballot_id=period.ballot_id, now=t0 + 3 * DAY)
        state_everything(store, town, period.id, at=t0 + 4 * DAY)
        asked = t0 + 11 * DAY
        low_carbon = {"resources": {"co2": "17000"}}
        for name, constraints in (("least-labour", None), ("low-carbon", low_carbon)):
            s.request_variant(
                store,
                period_id=period.id,
                actor_id=delegate["bakery"],
                name=name,
                constraints=constraints,
                now=asked,
            )
        while s.run_next_job(store, worker="setup", now=lambda: asked + HOUR) is not None:
            pass
        at = t0 + 20 * DAY + HOUR
        ballot = s.open_adoption(
            store, period_id=period.id, actor_id=delegate["bakery"], closes_at=at + 3 * DAY, now=at
        )
        for account in delegate.values():
            s.cast_vote(
                store, ballot_id=ballot.id, voter_id=account, choice=["least-labour"], now=at
            )
        s.close_ballot(store, ballot_id=ballot.id, now=at + 3 * DAY)
        assert s.get_period(store, period.id).status == "adopted"
        tokens = {
            name: login(store, name, "demo", kind="bearer")[1] for name in ("ada", "bea", "cai")
        }
    finally:
        store.dispose()
    return World(data_dir, town, period.id, tokens)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("template"))


@pytest.fixture()
def world(template, tmp_path) -> World:
    """A fresh copy of the template database for one test (the audit key is the session's)."""
    shutil.copy(template.data_dir / "councilplan.sqlite", tmp_path / "councilplan.sqlite")
    return World(tmp_path, template.town, template.period, template.tokens)


def invoke(world: World, *args: object, token: str | None = None):
    extra = ["--data-dir", str(world.data_dir)] + (["--token", token] if token else [])
    return runner.invoke(app, [str(a) for a in args] + extra)


def succeeded(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.output


def one_line_error(result, code: int, *words: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def record_head(world: World) -> tuple[int, str]:
    store = world.store()
    try:
        return store.audit_head()
    finally:
        store.dispose()


def balance(world: World, name: str) -> Decimal:
    store = world.store()
    try:
        account = s.my_ledger(store, account_id=world.town.accounts[name])
    finally:
        store.dispose()
    return Decimal(account.balance.replace(",", ""))


def test_the_levy_and_its_derivation(world):
    out = succeeded(invoke(world, "ledger", "levy", world.period))
    store = world.store()
    try:
        levy = s.get_levy(store, period_id=world.period)
    finally:
        store.dispose()
    assert levy.percent in out and levy.rate in out
    for line in levy.lines:
        assert line in out
    assert all(good in out for good in PUBLIC_GOODS) and "levy rate =" in out
    by_council = invoke(world, "ledger", "levy", "--council", world.town.councils["bakery"])
    assert succeeded(by_council) == out
    one_line_error(invoke(world, "ledger", "levy"), 2, "PERIOD", "--council")
    one_line_error(invoke(world, "ledger", "levy", 99), 1, "no_such_period")


def test_a_sheet_of_hours_recorded_whole_or_not_at_all(world, tmp_path):
    a, bakery = world.town.accounts, world.town.councils["bakery"]
    sheet = tmp_path / "week.csv"
    sheet.write_text(
        f"member,hours,note\nbea,8,Monday\n{a['dan']},7.5,Monday\nBEA,6.25,Tuesday\n\n",
        encoding="utf-8",
    )
    out = succeeded(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"])
    )  # fmt: skip
    assert "3 entries: 21.75 h worked" in out and "Monday" in out
    levy_rate = s.get_levy(store := world.store(), period_id=world.period).rate
    store.dispose()
    p, q = (int(x) for x in levy_rate.split("/"))
    credited = sum(h - (h * p / q).quantize(Decimal("0.0001"), "ROUND_DOWN")
                   for h in (Decimal(8), Decimal("6.25")))  # fmt: skip
    assert balance(world, "bea") == credited

    # A row refused (the recorder's own hours) keeps nothing and is named by file and row.
    before = record_head(world)
    sheet.write_text(f"member,hours\nbea,8\n{a['cai']},8\n", encoding="utf-8")
    line = one_line_error(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"]),
        1, f"{sheet}, row 3", "own_hours", "Nothing was recorded",
    )  # fmt: skip
    assert f"member {a['cai']}" in line
    sheet.write_text("member,hours\nbea,8\ndan,1.00001\n", encoding="utf-8")
    one_line_error(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"]),
        2, f"{sheet}, row 3", "too_precise", "hours",
    )  # fmt: skip
    sheet.write_text("member,hours\nzed,8\n", encoding="utf-8")
    one_line_error(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"]),
        2, f"{sheet}, row 2", "'zed'", "no current member",
    )  # fmt: skip
    sheet.write_text("who,hours\nbea,8\n", encoding="utf-8")
    one_line_error(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"]),
        2, "row 1", "member, hours",
    )  # fmt: skip
    sheet.write_text("member,hours\nbea,8\n", encoding="utf-8")
    one_line_error(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet), 2, "--token"
    )
    assert record_head(world) == before and balance(world, "bea") == credited


def test_balances_draws_and_an_undo(world, tmp_path):
    a, bakery = world.town.accounts, world.town.councils["bakery"]
    sheet = tmp_path / "week.csv"
    sheet.write_text("member,hours\nbea,40\n", encoding="utf-8")
    succeeded(
        invoke(world, "ledger", "hours", "--workplace", bakery, "--file", sheet,
               token=world.tokens["cai"])
    )  # fmt: skip
    held = balance(world, "bea")

    out = succeeded(invoke(world, "ledger", "draw", "bread", "0.02", token=world.tokens["bea"]))
    assert "Drawn: 0.02 bread" in out
    after = balance(world, "bea")
    assert 0 < held - after < 2  # bread is about 80 h a tonne
    tid = next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("transfer"))

    before = record_head(world)
    one_line_error(
        invoke(world, "ledger", "draw", "bread", "1000", token=world.tokens["bea"]), 1, "overdrawn"
    )
    one_line_error(
        invoke(world, "ledger", "draw", "health_care", "1", token=world.tokens["bea"]),
        1, "public_good",
    )  # fmt: skip
    one_line_error(invoke(world, "ledger", "draw", "bread", "1"), 2, "--token")
    assert record_head(world) == before and balance(world, "bea") == after

    # Her own account, with its token; the same account by its key, read by no one in
    # particular; a fund.
    mine = succeeded(invoke(world, "ledger", "balance", token=world.tokens["bea"]))
    assert "(yours)" in mine and f"{after} h" in mine and "0.02 bread" in mine
    key = next(w for w in mine.split() if w.startswith("member:#"))
    theirs = succeeded(invoke(world, "ledger", "balance", key))
    assert "(yours)" not in theirs and f"{after} h" in theirs
    fund = succeeded(invoke(world, "ledger", "balance", f"labour_fund:{bakery}"))
    assert "allotment" in fund and "plan of period" in fund
    assert key.replace(":", " ") in fund  # her hours, paid to her account by its number
    one_line_error(invoke(world, "ledger", "balance"), 2, "KEY", "--token")
    one_line_error(invoke(world, "ledger", "balance", f"member:{a['bea']}"), 1, "no_such_ledger")

    # Undone, by her only, once.
    one_line_error(
        invoke(world, "ledger", "undo", tid, "--reason", "r", token=world.tokens["cai"]),
        1, "not_your_draw",
    )  # fmt: skip
    undone = succeeded(
        invoke(world, "ledger", "undo", tid, "--reason", "wrong loaf", token=world.tokens["bea"])
    )
    assert f"undoing {tid}" in undone and balance(world, "bea") == held
    one_line_error(
        invoke(world, "ledger", "undo", tid, "--reason", "again", token=world.tokens["bea"]),
        1, "already_reversed",
    )  # fmt: skip
    store = world.store()
    try:
        assert store.verify_record().ok
    finally:
        store.dispose()


def test_period_open_takes_public_goods_and_a_reserve(world):
    out = succeeded(
        invoke(world, "period", "open", "--federation", world.town.federation,
               "--bundle", DEMO_BUNDLE, "--title", "Next year's plan",
               "--starts-on", "2028-01-01", "--ends-on", "2028-12-31",
               "--ballot-days", 3, "--stating-days", 7, "--proposing-days", 7,
               "--deciding-days", 7, "--public-goods", "transit, health_care",
               "--reserve-hours", "1500.5", token=world.tokens["ada"])
    )  # fmt: skip
    assert "health_care, transit" in out and "1500.5 hours" in out
    one_line_error(
        invoke(world, "period", "open", "--federation", world.town.federation,
               "--bundle", DEMO_BUNDLE, "--title", "Next year's plan",
               "--starts-on", "2028-01-01", "--ends-on", "2028-12-31",
               "--ballot-days", 3, "--stating-days", 7, "--proposing-days", 7,
               "--deciding-days", 7, "--public-goods", "transit,caviar",
               token=world.tokens["ada"]),
        2, "unknown_product", "public_goods[1]",
    )  # fmt: skip


def test_the_demo_keeps_a_week_of_accounts(tmp_path):
    from councilplan.councils.service.demo import DEMO_DRAWS, DEMO_WEEK, ledger_balances

    out = succeeded(runner.invoke(app, ["demo", "--data-dir", str(tmp_path)]))
    week = out[out.index("Labour-time accounts") : out.index("The record")]
    for workplace in ("Bakery workers", "Clinic workers"):
        assert f"{workplace}: " in week and "recorded the week's sheet" in week
    assert all(product in week for _, product, _ in DEMO_DRAWS) and "undid it" in week
    assert "levy rate =" in week and "accounts together: 0 h." in week

    store = open_store(default_url(tmp_path))
    try:
        balances = ledger_balances(store)
        levy = s.get_levy(store, period_id=1)
    finally:
        store.dispose()
    assert sum(balances.values()) == 0
    # Every worker was credited her week and drew no more than she held.
    members = [v for k, v in balances.items() if k.startswith("member:#")]
    assert len(members) == sum(len(week) for week in DEMO_WEEK.values())
    assert all(v > 0 for v in members)
    funds = [v for k, v in balances.items() if k.startswith("labour_fund:")]
    assert len(funds) == len(DEMO_WEEK) and all(v > 0 for v in funds)  # within plan
    p, q = (int(x) for x in levy.rate.split("/"))
    assert 0 < p / q < 0.5 and levy.percent in week

    verify = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert verify.exit_code == 0 and "intact" in verify.output, verify.output
    levy_out = succeeded(runner.invoke(app, ["ledger", "levy", "1", "--data-dir", str(tmp_path)]))
    assert levy.percent in levy_out
