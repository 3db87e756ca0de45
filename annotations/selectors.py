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

from annotations import access, fastsql
from annotations.models import AnnotationSet, Change, Document, Job, Membership, Project, Relation, SetState, Span
from annotations.offsets import MAX_TEXT_OFFSET


def project_list_for_user(*, user: Any) -> QuerySet[Project]:
    return (
        Project.objects.for_member(user)
        .annotate(document_count=Count("documents", distinct=True))
        .order_by("name", "pk")
    )


@fastsql.statement
def _project_with_role_sql() -> str:
    q = fastsql.quote
    return (
        f"SELECT {fastsql.columns(Project).select('p')}, m.{q('role')} FROM {fastsql.table(Project)} p"
        f" LEFT OUTER JOIN {fastsql.table(Membership)} m ON m.{q('project_id')} = p.{q('id')} AND m.{q('user_id')} = %s"
        f" WHERE p.{q('id')} = %s"
    )


def project_get(*, project_id: int, user: Any) -> Project:
    """The project, for a member; 404 for anyone else. One query with the caller's role
    (annotations/fastsql.py): every project-level API page starts here."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    row = (
        fastsql.fetch_one(_project_with_role_sql(), [user_id, project_id])
        if fastsql.storable_id(Project, project_id)
        else None
    )
    if row is None:
        raise Http404("No such project.")
    project: Project = fastsql.columns(Project).build(row[:-1])
    access.remember_role(user, project.pk, row[-1])
    if not access.is_member(user, project):
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


# What a write through a set reads before the service locks it: the set's own row, and of its
# document and project what access, the schema check and the page's snapping use.
_DOCUMENT_FIELDS_FOR_WRITE = ("id", "project")
_PROJECT_FIELDS_FOR_WRITE = ("id", "schema", "blind_mode", "snap_to_words")


@fastsql.statement
def _set_for_write_sql(with_text: bool, with_piece: bool, lock: bool) -> str:
    q = fastsql.quote
    document_fields = (*_DOCUMENT_FIELDS_FOR_WRITE, "text") if with_text else _DOCUMENT_FIELDS_FOR_WRITE
    piece = f", substr(d.{q('text')}, %s, %s)" if with_piece else ""
    return (
        f"SELECT {fastsql.columns(AnnotationSet).select('s')}, {fastsql.columns(Document, document_fields).select('d')}"
        f", {fastsql.columns(Project, _PROJECT_FIELDS_FOR_WRITE).select('p')}, m.{q('role')}{piece}"
        f" FROM {fastsql.table(AnnotationSet)} s"
        f" INNER JOIN {fastsql.table(Document)} d ON d.{q('id')} = s.{q('document_id')}"
        f" INNER JOIN {fastsql.table(Project)} p ON p.{q('id')} = d.{q('project_id')}"
        f" LEFT OUTER JOIN {fastsql.table(Membership)} m"
        f" ON m.{q('project_id')} = d.{q('project_id')} AND m.{q('user_id')} = %s"
        f" WHERE s.{q('id')} = %s{fastsql.for_update_of('s') if lock else ''}"
    )


def annotation_set_get_for_write(
    *,
    set_id: int,
    user: Any,
    with_text: bool = False,
    lock: bool = False,
    text_range: tuple[int, int] | None = None,
) -> AnnotationSet:
    """annotation_set_get for a write: the same 404s, but only the columns a write uses.

    A write runs this on every request, so it is one hand-written query (annotations/fastsql.py)
    that also reads the caller's role; the ORM would spend more CPU compiling it than the
    INSERT costs. Any other document or project field still loads when read, with a query of its own.

    lock=True (inside the write's transaction): the read is also the service's lock
    (SELECT … FOR UPDATE OF the set row), so the service does not read the set again;
    text_range brings text[start:end] along for the service's quote check, instead of the text.
    """
    document_fields = (*_DOCUMENT_FIELDS_FOR_WRITE, "text") if with_text else _DOCUMENT_FIELDS_FOR_WRITE
    document_columns = fastsql.columns(Document, document_fields)
    set_columns, project_columns = fastsql.columns(AnnotationSet), fastsql.columns(Project, _PROJECT_FIELDS_FOR_WRITE)
    params: list[Any] = []
    with_piece = False
    if (
        text_range is not None
        and all(type(v) is int for v in text_range)
        and 0 <= text_range[0] < text_range[1] <= MAX_TEXT_OFFSET  # substr()'s bound: a 400, not a 500
    ):
        start, end = text_range
        params, with_piece = [start + 1, end - start], True
    params += [user.pk if user is not None and user.is_authenticated else None, set_id]
    row = (
        fastsql.fetch_one(_set_for_write_sql(with_text, with_piece, lock), params)
        if fastsql.storable_id(AnnotationSet, set_id)
        else None
    )
    if row is None:
        raise Http404("No such annotation set.")
    split, end = len(set_columns), len(set_columns) + len(document_columns)
    annotation_set = set_columns.build(row[:split])
    document = document_columns.build(row[split:end])
    fastsql.attach(document, "project", project_columns.build(row[end : end + len(project_columns)]))
    fastsql.attach(annotation_set, "document", document)
    access.remember_role(user, document.project_id, row[end + len(project_columns)])
    if not access.can_view_set(user, annotation_set):
        raise Http404("No such annotation set.")
    if with_piece:
        annotation_set.text_piece, annotation_set.text_piece_range = row[-1], text_range  # type: ignore[attr-defined]
    if lock:
        fastsql.mark_locked(annotation_set)
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
