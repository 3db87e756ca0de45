"""Each endpoint's permission matrix: analyst, reviewer, manager, another project's
member, anonymous and a revoked token; other projects' ids answer 404."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.models import ApiToken, Role
from annotations.services import annotating, projects, tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def span(world: Any) -> Any:
    text = world.document.text
    return annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=0, end=12, quote=text[:12],
        actor=world.analyst, expected_version=None,
    )  # fmt: skip


def read_urls(world: Any, span: Any) -> list[str]:
    p, d, s = world.project.pk, world.document.pk, world.analyst_set.pk
    return [
        f"/api/v1/projects/{p}/",
        f"/api/v1/projects/{p}/documents/",
        f"/api/v1/projects/{p}/sets/",
        f"/api/v1/projects/{p}/spans/",
        f"/api/v1/projects/{p}/relations/",
        f"/api/v1/projects/{p}/changes/",
        f"/api/v1/documents/{d}/",
        f"/api/v1/documents/{d}/sets/",
        f"/api/v1/sets/{s}/",
        f"/api/v1/sets/{s}/spans/",
        f"/api/v1/sets/{s}/relations/",
        f"/api/v1/spans/{span.pk}/",
    ]


def test_every_role_in_the_project_reads_the_analysts_set(world, span, api_for):
    for user in (world.analyst, world.reviewer, world.manager):
        client = api_for(user)
        for url in read_urls(world, span):
            assert client.get(url).status_code == 200, (user.username, url)


def test_a_member_of_another_project_gets_404_with_the_same_body_as_a_missing_id(world, span, api_for):
    client = api_for(world.outsider)
    for url in read_urls(world, span):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    missing = client.get("/api/v1/spans/999999/").json()
    assert missing["code"] == "not_found"


def test_anonymous_requests_are_refused_with_401_in_the_error_shape(world, span):
    client = APIClient()
    for url in read_urls(world, span):
        response = client.get(url)
        assert response.status_code == 401, url
        assert set(response.json()) == {"code", "message", "field"}


def test_a_revoked_token_is_refused_at_once(world, span):
    created = tokens.api_token_create(user=world.manager, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    assert client.get(f"/api/v1/projects/{world.project.pk}/").status_code == 200
    tokens.api_token_revoke(token=created.token, actor=world.manager)
    response = client.get(f"/api/v1/projects/{world.project.pk}/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_expired_or_unknown_token_is_refused(world):
    import datetime

    from django.utils import timezone

    created = tokens.api_token_create(user=world.manager, name="short-lived")
    ApiToken.objects.filter(pk=created.token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    for secret in (created.secret, "cb_not-a-real-token", "garbage"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert client.get("/api/v1/projects/").status_code == 401


def test_the_token_is_stored_hashed_and_records_its_last_use(world):
    created = tokens.api_token_create(user=world.manager, name="script")
    stored = ApiToken.objects.get(pk=created.token.pk)
    assert created.secret not in (stored.token_sha256, stored.prefix)
    assert stored.token_sha256 == tokens.token_hash(created.secret)
    assert stored.last_used_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    client.get("/api/v1/projects/")
    assert ApiToken.objects.get(pk=created.token.pk).last_used_at is not None


def test_a_removed_members_token_loses_the_project_on_the_next_request(world, span, api_for):
    client = api_for(world.reviewer)
    assert client.get(f"/api/v1/projects/{world.project.pk}/spans/").status_code == 200
    projects.membership_remove(project=world.project, user=world.reviewer, actor=world.manager)
    assert client.get(f"/api/v1/projects/{world.project.pk}/spans/").status_code == 404
    assert client.get("/api/v1/projects/").json()["results"] == []


def test_in_blind_mode_an_analysts_token_cannot_read_another_analysts_set(world, span, api_for):
    assert world.project.blind_mode
    client = api_for(world.other_analyst)
    for url in (
        f"/api/v1/sets/{world.analyst_set.pk}/",
        f"/api/v1/sets/{world.analyst_set.pk}/spans/",
        f"/api/v1/spans/{span.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/api/v1/projects/{world.project.pk}/spans/").json()["results"] == []
    assert client.get(f"/api/v1/projects/{world.project.pk}/changes/").json()["results"] == []
    own_sets = client.get(f"/api/v1/documents/{world.document.pk}/sets/").json()["results"]
    assert [s["id"] for s in own_sets] == [world.other_set.pk]


def test_without_blind_mode_analysts_read_each_others_sets_but_cannot_write_them(world, span, api_for):
    world.project.blind_mode = False
    world.project.save()
    client = api_for(world.other_analyst)
    assert client.get(f"/api/v1/spans/{span.pk}/").status_code == 200
    assert len(client.get(f"/api/v1/projects/{world.project.pk}/spans/").json()["results"]) == 1
    response = client.delete(f"/api/v1/spans/{span.pk}/", HTTP_IF_MATCH='"2"')
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_only_managers_create_documents(world, api_for):
    body = {"text": "The council said the bridge will reopen in May.", "title": "Bridge"}
    url = f"/api/v1/projects/{world.project.pk}/documents/"
    for user in (world.analyst, world.reviewer):
        response = api_for(user).post(url, body, format="json")
        assert response.status_code == 403, user.username
    response = api_for(world.manager).post(url, body, format="json")
    assert response.status_code == 201
    assert response.json()["text"] == body["text"]
    assert api_for(world.outsider).post(url, body, format="json").status_code == 404


def test_members_are_listed_for_reviewers_and_managers_only(world, api_for):
    url = f"/api/v1/projects/{world.project.pk}/members/"
    assert api_for(world.analyst).get(url).status_code == 403
    roles = {m["username"]: m["role"] for m in api_for(world.reviewer).get(url).json()["results"]}
    assert roles["analyst"] == Role.ANNOTATOR and roles["manager"] == Role.MANAGER


def test_writes_to_another_analysts_set_and_to_another_projects_set_are_refused(world, span, api_for):
    body = {"label": "claim", "start": 0, "end": 12, "quote": world.document.text[:12]}
    reviewer = api_for(world.reviewer)
    response = reviewer.post(f"/api/v1/sets/{world.analyst_set.pk}/spans/", body, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 403
    outsider = api_for(world.outsider)
    response = outsider.post(f"/api/v1/sets/{world.analyst_set.pk}/spans/", body, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 404
    response = outsider.post(f"/api/v1/sets/{world.analyst_set.pk}/bulk/", {"spans": [body]}, format="json",
                             HTTP_IF_MATCH='"2"')  # fmt: skip
    assert response.status_code == 404


def test_a_session_works_for_the_browser(world, span, client_for):
    response = client_for(world.reviewer).get(f"/api/v1/projects/{world.project.pk}/spans/")
    assert response.status_code == 200
    assert response.json()["results"][0]["uuid"] == str(span.uuid)
