"""A real headless browser for tests: Debian's Chromium driven by Playwright for Python.

The ``browser_page`` fixture yields a :class:`BrowserPage`: a fresh page in a fresh browser
context, with the network blocked (every http(s)/ws request is recorded and aborted, so a
test can assert that a page fetched nothing) and console errors and uncaught page errors
collected. The browser is the system ``chromium`` (``/usr/bin/chromium``, or
``RUNSTATE_TEST_CHROMIUM``), never one downloaded by ``playwright install``; it is started
once per test session.

Where Chromium or Playwright is missing the browser tests are skipped — except under CI
(``CI`` set to anything but ``""``/``false``/``0``), where that is an error: a CI run must
never turn green by skipping its browser checks. ``.ci/run`` installs Debian's
``chromium`` package when it is missing.

Imported by ``tests/conftest.py`` so that every test module can use ``browser_page``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM_ARGS", "BrowserPage", "browser_page", "chromium", "chromium_path"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "false", "0", "no")


def chromium_path() -> str | None:
    """The system Chromium: $RUNSTATE_TEST_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    configured = os.environ.get("RUNSTATE_TEST_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"browser tests need Chromium and Playwright under CI: {reason}")
    pytest.skip(f"browser unavailable: {reason}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium (a Playwright ``Browser``) for the whole test session."""
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium executable (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    manager = sync_playwright()
    playwright = manager.start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.__exit__(None, None, None)
        _unavailable(f"chromium did not start: {exc}")
    try:
        yield browser
    finally:
        browser.close()
        manager.__exit__(None, None, None)


@dataclass
class BrowserPage:
    """A page with the network blocked and its errors collected."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    """Every non-local URL the page tried to fetch (all of them were aborted)."""

    def open(self, path: str | os.PathLike[str]) -> Any:
        """Load a local file and wait until it and its scripts have run."""
        return self.page.goto(Path(path).resolve().as_uri(), wait_until="load")

    @property
    def errors(self) -> list[str]:
        return [*self.console_errors, *self.page_errors]

    def assert_clean(self) -> None:
        """No console errors, no uncaught exceptions, no network requests."""
        assert not self.errors, f"browser errors: {self.errors}"
        assert not self.requests, f"the page tried to fetch: {self.requests}"


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[BrowserPage]:
    """A fresh page (own context, network blocked) that records errors and requests."""
    context = chromium.new_context(offline=True, java_script_enabled=True)
    page = context.new_page()
    wrapped = BrowserPage(page)

    def on_console(message: Any) -> None:
        if message.type == "error":
            wrapped.console_errors.append(message.text)

    def on_request(request: Any) -> None:
        if not request.url.startswith(_LOCAL_SCHEMES):
            wrapped.requests.append(request.url)

    def block(route: Any) -> None:
        if route.request.url.startswith(_LOCAL_SCHEMES):
            route.continue_()
        else:
            route.abort()

    page.on("console", on_console)
    page.on("pageerror", lambda error: wrapped.page_errors.append(str(error)))
    page.on("request", on_request)
    context.route("**/*", block)
    try:
        yield wrapped
    finally:
        context.close()
