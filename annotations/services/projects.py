"""Projects, members, schema and assignment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from annotations import access
from annotations.exceptions import InvalidInput
from annotations.models import AnnotationSet, Document, Membership, Project, Role, SetState, Span
from annotations.schema import SchemaError, default_schema_document, parse_schema


@transaction.atomic
def project_create(
    *,
    name: str,
    actor: Any,
    description: str = "",
    guidelines: str | None = None,
    annotators_per_document: int = 2,
    blind_mode: bool = True,
) -> Project:
    """Create a project with the default schema and guideline page; the actor becomes its manager."""
    from annotations.guidelines import DEFAULT_GUIDELINES

    name = name.strip()
    if not name:
        raise InvalidInput("a project needs a name", field="name")
    if not 1 <= annotators_per_document <= 20:
        raise InvalidInput("analysts per document must be between 1 and 20", field="annotators_per_document")
    project = Project.objects.create(
        name=name,
        description=description,
        guidelines=DEFAULT_GUIDELINES if guidelines is None else guidelines,
        schema=default_schema_document(),
        annotators_per_document=annotators_per_document,
        blind_mode=blind_mode,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if getattr(actor, "is_authenticated", False):
        Membership.objects.create(project=project, user=actor, role=Role.MANAGER)
        access.forget_roles(actor)
    return project


@transaction.atomic
def membership_set_role(*, project: Project, user: Any, role: str, actor: Any | None) -> Membership:
    """Add a member or change their role. `actor=None` is for trusted setup code (demo, CLI)."""
    if actor is not None:
        access.require_can_manage(actor, project)
    if role not in Role.values:
        raise InvalidInput(f"role must be one of {', '.join(Role.values)}", field="role")
    membership, _ = Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
    access.forget_roles(user)
    return membership


@transaction.atomic
def membership_remove(*, project: Project, user: Any, actor: Any) -> None:
    """Remove a member: their sessions and tokens lose access to the project on the next request."""
    access.require_can_manage(actor, project)
    if (
        user.pk == actor.pk
        and not Membership.objects.filter(project=project, role=Role.MANAGER).exclude(user=user).exists()
    ):
        raise InvalidInput("a project keeps at least one manager")
    Membership.objects.filter(project=project, user=user).delete()
    access.forget_roles(user)


@transaction.atomic
def schema_update(*, project: Project, schema: Mapping[str, Any], actor: Any) -> list[Span]:
    """Replace the project's schema. Existing spans are never changed or deleted;
    the spans whose label the new schema lacks are returned so the page can flag them."""
    access.require_can_manage(actor, project)
    try:
        parsed = parse_schema(schema)
    except SchemaError as error:
        raise InvalidInput(str(error), field="schema") from None
    project.schema = dict(schema)
    project.__dict__.pop("_parsed_schema", None)
    project.save(update_fields=["schema", "updated_at"])
    return list(Span.objects.filter(annotation_set__document__project=project).exclude(label__in=parsed.label_keys))


@transaction.atomic
def annotation_set_assign(*, document: Document, annotator: Any, actor: Any | None) -> AnnotationSet:
    """Give a document to an analyst (idempotent: an existing set is returned as it is)."""
    project = document.project
    if actor is not None:
        access.require_can_manage(actor, project)
    if not access.is_member(annotator, project):
        raise InvalidInput(f"{annotator} is not a member of this project", field="annotator")
    annotation_set, _ = AnnotationSet.objects.get_or_create(
        document=document, annotator=annotator, is_gold=False, defaults={"state": SetState.ASSIGNED}
    )
    return annotation_set


@transaction.atomic
def gold_set_get_or_create(*, document: Document) -> AnnotationSet:
    gold, _ = AnnotationSet.objects.get_or_create(
        document=document, is_gold=True, annotator=None, defaults={"state": SetState.OPEN}
    )
    return gold
