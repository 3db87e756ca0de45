"""Allow-listed filters for the list endpoints (DESIGN rule 2: no client-chosen
field names reach the ORM), and the one query form of "which sets may this user
see" that project-wide lists share."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from annotations import access
from annotations.models import AnnotationSet, Change, ChangeAction, Document, Project, Relation, Role, SetState, Span


def visible_sets_q(user: Any, project: Project, prefix: str = "") -> Q:
    """Q over AnnotationSet (reached through `prefix`) matching access.can_view_set, for one project.

    Reviewers and managers see every set; analysts their own, others' too when
    blind mode is off, and gold once their own set of that document is submitted.
    """
    role = access.role_in(user, project)
    if role is None:
        return Q(pk__in=[])
    if role in (Role.REVIEWER, Role.MANAGER):
        return Q()
    own = Q(**{f"{prefix}annotator": user})
    submitted_docs = AnnotationSet.objects.filter(
        document__project=project, annotator=user, state=SetState.SUBMITTED
    ).values("document_id")
    gold = Q(**{f"{prefix}is_gold": True, f"{prefix}document_id__in": submitted_docs})
    if project.blind_mode:
        return own | gold
    return own | Q(**{f"{prefix}is_gold": False}) | gold


class DocumentFilter(django_filters.FilterSet):
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")
    external_id = django_filters.CharFilter(field_name="external_id")

    class Meta:
        model = Document
        fields = ["updated_after", "external_id"]


class AnnotationSetFilter(django_filters.FilterSet):
    document = django_filters.NumberFilter(field_name="document_id")
    analyst = django_filters.NumberFilter(field_name="annotator_id")
    state = django_filters.ChoiceFilter(choices=SetState.choices)
    gold = django_filters.BooleanFilter(field_name="is_gold")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = AnnotationSet
        fields = ["document", "analyst", "state", "gold", "updated_after"]


class _InSetFilter(django_filters.FilterSet):
    """Filters for objects that live in an annotation set: where, whose, in what state, since when."""

    document = django_filters.NumberFilter(field_name="annotation_set__document_id")
    annotation_set = django_filters.NumberFilter(field_name="annotation_set_id")
    analyst = django_filters.NumberFilter(field_name="annotation_set__annotator_id")
    state = django_filters.ChoiceFilter(field_name="annotation_set__state", choices=SetState.choices)
    gold = django_filters.BooleanFilter(field_name="annotation_set__is_gold")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")


class SpanFilter(_InSetFilter):
    label = django_filters.CharFilter(field_name="label")

    class Meta:
        model = Span
        fields = ["document", "annotation_set", "label", "analyst", "state", "gold", "updated_after"]


class RelationFilter(_InSetFilter):
    type = django_filters.CharFilter(field_name="type")

    class Meta:
        model = Relation
        fields = ["document", "annotation_set", "type", "analyst", "state", "gold", "updated_after"]


class ChangeFilter(django_filters.FilterSet):
    document = django_filters.NumberFilter(field_name="annotation_set__document_id")
    annotation_set = django_filters.NumberFilter(field_name="annotation_set_id")
    object_type = django_filters.ChoiceFilter(
        choices=[("span", "span"), ("relation", "relation"), ("set", "set")], method="filter_object_type"
    )
    gold = django_filters.BooleanFilter(field_name="annotation_set__is_gold")

    class Meta:
        model = Change
        fields = ["document", "annotation_set", "object_type", "gold"]

    def filter_object_type(self, queryset: QuerySet[Change], name: str, value: str) -> QuerySet[Change]:
        # An import's row stands for its set, spans and relations (annotations/api/feed.py expands it).
        return queryset.filter(Q(object_type=value) | Q(action=ChangeAction.IMPORT))
