"""Workers that die: a job that kills its worker every time, and a job left behind by a killed worker.

A worker killed mid-import that is replaced by another (resumes, no duplicate) is
proven in tests/annotations/test_import_worker.py
(test_a_worker_killed_mid_job_is_replaced_and_the_job_ends_done_without_duplicates).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from annotations.models import Document, Job, JobStatus
from annotations.services import jobs
from tests.faults.instances import CeleryWorker, RedisServer, require_services, wait_until

require_services(binaries=["redis-server"])
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def finished(job: Job, worker: CeleryWorker, seconds: float) -> Job:
    def done() -> bool:
        job.refresh_from_db()
        return job.is_finished

    try:
        wait_until(done, seconds=seconds, what=f"job {job.pk} to finish (now {job.status})", interval=0.2)
    except pytest.fail.Exception:
        pytest.fail(f"job {job.pk} still {job.status}; worker log:\n{worker.tail()}")
    return job


def test_a_job_that_kills_its_worker_every_time_fails_after_the_delivery_limit(
    team: Any, own_broker: RedisServer, start_worker: Callable[..., CeleryWorker]
) -> None:
    project, manager, _ = team
    # A prefork pool: the pool process running the job dies (os._exit, as in an out-of-memory kill),
    # the worker stays up, and the message is rejected back to the queue (task_reject_on_worker_lost).
    worker = start_worker(own_broker.url(), pool="prefork", CLAIMBENCH_FAULT_INJECTION="1")
    job = jobs.import_job_create(
        project=project, files=[jobs.UploadedInput("crash-worker.txt", io.BytesIO(b"An article.\n"))], actor=manager
    )
    jobs.enqueue(job)

    job = finished(job, worker, seconds=60)

    assert job.status == JobStatus.FAILED
    assert job.deliveries == jobs.MAX_DELIVERIES + 1
    assert f"gave up after {jobs.MAX_DELIVERIES} attempts" in job.error
    assert "the worker stopped each time" in job.error
    assert not Document.objects.filter(project=project).exists()
    assert worker.alive(), "the worker itself survives its pool processes"
    assert worker.tail().count("WorkerLostError") >= jobs.MAX_DELIVERIES


def test_a_job_whose_worker_died_shows_stalled_with_a_retry_that_works_once_a_worker_runs(
    team: Any, own_broker: RedisServer, start_worker: Callable[..., CeleryWorker], monkeypatch: Any
) -> None:
    project, manager, _ = team
    monkeypatch.setenv("CLAIMBENCH_JOB_STALE_SECONDS", "1")  # as the workers see it
    count = 5_000
    body = "".join(json.dumps({"text": f"Report {n} on the regional grain budget."}) + "\n" for n in range(count))
    first = start_worker(own_broker.url())
    job = jobs.import_job_create(
        project=project, files=[jobs.UploadedInput("reports.jsonl", io.BytesIO(body.encode()))], actor=manager
    )
    jobs.enqueue(job)

    def one_batch_in() -> bool:
        job.refresh_from_db()
        return job.done >= jobs.BATCH_SIZE or job.is_finished

    wait_until(one_batch_in, seconds=60, what="the first committed batch", interval=0.02)
    first.kill()  # SIGKILL: no worker is left
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING, "the job finished before its worker could be killed; make it longer"
    killed_at = job.done
    time.sleep(1.5)  # longer than the heartbeat may lag

    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    page = client.get(reverse("annotations:job_detail", args=[job.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Stalled: the worker running this import has not reported" in html
    retry_url = reverse("annotations:job_retry", args=[job.pk])
    assert f'action="{retry_url}"' in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    response = client.post(retry_url, {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED

    second = start_worker(own_broker.url())
    job = finished(job, second, seconds=90)

    assert job.status == JobStatus.DONE, job.error
    assert killed_at < count
    assert Document.objects.filter(project=project).count() == count
    duplicated = Document.objects.filter(project=project).values("text_sha256").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicated.exists()
    assert "Stalled" not in client.get(reverse("annotations:job_detail", args=[job.pk])).content.decode()
