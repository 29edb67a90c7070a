"""The pages without a browser: CSRF on every form, cookie flags, the content security policy,
refusals shown as pages, and the Spanish and Russian catalogues complete (the end-to-end tests
in tests/e2e drive the same pages in Chromium)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from councilplan.web.app import create_app
from councilplan.web.pages import base
from planning_setup import demo_town

LOCALE = Path(base.LOCALES)


@pytest.fixture
def client(council_store):
    town = demo_town(council_store, hash_password=None)
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        c.town = town
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client, username="ada", password="demo"):
    page = client.get("/")
    r = client.post(
        "/signin",
        data={"csrf": csrf_of(page.text), "username": username, "password": password},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r


def test_signing_in_sets_a_httponly_lax_session_cookie_and_shows_my_councils(client):
    page = client.get("/")
    assert page.status_code == 200 and 'action="/signin"' in page.text
    double_submit = page.headers["set-cookie"].lower()
    assert "councilplan_csrf=" in double_submit and "samesite=strict" in double_submit
    assert "httponly" in double_submit
    r = sign_in(client)
    cookie = [h for h in r.headers.get_list("set-cookie") if "councilplan_session=" in h][0]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert "My councils" in home.text and "Riverside neighbourhood" in home.text
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY"


def test_a_form_without_its_token_is_refused_and_nothing_is_done(client):
    sign_in(client)
    hood = client.town.councils["neighbourhood"]
    before = client.get(f"/councils/{hood}").text.count("/ballots/")
    r = client.post(f"/councils/{hood}/motions", data={"title": "Sneaky", "text": "x"})
    assert r.status_code == 403 and "security token" in r.text
    r = client.post(
        f"/councils/{hood}/motions", data={"title": "Sneaky", "text": "x", "csrf": "0" * 64}
    )
    assert r.status_code == 403
    assert client.get(f"/councils/{hood}").text.count("/ballots/") == before
    # With the session's token the same form is acted on.
    token = csrf_of(client.get(f"/councils/{hood}").text)
    r = client.post(
        f"/councils/{hood}/motions",
        data={"title": "Open the pool on Sundays", "text": "From May.", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=motion_tabled" in r.headers["location"]


def test_a_cross_origin_post_with_the_session_cookie_is_refused(client):
    sign_in(client)
    hood = client.town.councils["neighbourhood"]
    token = csrf_of(client.get(f"/councils/{hood}").text)
    r = client.post(
        f"/councils/{hood}/motions",
        data={"title": "Sneaky", "text": "x", "csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "cross_origin"


def test_pages_for_members_send_the_signed_out_to_sign_in(client):
    r = client.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?next=/account"


def test_a_wrong_password_is_said_on_the_page(client):
    page = client.get("/")
    r = client.post(
        "/signin", data={"csrf": csrf_of(page.text), "username": "ada", "password": "nope"}
    )
    assert r.status_code == 401 and "username or password is wrong" in r.text


def test_a_refusal_is_a_page_naming_what_was_wrong(client):
    sign_in(client, "ivy")
    r = client.get("/ballots/999999")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "999999" in r.text


def test_sign_out_everywhere_ends_every_session(client):
    sign_in(client)
    other = TestClient(client.app)
    sign_in(other)
    token = csrf_of(client.get("/profile").text)
    r = client.post("/signout/everywhere", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert other.get("/account", follow_redirects=False).status_code == 303


def test_the_language_and_time_zone_are_the_members_choice(client):
    sign_in(client)
    token = csrf_of(client.get("/profile").text)
    client.post("/profile/settings", data={"csrf": token, "lang": "ru", "tz": "Asia/Tokyo"})
    home = client.get("/")
    assert '<html lang="ru">' in home.text and "Мои советы" in home.text
    assert "Asia/Tokyo" in home.text


@pytest.mark.parametrize("lang", ["es", "ru"])
def test_the_catalogues_translate_every_message_and_ship_compiled(lang):
    template = read_po((LOCALE / "messages.pot").open("rb"))
    po = read_po((LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb"))
    mo = read_mo((LOCALE / lang / "LC_MESSAGES" / "messages.mo").open("rb"))
    wanted = {m.id for m in template if m.id}
    assert wanted <= {m.id for m in po if m.id and m.string}, wanted - {m.id for m in po}
    for message in po:
        if message.id:
            assert mo[message.id].string == message.string, message.id
            assert sorted(re.findall(r"%\(\w+\)s", message.string)) == sorted(
                re.findall(r"%\(\w+\)s", message.id)
            ), message.id
            if lang == "ru" and message.id != "The API":  # not left in English or Spanish
                assert re.search("[а-яА-ЯёЁ]", message.string), (message.id, message.string)


def test_the_plan_shows_the_variants_and_draws_its_charts_as_svg(council_store):
    from planning_setup import adopted_plan

    town = demo_town(council_store, hash_password=None)
    period = adopted_plan(council_store, town)
    with TestClient(create_app(council_store, close_every_s=None)) as client:
        sign_in(client, "ivy")
        page = client.get(f"/plan/{period.id}")
        assert page.status_code == 200
        assert "least-labour" in page.text and "low-carbon" in page.text
        assert "What it means for Riverside neighbourhood" in page.text
        chart = client.get(f"/plan/{period.id}/charts/labour.svg")
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
        assert chart.text.lstrip().startswith("<?xml") and "<svg" in chart.text
        assert chart.headers["content-security-policy"].startswith("default-src 'none'")
        assert client.get(f"/plan/{period.id}/charts/nothing.svg").status_code == 404


def test_signing_up_opens_an_account_and_signs_her_in(client):
    page = client.get("/signup")
    fields = {"csrf": csrf_of(page.text), "username": "zoe", "display_name": "Zoe"}
    weak = client.post("/signup", data={**fields, "password": "zoe", "password_again": "zoe"})
    assert weak.status_code == 422 and 'role="alert"' in weak.text
    strong = "tram lines bloom in winter"
    r = client.post(
        "/signup",
        data={**fields, "password": strong, "password_again": strong},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/?said=welcome"
    home = client.get(r.headers["location"])
    assert "Hello, Zoe." in home.text and "Your account is open" in home.text


@pytest.fixture(scope="module")
def town_now(tmp_path_factory):
    """`councilplan demo` and what tests/e2e opens at the real time (tests/e2e/world.py)."""
    from councilplan.store import open_store
    from e2e.world import build

    world = build(tmp_path_factory.mktemp("town-now"))
    store = open_store(world.url)
    yield world, store
    store.dispose()


def test_a_newcomer_signs_up_asks_to_join_and_is_put_to_the_vote(town_now):
    world, store = town_now
    with TestClient(create_app(store, close_every_s=None)) as zoe, TestClient(zoe.app) as ivy:
        page = zoe.get("/signup")
        strong = "river boats carry bread at dawn"
        zoe.post(
            "/signup",
            data={"csrf": csrf_of(page.text), "username": "zoe", "display_name": "Zoe"}
            | {"password": strong, "password_again": strong},
        )
        hood = world.councils["riverside"]
        page = zoe.get("/councils")
        r = zoe.post(f"/councils/{hood}/join", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 200 and "You asked to join; the council decides." in r.text
        sign_in(ivy, "ivy")
        page = ivy.get(f"/councils/{hood}")
        assert "Asking to join" in page.text and "Zoe" in page.text
        application = re.search(r'name="application" value="(\d+)"', page.text).group(1)
        r = ivy.post(
            f"/councils/{hood}/admissions",
            data={"csrf": csrf_of(page.text), "application": application},
        )
        assert r.status_code == 200 and "The applications are put to the vote." in r.text
        assert "Cast my vote" in r.text  # ivy votes on it there
        assert "Asking to join" not in ivy.get(f"/councils/{hood}").text


def test_a_decision_made_final_too_early_is_refused_on_the_dispute_page(town_now):
    from councilplan.councils import service as svc

    world, store = town_now
    a = world.accounts
    case = svc.file_dispute(
        store,
        commission_id=world.commission,
        filer_id=a["bea"],
        subject="recorded_hours",
        target=world.bea_hours_tid,
        current_hours="40",
        claimed_hours="41",
        worker_id=a["bea"],
    ).dispute_id
    svc.hear_dispute(store, dispute_id=case, actor_id=a["cai"], present=[a["cai"], a["eve"]])
    for seat in ("cai", "eve"):
        svc.decide_dispute(store, dispute_id=case, actor_id=a[seat], hours="41", vote="yes")
    with TestClient(create_app(store, close_every_s=None)) as client:
        sign_in(client, "cai")
        page = client.get(f"/disputes/{case}")
        assert "Make it final" in page.text
        r = client.post(f"/disputes/{case}/final", data={"csrf": csrf_of(page.text)})
        assert r.status_code in (403, 409, 422) and 'role="alert"' in r.text
        assert svc.get_dispute(store, dispute_id=case, viewer_id=a["cai"]).state == "decided"
        r = client.post(f"/disputes/{case}/apply", data={"csrf": csrf_of(page.text)})
        assert r.status_code in (403, 409, 422) and 'role="alert"' in r.text


def test_each_counting_rule_reads_its_own_ballot_form():
    from types import SimpleNamespace

    from councilplan.web.pages.councils import read_choice

    p = SimpleNamespace(_=lambda message, **values: message % values if values else message)
    options = ("Friday", "Saturday", "Sunday")

    def ballot(rule):
        return SimpleNamespace(rule=rule, options=options)

    assert read_choice(p, ballot("yes_no"), {"choice": ["no"]})[0] == "no"
    assert read_choice(p, ballot("yes_no"), {})[1] == "Choose yes, no or abstain."
    approved = read_choice(p, ballot("approval"), {"approve": ["Sunday", "Friday"]})[0]
    assert approved == ["Sunday", "Friday"]
    for rule in ("schulze", "majority_runoff", "stv"):
        ranked = {"rank-0": ["2"], "rank-1": ["1"], "rank-2": [""]}
        assert read_choice(p, ballot(rule), ranked)[0] == ["Saturday", "Friday"]
        tied = {"rank-0": ["1"], "rank-1": ["1"], "rank-2": [""]}
        choice, problem, chosen = read_choice(p, ballot(rule), tied)
        assert choice is None and problem == "Give each rank to one option only."
        assert chosen["rank-0"] == "1"  # the form comes back as she filled it
        assert read_choice(p, ballot(rule), {})[1].startswith("Rank at least one option")


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/account", "/account"),
        ("//evil.example/", "/"),
        ("/\t/evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_after_signing_in_she_goes_only_to_a_page_of_this_site(asked, goes):
    from councilplan.web.pages.accounts import _safe_next

    assert _safe_next(asked) == goes


def test_a_member_draws_goods_and_her_balance_falls_by_their_labour_value(town_now):
    from decimal import Decimal

    from councilplan.councils import service as svc

    world, store = town_now
    before = Decimal(svc.my_ledger(store, account_id=world.accounts["bea"]).balance)
    with TestClient(create_app(store, close_every_s=None)) as client:
        sign_in(client, "bea")
        page = client.get("/account")
        assert "Draw goods" in page.text and 'value="bread"' in page.text
        assert 'value="health_care"' not in page.text  # a public good: free, never drawn
        too_much = client.post(
            "/account/draws", data={"csrf": csrf_of(page.text), "product": "bread", "quantity": "9"}
        )
        assert too_much.status_code in (403, 409, 422) and 'role="alert"' in too_much.text
        r = client.post(
            "/account/draws",
            data={"csrf": csrf_of(page.text), "product": "bread", "quantity": "0.001"},
        )
        assert r.status_code == 200 and "Drawn:" in r.text
    after = Decimal(svc.my_ledger(store, account_id=world.accounts["bea"]).balance)
    period = svc.current_levy(store, council_id=world.councils["bakery"]).period_id
    value = Decimal(str(svc.plan_values(store, period_id=period)["values"]["bread"]))
    assert float(before - after) == pytest.approx(float(value * Decimal("0.001")), abs=1e-4)
