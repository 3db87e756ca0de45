"""Adjudication in real headless Chromium (Debian's package, driven by Playwright).

Two analysts annotate the demo bridge article differently (through the service
layer, as the annotation page would); a reviewer adjudicates it in the browser
with the keyboard and the forms; the gold set, the API and the analyst's
feedback page then show exactly the expected result.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from annotations.demo import BRIDGE
from annotations.models import AnnotationSet, Document, SetState, Span
from annotations.services import annotating, assignment, exporting
from annotations.text import normalise_text, text_sha256
from tests.browser import ARTIFACTS, BROWSER_MARKS

pytestmark = BROWSER_MARKS

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page_for(logged_in_page: Any) -> Any:
    return logged_in_page


def _span(annotation_set: AnnotationSet, label: str, phrase: str) -> Span:
    text = annotation_set.document.text
    start = text.index(phrase)
    return annotating.span_create(
        annotation_set=annotation_set, label=label, start=start, end=start + len(phrase), quote=phrase,
        actor=annotation_set.annotator, expected_version=None,
    )  # fmt: skip


def _link(annotation_set: AnnotationSet, source: Span, target: Span) -> None:
    annotating.relation_create(
        annotation_set=annotation_set, type="sources", source=source, target=target,
        actor=annotation_set.annotator, expected_version=None,
    )  # fmt: skip


def _submit(annotation_set: AnnotationSet) -> None:
    annotating.annotation_set_submit(
        annotation_set=annotation_set, actor=annotation_set.annotator, expected_version=None, override_note="done"
    )


def _point(page: Any, phrase: str) -> Any:
    return page.locator("#points > li.point", has_text=phrase).first


def test_a_reviewer_adjudicates_two_analysts_into_gold_and_the_analyst_sees_the_difference(world, page_for):
    text = normalise_text(BRIDGE.text)
    document = Document.objects.create(
        project=world.project, title=BRIDGE.title, text=text, text_sha256=text_sha256(text)
    )
    ana = assignment.assignment_add(document=document, analyst=world.analyst, actor=world.manager)
    ben = assignment.assignment_add(document=document, analyst=world.other_analyst, actor=world.manager)
    long_cost = "The city's new bridge over the Ishim will cost at least 40 million tenge"
    mayor = "Mayor Serik Abenov told the council"
    payback = "The bridge will pay for itself within ten years"
    # Ana: the whole cost claim, the mayor's cue, the payback claim and a counter-claim.
    ana_cost = _span(ana, "claim", long_cost)
    _link(ana, _span(ana, "attribution", mayor), ana_cost)
    _span(ana, "claim", payback)
    _span(ana, "counter-claim", "the real price is far higher")
    # Ben: a shorter cost claim, the same cue and link, the same payback claim, and one claim Ana did not see.
    ben_cost = _span(ben, "claim", "will cost at least 40 million tenge")
    _link(ben, _span(ben, "attribution", mayor), ben_cost)
    _span(ben, "claim", payback)
    _span(ben, "claim", "the old bridge has been closed since 2024")
    _submit(ana)
    _submit(ben)

    ARTIFACTS.mkdir(exist_ok=True)
    page = page_for(world.reviewer, reverse("annotations:review_queue", args=[world.project.pk]))
    page.get_by_role("link", name=BRIDGE.title).click()
    page.wait_for_selector("#review")

    # Merge: the unanimous cue and payback claim are pre-accepted.
    page.click("#build-gold")
    page.wait_for_selector("text=Merged: 2 span(s)")
    assert "pre-accepted" in _point(page, "pay for itself").inner_text().lower()

    # Accept Ana's cost claim with the keyboard: focus the point, pick version 1, press a.
    cost_point = _point(page, "cost at least")
    cost_point.focus()
    page.keyboard.press("1")
    page.keyboard.press("a")
    page.wait_for_selector("text=Version accepted.")
    assert "Accepted a version" in _point(page, "cost at least").inner_text()

    # Reject Ben's extra claim with a reason: r focuses the reason field.
    _point(page, "closed since 2024").focus()
    page.keyboard.press("r")
    page.keyboard.type("A background fact, not a claim anyone makes")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Rejected.")

    # Fix an edge of the counter-claim: drop the leading article.
    counter = _point(page, "the real price")
    counter.locator("summary").click()
    start = text.index("the real price is far higher")
    counter.locator('.edit-form input[name="start"]').fill(str(start + len("the ")))
    counter.locator('.edit-form input[name="rationale"]').fill("leave out the article")
    counter.locator(".edit-form button").click()
    page.wait_for_selector("text=Edges saved.")

    # Add the attribution nobody marked.
    cue = "According to the opposition party Ak Zhol"
    add_form = page.locator("#add-form")
    add_form.locator('select[name="label"]').select_option("attribution")
    add_form.locator('input[name="start"]').fill(str(text.index(cue)))
    add_form.locator('input[name="end"]').fill(str(text.index(cue) + len(cue)))
    add_form.locator('input[name="rationale"]').fill("missed by both")
    add_form.locator("button").click()
    page.wait_for_selector("text=Span added to gold.")

    # Accept the mayor's sources link (its claim is now in gold).
    relation = page.locator(".relation-points li.point").first
    relation.locator('input[name="rationale"]').fill("both analysts linked the cue")
    relation.locator(".accept-button").click()
    page.wait_for_selector("text=Link accepted.")

    # Link the added cue to the counter-claim it sources: a link nobody drew. A wrong label pair first,
    # which is refused with the rule.
    def gold_uuid(quote: str) -> str:
        return str(Span.objects.get(annotation_set__document=document, annotation_set__is_gold=True, quote=quote).uuid)

    link_form = page.locator("#link-form")
    link_form.locator('select[name="source"]').select_option(gold_uuid("real price is far higher"))
    link_form.locator('select[name="type"]').select_option("sources")
    link_form.locator('select[name="target"]').select_option(gold_uuid(cue))
    link_form.locator("button").click()
    page.wait_for_selector("text=goes from attribution to claim or counter-claim")
    link_form = page.locator("#link-form")
    link_form.locator('select[name="source"]').select_option(gold_uuid(cue))
    link_form.locator('select[name="type"]').select_option("sources")
    link_form.locator('select[name="target"]').select_option(gold_uuid("real price is far higher"))
    link_form.locator('input[name="rationale"]').fill("the party is the source")
    link_form.locator("button").click()
    page.wait_for_selector("text=Link added to gold.")
    assert "adjudicated by reviewer" in page.locator("#added-links").inner_text()
    page.screenshot(path=str(ARTIFACTS / "review-adjudicated.png"), full_page=True)

    page.click("#finish-gold")
    page.wait_for_selector("text=Gold finished.")
    page.screenshot(path=str(ARTIFACTS / "review-finished.png"), full_page=True)
    assert page.js_errors == []

    gold = AnnotationSet.objects.get(document=document, is_gold=True)
    assert gold.state == SetState.ADJUDICATED and gold.finished_by == world.reviewer
    spans = {(s.label, s.quote): s.provenance for s in gold.spans.all()}
    assert set(spans) == {
        ("claim", long_cost),
        ("attribution", mayor),
        ("claim", payback),
        ("counter-claim", "real price is far higher"),
        ("attribution", cue),
    }
    assert spans["claim", long_cost]["kind"] == "adjudicated"
    assert spans["claim", long_cost]["from"] == [str(ana_cost.uuid)]
    assert spans["claim", payback]["kind"] == "unanimous"
    assert spans["attribution", mayor]["kind"] == "unanimous"
    assert spans["counter-claim", "real price is far higher"]["rationale"] == "leave out the article"
    assert spans["attribution", cue] | {"from": []} == spans["attribution", cue]
    assert all(p["by"] == "reviewer" for p in spans.values())
    relations = gold.relations.select_related("source", "target")
    links = {(r.type, r.source.quote, r.target.quote): r.provenance for r in relations}
    assert set(links) == {("sources", mayor, long_cost), ("sources", cue, "real price is far higher")}
    assert links["sources", mayor, long_cost]["kind"] == "adjudicated"
    assert links["sources", mayor, long_cost]["rationale"] == "both analysts linked the cue"
    added_link = links["sources", cue, "real price is far higher"]
    assert (added_link["kind"], added_link["by"], added_link["from"]) == ("adjudicated", "reviewer", [])

    # The API returns exactly these spans and the link.
    api = Client()
    api.force_login(world.reviewer)
    span_rows = api.get(f"/api/v1/sets/{gold.pk}/spans/").json()
    span_rows = span_rows.get("results", span_rows) if isinstance(span_rows, dict) else span_rows
    assert {(r["label"], r["quote"]) for r in span_rows} == set(spans)
    relation_rows = api.get(f"/api/v1/sets/{gold.pk}/relations/").json()
    relation_rows = relation_rows.get("results", relation_rows) if isinstance(relation_rows, dict) else relation_rows
    assert len(relation_rows) == 2

    # The "gold only" export (Claimbench JSONL) holds exactly these spans, their provenance and the link.
    job = exporting.export_job_create(project=world.project, format="jsonl", scope="gold", actor=world.manager)
    job = exporting.export_job_run(job.pk)
    assert job is not None and job.status == "done", job and job.error
    with job.output_file.open("rb") as stored:
        records = [json.loads(line) for line in stored.read().splitlines()]
    (record,) = [r for r in records if r["title"] == BRIDGE.title]
    (gold_export,) = record["sets"]
    assert gold_export["gold"] is True
    exported = {(s["label"], s["quote"]): s.get("provenance") for s in gold_export["spans"]}
    assert exported == spans
    by_id = {s["id"] if "id" in s else s["uuid"]: s["quote"] for s in gold_export["spans"]}
    assert {(r["type"], by_id[r["source"]], by_id[r["target"]]) for r in gold_export["relations"]} == set(links)

    # Ben sees where gold differs from his work, with the reviewer's notes.
    analyst_page = page_for(world.other_analyst, reverse("annotations:feedback", args=[world.project.pk]))
    body = analyst_page.locator("main").inner_text()
    analyst_page.screenshot(path=str(ARTIFACTS / "review-feedback.png"), full_page=True)
    assert "A background fact, not a claim anyone makes" in body
    assert "missed by both" in body
    assert "will cost at least 40 million tenge" in body  # his boundary beside gold's
    assert analyst_page.js_errors == []
