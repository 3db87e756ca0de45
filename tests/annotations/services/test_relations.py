"""relation_create / update / delete: same-set endpoints, allowed label pairs, no self- or duplicate links."""

from __future__ import annotations

import pytest

from annotations.exceptions import InvalidInput, NotAllowed, ReadOnlySet, StaleVersion
from annotations.models import Change, ChangeAction, ChangeObject, Relation, Span
from annotations.services import annotating
from tests.annotations.services.conftest import current_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def spans(world, make_span):
    claim = make_span(world.analyst_set, world.analyst, "taxes will fall next year")
    said = make_span(world.analyst_set, world.analyst, "The minister said", label="attribution")
    rebuttal = make_span(
        world.analyst_set, world.analyst, "the budget shows a rise of 4 percent", label="counter-claim"
    )
    return claim, said, rebuttal


def link(world, type_, source, target, **kwargs):
    arguments = {
        "annotation_set": world.analyst_set,
        "type": type_,
        "source": source,
        "target": target,
        "actor": world.analyst,
        "expected_version": current_version(world.analyst_set),
    }
    arguments.update(kwargs)
    return annotating.relation_create(**arguments)


def test_an_attribution_sources_a_claim_and_the_link_is_recorded(world, spans):
    claim, said, _ = spans
    version = current_version(world.analyst_set)

    relation = link(world, "sources", said, claim, note="named source")

    assert relation.source == said and relation.target == claim
    assert current_version(world.analyst_set) == version + 1
    change = Change.objects.get(object_uuid=relation.uuid)
    assert change.object_type == ChangeObject.RELATION
    assert change.action == ChangeAction.CREATE
    assert change.after == {
        "uuid": str(relation.uuid),
        "type": "sources",
        "source": str(said.uuid),
        "target": str(claim.uuid),
        "attributes": {},
        "note": "named source",
        "provenance": {},
    }


def test_a_counter_claim_disputes_a_claim(world, spans):
    claim, _, rebuttal = spans
    assert link(world, "disputes", rebuttal, claim).type == "disputes"


def test_a_link_across_sets_is_refused(world, spans, make_span):
    claim = spans[0]
    theirs = make_span(world.other_set, world.other_analyst, "The minister said", label="attribution")

    with pytest.raises(InvalidInput, match="same annotation set"):
        link(world, "sources", theirs, claim)
    assert not Relation.objects.exists()


@pytest.mark.parametrize(
    ("type_", "source_index", "target_index", "why"),
    [
        (
            "sources",
            0,
            1,
            "a 'sources' link goes from attribution to claim or counter-claim, not from claim to attribution",
        ),
        ("disputes", 1, 0, "a 'disputes' link goes from counter-claim to claim or counter-claim, not from attribution"),
        ("sources", 2, 0, "not from counter-claim to claim"),
    ],
)
def test_a_wrong_label_pair_is_refused_saying_which_pairs_are_allowed(
    world, spans, type_, source_index, target_index, why
):
    with pytest.raises(InvalidInput) as refused:
        link(world, type_, spans[source_index], spans[target_index])
    assert why in refused.value.message
    assert refused.value.field == "type"


def test_an_unknown_relation_type_is_refused(world, spans):
    with pytest.raises(InvalidInput, match="unknown relation type 'supports'; this project's are sources, disputes"):
        link(world, "supports", spans[1], spans[0])


def test_a_span_cannot_be_linked_to_itself(world, spans):
    rebuttal = spans[2]
    with pytest.raises(InvalidInput, match="linked to itself"):
        link(world, "disputes", rebuttal, rebuttal)


def test_the_same_link_twice_is_refused(world, spans):
    claim, said, _ = spans
    link(world, "sources", said, claim)
    with pytest.raises(InvalidInput, match="already linked by sources"):
        link(world, "sources", said, claim)
    assert Relation.objects.count() == 1


def test_an_attribute_a_relation_type_does_not_define_is_refused(world, spans):
    with pytest.raises(InvalidInput, match="not defined for sources"):
        link(world, "sources", spans[1], spans[0], attributes={"hedged": True})


def test_roles_submitted_sets_and_stale_versions_are_refused(world, spans):
    claim, said, _ = spans
    for actor in (world.other_analyst, world.reviewer, world.outsider):
        with pytest.raises(NotAllowed):
            link(world, "sources", said, claim, actor=actor)
    with pytest.raises(StaleVersion) as stale:
        link(world, "sources", said, claim, expected_version=2)
    assert stale.value.current == current_version(world.analyst_set)


def test_a_link_cannot_be_added_to_a_submitted_set(world, spans):
    claim, said, rebuttal = spans
    link(world, "sources", said, claim)
    link(world, "disputes", rebuttal, claim)
    annotating.annotation_set_submit(annotation_set=world.analyst_set, actor=world.analyst, expected_version=None)
    with pytest.raises(ReadOnlySet):
        link(world, "disputes", rebuttal, rebuttal)


def test_updating_a_links_note_records_before_and_after(world, spans):
    claim, said, _ = spans
    relation = link(world, "sources", said, claim)

    annotating.relation_update(
        relation=relation,
        note="on the record",
        actor=world.analyst,
        expected_version=current_version(world.analyst_set),
    )

    change = Change.objects.get(object_uuid=relation.uuid, action=ChangeAction.UPDATE)
    assert (change.before["note"], change.after["note"]) == ("", "on the record")


def test_removing_a_link_keeps_both_spans_and_records_the_link(world, spans):
    claim, said, _ = spans
    relation = link(world, "sources", said, claim)
    version = current_version(world.analyst_set)

    annotating.relation_delete(relation=relation, actor=world.analyst, expected_version=version)

    assert not Relation.objects.exists()
    assert claim.__class__.objects.filter(pk__in=[claim.pk, said.pk]).count() == 2
    assert current_version(world.analyst_set) == version + 1
    change = Change.objects.get(object_uuid=relation.uuid, action=ChangeAction.DELETE)
    assert change.before["type"] == "sources" and change.after is None


def test_removing_a_link_twice_is_refused(world, spans):
    relation = link(world, "sources", spans[1], spans[0])
    annotating.relation_delete(relation=relation, actor=world.analyst, expected_version=None)
    with pytest.raises(InvalidInput, match="no longer exists"):
        annotating.relation_delete(relation=relation, actor=world.analyst, expected_version=None)


def test_a_link_to_a_span_deleted_since_it_was_loaded_is_refused_clearly(world, spans):
    claim, said, _ = spans
    annotating.span_delete(span=claim, actor=world.analyst, expected_version=None)

    with pytest.raises(InvalidInput, match="no longer exists"):
        link(world, "sources", said, claim)
    assert not Relation.objects.exists()


def test_the_label_pair_is_checked_against_the_stored_spans_not_stale_copies(world, spans):
    claim, said, _ = spans
    annotating.span_update(
        span=Span.objects.get(pk=claim.pk), label="attribution", actor=world.analyst, expected_version=None
    )

    with pytest.raises(InvalidInput, match="not from attribution to attribution"):
        link(world, "sources", said, claim)  # `claim` still says label="claim" in memory


def test_updating_a_removed_link_is_refused_clearly(world, spans):
    relation = link(world, "sources", spans[1], spans[0])
    annotating.relation_delete(relation=relation, actor=world.analyst, expected_version=None)
    with pytest.raises(InvalidInput, match="no longer exists"):
        annotating.relation_update(relation=relation, note="late", actor=world.analyst, expected_version=None)
