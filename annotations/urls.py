from __future__ import annotations

from django.urls import path

from annotations import account_views, annotate_views, export_views, job_views, review_views, views

app_name = "annotations"

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("account/tokens/", account_views.account_tokens, name="account_tokens"),
    path("account/tokens/<int:token_id>/revoke/", account_views.account_token_revoke, name="account_token_revoke"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/guidelines/", views.project_guidelines, name="project_guidelines"),
    path("projects/<int:project_id>/labels.css", views.project_labels_css, name="project_labels_css"),
    path("documents/<int:document_id>/", views.document_detail, name="document_detail"),
    path("projects/<int:project_id>/import/", job_views.project_import, name="project_import"),
    path("projects/<int:project_id>/jobs/", job_views.job_list, name="job_list"),
    path("jobs/<int:job_id>/", job_views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/progress/", job_views.job_progress, name="job_progress"),
    path("jobs/<int:job_id>/retry/", job_views.job_retry, name="job_retry"),
    # Exports (issue 6): the form with its job list, and the member-only download.
    path("projects/<int:project_id>/export/", export_views.project_export, name="project_export"),
    path("projects/<int:project_id>/export/jobs/", export_views.project_export_jobs, name="project_export_jobs"),
    path("exports/<int:job_id>/download/", export_views.export_download, name="export_download"),
    path("exports/<int:job_id>/manifest/", export_views.export_manifest, name="export_manifest"),
    # The analyst's annotation page and the JSON endpoints its script saves through (issue 3).
    path("annotate/<int:set_id>/", annotate_views.document_annotate, name="document_annotate"),
    path("annotate/<int:set_id>/spans/", annotate_views.span_create, name="annotate_span_create"),
    path("annotate/<int:set_id>/spans/<uuid:span_uuid>/", annotate_views.span_update, name="annotate_span_update"),
    path(
        "annotate/<int:set_id>/spans/<uuid:span_uuid>/delete/", annotate_views.span_delete, name="annotate_span_delete"
    ),
    path("annotate/<int:set_id>/relations/", annotate_views.relation_create, name="annotate_relation_create"),
    path(
        "annotate/<int:set_id>/relations/<uuid:relation_uuid>/delete/",
        annotate_views.relation_delete,
        name="annotate_relation_delete",
    ),
    path("annotate/<int:set_id>/undo/", annotate_views.undo, name="annotate_undo"),
    path("annotate/<int:set_id>/submit/", annotate_views.submit, name="annotate_submit"),
    # Review: assignment, queue, adjudication into gold, feedback, dashboard (issue 7).
    path("projects/<int:project_id>/assignments/", review_views.assignment_matrix, name="assignment_matrix"),
    path("projects/<int:project_id>/review/", review_views.review_queue, name="review_queue"),
    path("projects/<int:project_id>/feedback/", review_views.feedback, name="feedback"),
    path("projects/<int:project_id>/dashboard/", review_views.dashboard, name="dashboard"),
    path("documents/<int:document_id>/review/", review_views.review_document, name="review_document"),
    path("documents/<int:document_id>/review/decide/", review_views.review_action, name="review_action"),
]
