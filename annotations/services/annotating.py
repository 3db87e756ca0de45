"""Every write to spans, relations and annotation-set state.

Each function takes keyword-only arguments, runs in one transaction with the
set row locked, checks the actor's role and the expected version, validates
against the document text and the project schema, bumps the set version and
records history. Views, the API, importers and the admin all come through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Length, Substr
from django.utils import timezone

from annotations import access, fastsql
from annotations.checks import RelationFacts, SpanFacts, SubmitWarning, submit_warnings
from annotations.exceptions import InvalidInput, NothingToUndo, QuoteMismatch, StaleVersion
from annotations.models import (
    AnnotationSet,
    Change,
    ChangeAction,
    ChangeObject,
    Document,
    Relation,
    SetState,
    Span,
)
from annotations.offsets import MAX_TEXT_OFFSET
from annotations.schema import SchemaError


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

MAX_NOTE_LENGTH = 10_000


# --- snapshots for history -------------------------------------------------------------


def span_snapshot_of(
    span_uuid: str, label: str, start: int, end: int, quote: str, attributes: Any, note: str, provenance: Any
) -> dict[str, Any]:
    """A span as its history rows record it; the one spelling for every writer (single, bulk, import)."""
    return {
        "uuid": span_uuid, "label": label, "start": start, "end": end, "quote": quote,
        "attributes": attributes, "note": note, "provenance": provenance,
    }  # fmt: skip


def relation_snapshot_of(
    relation_uuid: str, type_key: str, source_uuid: str, target_uuid: str, attributes: Any, note: str, provenance: Any
) -> dict[str, Any]:
    """A relation as its history rows record it (its ends by span uuid)."""
    return {
        "uuid": relation_uuid, "type": type_key, "source": source_uuid, "target": target_uuid,
        "attributes": attributes, "note": note, "provenance": provenance,
    }  # fmt: skip


def span_snapshot(span: Span) -> dict[str, Any]:
    return span_snapshot_of(
        str(span.uuid), span.label, span.start, span.end, span.quote, span.attributes, span.note, span.provenance
    )


def relation_snapshot(relation: Relation) -> dict[str, Any]:
    return relation_snapshot_of(
        str(relation.uuid), relation.type, str(relation.source.uuid), str(relation.target.uuid),
        relation.attributes, relation.note, relation.provenance,
    )  # fmt: skip


# --- the shared steps of every write ---------------------------------------------------


def _lock_for_write(
    annotation_set: AnnotationSet,
    actor: Any,
    expected_version: int | None,
    *,
    text_range: tuple[Any, Any] | None = None,
) -> AnnotationSet:
    """Lock the set row, then check role and version against the locked (current) row.

    `expected_version=None` is for trusted internal callers (importers) only.
    The document's text (and raw upload) stay in the database: a write checks a
    quote against text[start:end], so a caller that will do that passes
    text_range and the lock query brings just that slice along (see
    _check_offsets_locked) instead of a 200 KB article per write.
    """
    document_in_hand = _document_in_hand(annotation_set)
    piece = text_range is not None and _plausible_range(*text_range)
    if fastsql.locked_in_this_transaction(annotation_set):
        # The caller read the set FOR UPDATE in this transaction (selectors.annotation_set_get_for_write
        # with lock=True): it is current and held; reading it again would only cost a round trip.
        locked = annotation_set
    elif document_in_hand is None:
        # Rare (every caller in the code base passes a set read with its document): the ORM.
        query = AnnotationSet.objects.select_for_update(of=("self",))
        query = query.select_related("document__project").defer("document__text", "document__raw_source")
        if piece:
            start, end = text_range  # type: ignore[misc]
            query = query.annotate(text_piece=Substr("document__text", start + 1, end - start))
        locked = query.get(pk=annotation_set.pk)
        if piece:
            locked.text_piece_range = (start, end)  # type: ignore[attr-defined]
    else:
        locked = _lock_set_row(annotation_set.pk, text_range if piece else None)
        if document_in_hand.pk == locked.document_id:
            locked.document = document_in_hand
    access.require_can_edit_set(actor, locked)
    if expected_version is not None and expected_version != locked.version:
        raise StaleVersion(expected=expected_version, current=locked.version)
    return locked


@fastsql.statement
def _lock_sql() -> str:
    q = fastsql.quote
    return (
        f"SELECT {fastsql.columns(AnnotationSet).select('s')} FROM {fastsql.table(AnnotationSet)} s"
        f" WHERE s.{q('id')} = %s{fastsql.for_update_of('s')}"
    )


@fastsql.statement
def _lock_with_piece_sql() -> str:
    q = fastsql.quote
    return (
        f"SELECT {fastsql.columns(AnnotationSet).select('s')}, substr(d.{q('text')}, %s, %s)"
        f" FROM {fastsql.table(AnnotationSet)} s INNER JOIN {fastsql.table(Document)} d"
        f" ON d.{q('id')} = s.{q('document_id')} WHERE s.{q('id')} = %s{fastsql.for_update_of('s')}"
    )


def _lock_set_row(set_id: int, text_range: tuple[int, int] | None) -> AnnotationSet:
    """SELECT … FOR UPDATE OF the set row alone, with text[start:end] of its document when asked.

    Hand-written (annotations/fastsql.py): every write runs it. OF the set alone: without it
    PostgreSQL would lock the joined document row too, and every writer on a document would
    queue behind one row. Raises AnnotationSet.DoesNotExist like get() (the set was deleted).
    """
    set_columns = fastsql.columns(AnnotationSet)
    if text_range is None:
        row = fastsql.fetch_one(_lock_sql(), [set_id])
    else:
        start, end = text_range
        row = fastsql.fetch_one(_lock_with_piece_sql(), [start + 1, end - start, set_id])
    if row is None:
        raise AnnotationSet.DoesNotExist("the annotation set no longer exists")
    locked = set_columns.build(row[: len(set_columns)])
    if text_range is not None:
        locked.text_piece, locked.text_piece_range = row[-1], text_range  # type: ignore[attr-defined]
    return locked


@contextmanager
def _write_transaction(
    *, chosen_id: uuid.UUID | None, duplicate: str, annotation_set: AnnotationSet | None = None
) -> Iterator[None]:
    """One transaction for a create whose INSERT may hit a client-chosen id that is taken.

    The block is the whole write (a savepoint when the caller already holds a
    transaction), so an IntegrityError rolls it back cleanly and is translated out
    here, instead of wrapping the INSERT in a savepoint of its own: that costs two
    more round trips on every write, for a case that only a client-chosen id can hit.
    A caller that locked the set itself (selectors.annotation_set_get_for_write with
    lock=True) opened the transaction for this one write and ends it with any error
    raised here, so it needs no savepoint either.
    """
    own_transaction = annotation_set is not None and fastsql.locked_in_this_transaction(annotation_set)
    try:
        with transaction.atomic(savepoint=not own_transaction):
            yield
    except IntegrityError:
        if chosen_id is None:
            raise
        raise InvalidInput(duplicate, field="uuid") from None


def _document_in_hand(annotation_set: AnnotationSet) -> Document | None:
    """The caller's document with its project, when its set instance already holds them.

    A set never changes document, and the lock covers only the set row anyway (the
    project row is read, not locked, either way), so the document and project the
    caller read a moment ago serve the write as well as a second join would.
    """
    if not AnnotationSet.document.is_cached(annotation_set):
        return None
    document = annotation_set.document
    if document is None or not Document.project.is_cached(document):
        return None
    return document


def _bump_version(locked: AnnotationSet, batch: fastsql.Batch | None = None) -> None:
    """Bump the locked set's version (and move it from assigned to in progress); in `batch` when given."""
    locked.version += 1
    locked.updated_at = timezone.now()
    values: dict[str, Any] = {"version": locked.version, "updated_at": locked.updated_at}
    if locked.state == SetState.ASSIGNED:
        locked.state = SetState.IN_PROGRESS
        values["state"] = locked.state
    if batch is not None:
        batch.update(AnnotationSet, locked.pk, values)
    else:
        fastsql.update(AnnotationSet, locked.pk, values)


def _record(
    locked: AnnotationSet,
    *,
    object_type: str,
    object_uuid: uuid.UUID | str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: Any,
    group: uuid.UUID,
    reverts: Change | None = None,
    batch: fastsql.Batch | None = None,
) -> Change:
    """A history row for one change; written at once, or with `batch` (its pk is set when the batch runs)."""
    change = Change(
        project_id=locked.document.project_id,
        annotation_set=locked,
        object_type=object_type,
        object_uuid=object_uuid,
        action=action,
        before=before,
        after=after,
        group=group,
        set_version=locked.version,
        reverts=reverts,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if batch is not None:
        batch.insert(change)
        return change
    return fastsql.insert(change)


def _insert_with_history(
    locked: AnnotationSet,
    instance: Span | Relation,
    object_type: str,
    snapshot: dict[str, Any],
    *,
    actor: Any,
    group: uuid.UUID | None,
) -> None:
    """A create's three writes, the new row, the version bump and its history row, in one
    round trip (fastsql.Batch): nothing in them waits for another's result."""
    batch = fastsql.Batch()
    batch.insert(instance)
    _bump_version(locked, batch)
    _record(
        locked,
        object_type=object_type,
        object_uuid=instance.uuid,
        action=ChangeAction.CREATE,
        before=None,
        after=snapshot,
        actor=actor,
        group=group or uuid.uuid4(),
        batch=batch,
    )
    batch.run()


def _clean_note(note: str) -> str:
    if not isinstance(note, str):
        raise InvalidInput("note must be text", field="note")
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"note is longer than {MAX_NOTE_LENGTH} characters", field="note")
    return note


def _check_offset_shape(start: Any, end: Any) -> None:
    """The offset errors that need no text: whole numbers, not negative, end after start."""
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise InvalidInput("start and end must be whole numbers (code-point offsets)", field="start")
    if start < 0:
        raise InvalidInput(f"start {start} is negative", field="start")
    if end <= start:
        raise InvalidInput(f"end {end} must be after start {start}: a span covers at least one character", field="end")


def _check_offsets(text: str, start: Any, end: Any, quote: Any) -> None:
    _check_offset_shape(start, end)
    if end > len(text):
        raise InvalidInput(f"end {end} is past the end of the text ({len(text)} characters)", field="end")
    if not isinstance(quote, str):
        raise InvalidInput("quote must be the text the span covers", field="quote")
    actual = text[start:end]
    if actual != quote:
        raise QuoteMismatch(
            f"the quote does not match the document text at [{start}, {end}): the text there is {actual[:80]!r}",
            field="quote",
        )


def _plausible_range(start: Any, end: Any) -> bool:
    """A range the database can be asked to slice: whole numbers, 0 <= start < end <= MAX_TEXT_OFFSET."""
    return (
        all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end))
        and 0 <= start < end <= MAX_TEXT_OFFSET
    )


def _text_in_hand(annotation_set: AnnotationSet) -> str | None:
    """The document text when the caller's set instance already holds it, else None.

    A document's text is fixed at import and never edited (DESIGN, the offset
    rule), so text read before the lock is the text under the lock: the
    annotation page has it loaded anyway, and reading it again costs a write
    as much as the rest of the write.
    """
    if not AnnotationSet.document.is_cached(annotation_set):
        return None
    document = annotation_set.document
    if document is None or "text" in document.get_deferred_fields():
        return None
    return document.text


def _check_offsets_locked(locked: AnnotationSet, start: Any, end: Any, quote: Any) -> None:
    """_check_offsets against the locked set's document without loading its text: the
    slice text[start:end] comes from the lock query (text_range) or one small query.

    A slice shorter than end - start means the span runs past the end of the text;
    only then is the text's length asked for, to say so (counting the characters of
    a long article costs the database as much as shipping it).
    """
    _check_offset_shape(start, end)
    # The queryset is built only when a query is needed: building one costs about 50 µs of CPU on every create.
    if getattr(locked, "text_piece_range", None) == (start, end):  # the lock query brought this very slice
        piece = locked.text_piece  # type: ignore[attr-defined]
    elif not _plausible_range(start, end):
        piece = ""  # past any text; substr() takes 32-bit positions and would fail or wrap instead of answering
    else:
        document = Document.objects.filter(pk=locked.document_id)
        piece = document.annotate(piece=Substr("text", start + 1, end - start)).values_list("piece", flat=True).get()
    if len(piece) < end - start:
        document = Document.objects.filter(pk=locked.document_id)
        length = document.annotate(length=Length("text")).values_list("length", flat=True).get()
        raise InvalidInput(f"end {end} is past the end of the text ({length} characters)", field="end")
    if not isinstance(quote, str):
        raise InvalidInput("quote must be the text the span covers", field="quote")
    if piece != quote:
        raise QuoteMismatch(
            f"the quote does not match the document text at [{start}, {end}): the text there is {piece[:80]!r}",
            field="quote",
        )


def _clean_label_and_attributes(locked: AnnotationSet, label: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    schema = locked.document.project.parsed_schema
    try:
        schema.check_label(label)
        return schema.clean_attributes(label, attributes)
    except SchemaError as error:
        field = "label" if schema.label(label) is None else "attributes"
        raise InvalidInput(str(error), field=field) from None


def _span_in_set(span: Span, locked: AnnotationSet) -> Span:
    if span.annotation_set_id != locked.pk:
        raise InvalidInput("the span belongs to another annotation set")
    try:
        return Span.objects.select_for_update().get(pk=span.pk)
    except Span.DoesNotExist:
        raise InvalidInput("the span no longer exists") from None


# --- spans -------------------------------------------------------------------------------


def span_create(
    *,
    annotation_set: AnnotationSet,
    label: str,
    start: int,
    end: int,
    quote: str,
    actor: Any,
    expected_version: int | None,
    attributes: Mapping[str, Any] | None = None,
    note: str = "",
    provenance: Mapping[str, Any] | None = None,
    span_uuid: uuid.UUID | None = None,
    group: uuid.UUID | None = None,
) -> Span:
    """Create a span; the returned span's annotation_set carries the new version.

    Raises InvalidInput (bad offsets, wrong quote, unknown label or attribute, a
    span_uuid already taken), NotAllowed / ReadOnlySet (role, submitted set) or StaleVersion.
    """
    with _write_transaction(
        chosen_id=span_uuid, duplicate="a span with this id already exists", annotation_set=annotation_set
    ):
        text = _text_in_hand(annotation_set)
        text_range = None if text is not None else (start, end)
        locked = _lock_for_write(annotation_set, actor, expected_version, text_range=text_range)
        if text is not None and locked.document_id == annotation_set.document_id:
            _check_offsets(text, start, end, quote)
        else:
            _check_offsets_locked(locked, start, end, quote)
        cleaned_attributes = _clean_label_and_attributes(locked, label, attributes or {})
        now = timezone.now()
        span = Span(
            annotation_set=locked,
            label=label,
            start=start,
            end=end,
            quote=quote,
            attributes=cleaned_attributes,
            note=_clean_note(note),
            provenance=dict(provenance or {}),
            created_at=now,
            updated_at=now,
        )
        if span_uuid is not None:
            span.uuid = span_uuid
        _insert_with_history(locked, span, ChangeObject.SPAN, span_snapshot(span), actor=actor, group=group)
        return span


@transaction.atomic
def span_update(
    *,
    span: Span,
    actor: Any,
    expected_version: int | None,
    label: str = UNSET,
    start: int = UNSET,
    end: int = UNSET,
    quote: str = UNSET,
    attributes: Mapping[str, Any] = UNSET,
    note: str = UNSET,
    provenance: Mapping[str, Any] = UNSET,
    group: uuid.UUID | None = None,
) -> Span:
    """Move, relabel, or set attributes / note of a span. Only the given fields change.

    Moving needs start, end and quote together (the quote is checked against the text).
    A relabel that would break one of the span's links is refused: remove the link first.
    """
    locked = _lock_for_write(span.annotation_set, actor, expected_version)
    current = _span_in_set(span, locked)
    before = span_snapshot(current)
    moving = (start, end, quote)
    if any(value is not UNSET for value in moving):
        if any(value is UNSET for value in moving):
            raise InvalidInput("moving a span needs start, end and quote together", field="start")
        text = _text_in_hand(span.annotation_set)
        if text is not None and locked.document_id == span.annotation_set.document_id:
            _check_offsets(text, start, end, quote)
        else:
            _check_offsets_locked(locked, start, end, quote)
        current.start, current.end, current.quote = start, end, quote
    new_label = current.label if label is UNSET else label
    if label is not UNSET and label != current.label:
        _check_relabel_keeps_links(locked, current, new_label)
        if attributes is UNSET:
            # Keep only the attributes the new label also defines.
            allowed = {a.key for a in locked.document.project.parsed_schema.attributes_for(new_label)}
            attributes = {k: v for k, v in current.attributes.items() if k in allowed}
    current.label = new_label
    current.attributes = _clean_label_and_attributes(
        locked, new_label, current.attributes if attributes is UNSET else attributes
    )
    if note is not UNSET:
        current.note = _clean_note(note)
    if provenance is not UNSET:
        current.provenance = dict(provenance)
    after = span_snapshot(current)
    if after == before:
        return current  # nothing changed: no version bump, no history row
    current.updated_at = timezone.now()
    current.save()
    _bump_version(locked)
    _record(
        locked,
        object_type=ChangeObject.SPAN,
        object_uuid=current.uuid,
        action=ChangeAction.UPDATE,
        before=before,
        after=after,
        actor=actor,
        group=group or uuid.uuid4(),
    )
    current.annotation_set = locked
    return current


def _check_relabel_keeps_links(locked: AnnotationSet, span: Span, new_label: str) -> None:
    schema = locked.document.project.parsed_schema
    links = Relation.objects.filter(annotation_set=locked).filter(source=span) | Relation.objects.filter(
        annotation_set=locked
    ).filter(target=span)
    for relation in links.select_related("source", "target"):
        from_label = new_label if relation.source_id == span.pk else relation.source.label
        to_label = new_label if relation.target_id == span.pk else relation.target.label
        try:
            schema.check_relation(relation.type, from_label, to_label)
        except SchemaError as error:
            raise InvalidInput(
                f"relabelling to {new_label} would break a {relation.type} link ({error}); remove the link first",
                field="label",
            ) from None


@transaction.atomic
def span_delete(*, span: Span, actor: Any, expected_version: int | None, group: uuid.UUID | None = None) -> None:
    """Delete a span and the links that touch it; history keeps all of them for restore/undo."""
    locked = _lock_for_write(span.annotation_set, actor, expected_version)
    current = _span_in_set(span, locked)
    group = group or uuid.uuid4()
    _bump_version(locked)
    touching = Relation.objects.filter(annotation_set=locked).filter(source=current) | Relation.objects.filter(
        annotation_set=locked
    ).filter(target=current)
    for relation in touching.select_related("source", "target"):
        _record(
            locked,
            object_type=ChangeObject.RELATION,
            object_uuid=relation.uuid,
            action=ChangeAction.DELETE,
            before=relation_snapshot(relation),
            after=None,
            actor=actor,
            group=group,
        )
    _record(
        locked,
        object_type=ChangeObject.SPAN,
        object_uuid=current.uuid,
        action=ChangeAction.DELETE,
        before=span_snapshot(current),
        after=None,
        actor=actor,
        group=group,
    )
    current.delete()


# --- relations --------------------------------------------------------------------------


def relation_create(
    *,
    annotation_set: AnnotationSet,
    type: str,
    source: Span,
    target: Span,
    actor: Any,
    expected_version: int | None,
    attributes: Mapping[str, Any] | None = None,
    note: str = "",
    provenance: Mapping[str, Any] | None = None,
    relation_uuid: uuid.UUID | None = None,
    group: uuid.UUID | None = None,
) -> Relation:
    """Link two spans of the same set. Raises InvalidInput for a cross-set link,
    a wrong label pair, a self-link or a duplicate."""
    with _write_transaction(
        chosen_id=relation_uuid, duplicate="a link with this id already exists", annotation_set=annotation_set
    ):
        locked = _lock_for_write(annotation_set, actor, expected_version)
        # Read both ends again under the lock: the caller's objects may be stale (deleted or
        # relabelled since it loaded them), and a link to a deleted span would only fail at commit.
        ends = {span.pk: span for span in Span.objects.select_for_update().filter(pk__in=[source.pk, target.pk])}
        if source.pk not in ends or target.pk not in ends:
            raise InvalidInput("one end of the link no longer exists (it was deleted)", field="target")
        source, target = ends[source.pk], ends[target.pk]
        if source.annotation_set_id != locked.pk or target.annotation_set_id != locked.pk:
            raise InvalidInput("both ends of a link must be spans of the same annotation set", field="target")
        if source.pk == target.pk:
            raise InvalidInput("a span cannot be linked to itself", field="target")
        schema = locked.document.project.parsed_schema
        try:
            schema.check_relation(type, source.label, target.label)
            cleaned_attributes = schema.clean_attributes(type, attributes or {})
        except SchemaError as error:
            raise InvalidInput(str(error), field="type") from None
        if Relation.objects.filter(type=type, source=source, target=target).exists():
            raise InvalidInput(f"these spans are already linked by {type}", field="target")
        now = timezone.now()
        relation = Relation(
            annotation_set=locked,
            type=type,
            source=source,
            target=target,
            attributes=cleaned_attributes,
            note=_clean_note(note),
            provenance=dict(provenance or {}),
            created_at=now,
            updated_at=now,
        )
        if relation_uuid is not None:
            relation.uuid = relation_uuid
        _insert_with_history(
            locked, relation, ChangeObject.RELATION, relation_snapshot(relation), actor=actor, group=group
        )
        return relation


@transaction.atomic
def relation_update(
    *,
    relation: Relation,
    actor: Any,
    expected_version: int | None,
    attributes: Mapping[str, Any] = UNSET,
    note: str = UNSET,
    group: uuid.UUID | None = None,
) -> Relation:
    locked = _lock_for_write(relation.annotation_set, actor, expected_version)
    current = (
        Relation.objects.select_for_update(of=("self",))
        .select_related("source", "target")
        .filter(pk=relation.pk)
        .first()
    )
    if current is None or current.annotation_set_id != locked.pk:
        raise InvalidInput("the link no longer exists")
    before = relation_snapshot(current)
    if attributes is not UNSET:
        try:
            current.attributes = locked.document.project.parsed_schema.clean_attributes(current.type, attributes)
        except SchemaError as error:
            raise InvalidInput(str(error), field="attributes") from None
    if note is not UNSET:
        current.note = _clean_note(note)
    after = relation_snapshot(current)
    if after == before:
        return current
    current.updated_at = timezone.now()
    current.save()
    _bump_version(locked)
    _record(
        locked,
        object_type=ChangeObject.RELATION,
        object_uuid=current.uuid,
        action=ChangeAction.UPDATE,
        before=before,
        after=after,
        actor=actor,
        group=group or uuid.uuid4(),
    )
    return current


@transaction.atomic
def relation_delete(
    *, relation: Relation, actor: Any, expected_version: int | None, group: uuid.UUID | None = None
) -> None:
    locked = _lock_for_write(relation.annotation_set, actor, expected_version)
    current = Relation.objects.select_related("source", "target").filter(pk=relation.pk).first()
    if current is None or current.annotation_set_id != locked.pk:
        raise InvalidInput("the link no longer exists")
    _bump_version(locked)
    _record(
        locked,
        object_type=ChangeObject.RELATION,
        object_uuid=current.uuid,
        action=ChangeAction.DELETE,
        before=relation_snapshot(current),
        after=None,
        actor=actor,
        group=group or uuid.uuid4(),
    )
    current.delete()


# --- history: restore and undo -----------------------------------------------------------


def _apply_snapshot(locked: AnnotationSet, change: Change, actor: Any, group: uuid.UUID) -> None:
    """Make the object of `change` look as it did before the change, recording a reverting change."""
    model = Span if change.object_type == ChangeObject.SPAN else Relation
    existing = model.objects.filter(uuid=change.object_uuid).first()
    before = change.before
    if before is None:  # revert a create: delete the object if it still exists
        if existing is None:
            return
        if isinstance(existing, Span):
            # Links made to the span after it was created go with it (recorded, restorable).
            for relation in Relation.objects.filter(source=existing) | Relation.objects.filter(target=existing):
                _record(
                    locked,
                    object_type=ChangeObject.RELATION,
                    object_uuid=relation.uuid,
                    action=ChangeAction.DELETE,
                    before=relation_snapshot(relation),
                    after=None,
                    actor=actor,
                    group=group,
                    reverts=change,
                )
            snapshot = span_snapshot(existing)
        else:
            snapshot = relation_snapshot(existing)
        _record(
            locked,
            object_type=change.object_type,
            object_uuid=change.object_uuid,
            action=ChangeAction.DELETE,
            before=snapshot,
            after=None,
            actor=actor,
            group=group,
            reverts=change,
        )
        existing.delete()
        return
    if change.object_type == ChangeObject.SPAN:
        _check_offsets_locked(locked, before["start"], before["end"], before["quote"])
        span = existing if isinstance(existing, Span) else Span(annotation_set=locked, uuid=change.object_uuid)
        previous = span_snapshot(span) if existing is not None else None
        span.label, span.start, span.end, span.quote = before["label"], before["start"], before["end"], before["quote"]
        span.attributes, span.note = before.get("attributes", {}), before.get("note", "")
        span.provenance = before.get("provenance", {})
        span.updated_at = timezone.now()
        span.save()
        after = span_snapshot(span)
    else:
        spans = {str(s.uuid): s for s in Span.objects.filter(uuid__in=[before["source"], before["target"]])}
        if before["source"] not in spans or before["target"] not in spans:
            raise InvalidInput("this link cannot be restored: one of its spans is gone (restore the span first)")
        relation = (
            existing if isinstance(existing, Relation) else Relation(annotation_set=locked, uuid=change.object_uuid)
        )
        previous = relation_snapshot(relation) if existing is not None else None
        relation.type = before["type"]
        relation.source, relation.target = spans[before["source"]], spans[before["target"]]
        relation.attributes, relation.note = before.get("attributes", {}), before.get("note", "")
        relation.provenance = before.get("provenance", {})
        relation.updated_at = timezone.now()
        relation.save()
        after = relation_snapshot(relation)
    _record(
        locked,
        object_type=change.object_type,
        object_uuid=change.object_uuid,
        action=ChangeAction.UPDATE if previous is not None else ChangeAction.CREATE,
        before=previous,
        after=after,
        actor=actor,
        group=group,
        reverts=change,
    )


@transaction.atomic
def span_restore(*, change: Change, actor: Any, expected_version: int | None) -> Span:
    """Restore a deleted span (and the links deleted with it) from its history row."""
    if change.object_type != ChangeObject.SPAN or change.action != ChangeAction.DELETE:
        raise InvalidInput("only a span deletion can be restored")
    locked = _lock_for_write(change.annotation_set, actor, expected_version)
    if Span.objects.filter(uuid=change.object_uuid).exists():
        raise InvalidInput("this span exists already; there is nothing to restore")
    group = uuid.uuid4()
    _bump_version(locked)
    _apply_snapshot(locked, change, actor, group)
    for relation_change in Change.objects.filter(
        group=change.group, object_type=ChangeObject.RELATION, action=ChangeAction.DELETE
    ).order_by("pk"):
        if not Relation.objects.filter(uuid=relation_change.object_uuid).exists():
            _apply_snapshot(locked, relation_change, actor, group)
    return Span.objects.get(uuid=change.object_uuid)


@transaction.atomic
def change_undo(*, annotation_set: AnnotationSet, actor: Any, expected_version: int | None) -> list[Change]:
    """Revert the actor's most recent action in this set (all changes of its group).

    Returns the reverting changes. Raises NothingToUndo when the actor has no
    action left that has not been undone already.
    """
    locked = _lock_for_write(annotation_set, actor, expected_version)
    actors_changes = Change.objects.filter(annotation_set=locked, actor=actor, reverts__isnull=True).exclude(
        object_type=ChangeObject.SET
    )
    reverted_ids = Change.objects.filter(annotation_set=locked, reverts__isnull=False).values("reverts_id")
    last = actors_changes.exclude(pk__in=reverted_ids).order_by("-pk").first()
    if last is None:
        raise NothingToUndo("There is nothing of yours left to undo in this set.")
    group_changes = list(Change.objects.filter(group=last.group).exclude(pk__in=reverted_ids).order_by("-pk"))
    new_group = uuid.uuid4()
    _bump_version(locked)
    first_new = Change.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # Reverse order: a deleted span comes back before the links that pointed to it.
    for change in group_changes:
        _apply_snapshot(locked, change, actor, new_group)
    return list(Change.objects.filter(group=new_group, pk__gt=first_new).order_by("pk"))


# --- set workflow --------------------------------------------------------------------------


def annotation_set_warnings(annotation_set: AnnotationSet) -> list[SubmitWarning]:
    spans = [
        SpanFacts(str(u), label, start, end)
        for u, label, start, end in annotation_set.spans.values_list("uuid", "label", "start", "end")
    ]
    relations = [
        RelationFacts(type_, str(source), str(target))
        for type_, source, target in annotation_set.relations.values_list("type", "source__uuid", "target__uuid")
    ]
    return submit_warnings(spans, relations)


@dataclass(frozen=True)
class SubmitResult:
    annotation_set: AnnotationSet
    warnings: Sequence[SubmitWarning]


class SubmitNeedsConfirmation(InvalidInput):
    """Submit found warnings; the analyst may confirm with a note to submit anyway."""

    code = "submit_warnings"

    def __init__(self, warnings: Sequence[SubmitWarning]) -> None:
        super().__init__(
            f"{len(warnings)} check(s) failed: "
            + "; ".join(w.message for w in warnings[:5])
            + " Fix them, or submit anyway with a note that says why."
        )
        self.warnings = list(warnings)


@transaction.atomic
def annotation_set_submit(
    *, annotation_set: AnnotationSet, actor: Any, expected_version: int | None, override_note: str = ""
) -> SubmitResult:
    """Mark an analyst's set submitted (read-only from then on).

    If the checks warn, the submit is refused with SubmitNeedsConfirmation unless
    `override_note` explains why; the note is kept in history.
    """
    locked = _lock_for_write(annotation_set, actor, expected_version)
    if locked.is_gold:
        raise InvalidInput("the gold version is finished by a reviewer, not submitted")
    schema = locked.document.project.parsed_schema
    for span in locked.spans.all():
        try:
            schema.clean_attributes(span.label, span.attributes, require=True)
        except SchemaError as error:
            raise InvalidInput(f"span {span.quote[:40]!r}: {error}", field="attributes") from None
    warnings = annotation_set_warnings(locked)
    if warnings and not override_note.strip():
        raise SubmitNeedsConfirmation(warnings)
    before = {"state": locked.state}
    locked.state = SetState.SUBMITTED
    locked.submitted_at = timezone.now()
    locked.version += 1
    locked.save(update_fields=["state", "submitted_at", "version", "updated_at"])
    _record(
        locked,
        object_type=ChangeObject.SET,
        object_uuid=locked.uuid,
        action=ChangeAction.UPDATE,
        before=before,
        after={"state": locked.state, "override_note": _clean_note(override_note), "warnings": len(warnings)},
        actor=actor,
        group=uuid.uuid4(),
    )
    return SubmitResult(annotation_set=locked, warnings=warnings)


@transaction.atomic
def annotation_set_reopen(*, annotation_set: AnnotationSet, actor: Any, reason: str = "") -> AnnotationSet:
    """Reopen a submitted analyst set or a finished gold set (reviewers and managers)."""
    locked = (
        AnnotationSet.objects.select_for_update(of=("self",))
        .select_related("document__project")
        .get(pk=annotation_set.pk)
    )
    access.require_can_review(actor, locked.document.project)
    if locked.state not in (SetState.SUBMITTED, SetState.ADJUDICATED):
        raise InvalidInput("only a submitted or finished set can be reopened")
    before = {"state": locked.state}
    locked.state = SetState.OPEN if locked.is_gold else SetState.IN_PROGRESS
    locked.version += 1
    locked.save(update_fields=["state", "version", "updated_at"])
    _record(
        locked,
        object_type=ChangeObject.SET,
        object_uuid=locked.uuid,
        action=ChangeAction.UPDATE,
        before=before,
        after={"state": locked.state, "reason": _clean_note(reason)},
        actor=actor,
        group=uuid.uuid4(),
    )
    return locked
