"""HTML views of exports: the export form with its job list (managers), and the download (members).

Thin: the form validates shape, annotations.services.exporting validates meaning
and creates the job, the Celery task writes the file. The download is
permission-checked through the selectors (a non-member gets 404) and goes
out as an attachment that the browser never renders (DESIGN rule 3).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from annotations import access, selectors
from annotations.exceptions import InvalidInput, NotAllowed
from annotations.exporters import EXPORTERS, format_choices
from annotations.models import Job, JobKind, JobStatus, Project, SetState
from annotations.services import exporting
from annotations.services.jobs import QueueUnavailable

JOBS_SHOWN = 20
DOWNLOAD_CSP = "default-src 'none'; sandbox"


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=format_choices, initial="jsonl")
    scope = forms.ChoiceField(
        choices=[("all", "All annotation sets"), ("submitted", "Submitted sets only"), ("gold", "Gold only")],
        initial="all",
        widget=forms.RadioSelect,
    )
    labels = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, help_text="None: every label."
    )
    states = forms.MultipleChoiceField(
        required=False, choices=SetState.choices, widget=forms.CheckboxSelectMultiple, help_text="None: every state."
    )
    import_job = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="From import")
    date_from = forms.DateField(
        required=False, label="Sets changed from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label="to", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = self.fields["labels"]
        assert isinstance(labels, forms.MultipleChoiceField)
        labels.choices = [(label.key, label.name) for label in project.parsed_schema.labels]
        imports = Job.objects.filter(project=project, kind=JobKind.IMPORT).order_by("-created_at")[:100]
        import_job = self.fields["import_job"]
        assert isinstance(import_job, forms.TypedChoiceField)
        import_job.choices = [("", "Any")] + [
            (job.pk, f"#{job.pk} {job.input_name[:60]} ({job.created_at:%Y-%m-%d})") for job in imports
        ]

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "labels": list(data["labels"]),
            "states": list(data["states"]),
            "import_job": data["import_job"],
            "date_from": data["date_from"].isoformat() if data["date_from"] else None,
            "date_to": data["date_to"].isoformat() if data["date_to"] else None,
        }


def _managed_project(request: HttpRequest, project_id: int) -> Project:
    project = selectors.project_get(project_id=project_id, user=request.user)
    if not access.can_manage(request.user, project):
        raise PermissionDenied("Only project managers may export.")
    return project


def _jobs_context(project: Project) -> dict[str, Any]:
    export_jobs = list(
        Job.objects.filter(project=project, kind=JobKind.EXPORT).select_related("created_by")[:JOBS_SHOWN]
    )
    for job in export_jobs:
        job.percent = min(100, round(100 * job.done / job.total)) if job.total else None  # type: ignore[attr-defined]
        job.format_label = getattr(EXPORTERS.get(job.format), "label", job.format)  # type: ignore[attr-defined]
    running = any(not job.is_finished for job in export_jobs)
    return {"project": project, "export_jobs": export_jobs, "running": running}


@login_required
@require_http_methods(["GET", "POST"])
def project_export(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    form = ExportForm(request.POST or None, project=project)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            job = exporting.export_job_create(
                project=project,
                format=form.cleaned_data["format"],
                scope=form.cleaned_data["scope"],
                filters=form.filters(),
                actor=request.user,
            )
        except NotAllowed as refusal:
            raise PermissionDenied(refusal.message) from None
        except InvalidInput as invalid:
            error = invalid.message
        else:
            try:
                exporting.export_job_enqueue(job)
            except QueueUnavailable as unavailable:  # the job is already marked failed, never left queued
                context = {"form": form, "error": unavailable.message, **_jobs_context(project)}
                return render(request, "annotations/export_form.html", context, status=503)
            return redirect("annotations:project_export", project_id=project.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "error": error, **_jobs_context(project)}
    return render(request, "annotations/export_form.html", context, status=status)


@login_required
@require_GET
def project_export_jobs(request: HttpRequest, project_id: int) -> HttpResponse:
    """The polled job list; 286 tells htmx to stop polling once no export is queued or running."""
    project = _managed_project(request, project_id)
    context = _jobs_context(project)
    html = render(request, "annotations/partials/export_jobs.html", context).content
    return HttpResponse(html) if context["running"] else HttpResponseStopPolling(html)


def _finished_export(request: HttpRequest, job_id: int) -> Job:
    job = selectors.job_get(job_id=job_id, user=request.user)  # 404 for non-members
    # An export holds every analyst's sets: blind mode would leak through it, so analysts get none.
    if not access.can_review(request.user, job.project):
        raise Http404("Exports are available to reviewers and managers.")
    if job.kind != JobKind.EXPORT or job.status != JobStatus.DONE:
        raise Http404("This export has no file: it is not finished, or it failed.")
    return job


def _attachment_headers(response: HttpResponseBase) -> HttpResponseBase:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_CSP
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def export_download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    job = _finished_export(request, job_id)
    if not job.output_file:
        raise Http404("This export's file has expired; run the export again.")
    try:
        stream = job.output_file.open("rb")
    except FileNotFoundError:
        raise Http404("This export's file is gone; run the export again.") from None
    exporter = EXPORTERS[job.format]
    name = job.output_file.name.rsplit("/", 1)[-1]
    response = FileResponse(stream, as_attachment=True, filename=name, content_type=exporter.media_type)
    return _attachment_headers(response)


@login_required
@require_GET
def export_manifest(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """What the export holds and which moment it shows, for formats with no room for a header."""
    job = _finished_export(request, job_id)
    summary = job.summary or {}
    body = json.dumps(
        {
            key: summary.get(key)
            for key in ("manifest", "documents", "sets", "spans", "relations", "bytes", "expires_at")
        },
        indent=2,
        ensure_ascii=False,
    )
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="export-{job.pk}-manifest.json"'
    return _attachment_headers(response)
