"""Page- and API-shaped reads, scoped by project membership.

Every lookup by id goes through here: a user who is not a member of the
object's project gets Http404, the same answer as for an id that does not
exist, so ids leak nothing across projects (DESIGN rule 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, QuerySet, When
from django.db.models.expressions import RawSQL
from django.http import Http404

from annotations import access
from annotations.models import AnnotationSet, Change, Document, Job, Membership, Project, Relation, SetState, Span


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


def _with_viewer_role(queryset: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """Read the user's role in the object's project in the same query, one round trip instead of two.

    Raw SQL on purpose: a Subquery() costs more to compile than the separate query it
    saves. Every queryset here has the set table either as its base or joined once
    (select_related), so the set table's own name refers to the object's set.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset
    quote = connection.ops.quote_name
    membership, document = quote(Membership._meta.db_table), quote(Document._meta.db_table)
    role = RawSQL(
        f"SELECT m.{quote('role')} FROM {membership} m INNER JOIN {document} d"
        f" ON d.{quote('project_id')} = m.{quote('project_id')}"
        f" WHERE d.{quote('id')} = {quote(AnnotationSet._meta.db_table)}.{quote('document_id')}"
        f" AND m.{quote('user_id')} = %s LIMIT 1",
        (user.pk,),
    )
    return queryset.annotate(viewer_role=role)


def _get_or_none(queryset: QuerySet[Any], pk: int) -> Any:
    # get(), not filter().first(): no ORDER BY to build and plan, for a lookup by primary key.
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        return None


def _remember_viewer_role(user: Any, found: Any, project_id: int) -> None:
    if hasattr(found, "viewer_role"):
        access.remember_role(user, project_id, found.viewer_role)


def annotation_set_get(*, set_id: int, user: Any) -> AnnotationSet:
    """A set the user may see (blind mode included); anything else is 404. Without the raw upload."""
    queryset = AnnotationSet.objects.select_related("document__project", "annotator").defer("document__raw_source")
    annotation_set = _get_or_none(_with_viewer_role(queryset, user), set_id)
    if annotation_set is not None:
        _remember_viewer_role(user, annotation_set, annotation_set.document.project_id)
    if annotation_set is None or not access.can_view_set(user, annotation_set):
        raise Http404("No such annotation set.")
    return annotation_set


# What a write through a set reads before the service locks it: the set's own state, and of
# its document and project what access, the schema check and the page's snapping use.
_FIELDS_FOR_WRITE = (
    *(field.name for field in AnnotationSet._meta.concrete_fields),
    "document__project_id",
    "document__project__schema",
    "document__project__blind_mode",
    "document__project__snap_to_words",
)


def annotation_set_get_for_write(*, set_id: int, user: Any, with_text: bool = False) -> AnnotationSet:
    """annotation_set_get for a write: the same 404s, but only the columns a write uses.

    A write runs this on every request, and building full document and project
    instances (title, metadata, guidelines...) costs it more CPU than its INSERT. Any
    other field still loads when read, with a query of its own.
    """
    fields = (*_FIELDS_FOR_WRITE, "document__text") if with_text else _FIELDS_FOR_WRITE
    queryset = _with_viewer_role(AnnotationSet.objects.select_related("document__project").only(*fields), user)
    annotation_set = _get_or_none(queryset, set_id)
    if annotation_set is not None:
        _remember_viewer_role(user, annotation_set, annotation_set.document.project_id)
    if annotation_set is None or not access.can_view_set(user, annotation_set):
        raise Http404("No such annotation set.")
    return annotation_set


# A single span, link or change never needs its document's text or raw upload (a write
# checks a quote with a substring query), so those stay in the database.
_NO_DOCUMENT_BODY = ("annotation_set__document__text", "annotation_set__document__raw_source")


def span_get(*, span_id: int, user: Any) -> Span:
    queryset = Span.objects.select_related("annotation_set__document__project").defer(*_NO_DOCUMENT_BODY)
    span = _get_or_none(_with_viewer_role(queryset, user), span_id)
    if span is not None:
        _remember_viewer_role(user, span, span.annotation_set.document.project_id)
    if span is None or not access.can_view_set(user, span.annotation_set):
        raise Http404("No such span.")
    return span


def relation_get(*, relation_id: int, user: Any) -> Relation:
    queryset = Relation.objects.select_related("annotation_set__document__project", "source", "target").defer(
        *_NO_DOCUMENT_BODY
    )
    relation = _get_or_none(_with_viewer_role(queryset, user), relation_id)
    if relation is not None:
        _remember_viewer_role(user, relation, relation.annotation_set.document.project_id)
    if relation is None or not access.can_view_set(user, relation.annotation_set):
        raise Http404("No such link.")
    return relation


def change_get(*, change_id: int, user: Any) -> Change:
    queryset = Change.objects.select_related("annotation_set__document__project").defer(*_NO_DOCUMENT_BODY)
    change = _get_or_none(_with_viewer_role(queryset, user), change_id)
    if change is not None:
        _remember_viewer_role(user, change, change.annotation_set.document.project_id)
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
