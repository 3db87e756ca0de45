"""A full disk during an export: the job fails, says so, and no partial file is left behind.

The disk is a real 64 KB tmpfs mounted for the test (root only; unmounted
after). Two places can fill: the temporary file the exporter streams into, and
the storage the finished file is copied to. Without the right to mount, the
storage case runs on tests/faults/storage.FullDiskStorage, which writes up to
64 KB and then raises ENOSPC as the kernel would (CLAIMBENCH_FAULTS_NO_MOUNT=1
tries that path as root). The export runs in-process, on SQLite or PostgreSQL:
the task a worker runs is this same service call.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from annotations.models import Job, JobStatus
from annotations.services import exporting
from tests.factories import DocumentFactory
from tests.faults.instances import REQUIRED

pytestmark = pytest.mark.django_db(transaction=True)
PARAGRAPH = "The regional council debated the grain budget and the minister promised lower taxes. " * 25


def _mount_tiny_disk(where: Path) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or os.environ.get("CLAIMBENCH_FAULTS_NO_MOUNT") == "1":  # the latter tries the fallback
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(where)], capture_output=True, timeout=30
    )
    return result.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A mounted 64 KB tmpfs, or None where mounting is not allowed."""
    where = tmp_path / "tiny-disk"
    mounted = _mount_tiny_disk(where)
    yield where if mounted else None
    if mounted:
        subprocess.run(["umount", str(where)], check=True, timeout=30)


@pytest.fixture
def big_project(team: Any) -> Any:
    project, manager, _ = team
    for n in range(60):  # about 130 KB of export: twice the disk
        DocumentFactory(project=project, text=f"Report {n}. {PARAGRAPH}")
    return project, manager


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def run_export(project: Any, manager: Any) -> Job:
    job = exporting.export_job_create(project=project, format="jsonl", actor=manager)
    finished = exporting.export_job_run(job.pk)
    assert finished is not None
    return finished


def test_the_export_fails_and_keeps_nothing_when_its_temporary_file_fills_the_disk(
    big_project: Any, tiny_disk: Path | None, settings: Any
) -> None:
    if tiny_disk is None:
        reason = "needs root to mount a 64 KB tmpfs for the exporter's temporary file"
        if REQUIRED:  # CI runs as root: a mount that fails there is a failure, not a skip
            pytest.fail(reason + " (CLAIMBENCH_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
        pytest.skip(reason)
    settings.FILE_UPLOAD_TEMP_DIR = str(tiny_disk)

    job = run_export(*big_project)

    assert job.status == JobStatus.FAILED
    assert "the disk is full" in job.error and "no file was kept" in job.error
    assert not job.output_file
    assert files_under(tiny_disk) == []
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_the_export_fails_and_removes_the_partial_file_when_storage_fills_up(
    big_project: Any, tiny_disk: Path | None, settings: Any, tmp_path: Path
) -> None:
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    if tiny_disk is not None:
        settings.MEDIA_ROOT = tiny_disk
    else:
        settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "tests.faults.storage.FullDiskStorage"}}

    job = run_export(*big_project)

    assert job.status == JobStatus.FAILED
    assert "the disk is full" in job.error and "no file was kept" in job.error
    assert not job.output_file
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert [p for p in tmp_path.iterdir() if p.name.startswith("claimbench-export-")] == []
    # Space came back: the same export succeeds once the disk has room (the partial file no longer holds it).
    settings.MEDIA_ROOT = tmp_path / "roomy"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    assert run_export(*big_project).status == JobStatus.DONE
