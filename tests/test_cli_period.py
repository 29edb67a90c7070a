"""`councilplan period ...` and `councilplan plan --from-record` on a SQLite database, as an
operator's script runs them: each act with a member's API token, at the real time now.

The town and two periods are made through the service in the past (acts take ``now=``), so
that at the time the commands run one period is in its proposing stage (variants can be
asked for) and one in its deciding stage (the adoption ballot can open)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.councils import service as s
from councilplan.economy import DEMO_BUNDLE
from councilplan.store import default_url, open_store
from planning_setup import Town, demo_town, state_everything

runner = CliRunner(env={"COUNCILPLAN_DATABASE_URL": None, "COUNCILPLAN_TOKEN": None})
DAY = timedelta(days=1)


@dataclass(frozen=True)
class World:
    """A copy of the template database in ``data_dir``: the demo town, period ``proposing``
    (asking for variants now), period ``deciding`` (two variants computed, proposing closed)
    and API tokens of the federation's delegate from the bakery and of a plain member."""

    data_dir: Path
    town: Town
    proposing: int
    deciding: int
    delegate_token: str
    member_token: str
    member: int

    def store(self):
        return open_store(default_url(self.data_dir))


def _propose(store, town: Town, t0: datetime, proposing_until: datetime) -> int:
    """A period proposed at ``t0``, opened by every delegate's yes at t0 + 3 days, stating until
    t0 + 10 days, proposing until ``proposing_until``, deciding ten days more."""
    period = s.propose_period(
        store,
        federation_id=town.federation,
        actor_id=town.delegate["bakery"],
        title=f"Plan proposed {t0:%Y-%m-%d}",
        bundle_digest=town.bundle,
        starts_on="2027-01-01",
        ends_on="2027-12-31",
        ballot_closes_at=t0 + 3 * DAY,
        stating_closes_at=t0 + 10 * DAY,
        proposing_closes_at=proposing_until,
        deciding_closes_at=proposing_until + 10 * DAY,
        now=t0,
    )
    for account in town.delegate.values():
        s.cast_vote(store, ballot_id=period.ballot_id, voter_id=account, choice="yes", now=t0)
    s.close_ballot(store, ballot_id=period.ballot_id, now=t0 + 3 * DAY)
    state_everything(store, town, period.id, at=t0 + 4 * DAY)
    return period.id


def build_world(data_dir: Path, *, variants_in_proposing: tuple[str, ...] = ()) -> World:
    """The demo town with its periods, made in the past: period "deciding" proposed 22 days
    ago (its variants computed 11.5 days ago, proposing closed 2 days ago), period
    "proposing" 11 days ago (proposing until 9 days from now), with ``variants_in_proposing``
    asked for and left queued."""
    from councilplan.web.auth import login

    now = datetime.now(UTC).replace(microsecond=0)
    store = open_store(default_url(data_dir))
    try:
        town = demo_town(store, t0=now - 22 * DAY, hash_password=None)  # argon2: by password
        delegate = town.delegate
        deciding = _propose(store, town, now - 22 * DAY, now - 2 * DAY)
        asked = now - 11.5 * DAY
        for name, constraints in (
            ("least-labour", None),
            ("generous", {"labour": {"general": "none"}}),
        ):
            s.request_variant(
                store,
                period_id=deciding,
                actor_id=delegate["bakery"],
                name=name,
                constraints=constraints,
                now=asked,
            )
        while s.run_next_job(store, worker="setup", now=lambda: asked) is not None:
            pass
        proposing = _propose(store, town, now - 11 * DAY, now + 9 * DAY)
        for name in variants_in_proposing:
            s.request_variant(
                store,
                period_id=proposing,
                actor_id=delegate["bakery"],
                name=name,
                now=now - 1 * DAY + timedelta(hours=1),
            )
        names = {account: name for name, account in town.accounts.items()}
        plain = next(a for a in town.accounts.values() if a not in town.delegate.values())
        _, delegate_token = login(store, names[delegate["bakery"]], "demo", kind="bearer")
        _, member_token = login(store, names[plain], "demo", kind="bearer")
    finally:
        store.dispose()
    return World(data_dir, town, proposing, deciding, delegate_token, member_token, plain)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("template"))


@pytest.fixture()
def world(template, tmp_path) -> World:
    """A fresh copy of the template database for one test (the audit key is the session's)."""
    shutil.copy(template.data_dir / "councilplan.sqlite", tmp_path / "councilplan.sqlite")
    return World(tmp_path, *[getattr(template, f) for f in list(World.__dataclass_fields__)[1:]])


def invoke(world: World, *args: object, token: str | None = None):
    extra = ["--data-dir", str(world.data_dir)] + (["--token", token] if token else [])
    return runner.invoke(app, [str(a) for a in args] + extra)


def one_line_error(result, code: int, *words: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    text = lines[0]
    for word in words:
        assert word in text, (word, text)
    return text


# -- period open, status -----------------------------------------------------------------------


def test_open_proposes_the_period_to_the_federations_vote(world, tmp_path):
    limits = tmp_path / "limits.toml"
    limits.write_text('[labour]\ngeneral = "offered"\n\n[resources]\nco2 = 20000\n')
    started = datetime.now(UTC)
    result = invoke(
        world, "period", "open", "--federation", world.town.federation, "--bundle", DEMO_BUNDLE,
        "--title", "Next year's plan", "--starts-on", "2028-01-01", "--ends-on", "2028-12-31",
        "--ballot-days", 3, "--stating-days", 7, "--proposing-days", 10, "--deciding-days", 5,
        "--limits", limits, "--rounds-hours", 24, "--max-rounds", 30,
        token=world.delegate_token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        (period,) = [p for p in s.list_periods(store, world.town.federation) if p.id > 2]
        ballot = s.get_ballot(store, period.ballot_id)
    finally:
        store.dispose()
    assert f"Period {period.id} proposed" in result.output
    assert f"{period.ballot_id}: the federation votes until" in result.output
    assert period.status == "proposed" and period.title == "Next year's plan"
    assert period.proposed_by == world.town.delegate["bakery"]  # the token's member acts
    assert period.bundle_digest == world.town.bundle  # the same bundle: kept once
    assert period.limits == {"labour": {"general": "offered"}, "resources": {"co2": "20000"}}
    assert period.rounds == {"round_hours": 24, "max_rounds": 30, "threshold": "3"}
    assert ballot.purpose == "period" and ballot.status == "open"
    opened = ballot.closes_at - timedelta(days=3)
    assert started - timedelta(seconds=1) <= opened <= datetime.now(UTC)
    assert period.stating_closes_at == ballot.closes_at + 7 * DAY
    assert period.deciding_closes_at == period.proposing_closes_at + 5 * DAY

    status = invoke(world, "period", "status", period.id)
    assert status.exit_code == 0, status.output
    text = " ".join(status.output.split())
    assert "stage proposed" in text and f"ballot {period.ballot_id}, open until" in text
    shown = json.loads(invoke(world, "period", "status", period.id, "--json").output)
    assert shown["period"]["stage"] == "proposed"
    assert shown["opening_ballot"]["status"] == "open"
    assert shown["variants"] == [] and shown["statements"] == []


def test_refusals_are_one_line_with_the_reason_and_field(world, tmp_path):
    store = world.store()
    try:
        head = store.audit_head()
    finally:
        store.dispose()
    args = [
        "period", "open", "--federation", world.town.federation, "--bundle", DEMO_BUNDLE,
        "--title", "Mine", "--starts-on", "2028-01-01", "--ends-on", "2028-12-31",
        "--ballot-days", 3, "--stating-days", 7, "--proposing-days", 10, "--deciding-days", 5,
    ]  # fmt: skip
    # A member who is no delegate: the service's own refusal, as the API would give it.
    line = one_line_error(
        invoke(world, *args, token=world.member_token), 1, "not_a_current_delegate", "actor_id"
    )
    assert f"account {world.member}" in line
    one_line_error(invoke(world, *args), 2, "--token", "COUNCILPLAN_TOKEN", "POST /api/tokens")
    one_line_error(invoke(world, *args, token="not-a-token"), 2, "--token", "no member")
    # What was given is wrong: exit 2, naming the field.
    one_line_error(
        invoke(world, *args[:-2], "--deciding-days", 5, "--starts-on", "someday",
               token=world.delegate_token),
        2, "bad_date", "starts_on",
    )  # fmt: skip
    broken = tmp_path / "limits.json"
    broken.write_text('{"labour": {"general": 1e6,}}')
    one_line_error(
        invoke(world, *args, "--limits", broken, token=world.delegate_token),
        2, f"--limits {broken}", "not JSON", "line 1",
    )  # fmt: skip
    unknown = tmp_path / "limits.toml"
    unknown.write_text("[resources]\nunobtainium = 5\n")
    one_line_error(
        invoke(world, *args, "--limits", unknown, token=world.delegate_token),
        2, "bad_limits", "limits.resources.unobtainium",
    )  # fmt: skip
    # Asking for a variant of a period past its proposing stage: the stage is named.
    one_line_error(
        invoke(world, "period", "compute", world.deciding, "--name", "late",
               token=world.delegate_token),
        1, "not_proposing", "proposing_closes_at",
    )  # fmt: skip
    one_line_error(invoke(world, "period", "status", 99), 1, "no_such_period", "period_id")
    store = world.store()
    try:
        assert store.audit_head() == head  # nothing was done
    finally:
        store.dispose()


# -- period compute, work ----------------------------------------------------------------------


def test_compute_wait_computes_here_and_prints_the_summary(world, tmp_path):
    result = invoke(
        world, "period", "compute", world.proposing, "--name", "least-labour", "--wait",
        "--worker", "operator-shell", token=world.delegate_token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        (variant,) = s.list_variants(store, world.proposing)
    finally:
        store.dispose()
    assert variant.status == "done" and variant.worker == "operator-shell"
    assert variant.requested_by == world.town.delegate["bakery"]
    text = " ".join(result.output.split())
    assert f"variant {variant.id} 'least-labour' of period {world.proposing} queued" in text
    assert f"{variant.summary['total_labour']:,.0f} hours" in text
    assert variant.plan_digest in text and "optimal" in text
    assert "cannot be met" not in text

    # Too few general hours for the needs: the shortfall is printed, naming what falls short.
    scarce = tmp_path / "scarce.json"
    scarce.write_text(json.dumps({"labour": {"general": "300000"}}))
    result = invoke(
        world, "period", "compute", world.proposing, "--name", "scarce", "--constraints",
        scarce, "--wait", token=world.delegate_token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        scarce_variant = next(
            v for v in s.list_variants(store, world.proposing) if v.name == "scarce"
        )
    finally:
        store.dispose()
    short = scarce_variant.summary["shortfall"]
    assert short and "Needs that cannot be met" in result.output
    assert '{"labour": {"general": "300000"}}' in " ".join(result.output.split())
    assert str(short[0]["product"]) in result.output

    status = invoke(world, "period", "status", world.proposing)
    assert status.exit_code == 0, status.output
    assert "least-labour" in status.output and "scarce" in status.output
    shown = json.loads(invoke(world, "period", "status", world.proposing, "--json").output)
    assert {v["name"]: v["status"] for v in shown["variants"]} == {
        "least-labour": "done",
        "scarce": "done",
    }
    assert {st["council"] for st in shown["statements"]} == {
        "Bakery workers", "Clinic workers", "Riverside neighbourhood", "North neighbourhood",
        "South neighbourhood",
    }  # fmt: skip


def test_work_once_computes_what_is_queued_and_logs_each(tmp_path):
    world = build_world(tmp_path, variants_in_proposing=("first", "second"))
    result = invoke(world, "period", "work", "--once", "--worker", "w1")
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        variants = s.list_variants(store, world.proposing)
    finally:
        store.dispose()
    assert {v.name: (v.status, v.worker) for v in variants} == {
        "first": ("done", "w1"),
        "second": ("done", "w1"),
    }
    for v in variants:
        assert f"variant {v.id} '{v.name}': done" in result.output
    assert "2 variant(s) computed" in result.output
    again = invoke(world, "period", "work", "--once")
    assert again.exit_code == 0 and "0 variant(s) computed" in again.output


def test_compute_wait_computes_what_was_queued_before_first(tmp_path):
    world = build_world(tmp_path, variants_in_proposing=("earlier",))
    result = invoke(
        world, "period", "compute", world.proposing, "--name", "mine", "--wait",
        token=world.delegate_token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        variants = {v.name: v for v in s.list_variants(store, world.proposing)}
    finally:
        store.dispose()
    assert {v.status for v in variants.values()} == {"done"}
    assert variants["earlier"].finished_at <= variants["mine"].started_at
    text = " ".join(result.output.split())
    assert f"computed variant {variants['earlier'].id} 'earlier' of period" in text
    assert f"Variant {variants['mine'].id} 'mine'" in text


def test_the_worker_thread_and_the_requests_share_sqlite(tmp_path):
    """A worker thread on a store of its own (as `serve` runs it) computes while requests on
    the API's store write: both wait their turn for SQLite's writer, none fails."""
    import threading

    from fastapi.testclient import TestClient

    from councilplan.web.app import create_app

    names = tuple(f"v{i}" for i in range(6))
    world = build_world(tmp_path, variants_in_proposing=names)
    api_store, worker_store = world.store(), world.store()
    stop, computed = threading.Event(), []
    errors: list[BaseException] = []
    thread = threading.Thread(
        target=s.run_jobs,
        args=(worker_store,),
        kwargs={
            "worker": "thread",
            "stop": stop,
            "idle_seconds": 0.05,
            "on_computed": lambda v, _s: computed.append(v.name),
            "on_error": errors.append,
        },
    )
    codes = []
    try:
        with TestClient(create_app(api_store, close_every_s=None)) as client:
            thread.start()
            while len(computed) < len(names):
                # Each login writes a token and its record entry, as the worker writes its own.
                r = client.post("/api/tokens", json={"username": "kim", "password": "demo"})
                codes.append(r.status_code)
                assert len(codes) < 2000, "the worker did not finish"
    finally:
        stop.set()
        thread.join()
        api_store.dispose()
        worker_store.dispose()
    assert errors == [] and sorted(computed) == sorted(names)
    assert set(codes) == {201} and len(codes) >= 2
    store = world.store()
    try:
        assert {v.status for v in s.list_variants(store, world.proposing)} == {"done"}
        assert store.verify_record().ok
    finally:
        store.dispose()


# -- period adopt, plan --from-record ----------------------------------------------------------


def test_adopt_opens_the_ballot_and_the_plan_is_recomputed_from_the_record(world):
    result = invoke(
        world, "period", "adopt", world.deciding, "--closes-in-days", 3,
        token=world.delegate_token,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    store = world.store()
    try:
        period = s.get_period(store, world.deciding)
        ballot = s.get_ballot(store, period.adoption_ballot_id)
        assert ballot.purpose == "adoption" and ballot.rule == "schulze"
        assert set(ballot.options) == {"least-labour", "generous"}
        text = " ".join(result.output.split())
        assert f"Adoption ballot {ballot.id} for period {world.deciding}" in text
        assert f"POST /api/ballots/{ballot.id}/votes" in text
        for account in world.town.delegate.values():
            s.cast_vote(
                store, ballot_id=ballot.id, voter_id=account, choice=["generous", "least-labour"]
            )
        s.close_ballot(store, ballot_id=ballot.id, now=ballot.closes_at + timedelta(minutes=1))
        adopted = s.get_period(store, world.deciding)
    finally:
        store.dispose()
    assert adopted.status == "adopted"
    one_line_error(
        invoke(world, "period", "adopt", world.proposing, "--closes-in-days", 3,
               token=world.delegate_token),
        1, "not_deciding",
    )  # fmt: skip

    status = invoke(world, "period", "status", world.deciding)
    assert "generous (variant" in " ".join(status.output.split())

    again = runner.invoke(
        app, ["plan", "--from-record", str(world.deciding), "--data-dir", str(world.data_dir)]
    )
    assert again.exit_code == 0, again.output
    assert again.output.count("the same") == 2
    assert adopted.plan_digest in again.output
    assert "every variant re-computed from the record has its recorded digests" in again.output


def test_plan_from_record_names_a_variant_that_differs(world):
    # An operator with the database switches the guard off and edits a computed variant.
    connection = sqlite3.connect(world.data_dir / "councilplan.sqlite")
    with connection:
        connection.execute("DROP TRIGGER variants_computed")
        connection.execute(
            "UPDATE variants SET plan_digest = ? WHERE name = 'generous'", ("0" * 64,)
        )
    connection.close()
    result = runner.invoke(
        app, ["plan", "--from-record", str(world.deciding), "--data-dir", str(world.data_dir)]
    )
    assert result.exit_code == 1, result.output
    text = result.output
    assert "generous (variant" in text and "DIFFERS" in text
    assert "0" * 64 in text and "<- differs" in text
    assert "differs from the record: generous" in " ".join(text.split())


def test_plan_takes_a_bundle_or_from_record_not_both_nor_neither(world, tmp_path):
    data = ["--data-dir", str(world.data_dir)]
    both = runner.invoke(app, ["plan", str(DEMO_BUNDLE), "--from-record", "2", *data])
    one_line_error(both, 2, "either a bundle", "--from-record 2", "not both")
    neither = runner.invoke(app, ["plan", "--out", str(tmp_path / "out")])
    one_line_error(neither, 2, "give the economy bundle", "--from-record PERIOD")
    extra = runner.invoke(app, ["plan", "--from-record", "2", "--needs", "n.csv", *data])
    one_line_error(extra, 2, "--needs is for planning a bundle")
    missing = runner.invoke(app, ["plan", "--from-record", "99", *data])
    one_line_error(missing, 1, "no_such_period")


# -- the demo, through the acts ----------------------------------------------------------------


def test_the_demo_runs_the_cycle_through_the_acts_and_its_record_verifies(tmp_path):
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for said in (
        "voted yes in ballot",
        "North neighbourhood: needs for 30 products",
        "North neighbourhood answered round 1 itself",
        "balanced after",
        "Decided:",
        "Bakery workers: targets",
        "North neighbourhood: needs and what it gets",
        "re-computed from the record, has the same digest",
        "intact, every table following from it",
    ):
        assert said in text, said
    store = open_store(default_url(tmp_path))
    try:
        (period,) = s.list_periods(store, s.list_councils(store)[-1].id)
        variants = {v.name: v for v in s.list_variants(store, period.id)}
        ballot = s.get_ballot(store, period.adoption_ballot_id)
        log = store.verify_record()
    finally:
        store.dispose()
    assert period.status == "adopted" and log.ok
    assert set(variants) == {"least-labour", "low-carbon", "rounds"}
    assert {v.worker for v in variants.values()} == {"demo"}  # the job runner computed them
    assert variants["low-carbon"].constraints == {"resources": {"co2": "17000"}}
    (winner,) = ballot.tally["winners"]
    assert period.plan_digest == variants[winner].plan_digest
    assert period.adopted_at < datetime.now(UTC) - 6 * DAY  # simulated time, in the past
    assert f"has the same digest: {period.plan_digest}" in text

    status = runner.invoke(app, ["period", "status", str(period.id), "--data-dir", str(tmp_path)])
    assert status.exit_code == 0 and "adopted" in status.output
    again = runner.invoke(
        app, ["plan", "--from-record", str(period.id), "--data-dir", str(tmp_path)]
    )
    assert again.exit_code == 0 and again.output.count("the same") == 3, again.output
    verify = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert verify.exit_code == 0 and "intact" in verify.output, verify.output


def test_a_missing_database_is_named_and_not_created(tmp_path):
    data_dir = tmp_path / "data"
    for args in (["period", "status", "1"], ["period", "work", "--once"]):
        result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
        one_line_error(result, 2, str(data_dir / "councilplan.sqlite"), "db upgrade")
    assert not data_dir.exists()
