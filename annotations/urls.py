from __future__ import annotations

from django.urls import path

from annotations import views

app_name = "annotations"

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/guidelines/", views.project_guidelines, name="project_guidelines"),
    path("projects/<int:project_id>/labels.css", views.project_labels_css, name="project_labels_css"),
    path("documents/<int:document_id>/", views.document_detail, name="document_detail"),
]
