from __future__ import annotations

import datetime
import errno
import json
import os
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from annotations.exceptions import InvalidInput, NotAllowed
from annotations.exporters import base
from annotations.exporters.claimbench_jsonl import JsonlExporter
from annotations.models import Job, JobStatus
from annotations.services import exporting
from tests.annotations.exporters.conftest import finished_job, run_export


def test_a_finished_export_states_its_snapshot_scope_and_counts(annotated):
    job = finished_job(annotated.project, "jsonl", scope="submitted")
    assert job.status == JobStatus.DONE and job.output_file
    manifest = job.summary["manifest"]
    assert manifest["scope"] == "submitted" and manifest["snapshot_at"].endswith("+00:00")
    assert job.summary["spans"] == 6 and job.summary["relations"] == 3 and job.summary["documents"] == 1
    assert job.done == job.total


def test_a_second_delivery_of_a_finished_job_does_nothing(annotated):
    job = finished_job(annotated.project, "csv")
    assert exporting.export_job_run(job.pk) is None
    assert Job.objects.get(pk=job.pk).deliveries == 1


def test_a_full_disk_fails_the_job_and_keeps_no_file(annotated, monkeypatch, settings):
    def write_then_fill_the_disk(self: Any, documents: Any, out: Any, manifest: Any) -> None:
        out.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(JsonlExporter, "write", write_then_fill_the_disk)
    monkeypatch.setattr(JsonlExporter, "write_rendered", write_then_fill_the_disk)  # PostgreSQL's path
    job = finished_job(annotated.project, "jsonl")
    assert job.status == JobStatus.FAILED
    assert "disk is full" in job.error and not job.output_file
    jobs_folder = settings.MEDIA_ROOT / "jobs"
    assert not jobs_folder.exists() or not any(p.is_file() for p in jobs_folder.rglob("*"))


def _write_back_every_byte(monkeypatch: Any) -> None:
    """Write the file in pieces and start a disk write after each, even in an export this small."""
    monkeypatch.setattr(exporting, "WRITEBACK_BYTES", 1)
    monkeypatch.setattr(exporting, "JOINED_ROWS", 1)
    monkeypatch.setattr(base, "WRITE_BYTES", 1)


@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_the_file_goes_to_disk_while_it_is_written_and_comes_out_whole(annotated, monkeypatch, format):
    reference = run_export(annotated.project, format)
    synced: list[int] = []
    real_sync = getattr(os, "fdatasync", os.fsync)

    def recording_sync(descriptor: int) -> None:
        synced.append(descriptor)
        real_sync(descriptor)

    _write_back_every_byte(monkeypatch)
    monkeypatch.setattr(os, "fdatasync", recording_sync, raising=False)
    assert run_export(annotated.project, format) == reference
    assert synced, "the early writeback ran during the export"


def test_a_full_disk_met_by_the_early_writeback_fails_the_job(annotated, monkeypatch, settings):
    # The kernel reports a failed write once: the final fsync may not see what the background sync saw.
    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    _write_back_every_byte(monkeypatch)
    monkeypatch.setattr(os, "fdatasync", full_disk, raising=False)
    job = finished_job(annotated.project, "jsonl")
    assert job.status == JobStatus.FAILED
    assert "disk is full" in job.error and not job.output_file
    jobs_folder = settings.MEDIA_ROOT / "jobs"
    assert not jobs_folder.exists() or not any(p.is_file() for p in jobs_folder.rglob("*"))


def test_only_managers_may_create_an_export(annotated):
    with pytest.raises(NotAllowed):
        exporting.export_job_create(project=annotated.project, format="csv", actor=annotated.world.analyst)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"scope": "everything"}, "scope"),
        ({"filters": {"labels": ["rumour"]}}, "labels"),
        ({"filters": {"states": ["done"]}}, "states"),
        ({"filters": {"date_from": "yesterday"}}, "date_from"),
        ({"filters": {"import_job": 999999}}, "import_job"),
        ({"filters": {"order_by": "password"}}, "filters"),
    ],
)
def test_bad_export_parameters_are_refused_naming_the_field(annotated, arguments, field):
    with pytest.raises(InvalidInput) as refused:
        exporting.export_job_create(project=annotated.project, **{"format": "csv", **arguments}, actor=None)
    assert refused.value.field == field


def test_a_state_filter_keeps_only_sets_in_those_states(annotated):
    job = finished_job(annotated.project, "jsonl", filters={"states": ["in_progress", "assigned"]})
    with job.output_file.open("rb") as stored:
        states = {s["state"] for line in stored for s in json.loads(line)["sets"]}
    assert states <= {"in_progress", "assigned"} and states


def test_expired_export_files_are_deleted_and_fresh_ones_kept(annotated):
    old = finished_job(annotated.project, "csv")
    fresh = finished_job(annotated.project, "csv")
    old_name = old.output_file.name
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - datetime.timedelta(days=30))
    assert exporting.export_files_expire() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.output_file and not default_storage.exists(old_name)
    assert default_storage.exists(fresh.output_file.name)
