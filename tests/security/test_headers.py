"""DESIGN rules 3 and 4, over every route of the URL conf: a strict CSP on every HTML response,
security headers on every response, no-store on private pages, files only as attachments."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.security.conftest import Victim
from tests.security.test_cross_project_ids import id_values
from tests.security.urlconf import Route, all_routes, allow_listed

pytestmark = pytest.mark.django_db

# Admin pages with an object id are covered by the admin's own index and login here.
EXTRA_PATHS = ["/admin/login/", "/api/v1/no-such-endpoint/", "/no-such-page/"]
# Data blocks (`json_script`, type="application/json") are never executed, so the CSP allows them.
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>\s*\S", re.IGNORECASE)
RENDERABLE_TYPES = ("text/html", "image/svg", "application/xhtml", "text/xml", "application/xml")
INLINE_HANDLER_OR_STYLE = re.compile(rb"<[^>]+\s(on[a-z]+|style)\s*=", re.IGNORECASE)
INLINE_STYLE_ELEMENT = re.compile(rb"<style[\s>]", re.IGNORECASE)


def fillable_paths(victim: Victim) -> list[str]:
    values = {name: choices[0] for name, choices in id_values(victim).items()}
    values["unmatched"] = "no-such-endpoint/"
    paths = []
    for route in all_routes():
        if allow_listed(route) and route.takes_an_id:
            continue
        if route.template.startswith("admin/") and route.template not in ("admin/", "admin/login/"):
            continue
        paths.append(route.fill(values))
    return paths + EXTRA_PATHS


def _csp_directives(response: Any) -> dict[str, str]:
    policy = response.get("Content-Security-Policy", "")
    return {part.split()[0]: part for part in (p.strip() for p in policy.split(";")) if part}


def header_problems(path: str, response: Any, *, private: bool) -> list[str]:
    problems = []
    if response.get("X-Content-Type-Options") != "nosniff":
        problems.append("no nosniff")
    if response.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy {response.get('Referrer-Policy')!r}")
    directives = _csp_directives(response)
    if "frame-ancestors 'none'" not in directives.values() and response.get("X-Frame-Options") != "DENY":
        problems.append("can be framed")
    policy = response.get("Content-Security-Policy", "")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append(f"CSP allows inline code: {policy}")
    cache_control = response.get("Cache-Control", "")
    # A project's label stylesheet may sit in the user's own cache for a minute (never a shared one).
    private_stylesheet = response.get("Content-Type", "").startswith("text/css") and "private" in cache_control
    if private and "no-store" not in cache_control and not private_stylesheet:
        problems.append(f"private response cacheable: {response.get('Cache-Control')!r}")
    if response.get("Content-Type", "").startswith("text/html"):
        if "script-src" not in directives and "default-src" not in directives:
            problems.append("HTML without a script policy")
        body = response.content
        for name, pattern in (("inline <script>", INLINE_SCRIPT), ("inline handler or style attribute",
                              INLINE_HANDLER_OR_STYLE), ("<style> element", INLINE_STYLE_ELEMENT)):  # fmt: skip
            if pattern.search(body):
                problems.append(f"{name}: {pattern.search(body).group(0)[:80]!r}")
    disposition = response.get("Content-Disposition", "")
    # The OpenAPI schema names itself "inline" but is a type no browser renders; a page-like type must not be.
    renderable = response.get("Content-Type", "").startswith(RENDERABLE_TYPES)
    if disposition and not disposition.startswith("attachment") and renderable:
        problems.append(f"file served inline: {disposition}")
    return [f"{path} [{response.status_code}]: {problem}" for problem in problems]


@pytest.mark.parametrize("who", ["manager", "reviewer", "analyst", "outsider", "anonymous"])
def test_every_route_answers_with_the_security_headers(victim, who):
    client = Client()
    if who != "anonymous":
        client.force_login(getattr(victim.world, who))
    problems = []
    for path in fillable_paths(victim):
        response = client.get(path)
        problems += header_problems(path, response, private=who != "anonymous")
    assert not problems, "\n".join(problems)


def test_the_html_policy_forbids_inline_code_framing_plugins_and_foreign_forms(victim, client_for):
    response = client_for(victim.world.manager).get(f"/projects/{victim.world.project.pk}/")
    directives = _csp_directives(response)
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["form-action"] == "form-action 'self'"
    assert directives["base-uri"] == "base-uri 'none'"


DOWNLOAD_ROUTE_NAMES = {"annotations:export_download", "annotations:export_manifest", "api:job_download"}


def test_every_download_route_is_known_here(victim):
    # A new route that serves files must join DOWNLOAD_ROUTE_NAMES, so that the test below checks it.
    looks_like_a_download = {r.name for r in all_routes() if re.search(r"download|manifest|raw|source|file", r.name)}
    assert looks_like_a_download <= DOWNLOAD_ROUTE_NAMES


@pytest.mark.parametrize("route_name", sorted(DOWNLOAD_ROUTE_NAMES))
def test_files_go_out_only_as_sandboxed_sniff_proof_attachments(victim, client_for, route_name):
    route: Route = next(r for r in all_routes() if r.name == route_name)
    response = client_for(victim.world.manager).get(route.fill({"job_id": victim.export_job.pk}))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert _csp_directives(response)["default-src"] == "default-src 'none'"
    assert "sandbox" in response["Content-Security-Policy"]
    assert not response["Content-Type"].startswith(("text/html", "image/svg", "application/xhtml"))
