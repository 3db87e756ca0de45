"""Page- and API-shaped reads, scoped by project membership.

Every lookup by id goes through here: a user who is not a member of the
object's project gets Http404, the same answer as for an id that does not
exist, so ids leak nothing across projects (DESIGN rule 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, QuerySet, When
from django.http import Http404

from annotations import access
from annotations.models import AnnotationSet, Change, Document, Job, Project, Relation, SetState, Span


def project_list_for_user(*, user: Any) -> QuerySet[Project]:
    return (
        Project.objects.for_member(user)
        .annotate(document_count=Count("documents", distinct=True))
        .order_by("name", "pk")
    )


def project_get(*, project_id: int, user: Any) -> Project:
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not access.is_member(user, project):
        raise Http404("No such project.")
    return project


def document_get(*, document_id: int, user: Any) -> Document:
    document = Document.objects.select_related("project").filter(pk=document_id).first()
    if document is None or not access.is_member(user, document.project):
        raise Http404("No such document.")
    return document


def annotation_set_get(*, set_id: int, user: Any) -> AnnotationSet:
    """A set the user may see (blind mode included); anything else is 404."""
    annotation_set = AnnotationSet.objects.select_related("document__project", "annotator").filter(pk=set_id).first()
    if annotation_set is None or not access.can_view_set(user, annotation_set):
        raise Http404("No such annotation set.")
    return annotation_set


def span_get(*, span_id: int, user: Any) -> Span:
    span = Span.objects.select_related("annotation_set__document__project").filter(pk=span_id).first()
    if span is None or not access.can_view_set(user, span.annotation_set):
        raise Http404("No such span.")
    return span


def relation_get(*, relation_id: int, user: Any) -> Relation:
    relation = (
        Relation.objects.select_related("annotation_set__document__project", "source", "target")
        .filter(pk=relation_id)
        .first()
    )
    if relation is None or not access.can_view_set(user, relation.annotation_set):
        raise Http404("No such link.")
    return relation


def change_get(*, change_id: int, user: Any) -> Change:
    change = Change.objects.select_related("annotation_set__document__project").filter(pk=change_id).first()
    if change is None or not access.can_view_set(user, change.annotation_set):
        raise Http404("No such change.")
    return change


def job_get(*, job_id: int, user: Any) -> Job:
    job = Job.objects.select_related("project").filter(pk=job_id).first()
    if job is None or not access.is_member(user, job.project):
        raise Http404("No such job.")
    return job


def visible_sets_for_document(*, document: Document, user: Any) -> list[AnnotationSet]:
    sets = AnnotationSet.objects.filter(document=document).select_related("annotator").order_by("is_gold", "pk")
    return [s for s in sets if access.can_view_set(user, s)]


@dataclass(frozen=True)
class DocumentRow:
    document: Document
    sets: list[AnnotationSet]
    my_set: AnnotationSet | None
    span_count: int


@dataclass(frozen=True)
class ProjectOverview:
    project: Project
    role: str
    rows: list[DocumentRow]
    state_counts: dict[str, int]
    my_submitted: int
    my_total: int


def project_overview(*, project: Project, user: Any) -> ProjectOverview:
    """The project page: documents with their state per analyst, and counts. Two queries."""
    role = access.role_in(user, project) or ""
    documents = list(Document.objects.in_project(project).only("pk", "title", "project_id", "created_at"))
    sets = list(
        AnnotationSet.objects.filter(document__project=project)
        .select_related("annotator")
        .annotate(span_count=Count("spans"))
        .order_by("document_id", "is_gold", "pk")
    )
    sets_by_document: dict[int, list[AnnotationSet]] = {}
    for annotation_set in sets:
        sets_by_document.setdefault(annotation_set.document_id, []).append(annotation_set)
    rows = []
    for document in documents:
        doc_sets = sets_by_document.get(document.pk, [])
        visible = [s for s in doc_sets if _visible_in_overview(s, user, role, project)]
        mine = next((s for s in doc_sets if s.annotator_id == user.pk), None)
        rows.append(DocumentRow(document, visible, mine, sum(getattr(s, "span_count", 0) for s in visible)))
    state_counts: dict[str, int] = {}
    for annotation_set in sets:
        if not annotation_set.is_gold:
            state_counts[annotation_set.state] = state_counts.get(annotation_set.state, 0) + 1
    mine_all = [s for s in sets if s.annotator_id == user.pk and s.withdrawn_at is None]
    return ProjectOverview(
        project=project,
        role=role,
        rows=rows,
        state_counts=state_counts,
        my_submitted=sum(1 for s in mine_all if s.state == SetState.SUBMITTED),
        my_total=len(mine_all),
    )


def _visible_in_overview(annotation_set: AnnotationSet, user: Any, role: str, project: Project) -> bool:
    # Same rule as access.can_view_set, without a query per set.
    if role in ("reviewer", "manager"):
        return True
    if annotation_set.is_gold:
        return False
    return annotation_set.annotator_id == user.pk or not project.blind_mode


def annotator_queue(*, project: Project, user: Any) -> QuerySet[AnnotationSet]:
    """The analyst's sets in this project: unfinished ones first, each group in document order."""
    return (
        AnnotationSet.objects.filter(
            document__project=project, annotator=user, is_gold=False, withdrawn_at__isnull=True
        )
        .select_related("document")
        .annotate(is_done=Case(When(state=SetState.SUBMITTED, then=1), default=0, output_field=IntegerField()))
        .order_by("is_done", "document_id")
    )
