"""Who may do what, as a matrix over roles (pages and API); blind mode hides other analysts'
work everywhere; a removed member loses access on the next request, by session and by token."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from annotations.models import Span
from annotations.services import projects
from tests.security.conftest import Victim
from tests.security.test_headers import fillable_paths

pytestmark = pytest.mark.django_db

OK, REFUSED = "ok", "refused"


def read_matrix(v: Victim) -> list[tuple[str, dict[str, str]]]:
    """GET path -> role -> ok/refused. Analysts annotate; reviewers review; managers also run the project."""
    p, d, s, e = v.world.project.pk, v.world.document.pk, v.world.analyst_set.pk, v.export_job.pk
    everyone = {"analyst": OK, "reviewer": OK, "manager": OK}
    reviewers = {"analyst": REFUSED, "reviewer": OK, "manager": OK}
    managers = {"analyst": REFUSED, "reviewer": REFUSED, "manager": OK}
    return [
        (f"/projects/{p}/", everyone), (f"/projects/{p}/guidelines/", everyone), (f"/documents/{d}/", everyone),
        (f"/annotate/{s}/", everyone), (f"/projects/{p}/feedback/", everyone),
        (f"/projects/{p}/review/", reviewers), (f"/projects/{p}/dashboard/", reviewers),
        (f"/documents/{d}/review/", reviewers), (f"/exports/{e}/download/", reviewers),
        (f"/projects/{p}/import/", managers), (f"/projects/{p}/jobs/", managers),
        (f"/jobs/{v.import_job.pk}/", managers),
        (f"/projects/{p}/export/", managers), (f"/projects/{p}/assignments/", managers),
        (f"/api/v1/projects/{p}/", everyone), (f"/api/v1/projects/{p}/documents/", everyone),
        (f"/api/v1/sets/{s}/spans/", everyone), (f"/api/v1/projects/{p}/members/", reviewers),
        (f"/api/v1/projects/{p}/agreement/", reviewers), (f"/api/v1/documents/{d}/agreement/", reviewers),
        (f"/api/v1/jobs/{e}/download/", reviewers),
    ]  # fmt: skip


def _outcome(status: int) -> str:
    return OK if status in (200, 286) else REFUSED if status in (403, 404) else f"unexpected {status}"


@pytest.mark.parametrize("role", ["analyst", "reviewer", "manager"])
def test_each_role_reads_exactly_what_its_row_of_the_matrix_says(victim, role):
    client = Client()
    client.force_login(getattr(victim.world, role))
    wrong = [(path, _outcome(client.get(path).status_code), expected[role]) for path, expected in read_matrix(victim)]
    assert [row for row in wrong if row[1] != row[2]] == []


def _create_span(client: Client, set_id: int, text: str, version: int) -> int:
    body = {"label": "claim", "start": 0, "end": 12, "quote": text[:12]}
    return client.post(f"/api/v1/sets/{set_id}/spans/", body, content_type="application/json",
                       HTTP_IF_MATCH=f'"{version}"').status_code  # fmt: skip


def test_write_matrix_each_role_writes_only_the_sets_it_owns(victim, client_for):
    world = victim.world
    text = world.document.text
    sets = {"own": world.analyst_set, "other": world.other_set, "gold": victim.gold_set}
    expected = {
        "analyst": {"own": 201, "other": REFUSED, "gold": REFUSED},
        "reviewer": {"own": REFUSED, "other": REFUSED, "gold": 201},
        "manager": {"own": REFUSED, "other": REFUSED, "gold": 201},
    }
    for role, row in expected.items():
        client = client_for(getattr(world, role))
        for which, outcome in row.items():
            annotation_set = sets[which]
            annotation_set.refresh_from_db()
            status = _create_span(client, annotation_set.pk, text, annotation_set.version)
            assert (status == outcome) if outcome != REFUSED else status in (403, 404), (role, which, status)
    # Project administration: only the manager.
    for role, allowed in (("analyst", False), ("reviewer", False), ("manager", True)):
        export_form = {"format": "jsonl", "scope": "all"}
        response = client_for(getattr(world, role)).post(f"/projects/{world.project.pk}/export/", export_form)
        assert (response.status_code == 302) == allowed, (role, response.status_code)


def test_blind_mode_hides_other_analysts_everywhere_an_analyst_can_look(victim):
    world = victim.world
    assert world.project.blind_mode
    hidden = Span.objects.get(annotation_set=world.other_set)
    hidden.note = "second analyst's private reasoning"
    hidden.save()
    secrets = [world.other_analyst.username, str(hidden.uuid), hidden.note, str(world.other_set.uuid)]
    client = Client()
    client.force_login(world.analyst)
    leaks = []
    for path in fillable_paths(victim) + [f"/documents/{world.document.pk}/?set={world.other_set.pk}",
                                          f"/api/v1/projects/{world.project.pk}/changes/?since=0"]:  # fmt: skip
        response = client.get(path)
        body = response.content if not response.streaming else b"".join(response.streaming_content)
        text = body.decode("utf-8", "replace")
        leaks += [f"{path}: {secret}" for secret in secrets if re.search(rf"\b{re.escape(secret)}\b", text)]
    assert leaks == []
    # The control: the same secrets are on show to a reviewer, so the search above can find them.
    reviewer = Client()
    reviewer.force_login(world.reviewer)
    review_page = reviewer.get(f"/api/v1/sets/{world.other_set.pk}/spans/").content.decode()
    assert str(hidden.uuid) in review_page and hidden.note in review_page


def test_blind_mode_api_lists_only_the_analysts_own_sets(victim, client_for):
    world = victim.world
    client = client_for(world.analyst)
    listed = client.get(f"/api/v1/documents/{world.document.pk}/sets/").json()
    ids = (
        {row["id"] for row in listed.get("results", listed)} if isinstance(listed, dict) else {r["id"] for r in listed}
    )
    assert world.other_set.pk not in ids
    assert client.get(f"/api/v1/sets/{world.other_set.pk}/spans/").status_code in (403, 404)
    assert client.get(f"/annotate/{world.other_set.pk}/").status_code in (403, 404)


def test_a_removed_member_loses_the_project_on_the_next_request_by_session_and_by_token(victim):
    world = victim.world
    session = Client()
    session.force_login(world.analyst)
    token = Client(HTTP_AUTHORIZATION=f"Bearer {victim.token_secret}")
    project_page, api_project = f"/projects/{world.project.pk}/", f"/api/v1/projects/{world.project.pk}/"
    annotate = f"/annotate/{world.analyst_set.pk}/"
    assert session.get(project_page).status_code == 200 and token.get(api_project).status_code == 200
    projects.membership_remove(project=world.project, user=world.analyst, actor=world.manager)
    for path in (project_page, annotate, f"/documents/{world.document.pk}/", api_project):
        assert session.get(path).status_code == 404, path
    assert token.get(api_project).status_code == 404
    assert token.get(f"/api/v1/sets/{world.analyst_set.pk}/spans/").status_code == 404
    write = session.post(f"/annotate/{world.analyst_set.pk}/spans/", json.dumps({"label": "claim", "start": 0,
                         "end": 3, "quote": world.document.text[:3], "expected_version": 99}),
                         content_type="application/json")  # fmt: skip
    assert write.status_code == 404
    listed = token.get("/api/v1/projects/").json()
    assert world.project.pk not in {row["id"] for row in listed.get("results", [])}
