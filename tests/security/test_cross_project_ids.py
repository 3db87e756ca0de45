"""DESIGN rule 1, generated from the URL conf: every route that takes an id answers a member of
another project exactly as it answers a missing id (404), for reads and writes, and writes nothing."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from annotations.services import tokens
from tests.security.conftest import Victim, database_snapshot
from tests.security.urlconf import Route, all_routes, allow_listed

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MISSING_INT = 987_654_321
DECIDED_BEFORE_LOOKUP = {400, 405, 415}
MISSING_UUID = uuid.UUID("00000000-0000-4000-8000-000000000000")


def id_values(victim: Victim) -> dict[str, list[Any]]:
    """Every id parameter the URL conf uses, filled with the victim project's objects."""
    world = victim.world
    return {
        "project_id": [world.project.pk],
        "document_id": [world.document.pk],
        "set_id": [world.analyst_set.pk, world.other_set.pk, victim.gold_set.pk],
        "span_id": [victim.span.pk],
        "span_uuid": [victim.span.uuid],
        "relation_id": [victim.relation.pk],
        "relation_uuid": [victim.relation.uuid],
        "job_id": [victim.import_job.pk, victim.export_job.pk],
        "token_id": [victim.token.pk],
    }


def missing_value(parameter: str) -> Any:
    return MISSING_UUID if "uuid" in parameter else MISSING_INT


def plausible_bodies(victim: Victim) -> list[tuple[str, str]]:
    """A JSON and a form body that would be a valid write to most routes, were the id the caller's own."""
    world = victim.world
    text = world.document.text
    fields = {
        "label": "claim", "start": 0, "end": 12, "quote": text[:12], "note": "written by an outsider",
        "expected_version": world.analyst_set.version, "version": world.analyst_set.version,
        "type": "sources", "source": str(victim.relation.source.uuid), "target": str(victim.span.uuid),
        "spans": [{"label": "claim", "start": 0, "end": 12, "quote": text[:12]}],
        "name": "renamed by an outsider", "action": "accept", "format": "jsonl", "scope": "all",
        "override_note": "outsider", "role": "manager",
    }  # fmt: skip
    form = "&".join(f"{key}={value}" for key, value in fields.items() if not isinstance(value, list))
    return [(json.dumps(fields), "application/json"), (form, "application/x-www-form-urlencoded")]


def id_routes() -> list[Route]:
    return [route for route in all_routes() if route.takes_an_id and not allow_listed(route)]


def test_every_id_parameter_in_the_url_conf_can_be_filled(victim):
    # A new kind of id must be added to id_values(), so that the test below reaches its route.
    known = set(id_values(victim))
    unfillable = {(route.template, p) for route in id_routes() for p in route.parameters if p not in known}
    assert unfillable == set()
    assert len(id_routes()) >= 40  # the walk found the project's routes, not an empty list


def _requests(client: Any, url: str, method: str, bodies: list[tuple[str, str]], **extra: Any) -> list[Any]:
    if method == "GET":
        return [client.generic("GET", url, **extra)]
    return [client.generic(method, url, body, content_type=kind, **extra) for body, kind in bodies]


def _visit_every_route_as(client: Any, victim: Victim, routes: list[Route], **extra: Any) -> list[str]:
    values = id_values(victim)
    bodies = plausible_bodies(victim)
    failures = []
    for route in routes:
        missing_url = route.fill({p: missing_value(p) for p in route.parameters})
        combos = itertools.product(*(values[p] for p in route.parameters))
        for combo in combos:
            url = route.fill(dict(zip(route.parameters, combo, strict=True)))
            found_404 = False
            for method in METHODS:
                baseline = [r.status_code for r in _requests(client, missing_url, method, bodies, **extra)]
                answers = [r.status_code for r in _requests(client, url, method, bodies, **extra)]
                found_404 = found_404 or 404 in answers
                # 405, and 400/415 for a body of the wrong kind, are decided before any lookup: they say
                # nothing about the id as long as a missing id gets the same. Anything else must be 404.
                if answers != baseline or not set(answers) <= {404, *DECIDED_BEFORE_LOOKUP}:
                    failures.append(f"{method} {url}: {answers} (missing id: {baseline})")
            if not found_404:
                failures.append(f"{url}: no method reached the lookup")
    return failures


def test_a_member_of_another_project_gets_404_on_every_id_route_and_changes_nothing(victim, client_for):
    outsider = client_for(victim.world.outsider)  # a manager, but of their own project
    before = database_snapshot()
    failures = _visit_every_route_as(outsider, victim, id_routes())
    assert not failures, "\n".join(failures)
    assert database_snapshot() == before


def test_an_api_token_of_another_projects_member_gets_404_on_every_api_id_route(victim):
    secret = tokens.api_token_create(user=victim.world.outsider, name="outsider's script").secret
    api_routes = [route for route in id_routes() if route.template.startswith("api/")]
    before = database_snapshot()
    failures = _visit_every_route_as(
        Client(), victim, api_routes, HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_IF_MATCH='"1"'
    )
    assert not failures, "\n".join(failures)
    after = database_snapshot()
    # Using a token stamps its own last-use time; nothing else may move.
    for snapshot in (before, after):
        snapshot.pop("annotations.apitoken")
    assert after == before


def test_the_admin_refuses_project_members_who_are_not_staff(victim, client_for):
    manager = client_for(victim.world.manager)
    admin_routes = [route for route in all_routes() if route.template.startswith("admin/") and route.takes_an_id]
    assert admin_routes
    span_change = f"/admin/annotations/span/{victim.span.pk}/change/"
    before = database_snapshot()
    for method in METHODS:
        response = manager.generic(method, span_change)
        assert response.status_code in (302, 405), (method, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/admin/login/")
    assert database_snapshot() == before
