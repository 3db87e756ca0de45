"""span_delete and span_restore: a deleted span and its links come back from history."""

from __future__ import annotations

import pytest

from annotations.exceptions import InvalidInput, NotAllowed, ReadOnlySet, StaleVersion
from annotations.models import Change, ChangeAction, ChangeObject, Relation, Span
from annotations.services import annotating
from tests.annotations.services.conftest import current_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(world, make_span):
    """A claim sourced by an attribution and disputed by a counter-claim, in the analyst's set."""
    claim = make_span(
        world.analyst_set,
        world.analyst,
        "taxes will fall next year",
        attributes={"check_worthy": "yes"},
        note="the key claim",
    )
    said = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    rebuttal = make_span(
        world.analyst_set, world.analyst, "the budget shows a rise of 4 percent", label="counter-claim"
    )
    sources = annotating.relation_create(
        annotation_set=world.analyst_set,
        type="sources",
        source=said,
        target=claim,
        actor=world.analyst,
        expected_version=None,
    )
    disputes = annotating.relation_create(
        annotation_set=world.analyst_set,
        type="disputes",
        source=rebuttal,
        target=claim,
        actor=world.analyst,
        expected_version=None,
    )
    return claim, said, rebuttal, sources, disputes


def test_deleting_a_span_removes_its_links_and_records_each_in_one_group(world, linked):
    claim, _, _, sources, disputes = linked
    version = current_version(world.analyst_set)

    annotating.span_delete(span=claim, actor=world.analyst, expected_version=version)

    assert not Span.objects.filter(uuid=claim.uuid).exists()
    assert not Relation.objects.filter(uuid__in=[sources.uuid, disputes.uuid]).exists()
    assert current_version(world.analyst_set) == version + 1
    deletions = Change.objects.filter(action=ChangeAction.DELETE)
    assert {c.object_uuid for c in deletions} == {claim.uuid, sources.uuid, disputes.uuid}
    assert len({c.group for c in deletions}) == 1
    span_change = deletions.get(object_type=ChangeObject.SPAN)
    assert span_change.before["quote"] == "taxes will fall next year"
    assert span_change.after is None


def test_a_deleted_span_is_restored_from_history_with_the_same_uuid_and_its_links(world, linked):
    claim, said, rebuttal, sources, disputes = linked
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)
    deletion = Change.objects.get(object_uuid=claim.uuid, action=ChangeAction.DELETE)
    version = current_version(world.analyst_set)

    restored = annotating.span_restore(change=deletion, actor=world.analyst, expected_version=version)

    assert restored.uuid == claim.uuid
    assert (restored.start, restored.end, restored.quote) == (claim.start, claim.end, claim.quote)
    assert restored.attributes == {"check_worthy": "yes"}
    assert restored.note == "the key claim"
    assert Relation.objects.get(uuid=sources.uuid).target == restored
    assert Relation.objects.get(uuid=sources.uuid).source == said
    assert Relation.objects.get(uuid=disputes.uuid).source == rebuttal
    assert current_version(world.analyst_set) == version + 1
    assert Change.objects.filter(reverts=deletion, action=ChangeAction.CREATE).count() == 1


def test_restoring_a_span_that_exists_again_is_refused(world, linked):
    claim = linked[0]
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)
    deletion = Change.objects.get(object_uuid=claim.uuid, action=ChangeAction.DELETE)
    annotating.span_restore(change=deletion, actor=world.analyst, expected_version=None)

    with pytest.raises(InvalidInput, match="exists already"):
        annotating.span_restore(change=deletion, actor=world.analyst, expected_version=None)


def test_only_a_span_deletion_can_be_restored(world, linked):
    creation = Change.objects.get(object_uuid=linked[0].uuid, action=ChangeAction.CREATE)
    with pytest.raises(InvalidInput, match="only a span deletion"):
        annotating.span_restore(change=creation, actor=world.analyst, expected_version=None)


def test_restore_checks_role_and_version(world, linked):
    claim = linked[0]
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)
    deletion = Change.objects.get(object_uuid=claim.uuid, action=ChangeAction.DELETE)

    with pytest.raises(NotAllowed):
        annotating.span_restore(change=deletion, actor=world.other_analyst, expected_version=None)
    with pytest.raises(StaleVersion) as refused:
        annotating.span_restore(change=deletion, actor=world.analyst, expected_version=1)
    assert refused.value.current == current_version(world.analyst_set)


def test_a_stale_delete_is_refused_and_the_span_stays(world, linked):
    claim = linked[0]
    with pytest.raises(StaleVersion):
        annotating.span_delete(span=claim, actor=world.analyst, expected_version=1)
    assert Span.objects.filter(pk=claim.pk).exists()


def test_other_roles_cannot_delete_an_analysts_span(world, linked):
    claim = linked[0]
    for actor in (world.other_analyst, world.reviewer, world.manager, world.outsider):
        with pytest.raises(NotAllowed):
            annotating.span_delete(span=claim, actor=actor, expected_version=None)
    assert Span.objects.filter(pk=claim.pk).exists()


def test_a_submitted_sets_span_cannot_be_deleted(world, linked):
    annotating.annotation_set_submit(annotation_set=world.analyst_set, actor=world.analyst, expected_version=None)
    with pytest.raises(ReadOnlySet):
        annotating.span_delete(span=linked[0], actor=world.analyst, expected_version=None)


def test_a_span_already_deleted_cannot_be_deleted_again(world, linked):
    claim = linked[0]
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)
    with pytest.raises(InvalidInput, match="no longer exists"):
        annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)
