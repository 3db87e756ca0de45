"""HTML views: parse, call one selector or service, render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from annotations import access, selectors
from annotations.models import AnnotationSet
from annotations.rendering import SpanMark, document_html, label_initials, nesting_depths, render_markdown, segment_text


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database readiness for load balancers and docker-compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = selectors.project_list_for_user(user=request.user)
    return render(request, "annotations/project_list.html", {"projects": projects})


@require_GET
@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    overview = selectors.project_overview(project=project, user=request.user)
    return render(request, "annotations/project_detail.html", {"project": project, "overview": overview})


@require_GET
@login_required
def project_guidelines(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    return render(
        request,
        "annotations/project_guidelines.html",
        {"project": project, "guidelines_html": render_markdown(project.guidelines)},
    )


@require_GET
@login_required
def document_detail(request: HttpRequest, document_id: int) -> HttpResponse:
    """Read-only view of a document with one visible annotation set highlighted (?set=ID)."""
    document = selectors.document_get(document_id=document_id, user=request.user)
    visible_sets = selectors.visible_sets_for_document(document=document, user=request.user)
    chosen: AnnotationSet | None = None
    requested = request.GET.get("set", "")
    if requested.isdigit():
        chosen = next((s for s in visible_sets if s.pk == int(requested)), None)
    if chosen is None:
        chosen = next((s for s in visible_sets if s.annotator_id == request.user.pk), None) or (
            visible_sets[0] if visible_sets else None
        )
    context: dict[str, Any] = {
        "document": document,
        "project": document.project,
        "visible_sets": visible_sets,
        "chosen_set": chosen,
        "can_edit": chosen is not None and access.can_edit_set(request.user, chosen),
    }
    context.update(_highlighted_text(document.text, chosen))
    return render(request, "annotations/document_detail.html", context)


def _highlighted_text(text: str, annotation_set: AnnotationSet | None) -> dict[str, Any]:
    spans = []
    relations = []
    if annotation_set is not None:
        spans = list(annotation_set.spans.all().order_by("start", "-end", "pk"))
        relations = list(annotation_set.relations.select_related("source", "target"))
    marks = [SpanMark(str(s.uuid), s.label, s.start, s.end) for s in spans]
    depths = nesting_depths(marks)
    label_index = (
        {key: i for i, key in enumerate(annotation_set.document.project.parsed_schema.label_keys)}
        if annotation_set
        else {}
    )
    for span in spans:
        span.label_class = f"lab-{label_index.get(span.label, 'x')}"  # type: ignore[attr-defined]
    return {
        "document_html": document_html(segment_text(text, marks), depths, label_index),
        "label_index": label_index,
        "spans": spans,
        "relations": relations,
        "depths": depths,
        "max_depth": max(depths.values(), default=-1) + 1,
    }


def root(request: HttpRequest) -> HttpResponse:
    return redirect("annotations:project_list")


@require_GET
@login_required
def project_labels_css(request: HttpRequest, project_id: int) -> HttpResponse:
    """Label colours and underline styles as a stylesheet: the CSP forbids inline styles.

    Colours are validated as #rrggbb by the schema, so nothing user-written reaches CSS.
    """
    project = selectors.project_get(project_id=project_id, user=request.user)
    rules = []
    styles = ("solid", "dashed", "dotted", "double")
    for index, label in enumerate(project.parsed_schema.labels):
        style = styles[index % len(styles)]
        rules.append(
            f".lab-{index}{{--label-colour:{label.colour};border-bottom:3px {style} {label.colour};}}"
            f".lab-{index}.first::before{{content:'{label_initials(label.name)}';background:{label.colour};}}"
            f".label-chip.lab-{index}{{background:{label.colour};border-color:{label.colour};}}"
        )
    response = HttpResponse("\n".join(rules), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "private, max-age=60"
    return response
