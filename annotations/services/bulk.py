"""Bulk pre-annotations: many spans and relations into one set, all or nothing.

The same rules as annotating.span_create / relation_create (role, version,
offsets, quote, schema), checked for every item before anything is written, so
a request either lands whole or reports every bad item with its index and
reason. Then one bulk insert per table, one version bump and one history row
per object (sharing one group, so a single undo reverts the whole batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.exceptions import InvalidInput
from annotations.models import AnnotationSet, Change, ChangeAction, ChangeObject, Relation, Span
from annotations.schema import SchemaError
from annotations.services import annotating

MAX_BULK_ITEMS = 50_000


@dataclass(frozen=True)
class ItemError:
    kind: str  # "spans" or "relations"
    index: int
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"item": f"{self.kind}[{self.index}]", "index": self.index, "field": self.field, "message": self.message}


class BulkInvalid(InvalidInput):
    """Some items are bad; nothing was written. `errors` lists each bad item."""

    code = "bulk_invalid"

    def __init__(self, errors: Sequence[ItemError]) -> None:
        first = errors[0]
        super().__init__(
            f"{len(errors)} item(s) are invalid and nothing was saved; first: {first.kind}[{first.index}]: "
            f"{first.message}",
            field=f"{first.kind}[{first.index}]" + (f".{first.field}" if first.field else ""),
        )
        self.errors = list(errors)


@dataclass
class BulkResult:
    annotation_set: AnnotationSet
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)


def _as_uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{value!r} is not a UUID", field="uuid") from None


@transaction.atomic
def spans_bulk_create(
    *,
    annotation_set: AnnotationSet,
    spans: Sequence[Mapping[str, Any]],
    relations: Sequence[Mapping[str, Any]] = (),
    actor: Any,
    expected_version: int | None,
) -> BulkResult:
    """Create spans and the relations between them (or to spans already in the set).

    Span items: label, start, end, quote, and optionally uuid, attributes, note.
    Relation items: type, source, target (span UUIDs, from this batch or the set),
    and optionally uuid, attributes, note.
    Raises BulkInvalid listing every bad item, NotAllowed / ReadOnlySet, or StaleVersion.
    """
    if len(spans) + len(relations) > MAX_BULK_ITEMS:
        raise InvalidInput(f"a bulk request holds at most {MAX_BULK_ITEMS} items", field="spans")
    if not spans and not relations:
        raise InvalidInput("nothing to create: give spans, relations or both", field="spans")
    locked = annotating._lock_for_write(annotation_set, actor, expected_version)
    text = locked.document.text
    schema = locked.document.project.parsed_schema
    errors: list[ItemError] = []
    now = timezone.now()

    new_spans: list[Span] = []
    label_by_uuid: dict[str, str] = {}
    seen_uuids: set[uuid.UUID] = set()
    for index, item in enumerate(spans):
        try:
            if not isinstance(item, Mapping):
                raise InvalidInput("each span must be an object")
            span_uuid = _as_uuid(item.get("uuid")) or uuid.uuid4()
            if span_uuid in seen_uuids:
                raise InvalidInput("this uuid appears twice in the request", field="uuid")
            label = item.get("label")
            if not isinstance(label, str):
                raise InvalidInput("label is required", field="label")
            annotating._check_offsets(text, item.get("start"), item.get("end"), item.get("quote"))
            try:
                schema.check_label(label)
                attributes = schema.clean_attributes(label, item.get("attributes") or {})
            except SchemaError as error:
                raise InvalidInput(str(error), field="label" if schema.label(label) is None else "attributes") from None
            note = annotating._clean_note(item.get("note", ""))
        except InvalidInput as error:
            errors.append(ItemError("spans", index, error.message, error.field))
            continue
        seen_uuids.add(span_uuid)
        label_by_uuid[str(span_uuid)] = label
        new_spans.append(
            Span(
                uuid=span_uuid, annotation_set=locked, label=label, start=item["start"], end=item["end"],
                quote=item["quote"], attributes=attributes, note=note, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    taken = set(Span.objects.filter(uuid__in=seen_uuids).values_list("uuid", flat=True))
    for index, span in enumerate(new_spans):
        if span.uuid in taken:
            errors.append(ItemError("spans", index, "a span with this uuid already exists", "uuid"))

    existing = {str(u): (pk, label) for u, pk, label in locked.spans.values_list("uuid", "pk", "label")}
    new_relations: list[tuple[Relation, str, str]] = []
    seen_links: set[tuple[str, str, str]] = set()
    for index, item in enumerate(relations):
        try:
            if not isinstance(item, Mapping):
                raise InvalidInput("each relation must be an object")
            relation_uuid = _as_uuid(item.get("uuid")) or uuid.uuid4()
            type_ = item.get("type")
            source, target = str(item.get("source")), str(item.get("target"))
            if not isinstance(type_, str):
                raise InvalidInput("type is required", field="type")
            labels = {}
            for end_name, span_ref in (("source", source), ("target", target)):
                if span_ref in label_by_uuid:
                    labels[end_name] = label_by_uuid[span_ref]
                elif span_ref in existing:
                    labels[end_name] = existing[span_ref][1]
                else:
                    raise InvalidInput(f"{end_name} {span_ref!r} is not a span of this request or set", field=end_name)
            if source == target:
                raise InvalidInput("a span cannot be linked to itself", field="target")
            try:
                schema.check_relation(type_, labels["source"], labels["target"])
                attributes = schema.clean_attributes(type_, item.get("attributes") or {})
            except SchemaError as error:
                raise InvalidInput(str(error), field="type") from None
            if (type_, source, target) in seen_links:
                raise InvalidInput(f"these spans are linked by {type_} twice in the request", field="target")
            note = annotating._clean_note(item.get("note", ""))
        except InvalidInput as error:
            errors.append(ItemError("relations", index, error.message, error.field))
            continue
        seen_links.add((type_, source, target))
        relation = Relation(
            uuid=relation_uuid, annotation_set=locked, type=type_, attributes=attributes, note=note,
            created_at=now, updated_at=now,
        )  # fmt: skip
        new_relations.append((relation, source, target))
    if errors:
        raise BulkInvalid(errors)

    try:
        with transaction.atomic():
            created_spans = Span.objects.bulk_create(new_spans, batch_size=2000)
    except IntegrityError:
        raise InvalidInput("a span's uuid already exists", field="spans") from None
    # bulk_create sets primary keys on PostgreSQL and SQLite ≥ 3.35; re-read them so any backend works.
    pk_by_uuid = {str(u): pk for u, pk in Span.objects.filter(annotation_set=locked).values_list("uuid", "pk")}
    for relation, source, target in new_relations:
        relation.source_id = pk_by_uuid[source]
        relation.target_id = pk_by_uuid[target]
    existing_links = set(
        Relation.objects.filter(
            annotation_set=locked, source_id__in=[r.source_id for r, _, _ in new_relations]
        ).values_list("type", "source_id", "target_id")
    )
    link_errors = [
        ItemError("relations", index, f"these spans are already linked by {relation.type}", "target")
        for index, (relation, _, _) in enumerate(new_relations)
        if (relation.type, relation.source_id, relation.target_id) in existing_links
    ]
    if link_errors:
        raise BulkInvalid(link_errors)
    try:
        with transaction.atomic():
            created_relations = Relation.objects.bulk_create([r for r, _, _ in new_relations], batch_size=2000)
    except IntegrityError:
        # The checks above cover every known cause; a concurrent writer or a reused relation uuid remains.
        raise InvalidInput("a relation's uuid or link already exists", field="relations") from None

    annotating._bump_version(locked)
    group = uuid.uuid4()
    actor_or_none = actor if getattr(actor, "is_authenticated", False) else None
    project_id = locked.document.project_id
    history = [
        Change(
            project_id=project_id, annotation_set=locked, object_type=ChangeObject.SPAN, object_uuid=span.uuid,
            action=ChangeAction.CREATE, before=None, after=annotating.span_snapshot(span), group=group,
            set_version=locked.version, actor=actor_or_none,
        )
        for span in created_spans
    ]  # fmt: skip
    history += [
        Change(
            project_id=project_id, annotation_set=locked, object_type=ChangeObject.RELATION,
            object_uuid=relation.uuid, action=ChangeAction.CREATE, before=None,
            after={
                "uuid": str(relation.uuid), "type": relation.type, "source": source, "target": target,
                "attributes": relation.attributes, "note": relation.note, "provenance": relation.provenance,
            },
            group=group, set_version=locked.version, actor=actor_or_none,
        )
        for relation, source, target in new_relations
    ]  # fmt: skip
    Change.objects.bulk_create(history, batch_size=2000)
    return BulkResult(annotation_set=locked, spans=list(created_spans), relations=list(created_relations))
