"""Review pages through the test client: roles, actions, errors, escaping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import AnnotationSet, GoldDecision, SetState
from annotations.services import reviewing
from tests.annotations.test_reviewing import mark, submit
from tests.factories import DocumentFactory


@pytest.fixture
def ready(world):
    mark(world.analyst_set, "taxes will fall next year")
    mark(world.other_set, "taxes will fall next year")
    mark(world.analyst_set, "the budget shows a rise of 4 percent")
    mark(world.other_set, "budget shows a rise of 4 percent")
    submit(world.analyst_set)
    submit(world.other_set)
    return world


def decide(client, document, **data):
    return client.post(reverse("annotations:review_action", args=[document.pk]), data)


def test_the_review_queue_lists_submitted_documents_with_open_points(ready, client_for):
    DocumentFactory(project=ready.project, title="Not assigned yet")
    response = client_for(ready.reviewer).get(reverse("annotations:review_queue", args=[ready.project.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert ready.document.title in body
    assert "Not assigned yet" not in body
    assert "1 of 2" in body  # the unanimous point is settled by the merge; the disputed one is open


def test_the_queue_filters_by_label_and_refuses_unknown_labels(ready, client_for):
    client = client_for(ready.reviewer)
    url = reverse("annotations:review_queue", args=[ready.project.pk])
    assert ready.document.title not in client.get(url, {"label": "attribution"}).content.decode()
    assert ready.document.title in client.get(url, {"label": "claim"}).content.decode()
    bad = client.get(url, {"label": "__class__"})
    assert bad.status_code == 400 and "unknown label" in bad.content.decode()
    assert client.get(url, {"analyst": "abc"}).status_code == 400


def test_analysts_and_outsiders_cannot_review(ready, client_for):
    url = reverse("annotations:review_document", args=[ready.document.pk])
    assert client_for(ready.outsider).get(url).status_code == 404
    assert client_for(ready.analyst).get(url).status_code == 403
    response = decide(client_for(ready.analyst), ready.document, action="build")
    assert response.status_code == 403
    assert not AnnotationSet.objects.filter(document=ready.document, is_gold=True, spans__isnull=False).exists()


def test_a_reviewer_merges_accepts_and_finishes_through_the_page(ready, client_for):
    client = client_for(ready.reviewer)
    page = client.get(reverse("annotations:review_document", args=[ready.document.pk]))
    assert page.status_code == 200 and "review.js" in page.content.decode()
    assert decide(client, ready.document, action="build").status_code == 302
    state = reviewing.review_state_load(document=ready.document)
    (open_point,) = [p for p in state.span_points if state.span_status(p) == "open"]
    response = decide(
        client, ready.document, action="accept", point=open_point.key, version="2", rationale="no article",
        gold_version=str(state.gold.version),
    )  # fmt: skip
    assert response.status_code == 302
    assert decide(client, ready.document, action="finish").status_code == 302
    gold = AnnotationSet.objects.get(document=ready.document, is_gold=True)
    assert gold.state == SetState.ADJUDICATED and gold.finished_by == ready.reviewer


def test_bad_input_gets_a_clear_message_not_a_500(ready, client_for):
    client = client_for(ready.reviewer)
    decide(client, ready.document, action="build")
    state = reviewing.review_state_load(document=ready.document)
    (open_point,) = [p for p in state.span_points if state.span_status(p) == "open"]
    cases = [
        ({"action": "accept", "point": open_point.key, "version": "x"}, 400, "version must be a whole number"),
        ({"action": "reject", "point": open_point.key, "reason": ""}, 400, "reason for rejecting is required"),
        ({"action": "edit", "point": open_point.key, "start": "5", "end": "2"}, 400, "not inside the text"),
        ({"action": "add", "label": "nonsense", "start": "0", "end": "3"}, 400, "unknown label"),
        ({"action": "explode"}, 400, "unknown action"),
        ({"action": "accept", "point": open_point.key, "version": "1", "gold_version": "1"}, 409, "changed since"),
    ]
    for data, status, message in cases:
        response = decide(client, ready.document, **data)
        assert response.status_code == status, data
        assert message in response.content.decode(), data


def test_htmx_actions_answer_with_the_page_fragment_and_a_notice(ready, client_for):
    client = client_for(ready.reviewer)
    response = client.post(
        reverse("annotations:review_action", args=[ready.document.pk]), {"action": "build"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'id="review"' in response.content.decode() and "Merged: 1 span(s)" in response.content.decode()


def test_stored_text_is_escaped_on_review_pages(world, client_for):
    world.document.title = "<script>alert(1)</script>"
    world.document.save()
    mark(world.analyst_set, "taxes will fall next year")
    submit(world.analyst_set)
    submit(world.other_set)
    client = client_for(world.manager)
    for url in (
        reverse("annotations:review_document", args=[world.document.pk]),
        reverse("annotations:review_queue", args=[world.project.pk]),
        reverse("annotations:assignment_matrix", args=[world.project.pk]),
        reverse("annotations:dashboard", args=[world.project.pk]),
    ):
        body = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body, url


def test_hidden_names_keep_usernames_off_the_review_page(ready, client_for):
    ready.project.hide_annotator_names = True
    ready.project.save()
    body = client_for(ready.reviewer).get(reverse("annotations:review_document", args=[ready.document.pk]))
    text = body.content.decode()
    assert "Analyst A" in text and "analyst2" not in text


def test_the_manager_assigns_through_the_matrix(world, client_for):
    document = DocumentFactory(project=world.project, title="Fresh article")
    client = client_for(world.manager)
    url = reverse("annotations:assignment_matrix", args=[world.project.pk])
    response = client.post(
        url, {"action": "balance", "analysts": [world.analyst.pk, world.other_analyst.pk], "per_document": "2"}
    )
    assert response.status_code == 302
    assert AnnotationSet.objects.filter(document=document, is_gold=False).count() == 2
    page = client.get(url).content.decode()
    assert "Fresh article" in page and "Assigned" in page
    response = client.post(url, {"action": "remove", "document": document.pk, "analyst": world.analyst.pk})
    assert response.status_code == 302
    assert AnnotationSet.objects.filter(document=document, is_gold=False).count() == 1
    assert client_for(world.reviewer).get(url).status_code == 403
    bad = client.post(url, {"action": "balance", "per_document": "0", "analysts": [world.analyst.pk]})
    assert bad.status_code == 400 and "between 1 and 20" in bad.content.decode()


def test_the_analyst_sees_where_gold_differs_with_the_reviewers_note(ready, client_for):
    reviewing.gold_build(document=ready.document, actor=ready.reviewer)
    state = reviewing.review_state_load(document=ready.document)
    (open_point,) = [p for p in state.span_points if state.span_status(p) == "open"]
    reviewing.point_reject(
        document=ready.document, point_key=open_point.key, reason="a forecast, not a claim", actor=ready.reviewer,
        expected_version=None,
    )  # fmt: skip
    body = client_for(ready.analyst).get(reverse("annotations:feedback", args=[ready.project.pk])).content.decode()
    assert "not in gold" in body and "a forecast, not a claim" in body
    assert "1 of your spans are in gold exactly" in body
    assert GoldDecision.objects.filter(document=ready.document).count() == 2


def test_the_dashboard_draws_charts_with_tables_beside_them(ready, client_for):
    body = client_for(ready.manager).get(reverse("annotations:dashboard", args=[ready.project.pk])).content.decode()
    assert body.count("<svg") == 6
    assert "analyst × analyst2" in body
    assert "Agreement per label" in body


def test_a_reviewer_links_gold_spans_through_the_page_and_a_wrong_pair_is_refused_with_the_rule(ready, client_for):
    client = client_for(ready.reviewer)
    decide(client, ready.document, action="build")
    decide(client, ready.document, action="add", label="attribution", start="0", end="17", rationale="")
    gold = AnnotationSet.objects.get(document=ready.document, is_gold=True)
    attribution = gold.spans.get(label="attribution")
    claim = gold.spans.get(label="claim")
    page = client.get(reverse("annotations:review_document", args=[ready.document.pk])).content.decode()
    assert 'id="link-form"' in page and f'<option value="{attribution.uuid}">attribution [0, 17)' in page

    refused = decide(client, ready.document, action="relation_add", type="sources", source=str(claim.uuid),
                     target=str(attribution.uuid))  # fmt: skip
    assert refused.status_code == 400
    assert "goes from attribution to claim or counter-claim, not from claim to attribution" in refused.content.decode()
    assert not gold.relations.exists()

    added = decide(client, ready.document, action="relation_add", type="sources", source=str(attribution.uuid),
                   target=str(claim.uuid), rationale="<b>named</b> source")  # fmt: skip
    assert added.status_code == 302
    (relation,) = gold.relations.all()
    assert relation.provenance["kind"] == "adjudicated" and relation.provenance["by"] == "reviewer"
    page = client.get(reverse("annotations:review_document", args=[ready.document.pk])).content.decode()
    assert "adjudicated by reviewer" in page
    assert "&lt;b&gt;named&lt;/b&gt; source" in page and "<b>named</b>" not in page

    (decision,) = reviewing.review_state_load(document=ready.document).added_links
    assert decide(client, ready.document, action="relation_remove", point=decision.point_key).status_code == 302
    assert not gold.relations.exists()
    assert (
        client_for(ready.analyst)
        .post(
            reverse("annotations:review_action", args=[ready.document.pk]),
            {"action": "relation_add", "type": "sources", "source": str(attribution.uuid), "target": str(claim.uuid)},
        )
        .status_code
        == 403
    )


def test_the_dashboard_shows_attribute_agreement_with_counts_beside_each_coefficient(world, client_for):
    for annotation_set, values in ((world.analyst_set, ("yes", "no")), (world.other_set, ("yes", "yes"))):
        mark(annotation_set, "taxes will fall next year", check_worthy=values[0])
        mark(annotation_set, "the budget shows a rise of 4 percent", check_worthy=values[1])
        submit(annotation_set)
    body = client_for(world.reviewer).get(reverse("annotations:dashboard", args=[world.project.pk])).content.decode()
    table = body.split('id="attribute-agreement"')[1].split("</table>")[0]
    # alpha over (yes, yes), (no, yes): 1 - (n - 1) * D_o / D_e with n = 4 values = 0.0 to three places.
    assert '<tr><td>check_worthy</td><td class="num">0.000</td><td class="num">2</td><td class="num">2</td></tr>' in (
        table
    )
    pairs = body.split('id="pair-attribute-agreement"')[1].split("</table>")[0]
    assert 'analyst × analyst2</td><td>check_worthy</td><td class="num">0.000</td>' in pairs


def _another_ready_document(world, title: str):
    from annotations.services import projects

    document = DocumentFactory(project=world.project, title=title)
    for analyst, phrase in ((world.analyst, "taxes will fall next year"), (world.other_analyst, "taxes will fall")):
        annotation_set = projects.annotation_set_assign(document=document, annotator=analyst, actor=world.manager)
        mark(annotation_set, phrase)
        submit(annotation_set)
    return document


def test_review_states_load_gives_each_document_the_state_it_has_alone(ready):
    second = _another_ready_document(ready, "Second ready article")
    reviewing.gold_build(document=ready.document, actor=ready.reviewer)

    together = reviewing.review_states_load(documents=[ready.document, second])

    for document in (ready.document, second):
        alone, batched = reviewing.review_state_load(document=document), together[document.pk]
        assert batched.span_points == alone.span_points and batched.relation_points == alone.relation_points
        assert [s.pk for s in batched.submitted] == [s.pk for s in alone.submitted]
        assert [s.pk for s in batched.pending] == [s.pk for s in alone.pending]
        assert (batched.gold and batched.gold.pk) == (alone.gold and alone.gold.pk)
        assert [s.pk for s in batched.gold_spans] == [s.pk for s in alone.gold_spans]
        assert batched.decisions.keys() == alone.decisions.keys()
        assert (batched.names, batched.open_count, batched.rule) == (alone.names, alone.open_count, alone.rule)
    assert together[ready.document.pk].gold_spans, "the build put gold spans on the first document only"
    assert not together[second.pk].gold_spans


def test_the_review_queue_asks_the_same_number_of_queries_for_three_documents_as_for_one(ready, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(ready.reviewer)
    url = reverse("annotations:review_queue", args=[ready.project.pk])
    client.get(url)  # sessions and caches warm
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    _another_ready_document(ready, "Second ready article")
    _another_ready_document(ready, "Third ready article")
    with CaptureQueriesContext(connection) as three:
        body = client.get(url).content.decode()
    assert "Second ready article" in body and "Third ready article" in body
    assert len(three) == len(one), [q["sql"][:120] for q in three.captured_queries]
