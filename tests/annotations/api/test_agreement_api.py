"""The agreement reads: figures from annotations/agreement.py over submitted analyst sets only,
for reviewers and managers; analysts get 403, outsiders 404, anonymous 401; undefined is null."""

from __future__ import annotations

import math
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.agreement import (
    AnnotatedDocument,
    Link,
    Unit,
    cohen_kappa,
    document_agreement,
    krippendorff_alpha_nominal,
    project_agreement,
)
from annotations.models import Role
from annotations.services import annotating, assignment, projects
from tests.factories import DocumentFactory, UserFactory

pytestmark = pytest.mark.django_db

TEXT = "Officials said the plan works. Critics say it fails badly."


def _at(phrase: str) -> tuple[int, int]:
    start = TEXT.index(phrase)
    return start, start + len(phrase)


def _span(annotation_set: Any, actor: Any, label: str, phrase: str) -> Any:
    start, end = _at(phrase)
    return annotating.span_create(
        annotation_set=annotation_set, label=label, start=start, end=end, quote=phrase, actor=actor,
        expected_version=None,
    )  # fmt: skip


def _submit(annotation_set: Any, actor: Any) -> None:
    # The override note lets the set go in even when the checks warn (e.g. a claim nobody sources).
    annotating.annotation_set_submit(
        annotation_set=annotation_set, actor=actor, expected_version=None, override_note="test case"
    )


@pytest.fixture
def case(world: Any) -> Any:
    """A document both analysts annotated and submitted: same attribution, the claim marked
    wider by one, a counter-claim only the first saw; each sources their claim."""
    document = DocumentFactory(project=world.project, text=TEXT, title="Agreement case")
    first = projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)
    second = projects.annotation_set_assign(document=document, annotator=world.other_analyst, actor=world.manager)
    said = _span(first, world.analyst, "attribution", "Officials said")
    claim = _span(first, world.analyst, "claim", "the plan works")
    _span(first, world.analyst, "counter-claim", "it fails badly")
    annotating.relation_create(
        annotation_set=first, type="sources", source=said, target=claim, actor=world.analyst, expected_version=None
    )
    said_b = _span(second, world.other_analyst, "attribution", "Officials said")
    claim_b = _span(second, world.other_analyst, "claim", "plan works")
    annotating.relation_create(
        annotation_set=second, type="sources", source=said_b, target=claim_b, actor=world.other_analyst,
        expected_version=None,
    )  # fmt: skip
    _submit(first, world.analyst)
    _submit(second, world.other_analyst)
    return document


def _expected_units(world: Any) -> tuple[list[Unit], list[Link]]:
    """The same case written out by hand, as agreement.py takes it."""
    a, b = str(world.analyst.pk), str(world.other_analyst.pk)
    units = [
        Unit(a, "attribution", *_at("Officials said"), key="a1"),
        Unit(a, "claim", *_at("the plan works"), key="a2"),
        Unit(a, "counter-claim", *_at("it fails badly"), key="a3"),
        Unit(b, "attribution", *_at("Officials said"), key="b1"),
        Unit(b, "claim", *_at("plan works"), key="b2"),
    ]
    links = [Link(a, "sources", "a1", "a2"), Link(b, "sources", "b1", "b2")]
    return units, links


def _approx(value: float) -> Any:
    return None if math.isnan(value) else pytest.approx(value)


def test_the_document_agreement_matches_agreement_py_called_directly(world, case, api_for):
    units, links = _expected_units(world)
    labels = world.project.parsed_schema.label_keys
    expected = document_agreement(units, links, len(TEXT), labels=labels)

    body = api_for(world.reviewer).get(f"/api/v1/documents/{case.pk}/agreement/").json()

    assert body["document"] == case.pk and body["documents"] == 1
    assert {row["label"]: row["alpha"] for row in body["labels"]} == {
        label: _approx(result.alpha) for label, result in expected.unitizing.items()
    }
    assert {row["label"]: row["spans"] for row in body["labels"]} == {"attribution": 2, "claim": 2, "counter-claim": 1}
    assert body["overall"]["alpha"] == _approx(expected.unitizing_overall.alpha)
    [pair] = body["pairs"]
    [want] = expected.pairs
    usernames = {str(u.pk): u.username for u in (world.analyst, world.other_analyst)}
    assert (pair["analyst_a"], pair["analyst_b"]) == (usernames[want.annotator_a], usernames[want.annotator_b])
    assert pair["spans_exact"] == {
        "f1": pytest.approx(want.spans_exact.f1), "precision": pytest.approx(want.spans_exact.precision),
        "recall": pytest.approx(want.spans_exact.recall), "matched": 1, "a_count": 3, "b_count": 2,
    }  # fmt: skip
    assert pair["spans_overlap"]["matched"] == want.spans_overlap.matched_pairs == 2
    assert pair["spans_overlap"]["f1"] == pytest.approx(want.spans_overlap.f1)
    # The claims overlap but are not equal: the link matches only when overlap is enough.
    assert pair["relations_exact"]["f1"] == _approx(want.relations_exact.f1) == 0
    assert pair["relations_overlap"]["f1"] == pytest.approx(want.relations_overlap.f1) == 1
    assert pair["relations_overlap"]["a_count"] == 1
    assert sorted(body["analysts"], key=lambda a: a["spans_total"]) == [
        {"name": world.other_analyst.username, "spans": {"attribution": 1, "claim": 1}, "spans_total": 2,
         "relations": 1},
        {"name": "analyst", "spans": {"attribution": 1, "claim": 1, "counter-claim": 1}, "spans_total": 3,
         "relations": 1},
    ]  # fmt: skip


def test_the_project_agreement_counts_only_documents_with_two_submitted_sets(world, case, api_for):
    # world.document's two sets are not submitted, so only the case document counts.
    units, links = _expected_units(world)
    expected = project_agreement(
        [AnnotatedDocument(units, links, len(TEXT))], labels=world.project.parsed_schema.label_keys
    )

    body = api_for(world.manager).get(f"/api/v1/projects/{world.project.pk}/agreement/").json()

    assert body["project"] == world.project.pk and body["document"] is None
    assert body["documents"] == 1
    assert body["overall"]["alpha"] == _approx(expected.unitizing_overall.alpha)
    assert body["pairs"][0]["spans_overlap"]["f1"] == pytest.approx(expected.pairs[0].spans_overlap.f1)


def test_a_withdrawn_set_is_left_out(world, case, api_for):
    third = UserFactory(username="third")
    projects.membership_set_role(project=world.project, user=third, role=Role.ANNOTATOR, actor=world.manager)
    late = projects.annotation_set_assign(document=case, annotator=third, actor=world.manager)
    _span(late, third, "claim", "Critics say")
    _submit(late, third)
    client = api_for(world.reviewer)
    assert len(client.get(f"/api/v1/documents/{case.pk}/agreement/").json()["pairs"]) == 3

    assignment.assignment_remove(annotation_set=late, actor=world.manager)

    body = client.get(f"/api/v1/documents/{case.pk}/agreement/").json()
    both = {"analyst", world.other_analyst.username}
    assert [{p["analyst_a"], p["analyst_b"]} for p in body["pairs"]] == [both]
    assert {a["name"] for a in body["analysts"]} == both


def test_hidden_names_show_as_analyst_letters(world, case, api_for):
    world.project.hide_annotator_names = True
    world.project.save(update_fields=["hide_annotator_names"])

    body = api_for(world.reviewer).get(f"/api/v1/documents/{case.pk}/agreement/").json()

    names = {pair["analyst_a"] for pair in body["pairs"]} | {pair["analyst_b"] for pair in body["pairs"]}
    assert names == {"Analyst A", "Analyst B"}
    assert "analyst" not in str(body["analysts"]).replace("Analyst", "")


def test_an_undefined_coefficient_is_null_not_nan(world, api_for):
    # Both analysts submit nothing: every alpha and F1 is undefined.
    document = DocumentFactory(project=world.project, text=TEXT)
    for user in (world.analyst, world.other_analyst):
        _submit(projects.annotation_set_assign(document=document, annotator=user, actor=world.manager), user)

    response = api_for(world.reviewer).get(f"/api/v1/documents/{document.pk}/agreement/")

    assert response.status_code == 200
    assert b"NaN" not in response.content
    body = response.json()
    assert body["documents"] == 1
    assert all(row["alpha"] is None for row in body["labels"]) and body["overall"]["alpha"] is None
    assert body["pairs"][0]["spans_exact"]["f1"] is None
    assert body["pairs"][0]["relations_overlap"]["f1"] is None


def test_a_document_without_two_submitted_sets_reports_nothing(world, api_for):
    body = api_for(world.manager).get(f"/api/v1/documents/{world.document.pk}/agreement/").json()
    assert body["documents"] == 0 and body["pairs"] == [] and body["overall"]["alpha"] is None


def test_reviewers_and_managers_read_agreement_analysts_do_not(world, case, api_for):
    urls = [f"/api/v1/projects/{world.project.pk}/agreement/", f"/api/v1/documents/{case.pk}/agreement/"]
    for url in urls:
        for user in (world.reviewer, world.manager):
            assert api_for(user).get(url).status_code == 200, (user.username, url)
        for user in (world.analyst, world.other_analyst):
            response = api_for(user).get(url)
            assert response.status_code == 403, url
            body = response.json()
            assert set(body) == {"code", "message", "field"} and body["code"] == "forbidden"
            # Blind mode: the refusal says nothing about the other analyst's work.
            assert body["message"] == "Only reviewers and managers may do this."


def test_outsiders_get_404_and_anonymous_requests_401(world, case, api_for):
    urls = [f"/api/v1/projects/{world.project.pk}/agreement/", f"/api/v1/documents/{case.pk}/agreement/"]
    for url in urls:
        response = api_for(world.outsider).get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        anonymous = APIClient().get(url)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert api_for(world.reviewer).get("/api/v1/projects/999999/agreement/").status_code == 404
    assert api_for(world.reviewer).get("/api/v1/documents/999999/agreement/").status_code == 404


def test_attribute_agreement_comes_with_its_counts_for_the_project_and_each_pair(world, api_for):
    document = DocumentFactory(project=world.project, text=TEXT, title="Attributes case")
    sets = {
        analyst: projects.annotation_set_assign(document=document, annotator=analyst, actor=world.manager)
        for analyst in (world.analyst, world.other_analyst)
    }
    marked = {
        world.analyst: [("the plan works", "yes"), ("it fails badly", "no")],
        world.other_analyst: [("plan works", "yes"), ("it fails badly", "yes")],
    }
    for analyst, spans in marked.items():
        for phrase, value in spans:
            start, end = _at(phrase)
            annotating.span_create(
                annotation_set=sets[analyst], label="claim", start=start, end=end, quote=phrase,
                attributes={"check_worthy": value}, actor=analyst, expected_version=None,
            )  # fmt: skip
        _submit(sets[analyst], analyst)

    body = api_for(world.reviewer).get(f"/api/v1/documents/{document.pk}/agreement/").json()

    by_name = {row["attribute"]: row for row in body["attributes"]}
    # Only categorical attributes are compared: free text (source_entity, implicit_source) is left out.
    assert sorted(by_name) == ["check_worthy", "claim_type", "hedged", "quote", "source_type"]
    # Two matched claims: (yes, yes) and (no, yes); hand-checked against the module's published-example tests.
    assert by_name["check_worthy"] == {
        "attribute": "check_worthy",
        "alpha": _approx(krippendorff_alpha_nominal([["yes", "no"], ["yes", "yes"]])),
        "kappa": _approx(cohen_kappa(["yes", "no"], ["yes", "yes"])),
        "items": 2,
        "analysts": 2,
    }
    assert by_name["claim_type"] == {"attribute": "claim_type", "alpha": None, "kappa": None, "items": 0,
                                     "analysts": 2}  # fmt: skip
    [pair] = body["pairs"]
    pair_kappa = {row["attribute"]: row for row in pair["attributes"]}["check_worthy"]
    assert (pair_kappa["kappa"], pair_kappa["items"]) == (_approx(cohen_kappa(["yes", "no"], ["yes", "yes"])), 2)
