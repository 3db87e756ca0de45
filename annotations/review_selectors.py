"""Reads for review pages: the review queue, the assignment matrix, feedback and the dashboard.

Permission checks come first in each selector; filters take values checked
against allow-lists (schema labels, member ids), never field names.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.db.models.functions import Length

from annotations import access
from annotations.agreement import AnnotatedDocument, DocumentAgreement, Link, ProjectAgreement, Unit, document_agreement
from annotations.agreement import project_agreement as compute_project_agreement
from annotations.exceptions import InvalidInput
from annotations.models import (
    AnnotationSet,
    Document,
    GoldDecision,
    Membership,
    Project,
    Relation,
    Role,
    SetState,
    Span,
)
from annotations.services import reviewing

# --- review queue --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    document: Document
    agreement: DocumentAgreement
    alpha: float
    open_points: int
    points: int
    gold_state: str
    analysts: list[str]
    span_counts: list[tuple[str, int]]


def categorical_attributes(project: Project) -> list[str]:
    """The schema's attributes whose values can be compared for agreement (choices, yes/no), not free text."""
    return sorted({a.key for a in project.parsed_schema.attributes if a.type in ("choice", "boolean")})


def _units_by_document(sets: list[AnnotationSet], *, keys: bool = True) -> dict[int, list[Unit]]:
    """The analysts' spans as agreement Units, per document, in one query (values, no model instances).

    Without keys the read skips UUID decoding (only relation agreement needs keys),
    which roughly halves the read on 60,000 spans.
    """
    analyst_of_set = {s.pk: str(s.annotator_id) for s in sets}
    document_of_set = {s.pk: s.document_id for s in sets}
    units: dict[int, list[Unit]] = defaultdict(list)
    rows = Span.objects.filter(annotation_set_id__in=analyst_of_set)
    fields = ["annotation_set_id", "label", "start", "end", "attributes"]
    if keys:
        fields.append("uuid")
    for row in rows.values_list(*fields):
        set_id = row[0]
        units[document_of_set[set_id]].append(
            Unit(analyst_of_set[set_id], row[1], row[2], row[3], row[4] or {}, str(row[5]) if keys else "")
        )
    return units


def review_queue(*, project: Project, user: Any, label: str = "", analyst: str = "") -> list[QueueRow]:
    """Documents whose every active analyst set is submitted, lowest agreement (αU) first.

    `label` keeps documents with an open point of that label; `analyst` (a user id)
    keeps documents that analyst annotated. Unknown values raise InvalidInput.
    """
    access.require_can_review(user, project)
    if label and label not in project.parsed_schema.label_keys:
        raise InvalidInput(f"unknown label {label!r}", field="label")
    analyst_id = None
    if analyst:
        if not analyst.isdigit() or not Membership.objects.filter(project=project, user_id=int(analyst)).exists():
            raise InvalidInput("unknown analyst", field="analyst")
        analyst_id = int(analyst)
    sets = list(
        AnnotationSet.objects.filter(document__project=project, withdrawn_at__isnull=True).select_related(
            "document__project", "annotator"
        )
    )
    by_document: dict[int, list[AnnotationSet]] = defaultdict(list)
    for annotation_set in sets:
        by_document[annotation_set.document_id].append(annotation_set)
    ready = []
    for doc_sets in by_document.values():
        analysts = [s for s in doc_sets if not s.is_gold]
        all_submitted = bool(analysts) and all(s.state == SetState.SUBMITTED for s in analysts)
        if all_submitted and (analyst_id is None or any(s.annotator_id == analyst_id for s in analysts)):
            ready.append(doc_sets)
    states = reviewing.review_states_load(documents=[doc_sets[0].document for doc_sets in ready])
    rows = []
    for doc_sets in ready:
        document = doc_sets[0].document
        analysts = [s for s in doc_sets if not s.is_gold]
        gold = next((s for s in doc_sets if s.is_gold), None)
        state = states[document.pk]
        # The review state read every submitted span already: its votes are the agreement's units.
        units = [Unit(vote.analyst, vote.label, vote.start, vote.end, {}, "") for vote in state.spans_by_uuid.values()]
        summary = document_agreement(units, [], len(document.text), annotators=[str(s.annotator_id) for s in analysts])
        open_points = [p for p in state.span_points if state.span_status(p) == "open"]
        if label and not any(p.label == label for p in open_points):
            continue
        rows.append(
            QueueRow(
                document=document,
                agreement=summary,
                alpha=summary.unitizing_overall.alpha,
                open_points=state.open_count,
                points=len(state.span_points) + len(state.relation_points),
                gold_state=gold.state if gold else "",
                analysts=[state.names.get(str(s.annotator_id), "?") for s in analysts],
                span_counts=[
                    (state.names.get(a, "?"), sum(counts.values())) for a, counts in summary.span_counts.items()
                ],
            )
        )
    # Lowest agreement first; undefined (nobody marked anything) after the rest; finished gold last.
    rows.sort(
        key=lambda r: (r.gold_state == SetState.ADJUDICATED, math.isnan(r.alpha), 0 if math.isnan(r.alpha) else r.alpha)
    )
    return rows


# --- assignment matrix ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    document: Document
    cells: list[tuple[Any, AnnotationSet | None]]  # (analyst, their set or None), in column order
    active: int


@dataclass(frozen=True)
class AssignmentMatrix:
    analysts: list[tuple[Any, int]]  # (analyst, active sets in the project)
    rows: list[MatrixRow]


def assignment_matrix(*, project: Project, user: Any) -> AssignmentMatrix:
    access.require_can_manage(user, project)
    analysts = [
        m.user
        for m in Membership.objects.filter(project=project, role=Role.ANNOTATOR)
        .select_related("user")
        .order_by("user__username")
    ]
    sets = AnnotationSet.objects.filter(document__project=project, is_gold=False).annotate(span_count=Count("spans"))
    by_cell = {(s.document_id, s.annotator_id): s for s in sets}
    load: Counter[int] = Counter(s.annotator_id for s in by_cell.values() if s.withdrawn_at is None)
    rows = []
    for document in Document.objects.in_project(project).only("pk", "title", "project_id").order_by("pk"):
        cells = [(a, by_cell.get((document.pk, a.pk))) for a in analysts]
        active = sum(1 for _, c in cells if c is not None and c.withdrawn_at is None)
        rows.append(MatrixRow(document, cells, active))
    return AssignmentMatrix([(a, load[a.pk]) for a in analysts], rows)


# --- feedback for analysts --------------------------------------------------------------------------------


@dataclass
class FeedbackItem:
    kind: str  # "missed" | "boundary" | "not in gold" | "label"
    label: str
    yours: str
    gold: str
    note: str


@dataclass
class DocumentFeedback:
    document: Document
    gold_state: str
    items: list[FeedbackItem] = field(default_factory=list)
    agreed: int = 0


def feedback_for_analyst(*, project: Project, user: Any) -> list[DocumentFeedback]:
    """For each of the analyst's submitted documents that has gold: where gold differs from their work."""
    if not access.is_member(user, project):
        raise InvalidInput("not a member of this project")
    mine = list(
        AnnotationSet.objects.filter(
            document__project=project, annotator=user, is_gold=False, state=SetState.SUBMITTED
        ).select_related("document")
    )
    golds = {
        g.document_id: g
        for g in AnnotationSet.objects.filter(document_id__in=[s.document_id for s in mine], is_gold=True)
    }
    result = []
    for annotation_set in mine:
        gold = golds.get(annotation_set.document_id)
        if gold is None:
            continue
        decisions = list(GoldDecision.objects.filter(document_id=annotation_set.document_id))
        result.append(_compare(annotation_set, gold, decisions))
    return result


def _compare(annotation_set: AnnotationSet, gold: AnnotationSet, decisions: list[GoldDecision]) -> DocumentFeedback:
    feedback = DocumentFeedback(annotation_set.document, gold.state)
    yours = list(annotation_set.spans.order_by("start", "-end"))
    gold_spans = list(gold.spans.order_by("start", "-end"))
    note_by_source = {u: d.rationale for d in decisions for u in d.source_uuids if d.rationale}
    note_by_result = {u: d.rationale for d in decisions for u in d.result_uuids if d.rationale}
    used: set[int] = set()
    for span in yours:
        exact = next((g for g in gold_spans if (g.label, g.start, g.end) == (span.label, span.start, span.end)), None)
        if exact is not None:
            used.add(exact.pk)
            feedback.agreed += 1
            continue
        overlapping = next(
            (g for g in gold_spans if g.pk not in used and g.start < span.end and span.start < g.end), None
        )
        note = note_by_source.get(str(span.uuid), "")
        if overlapping is None:
            feedback.items.append(FeedbackItem("not in gold", span.label, span.quote, "", note))
            continue
        used.add(overlapping.pk)
        kind = "label" if overlapping.label != span.label else "boundary"
        feedback.items.append(
            FeedbackItem(
                kind,
                overlapping.label,
                span.quote,
                overlapping.quote,
                note or note_by_result.get(str(overlapping.uuid), ""),
            )
        )
    for gold_span in gold_spans:
        if gold_span.pk not in used:
            feedback.items.append(
                FeedbackItem(
                    "missed", gold_span.label, "", gold_span.quote, note_by_result.get(str(gold_span.uuid), "")
                )
            )
    return feedback


# --- dashboard -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalystProgress:
    name: str
    counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class Dashboard:
    documents: int
    state_counts: dict[str, int]
    gold_counts: dict[str, int]
    analysts: list[AnalystProgress]
    agreement: ProjectAgreement
    names: dict[str, str]
    label_counts: dict[str, int]
    gold_label_counts: dict[str, int]


def project_dashboard(*, project: Project, user: Any) -> Dashboard:
    """Progress, agreement (over documents with two or more submitted sets) and label counts."""
    access.require_can_review(user, project)
    sets = list(
        AnnotationSet.objects.filter(document__project=project, withdrawn_at__isnull=True)
        .select_related("annotator")
        .only("pk", "document_id", "annotator_id", "annotator__username", "is_gold", "state")
    )
    text_lengths = dict(
        Document.objects.in_project(project).annotate(length=Length("text")).values_list("pk", "length")
    )
    analyst_sets = [s for s in sets if not s.is_gold]
    names = reviewing.display_names(
        list({s.annotator_id: s for s in analyst_sets}.values()), hide=project.hide_annotator_names
    )
    state_counts = Counter(s.state for s in analyst_sets)
    gold_counts = Counter(s.state for s in sets if s.is_gold)
    per_analyst: dict[str, Counter[str]] = defaultdict(Counter)
    for s in analyst_sets:
        per_analyst[str(s.annotator_id)][s.state] += 1
    submitted = [s for s in analyst_sets if s.state == SetState.SUBMITTED]
    by_document: dict[int, list[AnnotationSet]] = defaultdict(list)
    for s in submitted:
        by_document[s.document_id].append(s)
    units = _units_by_document(submitted, keys=False)
    documents = [
        AnnotatedDocument(
            units=units.get(doc_id, []),
            links=[],
            text_length=text_lengths[doc_id],
            annotators=[str(s.annotator_id) for s in doc_sets],
        )
        for doc_id, doc_sets in by_document.items()
        if len(doc_sets) >= 2
    ]
    agreement = compute_project_agreement(
        documents, labels=project.parsed_schema.label_keys, attributes=categorical_attributes(project)
    )
    counted = (
        Span.objects.filter(annotation_set__document__project=project, annotation_set__withdrawn_at__isnull=True)
        .values_list("annotation_set__is_gold", "label")
        .annotate(n=Count("pk"))
        .order_by()
    )
    label_counts: Counter[str] = Counter()
    gold_label_counts: Counter[str] = Counter()
    for is_gold, label, n in counted:
        (gold_label_counts if is_gold else label_counts)[label] += n
    return Dashboard(
        documents=len(text_lengths),
        state_counts={
            state: state_counts.get(state, 0)
            for state in (s.value for s in SetState)
            if state in ("assigned", "in_progress", "submitted")
        },
        gold_counts={state: gold_counts.get(state, 0) for state in ("open", "adjudicated")},
        analysts=[
            AnalystProgress(names.get(a, "?"), dict(counts), sum(counts.values())) for a, counts in per_analyst.items()
        ],
        agreement=agreement,
        names=names,
        label_counts={k: label_counts.get(k, 0) for k in project.parsed_schema.label_keys},
        gold_label_counts={k: gold_label_counts.get(k, 0) for k in project.parsed_schema.label_keys},
    )


# --- agreement input (API) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementInput:
    """Submitted analyst sets as agreement input, with the names reviewers see."""

    documents: list[AnnotatedDocument]
    names: dict[str, str]
    labels: list[str]
    attributes: list[str]


def _links_by_document(sets: list[AnnotationSet]) -> dict[int, list[Link]]:
    """The analysts' relations as agreement Links (ends by span UUID, the Units' keys), per document, in one query."""
    analyst_of_set = {s.pk: str(s.annotator_id) for s in sets}
    document_of_set = {s.pk: s.document_id for s in sets}
    links: dict[int, list[Link]] = defaultdict(list)
    rows = Relation.objects.filter(annotation_set_id__in=analyst_of_set).values_list(
        "annotation_set_id", "type", "source__uuid", "target__uuid"
    )
    for set_id, type_, source, target in rows:
        links[document_of_set[set_id]].append(Link(analyst_of_set[set_id], type_, str(source), str(target)))
    return links


def agreement_input(*, project: Project, user: Any, document: Document | None = None) -> AgreementInput:
    """What the agreement API computes over: the dashboard's rule (submitted, not withdrawn analyst sets;
    documents with two or more of them), plus span keys and relations so relation F1 can be measured.

    `document` narrows to one document of the project. Names follow the dashboard's (usernames, or
    "Analyst A, B" when the project hides them).
    """
    access.require_can_review(user, project)
    sets = AnnotationSet.objects.filter(document__project=project, withdrawn_at__isnull=True, is_gold=False)
    if document is not None:
        sets = sets.filter(document=document)
    analyst_sets = list(
        sets.select_related("annotator").only("pk", "document_id", "annotator_id", "annotator__username", "state")
    )
    names = reviewing.display_names(
        list({s.annotator_id: s for s in analyst_sets}.values()), hide=project.hide_annotator_names
    )
    by_document: dict[int, list[AnnotationSet]] = defaultdict(list)
    for s in analyst_sets:
        if s.state == SetState.SUBMITTED:
            by_document[s.document_id].append(s)
    included = {doc_id: doc_sets for doc_id, doc_sets in by_document.items() if len(doc_sets) >= 2}
    included_sets = [s for doc_sets in included.values() for s in doc_sets]
    units = _units_by_document(included_sets)
    links = _links_by_document(included_sets)
    text_lengths = dict(
        Document.objects.filter(pk__in=included).annotate(length=Length("text")).values_list("pk", "length")
    )
    documents = [
        AnnotatedDocument(
            units=units.get(doc_id, []),
            links=links.get(doc_id, []),
            text_length=text_lengths[doc_id],
            annotators=[str(s.annotator_id) for s in doc_sets],
        )
        for doc_id, doc_sets in sorted(included.items())
    ]
    return AgreementInput(
        documents=documents,
        names=names,
        labels=list(project.parsed_schema.label_keys),
        attributes=categorical_attributes(project),
    )
