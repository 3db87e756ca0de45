"""Adjudication into gold: decision points, pre-acceptance, decisions, re-merge, finish."""

from __future__ import annotations

from typing import Any

import pytest

from annotations.adjudication import (
    SpanVote,
    relation_point_key,
    span_point_key,
    span_points,
    split_relation_point_key,
)
from annotations.exceptions import InvalidInput, NotAllowed, ReadOnlySet, StaleVersion
from annotations.models import AnnotationSet, GoldAcceptance, GoldDecision, SetState, Span
from annotations.services import annotating, projects, reviewing


def mark(annotation_set: AnnotationSet, phrase: str, label: str = "claim", **attributes: Any) -> Span:
    text = annotation_set.document.text
    start = text.index(phrase)
    annotation_set.refresh_from_db()
    return annotating.span_create(
        annotation_set=annotation_set,
        label=label,
        start=start,
        end=start + len(phrase),
        quote=phrase,
        attributes=attributes,
        actor=annotation_set.annotator,
        expected_version=annotation_set.version,
    )


def submit(annotation_set: AnnotationSet) -> None:
    annotation_set.refresh_from_db()
    annotating.annotation_set_submit(
        annotation_set=annotation_set, actor=annotation_set.annotator, expected_version=None, override_note="test"
    )


def gold_spans(world: Any) -> list[tuple[str, str, str]]:
    gold = AnnotationSet.objects.get(document=world.document, is_gold=True)
    return [(s.label, s.quote, s.provenance["kind"]) for s in gold.spans.order_by("start")]


# --- pure clustering ---------------------------------------------------------------------------------


def test_overlapping_same_label_spans_form_one_point_with_versions_ranked_by_votes():
    spans = [
        SpanVote("a", "1", "claim", 0, 10),
        SpanVote("b", "2", "claim", 0, 10),
        SpanVote("c", "3", "claim", 2, 12),
        SpanVote("a", "4", "attribution", 0, 5),
        SpanVote("a", "5", "claim", 20, 30),
    ]
    points = span_points(spans, ["a", "b", "c"])
    claim_points = [p for p in points if p.label == "claim"]
    assert [(p.start, p.end) for p in claim_points] == [(0, 12), (20, 30)]
    first = claim_points[0]
    assert [(v.start, v.end, v.votes) for v in first.versions] == [(0, 10, 2), (2, 12, 1)]
    assert first.consensus("majority") == 0
    assert first.consensus("unanimous") is None
    assert claim_points[1].absent == ("b", "c")


def test_a_point_is_unanimous_only_when_every_analyst_made_the_same_span():
    spans = [SpanVote("a", "1", "claim", 0, 10), SpanVote("b", "2", "claim", 0, 10)]
    (point,) = span_points(spans, ["a", "b"])
    assert point.is_unanimous()
    (lonely,) = span_points(spans[:1], ["a", "b"])
    assert not lonely.is_unanimous()
    assert lonely.consensus("majority") is None  # one of two is not more than half


def test_a_relation_point_key_splits_back_into_its_type_and_ends_even_when_an_end_is_an_added_span():
    source, target = "added:0b7e5a0c-5f7e-4a43-9d3e-2f6b1c1a9e01", span_point_key("counter-claim", 3, 40)
    assert split_relation_point_key(relation_point_key("disputes", source, target)) == ("disputes", source, target)
    with pytest.raises(ValueError, match="not a relation point key"):
        split_relation_point_key("span:claim:0-4")


# --- building gold -------------------------------------------------------------------------------------


def test_gold_build_pre_accepts_unanimous_points_with_provenance_and_leaves_disagreement_open(world):
    mark(world.analyst_set, "taxes will fall next year")
    mark(world.other_set, "taxes will fall next year")
    mark(world.analyst_set, "the budget shows a rise of 4 percent")
    mark(world.other_set, "budget shows a rise of 4 percent")
    submit(world.analyst_set)
    submit(world.other_set)

    result = reviewing.gold_build(document=world.document, actor=world.reviewer)

    assert result.spans_added == 1
    assert result.open_points == 1
    (span,) = result.gold.spans.all()
    assert span.quote == "taxes will fall next year"
    assert span.provenance["kind"] == "unanimous"
    assert span.provenance["by"] == "reviewer"
    assert len(span.provenance["from"]) == 2


def test_a_document_without_disagreement_is_finished_in_one_action(world):
    mark(world.analyst_set, "taxes will fall next year")
    mark(world.other_set, "taxes will fall next year")
    submit(world.analyst_set)
    submit(world.other_set)

    gold = reviewing.gold_finish(document=world.document, actor=world.reviewer)

    assert gold.state == SetState.ADJUDICATED
    assert gold.finished_by == world.reviewer
    assert gold.submitted_at is not None
    assert gold_spans(world) == [("claim", "taxes will fall next year", "unanimous")]


def test_finish_is_refused_while_points_are_open_or_analysts_have_not_submitted(world):
    mark(world.analyst_set, "taxes will fall next year")
    submit(world.analyst_set)
    with pytest.raises(InvalidInput, match="waiting for analyst2"):
        reviewing.gold_finish(document=world.document, actor=world.reviewer)
    submit(world.other_set)
    with pytest.raises(InvalidInput, match="1 decision point"):
        reviewing.gold_finish(document=world.document, actor=world.reviewer)


def test_majority_rule_pre_accepts_two_of_three(world, django_user_model):
    world.project.gold_acceptance = GoldAcceptance.MAJORITY
    world.project.save()
    third = django_user_model.objects.create(username="analyst3")
    projects.membership_set_role(project=world.project, user=third, role="annotator", actor=world.manager)
    third_set = projects.annotation_set_assign(document=world.document, annotator=third, actor=world.manager)
    mark(world.analyst_set, "taxes will fall next year")
    mark(world.other_set, "taxes will fall next year")
    mark(third_set, "taxes will fall")
    for s in (world.analyst_set, world.other_set, third_set):
        submit(s)

    result = reviewing.gold_build(document=world.document, actor=world.reviewer)

    assert result.open_points == 0
    assert gold_spans(world) == [("claim", "taxes will fall next year", "majority")]


# --- decisions -----------------------------------------------------------------------------------------


@pytest.fixture
def disputed(world):
    """Two analysts disagree on the extent of the second claim; both mark the first identically."""
    mark(world.analyst_set, "taxes will fall next year")
    mark(world.other_set, "taxes will fall next year")
    mark(world.analyst_set, "the budget shows a rise of 4 percent")
    mark(world.other_set, "budget shows a rise of 4 percent")
    submit(world.analyst_set)
    submit(world.other_set)
    reviewing.gold_build(document=world.document, actor=world.reviewer)
    state = reviewing.review_state_load(document=world.document)
    (open_point,) = [p for p in state.span_points if state.span_status(p) == "open"]
    return open_point


def test_accepting_a_version_writes_it_to_gold_as_adjudicated_with_the_rationale(world, disputed):
    decision = reviewing.point_accept(
        document=world.document,
        point_key=disputed.key,
        version=2,
        actor=world.reviewer,
        rationale="leave out the article",
        expected_version=None,
    )
    span = Span.objects.get(uuid=decision.result_uuids[0])
    assert span.quote == "budget shows a rise of 4 percent"  # versions tie at one vote: reading order
    assert span.provenance == {
        "kind": "adjudicated",
        "by": "reviewer",
        "by_id": world.reviewer.pk,
        "from": disputed.versions[1].span_uuids,
        "rationale": "leave out the article",
    }
    assert reviewing.review_state_load(document=world.document).open_count == 0


def test_deciding_a_point_again_replaces_its_gold_span_instead_of_adding_one(world, disputed):
    for version in (1, 2):
        reviewing.point_accept(
            document=world.document, point_key=disputed.key, version=version, actor=world.reviewer,
            expected_version=None,
        )  # fmt: skip
    gold = AnnotationSet.objects.get(document=world.document, is_gold=True)
    assert gold.spans.filter(label="claim").count() == 2  # the unanimous one and this one


def test_merge_takes_the_union_of_the_versions(world, disputed):
    decision = reviewing.point_merge(
        document=world.document, point_key=disputed.key, actor=world.reviewer, expected_version=None
    )
    assert Span.objects.get(uuid=decision.result_uuids[0]).quote == "the budget shows a rise of 4 percent"


def test_edit_sets_edges_the_reviewer_chooses(world, disputed):
    text = world.document.text
    start = text.index("budget shows a rise")
    decision = reviewing.point_edit(
        document=world.document,
        point_key=disputed.key,
        actor=world.reviewer,
        start=start,
        end=start + len("budget shows a rise"),
        rationale="the number is a separate claim",
        expected_version=None,
    )
    span = Span.objects.get(uuid=decision.result_uuids[0])
    assert span.quote == "budget shows a rise"
    assert decision.action == "edit"


def test_reject_needs_a_reason_and_writes_nothing_to_gold(world, disputed):
    with pytest.raises(InvalidInput, match="reason for rejecting is required"):
        reviewing.point_reject(
            document=world.document, point_key=disputed.key, reason="  ", actor=world.reviewer, expected_version=None
        )
    decision = reviewing.point_reject(
        document=world.document, point_key=disputed.key, reason="not a claim", actor=world.reviewer,
        expected_version=None,
    )  # fmt: skip
    assert decision.result_uuids == []
    assert gold_spans(world) == [("claim", "taxes will fall next year", "unanimous")]


def test_a_reviewer_can_add_a_span_nobody_made(world, disputed):
    decision = reviewing.gold_span_add(
        document=world.document, label="attribution", start=0, end=17, actor=world.reviewer,
        rationale="missed by both", expected_version=None,
    )  # fmt: skip
    span = Span.objects.get(uuid=decision.result_uuids[0])
    assert (span.quote, span.provenance["kind"], span.provenance["from"]) == ("The minister said", "adjudicated", [])


def test_relations_are_pre_accepted_between_gold_spans_when_both_analysts_drew_them(world):
    for annotation_set in (world.analyst_set, world.other_set):
        source = mark(annotation_set, "The minister said", label="attribution")
        target = mark(annotation_set, "taxes will fall next year")
        annotation_set.refresh_from_db()
        annotating.relation_create(
            annotation_set=annotation_set, type="sources", source=source, target=target,
            actor=annotation_set.annotator, expected_version=None,
        )  # fmt: skip
        submit(annotation_set)
    result = reviewing.gold_build(document=world.document, actor=world.reviewer)
    assert (result.spans_added, result.relations_added, result.open_points) == (2, 1, 0)
    (relation,) = result.gold.relations.select_related("source", "target")
    assert (relation.source.quote, relation.target.quote) == ("The minister said", "taxes will fall next year")
    assert relation.provenance["kind"] == "unanimous"


def test_a_relation_only_one_analyst_drew_is_accepted_by_the_reviewer(world):
    source = mark(world.analyst_set, "The minister said", label="attribution")
    target = mark(world.analyst_set, "taxes will fall next year")
    world.analyst_set.refresh_from_db()
    annotating.relation_create(
        annotation_set=world.analyst_set, type="sources", source=source, target=target, actor=world.analyst,
        expected_version=None,
    )  # fmt: skip
    mark(world.other_set, "The minister said", label="attribution")
    mark(world.other_set, "taxes will fall next year")
    submit(world.analyst_set)
    submit(world.other_set)
    reviewing.gold_build(document=world.document, actor=world.reviewer)
    state = reviewing.review_state_load(document=world.document)
    (point,) = state.relation_points
    assert state.relation_status(point) == "open"
    reviewing.relation_point_accept(
        document=world.document, point_key=point.key, actor=world.reviewer, rationale="the cue is clear",
        expected_version=None,
    )  # fmt: skip
    gold = reviewing.gold_finish(document=world.document, actor=world.reviewer)
    (relation,) = gold.relations.all()
    assert relation.provenance["kind"] == "adjudicated"
    assert relation.provenance["rationale"] == "the cue is clear"


def test_re_merge_after_a_resubmission_keeps_every_reviewer_decision(world, disputed):
    reviewing.point_reject(
        document=world.document, point_key=disputed.key, reason="not a claim", actor=world.reviewer,
        expected_version=None,
    )  # fmt: skip
    decisions_before = list(GoldDecision.objects.values_list("point_key", "action", "rationale"))
    annotating.annotation_set_reopen(annotation_set=world.other_set, actor=world.reviewer, reason="add one")
    mark(world.other_set, "Critics replied", label="attribution")
    submit(world.other_set)

    result = reviewing.gold_build(document=world.document, actor=world.reviewer)

    assert set(decisions_before) <= set(GoldDecision.objects.values_list("point_key", "action", "rationale"))
    assert result.open_points == 1  # only the new attribution
    assert gold_spans(world) == [("claim", "taxes will fall next year", "unanimous")]


def test_only_reviewers_decide_and_a_finished_gold_set_is_read_only(world, disputed):
    with pytest.raises(NotAllowed):
        reviewing.point_reject(
            document=world.document, point_key=disputed.key, reason="x", actor=world.analyst, expected_version=None
        )
    reviewing.point_accept(
        document=world.document, point_key=disputed.key, version=1, actor=world.reviewer, expected_version=None
    )
    reviewing.gold_finish(document=world.document, actor=world.reviewer)
    with pytest.raises(ReadOnlySet):
        reviewing.point_accept(
            document=world.document, point_key=disputed.key, version=2, actor=world.reviewer, expected_version=None
        )


def test_a_stale_gold_version_is_refused(world, disputed):
    with pytest.raises(StaleVersion):
        reviewing.point_accept(
            document=world.document, point_key=disputed.key, version=1, actor=world.reviewer, expected_version=1
        )


def test_unknown_points_and_versions_are_named_in_the_error(world, disputed):
    with pytest.raises(InvalidInput, match="no longer exists"):
        reviewing.point_accept(
            document=world.document, point_key="span:claim:0-1", version=1, actor=world.reviewer,
            expected_version=None,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="version 9 does not exist"):
        reviewing.point_accept(
            document=world.document, point_key=disputed.key, version=9, actor=world.reviewer, expected_version=None
        )


def test_hidden_names_show_analysts_as_letters(world):
    world.project.hide_annotator_names = True
    world.project.save()
    state = reviewing.review_state_load(document=world.document)
    assert sorted(state.names.values()) == ["Analyst A", "Analyst B"]


# --- links the reviewer adds -----------------------------------------------------------------------------


def _gold_span(world: Any, quote: str) -> Span:
    return Span.objects.get(annotation_set__document=world.document, annotation_set__is_gold=True, quote=quote)


@pytest.fixture
def attribution_in_gold(world, disputed):
    """Gold holds the unanimous claim, plus an attribution the reviewer added; nobody linked anything."""
    reviewing.gold_span_add(
        document=world.document, label="attribution", start=0, end=17, actor=world.reviewer, expected_version=None
    )
    return _gold_span(world, "The minister said")


def test_a_reviewer_adds_a_link_nobody_drew_with_adjudicated_provenance(world, attribution_in_gold):
    claim = _gold_span(world, "taxes will fall next year")
    decision = reviewing.gold_relation_add(
        document=world.document, type="sources", source_uuid=str(attribution_in_gold.uuid),
        target_uuid=str(claim.uuid), actor=world.reviewer, rationale="the minister is the source",
        expected_version=None,
    )  # fmt: skip
    gold = AnnotationSet.objects.get(document=world.document, is_gold=True)
    (relation,) = gold.relations.select_related("source", "target")
    assert (relation.type, relation.source.quote, relation.target.quote) == (
        "sources", "The minister said", "taxes will fall next year",
    )  # fmt: skip
    assert relation.provenance == {
        "kind": "adjudicated",
        "by": "reviewer",
        "by_id": world.reviewer.pk,
        "from": [],
        "rationale": "the minister is the source",
    }
    assert (decision.action, decision.result_uuids) == ("add", [str(relation.uuid)])
    state = reviewing.review_state_load(document=world.document)
    assert state.added_links == [decision]
    assert decision not in state.orphan_decisions


def test_an_added_link_follows_the_label_pair_rule_and_says_why_when_refused(world, attribution_in_gold):
    claim = _gold_span(world, "taxes will fall next year")
    with pytest.raises(InvalidInput, match="'sources' link goes from attribution to claim or counter-claim"):
        reviewing.gold_relation_add(
            document=world.document, type="sources", source_uuid=str(claim.uuid),
            target_uuid=str(attribution_in_gold.uuid), actor=world.reviewer, expected_version=None,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="'disputes' link goes from counter-claim"):
        reviewing.gold_relation_add(
            document=world.document, type="disputes", source_uuid=str(attribution_in_gold.uuid),
            target_uuid=str(claim.uuid), actor=world.reviewer, expected_version=None,
        )  # fmt: skip
    assert not AnnotationSet.objects.get(document=world.document, is_gold=True).relations.exists()
    assert not reviewing.review_state_load(document=world.document).added_links


def test_an_added_link_joins_gold_spans_only(world, attribution_in_gold):
    analyst_span = world.analyst_set.spans.get(quote="taxes will fall next year")
    with pytest.raises(InvalidInput, match="must be spans of the gold set"):
        reviewing.gold_relation_add(
            document=world.document, type="sources", source_uuid=str(attribution_in_gold.uuid),
            target_uuid=str(analyst_span.uuid), actor=world.reviewer, expected_version=None,
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        reviewing.gold_relation_add(
            document=world.document, type="sources", source_uuid=str(attribution_in_gold.uuid),
            target_uuid=str(_gold_span(world, "taxes will fall next year").uuid), actor=world.analyst,
            expected_version=None,
        )  # fmt: skip


def test_a_link_an_analyst_drew_is_accepted_from_its_point_not_added(world):
    source = mark(world.analyst_set, "The minister said", label="attribution")
    target = mark(world.analyst_set, "taxes will fall next year")
    world.analyst_set.refresh_from_db()
    annotating.relation_create(
        annotation_set=world.analyst_set, type="sources", source=source, target=target, actor=world.analyst,
        expected_version=None,
    )  # fmt: skip
    mark(world.other_set, "The minister said", label="attribution")
    mark(world.other_set, "taxes will fall next year")
    submit(world.analyst_set)
    submit(world.other_set)
    reviewing.gold_build(document=world.document, actor=world.reviewer)
    with pytest.raises(InvalidInput, match="an analyst drew this link"):
        reviewing.gold_relation_add(
            document=world.document, type="sources", source_uuid=str(_gold_span(world, "The minister said").uuid),
            target_uuid=str(_gold_span(world, "taxes will fall next year").uuid), actor=world.reviewer,
            expected_version=None,
        )  # fmt: skip


def test_an_added_link_is_drawn_again_when_the_reviewer_re_decides_one_of_its_spans(world, attribution_in_gold):
    state = reviewing.review_state_load(document=world.document)
    (disputed,) = [p for p in state.span_points if state.span_status(p) == "open"]
    first = reviewing.point_accept(
        document=world.document, point_key=disputed.key, version=1, actor=world.reviewer, expected_version=None
    )
    reviewing.gold_relation_add(
        document=world.document, type="sources", source_uuid=str(attribution_in_gold.uuid),
        target_uuid=first.result_uuids[0], actor=world.reviewer, expected_version=None,
    )  # fmt: skip
    reviewing.point_accept(
        document=world.document, point_key=disputed.key, version=2, actor=world.reviewer, expected_version=None
    )
    gold = AnnotationSet.objects.get(document=world.document, is_gold=True)
    (relation,) = gold.relations.select_related("source", "target")
    assert (relation.source.quote, relation.target.quote) == ("The minister said", "budget shows a rise of 4 percent")
    assert relation.provenance["kind"] == "adjudicated"


def test_a_reviewer_can_take_back_a_link_they_added(world, attribution_in_gold):
    decision = reviewing.gold_relation_add(
        document=world.document, type="sources", source_uuid=str(attribution_in_gold.uuid),
        target_uuid=str(_gold_span(world, "taxes will fall next year").uuid), actor=world.reviewer,
        expected_version=None,
    )  # fmt: skip
    reviewing.gold_relation_remove(
        document=world.document, point_key=decision.point_key, actor=world.reviewer, expected_version=None
    )
    assert not AnnotationSet.objects.get(document=world.document, is_gold=True).relations.exists()
    assert not GoldDecision.objects.filter(point_key=decision.point_key).exists()
