"""Who annotates which document: k analysts per document, balanced or by hand.

Taking a document away from an analyst never loses their work: a set with
spans, links or history is withdrawn (kept, read by nobody's queue, no longer
required for review), and only an untouched set is deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotations import access
from annotations.exceptions import InvalidInput
from annotations.models import AnnotationSet, Change, Document, Membership, Project, Role, SetState


def _require_analysts(project: Project, analysts: Sequence[Any]) -> None:
    if not analysts:
        raise InvalidInput("choose at least one analyst", field="analysts")
    annotator_ids = set(
        Membership.objects.filter(project=project, role=Role.ANNOTATOR).values_list("user_id", flat=True)
    )
    strangers = [str(a) for a in analysts if a.pk not in annotator_ids]
    if strangers:
        raise InvalidInput(
            f"{', '.join(strangers)} {'is' if len(strangers) == 1 else 'are'} not an analyst in this project",
            field="analysts",
        )


@dataclass(frozen=True)
class AssignResult:
    created: list[AnnotationSet]
    short: list[Document]  # documents that could not reach k: too few chosen analysts


@transaction.atomic
def assignment_balance(
    *,
    project: Project,
    analysts: Sequence[Any],
    actor: Any,
    per_document: int | None = None,
    documents: Sequence[Document] | None = None,
) -> AssignResult:
    """Give each document up to k analysts from `analysts`, the least loaded first.

    Load counts the analysts' active sets in the whole project, so repeated runs
    (after an import) keep spreading work evenly. Existing sets are kept; a
    document that already has k active sets gets nobody new. Ties break by user
    id, so the result is reproducible.
    """
    access.require_can_manage(actor, project)
    k = project.annotators_per_document if per_document is None else per_document
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 20:
        raise InvalidInput("analysts per document must be between 1 and 20", field="per_document")
    analysts = list({a.pk: a for a in analysts}.values())
    _require_analysts(project, analysts)
    docs = list(Document.objects.in_project(project).order_by("pk") if documents is None else documents)
    if any(d.project_id != project.pk for d in docs):
        raise InvalidInput("a chosen document belongs to another project", field="documents")
    active = AnnotationSet.objects.filter(
        document__project=project, is_gold=False, withdrawn_at__isnull=True
    ).values_list("document_id", "annotator_id")
    holders: dict[int, set[int]] = {}
    load: Counter[int] = Counter()
    for document_id, annotator_id in active:
        holders.setdefault(document_id, set()).add(annotator_id)
        load[annotator_id] += 1
    withdrawn = {
        (d, a): pk
        for pk, d, a in AnnotationSet.objects.filter(
            document__project=project, is_gold=False, withdrawn_at__isnull=False
        ).values_list("pk", "document_id", "annotator_id")
    }
    created: list[AnnotationSet] = []
    short: list[Document] = []
    for document in docs:
        have = holders.setdefault(document.pk, set())
        while len(have) < k:
            candidates = [a for a in analysts if a.pk not in have]
            if not candidates:
                short.append(document)
                break
            chosen = min(candidates, key=lambda a: (load[a.pk], a.pk))
            if (document.pk, chosen.pk) in withdrawn:
                annotation_set = AnnotationSet.objects.get(pk=withdrawn[document.pk, chosen.pk])
                annotation_set.withdrawn_at = None
                annotation_set.save(update_fields=["withdrawn_at", "updated_at"])
            else:
                annotation_set = AnnotationSet.objects.create(
                    document=document, annotator=chosen, is_gold=False, state=SetState.ASSIGNED
                )
            created.append(annotation_set)
            have.add(chosen.pk)
            load[chosen.pk] += 1
    return AssignResult(created, short)


@transaction.atomic
def assignment_add(*, document: Document, analyst: Any, actor: Any) -> AnnotationSet:
    """Assign one analyst by hand. Idempotent; a withdrawn set comes back with its work."""
    project = document.project
    access.require_can_manage(actor, project)
    _require_analysts(project, [analyst])
    annotation_set, created = AnnotationSet.objects.get_or_create(
        document=document, annotator=analyst, is_gold=False, defaults={"state": SetState.ASSIGNED}
    )
    if not created and annotation_set.withdrawn_at is not None:
        annotation_set.withdrawn_at = None
        annotation_set.save(update_fields=["withdrawn_at", "updated_at"])
    return annotation_set


def _has_work(annotation_set: AnnotationSet) -> bool:
    return (
        annotation_set.spans.exists()
        or annotation_set.relations.exists()
        or Change.objects.filter(annotation_set=annotation_set).exists()
    )


@transaction.atomic
def assignment_remove(*, annotation_set: AnnotationSet, actor: Any) -> AnnotationSet | None:
    """Take a document away from an analyst.

    An untouched set is deleted (returns None). A set with any work is withdrawn and
    returned: its spans, links and history stay, it leaves the queues and is no
    longer waited for in review; assigning the analyst again brings it back.
    """
    locked = (
        AnnotationSet.objects.select_for_update(of=("self",))
        .select_related("document__project")
        .get(pk=annotation_set.pk)
    )
    access.require_can_manage(actor, locked.document.project)
    if locked.is_gold:
        raise InvalidInput("the gold set is not an assignment")
    if not _has_work(locked):
        locked.delete()
        return None
    if locked.withdrawn_at is None:
        locked.withdrawn_at = timezone.now()
        locked.save(update_fields=["withdrawn_at", "updated_at"])
    return locked


@transaction.atomic
def assignment_move(*, annotation_set: AnnotationSet, to_analyst: Any, actor: Any) -> AnnotationSet:
    """Reassign: the new analyst gets the document; the old set is deleted if untouched, else withdrawn."""
    if to_analyst.pk == annotation_set.annotator_id:
        raise InvalidInput("the document is already assigned to this analyst", field="analyst")
    new_set = assignment_add(document=annotation_set.document, analyst=to_analyst, actor=actor)
    assignment_remove(annotation_set=annotation_set, actor=actor)
    return new_set
