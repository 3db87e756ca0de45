"""The API docs page works in a real browser under the site's CSP (no CDN, no inline script)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import ARTIFACTS, BROWSER_MARKS

pytestmark = BROWSER_MARKS


@pytest.mark.django_db(transaction=True)
def test_the_api_docs_page_renders_every_endpoint_with_local_assets(live_server: Any, browser: Any) -> None:
    blocked_scripts: list[str] = []
    page = browser.new_page()
    page.on(
        "console",
        lambda m: blocked_scripts.append(m.text) if "Content Security Policy" in m.text and "script" in m.text
        else None,
    )  # fmt: skip
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert any("/api/v1/projects/{project_id}/changes/" in text for text in operations)
    assert blocked_scripts == []
