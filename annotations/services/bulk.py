"""Bulk pre-annotations: many spans and relations into one set, all or nothing.

The same rules as annotating.span_create / relation_create (role, version,
offsets, quote, schema), checked for every item before anything is written, so
a request either lands whole or reports every bad item with its index and
reason. Then one insert per table, one version bump and one history row per
object (sharing one group, so a single undo reverts the whole batch).

Speed (bench/api_bench.py, 10,000 spans in one request): validation is one
pure-Python pass over plain dicts against the text and schema in hand; the
database is asked only what it alone knows (whether a client-chosen uuid is
taken, which existing spans a relation names, whether two existing spans are
already linked), and only when the request needs it. Rows are written as plain
tuples through the importers' COPY path (jobs._insert) on PostgreSQL, bulk_create
elsewhere: no model instances, no per-item query.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone

from annotations.exceptions import InvalidInput
from annotations.models import AnnotationSet, ChangeAction, ChangeObject, Document, Relation, Span
from annotations.schema import Schema, SchemaError
from annotations.services import annotating, jobs

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
    """Some items are bad; nothing was written. `errors` lists each bad item, spans first, in index order."""

    code = "bulk_invalid"

    def __init__(self, errors: Sequence[ItemError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.kind != "spans", e.index))
        first = ordered[0]
        super().__init__(
            f"{len(ordered)} item(s) are invalid and nothing was saved; first: {first.kind}[{first.index}]: "
            f"{first.message}",
            field=f"{first.kind}[{first.index}]" + (f".{first.field}" if first.field else ""),
        )
        self.errors = ordered


@dataclass
class BulkResult:
    annotation_set: AnnotationSet
    span_uuids: list[str] = field(default_factory=list)
    relation_uuids: list[str] = field(default_factory=list)


@dataclass
class _PlannedSpan:
    index: int
    uuid: UUID | None  # chosen by the client (so it may already be taken), else None: _write draws one
    label: str
    start: int
    end: int
    quote: str
    attributes: dict[str, Any]
    note: str


@dataclass
class _PlannedRelation:
    index: int
    uuid: UUID | None  # as _PlannedSpan.uuid
    type: str
    source: UUID
    target: UUID
    attributes: dict[str, Any]
    note: str


def _as_uuid(value: Any, field_name: str = "uuid") -> UUID:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name} must be a UUID in a string", field=field_name)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{value[:60]!r} is not a UUID", field=field_name) from None


def _clean_attributes(schema: Schema, target: str, raw: Any, field_name: str) -> dict[str, Any]:
    if raw is None or (isinstance(raw, Mapping) and not raw):
        return {}  # nothing to check (the common pre-annotation), and no schema walk per item
    try:
        return schema.clean_attributes(target, raw)
    except SchemaError as error:
        raise InvalidInput(str(error), field=field_name) from None


def _check_spans(
    items: Sequence[Any], text: str, schema: Schema, errors: list[ItemError]
) -> tuple[list[_PlannedSpan], dict[UUID, str]]:
    """Every span item against the text and schema in one pass; returns the good ones and their labels by uuid."""
    labels = frozenset(schema.label_keys)
    planned: list[_PlannedSpan] = []
    label_by_uuid: dict[UUID, str] = {}
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise InvalidInput("each span must be an object")
            given = item.get("uuid")
            span_uuid = _as_uuid(given) if given is not None else None
            if span_uuid is not None and span_uuid in label_by_uuid:
                raise InvalidInput("this uuid appears twice in the request", field="uuid")
            label = item.get("label")
            if not isinstance(label, str):
                raise InvalidInput("label is required", field="label")
            start, end, quote = item.get("start"), item.get("end"), item.get("quote")
            annotating._check_offsets(text, start, end, quote)
            if label not in labels:
                try:
                    schema.check_label(label)  # raises with the project's labels in the message
                except SchemaError as error:
                    raise InvalidInput(str(error), field="label") from None
            attributes = _clean_attributes(schema, label, item.get("attributes"), "attributes")
            note = annotating._clean_note(item.get("note", ""))
        except InvalidInput as error:
            errors.append(ItemError("spans", index, error.message, error.field))
            continue
        if span_uuid is not None:  # only a client-chosen uuid can be named by a relation
            label_by_uuid[span_uuid] = label
        # start, end and quote passed _check_offsets: two ints and the text between them.
        planned.append(
            _PlannedSpan(index, span_uuid, label, item["start"], item["end"], item["quote"],
                         attributes, note)
        )  # fmt: skip
    return planned, label_by_uuid


def _check_relations(
    items: Sequence[Any],
    locked: AnnotationSet,
    schema: Schema,
    new_labels: dict[UUID, str],
    errors: list[ItemError],
) -> tuple[list[_PlannedRelation], dict[UUID, tuple[int, str]]]:
    """Every relation item; returns the good ones and the existing spans they name (uuid -> (id, label))."""
    parsed: list[tuple[int, Mapping[str, Any], UUID, UUID]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise InvalidInput("each relation must be an object")
            ends = []
            for end_name in ("source", "target"):
                try:
                    ends.append(_as_uuid(item.get(end_name), end_name))
                except InvalidInput:
                    raise InvalidInput(
                        f"{end_name} {item.get(end_name)!r} is not a span of this request or set", field=end_name
                    ) from None
        except InvalidInput as error:
            errors.append(ItemError("relations", index, error.message, error.field))
            continue
        parsed.append((index, item, ends[0], ends[1]))
    # One query for the spans already in the set that the relations name (none when they all link new spans).
    wanted = {ref for _, _, source, target in parsed for ref in (source, target) if ref not in new_labels}
    existing: dict[UUID, tuple[int, str]] = {}
    if wanted:
        rows = Span.objects.filter(annotation_set=locked, uuid__in=wanted).values_list("uuid", "pk", "label")
        existing = {span_uuid: (pk, label) for span_uuid, pk, label in rows}

    planned: list[_PlannedRelation] = []
    seen_links: set[tuple[str, UUID, UUID]] = set()
    seen_uuids: set[UUID] = set()
    for index, item, source, target in parsed:
        try:
            given = item.get("uuid")
            relation_uuid = _as_uuid(given) if given is not None else None
            if relation_uuid is not None and relation_uuid in seen_uuids:
                raise InvalidInput("this uuid appears twice in the request", field="uuid")
            type_ = item.get("type")
            if not isinstance(type_, str):
                raise InvalidInput("type is required", field="type")
            end_labels = []
            for end_name, ref in (("source", source), ("target", target)):
                label = new_labels.get(ref) or (existing[ref][1] if ref in existing else None)
                if label is None:
                    raise InvalidInput(f"{end_name} {str(ref)!r} is not a span of this request or set", field=end_name)
                end_labels.append(label)
            if source == target:
                raise InvalidInput("a span cannot be linked to itself", field="target")
            try:
                schema.check_relation(type_, end_labels[0], end_labels[1])
            except SchemaError as error:
                raise InvalidInput(str(error), field="type") from None
            attributes = _clean_attributes(schema, type_, item.get("attributes"), "attributes")
            if (type_, source, target) in seen_links:
                raise InvalidInput(f"these spans are linked by {type_} twice in the request", field="target")
            note = annotating._clean_note(item.get("note", ""))
        except InvalidInput as error:
            errors.append(ItemError("relations", index, error.message, error.field))
            continue
        seen_links.add((type_, source, target))
        if relation_uuid is not None:
            seen_uuids.add(relation_uuid)
        planned.append(_PlannedRelation(index, relation_uuid, type_, source, target, attributes, note))
    return planned, existing


def _taken_uuid_errors(
    model: type[Span] | type[Relation], kind: str, planned: Sequence[_PlannedSpan | _PlannedRelation]
) -> list[ItemError]:
    """Client-chosen uuids that already exist (anywhere: uuids are global). Ours are fresh uuid4s."""
    chosen = {item.uuid: item.index for item in planned if item.uuid is not None}
    if not chosen:
        return []
    taken = set(model.objects.filter(uuid__in=list(chosen)).values_list("uuid", flat=True))
    noun = "span" if kind == "spans" else "relation"
    return [ItemError(kind, chosen[u], f"a {noun} with this uuid already exists", "uuid") for u in taken]


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
    # The lock query leaves the text behind (single writes fetch a slice); here every item needs it.
    text = Document.objects.filter(pk=locked.document_id).values_list("text", flat=True).get()
    schema = locked.document.project.parsed_schema
    errors: list[ItemError] = []

    planned_spans, new_labels = _check_spans(spans, text, schema, errors)
    errors += _taken_uuid_errors(Span, "spans", planned_spans)
    planned_relations, existing = _check_relations(relations, locked, schema, new_labels, errors)
    errors += _taken_uuid_errors(Relation, "relations", planned_relations)
    # Only two spans that were already in the set can already be linked.
    old_pairs = [(r.source, r.target) for r in planned_relations if r.source in existing and r.target in existing]
    if old_pairs:
        old_links = set(
            Relation.objects.filter(
                annotation_set=locked, source_id__in=[existing[source][0] for source, _ in old_pairs]
            ).values_list("type", "source__uuid", "target__uuid")
        )
        errors += [
            ItemError("relations", r.index, f"these spans are already linked by {r.type}", "target")
            for r in planned_relations
            if (r.type, r.source, r.target) in old_links
        ]
    if errors:
        raise BulkInvalid(errors)

    try:
        span_uuids, relation_uuids = _write(locked, planned_spans, planned_relations, existing, actor)
    except (IntegrityError, psycopg.IntegrityError):  # COPY runs on psycopg's own cursor, unwrapped by Django
        # The checks above cover every known cause under the set lock; a concurrent writer
        # taking the same client-chosen uuid in another set remains. Nothing is kept.
        raise InvalidInput("a uuid or link in this request already exists", field="spans") from None
    return BulkResult(annotation_set=locked, span_uuids=span_uuids, relation_uuids=relation_uuids)


def _write(
    locked: AnnotationSet,
    spans: Sequence[_PlannedSpan],
    relations: Sequence[_PlannedRelation],
    existing: Mapping[UUID, tuple[int, str]],
    actor: Any,
) -> tuple[list[str], list[str]]:
    """The checked items' rows, the version bump and one history row per object; returns the new uuids.

    History rows carry the set's version after the batch and share one group, so a
    single undo reverts the whole batch. Items without a client-chosen uuid get one
    here, already spelled: nothing in the request can name them.
    """
    annotating._bump_version(locked)
    fresh = iter(jobs._uuid7_strings(sum(s.uuid is None for s in spans) + sum(r.uuid is None for r in relations)))
    span_uuids = [next(fresh) if s.uuid is None else str(s.uuid) for s in spans]
    relation_uuids = [next(fresh) if r.uuid is None else str(r.uuid) for r in relations]
    set_id, project_id, version = locked.pk, locked.document.project_id, locked.version
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    group = str(uuid.uuid4())
    span_type, relation_type, create = ChangeObject.SPAN.value, ChangeObject.RELATION.value, ChangeAction.CREATE.value
    now = timezone.now()  # rows and history alike, inside the transaction: the changes feed relies on it
    span_rows = [
        (span_uuid, set_id, s.label, s.start, s.end, s.quote, s.attributes, s.note, {}, now, now)
        for s, span_uuid in zip(spans, span_uuids, strict=True)
    ]

    def span_history(row: tuple[Any, ...]) -> tuple[Any, ...]:
        span_uuid, _, label, start, end, quote, attributes, note, provenance, _, _ = row
        after = annotating.span_snapshot_of(span_uuid, label, start, end, quote, attributes, note, provenance)
        return (project_id, set_id, span_type, span_uuid, create, None, after, group, version, None, actor_id, now)

    relation_history = [
        (project_id, set_id, relation_type, relation_uuid, create, None,
         annotating.relation_snapshot_of(relation_uuid, r.type, str(r.source), str(r.target), r.attributes, r.note, {}),
         group, version, None, actor_id, now)
        for r, relation_uuid in zip(relations, relation_uuids, strict=True)
    ]  # fmt: skip
    # Relations point at span ids, so the new spans are numbered first when there are relations.
    postgres = connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
    if postgres:
        span_ids = jobs._reserve_ids(jobs._SPANS, len(span_rows)) if relations and span_rows else []
        change_lines: list[str] = []
        # The server inserts spans while their history lines are spelled here (jobs._copy_stream).
        with jobs._copy_stream(jobs._SPANS, with_ids=bool(span_ids)) as add_span_line:
            for position, row in enumerate(span_rows):
                line = jobs._span_line(row)
                add_span_line(f"{span_ids[position]}\t{line}" if span_ids else line)
                change_lines.append(jobs._change_line(span_history(row)))
    else:
        span_ids = jobs._insert(jobs._SPANS, span_rows)
    if relations:
        id_by_uuid = {UUID(span_uuid): pk for span_uuid, pk in zip(span_uuids, span_ids, strict=True)}
        id_by_uuid.update({span_uuid: pk for span_uuid, (pk, _) in existing.items()})
        jobs._insert_unnumbered(
            jobs._RELATIONS,
            [
                (relation_uuid, set_id, r.type, id_by_uuid[r.source], id_by_uuid[r.target], r.attributes, r.note, {},
                 now, now)
                for r, relation_uuid in zip(relations, relation_uuids, strict=True)
            ],
        )  # fmt: skip
    if postgres:
        jobs._copy_lines(jobs._CHANGES, change_lines + [jobs._change_line(row) for row in relation_history])
    else:
        jobs._insert_unnumbered(jobs._CHANGES, [span_history(row) for row in span_rows] + relation_history)
    return span_uuids, relation_uuids
