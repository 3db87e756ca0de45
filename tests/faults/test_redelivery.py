"""The decisions behind the fault tests, in-process (these run on SQLite too, no service needed).

- a delivery that finds its job running with a fresh heartbeat looks again later
  rather than being dropped (the redelivery of a pool process killed a moment ago
  looks exactly like that);
- a stalled job can be retried, a live one cannot;
- a broker that refuses connections fails the job at once with a plain message;
- a lost database connection answers 503, JSON for API and fetch callers.
"""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.test import RequestFactory
from django.utils import timezone

from annotations.exceptions import NotAllowed
from annotations.middleware import DatabaseUnavailableMiddleware
from annotations.models import Job, JobStatus
from annotations.services import jobs
from annotations.tasks import run_import_job

pytestmark = pytest.mark.django_db


def queued_job(world: Any) -> Job:
    upload = jobs.UploadedInput("a.txt", io.BytesIO(b"Some text.\n"))
    return jobs.import_job_create(project=world.project, files=[upload], actor=world.manager)


def test_a_delivery_that_finds_its_job_alive_looks_again_once_the_heartbeat_could_be_stale(world: Any) -> None:
    job = queued_job(world)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now(), deliveries=1)

    with pytest.raises(Retry):
        run_import_job(job.pk)

    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.deliveries == 1  # left to its worker meanwhile
    assert jobs.job_recheck_after(job.pk) == jobs.heartbeat_stale_after().total_seconds() + 1


def test_a_delivery_of_a_finished_job_neither_runs_nor_looks_again(world: Any) -> None:
    job = queued_job(world)
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE

    run_import_job(job.pk)  # no Retry raised

    assert jobs.job_recheck_after(job.pk) is None
    assert Job.objects.get(pk=job.pk).deliveries == 1


def test_a_stalled_job_can_be_retried_but_a_live_one_cannot(world: Any) -> None:
    job = queued_job(world)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now(), deliveries=2)
    job.refresh_from_db()
    with pytest.raises(NotAllowed):
        jobs.import_job_retry(job=job, actor=world.manager)

    long_ago = timezone.now() - jobs.heartbeat_stale_after() - datetime.timedelta(seconds=5)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    job.refresh_from_db()
    assert jobs.job_is_stalled(job)
    retried = jobs.import_job_retry(job=job, actor=world.manager)

    assert retried.status == JobStatus.QUEUED and retried.deliveries == 0


def test_a_broker_that_refuses_connections_fails_the_job_at_once_with_a_plain_message(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from workbench.celery import app

    keys = ("broker_url", "broker_write_url", "broker_read_url")
    previous = {key: app.conf[key] for key in keys}
    # Nothing listens on 6399 (the fault tests' own range, never the shared Redis).
    app.conf.update(dict.fromkeys(keys, "redis://127.0.0.1:6399/0"))
    app._pool = None
    app.amqp._producer_pool = None
    try:
        job = queued_job(world)
        with pytest.raises(jobs.QueueUnavailable), django_capture_on_commit_callbacks(execute=True):
            jobs.enqueue(job)
    finally:
        app.conf.update(previous)
        app._pool = None
        app.amqp._producer_pool = None

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "job queue is unavailable" in job.error


@pytest.mark.parametrize(
    ("path", "headers", "json_expected"),
    [
        ("/api/v1/sets/1/spans/", {}, True),
        ("/annotate/1/spans/", {"HTTP_ACCEPT": "application/json"}, True),
        ("/projects/", {"HTTP_ACCEPT": "text/html"}, False),
    ],
)
def test_a_lost_database_connection_answers_a_clear_503(
    path: str, headers: dict[str, str], json_expected: bool
) -> None:
    request = RequestFactory().post(path, **headers)
    middleware = DatabaseUnavailableMiddleware(lambda request: pytest.fail("not called"))

    response = middleware.process_exception(request, OperationalError("server closed the connection unexpectedly"))

    assert response is not None and response.status_code == 503
    assert response["Retry-After"]
    body = response.content.decode()
    assert ("application/json" in response["Content-Type"]) is json_expected
    assert "not saved" in body and "Traceback" not in body and "server closed" not in body
    assert middleware.process_exception(request, ValueError("not ours")) is None
