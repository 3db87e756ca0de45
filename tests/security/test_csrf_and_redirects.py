"""CSRF on every session write (pages, htmx partials, the API), open redirects on login and logout,
and Markdown through the allow-list sanitiser (DESIGN rule 4)."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.rendering import render_markdown
from tests.security.conftest import database_snapshot
from tests.security.test_cross_project_ids import id_values, plausible_bodies
from tests.security.urlconf import all_routes, allow_listed

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def test_every_session_write_without_a_csrf_token_is_refused_and_changes_nothing(victim):
    values = {name: choices[0] for name, choices in id_values(victim).items()}
    values["unmatched"] = "anything/"
    client = Client(enforce_csrf_checks=True)
    client.force_login(victim.world.manager)  # allowed to do everything in the project
    client.get("/projects/")  # holds a CSRF cookie, as a real browser would; only the token is missing
    before = database_snapshot()
    problems = []
    for route in all_routes():
        if allow_listed(route) and route.takes_an_id:
            continue
        url = route.fill(values) if "(?P" not in route.template else None
        if url is None:
            continue
        for method in WRITE_METHODS:
            for body, kind in plausible_bodies(victim):
                response = client.generic(method, url, body, content_type=kind, HTTP_HX_REQUEST="true")
                # 415: DRF reads the form body looking for the CSRF token and refuses a type it does not parse.
                if response.status_code not in (403, 405, 415):
                    problems.append(f"{method} {url} ({kind}): {response.status_code}")
        # A cross-site form can also post multipart (the import form's encoding).
        response = client.post(url, {"name": "forged", "format": "jsonl"}, HTTP_HX_REQUEST="true")
        if response.status_code not in (403, 405, 415):
            problems.append(f"POST {url} (multipart): {response.status_code}")
    assert not problems, "\n".join(problems)
    assert database_snapshot() == before


def test_an_api_write_by_session_needs_the_csrf_token_but_one_by_token_does_not(victim):
    world = victim.world
    url = f"/api/v1/spans/{victim.span.pk}/"
    session = Client(enforce_csrf_checks=True)
    session.force_login(world.analyst)
    refused = session.patch(url, {"note": "forged"}, content_type="application/json",
                            HTTP_IF_MATCH=f'"{world.analyst_set.version}"')  # fmt: skip
    assert refused.status_code == 403
    by_token = Client(enforce_csrf_checks=True)
    accepted = by_token.patch(url, {"note": "from a script"}, content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {victim.token_secret}",
                              HTTP_IF_MATCH=f'"{world.analyst_set.version}"')  # fmt: skip
    assert accepted.status_code == 200, accepted.content
    victim.span.refresh_from_db()
    assert victim.span.note == "from a script"


HOSTILE_NEXT = [
    "https://evil.example/", "//evil.example/", "///evil.example/", "/\\evil.example/", "\\\\evil.example",
    "https:evil.example", "http://127.0.0.1.evil.example/", "javascript:alert(1)", " //evil.example",
    "%2F%2Fevil.example",
]  # fmt: skip


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_login_never_redirects_off_site(world, next_url):
    client = Client()
    response = client.post(f"/login/?next={next_url}", {"username": "analyst", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith(("//", "/\\"))
    assert "evil" not in response["Location"]


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_logout_never_redirects_off_site(world, client_for, next_url):
    response = client_for(world.analyst).post(f"/logout/?next={next_url}")
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith(("//", "/\\"))
    assert "evil" not in response["Location"]


def test_a_safe_next_is_still_followed(world):
    response = Client().post("/login/?next=/projects/", {"username": "analyst", "password": "correct-horse-battery"})
    assert response["Location"] == "/projects/"


HOSTILE_MARKDOWN = """# Rules
<script>alert('guidelines')</script>
<img src=x onerror="alert('img')">
[click me](javascript:alert('link'))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
<a href="https://example.org" onclick="alert('a')" style="color:red">ok link</a>
<iframe src="https://evil.example"></iframe><style>body{display:none}</style>
<svg><animate onbegin="alert(1)"/></svg><form action="https://evil.example"><input name=x></form>
<details open ontoggle="alert(1)">x</details>
"""


def _has_active_content(html: str) -> list[str]:
    lowered = html.lower()
    markers = ["<script", "onerror", "onclick", "onbegin", "ontoggle", "javascript:", "data:text", "<iframe",
               "<style", "style=", "<svg", "<form", "<input"]  # fmt: skip
    return [marker for marker in markers if marker in lowered]


def test_markdown_keeps_its_formatting_and_loses_everything_active():
    html = str(render_markdown(HOSTILE_MARKDOWN))
    assert _has_active_content(html) == []
    assert "<h1>Rules</h1>" in html
    assert 'href="https://example.org"' in html and "ok link" in html


@pytest.mark.parametrize("page", ["guidelines", "annotate"])
def test_hostile_guidelines_render_inert_on_every_page_that_shows_them(world, client_for, page):
    world.project.guidelines = HOSTILE_MARKDOWN
    world.project.save()
    url = {"guidelines": f"/projects/{world.project.pk}/guidelines/", "annotate": f"/annotate/{world.analyst_set.pk}/"}
    response = client_for(world.analyst).get(url[page])
    assert response.status_code == 200
    body = response.content.decode()
    assert "alert('guidelines')" not in body or "&lt;script&gt;" in body
    assert "<script>alert" not in body and "onerror=" not in body.lower() and "javascript:" not in body


def test_a_note_is_plain_text_wherever_it_appears(victim, client_for):
    world = victim.world
    victim.span.note = '<img src=x onerror="alert(1)"> **bold** [x](javascript:alert(2))'
    victim.span.save()
    for user, path in ((world.analyst, f"/annotate/{world.analyst_set.pk}/"),
                       (world.reviewer, f"/documents/{world.document.pk}/review/"),
                       (world.manager, f"/documents/{world.document.pk}/?set={world.analyst_set.pk}")):  # fmt: skip
        body = client_for(user).get(path).content.decode()
        assert '<img src=x onerror="alert(1)">' not in body, path
        assert 'href="javascript:' not in body, path
