"""Fixtures: users by role in one project, a second project, logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from annotations.models import AnnotationSet, Document, Project, Role
from annotations.services import projects
from tests.factories import DocumentFactory, UserFactory


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2's million rounds cost ~0.5 s per user; `world` makes six. Tests check logins, not hash strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings: Any) -> None:
    # With DEBUG off the manifest storage needs `collectstatic` first; pages under test read the source files.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@dataclass
class World:
    """One project with a manager, a reviewer and two analysts, one document assigned to both."""

    project: Project
    manager: Any
    reviewer: Any
    analyst: Any
    other_analyst: Any
    outsider: Any
    document: Document
    analyst_set: AnnotationSet
    other_set: AnnotationSet


@pytest.fixture
def world(db: Any) -> World:
    manager = UserFactory(username="manager")
    project = projects.project_create(name="Election coverage", actor=manager)
    reviewer, analyst, other_analyst = (UserFactory(username=n) for n in ("reviewer", "analyst", "analyst2"))
    projects.membership_set_role(project=project, user=reviewer, role=Role.REVIEWER, actor=manager)
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    projects.membership_set_role(project=project, user=other_analyst, role=Role.ANNOTATOR, actor=manager)
    outsider = UserFactory(username="outsider")
    projects.project_create(name="Someone else's project", actor=outsider)
    document = DocumentFactory(project=project)
    analyst_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=manager)
    other_set = projects.annotation_set_assign(document=document, annotator=other_analyst, actor=manager)
    return World(project, manager, reviewer, analyst, other_analyst, outsider, document, analyst_set, other_set)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium for browser tests (see tests/browser.py); any CSP violation fails the test."""
    from tests.browser import launch_chromium

    with launch_chromium() as instance:
        yield instance
        assert instance.csp_violations == [], "Content-Security-Policy violations during the test"


@pytest.fixture
def logged_in_page(browser: Any, live_server: Any, transactional_db: Any) -> Iterator[Any]:
    """Open a page of the live server as a user (session cookie, no login form).

    Each page records uncaught script errors in `page.js_errors`; `wait_for` names a
    selector that means the page's script is ready.
    """
    contexts: list[Any] = []

    def make(user: Any, path: str, *, wait_for: str | None = None, height: int = 1000) -> Any:
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1360, "height": height})
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        page.goto(live_server.url + path)
        if wait_for:
            page.wait_for_selector(wait_for)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def client_for(db: Any) -> Any:
    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
