"""Jobs through the API: start an import by upload or an export by format and
filters, poll progress, download the result. The job services do the work; a
worker runs it (Celery), so nothing long happens inside the request."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers as drf
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations import access, selectors
from annotations.api.exceptions import error_body
from annotations.api.views import ERRORS, _iso, validated
from annotations.exporters import EXPORTERS
from annotations.models import Job, JobKind, JobStatus
from annotations.services import exporting, jobs

DOWNLOAD_CSP = "default-src 'none'; sandbox"
MAX_ROW_ERRORS_SHOWN = 100


class JobSerializer(drf.Serializer[Any]):
    id = drf.IntegerField()
    uuid = drf.UUIDField()
    project = drf.IntegerField()
    kind = drf.ChoiceField(choices=JobKind.choices)
    format = drf.CharField()
    status = drf.ChoiceField(choices=JobStatus.choices)
    done = drf.IntegerField()
    total = drf.IntegerField(allow_null=True)
    rows_failed = drf.IntegerField()
    error = drf.CharField()
    row_errors = drf.ListField(
        child=drf.DictField(), help_text=f"The first {MAX_ROW_ERRORS_SHOWN}: file, line, reason."
    )
    download = drf.CharField(allow_null=True, help_text="The result's URL, once an export is done.")
    created_at = drf.DateTimeField()
    finished_at = drf.DateTimeField(allow_null=True)


class ImportStartSerializer(drf.Serializer[Any]):
    files = drf.ListField(child=drf.FileField(), help_text="One or more files (multipart/form-data).")
    format = drf.CharField(required=False, default="auto")


class ExportStartSerializer(drf.Serializer[Any]):
    format = drf.ChoiceField(choices=sorted(EXPORTERS))
    scope = drf.CharField(required=False, default="all")
    filters = drf.DictField(required=False, default=dict)


def job_dict(job: Job) -> dict[str, Any]:
    row_errors = [
        {"file": e.source_name, "line": e.line, "reason": e.reason} for e in job.row_errors.all()[:MAX_ROW_ERRORS_SHOWN]
    ]
    done_export = job.kind == JobKind.EXPORT and job.status == JobStatus.DONE and bool(job.output_file)
    return {
        "id": job.pk, "uuid": str(job.uuid), "project": job.project_id, "kind": job.kind, "format": job.format,
        "status": job.status, "done": job.done, "total": job.total, "rows_failed": job.rows_failed,
        "error": job.error, "row_errors": row_errors,
        "download": f"/api/v1/jobs/{job.pk}/download/" if done_export else None,
        "created_at": _iso(job.created_at), "finished_at": _iso(job.finished_at),
    }  # fmt: skip


class ImportStartApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": ImportStartSerializer},
        responses={202: JobSerializer, **ERRORS},
        summary="Start an import by upload (managers)",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        access.require_can_manage(request.user, project)
        uploads = [jobs.UploadedInput(f.name, f) for f in request.FILES.getlist("files")]
        job = jobs.import_job_create(
            project=project, files=uploads, format=str(request.data.get("format") or "auto"), actor=request.user
        )
        try:
            jobs.enqueue(job)
        except jobs.QueueUnavailable as error:  # the job is already marked failed, never left queued
            body = error_body(error.code, error.message, job=job_dict(job))
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})
        return Response(job_dict(job), status=status.HTTP_202_ACCEPTED)


class ExportStartApi(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        request=ExportStartSerializer,
        responses={202: JobSerializer, **ERRORS},
        summary="Start an export by format and filters (managers)",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = selectors.project_get(project_id=project_id, user=request.user)
        access.require_can_manage(request.user, project)
        data = validated(ExportStartSerializer, request.data).validated_data
        job = exporting.export_job_create(
            project=project, format=data["format"], scope=data["scope"], filters=data["filters"], actor=request.user
        )
        try:
            exporting.export_job_enqueue(job)
        except jobs.QueueUnavailable as error:  # the job is already marked failed, never left queued
            body = error_body(error.code, error.message, job=job_dict(job))
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "30"})
        return Response(job_dict(job), status=status.HTTP_202_ACCEPTED)


class JobDetailApi(APIView):
    @extend_schema(
        responses={200: JobSerializer, **ERRORS},
        summary="A job's status and progress (imports: managers; exports: reviewers, managers)",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(job_id=job_id, user=request.user)
        # As on the job pages: an import's row errors quote its files, an export names every set.
        if job.kind == JobKind.IMPORT:
            access.require_can_manage(request.user, job.project)
        else:
            access.require_can_review(request.user, job.project)
        return Response(job_dict(job))


class JobDownloadApi(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), **ERRORS},
        summary="Download a finished export (reviewers, managers)",
    )
    def get(self, request: Request, job_id: int) -> Any:
        job = selectors.job_get(job_id=job_id, user=request.user)
        # An export holds every analyst's set: blind-mode analysts must not fetch it.
        access.require_can_review(request.user, job.project)
        if job.kind != JobKind.EXPORT or job.status != JobStatus.DONE or not job.output_file:
            raise Http404("This job has no file to download: it is not a finished export, or the file expired.")
        try:
            stream = job.output_file.open("rb")
        except FileNotFoundError:
            raise Http404("This export's file is gone; run the export again.") from None
        name = job.output_file.name.rsplit("/", 1)[-1]
        response = FileResponse(stream, as_attachment=True, filename=name, content_type="application/octet-stream")
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = DOWNLOAD_CSP
        response["Cache-Control"] = "private, no-store"
        return response
