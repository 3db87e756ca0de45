"""Assignment: k analysts per document, balanced; reassigning never loses work."""

from __future__ import annotations

import pytest

from annotations.exceptions import InvalidInput, NotAllowed
from annotations.models import AnnotationSet
from annotations.services import annotating, assignment, projects
from tests.factories import DocumentFactory, UserFactory


@pytest.fixture
def team(world):
    extra = [UserFactory(username=f"extra{i}") for i in range(2)]
    for user in extra:
        projects.membership_set_role(project=world.project, user=user, role="annotator", actor=world.manager)
    return [world.analyst, world.other_analyst, *extra]


def test_balanced_assignment_gives_each_document_k_analysts_and_spreads_the_load(world, team):
    documents = [DocumentFactory(project=world.project) for _ in range(6)]
    result = assignment.assignment_balance(
        project=world.project, analysts=team, actor=world.manager, per_document=2, documents=documents
    )
    assert len(result.created) == 12 and result.short == []
    for document in documents:
        assert AnnotationSet.objects.filter(document=document, is_gold=False).count() == 2
    loads = [AnnotationSet.objects.filter(annotator=u, is_gold=False).count() for u in team]
    # The fixture's document already gave the first two analysts one set each: 14 sets over 4 analysts.
    assert max(loads) - min(loads) <= 1


def test_balanced_assignment_keeps_existing_sets_and_is_harmless_to_repeat(world, team):
    first = assignment.assignment_balance(project=world.project, analysts=team, actor=world.manager)
    again = assignment.assignment_balance(project=world.project, analysts=team, actor=world.manager)
    assert first.created == [] and again.created == []  # the fixture document already has k=2
    assert AnnotationSet.objects.filter(document=world.document, is_gold=False).count() == 2


def test_too_few_analysts_for_k_is_reported_not_hidden(world):
    document = DocumentFactory(project=world.project)
    result = assignment.assignment_balance(
        project=world.project, analysts=[world.analyst], actor=world.manager, per_document=2, documents=[document]
    )
    assert result.short == [document]


def test_only_managers_assign_and_only_analysts_are_assigned(world):
    with pytest.raises(NotAllowed):
        assignment.assignment_balance(project=world.project, analysts=[world.analyst], actor=world.reviewer)
    with pytest.raises(InvalidInput, match="reviewer is not an analyst"):
        assignment.assignment_add(document=world.document, analyst=world.reviewer, actor=world.manager)
    with pytest.raises(InvalidInput, match="choose at least one analyst"):
        assignment.assignment_balance(project=world.project, analysts=[], actor=world.manager)


def test_removing_an_untouched_assignment_deletes_it(world):
    assert assignment.assignment_remove(annotation_set=world.other_set, actor=world.manager) is None
    assert not AnnotationSet.objects.filter(pk=world.other_set.pk).exists()


def test_removing_an_assignment_with_work_withdraws_it_and_keeps_every_span(world):
    text = world.document.text
    annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=0, end=12, quote=text[:12], actor=world.analyst,
        expected_version=None,
    )  # fmt: skip
    kept = assignment.assignment_remove(annotation_set=world.analyst_set, actor=world.manager)
    assert kept is not None and kept.withdrawn_at is not None
    assert kept.spans.count() == 1
    back = assignment.assignment_add(document=world.document, analyst=world.analyst, actor=world.manager)
    assert back.pk == world.analyst_set.pk and back.withdrawn_at is None and back.spans.count() == 1


def test_moving_a_document_to_another_analyst_keeps_the_first_analysts_work(world, team):
    text = world.document.text
    annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=0, end=12, quote=text[:12], actor=world.analyst,
        expected_version=None,
    )  # fmt: skip
    new_set = assignment.assignment_move(annotation_set=world.analyst_set, to_analyst=team[2], actor=world.manager)
    assert new_set.annotator == team[2]
    world.analyst_set.refresh_from_db()
    assert world.analyst_set.withdrawn_at is not None and world.analyst_set.spans.count() == 1
