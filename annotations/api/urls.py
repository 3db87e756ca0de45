"""Routes of /api/v1/. Every route that takes an id resolves it through selectors (404 for non-members)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotations.api import jobs, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("me/", views.WhoamiApi.as_view(), name="whoami"),
    path("projects/", views.ProjectListApi.as_view(), name="project_list"),
    path("projects/<int:project_id>/", views.ProjectDetailApi.as_view(), name="project_detail"),
    path("projects/<int:project_id>/members/", views.MemberListApi.as_view(), name="member_list"),
    path("projects/<int:project_id>/documents/", views.DocumentListApi.as_view(), name="document_list"),
    path("projects/<int:project_id>/sets/", views.ProjectSetListApi.as_view(), name="project_set_list"),
    path("projects/<int:project_id>/spans/", views.ProjectSpanListApi.as_view(), name="project_span_list"),
    path("projects/<int:project_id>/relations/", views.ProjectRelationListApi.as_view(), name="project_relation_list"),
    path("projects/<int:project_id>/changes/", views.ProjectChangeFeedApi.as_view(), name="project_changes"),
    path("projects/<int:project_id>/agreement/", views.ProjectAgreementApi.as_view(), name="project_agreement"),
    path("documents/<int:document_id>/", views.DocumentDetailApi.as_view(), name="document_detail"),
    path("documents/<int:document_id>/agreement/", views.DocumentAgreementApi.as_view(), name="document_agreement"),
    path("documents/<int:document_id>/sets/", views.DocumentSetListApi.as_view(), name="document_set_list"),
    path("sets/<int:set_id>/", views.SetDetailApi.as_view(), name="set_detail"),
    path("sets/<int:set_id>/spans/", views.SetSpanListApi.as_view(), name="set_span_list"),
    path("sets/<int:set_id>/relations/", views.SetRelationListApi.as_view(), name="set_relation_list"),
    path("sets/<int:set_id>/bulk/", views.SetBulkApi.as_view(), name="set_bulk"),
    path("spans/<int:span_id>/", views.SpanDetailApi.as_view(), name="span_detail"),
    path("relations/<int:relation_id>/", views.RelationDetailApi.as_view(), name="relation_detail"),
    path("projects/<int:project_id>/jobs/import/", jobs.ImportStartApi.as_view(), name="job_import"),
    path("projects/<int:project_id>/jobs/export/", jobs.ExportStartApi.as_view(), name="job_export"),
    path("jobs/<int:job_id>/", jobs.JobDetailApi.as_view(), name="job_detail"),
    path("jobs/<int:job_id>/download/", jobs.JobDownloadApi.as_view(), name="job_download"),
    # Last: unmatched paths under /api/v1/ answer in the API's error shape.
    re_path(r"^(?P<unmatched>.*)$", views.api_not_found, name="not_found"),
]
