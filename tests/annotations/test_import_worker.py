"""Imports through a real Celery worker process on Redis and PostgreSQL.

The worker is a subprocess (`celery -A workbench worker --pool=solo`) that
reads the test database pytest-django created, so these tests need committed
data (transactional_db) and a server-backed database and broker. They skip
on the single-machine defaults unless CLAIMBENCH_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Count

from annotations.models import Document, Job, JobRowError, JobStatus, Project, Role, Span
from annotations.services import jobs, projects
from tests.factories import UserFactory

BROKER = os.environ.get("CELERY_BROKER_URL", "")
REQUIRED = os.environ.get("CLAIMBENCH_REQUIRE_SERVICES") == "1"
ON_SERVICES = BROKER.startswith("redis://") and "postgresql" in settings.DATABASES["default"]["ENGINE"]

if not ON_SERVICES and not REQUIRED:
    pytest.skip(
        "needs a Redis broker (CELERY_BROKER_URL=redis://…) and PostgreSQL (DATABASE_URL=postgres://…) "
        "for a real worker process; set CLAIMBENCH_REQUIRE_SERVICES=1 to make this a failure",
        allow_module_level=True,
    )

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """A celery worker subprocess on the test database; `kill()` sends SIGKILL by PID."""

    def __init__(self, media_root: Path, log: Path) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": BROKER,
            "CELERY_VISIBILITY_TIMEOUT": "3",
            "CLAIMBENCH_JOB_STALE_SECONDS": "2",
            "MEDIA_ROOT": str(media_root),
            "DJANGO_SETTINGS_MODULE": "workbench.settings",
        }
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workbench", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(settings: Any, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    from workbench.celery import app

    app.control.purge()  # leftovers of an earlier run must not reach this test's database
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(Path(settings.MEDIA_ROOT), tmp_path / "worker.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def team(transactional_db: Any) -> Any:
    manager = UserFactory(username="manager")
    project = projects.project_create(name="Worker imports", actor=manager)
    analyst = UserFactory(username="analyst", email="analyst@example.org")
    projects.membership_set_role(project=project, user=analyst, role=Role.ANNOTATOR, actor=manager)
    return project, manager


def wait_for(job: Job, worker: Worker, seconds: float = 90) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}): {worker.log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"job still {job.status} after {seconds} s: {worker.log.read_text()[-3000:]}")


def start_job(project: Project, manager: Any, files: dict[str, bytes], **kwargs: Any) -> Job:
    uploads = [jobs.UploadedInput(name, io.BytesIO(data)) for name, data in files.items()]
    job = jobs.import_job_create(project=project, files=uploads, actor=manager, **kwargs)
    jobs.enqueue(job)
    return job


TEXT = "The minister said taxes will fall. Critics denied that taxes will fall."


def zipped(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def every_format() -> dict[str, bytes]:
    claim = TEXT.index("taxes will fall")
    counter = TEXT.index("Critics denied")
    jsonl_record = {
        "text": TEXT, "metadata": {"external_id": "cb-1"},
        "sets": [{"annotator": "analyst", "spans": [
            {"id": "a", "label": "attribution", "start": 0, "end": 17},
            {"id": "c", "label": "claim", "start": claim, "end": claim + 15},
        ], "relations": [{"type": "sources", "source": "a", "target": "c"}]}],
    }  # fmt: skip
    doccano = {"text": "Doccano: " + TEXT, "label": [[9, 26, "attribution"], [9 + claim, 9 + claim + 15, "claim"]]}
    label_studio = [{
        "id": 1, "data": {"text": "Label Studio: " + TEXT},
        "annotations": [{"completed_by": {"email": "analyst@example.org"}, "result": [
            {"id": "r1", "type": "labels", "from_name": "label", "to_name": "text",
             "value": {"start": 14 + counter, "end": len("Label Studio: " + TEXT) - 1, "labels": ["counter-claim"]}},
        ]}],
    }]  # fmt: skip
    brat_text = "Brat: " + TEXT
    brat_ann = f"T1\tattribution 6 23\t{brat_text[6:23]}\nT2\tclaim {6 + claim} {6 + claim + 15}\ttaxes will fall\n"
    brat_ann += "R1\tsources Arg1:T1 Arg2:T2\n"
    return {
        "note.txt": b"A plain text article about the harvest.\nScroll Top\n",
        "page.html": b"<html><head><title>Budget</title></head><body><article><p>"
        + b"The budget debate continued late into the night in parliament. " * 6
        + b"</p></article></body></html>",
        "records.jsonl": json.dumps(jsonl_record).encode() + b"\n",
        "rows.csv": b"text,outlet,title\nA CSV row article.,The Gazette,CSV title\n",
        "doccano.jsonl": json.dumps(doccano).encode() + b"\n",
        "tasks.json": json.dumps(label_studio).encode(),
        "brat.zip": zipped({"doc.txt": brat_text, "doc.ann": brat_ann}),
        "mixed.zip": zipped(
            {
                "x/one.txt": "First zipped article.\n",
                "y/two.jsonl": '{"text": "Zipped JSON line."}\n',
                "z/t.csv": "text\nZipped CSV row.\n",
            }
        ),  # fmt: skip
    }


def test_every_format_imports_through_the_worker(team: Any, start_worker: Callable[[], Worker]) -> None:
    project, manager = team
    worker = start_worker()
    job = wait_for(start_job(project, manager, every_format()), worker)

    problems = list(JobRowError.objects.filter(job=job).values_list("source_name", "line", "reason"))
    assert job.status == JobStatus.DONE, job.error
    assert problems == []
    assert job.summary["documents_created"] == 10
    assert job.summary["spans_created"] == 7
    assert job.summary["relations_created"] == 2
    assert Document.objects.get(project=project, outlet="The Gazette").title == "CSV title"
    assert "Scroll Top" not in Document.objects.get(project=project, raw_source_name="note.txt").text


def test_failures_are_reported_with_file_line_and_reason_while_good_rows_land(
    team: Any, start_worker: Callable[[], Worker]
) -> None:
    project, manager = team
    bomb = zipped({"bomb.txt": "a" * (30 * 1024 * 1024)})
    files = {
        "good-and-bad.jsonl": b'{"text": "A good row."}\n{"text": 5}\n{broken\n',
        "picture.txt": b"\x89PNG\r\n\x1a\n" + bytes(64),
        "slides.pptx": b"PK\x03\x04 not for us",
        "traversal.zip": zipped({"../../escape.txt": "Escaped.", "fine.txt": "A fine zipped article."}),
        "bomb.zip": bomb,
        "fake.zip": b"this is no archive",
    }
    worker = start_worker()
    job = wait_for(start_job(project, manager, files), worker)

    assert job.status == JobStatus.DONE, job.error
    reasons = {(row.source_name, row.line): row.reason for row in JobRowError.objects.filter(job=job)}
    assert set(Document.objects.filter(project=project).values_list("text", flat=True)) == {
        "A good row.",
        "A fine zipped article.",
    }
    assert ("good-and-bad.jsonl", 2) in reasons and ("good-and-bad.jsonl", 3) in reasons
    by_file = " | ".join(f"{name}: {reason}" for (name, _), reason in reasons.items())
    assert "PNG image" in by_file
    assert "unsupported file type" in by_file
    assert "not a ZIP archive" in by_file
    assert "escape.txt" in by_file
    assert "bomb" in by_file
    assert job.rows_failed == len(reasons)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_ends_done_without_duplicates(
    team: Any, start_worker: Callable[[], Worker]
) -> None:
    project, manager = team
    count = 30_000
    body = "".join(
        json.dumps({"text": f"Article {n}. " + "The council debated the grain budget at length. " * 20}) + "\n"
        for n in range(count)
    ).encode()
    first = start_worker()
    job = start_job(project, manager, {"big.jsonl": body})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.done >= 2 * jobs.BATCH_SIZE:
            break
        time.sleep(0.05)
    assert not job.is_finished, "the job finished before the worker could be killed; make it longer"
    first.kill()
    killed_at = job.done

    second = start_worker()
    job = wait_for(job, second, seconds=180)

    assert job.status == JobStatus.DONE, job.error
    assert job.deliveries >= 2
    assert killed_at < count
    assert Document.objects.filter(project=project).count() == count
    assert job.summary["documents_created"] == count
    assert job.summary["skipped_duplicates"] == 0
    duplicated = Document.objects.filter(project=project).values("text_sha256").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicated.exists()
    assert not Span.objects.exists()
