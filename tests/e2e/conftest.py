"""The pages' end-to-end set-up: one demo town (tests/e2e/world.py) served by `councilplan
serve` in a subprocess on a free port, and one headless Debian Chromium driven by Playwright,
shared by every test of the package (package scope, not session: Playwright's sync API runs an
event loop in the main thread while its browser is open, and later tests call asyncio.run).
Skipped, with the reason, without /usr/bin/chromium or Playwright. Screenshots go to
docs/screenshots/ (desktop and phone width)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("COUNCILPLAN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does): the pages' "
        "end-to-end tests need a real browser",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="package")
def world(tmp_path_factory):
    from e2e.world import build

    return build(tmp_path_factory.mktemp("e2e-town"))


@pytest.fixture(scope="package")
def server(world):
    """The base URL of `councilplan serve` over the world's database."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "COUNCILPLAN_DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "councilplan", "serve", "--data-dir", str(world.data_dir)]
        + ["--port", str(port), "--no-worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read()
        try:
            with urllib.request.urlopen(base + "/static/site.css", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("councilplan serve did not answer within a minute") from None
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="package")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def shots():
    """Where screenshots go: docs/screenshots/, emptied once per run (regenerated)."""
    if SCREENSHOTS.exists():
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="package")
def photo(shots):
    """``photo(page, name)``: axe-core finds no serious or critical violation on the page as it
    is now, and it is photographed at desktop and phone width into docs/screenshots/."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def take(page, name: str) -> None:
        unreached = keyboard_unreached(page)
        assert not unreached, (name, "not reached by Tab", unreached)
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
        found = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in axe.run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not found, (name, found)
        page.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return take


#: Marks every visible control (a radio group counts once: arrow keys move within it) and
#: returns how many there are.
_MARK_CONTROLS = """() => {
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  let n = 0;
  const marks = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    const closed = el.closest('details:not([open])');  // shown once its summary opens it
    if (closed && el.parentElement !== closed) continue;
    el.dataset.kb = el.type === 'radio' ? 'group:' + el.name : 'c' + (n++);
    marks.push(el.dataset.kb);
  }
  return marks;
}"""


def keyboard_unreached(page) -> list[str]:
    """The controls of ``page`` that pressing Tab from the top never focuses (a control only a
    mouse could use), described by tag and text."""
    wanted = set(page.evaluate(_MARK_CONTROLS))
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")
    reached = set()
    for _ in range(len(wanted) + 10):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement && document.activeElement.dataset.kb")
        if mark:
            reached.add(mark)
        if reached >= wanted:
            break
    missing = sorted(wanted - reached)
    return [
        page.evaluate(
            "(m) => { const e = document.querySelector(`[data-kb='${m}']`);"
            " return e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 40); }",
            m,
        )
        for m in missing
    ]


class Member:
    """A browser context signed in as one member: her own cookies, as on her own phone."""

    def __init__(self, browser, base: str, username: str | None, *, lang: str = "en"):
        self.base = base
        self.context = browser.new_context(
            viewport=DESKTOP, locale=lang, timezone_id="Europe/Madrid"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        if username:
            self.sign_in(username)

    def _console(self, message) -> None:
        # A CSP violation or script error shows in the console: the tests fail on any.
        if message.type == "error":
            self.errors.append(message.text)

    def sign_in(self, username: str, password: str = "demo") -> None:
        page = self.page
        page.goto(self.base + "/")
        page.locator("#username").fill(username)  # by id: the labels are in her language
        page.locator("#password").fill(password)
        with page.expect_navigation():
            page.locator('form[action="/signin"] button[type=submit]').click()
        assert page.locator('form[action="/signout"]').count() == 1, f"{username} not signed in"

    def go(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def member(browser, server):
    made: list[Member] = []

    def sign_in(username: str | None, **kwargs) -> Member:
        m = Member(browser, server, username, **kwargs)
        made.append(m)
        return m

    yield sign_in
    for m in made:
        assert not m.errors, m.errors
        m.close()
