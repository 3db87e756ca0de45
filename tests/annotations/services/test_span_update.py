"""span_update: move, relabel, attributes and note, each checked and recorded."""

from __future__ import annotations

import pytest

from annotations.exceptions import InvalidInput, NotAllowed, QuoteMismatch, ReadOnlySet, StaleVersion
from annotations.models import Change, ChangeAction, Span
from annotations.services import annotating
from tests.annotations.services.conftest import current_version, offsets_of

pytestmark = pytest.mark.django_db


def test_moving_a_span_checks_the_new_quote_and_records_before_and_after(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    start, end = offsets_of(world.analyst_set, "taxes will fall next year")
    version = current_version(world.analyst_set)

    moved = annotating.span_update(
        span=span,
        start=start,
        end=end,
        quote="taxes will fall next year",
        actor=world.analyst,
        expected_version=version,
    )

    assert (moved.start, moved.end) == (start, end)
    assert current_version(world.analyst_set) == version + 1
    change = Change.objects.filter(object_uuid=span.uuid, action=ChangeAction.UPDATE).get()
    assert change.before["quote"] == "taxes will fall"
    assert change.after["quote"] == "taxes will fall next year"


def test_moving_needs_start_end_and_quote_together(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    with pytest.raises(InvalidInput, match="start, end and quote together"):
        annotating.span_update(span=span, start=0, actor=world.analyst, expected_version=None)


@pytest.mark.parametrize(("start", "end"), [(-2, 3), (7, 7), (9, 2), (0, 100_000), ("0", 3)])
def test_moving_to_bad_offsets_is_refused_and_the_span_stays(world, make_span, start, end):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    with pytest.raises(InvalidInput):
        annotating.span_update(
            span=span,
            start=start,
            end=end,
            quote="x",
            actor=world.analyst,
            expected_version=current_version(world.analyst_set),
        )
    assert Span.objects.get(pk=span.pk).quote == "taxes will fall"


def test_moving_with_a_wrong_quote_shows_the_text_at_those_offsets(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    with pytest.raises(QuoteMismatch, match="'The minister'"):
        annotating.span_update(
            span=span,
            start=0,
            end=12,
            quote="The ministry",
            actor=world.analyst,
            expected_version=current_version(world.analyst_set),
        )


def test_relabelling_keeps_only_attributes_the_new_label_defines(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall", attributes={"check_worthy": "yes"})

    relabelled = annotating.span_update(
        span=span, label="attribution", actor=world.analyst, expected_version=current_version(world.analyst_set)
    )

    assert relabelled.label == "attribution"
    assert relabelled.attributes == {}


def test_relabelling_to_an_unknown_label_is_refused(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    with pytest.raises(InvalidInput) as refused:
        annotating.span_update(span=span, label="rumour", actor=world.analyst, expected_version=None)
    assert refused.value.field == "label"


def test_a_relabel_that_would_break_a_link_is_refused_saying_why(world, make_span):
    claim = make_span(world.analyst_set, world.analyst, "taxes will fall")
    said = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    annotating.relation_create(
        annotation_set=world.analyst_set,
        type="sources",
        source=said,
        target=claim,
        actor=world.analyst,
        expected_version=current_version(world.analyst_set),
    )

    with pytest.raises(InvalidInput) as refused:
        annotating.span_update(span=claim, label="attribution", actor=world.analyst, expected_version=None)

    assert "would break a sources link" in refused.value.message
    assert "remove the link first" in refused.value.message


def test_setting_attributes_and_note(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")

    updated = annotating.span_update(
        span=span,
        attributes={"claim_type": "prediction", "hedged": False},
        note="a forecast",
        actor=world.analyst,
        expected_version=current_version(world.analyst_set),
    )

    stored = Span.objects.get(pk=updated.pk)
    assert stored.attributes == {"claim_type": "prediction", "hedged": False}
    assert stored.note == "a forecast"


def test_a_wrong_attribute_value_or_name_is_refused(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    with pytest.raises(InvalidInput, match="must be one of"):
        annotating.span_update(
            span=span, attributes={"claim_type": "gossip"}, actor=world.analyst, expected_version=None
        )
    with pytest.raises(InvalidInput, match="'colour' is not defined for claim"):
        annotating.span_update(span=span, attributes={"colour": "red"}, actor=world.analyst, expected_version=None)


def test_an_update_that_changes_nothing_bumps_nothing(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall", note="same")
    version = current_version(world.analyst_set)

    annotating.span_update(span=span, note="same", actor=world.analyst, expected_version=version)

    assert current_version(world.analyst_set) == version
    assert Change.objects.filter(object_uuid=span.uuid).count() == 1


def test_a_stale_update_is_refused_with_the_current_version(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    current = current_version(world.analyst_set)
    with pytest.raises(StaleVersion) as refused:
        annotating.span_update(span=span, note="late", actor=world.analyst, expected_version=current - 1)
    assert refused.value.current == current


def test_another_analyst_a_reviewer_and_an_outsider_cannot_update(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    for actor in (world.other_analyst, world.reviewer, world.outsider):
        with pytest.raises(NotAllowed):
            annotating.span_update(span=span, note="mine now", actor=actor, expected_version=None)
    assert Span.objects.get(pk=span.pk).note == ""


def test_a_span_of_a_submitted_set_cannot_be_updated(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall")
    annotating.annotation_set_submit(annotation_set=world.analyst_set, actor=world.analyst, expected_version=None)
    with pytest.raises(ReadOnlySet):
        annotating.span_update(span=span, note="too late", actor=world.analyst, expected_version=None)
