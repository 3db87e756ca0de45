"""HTML views of import jobs: upload, watch progress, list, retry. Manager-only, thin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from annotations import access, selectors
from annotations import importers as importer_registry
from annotations.exceptions import InvalidInput, NotAllowed
from annotations.models import Job, JobKind, JobRowError, Project
from annotations.services import jobs

# The metadata a CSV column may feed, in the order the form shows them.
CSV_FIELDS = ("title", "source_url", "outlet", "author", "published", "language", "external_id")
ROW_ERRORS_SHOWN = 1000


def format_choices() -> list[tuple[str, str]]:
    choices = [("auto", "Detect from the file (recommended)")]
    choices += [(key, getattr(importer, "label", key)) for key, importer in sorted(importer_registry.IMPORTERS.items())]
    return choices


class ImportForm(forms.Form):
    format = forms.ChoiceField(choices=format_choices, initial="auto")
    cleanup = forms.BooleanField(
        required=False, initial=True, help_text="Drop site furniture lines and repeated paragraphs (text and HTML)."
    )
    csv_text_column = forms.CharField(max_length=200, initial="text", label="CSV: column with the text")
    csv_delimiter = forms.ChoiceField(
        required=False,
        label="CSV: delimiter",
        choices=[("", "Guess"), (",", "Comma"), (";", "Semicolon"), ("\t", "Tab")],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in CSV_FIELDS:
            self.fields[f"csv_{name}"] = forms.CharField(
                max_length=200, required=False, label=f"CSV: column for {name.replace('_', ' ')}"
            )

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "cleanup": data["cleanup"],
            "csv_text_column": data["csv_text_column"].strip() or "text",
            "csv_delimiter": data["csv_delimiter"] or None,
            "csv_mapping": {name: data[f"csv_{name}"].strip() for name in CSV_FIELDS if data[f"csv_{name}"].strip()},
        }


def _managed_project(request: HttpRequest, project_id: int) -> Project:
    project = selectors.project_get(project_id=project_id, user=request.user)
    if not access.can_manage(request.user, project):
        raise PermissionDenied("Only project managers may import documents.")
    return project


def _managed_job(request: HttpRequest, job_id: int) -> Job:
    job = selectors.job_get(job_id=job_id, user=request.user)
    if not access.can_manage(request.user, job.project):
        raise PermissionDenied("Only project managers may see import jobs.")
    return job


@login_required
@require_http_methods(["GET", "POST"])
def project_import(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    form = ImportForm(request.POST or None)
    file_error = ""
    if request.method == "POST" and form.is_valid():
        uploads = [jobs.UploadedInput(f.name, f) for f in request.FILES.getlist("files")]
        try:
            job = jobs.import_job_create(
                project=project,
                files=uploads,
                format=form.cleaned_data["format"],
                options=form.options(),
                actor=request.user,
            )
        except NotAllowed as error:
            raise PermissionDenied(error.message) from None
        except InvalidInput as error:
            file_error = error.message
        else:
            try:
                jobs.enqueue(job)
            except jobs.QueueUnavailable as error:
                # Said plainly on the form; the job row is already marked failed, never left queued.
                return render(
                    request,
                    "annotations/project_import.html",
                    {"project": project, "form": form, "file_error": error.message, "csv_fields": CSV_FIELDS},
                    status=503,
                )
            return redirect("annotations:job_detail", job_id=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "annotations/project_import.html",
        {"project": project, "form": form, "file_error": file_error, "csv_fields": CSV_FIELDS},
        status=status,
    )


@login_required
@require_GET
def job_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    project_jobs = Job.objects.filter(project=project, kind=JobKind.IMPORT).select_related("created_by")[:200]
    return render(request, "annotations/job_list.html", {"project": project, "jobs": project_jobs})


def _progress_context(job: Job) -> dict[str, Any]:
    started = job.started_at or job.created_at
    ended = job.finished_at or timezone.now()
    errors = JobRowError.objects.filter(job=job)
    failed = errors.exclude(reason__startswith=jobs.DUPLICATE_PREFIX)
    duplicates = errors.filter(reason__startswith=jobs.DUPLICATE_PREFIX)
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    worker_missing = job.status == "queued" and (timezone.now() - job.created_at).total_seconds() > 2
    return {
        "job": job,
        "project": job.project,
        "elapsed_seconds": max(0, int((ended - started).total_seconds())),
        "percent": percent,
        "failed_rows": failed[:ROW_ERRORS_SHOWN],
        "failed_more": max(0, job.rows_failed - ROW_ERRORS_SHOWN),
        "duplicate_rows": duplicates[:ROW_ERRORS_SHOWN],
        "stalled": jobs.job_is_stalled(job),
        "no_worker": worker_missing and jobs.workers_available() is False,
        "files_summary": sorted((job.summary or {}).get("files", {}).items()),
    }


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _managed_job(request, job_id)
    return render(request, "annotations/job_detail.html", _progress_context(job))


@login_required
@require_GET
def job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The polled partial; 286 tells htmx to stop polling once the job has finished."""
    job = _managed_job(request, job_id)
    response_class = HttpResponseStopPolling if job.is_finished else HttpResponse
    html = render(request, "annotations/partials/job_progress.html", _progress_context(job)).content
    return response_class(html)


@login_required
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _managed_job(request, job_id)
    try:
        job = jobs.import_job_retry(job=job, actor=request.user)
    except NotAllowed as error:
        return render(request, "annotations/job_detail.html", {**_progress_context(job), "retry_error": error.message},
                      status=409)  # fmt: skip
    except InvalidInput as error:
        return render(request, "annotations/job_detail.html", {**_progress_context(job), "retry_error": error.message},
                      status=400)  # fmt: skip
    try:
        jobs.enqueue(job)
    except jobs.QueueUnavailable as error:
        job.refresh_from_db()
        return render(request, "annotations/job_detail.html", {**_progress_context(job), "retry_error": error.message},
                      status=503)  # fmt: skip
    return redirect("annotations:job_detail", job_id=job.pk)
