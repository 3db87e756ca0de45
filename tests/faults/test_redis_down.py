"""Redis (the job queue) killed under a live server: annotating goes on, imports say the queue is down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.test import Client

from annotations.models import Job, JobStatus, Span
from annotations.services import projects, tokens
from tests.factories import DocumentFactory
from tests.faults.http import TEXT, api_session, page_session, save_by_api, save_on_page, set_state, word_span
from tests.faults.instances import RedisServer, WebServer, port_open, require_services

require_services(binaries=["redis-server"])
pytestmark = pytest.mark.django_db(transaction=True)


def session_id(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_with_redis_down_spans_still_save_and_an_import_says_the_queue_is_unavailable(
    team: Any, redis_server: RedisServer, start_web_server: Callable[..., WebServer]
) -> None:
    project, manager, analyst = team
    document = DocumentFactory(project=project, text=TEXT)
    annotation_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=manager)
    server = start_web_server(CELERY_BROKER_URL=redis_server.url())
    page = page_session(server.url, session_id(analyst))
    api = api_session(tokens.api_token_create(user=analyst, name="faults").secret)
    manager_page = page_session(server.url, session_id(manager))
    manager_api = api_session(tokens.api_token_create(user=manager, name="faults").secret)

    redis_server.kill()
    assert not port_open(redis_server.port), "something else listens on the killed Redis's port"

    version = annotation_set.version
    saved = save_on_page(page, server.url, annotation_set.pk, first := word_span(0), version)
    assert saved.status == 201, saved.body
    state = set_state(api, server.url, annotation_set.pk)
    assert state is not None
    saved = save_by_api(api, server.url, annotation_set.pk, second := word_span(1), state[0])
    assert saved.status == 201, saved.body
    stored = {str(u) for u in Span.objects.filter(annotation_set=annotation_set).values_list("uuid", flat=True)}
    assert stored == {first["uuid"], second["uuid"]}

    form = {"format": "auto", "cleanup": "on", "csv_text_column": "text"}
    files = {"files": ("note.txt", b"An article about the harvest.\n", "text/plain")}
    response = manager_page.post(
        f"{server.url}/projects/{project.pk}/import/",
        data=form,
        files=files,
        headers={"Accept": "text/html"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 503, server.tail()
    assert "The job queue is unavailable" in response.text
    assert "Traceback" not in response.text

    response = manager_api.post(
        f"{server.url}/api/v1/projects/{project.pk}/jobs/import/",
        files={"files": ("other.txt", b"Another article.\n", "text/plain")},
        timeout=60,
    )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "queue_unavailable"
    assert "job queue is unavailable" in body["message"]
    assert body["job"]["status"] == JobStatus.FAILED

    response = manager_api.post(
        f"{server.url}/api/v1/projects/{project.pk}/jobs/export/", json={"format": "jsonl"}, timeout=60
    )
    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"

    started = Job.objects.filter(project=project)
    assert started.count() == 3  # two imports and an export, all refused plainly
    assert not started.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).exists()
    assert all("job queue is unavailable" in job.error for job in started)
    assert server.alive()
    # The server keeps answering reads too.
    assert requests.get(f"{server.url}/api/v1/sets/{annotation_set.pk}/spans/", headers=api.headers, timeout=30).ok
