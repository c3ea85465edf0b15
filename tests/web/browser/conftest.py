"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright through its executable
path (no browser download; `playwright install` never runs). `make test` installs chromium when it is
missing; with CI=true a missing chromium fails these tests instead of skipping them.

Screenshots of the main pages go to test-artifacts/browser/<store>/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from orderbridge.web.serving import ServedWeb
from orderbridge.web.tls import Listening
from orderbridge.web.totp import current_code
from tests.web.browser.world import World, build_world
from tests.web.conftest import PASSWORD, WebApp

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"


def chromium_path() -> str | None:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; with CI=true the browser tests must run")
        pytest.skip(message)
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses its sandbox as root
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=args)
        yield launched
        launched.close()


@dataclass
class Site:
    """The app served on a real port, the world booked in it, and a way to sign people in."""

    web: WebApp
    url: str
    world: World
    browser: Browser
    shots: Path

    def page(self) -> Page:
        context = self.browser.new_context(base_url=self.url, viewport={"width": 1280, "height": 900})
        found = context.new_page()
        found.set_default_timeout(20_000)
        return found

    def shot(self, page: Page, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def sign_in_first_time(self, page: Page, username: str) -> None:
        """Password, then enrolment in the second factor: the secret shown, a code from it (pyotp)."""
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/login/enrol**")
        secret = page.inner_text("#totp-secret").strip()
        page.fill("input[name=code]", current_code(secret, now=self.web.clock()))
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def site(web: WebApp, browser: Browser) -> Iterator[Site]:
    world = build_world(web)
    served = ServedWeb(web.app, Listening("127.0.0.1", 0, None, ())).start()
    try:
        yield Site(web, served.url, world, browser, ARTIFACTS / web.store)
    finally:
        served.stop()
