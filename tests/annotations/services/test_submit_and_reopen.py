"""Submitting a set (checks, override note), reopening it, and who writes the gold set."""

from __future__ import annotations

import pytest

from annotations.exceptions import InvalidInput, NotAllowed, ReadOnlySet, StaleVersion
from annotations.models import Change, ChangeObject, SetState
from annotations.services import annotating, projects
from annotations.services.annotating import SubmitNeedsConfirmation
from tests.annotations.services.conftest import current_version

pytestmark = pytest.mark.django_db


def submit(world, **kwargs):
    arguments = {
        "annotation_set": world.analyst_set,
        "actor": world.analyst,
        "expected_version": current_version(world.analyst_set),
    }
    arguments.update(kwargs)
    return annotating.annotation_set_submit(**arguments)


def test_a_clean_set_is_submitted_and_becomes_read_only(world, make_span):
    make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    version = current_version(world.analyst_set)

    result = submit(world)

    assert result.warnings == []
    world.analyst_set.refresh_from_db()
    assert world.analyst_set.state == SetState.SUBMITTED
    assert world.analyst_set.submitted_at is not None
    assert world.analyst_set.version == version + 1
    with pytest.raises(ReadOnlySet):
        make_span(world.analyst_set, world.analyst, "Critics replied")


def test_submit_with_warnings_is_refused_listing_them_until_a_note_says_why(world, make_span):
    make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    make_span(world.analyst_set, world.analyst, "the budget shows a rise", label="counter-claim")

    with pytest.raises(SubmitNeedsConfirmation) as refused:
        submit(world)

    codes = sorted(w.code for w in refused.value.warnings)
    assert codes == ["attribution_unlinked", "counter_claim_unlinked"]
    assert "This attribution sources no claim." in refused.value.message
    assert "submit anyway with a note" in refused.value.message
    assert current_version(world.analyst_set) == 3  # nothing changed by the refusal

    result = submit(world, override_note="The sourced claim is in the headline, outside the text.")

    assert len(result.warnings) == 2
    assert result.annotation_set.state == SetState.SUBMITTED
    history = Change.objects.get(object_type=ChangeObject.SET, object_uuid=world.analyst_set.uuid)
    assert history.after["override_note"].startswith("The sourced claim")
    assert history.after["warnings"] == 2
    assert history.before == {"state": SetState.IN_PROGRESS}


def test_a_blank_override_note_does_not_count(world, make_span):
    make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    with pytest.raises(SubmitNeedsConfirmation):
        submit(world, override_note="   ")


def test_a_missing_required_attribute_blocks_submit_naming_the_span(world, make_span):
    schema = dict(world.project.schema)
    schema["attributes"] = [{**a, "required": True} if a["key"] == "check_worthy" else a for a in schema["attributes"]]
    projects.schema_update(project=world.project, schema=schema, actor=world.manager)
    make_span(world.analyst_set, world.analyst, "taxes will fall next year")

    with pytest.raises(InvalidInput) as refused:
        submit(world)

    assert "'taxes will fall next year'" in refused.value.message
    assert "required attribute(s) missing on claim: check_worthy" in refused.value.message


def test_submit_checks_role_and_version(world, make_span):
    make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    for actor in (world.other_analyst, world.reviewer, world.outsider):
        with pytest.raises(NotAllowed):
            submit(world, actor=actor)
    with pytest.raises(StaleVersion) as stale:
        submit(world, expected_version=1)
    assert stale.value.current == current_version(world.analyst_set)


def test_a_submitted_set_cannot_be_submitted_again(world):
    submit(world)
    with pytest.raises(ReadOnlySet):
        submit(world)


def test_a_reviewer_reopens_a_submitted_set_and_the_analyst_can_write_again(world, make_span):
    submit(world)
    version = current_version(world.analyst_set)

    reopened = annotating.annotation_set_reopen(
        annotation_set=world.analyst_set, actor=world.reviewer, reason="missed claim in paragraph 2"
    )

    assert reopened.state == SetState.IN_PROGRESS
    assert reopened.version == version + 1
    history = Change.objects.filter(object_type=ChangeObject.SET).order_by("-pk").first()
    assert history.after == {"state": SetState.IN_PROGRESS, "reason": "missed claim in paragraph 2"}
    assert make_span(world.analyst_set, world.analyst, "Critics replied").quote == "Critics replied"


def test_a_manager_may_reopen_too(world):
    submit(world)
    assert annotating.annotation_set_reopen(annotation_set=world.analyst_set, actor=world.manager).state == (
        SetState.IN_PROGRESS
    )


def test_analysts_and_outsiders_cannot_reopen(world):
    submit(world)
    for actor in (world.analyst, world.other_analyst, world.outsider):
        with pytest.raises(NotAllowed, match="Only reviewers and managers"):
            annotating.annotation_set_reopen(annotation_set=world.analyst_set, actor=actor)


def test_a_set_that_is_not_submitted_cannot_be_reopened(world):
    with pytest.raises(InvalidInput, match="only a submitted or finished set"):
        annotating.annotation_set_reopen(annotation_set=world.analyst_set, actor=world.reviewer)


def test_the_gold_set_is_written_by_reviewers_and_managers_not_analysts(world, make_span):
    gold = projects.gold_set_get_or_create(document=world.document)

    by_reviewer = make_span(gold, world.reviewer, "taxes will fall next year")
    by_manager = make_span(gold, world.manager, "The minister said", label="attribution")

    assert {by_reviewer.annotation_set_id, by_manager.annotation_set_id} == {gold.pk}
    for actor in (world.analyst, world.other_analyst):
        with pytest.raises(NotAllowed, match="Only reviewers and managers edit the gold version"):
            make_span(gold, actor, "Critics replied")
    with pytest.raises(NotAllowed, match="not a member"):
        make_span(gold, world.outsider, "Critics replied")


def test_the_gold_set_is_not_submitted(world):
    gold = projects.gold_set_get_or_create(document=world.document)
    with pytest.raises(InvalidInput, match="finished by a reviewer, not submitted"):
        annotating.annotation_set_submit(annotation_set=gold, actor=world.reviewer, expected_version=None)


def test_a_finished_gold_set_is_read_only_until_reopened(world, make_span):
    gold = projects.gold_set_get_or_create(document=world.document)
    # Finishing gold is a later issue's service; the state is what matters here.
    gold.state = SetState.ADJUDICATED
    gold.save(update_fields=["state"])

    with pytest.raises(ReadOnlySet, match="finished"):
        make_span(gold, world.reviewer, "taxes will fall next year")

    reopened = annotating.annotation_set_reopen(annotation_set=gold, actor=world.reviewer)
    assert reopened.state == SetState.OPEN
    assert make_span(gold, world.reviewer, "taxes will fall next year").annotation_set_id == gold.pk
