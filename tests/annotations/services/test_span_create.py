"""span_create: every rule that refuses bad input, and what a good write records."""

from __future__ import annotations

from typing import Any

import pytest

from annotations.exceptions import InvalidInput, NotAllowed, QuoteMismatch, ReadOnlySet, StaleVersion
from annotations.models import AnnotationSet, Change, ChangeAction, ChangeObject, SetState, Span
from annotations.services import annotating
from tests.annotations.services.conftest import current_version, offsets_of

pytestmark = pytest.mark.django_db

QUOTE = "taxes will fall next year"


def create(world: Any, **overrides: Any) -> Span:
    start, end = offsets_of(world.analyst_set, QUOTE)
    arguments: dict[str, Any] = {
        "annotation_set": world.analyst_set,
        "label": "claim",
        "start": start,
        "end": end,
        "quote": QUOTE,
        "actor": world.analyst,
        "expected_version": current_version(world.analyst_set),
    }
    arguments.update(overrides)
    return annotating.span_create(**arguments)


def test_a_valid_span_is_stored_with_its_quote_and_offsets(world):
    span = create(world, attributes={"check_worthy": "yes"}, note="why")

    stored = Span.objects.get(uuid=span.uuid)
    assert world.document.text[stored.start : stored.end] == QUOTE
    assert stored.label == "claim"
    assert stored.attributes == {"check_worthy": "yes"}
    assert stored.note == "why"


def test_the_first_write_bumps_the_version_by_one_and_moves_the_set_to_in_progress(world):
    assert world.analyst_set.state == SetState.ASSIGNED
    before = current_version(world.analyst_set)

    create(world)

    world.analyst_set.refresh_from_db()
    assert world.analyst_set.version == before + 1
    assert world.analyst_set.state == SetState.IN_PROGRESS


def test_each_create_adds_a_history_row_with_the_span_after_and_nothing_before(world):
    span = create(world)

    change = Change.objects.get(object_uuid=span.uuid)
    assert change.action == ChangeAction.CREATE
    assert change.object_type == ChangeObject.SPAN
    assert change.before is None
    assert change.after["quote"] == QUOTE
    assert change.after["start"] == span.start
    assert change.actor == world.analyst
    assert change.set_version == current_version(world.analyst_set)


def test_a_span_after_an_emoji_uses_code_point_offsets(world):
    # DocumentFactory text has no emoji; use the service with a document that has one.
    from annotations.services import documents, projects

    document = documents.document_create(project=world.project, text="Fire 🔥 then a claim here.", actor=world.manager)
    annotation_set = projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)
    start = document.text.index("a claim")

    span = annotating.span_create(
        annotation_set=annotation_set,
        label="claim",
        start=start,
        end=start + 7,
        quote="a claim",
        actor=world.analyst,
        expected_version=annotation_set.version,
    )

    assert span.start == 12 and span.quote == "a claim"


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        (-1, 5, "start", "negative"),
        (10, 10, "end", "must be after start"),
        (10, 4, "end", "must be after start"),
        (0, 10_000, "end", "past the end of the text"),
        (0, 2**31, "end", "past the end of the text"),  # beyond substr()'s 32-bit positions: refused, not a 500
        (2**40, 2**40 + 5, "end", "past the end of the text"),
        ("3", 8, "start", "whole numbers"),
        (3.0, 8, "start", "whole numbers"),
        (True, 8, "start", "whole numbers"),
        (3, None, "start", "whole numbers"),
    ],
)
@pytest.mark.parametrize("text_in_hand", [True, False], ids=["document loaded", "bare set: checked in the database"])
def test_bad_offsets_are_refused_naming_the_field_and_the_reason(world, start, end, field, words, text_in_hand):
    annotation_set = world.analyst_set if text_in_hand else AnnotationSet.objects.get(pk=world.analyst_set.pk)
    with pytest.raises(InvalidInput) as refused:
        create(world, annotation_set=annotation_set, start=start, end=end, quote="anything")

    assert refused.value.field == field
    assert words in refused.value.message
    assert not Span.objects.exists()


@pytest.mark.parametrize("text_in_hand", [True, False], ids=["document loaded", "bare set: checked in the database"])
def test_a_quote_that_does_not_match_the_text_shows_the_actual_text(world, text_in_hand):
    start, end = offsets_of(world.analyst_set, QUOTE)
    annotation_set = world.analyst_set if text_in_hand else AnnotationSet.objects.get(pk=world.analyst_set.pk)
    assert (annotating._text_in_hand(annotation_set) is not None) == text_in_hand

    with pytest.raises(QuoteMismatch) as refused:
        create(world, annotation_set=annotation_set, start=start, end=end, quote="taxes will rise next year")

    assert refused.value.field == "quote"
    assert refused.value.code == "quote_mismatch"
    assert repr(QUOTE) in refused.value.message


def test_a_quote_that_is_not_text_is_refused(world):
    start, end = offsets_of(world.analyst_set, QUOTE)
    with pytest.raises(InvalidInput, match="quote must be the text"):
        create(world, start=start, end=end, quote=None)


def test_an_unknown_label_is_refused_listing_the_project_labels(world):
    with pytest.raises(InvalidInput) as refused:
        create(world, label="opinion")

    assert refused.value.field == "label"
    assert "unknown label 'opinion'" in refused.value.message
    assert "claim, attribution, counter-claim" in refused.value.message


def test_a_wrong_attribute_value_is_refused_listing_the_allowed_values(world):
    with pytest.raises(InvalidInput) as refused:
        create(world, attributes={"check_worthy": "maybe"})

    assert refused.value.field == "attributes"
    assert "'check_worthy' must be one of yes, no, unsure" in refused.value.message


def test_an_attribute_the_label_does_not_define_is_refused(world):
    with pytest.raises(InvalidInput) as refused:
        create(world, attributes={"source_type": "anonymous"})  # an attribution attribute, not a claim one

    assert refused.value.field == "attributes"
    assert "'source_type' is not defined for claim" in refused.value.message


def test_a_boolean_attribute_must_be_true_or_false(world):
    with pytest.raises(InvalidInput, match="'hedged' must be true or false"):
        create(world, attributes={"hedged": "yes"})


def test_an_overlong_note_is_refused(world):
    with pytest.raises(InvalidInput) as refused:
        create(world, note="x" * (annotating.MAX_NOTE_LENGTH + 1))
    assert refused.value.field == "note"


def test_a_stale_version_is_refused_and_carries_the_current_version(world):
    create(world)
    current = current_version(world.analyst_set)

    with pytest.raises(StaleVersion) as refused:
        create(world, expected_version=current - 1)

    assert refused.value.current == current
    assert refused.value.expected == current - 1
    assert refused.value.code == "stale_version"
    assert f"it is now {current}" in refused.value.message
    assert Span.objects.count() == 1


def test_an_analyst_cannot_write_another_analysts_set(world):
    with pytest.raises(NotAllowed, match="only their own"):
        create(world, annotation_set=world.other_set, expected_version=current_version(world.other_set))


def test_a_reviewer_cannot_write_an_analysts_set(world):
    with pytest.raises(NotAllowed):
        create(world, actor=world.reviewer)


def test_an_outsider_cannot_write_anything(world):
    with pytest.raises(NotAllowed, match="not a member"):
        create(world, actor=world.outsider)


def test_a_submitted_set_is_read_only(world):
    annotating.annotation_set_submit(
        annotation_set=world.analyst_set, actor=world.analyst, expected_version=current_version(world.analyst_set)
    )

    with pytest.raises(ReadOnlySet, match="submitted and read-only"):
        create(world)


def test_a_refused_write_leaves_version_and_history_alone(world):
    before = current_version(world.analyst_set)
    with pytest.raises(InvalidInput):
        create(world, label="opinion")
    assert current_version(world.analyst_set) == before
    assert not Change.objects.exists()


def test_a_span_id_given_twice_is_refused(world):
    span = create(world)
    with pytest.raises(InvalidInput, match="already exists"):
        create(world, span_uuid=span.uuid)
