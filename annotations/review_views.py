"""Review pages: queue, adjudication, assignment matrix, analyst feedback, dashboard.

Thin adapters: parse the form, call one selector or service, render. Service
errors become a message on the page with a 4xx status (200 for htmx requests,
which only swap successful answers), never a 500.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations import access, review_selectors, selectors
from annotations.adjudication import split_relation_point_key
from annotations.agreement import UnitizingResult
from annotations.charts import Bar, bar_chart
from annotations.exceptions import ClaimbenchError, InvalidInput, NotAllowed, StaleVersion
from annotations.models import AnnotationSet, Membership, Role
from annotations.rendering import SpanMark, render_document
from annotations.review_rendering import gold_span_options_html, points_html
from annotations.services import assignment, reviewing

QUOTE_PREVIEW = 160


def _status_for(error: ClaimbenchError) -> int:
    if isinstance(error, StaleVersion):
        return 409
    if isinstance(error, NotAllowed):
        return 403
    return 400


def _int_field(data: Any, name: str, *, required: bool = True) -> int | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        if required:
            raise InvalidInput(f"{name} is required", field=name)
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw[:20]!r}", field=name) from None


# --- review queue ----------------------------------------------------------------------------------


@require_GET
@login_required
def review_queue(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    if not access.can_review(request.user, project):
        return render(request, "annotations/review_queue.html", {"project": project, "forbidden": True}, status=403)
    label, analyst = request.GET.get("label", ""), request.GET.get("analyst", "")
    error = ""
    try:
        rows = review_selectors.review_queue(project=project, user=request.user, label=label, analyst=analyst)
    except InvalidInput as exc:
        rows, error = [], exc.message
    analysts = Membership.objects.filter(project=project, role=Role.ANNOTATOR).select_related("user")
    context = {
        "project": project,
        "rows": rows,
        "labels": project.parsed_schema.label_keys,
        "analysts": [] if project.hide_annotator_names else [m.user for m in analysts],
        "chosen_label": label,
        "chosen_analyst": analyst,
        "error": error,
    }
    return render(request, "annotations/review_queue.html", context, status=400 if error else 200)


# --- adjudication ------------------------------------------------------------------------------------


def _lane(text: str, spans: list[tuple[str, str, int, int]], label_index: dict[str, int]) -> str:
    # One pass over the cut points (the annotation page's renderer): four lanes of a long article
    # through segment_text + document_html cost more than the rest of the page together.
    return render_document(text, [SpanMark(uuid, label, start, end) for uuid, label, start, end in spans], label_index)


def _preview(text: str, start: int, end: int) -> str:
    quote = text[start:end]
    return quote if len(quote) <= QUOTE_PREVIEW else quote[: QUOTE_PREVIEW - 1] + "…"


def _review_context(request: HttpRequest, document: Any, error: str = "") -> dict[str, Any]:
    state = reviewing.review_state_load(document=document)
    text = document.text
    schema = document.project.parsed_schema
    label_index = {key: i for i, key in enumerate(schema.label_keys)}
    total = len(state.analysts)
    lanes = []
    for annotation_set in state.submitted:
        analyst = str(annotation_set.annotator_id)
        spans = [(u, v.label, v.start, v.end) for u, v in state.spans_by_uuid.items() if v.analyst == analyst]
        lanes.append({"name": state.names[analyst], "html": _lane(text, spans, label_index), "count": len(spans)})
    gold_marks = [(str(s.uuid), s.label, s.start, s.end) for s in state.gold_spans]
    points = []
    for number, point in enumerate(state.span_points, start=1):
        decision = state.decisions.get(point.key)
        gold_span = state.gold_span_for(point.key)
        consensus = point.consensus(state.rule)
        points.append(
            {
                "number": number,
                "point": point,
                "status": state.span_status(point),
                "decision": decision,
                "gold_span": gold_span,
                "quote": _preview(text, point.start, point.end),
                "suggested": consensus + 1 if consensus is not None else 1,
                "versions": [
                    {
                        "number": i,
                        "version": version,
                        "quote": _preview(text, version.start, version.end),
                        "voters": [state.names.get(v, "?") for v in version.voters],
                        "votes": f"{version.votes} of {total}",
                    }
                    for i, version in enumerate(point.versions, start=1)
                ],
                "absent": [state.names.get(a, "?") for a in point.absent],
            }
        )
    point_by_key = {p.key: p for p in state.span_points}
    relation_rows = []
    for relation_point in state.relation_points:
        source, target = point_by_key[relation_point.source_point], point_by_key[relation_point.target_point]
        relation_rows.append(
            {
                "point": relation_point,
                "status": state.relation_status(relation_point),
                "decision": state.decisions.get(relation_point.key),
                "source": _preview(text, source.start, source.end),
                "target": _preview(text, target.start, target.end),
                "voters": [state.names.get(v, "?") for v in relation_point.voters],
                "votes": f"{len(relation_point.voters)} of {total}",
            }
        )
    gold_relation_by_uuid = {str(r.uuid): r for r in state.gold_relations}
    added_links = []
    for decision in state.added_links:
        relation = gold_relation_by_uuid.get(decision.result_uuids[0]) if decision.result_uuids else None
        added_links.append(
            {
                "decision": decision,
                "type": split_relation_point_key(decision.point_key.removeprefix(reviewing.ADDED_PREFIX))[0],
                "relation": relation,
                "source": _preview(text, relation.source.start, relation.source.end) if relation else "",
                "target": _preview(text, relation.target.start, relation.target.end) if relation else "",
            }
        )
    action_url = reverse("annotations:review_action", args=[document.pk])
    gold_version = state.gold.version if state.gold else ""
    finished = state.gold is not None and state.gold.state == "adjudicated"
    return {
        "points_html": points_html(
            points,
            action_url=action_url,
            csrf=get_token(request),
            gold_version=gold_version,
            labels=schema.label_keys,
            text_length=len(text),
            finished=finished,
        ),
        "document": document,
        "project": document.project,
        "state": state,
        "lanes": lanes,
        "gold_html": _lane(text, gold_marks, label_index),
        "points": points,
        "relation_rows": relation_rows,
        "added_links": added_links,
        "relation_types": schema.relation_types,
        "gold_span_options": gold_span_options_html(state.gold_spans) if not finished else "",
        "labels": schema.label_keys,
        "gold_version": gold_version,
        "finished": finished,
        "error": error,
        "text_length": len(text),
    }


@require_GET
@login_required
def review_document(request: HttpRequest, document_id: int) -> HttpResponse:
    document = selectors.document_get(document_id=document_id, user=request.user)
    if not access.can_review(request.user, document.project):
        return render(request, "annotations/review_queue.html", {"project": document.project, "forbidden": True},
                      status=403)  # fmt: skip
    return render(request, "annotations/review_document.html", _review_context(request, document))


@require_POST
@login_required
def review_action(request: HttpRequest, document_id: int) -> HttpResponse:
    """One decision: build, accept, merge, edit, reject, add, relation_accept, relation_add,
    relation_remove, finish."""
    document = selectors.document_get(document_id=document_id, user=request.user)
    data = request.POST
    actor = request.user
    action = data.get("action", "")
    try:
        expected = _int_field(data, "gold_version", required=False)
        key = data.get("point", "")
        rationale = data.get("rationale", "")
        if action == "build":
            result = reviewing.gold_build(document=document, actor=actor, expected_version=expected)
            done = f"Merged: {result.spans_added} span(s) and {result.relations_added} link(s) pre-accepted."
        elif action == "accept":
            version = _int_field(data, "version")
            reviewing.point_accept(document=document, point_key=key, version=version or 0, actor=actor,
                                   rationale=rationale, expected_version=expected)  # fmt: skip
            done = "Version accepted."
        elif action == "merge":
            reviewing.point_merge(document=document, point_key=key, actor=actor, rationale=rationale,
                                  expected_version=expected)  # fmt: skip
            done = "Boundaries merged."
        elif action == "edit":
            label = data.get("label") or None
            if label is not None and label not in document.project.parsed_schema.label_keys:
                raise InvalidInput(f"unknown label {label!r}", field="label")
            reviewing.point_edit(document=document, point_key=key, actor=actor, start=_int_field(data, "start") or 0,
                                 end=_int_field(data, "end") or 0, label=label, rationale=rationale,
                                 expected_version=expected)  # fmt: skip
            done = "Edges saved."
        elif action == "reject":
            reviewing.point_reject(document=document, point_key=key, reason=data.get("reason", ""), actor=actor,
                                   expected_version=expected)  # fmt: skip
            done = "Rejected."
        elif action == "add":
            reviewing.gold_span_add(document=document, label=data.get("label", ""),
                                    start=_int_field(data, "start") or 0, end=_int_field(data, "end") or 0,
                                    actor=actor, rationale=rationale, expected_version=expected)  # fmt: skip
            done = "Span added to gold."
        elif action == "relation_accept":
            reviewing.relation_point_accept(document=document, point_key=key, actor=actor, rationale=rationale,
                                            expected_version=expected)  # fmt: skip
            done = "Link accepted."
        elif action == "relation_add":
            reviewing.gold_relation_add(document=document, type=data.get("type", ""),
                                        source_uuid=data.get("source", ""), target_uuid=data.get("target", ""),
                                        actor=actor, rationale=rationale, expected_version=expected)  # fmt: skip
            done = "Link added to gold."
        elif action == "relation_remove":
            reviewing.gold_relation_remove(document=document, point_key=key, actor=actor, expected_version=expected)
            done = "Added link removed."
        elif action == "finish":
            reviewing.gold_finish(document=document, actor=actor, note=data.get("note", ""),
                                  expected_version=expected)  # fmt: skip
            done = "Gold finished."
        else:
            raise InvalidInput(f"unknown action {action[:40]!r}", field="action")
    except ClaimbenchError as error:
        context = _review_context(request, document, error=error.message)
        status = 200 if request.htmx else _status_for(error)
        return render(request, "annotations/review_document.html", context, status=status)
    if request.htmx:
        context = _review_context(request, document)
        context["notice"] = done
        return render(request, "annotations/review_document.html", context)
    messages.success(request, done)
    return redirect(reverse("annotations:review_document", args=[document.pk]))


# --- assignment matrix -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def assignment_matrix(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    if not access.can_manage(request.user, project):
        return render(request, "annotations/assignment_matrix.html", {"project": project, "forbidden": True},
                      status=403)  # fmt: skip
    error = ""
    if request.method == "POST":
        try:
            _assignment_post(request, project)
        except ClaimbenchError as exc:
            error = exc.message
        else:
            return redirect(reverse("annotations:assignment_matrix", args=[project.pk]))
    matrix = review_selectors.assignment_matrix(project=project, user=request.user)
    return render(
        request,
        "annotations/assignment_matrix.html",
        {"project": project, "matrix": matrix, "error": error},
        status=400 if error else 200,
    )


def _assignment_post(request: HttpRequest, project: Any) -> None:
    data = request.POST
    action = data.get("action", "")
    annotator_ids = set(
        Membership.objects.filter(project=project, role=Role.ANNOTATOR).values_list("user_id", flat=True)
    )
    users = get_user_model().objects
    if action == "balance":
        chosen = [int(v) for v in data.getlist("analysts") if v.isdigit() and int(v) in annotator_ids]
        k = _int_field(data, "per_document")
        result = assignment.assignment_balance(
            project=project, analysts=list(users.filter(pk__in=chosen)), actor=request.user, per_document=k
        )
        note = f" {len(result.short)} document(s) could not get {k} analysts." if result.short else ""
        messages.success(request, f"{len(result.created)} assignment(s) made.{note}")
    elif action in ("add", "remove"):
        document_id = _int_field(data, "document")
        analyst_id = _int_field(data, "analyst")
        document = selectors.document_get(document_id=document_id or 0, user=request.user)
        if document.project_id != project.pk or analyst_id not in annotator_ids:
            raise InvalidInput("unknown document or analyst for this project")
        analyst = users.get(pk=analyst_id)
        if action == "add":
            assignment.assignment_add(document=document, analyst=analyst, actor=request.user)
            messages.success(request, f"Assigned {analyst.get_username()}.")
        else:
            annotation_set = AnnotationSet.objects.filter(document=document, annotator=analyst, is_gold=False).first()
            if annotation_set is None:
                raise InvalidInput("this analyst has no set on this document")
            kept = assignment.assignment_remove(annotation_set=annotation_set, actor=request.user)
            messages.success(
                request,
                "Unassigned; the untouched set was removed."
                if kept is None
                else "Withdrawn; the analyst's work is kept and comes back if you assign them again.",
            )
    else:
        raise InvalidInput(f"unknown action {action[:40]!r}", field="action")


# --- feedback ------------------------------------------------------------------------------------------------


@require_GET
@login_required
def feedback(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    documents = review_selectors.feedback_for_analyst(project=project, user=request.user)
    return render(request, "annotations/feedback.html", {"project": project, "documents": documents})


# --- dashboard -----------------------------------------------------------------------------------------------


def _figure(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _alpha_note(result: UnitizingResult) -> str:
    return f"{result.spans} spans, {result.annotators} analysts, {result.documents} docs"


@require_GET
@login_required
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.project_get(project_id=project_id, user=request.user)
    if not access.can_review(request.user, project):
        return render(request, "annotations/dashboard.html", {"project": project, "forbidden": True}, status=403)
    board = review_selectors.project_dashboard(project=project, user=request.user)
    states = list(board.state_counts.items()) + [(f"gold {k}", v) for k, v in board.gold_counts.items()]
    pairs = [
        (f"{board.names.get(p.annotator_a, '?')} × {board.names.get(p.annotator_b, '?')}", p)
        for p in board.agreement.pairs
    ]
    charts = {
        "progress": bar_chart([Bar(k.replace("_", " "), v) for k, v in states], title="Sets per state", digits=0),
        "analysts": bar_chart(
            [Bar(a.name, a.counts.get("submitted", 0), f"of {a.total}") for a in board.analysts],
            title="Submitted sets per analyst",
            digits=0,
        ),
        "labels_alpha": bar_chart(
            [Bar(label, r.alpha, _alpha_note(r)) for label, r in board.agreement.unitizing.items()],
            title="Unitizing alpha per label",
            maximum=1.0,
        ),
        "pairs": bar_chart(
            [
                Bar(name, p.spans_overlap.f1, f"{p.spans_overlap.a_count}/{p.spans_overlap.b_count}")
                for name, p in pairs
            ],
            title="Span F1 (overlap) per analyst pair",
            maximum=1.0,
        ),
        "attributes": bar_chart(
            [
                Bar(name, r.alpha, f"{r.items} items, {r.annotators} analysts")
                for name, r in board.agreement.attributes.items()
            ],
            title="Attribute agreement (Krippendorff's alpha) on matched spans",
            maximum=1.0,
        ),
        "label_counts": bar_chart(
            [Bar(k, v) for k, v in board.label_counts.items()], title="Analyst spans per label", digits=0
        ),
    }
    return render(
        request,
        "annotations/dashboard.html",
        {
            "project": project,
            "board": board,
            "charts": charts,
            "states": states,
            "pairs": [(name, _figure(p.spans_exact.f1), _figure(p.spans_overlap.f1), p) for name, p in pairs],
            "alpha_rows": [(label, _figure(r.alpha), r) for label, r in board.agreement.unitizing.items()],
            "overall_alpha": _figure(board.agreement.unitizing_overall.alpha),
            "attribute_rows": [(name, _figure(r.alpha), r) for name, r in board.agreement.attributes.items()],
            "pair_attribute_rows": [
                (name, attribute, _figure(r.kappa), _figure(r.alpha), r)
                for name, p in pairs
                for attribute, r in p.attributes.items()
                if r.items
            ],
        },
    )
