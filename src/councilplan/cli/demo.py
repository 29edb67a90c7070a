"""`councilplan demo`: the shipped demo economy and its councils, end to end.

After the economy and its labour values, the demo runs a whole planning period through the
service's acts, the ones the API and `councilplan period` call: the federation opens the
period by ballot, the neighbourhoods state their needs and the workplaces their techniques,
delegates ask for plan variants, the job runner computes them, the councils go through the
participatory rounds, the federation adopts one variant by a Schulze ballot, and the plan is
computed again from the record. Then a working week against the adopted plan: each workplace
council records its members' hours, members draw goods (one draw undone), and the accounts,
the funds and the levy are printed. Acts need times: the demo runs in simulated time (each act
is given ``now=``), a period of about eighty days that ends a week before today, and the week
after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

from councilplan.cli import report_equality
from councilplan.cli.common import console, fail, reason, rule

#: How each council's delegate ranks the variants in the adoption ballot, as its mandate
#: says (the demo's councils differ: the workplaces put hours first, two neighbourhoods the
#: climate, the North its own proposals in the rounds).
DEMO_RANKINGS = {
    "bakery": ["least-labour", "rounds", "low-carbon"],
    "clinic": ["least-labour", "low-carbon", "rounds"],
    "neighbourhood": ["low-carbon", "rounds", "least-labour"],
    "north": ["rounds", "low-carbon", "least-labour"],
    "south": ["low-carbon", "least-labour", "rounds"],
}
#: The low-carbon variant caps CO2 at this share of the town's limit.
LOW_CARBON_SHARE = 0.68
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
#: Accounts read as nobody in particular (no account has id 0): persons shown by number.
NOBODY = 0
#: What each kind of fund's balance shows, in the demo's table of funds.
FUND_SAYS = {
    "materials_fund": "hours for the workplace's planned inputs",
    "means_fund": "hours for its means of production",
    "common_fund": "the levy: for public goods and the reserves",
    "goods": "hours drawn by members and workplaces",
    "issue": "what the adopted plan issued",
}


def demo(
    data_dir: Path = typer.Option(
        Path("."),
        "--data-dir",
        help="Folder for the demo's SQLite database (councilplan.sqlite, which `councilplan "
        "serve` then serves).",
    ),
) -> None:
    """Run councilplan on the shipped demo town: its labour values, then a planning period
    through the councils' acts (statements, variants, rounds, the federation's vote)."""
    import numpy as np
    from rich.table import Table

    from councilplan.economy import load_demo
    from councilplan.planning import labour_values

    database_url = _demo_database(data_dir)
    economy = load_demo()
    console.print(rule("The demo town", economy.description or economy.name))
    limits = Table(title="Labour and nature the town can give in a year", title_justify="left")
    for name in ("kind", "id", "limit", "unit"):
        limits.add_column(name, justify="right" if name == "limit" else "left")
    for kind, ids, caps, units in (
        ("labour", economy.labour_ids, economy.labour_limits, economy.labour_units),
        ("resource", economy.resource_ids, economy.resource_limits, economy.resource_units),
    ):
        for i, cap, unit in zip(ids, caps, units, strict=True):
            limits.add_row(kind, str(i), f"{cap:,.6g}", str(unit))
    console.print(
        f"{economy.n_products} products, {economy.n_techniques} techniques, "
        f"{economy.nnz} input coefficients"
    )
    console.print(limits)

    console.print(rule("Labour values", "hours embodied per unit"))
    values_result = labour_values(economy)
    table = Table(show_header=True, box=None, padding=(0, 2))
    for name in ("product", "unit", "hours per unit", "technique"):
        table.add_column(name, justify="right" if name == "hours per unit" else "left")
    for i in np.argsort(-values_result.values):
        table.add_row(
            str(economy.product_ids[i]),
            str(economy.product_units[i]),
            f"{values_result.values[i]:,.4g}",
            str(economy.technique_ids[values_result.choice[i]]),
        )
    console.print(table)
    console.print(
        f"method {values_result.method}, residual {values_result.residual:.1e}, "
        f"{values_result.seconds * 1000:.1f} ms"
    )
    embodied = dict(zip(map(str, economy.product_ids), values_result.values, strict=True))
    _demo_period(database_url, data_dir, economy, embodied)


#: The demo town's federation (councils.service.create_demo_town): marks the demo's database.
DEMO_FEDERATION = "Town planning federation"


def _demo_database(data_dir: Path) -> str:
    """The URL of the demo's SQLite file in ``data_dir``, removed if an earlier demo made it;
    refused if something else is there, so the demo never overwrites a real database."""
    from councilplan.councils import service
    from councilplan.store import default_url, open_store

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot write --data-dir {data_dir}: {reason(error)}")
    url = default_url(data_dir)
    database = Path(url.removeprefix("sqlite:///"))
    if database.exists():
        try:
            store = open_store(url)
            names = {c.name for c in service.list_councils(store)}
            store.dispose()
        except Exception:  # noqa: BLE001 - any unreadable file is reported the same way
            names = set()
        if DEMO_FEDERATION not in names:
            fail(
                f"{database} holds something other than the demo's database; run the demo with "
                "--data-dir pointing to another folder"
            )
        database.unlink()  # the demo's own database from an earlier run: start afresh
    return url


def _clock(start: datetime) -> Callable[[], datetime]:
    """Simulated time for the job runner: ``start`` plus the real time since."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def _run_queued(store, at: datetime) -> list:
    """The job runner, as a worker runs it, until nothing is queued; the variants computed."""
    from councilplan.councils import service

    clock, computed = _clock(at), []
    while (variant := service.run_next_job(store, worker="demo", now=clock)) is not None:
        computed.append(variant)
    return computed


def _open_round_id(store, period_id: int) -> int | None:
    """The id of the period's open round, if any."""
    from councilplan.councils import service

    latest = service.current_round(store, period_id)
    return latest.id if latest is not None and latest.status == "open" else None


@dataclass(frozen=True)
class _Town:
    """The demo town as the period's acts need it: its store, councils by key, each council's
    delegate to the federation (a Delegate), account and council names."""

    store: Any
    councils: dict[str, int]
    delegate: dict[str, Any]
    names: dict[int, str]
    council_name: dict[int, str]

    def actor(self, key: str) -> int:
        return self.delegate[key].account_id


def _demo_period(url: str, data_dir: Path, economy, embodied: dict[str, float]) -> None:
    """Create the demo town's councils in the SQLite file at ``url`` and take a planning period
    through its acts; print what each stage did, what was decided and what the plan means."""
    from councilplan.councils import service
    from councilplan.store import open_store

    database = url.removeprefix("sqlite:///")
    store = open_store(url)
    try:
        today = datetime.now(UTC).replace(second=0, microsecond=0)
        t0 = today - 80 * DAY  # the period is proposed; it is decided a week before today
        made = service.create_demo_town(store, now=t0)
        councils = made["councils"]
        town = _Town(
            store,
            councils,
            {
                key: service.delegates(
                    store, federation_id=councils["federation"], council_id=council
                )[0]
                for key, council in councils.items()
                if key != "federation"
            },
            {account: name for name, account in made["accounts"].items()},
            {c.id: c.name for c in service.list_councils(store)},
        )
        period = _open_period(town, economy, t0)
        _state(town, period, at=t0 + 4 * DAY)
        report_equality.demo_sections(store, made, at=t0 + 4 * DAY + HOUR)
        _variants_and_rounds(town, period, economy, at=period.stating_closes_at + HOUR)
        period = _adopt(town, period, at=period.proposing_closes_at + HOUR)
        if period.status == "adopted":
            _print_targets(town, period, embodied)
            units = dict(zip(map(str, economy.product_ids), economy.product_units, strict=True))
            _ledger_week(town, period, units, start=period.adopted_at)
        _recompute(town, period)
        report_equality.demo_equality(store, period.id, data_dir)
        seq, head = store.audit_head()
        verified = store.verify_record()  # the chain, and the tables against it
    finally:
        store.dispose()
    console.print(
        f"The record: {seq} acts, chain head {head[:16]}..., "
        f"{'intact, every table following from it' if verified.ok else 'BROKEN'} ({database})"
    )
    console.print(
        Text.assemble(
            "Next: ",
            (f"councilplan serve --data-dir {data_dir}", "bold"),
            " and sign in at http://127.0.0.1:8000/ as any demo member, e.g. ada or ivy "
            "(password: demo); ",
            (f"councilplan period status {period.id} --data-dir {data_dir}", "bold"),
            " shows the period; ",
            (f"councilplan ledger levy {period.id} --data-dir {data_dir}", "bold"),
            " its levy; ",
            (f"councilplan plan --from-record {period.id} --data-dir {data_dir}", "bold"),
            " re-computes its plans; ",
            (f"councilplan audit verify --data-dir {data_dir}", "bold"),
            " checks the record.",
        )
    )


def _open_period(town: _Town, economy, t0: datetime):
    """The bakery's delegate keeps the demo bundle and proposes the period at ``t0``; every
    delegate votes yes; the ballot closes three days later and the period opens."""
    from councilplan.councils import service
    from councilplan.councils.service.demo import DEMO_PUBLIC_GOODS, DEMO_RESERVE_HOURS
    from councilplan.economy import DEMO_BUNDLE
    from councilplan.economy.archive import pack_bundle

    console.print(rule("A planning period", "the federation opens it by ballot"))
    store, proposer = town.store, town.actor("bakery")
    bundle = service.add_bundle(
        store, actor_id=proposer, name=economy.name, archive=pack_bundle(DEMO_BUNDLE), now=t0 - HOUR
    )
    year = t0.year + 1
    period = service.propose_period(
        store,
        federation_id=town.councils["federation"],
        actor_id=proposer,
        title=f"The town's plan for {year}",
        bundle_digest=bundle.digest,
        starts_on=date(year, 1, 1),
        ends_on=date(year, 12, 31),
        ballot_closes_at=t0 + 3 * DAY,
        stating_closes_at=t0 + 10 * DAY,
        proposing_closes_at=t0 + 70 * DAY,  # room for the rounds, a round a day
        deciding_closes_at=t0 + 80 * DAY,
        rounds={"round_hours": 24, "max_rounds": 60},
        public_goods=DEMO_PUBLIC_GOODS,
        reserve_hours=DEMO_RESERVE_HOURS,
        now=t0,
    )
    for seat in town.delegate.values():
        service.cast_vote(
            store, ballot_id=period.ballot_id, voter_id=seat.account_id, choice="yes", now=t0
        )
    opened = service.close_ballot(store, ballot_id=period.ballot_id, now=t0 + 3 * DAY)
    period = service.get_period(store, period.id, now=t0 + 3 * DAY)
    console.print(
        f"{town.names[proposer]}, the bakery's delegate, proposed period {period.id} "
        f"({period.title}) on the demo bundle (sha256 {bundle.digest[:16]}...); the "
        f"federation's {len(town.delegate)} delegates voted yes in ballot {opened.id}: "
        f"{period.status}. Free at the point of use, paid by the levy: "
        f"{', '.join(period.public_goods)}; {float(period.reserve_hours):,.0f} hours set "
        "aside for common reserves.",
        highlight=False,
    )
    return period


def _state(town: _Town, period, at: datetime) -> None:
    """The neighbourhoods state their needs (the demo needs file), the workplaces their
    techniques and hours, each through its delegate."""
    from councilplan.councils import service
    from councilplan.councils.service.demo import DEMO_HOURS, DEMO_TECHNIQUES, demo_needs

    console.print(rule("The councils state", "needs and techniques, through their delegates"))
    for key, rows in demo_needs().items():
        service.state_needs(
            town.store,
            period_id=period.id,
            council_id=town.councils[key],
            actor_id=town.actor(key),
            needs=rows,
            now=at,
        )
    for key, techniques in DEMO_TECHNIQUES.items():
        service.state_techniques(
            town.store,
            period_id=period.id,
            council_id=town.councils[key],
            actor_id=town.actor(key),
            techniques=techniques,
            hours=DEMO_HOURS[key],
            now=at,
        )
    for statement in service.list_statements(town.store, period_id=period.id):
        content = statement.content
        if statement.kind == "needs":
            said = f"needs for {len(content['needs'])} products"
        else:
            runs = ", ".join(
                t["technique"] + (f" (at most {t['capacity']})" if "capacity" in t else "")
                for t in content["techniques"]
            )
            offered = ", ".join(f"{float(h['hours']):,.0f} {h['labour']}" for h in content["hours"])
            said = f"runs {runs}; offers {offered} hours"
        console.print(f"  {town.council_name[statement.council_id]}: {said}", highlight=False)


def _north_answer(prices) -> dict:
    """What the North asks for in a round, itself: what the neighbourhoods stated, its own
    needs of the goods for households and the town's stated needs of the public goods."""
    from councilplan.councils.service.demo import demo_needs

    needs = demo_needs()
    town_needs: dict[str, float] = {}
    for rows in needs.values():
        for row in rows:
            town_needs[row["product"]] = town_needs.get(row["product"], 0.0) + float(
                row["quantity"]
            )
    own: dict[str, float] = {}
    for row in needs["north"]:
        own[row["product"]] = own.get(row["product"], 0.0) + float(row["quantity"])
    asked = {}
    for label in prices:
        product, _, kind = label.partition(" (")
        if kind == "households)":
            asked[label] = own.get(product, 0.0)
        elif kind == "public)":
            asked[label] = town_needs.get(product, 0.0)
    return {"demands": asked}


def _variants_and_rounds(town: _Town, period, economy, at: datetime) -> None:
    """Delegates ask for the least-labour and low-carbon variants, which the job runner
    computes; the rounds run a round a day (the North answers the first itself) and their
    outcome is computed as the variant "rounds"."""
    from councilplan.councils import service

    console.print(rule("Plan variants", "asked for by delegates, computed by the job runner"))
    store = town.store
    co2 = list(economy.resource_ids).index("co2")
    cap = LOW_CARBON_SHARE * float(economy.resource_limits[co2])
    service.request_variant(
        store, period_id=period.id, actor_id=town.actor("bakery"), name="least-labour", now=at
    )
    service.request_variant(
        store,
        period_id=period.id,
        actor_id=town.actor("north"),
        name="low-carbon",
        constraints={"resources": {"co2": f"{cap:g}"}},
        now=at,
    )
    _run_queued(store, at + HOUR)

    first = service.open_rounds(store, period_id=period.id, actor_id=town.actor("bakery"), now=at)
    service.answer_round(
        store,
        round_id=first.id,
        council_id=town.councils["north"],
        actor_id=town.actor("north"),
        answer=_north_answer(first.prices),
        now=first.opened_at + 12 * HOUR,
    )
    round_id, closes = first.id, first.closes_at
    while round_id is not None:  # each round closed at its time, as anyone may ask
        closed = service.close_round(store, round_id=round_id, now=closes)
        round_id = _open_round_id(store, period.id)
        if round_id is not None:
            closes += closed.closes_at - closed.opened_at
    _run_queued(store, closes + HOUR)

    variants = {v.name: v for v in service.list_variants(store, period.id)}
    asked_by = {
        seat.account_id: f"{town.names[seat.account_id]} ({key})"
        for key, seat in town.delegate.items()
    }
    _print_variants(variants, asked_by)
    console.print(
        f"low-carbon caps CO2 at {cap:,.0f} t ({LOW_CARBON_SHARE:g} of the town's limit); "
        "rounds is the least-labour plan for what the councils' last proposals in the "
        "participatory rounds make for use.",
        highlight=False,
    )
    console.print(rule("Participatory rounds", "councils answer prices until it balances"))
    console.print(
        f"{town.council_name[town.councils['north']]} answered round 1 itself (what the "
        "neighbourhoods stated); every other answer was the council's calibrated response.",
        highlight=False,
    )
    for line in variants["rounds"].summary["rounds"]["report"]:
        console.print(line, highlight=False)


def _adopt(town: _Town, period, at: datetime):
    """The adoption ballot over the computed variants, each delegate ranking them as her
    council's mandate says; the period as its close leaves it."""
    from councilplan.councils import service

    console.print(rule("The councils decide", "the federation votes on the plan variants"))
    store = town.store
    ballot = service.open_adoption(
        store, period_id=period.id, actor_id=town.actor("bakery"), closes_at=at + 3 * DAY, now=at
    )
    for i, (key, seat) in enumerate(town.delegate.items()):
        ranking = [name for name in DEMO_RANKINGS[key] if name in ballot.options]
        service.cast_vote(
            store,
            ballot_id=ballot.id,
            voter_id=seat.account_id,
            choice=ranking,
            now=at + (2 + i) * HOUR,
        )
        weight = (ballot.weights or {}).get(str(town.councils[key]), 1)
        console.print(
            f"  {town.council_name[town.councils[key]]} ({weight} members): {' > '.join(ranking)}",
            highlight=False,
        )
    closed = service.close_ballot(store, ballot_id=ballot.id, now=at + 3 * DAY)
    tally = closed.tally or {}
    decided = tally.get("explanation", tally.get("outcome", "?"))
    console.print(
        f"{len(town.delegate)} delegates voted (weighted by their councils' members), Schulze "
        "method."
    )
    console.print(Text.assemble(("Decided:", "bold"), f" {decided}"), highlight=False)
    return service.get_period(store, period.id, now=at + 3 * DAY)


def _recompute(town: _Town, period) -> None:
    """Every computed variant again from the record alone, its digests against those kept."""
    from councilplan.councils import service

    console.print(rule("The record", "the plan computed again from the record alone"))
    again = service.recompute_period(town.store, period.id)
    for r in again:
        same = "the same digests" if r.matches else "DIFFERENT digests"
        console.print(
            f"  {r.name}: inputs {r.inputs_digest[:16]}..., plan {r.plan_digest[:16]}...: {same}",
            highlight=False,
        )
    if period.plan_digest is not None:
        adopted = next(r for r in again if r.recorded_plan_digest == period.plan_digest)
        console.print(
            f"The adopted plan ({adopted.name}), re-computed from the record, has "
            f"{'the same digest' if adopted.matches else 'ANOTHER digest'}: "
            f"{adopted.plan_digest}",
            highlight=False,
            soft_wrap=True,
        )


def _print_variants(variants: dict, names: dict[int, str]) -> None:
    from rich.table import Table

    least = float(variants["least-labour"].summary["total_labour"])
    table = Table(box=None, padding=(0, 1))
    columns = ("variant", "asked by", "status", "hours", "vs least", "CO2 t", "short")
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:3] else "right", no_wrap=True)
    for v in variants.values():
        s = v.summary or {}
        asked_by = names.get(v.requested_by, "?") if v.requested_by else "the rounds"
        if v.status != "done":
            table.add_row(v.name, asked_by, f"{v.status}: {v.error}", "", "", "", "")
            continue
        total = float(s["total_labour"])
        table.add_row(
            v.name,
            asked_by,
            s["status"],
            f"{total:,.0f}",
            f"{100 * (total / least - 1):+.2f}%",
            f"{float(s['resources'].get('co2', 0)):,.0f}",
            str(s["shortfalls"]),
        )
    console.print(table)


def _print_targets(town: _Town, period, embodied: dict[str, float]) -> None:
    """The bakery's targets, the North's needs against what it gets, the plan's values."""
    from rich.table import Table

    from councilplan.councils import service

    store, councils, council_name = town.store, town.councils, town.council_name

    console.print(rule("What the plan means", "for the bakery, for the North neighbourhood"))
    bakery = service.council_targets(store, period_id=period.id, council_id=councils["bakery"])
    table = Table(title=f"{council_name[councils['bakery']]}: targets", title_justify="left")
    for column in ("technique", "product", "output", "activity"):
        table.add_column(column, justify="left" if column in ("technique", "product") else "right")
    for t in bakery.workplace["techniques"]:
        table.add_row(
            t["technique"],
            t["product"],
            f"{float(t['output']):,.6g}",
            f"{float(t['activity']):,.6g}",
        )
    console.print(table)
    hours = ", ".join(f"{float(h):,.0f} {kind}" for kind, h in bakery.workplace["hours"].items())
    console.print(
        f"hours of labour: {hours}; draws {len(bakery.workplace['inputs'])} inputs",
        highlight=False,
    )

    north = service.council_targets(store, period_id=period.id, council_id=councils["north"])
    rows = sorted(north.consumption, key=lambda r: (-float(r["priority"]), r["product"]))
    table = Table(
        title=f"{council_name[councils['north']]}: needs and what it gets", title_justify="left"
    )
    for column in ("product", "priority", "need", "gets"):
        table.add_column(column, justify="left" if column == "product" else "right")
    shown = 10
    for r in rows[:shown]:
        table.add_row(
            r["product"],
            f"{float(r['priority']):g}",
            f"{float(r['need']):,.6g}",
            f"{float(r['met']):,.6g}",
        )
    console.print(table)
    met = sum(1 for r in rows if float(r["met"]) >= float(r["need"]) * (1 - 1e-9))
    rest = f"... and {len(rows) - shown} more; " if len(rows) > shown else ""
    console.print(f"{rest}{met} of {len(rows)} needs met in full", highlight=False)

    values = service.plan_values(store, period_id=period.id)["values"]
    console.print(rule("The plan's labour values", "hours per unit, with what the plan costs"))
    table = Table(box=None, padding=(0, 2))
    for column in ("product", "in the plan", "embodied"):
        table.add_column(column, justify="left" if column == "product" else "right")
    for product, hours in sorted(values.items(), key=lambda kv: -float(kv[1]))[:8]:
        table.add_row(product, f"{float(hours):,.4g}", f"{embodied.get(product, 0.0):,.4g}")
    console.print(table)
    console.print(
        "A product's value in the plan adds to the hours it embodies what its use of the "
        "limits that bind (CO2, land, capacity) costs in hours elsewhere.",
        highlight=False,
    )


def _ledger_week(town: _Town, period, units: dict[str, str], start: datetime) -> None:
    """A working week against the adopted plan, from ``start``: each workplace council records
    its members' hours (its delegate a sheet of the others', another member the delegate's),
    members draw goods and one undoes a mistaken draw; then the levy, the members' accounts,
    the funds, and that all accounts add up to zero."""
    from rich.table import Table

    from councilplan.councils import service
    from councilplan.councils.service.demo import (
        DEMO_DRAWS,
        DEMO_MISTAKE,
        DEMO_WEEK,
        ledger_balances,
    )

    store = town.store
    account = {name: account_id for account_id, name in town.names.items()}
    console.print(rule("Labour-time accounts", "a working week against the adopted plan"))
    levy = service.get_levy(store, period_id=period.id)
    console.print(
        f"The levy on every hour recorded: {levy.percent}.", highlight=False, soft_wrap=True
    )
    for line in levy.lines:
        if line.startswith(("public goods:", "levy rate")):
            console.print(f"  {line}", highlight=False, soft_wrap=True)

    friday = start + 5 * DAY
    for key, week in DEMO_WEEK.items():
        workplace = town.councils[key]
        recorder = town.actor(key)
        colleague = next(account[n] for n in week if account[n] != recorder)
        sheet = [
            {"member_id": account[name], "hours": hours, "note": "the week's sheet"}
            for name, hours in week.items()
            if account[name] != recorder
        ]
        own = [
            {"member_id": recorder, "hours": week[town.names[recorder]], "note": "by a co-worker"}
        ]
        service.record_hours_batch(
            store, workplace_id=workplace, entries=sheet, actor_id=recorder, now=friday
        )
        service.record_hours_batch(
            store, workplace_id=workplace, entries=own, actor_id=colleague, now=friday
        )
        total = sum(float(h) for h in week.values())
        console.print(
            f"{town.council_name[workplace]}: {town.names[recorder]} recorded the week's sheet "
            f"of {len(sheet)} co-workers and {town.names[colleague]} recorded "
            f"{town.names[recorder]}'s hours (nobody records her own): {total:,.1f} hours "
            "worked.",
            highlight=False,
        )

    saturday = start + 6 * DAY
    table = Table(title="Goods drawn at the plan's labour values", title_justify="left")
    for column in ("member", "product", "quantity", "hours"):
        table.add_column(column, justify="right" if column in ("quantity", "hours") else "left")
    for i, (name, product, quantity) in enumerate(DEMO_DRAWS):
        act = service.draw_goods(
            store,
            member_id=account[name],
            product=product,
            quantity=quantity,
            now=saturday + i * 10 * MINUTE,
        )
        table.add_row(name, product, f"{quantity} {units[product]}", act.transfers[0].amount)
    name, product, drawn, meant = DEMO_MISTAKE
    at = saturday + HOUR * 2
    wrong = service.draw_goods(
        store, member_id=account[name], product=product, quantity=drawn, now=at
    )
    service.reverse_transfer(
        store,
        tid=wrong.transfers[0].tid,
        reason=f"keyed in {drawn} for {meant}",
        actor_id=account[name],
        now=at + 5 * MINUTE,
    )
    right = service.draw_goods(
        store, member_id=account[name], product=product, quantity=meant, now=at + 6 * MINUTE
    )
    table.add_row(name, product, f"{meant} {units[product]}", right.transfers[0].amount)
    console.print(table)
    console.print(
        f"{name} first drew {drawn} {units[product]} of {product} ({wrong.transfers[0].amount} "
        f"h) for {meant}, and undid it: a reversal that cites the draw; nothing is deleted. "
        f"{', '.join(period.public_goods)} are never drawn: free at the point of use.",
        highlight=False,
    )
    _print_accounts(town, ledger_balances(store))


def _print_accounts(town: _Town, balances: dict) -> None:
    """The members' accounts as every member reads them (by number), the funds, and the sum
    over all accounts."""
    from rich.table import Table

    from councilplan.councils import service
    from councilplan.ledger import show

    members = {k: v for k, v in balances.items() if k.startswith("member:#")}
    console.print(
        "Members' accounts, as every member reads them (a person by her account's number):",
        highlight=False,
    )
    table = Table()
    for column in ("account", "hours in", "hours out", "balance"):
        table.add_column(column, justify="left" if column == "account" else "right")
    for key, hours in members.items():
        account = service.ledger_account(town.store, key=key, viewer_id=NOBODY, limit=500)
        moved = {True: Decimal(0), False: Decimal(0)}
        for t in account.transfers:
            moved[t.credit == account.shown] += Decimal(t.amount.replace(",", ""))
        table.add_row(key, show(moved[True]), show(moved[False]), show(hours))
    console.print(table)
    table = Table(title="Funds", title_justify="left")
    for column in ("account", "hours", "what it shows"):
        table.add_column(column, justify="right" if column == "hours" else "left")
    for key, hours in balances.items():
        if key in members:
            continue
        kind = key.split(":")[0]
        if kind == "labour_fund":
            fund = service.ledger_account(town.store, key=key, viewer_id=NOBODY, limit=500)
            issued = sum(
                Decimal(t.amount.replace(",", "")) for t in fund.transfers if t.kind == "allotment"
            )
            said = (
                f"{town.council_name[int(key.split(':')[1])]}: {show(issued - hours)} h of "
                f"the plan's {show(issued)} h paid out (credited and levied), "
                + ("within plan" if hours >= 0 else f"{show(-hours)} h over plan")
            )
        else:
            said = FUND_SAYS.get(kind, "")
        table.add_row(key, show(hours), said)
    console.print(table)
    total = sum(balances.values(), Decimal(0))
    console.print(
        f"All {len(balances)} accounts together: {show(total)} h. Every hour in an account came "
        "from another: the issue account is below zero by what the plan put into circulation.",
        highlight=False,
    )
