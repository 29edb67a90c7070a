"""The sections' pages, the declared groups on the profile and the equality report page,
without a browser, on SQLite and PostgreSQL: CSRF on every new form, and the service's rules
of who may do what as the pages show them (a non-member of the council cannot join a section,
a member who is not its delegate cannot table its motion, who belongs is shown to the section's
members only, declared groups to the member alone; suppressed cells shown as suppressed).

The demo town is made 40 days ago and its sections 30 days ago (the service's
``demo_sections``): Riverside's "Parents" (ivy, jo, lee; jo its delegate), whose motion the
council let pass its deadline, and the clinic's "Night shift" (eve, fay, gus; fay), whose
motion the council carried in time."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from councilplan.councils import service as svc
from councilplan.councils.service import sections as acts
from councilplan.web.app import create_app
from planning_setup import demo_town


@pytest.fixture
def town(council_store):
    now = datetime.now(UTC)
    town = demo_town(council_store, hash_password=None, t0=now - timedelta(days=40))
    acts.demo_sections(
        council_store,
        accounts=town.accounts,
        councils=town.councils,
        at=now - timedelta(days=30),
    )
    acts.demo_sections_settle(council_store, at=now - timedelta(days=10))
    sections = {}
    for key in ("neighbourhood", "clinic"):
        for s in acts.list_sections(council_store, town.councils[key]):
            sections[s.name] = s.id
    return SimpleNamespace(**town.__dict__, sections=sections)


@pytest.fixture
def app(council_store, town):
    with TestClient(create_app(council_store, close_every_s=None)) as c:
        yield c.app


def as_member(app, username: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/")
    r = client.post(
        "/signin",
        data={"csrf": csrf_of(page.text), "username": username, "password": "demo"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def members_of(store, section_id: int) -> int:
    return acts.get_section(store, section_id).members


def test_joining_takes_the_forms_token_and_the_member_her_own_act(app, council_store, town):
    parents = town.sections["Parents"]
    kim = as_member(app, "kim")  # in Riverside, not in the section
    page = kim.get(f"/sections/{parents}")
    assert page.status_code == 200 and "Join the section" in page.text
    assert "Who belongs" not in page.text
    r = kim.post(f"/sections/{parents}/join", data={})
    assert r.status_code == 403 and "security token" in r.text
    r = kim.post(f"/sections/{parents}/join", data={"csrf": "0" * 64})
    assert r.status_code == 403
    assert members_of(council_store, parents) == 3
    r = kim.post(
        f"/sections/{parents}/join", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and "said=section_joined" in r.headers["location"]
    assert members_of(council_store, parents) == 4
    page = kim.get(f"/sections/{parents}")
    assert "Who belongs" in page.text and "Leave the section" in page.text
    # Leaving is hers too.
    r = kim.post(
        f"/sections/{parents}/leave", data={"csrf": csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303 and members_of(council_store, parents) == 3


def test_a_member_of_another_council_cannot_join_and_is_told_why(app, council_store, town):
    parents = town.sections["Parents"]
    bea = as_member(app, "bea")  # the bakery's, not Riverside's
    page = bea.get(f"/sections/{parents}")
    assert page.status_code == 200 and "Join the section" not in page.text
    assert "join its sections by their own act" in page.text
    r = bea.post(f"/sections/{parents}/join", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403 and "is not a member of council" in r.text
    assert members_of(council_store, parents) == 3


def test_who_belongs_is_shown_to_the_sections_members_only(app, town):
    parents = town.sections["Parents"]
    ada = text_of(as_member(app, "ada").get(f"/sections/{parents}").text)  # Riverside, not in it
    assert "Members 3" in ada and "Its delegate Jo" in ada
    assert "Ivy" not in ada and "Lee" not in ada and "Who belongs" not in ada
    lee = text_of(as_member(app, "lee").get(f"/sections/{parents}").text)
    assert "Who belongs" in lee and "Ivy" in lee and "Lee" in lee


def test_only_the_sections_delegate_tables_its_motion_which_shows_in_the_council(
    app, council_store, town
):
    parents, hood = town.sections["Parents"], town.councils["neighbourhood"]
    before = len(acts.section_motions(council_store, section_id=parents))
    lee = as_member(app, "lee")  # a member of the section, not its delegate
    page = lee.get(f"/sections/{parents}")
    assert "Table a motion in the council" not in page.text
    r = lee.post(
        f"/sections/{parents}/motions",
        data={"csrf": csrf_of(page.text), "title": "Sneaky", "text": "x"},
    )
    assert r.status_code == 403 and "is not the elected delegate" in r.text
    jo = as_member(app, "jo")
    page = jo.get(f"/sections/{parents}")
    assert "Table a motion in the council" in page.text
    r = jo.post(f"/sections/{parents}/motions", data={"title": "No token", "text": "x"})
    assert r.status_code == 403
    assert len(acts.section_motions(council_store, section_id=parents)) == before
    r = jo.post(
        f"/sections/{parents}/motions",
        data={"csrf": csrf_of(page.text), "title": "A crèche at the market", "text": "Saturdays."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=section_motion_tabled" in r.headers["location"]
    (tabled,) = [
        m
        for m in acts.section_motions(council_store, section_id=parents)
        if m.title == "A crèche at the market"
    ]
    days = svc.get_council(council_store, hood).section_motion_days
    assert tabled.deadline - tabled.tabled_at == timedelta(days=days)
    # In the council, with its deadline, waiting; the earlier one overdue (the council in
    # breach); the clinic's carried in time.
    council = jo.get(f"/councils/{hood}")
    assert council.status_code == 200
    row = re.search(r"<tr><td>A crèche at the market</td>.*?</tr>", council.text, re.S).group(0)
    assert f'datetime="{tabled.deadline.astimezone(UTC).isoformat()}"' in row
    assert "waiting for the council's vote" in html.unescape(row)
    row = re.search(r"<tr><td>Childcare during council meetings</td>.*?</tr>", council.text, re.S)
    assert "overdue: the council is in breach" in row.group(0)
    clinic = as_member(app, "eve").get(f"/councils/{town.councils['clinic']}")
    assert "carried, voted in time" in clinic.text


def test_a_member_puts_a_sections_motion_to_the_councils_vote(app, council_store, town):
    parents, hood = town.sections["Parents"], town.councils["neighbourhood"]
    (waiting,) = [
        m for m in acts.section_motions(council_store, section_id=parents) if m.status == "waiting"
    ]
    kim = as_member(app, "kim")
    token = csrf_of(kim.get(f"/councils/{hood}").text)
    url = f"/councils/{hood}/section-motions/{waiting.id}/ballot"
    assert kim.post(url, data={}).status_code == 403
    r = kim.post(url, data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ballots/")
    ballot = svc.get_ballot(council_store, int(r.headers["location"].split("?")[0].split("/")[-1]))
    assert ballot.rule == "yes_no" and ballot.subject.get("motion_id") == waiting.motion_id
    assert "the council's vote, open" in html.unescape(kim.get(f"/councils/{hood}").text)


def test_founding_electing_and_the_dissolution_ballot_are_the_sections_own(
    app, council_store, town
):
    hood = town.councils["neighbourhood"]
    kim = as_member(app, "kim")
    page = kim.get(f"/councils/{hood}/sections")
    assert page.status_code == 200 and "Found a section" in page.text
    r = kim.post(f"/councils/{hood}/sections", data={"name": "Cyclists"})
    assert r.status_code == 403
    r = kim.post(
        f"/councils/{hood}/sections",
        data={"csrf": csrf_of(page.text), "name": "Cyclists", "purpose": "We ride."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=section_founded" in r.headers["location"]
    cyclists = int(r.headers["location"].split("?")[0].rsplit("/", 1)[-1])
    assert acts.get_section(council_store, cyclists).members == 1
    # bea (not of Riverside) may neither found a section of it nor open the section's ballot.
    bea = as_member(app, "bea")
    token = csrf_of(bea.get(f"/councils/{hood}/sections").text)
    r = bea.post(f"/councils/{hood}/sections", data={"csrf": token, "name": "Bakers"})
    assert r.status_code == 403
    r = bea.post(f"/sections/{cyclists}/ballots", data={"csrf": token, "purpose": "dissolution"})
    assert r.status_code == 403 and "does not belong to section" in r.text
    # Kim opens the election, herself the candidate, and votes by rank.
    page = kim.get(f"/sections/{cyclists}")
    kim_id = town.accounts["kim"]
    for days in ("x", "99999999999", "-3"):
        r = kim.post(
            f"/sections/{cyclists}/ballots",
            data={"csrf": csrf_of(page.text), "purpose": "election", "days": days},
        )
        assert r.status_code == 422 and "whole number, at most 366" in r.text, days
    r = kim.post(
        f"/sections/{cyclists}/ballots",
        data={"csrf": csrf_of(page.text), "purpose": "election", "candidate": "Kim"},
    )
    assert r.status_code == 422 and "name at least one member" in r.text
    r = kim.post(
        f"/sections/{cyclists}/ballots",
        data={"csrf": csrf_of(page.text), "purpose": "election", "candidate": str(kim_id)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=section_ballot_opened" in r.headers["location"]
    page = kim.get(f"/sections/{cyclists}")
    (ballot,) = re.findall(r'action="/section-ballots/(\d+)/vote"', page.text)
    assert "Rank the candidates" in page.text
    r = kim.post(
        f"/section-ballots/{ballot}/vote",
        data={"csrf": csrf_of(page.text), "rank-0": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=voted" in r.headers["location"]
    votes = acts.section_ballot_votes(council_store, ballot_id=int(ballot), viewer_id=kim_id)
    assert votes == [{"account_id": kim_id, "choice": [str(kim_id)]}]
    # Counting before its time is refused with the service's reason.
    r = kim.post(f"/section-ballots/{ballot}/count", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 409 and "cannot be closed earlier" in r.text
    # The dissolution ballot is opened by a member, and shown as the section's.
    r = kim.post(
        f"/sections/{cyclists}/ballots",
        data={"csrf": csrf_of(page.text), "purpose": "dissolution"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = kim.get(f"/sections/{cyclists}")
    assert "Dissolve the section? It takes more than half of its members." in page.text


def test_declared_groups_are_the_members_alone(app, council_store, town):
    bea = as_member(app, "bea")
    page = bea.get("/profile")
    assert "Only you see what you declare here" in page.text
    assert 'value="night shift"' in page.text  # what the demo declared for her
    r = bea.post("/profile/groups", data={"gender": "woman", "group": "bakers of rye"})
    assert r.status_code == 403
    r = bea.post(
        "/profile/groups",
        data={"csrf": csrf_of(page.text), "gender": "", "group": "Bakers of rye"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=groups_saved" in r.headers["location"]
    mine = acts.my_groups(council_store, account_id=town.accounts["bea"])
    assert mine.gender is None and mine.group == "Bakers of rye"
    assert 'value="Bakers of rye"' in bea.get("/profile").text
    # No one else reads it: not on another member's profile, nor on the public record.
    ada = as_member(app, "ada")
    assert "Bakers of rye" not in ada.get("/profile").text
    assert "Bakers of rye" not in ada.get("/record").text.lower().replace("bakers of rye", "")
    assert "bakers of rye" not in ada.get("/record").text.lower()
    # Removed: nothing declared.
    page = bea.get("/profile")
    r = bea.post(
        "/profile/groups",
        data={"csrf": csrf_of(page.text), "gender": "", "group": "x", "action": "remove"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "said=groups_removed" in r.headers["location"]
    assert acts.my_groups(council_store, account_id=town.accounts["bea"]).declared_at is None


def test_the_equality_report_shows_suppression_charts_and_csv(app, town):
    ada = as_member(app, "ada")
    hood = town.councils["neighbourhood"]
    page = ada.get(f"/reports/equality?scope=council:{hood}")
    assert page.status_code == 200
    text = text_of(page.text)
    # Riverside has 6 members: under k = 5 per category, cells are suppressed, and why.
    assert "suppressed" in text and "How cells are suppressed" in text
    assert "Gini coefficient" in text and "Childcare during council meetings" in text
    assert "the council was in breach" in text
    for chart in ("participation_gender", "lorenz"):
        assert f"/reports/equality/charts/{chart}.svg?scope=council%3A{hood}&amp;k=5" in page.text
        svg = ada.get(f"/reports/equality/charts/{chart}.svg?scope=council:{hood}&k=5")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.headers["content-security-policy"].startswith("default-src 'none'")
        assert "<svg" in svg.text
    csv_link = f"/api/reports/equality/participation_gender.csv?council_id={hood}&amp;k=5"
    assert csv_link in page.text
    csv = ada.get(csv_link.replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.text.startswith("gender,members")
    # A federation and a period are scopes too; k may be raised, never lowered below 5.
    federation = ada.get(f"/reports/equality?scope=federation:{town.federation}")
    assert federation.status_code == 200 and "Night shift" in federation.text
    assert ada.get(f"/reports/equality?scope=council:{hood}&k=2").status_code == 422
    r = ada.get("/reports/equality?scope=parish:1")
    assert r.status_code == 422 and "council:ID, federation:ID or period:ID" in r.text
    assert ada.get("/reports/equality?scope=council:999999").status_code == 404
    for odd in ("council:99999999999", "council:\u00b2", "council:0", "council:"):
        assert ada.get("/reports/equality", params={"scope": odd}).status_code == 422, odd
    # Signed out: to the sign-in page.
    r = TestClient(app).get("/reports/equality", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/?next=")
