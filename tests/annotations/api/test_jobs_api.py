"""Jobs through the API: a manager starts an import by upload and an export,
polls them, and downloads the export; others are refused."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Document, JobStatus
from annotations.services import exporting, jobs

pytestmark = pytest.mark.django_db


def test_a_manager_imports_by_upload_and_polls_the_job_to_done(world, api_for):
    client = api_for(world.manager)
    upload = SimpleUploadedFile("brief.txt", b"The mayor said the tram line opens in June.")
    response = client.post(f"/api/v1/projects/{world.project.pk}/jobs/import/", {"files": [upload]},
                           format="multipart")  # fmt: skip
    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["kind"], job["status"]) == ("import", "queued")
    jobs.import_job_run(job["id"])  # what the worker does
    polled = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert polled["status"] == JobStatus.DONE
    assert Document.objects.filter(project=world.project, text__startswith="The mayor said").exists()


def test_an_import_without_files_is_a_400_naming_the_field(world, api_for):
    response = api_for(world.manager).post(f"/api/v1/projects/{world.project.pk}/jobs/import/", {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["field"] == "files"


def test_only_managers_start_jobs_and_other_projects_get_404(world, api_for):
    url = f"/api/v1/projects/{world.project.pk}/jobs/export/"
    assert api_for(world.analyst).post(url, {"format": "jsonl"}, format="json").status_code == 403
    assert api_for(world.outsider).post(url, {"format": "jsonl"}, format="json").status_code == 404


def test_a_finished_export_downloads_as_an_attachment_for_reviewers_only(world, api_for):
    manager = api_for(world.manager)
    response = manager.post(f"/api/v1/projects/{world.project.pk}/jobs/export/", {"format": "jsonl"}, format="json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert manager.get(f"/api/v1/jobs/{job_id}/download/").status_code == 404  # not finished yet
    exporting.export_job_run(job_id)
    polled = manager.get(f"/api/v1/jobs/{job_id}/").json()
    assert polled["status"] == JobStatus.DONE and polled["download"]
    download = api_for(world.reviewer).get(polled["download"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content)
    assert api_for(world.analyst).get(polled["download"]).status_code == 403
    assert api_for(world.outsider).get(f"/api/v1/jobs/{job_id}/").status_code == 404


def test_an_unknown_export_format_is_a_400(world, api_for):
    response = api_for(world.manager).post(
        f"/api/v1/projects/{world.project.pk}/jobs/export/", {"format": "excel"}, format="json"
    )
    assert response.status_code == 400 and response.json()["field"] == "format"


def test_a_jobs_progress_is_for_those_who_may_see_its_content(world, api_for):
    upload = jobs.UploadedInput("brief.txt", io.BytesIO(b"The mayor said so."))
    import_job = jobs.import_job_create(project=world.project, files=[upload], format="auto", actor=world.manager)
    export_job = exporting.export_job_create(project=world.project, format="jsonl", scope="all", filters={},
                                             actor=world.manager)  # fmt: skip
    assert api_for(world.manager).get(f"/api/v1/jobs/{import_job.pk}/").status_code == 200
    # An import's row errors quote its files: managers only.
    assert api_for(world.reviewer).get(f"/api/v1/jobs/{import_job.pk}/").status_code == 403
    assert api_for(world.analyst).get(f"/api/v1/jobs/{import_job.pk}/").status_code == 403
    # An export names every analyst's set: reviewers and managers, never analysts (blind mode).
    assert api_for(world.reviewer).get(f"/api/v1/jobs/{export_job.pk}/").status_code == 200
    assert api_for(world.analyst).get(f"/api/v1/jobs/{export_job.pk}/").status_code == 403
    assert api_for(world.outsider).get(f"/api/v1/jobs/{export_job.pk}/").status_code == 404
