"""Sections and the equality report in a real browser (Debian's Chromium through Playwright),
against `councilplan serve` on the demo town, whose Riverside neighbourhood has a section
"Parents" (ivy, jo, lee; jo its elected delegate): a member of Riverside joins it from the
council's page, its delegate tables a motion, which shows in the council with its deadline;
the equality report renders with its suppressed cells shown as such, its charts load and its
CSV downloads.

This module runs before test_pages_e2e.py (by name), so that the screenshots there show the
section as these flows left it."""

from __future__ import annotations

import re

import pytest

from councilplan.councils.service import sections as acts
from councilplan.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(world):
    s = open_store(world.url)
    yield s
    s.dispose()


def parents_of(store, world) -> acts.Section:
    (parents,) = [
        s for s in acts.list_sections(store, world.councils["riverside"]) if s.name == "Parents"
    ]
    return parents


def test_a_member_joins_a_section_and_its_delegate_tables_a_motion(member, world, store, photo):
    riverside = world.councils["riverside"]
    parents = parents_of(store, world)
    before = parents.members

    kim = member("kim")  # a member of Riverside, not of the section
    page = kim.go(f"/councils/{riverside}")
    page.get_by_role("link", name="Its sections").click()
    page.wait_for_url(re.compile(rf"/councils/{riverside}/sections$"))
    page.locator(".cards").get_by_role("link", name="Parents").click()
    page.wait_for_url(re.compile(rf"/sections/{parents.id}$"))
    assert page.get_by_role("heading", name="Who belongs").count() == 0  # not hers to see
    page.get_by_role("button", name="Join the section").click()
    page.wait_for_url(re.compile("said=section_joined"))
    assert page.get_by_role("heading", name="Who belongs").is_visible()
    assert page.locator(".names").get_by_text("Kim").is_visible()
    assert parents_of(store, world).members == before + 1

    jo = member("jo")  # the section's elected delegate
    page = jo.go(f"/sections/{parents.id}")
    page.locator("#smotion-title").fill("A play corner at the weekly market")
    page.locator("#smotion-text").fill("Beside the stalls, with two of us taking turns.")
    page.get_by_role("button", name="Table the motion").click()
    page.wait_for_url(re.compile("said=section_motion_tabled"))
    (tabled,) = [
        m
        for m in acts.section_motions(store, section_id=parents.id)
        if m.title == "A play corner at the weekly market"
    ]
    photo(page, "section-motion-tabled")

    page = jo.go(f"/councils/{riverside}")
    row = page.locator("tr", has_text="A play corner at the weekly market")
    assert row.get_by_text("waiting for the council's vote").is_visible()
    deadline = row.locator("time").nth(1).get_attribute("datetime")
    assert deadline == tabled.deadline.isoformat()
    # The earlier motion, which the council let pass its deadline, is shown as a breach.
    overdue = page.locator("tr", has_text="Childcare during council meetings")
    assert overdue.get_by_text("overdue: the council is in breach").is_visible()


def test_the_equality_report_shows_its_suppressed_cells_charts_and_csv(member, world):
    ada = member("ada")
    page = ada.go("/reports/equality")
    page.get_by_label("Report on").select_option(label="Riverside neighbourhood")
    page.get_by_role("button", name="Show the report").click()
    page.wait_for_url(re.compile(r"scope=council%3A\d+"))
    assert page.get_by_role("heading", name="Riverside neighbourhood").is_visible()
    # Riverside has a handful of members: cells are suppressed and the page says so and why.
    table = page.locator("table", has=page.locator("caption", has_text="Participation by gender"))
    assert table.get_by_text("suppressed").first.is_visible()
    assert page.get_by_role("heading", name="How cells are suppressed").is_visible()
    # The charts are images drawn on the server, loaded under the page's CSP.
    for image in page.locator("figure img").all():
        image.scroll_into_view_if_needed()
        image.evaluate("(img) => img.decode()")
        assert image.evaluate("(img) => img.complete && img.naturalWidth > 0")
    link = page.get_by_role("link", name="download as CSV").first
    response = page.request.get(ada.base + link.get_attribute("href"))
    assert response.status == 200 and response.text().startswith("gender,members")
