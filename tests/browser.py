"""Shared set-up for tests that drive Debian's Chromium through Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The machine has no network: without these flags Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]

# In CI (CLAIMBENCH_REQUIRE_BROWSER=1) a missing browser fails the test instead of skipping it.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and os.environ.get("CLAIMBENCH_REQUIRE_BROWSER") != "1",
        reason=f"Debian's chromium is not installed at {CHROMIUM} (set CLAIMBENCH_REQUIRE_BROWSER=1 to fail instead)",
    ),
]


# Every violation of the site's Content-Security-Policy, as the page reports it (DESIGN rule 4):
# Chromium's console line, and the `securitypolicyviolation` event for what the console misses.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__claimbenchCspViolation(`${event.violatedDirective} blocked ${event.blockedURI} in ${event.documentURI}`);
});
"""


class CspWatchedBrowser:
    """The Playwright browser, with every context it opens recording CSP violations in `csp_violations`."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.csp_violations: list[str] = []

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        context.expose_function("__claimbenchCspViolation", lambda text: self.csp_violations.append(text))
        context.add_init_script(_REPORT_CSP_VIOLATIONS)
        context.on(
            "console", lambda m: self.csp_violations.append(m.text) if "Content Security Policy" in m.text else None
        )
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@contextmanager
def launch_chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; Django's ORM calls from
    # the test would otherwise be refused as "async unsafe".
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield CspWatchedBrowser(instance)
        finally:
            instance.close()
            # While Playwright's loop runs, asgiref keeps Django's connections per context, so the
            # test's ORM calls opened a connection of their own; left open, it kept PostgreSQL from
            # dropping the test database at the end of the run ("being accessed by other users").
            from django.db import connections

            connections.close_all()
