"""change_undo: the actor's last action is reverted, then the one before."""

from __future__ import annotations

import pytest

from annotations.exceptions import NotAllowed, NothingToUndo, StaleVersion
from annotations.models import Change, ChangeAction, Relation, Span
from annotations.services import annotating
from tests.annotations.services.conftest import current_version

pytestmark = pytest.mark.django_db


def undo(world, actor=None, annotation_set=None):
    annotation_set = annotation_set or world.analyst_set
    return annotating.change_undo(
        annotation_set=annotation_set, actor=actor or world.analyst, expected_version=current_version(annotation_set)
    )


def test_undo_of_a_create_removes_the_span(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    version = current_version(world.analyst_set)

    reverting = undo(world)

    assert not Span.objects.filter(uuid=span.uuid).exists()
    assert current_version(world.analyst_set) == version + 1
    assert [(c.action, c.object_uuid) for c in reverting] == [(ChangeAction.DELETE, span.uuid)]
    assert reverting[0].reverts.action == ChangeAction.CREATE


def test_undo_of_an_update_puts_the_old_values_back(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall", attributes={"check_worthy": "no"})
    annotating.span_update(
        span=span,
        label="counter-claim",
        attributes={"check_worthy": "yes"},
        note="changed",
        actor=world.analyst,
        expected_version=None,
    )

    undo(world)

    restored = Span.objects.get(uuid=span.uuid)
    assert (restored.label, restored.attributes, restored.note) == ("claim", {"check_worthy": "no"}, "")


def test_undo_of_a_delete_brings_back_the_span_and_its_cascaded_links(world, make_span):
    claim = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    said = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    relation = annotating.relation_create(
        annotation_set=world.analyst_set,
        type="sources",
        source=said,
        target=claim,
        actor=world.analyst,
        expected_version=None,
    )
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)

    undo(world)

    assert Span.objects.filter(uuid=claim.uuid).exists()
    restored_link = Relation.objects.get(uuid=relation.uuid)
    assert restored_link.target.uuid == claim.uuid
    assert restored_link.source == said


def test_a_second_undo_reverts_the_action_before(world, make_span):
    first = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    second = make_span(world.analyst_set, world.analyst, "Critics replied")

    undo(world)
    assert set(Span.objects.values_list("uuid", flat=True)) == {first.uuid}

    undo(world)
    assert not Span.objects.exists()

    with pytest.raises(NothingToUndo, match="nothing of yours left to undo"):
        undo(world)
    assert not Span.objects.filter(uuid=second.uuid).exists()


def test_undo_reverts_a_link_creation_before_the_spans(world, make_span):
    claim = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    said = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    annotating.relation_create(
        annotation_set=world.analyst_set,
        type="sources",
        source=said,
        target=claim,
        actor=world.analyst,
        expected_version=None,
    )

    undo(world)

    assert not Relation.objects.exists()
    assert Span.objects.count() == 2


def test_undo_touches_only_the_actors_own_changes(world, make_span):
    gold_maker = world.reviewer
    from annotations.services import projects

    gold = projects.gold_set_get_or_create(document=world.document)
    make_span(gold, world.manager, "taxes will fall next year")
    mine = make_span(gold, gold_maker, "Critics replied")
    make_span(gold, world.manager, "The minister said", label="attribution")

    undo(world, actor=gold_maker, annotation_set=gold)

    assert not Span.objects.filter(uuid=mine.uuid).exists()
    assert Span.objects.filter(annotation_set=gold).count() == 2


def test_undo_checks_role_and_version(world, make_span):
    make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    with pytest.raises(NotAllowed):
        undo(world, actor=world.other_analyst)
    with pytest.raises(StaleVersion):
        annotating.change_undo(annotation_set=world.analyst_set, actor=world.analyst, expected_version=1)


def test_undo_history_rows_point_at_what_they_revert(world, make_span):
    span = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    created = Change.objects.get(object_uuid=span.uuid, action=ChangeAction.CREATE)

    [reverting] = undo(world)

    assert reverting.reverts == created
    assert reverting.before["uuid"] == str(span.uuid)
    assert reverting.after is None
