from __future__ import annotations

from django.urls import reverse

from annotations.models import Job, JobKind
from tests.annotations.exporters.conftest import finished_job


def test_a_manager_starts_an_export_from_the_form(annotated, client_for, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    client = client_for(annotated.world.manager)
    page = client.get(reverse("annotations:project_export", args=[annotated.project.pk]))
    assert page.status_code == 200 and b"Start export" in page.content
    response = client.post(
        reverse("annotations:project_export", args=[annotated.project.pk]),
        {"format": "csv", "scope": "gold", "labels": ["claim"]},
    )
    assert response.status_code == 302
    job = Job.objects.get(project=annotated.project, kind=JobKind.EXPORT)
    assert job.parameters["scope"] == "gold" and job.parameters["filters"]["labels"] == ["claim"]


def test_an_analyst_cannot_open_the_export_form(annotated, client_for):
    response = client_for(annotated.world.analyst).get(
        reverse("annotations:project_export", args=[annotated.project.pk])
    )
    assert response.status_code == 403


def test_an_analyst_cannot_download_an_export_holding_other_analysts_sets(annotated, client_for):
    job = finished_job(annotated.project, "csv")
    analyst = client_for(annotated.world.analyst)
    assert analyst.get(reverse("annotations:export_download", args=[job.pk])).status_code == 404
    assert analyst.get(reverse("annotations:export_manifest", args=[job.pk])).status_code == 404


def test_a_reviewer_downloads_the_file_as_a_sniff_proof_attachment(annotated, client_for):
    job = finished_job(annotated.project, "csv")
    response = client_for(annotated.world.reviewer).get(reverse("annotations:export_download", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith("\ufeffdocument_id".encode())


def test_someone_outside_the_project_gets_404_for_the_file_and_its_manifest(annotated, client_for):
    job = finished_job(annotated.project, "csv")
    outsider = client_for(annotated.world.outsider)
    assert outsider.get(reverse("annotations:export_download", args=[job.pk])).status_code == 404
    assert outsider.get(reverse("annotations:export_manifest", args=[job.pk])).status_code == 404


def test_the_manifest_download_states_the_snapshot(annotated, client_for):
    job = finished_job(annotated.project, "jsonl")
    response = client_for(annotated.world.reviewer).get(reverse("annotations:export_manifest", args=[job.pk]))
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["manifest"]["snapshot_at"] == job.summary["manifest"]["snapshot_at"]


def test_the_job_list_stops_polling_when_every_export_has_finished(annotated, client_for):
    finished_job(annotated.project, "w3c")
    response = client_for(annotated.world.manager).get(
        reverse("annotations:project_export_jobs", args=[annotated.project.pk])
    )
    assert response.status_code == 286 and b"Download" in response.content
