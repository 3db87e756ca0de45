"""The analyst's annotation page and the JSON endpoints its script saves through.

Thin adapters: parse the JSON body, call one service in services/annotating.py,
answer with what changed. Every write names the set version it saw and gets
the new one back. So that a long article never re-renders as a whole, a write
answers with the re-rendered paragraphs around what it touched; the script
swaps exactly those in.

Errors are JSON {"code", "message", "field"} with 400 (bad input), 403 (not
allowed, read-only), 404 (not found or not a member) and 409 (stale version).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from annotations import access, fastsql, selectors
from annotations.checks import RelationFacts, SpanFacts, submit_warnings
from annotations.exceptions import ClaimbenchError, InvalidInput, NotAllowed, StaleVersion
from annotations.models import AnnotationSet, Change, ChangeObject, Relation, SetState, Span
from annotations.rendering import SpanMark, label_initials, render_document, render_markdown
from annotations.selection import nudge_edge, snap_to_words
from annotations.services import annotating

MAX_BODY_BYTES = 64 * 1024

JsonView = Callable[..., JsonResponse]


# --- the page ------------------------------------------------------------------------------


@require_GET
@login_required
def document_annotate(request: HttpRequest, set_id: int) -> HttpResponse:
    annotation_set = selectors.annotation_set_get(set_id=set_id, user=request.user)
    document = annotation_set.document
    project = document.project
    schema = project.parsed_schema
    label_index = {key: i for i, key in enumerate(schema.label_keys)}
    # Plain rows, not model instances: a long article has a thousand spans and this page has a time budget.
    spans = [_span_row_json(row) for row in annotation_set.spans.in_reading_order().values_list(*SPAN_FIELDS)]
    relations = [_relation_row_json(row) for row in annotation_set.relations.values_list(*RELATION_FIELDS)]
    marks = [SpanMark(s["uuid"], s["label"], s["start"], s["end"]) for s in spans]
    refusal = access.edit_refusal(request.user, annotation_set)
    # Only the states: the queue's sets would otherwise bring every document's text along.
    queue_states = (
        list(selectors.annotator_queue(project=project, user=annotation_set.annotator).values_list("state", flat=True))
        if not annotation_set.is_gold
        else []
    )
    page_data = {
        "setId": annotation_set.pk,
        "version": annotation_set.version,
        "state": annotation_set.state,
        "canEdit": refusal is None,
        "snapToWords": project.snap_to_words,
        "labels": [
            {
                "key": label.key,
                "name": label.name,
                "hotkey": label.hotkey,
                "index": i,
                "initials": label_initials(label.name),
            }
            for i, label in enumerate(schema.labels)
        ],
        "relationTypes": [
            {"key": rt.key, "name": rt.name, "from": list(rt.from_labels), "to": list(rt.to_labels)}
            for rt in schema.relation_types
        ],
        "attributes": {
            label.key: [
                {"key": a.key, "name": a.name, "type": a.type, "values": list(a.values), "required": a.required}
                for a in schema.attributes_for(label.key)
                if a.key != "note"
            ]
            for label in schema.labels
        },
        # Compact on the page (a thousand spans): empty attributes and notes left out,
        # warnings as [kind, span index...] over the distinct {code, message} kinds.
        # annotate.js expands both before anything reads them.
        "spans": [_compact_span(span) for span in spans],
        "relations": relations,
        **_compact_warnings(_warnings_json(spans, relations), spans),
        "urls": _urls(annotation_set),
    }
    context = {
        "project": project,
        "document": document,
        "annotation_set": annotation_set,
        "labels": [(i, label, label_initials(label.name)) for i, label in enumerate(schema.labels)],
        "document_html": render_document(document.text, marks, label_index),
        # Safe: render_markdown's output went through the nh3 allow-list sanitiser.
        "guidelines_html": mark_safe(render_markdown(project.guidelines)),  # noqa: S308
        "refusal": refusal,
        "submitted_count": sum(1 for state in queue_states if state == SetState.SUBMITTED),
        "queue_total": len(queue_states),
        "span_count": len(spans),
        # The same escaping as the json_script filter, with compact separators and raw UTF-8.
        "page_data_script": _json_script(page_data, "annotate-data"),
    }
    return render(request, "annotations/document_annotate.html", context)


def _json_script(value: Any, element_id: str) -> SafeString:
    """Django's json_script, compact and fast for a page that ships a thousand spans.

    The same escaping (<, > and & as \\u escapes, so no stored string can close the
    script element), done with three str.replace calls instead of str.translate,
    which walks 200 KB one character at a time; compact separators and raw UTF-8
    instead of \\u escapes for every Cyrillic letter.
    """
    payload = json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)
    payload = payload.replace("&", "\\u0026").replace("<", "\\u003C").replace(">", "\\u003E")
    # Safe: the JSON above has no "<", ">" or "&" left, as in django.utils.html.json_script.
    return format_html('<script id="{}" type="application/json">{}</script>', element_id, mark_safe(payload))  # noqa: S308


def _compact_span(span: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in span.items() if not (k in ("attributes", "note") and not v)}


def _compact_warnings(warnings: list[dict[str, Any]], spans: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[tuple[str, str], int] = {}
    index = {span["uuid"]: i for i, span in enumerate(spans)}
    items = [
        [kinds.setdefault((w["code"], w["message"]), len(kinds)), *(index[u] for u in w["spans"])] for w in warnings
    ]
    return {"warningKinds": [{"code": c, "message": m} for c, m in kinds], "warnings": items}


def _urls(annotation_set: AnnotationSet) -> dict[str, str]:
    pk = annotation_set.pk
    placeholder = "00000000-0000-0000-0000-000000000000"
    return {
        "spanCreate": reverse("annotations:annotate_span_create", args=[pk]),
        "spanUpdate": reverse("annotations:annotate_span_update", args=[pk, placeholder]),
        "spanDelete": reverse("annotations:annotate_span_delete", args=[pk, placeholder]),
        "relationCreate": reverse("annotations:annotate_relation_create", args=[pk]),
        "relationDelete": reverse("annotations:annotate_relation_delete", args=[pk, placeholder]),
        "undo": reverse("annotations:annotate_undo", args=[pk]),
        "submit": reverse("annotations:annotate_submit", args=[pk]),
        "placeholder": placeholder,
    }


# --- JSON plumbing -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, field: str | None = None, **extra: Any) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "field": field, **extra}, status=status)


def json_endpoint(view: JsonView) -> JsonView:
    """POST only; JSON body in, JSON out; service errors mapped to 400/403/404/409."""

    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if not request.user.is_authenticated:
            return _error(403, "not_logged_in", "Your session has ended. Log in again in another tab, then retry.")
        if len(request.body) > MAX_BODY_BYTES:
            return _error(400, "too_large", f"The request is larger than {MAX_BODY_BYTES // 1024} KB.")
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "bad_json", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(400, "bad_json", "The request body must be a JSON object.")
        try:
            return view(request, body, *args, **kwargs)
        except Http404 as error:
            return _error(404, "not_found", str(error) or "Not found.")
        except StaleVersion as error:
            return _error(409, error.code, error.message, None, version=error.current)
        except annotating.SubmitNeedsConfirmation as error:
            warnings = [{"code": w.code, "message": w.message, "spans": list(w.span_uuids)} for w in error.warnings]
            return _error(400, error.code, error.message, error.field, warnings=warnings)
        except NotAllowed as error:
            return _error(403, error.code, error.message, error.field)
        except ClaimbenchError as error:
            return _error(400, error.code, error.message, error.field)

    return wrapper


def _expected_version(body: dict[str, Any]) -> int:
    value = body.get("expected_version")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("expected_version must be the set version you saw, a whole number", field="expected_version")
    return value


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number (a code-point offset)", field=name)
    return value


def _uuid_field(body: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(body.get(name)))
    except ValueError:
        raise InvalidInput(f"{name} must be a span id", field=name) from None


def _set_for(request: HttpRequest, set_id: int) -> AnnotationSet:
    # Every endpoint here writes; the text comes along for snapping and the re-rendered paragraphs.
    return selectors.annotation_set_get_for_write(set_id=set_id, user=request.user, with_text=True)


def _span_in(annotation_set: AnnotationSet, span_uuid: uuid.UUID | str) -> Span:
    # The set was found through the membership-scoped selector; the span must belong to it.
    span = Span.objects.filter(annotation_set=annotation_set, uuid=span_uuid).first()
    if span is None:
        raise Http404("No such span in this annotation set; it may have been deleted in another tab.")
    span.annotation_set = annotation_set
    return span


# --- writes --------------------------------------------------------------------------------


@json_endpoint
def span_create(request: HttpRequest, body: dict[str, Any], set_id: int) -> JsonResponse:
    """Body: label, start, end, quote (the raw selection, code points), expected_version;
    optional uuid (the script names new spans so later actions can refer to them), attributes, note.
    The selection is checked against the text first, then snapped to words when the project says so."""
    # One read is both the access check and the service's lock (lock=True): the write's own transaction.
    with transaction.atomic():
        annotation_set = selectors.annotation_set_get_for_write(
            set_id=set_id, user=request.user, with_text=True, lock=True
        )
        text = annotation_set.document.text
        start, end = _int_field(body, "start"), _int_field(body, "end")
        quote = body.get("quote")
        if not (0 <= start < end <= len(text)) or text[start:end] != quote:
            raise InvalidInput(
                f"the selection [{start}, {end}) does not match the document text; reload the page", field="quote"
            )
        if annotation_set.document.project.snap_to_words:
            extent = snap_to_words(text, start, end)
            start, end = extent.start, extent.end
        if start == end:
            raise InvalidInput("the selection holds only spaces; select some words", field="start")
        span = annotating.span_create(
            annotation_set=annotation_set,
            label=str(body.get("label", "")),
            start=start,
            end=end,
            quote=text[start:end],
            attributes=body.get("attributes") or {},
            note=body.get("note", ""),
            span_uuid=_uuid_field(body, "uuid") if body.get("uuid") else None,
            actor=request.user,
            expected_version=_expected_version(body),
        )
    # A new span has no links yet: skip looking for them.
    return _changed(
        span.annotation_set,
        annotation_set,
        created=span,
        spans=[span.uuid],
        ranges=[(start, end)],
        status=201,
        links=False,
    )


@json_endpoint
def span_update(request: HttpRequest, body: dict[str, Any], set_id: int, span_uuid: uuid.UUID) -> JsonResponse:
    """Body: expected_version and any of label, attributes, note, or nudge {edge, direction, by_word}."""
    annotation_set = _set_for(request, set_id)
    span = _span_in(annotation_set, span_uuid)
    before = (span.start, span.end)
    changes: dict[str, Any] = {}
    for name in ("label", "attributes", "note"):
        if name in body:
            changes[name] = body[name]
    nudge = body.get("nudge")
    if nudge is not None:
        if not isinstance(nudge, dict):
            raise InvalidInput("nudge must be {edge, direction, by_word}", field="nudge")
        try:
            extent = nudge_edge(
                annotation_set.document.text,
                span.start,
                span.end,
                edge=str(nudge.get("edge")),
                direction=nudge.get("direction") if nudge.get("direction") in (-1, 1) else 0,
                by_word=bool(nudge.get("by_word", True)),
            )
        except ValueError as error:
            raise InvalidInput(str(error), field="nudge") from None
        changes.update(
            start=extent.start, end=extent.end, quote=annotation_set.document.text[extent.start : extent.end]
        )
    if not changes:
        raise InvalidInput("nothing to change: send label, attributes, note or nudge")
    updated = annotating.span_update(span=span, actor=request.user, expected_version=_expected_version(body), **changes)
    return _changed(
        AnnotationSet.objects.get(pk=annotation_set.pk),
        annotation_set,
        spans=[updated.uuid],
        ranges=[before, (updated.start, updated.end)],
    )


@json_endpoint
def span_delete(request: HttpRequest, body: dict[str, Any], set_id: int, span_uuid: uuid.UUID) -> JsonResponse:
    annotation_set = _set_for(request, set_id)
    span = _span_in(annotation_set, span_uuid)
    # The links go with the span; the spans at their other ends may now link nothing (warnings change).
    links = (Relation.objects.filter(source=span) | Relation.objects.filter(target=span)).select_related(
        "source", "target"
    )
    linked = [(r.uuid, r.target if r.source_id == span.pk else r.source) for r in links]
    annotating.span_delete(span=span, actor=request.user, expected_version=_expected_version(body))
    return _changed(
        AnnotationSet.objects.get(pk=annotation_set.pk),
        annotation_set,
        spans=[span.uuid],
        relations=[uuid_ for uuid_, _ in linked],
        ranges=[(span.start, span.end)] + [(other.start, other.end) for _, other in linked],
    )


@json_endpoint
def relation_create(request: HttpRequest, body: dict[str, Any], set_id: int) -> JsonResponse:
    """Body: source, target (span ids), expected_version; type is optional and
    inferred from the two labels when exactly one relation type fits."""
    annotation_set = _set_for(request, set_id)
    source = _span_in(annotation_set, _uuid_field(body, "source"))
    target = _span_in(annotation_set, _uuid_field(body, "target"))
    type_key = body.get("type") or _infer_relation_type(annotation_set, source.label, target.label)
    relation = annotating.relation_create(
        annotation_set=annotation_set,
        type=str(type_key),
        source=source,
        target=target,
        actor=request.user,
        expected_version=_expected_version(body),
    )
    return _changed(
        AnnotationSet.objects.get(pk=annotation_set.pk), annotation_set, relations=[relation.uuid], status=201
    )


def _infer_relation_type(annotation_set: AnnotationSet, from_label: str, to_label: str) -> str:
    relation_types = annotation_set.document.project.parsed_schema.relation_types
    fitting = [rt for rt in relation_types if from_label in rt.from_labels and to_label in rt.to_labels]
    if len(fitting) == 1:
        return fitting[0].key
    if not fitting:
        rules = "; ".join(
            f"{rt.name} goes from {' or '.join(rt.from_labels)} to {' or '.join(rt.to_labels)}" for rt in relation_types
        )
        raise InvalidInput(f"No link goes from {from_label} to {to_label}: {rules}.", field="target")
    raise InvalidInput("Several link types fit these two spans; choose one", field="type")


@json_endpoint
def relation_delete(request: HttpRequest, body: dict[str, Any], set_id: int, relation_uuid: uuid.UUID) -> JsonResponse:
    annotation_set = _set_for(request, set_id)
    relation = (
        Relation.objects.filter(annotation_set=annotation_set, uuid=relation_uuid)
        .select_related("source", "target")
        .first()
    )
    if relation is None:
        raise Http404("No such link in this annotation set; it may have been removed in another tab.")
    relation.annotation_set = annotation_set
    annotating.relation_delete(relation=relation, actor=request.user, expected_version=_expected_version(body))
    ends = [(relation.source.start, relation.source.end), (relation.target.start, relation.target.end)]
    return _changed(
        AnnotationSet.objects.get(pk=annotation_set.pk), annotation_set, relations=[relation_uuid], ranges=ends
    )


@json_endpoint
def undo(request: HttpRequest, body: dict[str, Any], set_id: int) -> JsonResponse:
    annotation_set = _set_for(request, set_id)
    reverting = annotating.change_undo(
        annotation_set=annotation_set, actor=request.user, expected_version=_expected_version(body)
    )
    spans, relations, ranges, linked = _touched_by(reverting)
    ranges += _ranges_of(annotation_set, linked)
    return _changed(
        AnnotationSet.objects.get(pk=annotation_set.pk), annotation_set, spans=spans, relations=relations, ranges=ranges
    )


def _touched_by(changes: Iterable[Change]) -> tuple[list[str], list[str], list[tuple[int, int]], set[str]]:
    """Span and link ids a set of changes touched, the text ranges they covered, and the link ends."""
    spans: list[str] = []
    relations: list[str] = []
    ranges: list[tuple[int, int]] = []
    linked: set[str] = set()
    for change in changes:
        if change.object_type == ChangeObject.SPAN:
            spans.append(str(change.object_uuid))
            for snapshot in (change.before, change.after):
                if snapshot:
                    ranges.append((snapshot["start"], snapshot["end"]))
        elif change.object_type == ChangeObject.RELATION:
            relations.append(str(change.object_uuid))
            for snapshot in (change.before, change.after):
                if snapshot:
                    linked.update((snapshot["source"], snapshot["target"]))
    return spans, relations, ranges, linked


@json_endpoint
def submit(request: HttpRequest, body: dict[str, Any], set_id: int) -> JsonResponse:
    """Body: expected_version, optional note (submits despite warnings). Answers with where to go next."""
    annotation_set = _set_for(request, set_id)
    note = body.get("note", "")
    if not isinstance(note, str):
        raise InvalidInput("note must be text", field="note")
    result = annotating.annotation_set_submit(
        annotation_set=annotation_set,
        actor=request.user,
        expected_version=_expected_version(body),
        override_note=note,
    )
    project = annotation_set.document.project
    following = (
        selectors.annotator_queue(project=project, user=request.user)
        .exclude(state=SetState.SUBMITTED)
        .exclude(pk=annotation_set.pk)
        .first()
    )
    next_url = (
        reverse("annotations:document_annotate", args=[following.pk])
        if following is not None
        else reverse("annotations:project_detail", args=[project.pk])
    )
    return JsonResponse(
        {"version": result.annotation_set.version, "state": result.annotation_set.state, "next": next_url}
    )


# --- answers: what changed ---------------------------------------------------------------


def _changed(
    annotation_set: AnnotationSet,
    page_set: AnnotationSet,
    *,
    created: Span | None = None,
    spans: Sequence[uuid.UUID | str] = (),
    relations: Sequence[uuid.UUID | str] = (),
    ranges: Sequence[tuple[int, int]] = (),
    status: int = 200,
    links: bool = True,
) -> JsonResponse:
    """What a write changed: the new version, the touched spans and links (present ones
    in full, gone ones by id), the re-rendered paragraphs around the touched text, and
    the submit warnings of the spans in those paragraphs ("warningScope").

    annotation_set is the set after the write (version, state); page_set is the
    set the view loaded, with its document text and project, read once per request.
    A just-created span (created) is answered from memory, not read back.

    The warnings are recomputed for the re-rendered paragraphs only: they are closed
    (no span crosses their edges), so no same-label overlap reaches outside them, and
    a span's "links nothing" warning depends only on its own outgoing links. The page
    replaces the warnings of the scope and keeps the rest.
    """
    span_ids = {str(u) for u in spans}
    relation_ids = {str(u) for u in relations}
    if created is not None:
        present_spans = [_span_row_json(tuple(getattr(created, name) for name in SPAN_FIELDS))]
    else:
        present_spans = [
            _span_row_json(row)
            for row in Span.objects.filter(annotation_set=annotation_set, uuid__in=span_ids).values_list(*SPAN_FIELDS)
        ]
    present_relations = []
    if links:
        # A span that came back (undo) brings back its links; a span that went took its links along.
        touching = (
            Relation.objects.filter(annotation_set=annotation_set, uuid__in=relation_ids)
            | Relation.objects.filter(annotation_set=annotation_set, source__uuid__in=span_ids)
            | Relation.objects.filter(annotation_set=annotation_set, target__uuid__in=span_ids)
        )
        present_relations = [_relation_row_json(row) for row in touching.distinct().values_list(*RELATION_FIELDS)]
    linked_spans = {r["source"] for r in present_relations} | {r["target"] for r in present_relations}
    all_ranges = list(ranges) + _ranges_of(annotation_set, linked_spans - span_ids)
    text = page_set.document.text
    label_index = {key: i for i, key in enumerate(page_set.document.project.parsed_schema.label_keys)}
    fragments = [
        paragraphs_html(text, annotation_set, start, end, label_index)
        for start, end in _paragraph_ranges(text, all_ranges)
    ]
    scope_spans = [
        {"uuid": str(u), "label": label, "start": start, "end": end}
        for fragment in fragments
        for u, label, start, end in fragment.pop("rows")
    ]
    scope = {s["uuid"] for s in scope_spans}
    scope_relations = [
        {"type": type_, "source": str(source), "target": str(target)}
        for type_, source, target in _links_from(annotation_set.pk, scope)
    ]
    present_ids = {s["uuid"] for s in present_spans}
    return JsonResponse(
        {
            "version": annotation_set.version,
            "state": annotation_set.state,
            "spans": present_spans,
            "removedSpans": sorted(span_ids - present_ids),
            "relations": present_relations,
            "removedRelations": sorted(relation_ids - {r["uuid"] for r in present_relations}),
            "paragraphs": fragments,
            "warningScope": sorted(scope | span_ids),
            "warnings": _warnings_json(scope_spans, scope_relations),
        },
        status=status,
    )


def _ranges_of(annotation_set: AnnotationSet, span_ids: Iterable[str]) -> list[tuple[int, int]]:
    ids = list(span_ids)
    if not ids:
        return []
    return list(Span.objects.filter(annotation_set=annotation_set, uuid__in=ids).values_list("start", "end"))


def _paragraph_ranges(text: str, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Widen each range to whole paragraphs and merge the ones that touch."""
    widened = sorted((text.rfind("\n", 0, start) + 1, _paragraph_end(text, end)) for start, end in ranges)
    merged: list[tuple[int, int]] = []
    for start, end in widened:
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _paragraph_end(text: str, position: int) -> int:
    found = text.find("\n", position)
    return len(text) if found == -1 else found


# Every save re-renders its paragraphs with these two reads: hand-written SQL (annotations/fastsql.py),
# which costs a save less CPU than compiling the same ORM queries.
_WINDOW_COLUMNS = ("uuid", "label", "start", "end")


@fastsql.statement
def _window_sql() -> str:
    q = fastsql.quote
    return (
        f"SELECT {fastsql.columns(Span, _WINDOW_COLUMNS).select('s')} FROM {fastsql.table(Span)} s"
        f" WHERE s.{q('annotation_set_id')} = %s AND s.{q('start')} < %s AND s.{q('end')} > %s"
    )


def _spans_overlapping(set_id: int, window_start: int, window_end: int) -> list[tuple[Any, str, int, int]]:
    """(uuid, label, start, end) of the set's spans that overlap [window_start, window_end)."""
    columns = fastsql.columns(Span, _WINDOW_COLUMNS)
    return [tuple(columns.convert(row)) for row in fastsql.fetch_all(_window_sql(), [set_id, window_end, window_start])]  # type: ignore[misc]


def _links_from(set_id: int, source_uuids: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """(type, source uuid, target uuid) of the set's links whose source is one of `source_uuids`."""
    sources = list(source_uuids)
    if not sources:
        return []
    q, uuid_field = fastsql.quote, Span._meta.get_field("uuid")
    uuid_columns = fastsql.columns(Span, ("uuid",))
    sql = (
        f"SELECT r.{q('type')}, a.{q('uuid')}, b.{q('uuid')} FROM {fastsql.table(Relation)} r"
        f" INNER JOIN {fastsql.table(Span)} a ON a.{q('id')} = r.{q('source_id')}"
        f" INNER JOIN {fastsql.table(Span)} b ON b.{q('id')} = r.{q('target_id')}"
        f" WHERE r.{q('annotation_set_id')} = %s AND a.{q('uuid')} IN ({', '.join(['%s'] * len(sources))})"
    )
    params = [set_id, *(uuid_field.get_db_prep_value(uuid.UUID(u), connection) for u in sources)]
    return [
        (type_, *uuid_columns.convert([source]), *uuid_columns.convert([target]))
        for type_, source, target in fastsql.fetch_all(sql, params)
    ]


# Characters read on either side of the touched paragraphs when re-rendering them (see paragraphs_html).
PARAGRAPH_WINDOW = 4000


def paragraphs_html(
    text: str, annotation_set: AnnotationSet, start: int, end: int, label_index: dict[str, int]
) -> dict[str, Any]:
    """HTML of the paragraphs in [start, end), widened until no span crosses its edges.

    Widening until closed keeps the result identical to the same paragraphs of a
    full-page render: a span's stacking level depends only on the spans that
    started before it and are still open, and none of those lie outside.
    """
    # One query for a window around the paragraphs usually settles it: widening then runs over
    # the rows in memory, and only a chain of spans reaching past the window asks again.
    window_start, window_end = -1, -1
    window: list[tuple[Any, str, int, int]] = []
    while True:
        if start < window_start or max(end, start + 1) > window_end:
            window_start, window_end = max(0, start - PARAGRAPH_WINDOW), max(end, start + 1) + PARAGRAPH_WINDOW
            window = _spans_overlapping(annotation_set.pk, window_start, window_end)
        rows = [row for row in window if row[2] < max(end, start + 1) and row[3] > start]
        new_start = min([start] + [row[2] for row in rows])
        new_end = max([end] + [row[3] for row in rows])
        new_start = text.rfind("\n", 0, new_start) + 1
        new_end = _paragraph_end(text, new_end)
        if (new_start, new_end) == (start, end):
            break
        start, end = new_start, new_end
    marks = [SpanMark(str(u), label, s, e) for u, label, s, e in rows]
    html = str(render_document(text, marks, label_index, start, end))
    return {"start": start, "end": end, "html": html, "rows": rows}


SPAN_FIELDS = ("uuid", "label", "start", "end", "quote", "attributes", "note")
RELATION_FIELDS = ("uuid", "type", "source__uuid", "target__uuid", "note")


def _span_row_json(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(SPAN_FIELDS, (str(row[0]), *row[1:]), strict=True))


def _relation_row_json(row: tuple[Any, ...]) -> dict[str, Any]:
    uuid_, type_, source, target, note = row
    return {"uuid": str(uuid_), "type": type_, "source": str(source), "target": str(target), "note": note}


def _warnings_json(spans: Iterable[dict[str, Any]], relations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The submit checks (annotations/checks.py, the rule the service applies on submit) over plain rows."""
    warnings = submit_warnings(
        [SpanFacts(s["uuid"], s["label"], s["start"], s["end"]) for s in spans],
        [RelationFacts(r["type"], r["source"], r["target"]) for r in relations],
    )
    return [{"code": w.code, "message": w.message, "spans": list(w.span_uuids)} for w in warnings]
