"""In real Chromium, with the site's CSP enforced (the `browser` fixture fails on any violation):
stored XSS payloads in every attacker-controlled field stay inert, and a page on a second origin
(127.0.0.2) cannot write with the analyst's session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import Client

from annotations.exceptions import InvalidInput
from annotations.models import Job, JobKind, JobStatus, Span
from annotations.services import projects
from tests.browser import ARTIFACTS, BROWSER_MARKS
from tests.security.conftest import database_snapshot

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

SECOND_ORIGIN_PORT = 8154
# Each payload sets a flag instead of alert(): a flag is checked after the page settles, and a dialog is caught too.
XSS = {
    "tag": '<img src=x onerror="window.__xss=1">',
    "attr": '" onmouseover="window.__xss=1" x="',
    "style": "red;}</style><script>window.__xss=1</script>",
    "url": "javascript:window.__xss=1",
}


def _plant_payloads(victim: Any) -> list[str]:
    world = victim.world
    project = world.project
    schema = project.schema
    # Colours and hotkeys are validated on save (a colour is #rrggbb, a hotkey one character): the
    # attacker's reach is a quote or angle bracket there, and anything in names and descriptions.
    schema["labels"][0]["name"] = XSS["tag"]
    schema["labels"][0]["hotkey"] = '"'
    schema["labels"][1]["name"] = XSS["attr"]
    schema["labels"][1]["hotkey"] = "<"
    schema["labels"][1]["description"] = XSS["tag"]
    projects.schema_update(project=project, schema=schema, actor=world.manager)
    project.refresh_from_db()
    project.name = XSS["tag"]
    project.description = XSS["attr"]
    project.guidelines = f"{XSS['tag']}\n\n[guide]({XSS['url']})\n\n<script>window.__xss=1</script>"
    project.save()
    document = world.document
    document.title = XSS["tag"]
    document.outlet, document.author, document.source_url = XSS["attr"], XSS["tag"], "https://example.org/?q=<b>"
    document.save()
    Span.objects.filter(annotation_set__document=document).update(
        note=XSS["tag"], attributes={"source_entity": XSS["tag"]}
    )
    errors = {"errors": [{"line": 1, "reason": XSS["tag"]}]}
    Job.objects.create(
        project=project, kind=JobKind.IMPORT, format="jsonl", status=JobStatus.FAILED,
        input_name=XSS["tag"], error=XSS["tag"], summary=errors,
    )  # fmt: skip
    p, d = project.pk, document.pk
    return [
        f"/projects/{p}/", f"/projects/{p}/guidelines/", f"/documents/{d}/", f"/annotate/{world.analyst_set.pk}/",
        f"/documents/{d}/review/", f"/projects/{p}/review/", f"/projects/{p}/dashboard/", f"/projects/{p}/feedback/",
        f"/projects/{p}/jobs/", f"/jobs/{Job.objects.latest('pk').pk}/", f"/projects/{p}/assignments/", "/projects/",
    ]  # fmt: skip


def test_a_colour_that_could_break_out_of_css_is_refused_on_save(victim):
    schema = victim.world.project.schema
    schema["labels"][0]["colour"] = XSS["style"]
    with pytest.raises(InvalidInput):
        projects.schema_update(project=victim.world.project, schema=schema, actor=victim.world.manager)


def test_stored_payloads_in_every_attacker_controlled_field_render_inert(victim, logged_in_page, client_for):
    paths = _plant_payloads(victim)
    manager = client_for(victim.world.manager)
    # Every page renders (a 500 would make the browser check below pass for the wrong reason).
    assert [(path, manager.get(path).status_code) for path in paths] == [(path, 200) for path in paths]
    dialogs: list[str] = []
    ran: list[str] = []
    for path in paths:
        page = logged_in_page(victim.world.manager, path)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.wait_for_load_state("networkidle")
        page.mouse.move(200, 200)
        page.keyboard.press("1")  # the hostile hotkey must not become code either
        for link in page.locator("a[href^='javascript:']").all():
            ran.append(f"{path}: javascript: link {link.get_attribute('href')}")
        if page.evaluate("() => window.__xss === 1"):
            ran.append(path)
        assert page.js_errors == [], (path, page.js_errors)
        if path.startswith("/annotate/"):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "security-stored-xss-annotate.png"))
    assert dialogs == [] and ran == []


class _AttackerPage(BaseHTTPRequestHandler):
    """The page a hostile site would serve: a self-submitting form and a credentialed fetch at the app."""

    app_url = ""
    set_id = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = f"""<!doctype html><html><body>
<form id="forged" method="post" action="{self.app_url}/account/tokens/"><input name="name" value="forged"></form>
<script>
fetch("{self.app_url}/api/v1/sets/{self.set_id}/spans/", {{method: "POST", credentials: "include",
  headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{label: "claim", start: 0, end: 3, quote: "The"}})}})
  .then(r => {{ document.title = "read " + r.status; }}, () => {{ document.title = "fetch blocked"; }})
  .finally(() => document.getElementById("forged").submit());
</script></body></html>"""
        encoded = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def second_origin(live_server: Any) -> Iterator[str]:
    handler = type("AttackerPage", (_AttackerPage,), {})
    server = ThreadingHTTPServer(("127.0.0.2", SECOND_ORIGIN_PORT), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.2:{SECOND_ORIGIN_PORT}", handler  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_a_second_origin_cannot_write_with_the_analysts_session(victim, browser, live_server, second_origin):
    origin, handler = second_origin
    app_url = live_server.url.replace("localhost", "127.0.0.1")
    handler.app_url, handler.set_id = app_url, victim.world.analyst_set.pk
    client = Client()
    client.force_login(victim.world.analyst)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": app_url}])
    page = context.new_page()
    # The session works from the app's own origin...
    assert page.goto(f"{app_url}/projects/").url.endswith("/projects/")
    before = database_snapshot()
    page.goto(origin + "/")
    page.wait_for_url(f"{app_url}/**", timeout=20_000)  # the forged form navigated to the app
    page.wait_for_load_state("networkidle")
    landed_status = page.evaluate("() => document.title")
    assert database_snapshot() == before, "a cross-origin request changed data"
    assert "Forbidden" in page.content() or "403" in landed_status or "/login/" in page.url
    context.close()
