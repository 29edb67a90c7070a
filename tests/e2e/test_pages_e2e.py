"""The pages in a real browser (Debian's Chromium, headless, through Playwright) against
`councilplan serve` on the demo town: a member signs in and votes with the keyboard alone and
reads the count; a recall is opened, supported and carried, and the recalled delegate's vote
in the federation is refused; hours recorded move a balance; a dispute is filed, heard and
decided; a cross-site form post is refused; axe-core finds no serious or critical violation on
any page, each of which is photographed at desktop and phone width into docs/screenshots/.

Time passes in one place only: the market ballot's three days, by closing it through the
service with the time it closes at (as the server's closer does when the time comes)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from councilplan.councils import service as svc
from councilplan.councils.service import sections
from councilplan.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(world):
    s = open_store(world.url)
    yield s
    s.dispose()


def tab_to(page, script: str, limit: int = 80) -> None:
    """Press Tab until ``script`` (run on document.activeElement as ``el``) is true."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!({script}); }}"):
            return
    raise AssertionError(f"Tab never reached an element where {script}")


def balance(page) -> float:
    text = page.locator(".balance strong").inner_text()
    return float(text.replace(",", ""))


# -- a member votes with the keyboard alone and sees the count ----------------------------------


def test_a_member_signs_in_votes_and_reads_the_count_by_keyboard(member, world, store, server):
    ada = member(None)
    page = ada.page
    page.goto(server + "/")
    tab_to(page, "el.id === 'username'")
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    page.keyboard.type("demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="My councils").is_visible()
    tab_to(page, "el.textContent.includes('Which day for the weekly market?')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ballots/\d+$"))
    # Rank with the keyboard: Saturday 1, Friday 2 (Sunday left out).
    for option, rank in (("Friday", "2"), ("Saturday", "1")):
        tab_to(page, f"el.tagName === 'SELECT' && el.labels[0].textContent.trim() === '{option}'")
        page.keyboard.type(rank)
    tab_to(page, "el.tagName === 'BUTTON' && el.textContent.includes('Cast my vote')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"said=voted"))
    assert page.get_by_role("status").inner_text().startswith("Your vote is counted in")
    assert world.accounts["ada"] in svc.participation(store, world.market_ballot)

    # Three days later the ballot closes and is counted; she reads the count, step by step.
    ballot = svc.get_ballot(store, world.market_ballot)
    svc.close_ballot(store, ballot_id=ballot.id, now=ballot.closes_at + timedelta(minutes=1))
    page.reload()
    result = page.locator("section.result")
    assert "Saturday" in result.locator(".outcome").inner_text()
    assert result.get_by_text("Step 1: how many preferred each option to each other").is_visible()
    # The pairwise table: Saturday over Friday by 3 (jo, eve... and ada), as counted.
    pairwise = result.locator("table.matrix").first
    row = pairwise.locator("tbody tr", has=page.locator("th[scope=row]", has_text="Saturday"))
    tally = svc.get_ballot(store, ballot.id).tally
    expected = str(tally["rounds"][0]["pairwise"]["Saturday"]["Friday"])
    assert row.locator("td").nth(0).inner_text() == expected
    # Schulze's counts are the options each beats on strongest paths, and are called so.
    beaten = result.locator("table", has=page.get_by_text("Options beaten")).first
    saturday = beaten.locator("tbody tr", has=page.locator("th", has_text="Saturday"))
    assert saturday.locator("td").inner_text() == str(tally["counts"]["Saturday"])
    assert result.get_by_text("Votes by option").count() == 0


# -- a recall, carried; the delegate's vote in the federation then refused ----------------------


def test_a_recall_is_opened_supported_carried_and_the_delegates_vote_refused(
    member, world, store, photo
):
    (ivy_mandate,) = svc.delegates(store, council_id=world.councils["riverside"])
    assert ivy_mandate.account_id == world.accounts["ivy"]
    where = f"/delegates/{ivy_mandate.id}"

    kim = member("kim")
    page = kim.go(where)
    page.get_by_label("Why").fill("She voted against the mandate on the tram line.")
    page.get_by_role("button", name="Open the recall").click()
    page.wait_for_url(re.compile("said=recall_opened"))
    progress = page.locator("#recall-progress")
    assert "1 of the 2 supporters needed" in progress.inner_text()
    photo(page, "recall-collecting")

    lee = member("lee")
    page = lee.go(where)
    page.get_by_role("button", name="Support the recall").click()
    page.wait_for_url(re.compile("said=recall_supported"))
    page.get_by_role("link", name="Vote on the recall").click()
    recall_ballot = page.url.rsplit("/", 1)[-1]
    photo(page, "recall-ballot")

    for voter in (kim, lee, member("jo"), member("ada")):
        page = voter.go(f"/ballots/{recall_ballot}")
        if page.get_by_role("radio", name="Yes").count() == 0:
            break  # decided already: more than half of the electorate said yes
        page.get_by_role("radio", name="Yes").check()
        page.get_by_role("button", name="Cast my vote").click()
        page.wait_for_url(re.compile("said=voted"))
    page = kim.go(f"/ballots/{recall_ballot}")
    assert "carried" in page.locator("section.result .outcome").inner_text()
    assert kim.go(where).get_by_text("Mandate ended").is_visible()

    # Ivy, recalled, tries to vote on the federation's open question: refused, and told why.
    ivy = member("ivy")
    page = ivy.go(f"/ballots/{world.federation_ballot}")
    page.get_by_role("radio", name="Yes").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Cast my vote").click()
    assert answer.value.status in (403, 409)
    alert = page.get_by_role("alert")
    assert alert.is_visible() and str(world.accounts["ivy"]) in alert.inner_text()
    photo(page, "vote-refused")
    ivy.errors.clear()  # the browser logged the refusal's status as an error
    assert world.accounts["ivy"] not in svc.participation(store, world.federation_ballot)


# -- hours recorded, a balance moves ----------------------------------------------------------


def test_hours_recorded_by_the_workplace_move_the_members_balance(member, world, photo):
    bea = member("bea")
    before = balance(bea.go("/account"))

    ada = member("ada")
    page = ada.go(f"/councils/{world.councils['bakery']}/hours")
    page.get_by_label("Member").select_option(label="Bea")
    page.get_by_label("Hours", exact=True).fill("7.5")
    page.get_by_label("Note (optional)").fill("Saturday bake")
    page.get_by_role("button", name="Record").click()
    page.wait_for_url(re.compile("said=hours_recorded"))
    photo(page, "hours-recorded")

    page = bea.go("/account")
    after = balance(page)
    levy = float(page.locator("#levy-h").inner_text().split(":")[1].split("%")[0])
    assert after - before == pytest.approx(7.5 * (1 - levy / 100), abs=0.001)
    assert page.get_by_text("7.5 hours worked").first.is_visible()


# -- a dispute, filed and decided ----------------------------------------------------------------


def test_a_dispute_is_filed_heard_and_decided(member, world, photo):
    bea = member("bea")
    page = bea.go("/disputes")
    page.get_by_label("Which record or product").fill(world.bea_hours_tid)
    page.get_by_label("Hours as they stand").fill("40")
    page.get_by_label("Hours you claim").fill("42")
    page.get_by_label("Grounds", exact=True).fill("I stayed two hours to clean the oven.")
    page.get_by_role("button", name="File the dispute").click()
    page.wait_for_url(re.compile(r"/disputes/\d+\?said=dispute_filed"))
    case = page.url.split("?")[0].rsplit("/", 1)[-1]

    cai = member("cai")  # the workplace's seat
    page = cai.go(f"/disputes/{case}")
    page.get_by_role("button", name="Record the hearing").click()
    page.wait_for_url(re.compile("said=heard"))
    photo(page, "dispute-heard")
    for commissioner in (cai, member("eve")):  # eve: the planning side's seat
        page = commissioner.go(f"/disputes/{case}")
        page.get_by_label("Hours", exact=True).fill("42")
        page.get_by_role("radio", name="Yes").check()
        page.get_by_role("button", name="Cast my seat's vote").click()
        page.wait_for_url(re.compile("said=dispute_voted"))
    page = bea.go(f"/disputes/{case}")
    assert "decided" in page.locator("dl.facts").inner_text()
    assert page.get_by_text("42 hours, decided").is_visible()


# -- a cross-site form post is refused -----------------------------------------------------------


def test_a_form_posted_from_another_site_is_refused(member, world, store, server):
    """A page on another origin (localhost, not 127.0.0.1) posts a vote to the server with the
    member's browser: no vote is cast. The same form sent from the server's own page is."""
    target = f"{server}/ballots/{world.federation_ballot}/vote"
    html = (
        f'<!doctype html><html lang="en"><title>win a prize</title><form method="post" '
        f'action="{target}"><input type="hidden" name="choice" value="no">'
        '<button type="submit">Claim the prize</button></form></html>'
    ).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        eve = member("eve")  # a delegate to the federation who has not voted on it
        eve.page.goto(f"http://localhost:{evil.server_port}/")
        with eve.page.expect_response(target) as answer:
            eve.page.get_by_role("button", name="Claim the prize").click()
        assert answer.value.status == 403
        assert world.accounts["eve"] not in svc.participation(store, world.federation_ballot)
        page = eve.go(f"/ballots/{world.federation_ballot}")
        eve.errors.clear()  # the browser logged the refused post's 403 as an error
        page.get_by_role("radio", name="No").check()
        page.get_by_role("button", name="Cast my vote").click()
        page.wait_for_url(re.compile("said=voted"))
        assert world.accounts["eve"] in svc.participation(store, world.federation_ballot)
    finally:
        evil.shutdown()


# -- every page: axe-core, and screenshots at two widths -----------------------------------------


def test_every_page_passes_axe_and_is_photographed(member, world, store, photo, server):
    (dispute,) = [
        d.dispute_id
        for d in svc.my_disputes(store, viewer_id=world.accounts["bea"])
        if d.state != "filed"
    ][:1] or [None]
    period = svc.list_periods(store, world.councils["federation"])[0].id
    adoption = svc.get_period(store, period).adoption_ballot_id
    election = next(
        b.id for b in svc.list_ballots(store, world.councils["bakery"]) if b.purpose == "election"
    )
    (parents,) = [
        s.id
        for s in sections.list_sections(store, world.councils["riverside"])
        if s.name == "Parents"
    ]
    pages = {
        "signin": (None, "/"),
        "signup": (None, "/signup"),
        "home": ("ada", "/"),
        "councils": ("ada", "/councils"),
        "council": ("ada", f"/councils/{world.councils['riverside']}"),
        "federation": ("ada", f"/councils/{world.councils['federation']}"),
        "ballot-open": ("bea", f"/ballots/{world.federation_ballot}"),
        "ballot-schulze": ("ada", f"/ballots/{world.market_ballot}"),
        "ballot-adoption": ("ada", f"/ballots/{adoption}"),
        "ballot-runoff": ("ada", f"/ballots/{election}"),
        "delegate": ("ada", f"/delegates/{svc.delegates(store, council_id=1)[0].id}"),
        "account": ("bea", "/account"),
        "hours": ("ada", f"/councils/{world.councils['bakery']}/hours"),
        "disputes": ("bea", "/disputes"),
        "dispute": ("bea", f"/disputes/{dispute}") if dispute else ("bea", "/disputes"),
        "plan": ("ivy", f"/plan/{period}"),
        "record": ("ada", "/record"),
        "profile": ("ada", "/profile"),
        "sections": ("ivy", f"/councils/{world.councils['riverside']}/sections"),
        "section": ("jo", f"/sections/{parents}"),
        "section-not-member": ("ada", f"/sections/{parents}"),
        "equality": ("ada", f"/reports/equality?scope=council:{world.councils['riverside']}"),
        "equality-federation": (
            "ada",
            f"/reports/equality?scope=federation:{world.councils['federation']}",
        ),
        "error-404": ("ada", "/ballots/999999"),
        "signed-out-everywhere": (None, "/?said=signed_out_everywhere"),
        "home-es": ("ada", "/", "es"),
        "plan-ru": ("kim", f"/plan/{period}", "ru"),
    }
    members: dict[tuple, object] = {}
    for name, (who, path, *lang) in pages.items():
        key = (who, tuple(lang))
        if key not in members:
            members[key] = member(who, lang=lang[0] if lang else "en")
            if lang:
                members[key].context.add_cookies(
                    [{"name": "councilplan_lang", "value": lang[0], "url": server}]
                )
        m = members[key]
        if name.startswith("error"):
            page = m.page
            assert page.goto(server + path).status == 404
            m.errors.clear()  # the 404's load, logged by the browser
        else:
            page = m.go(path)
        photo(page, name)
    # The Spanish and Russian pages are translated (not the English words).
    es = members[("ada", ("es",))].go("/")
    assert es.locator("html").get_attribute("lang") == "es"
    assert es.get_by_role("heading", level=1).inner_text() == "Mis consejos"


def test_the_record_verifies_its_chain_from_the_button(member):
    page = member("ada").go("/record")
    page.get_by_role("button", name="Verify the chain").click()
    status = page.locator("#verify-result").get_by_role("status")
    status.wait_for()
    assert "The chain is intact" in status.inner_text()
