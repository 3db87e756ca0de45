"""The annotation page and its JSON endpoints: thin adapters over services/annotating.py."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.urls import reverse

from annotations.annotate_views import paragraphs_html
from annotations.models import AnnotationSet, Change, Document, SetState, Span
from annotations.rendering import SpanMark, document_html, nesting_depths, segment_text
from annotations.services import annotating, projects
from annotations.text import normalise_text, text_sha256

pytestmark = pytest.mark.django_db


TEXT = normalise_text(
    "Minister 🙂 Ivanova said «taxes will fall».\n"
    "\n"
    "Критики ответили, что бюджет растёт. Critics replied that the budget shows a rise.\n"
    "Café owners e\u0301 said nothing."
)


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _set_with_text(world: Any, text: str = TEXT) -> AnnotationSet:
    document = Document.objects.create(project=world.project, title="Taxes", text=text, text_sha256=text_sha256(text))
    return projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)


def _create(client: Any, annotation_set: AnnotationSet, label: str, start: int, end: int, **extra: Any) -> Any:
    text = annotation_set.document.text
    body = {"label": label, "start": start, "end": end, "quote": text[start:end], **extra}
    body.setdefault("expected_version", AnnotationSet.objects.get(pk=annotation_set.pk).version)
    return _post(client, reverse("annotations:annotate_span_create", args=[annotation_set.pk]), body)


def test_the_page_shows_project_document_progress_and_the_guideline(world, client_for):
    response = client_for(world.analyst).get(reverse("annotations:document_annotate", args=[world.analyst_set.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert world.project.name in page
    assert world.document.title in page
    assert "0 of 1 submitted" in page
    assert "Hotkeys" in page and 'id="help-dialog"' in page
    assert 'type="module"' in page and "annotate.js" in page


def test_the_page_escapes_a_hostile_title_and_label_note(world, client_for):
    annotation_set = _set_with_text(world)
    Document.objects.filter(pk=annotation_set.document_id).update(title="<script>alert(1)</script>")
    annotating.span_create(
        annotation_set=annotation_set, label="claim", start=0, end=8, quote=TEXT[0:8], note="</script><b>x",
        actor=world.analyst, expected_version=annotation_set.version,
    )  # fmt: skip
    page = client_for(world.analyst).get(reverse("annotations:document_annotate", args=[annotation_set.pk]))
    body = page.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "</script><b>x" not in body


def test_the_page_data_carries_hostile_and_non_ascii_strings_intact_and_warnings_by_span_index(world, client_for):
    annotation_set = _set_with_text(world)
    start = TEXT.index("Критики")
    for label, begin, end, note in (("claim", 0, 8, "</script><b>x & «ы» 🙂"), ("attribution", start, start + 7, "")):
        annotating.span_create(
            annotation_set=annotation_set, label=label, start=begin, end=end, quote=TEXT[begin:end], note=note,
            actor=world.analyst, expected_version=None,
        )  # fmt: skip
    page = client_for(world.analyst).get(reverse("annotations:document_annotate", args=[annotation_set.pk]))
    body = page.content.decode()
    raw = body.split('<script id="annotate-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in raw and ">" not in raw and "&" not in raw
    data = json.loads(raw)

    claim, attribution = data["spans"]
    assert claim["note"] == "</script><b>x & «ы» 🙂" and claim["quote"] == TEXT[0:8]
    assert attribution["quote"] == "Критики" and "note" not in attribution and "attributes" not in attribution
    [kind] = data["warningKinds"]
    assert kind["code"] == "attribution_unlinked"
    assert data["warnings"] == [[0, 1]]  # kind 0, about the second span


def test_a_non_member_gets_404_for_the_page_and_every_endpoint(world, client_for):
    client = client_for(world.outsider)
    pk = world.analyst_set.pk
    assert client.get(reverse("annotations:document_annotate", args=[pk])).status_code == 404
    response = _post(client, reverse("annotations:annotate_span_create", args=[pk]), {"expected_version": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_creating_a_span_after_an_emoji_stores_code_point_offsets_and_returns_the_new_version(world, client_for):
    annotation_set = _set_with_text(world)
    start = TEXT.index("Ivanova")
    response = _create(client_for(world.analyst), annotation_set, "attribution", start, start + len("Ivanova said"))
    assert response.status_code == 201
    payload = response.json()
    assert payload["version"] == annotation_set.version + 1
    span = Span.objects.get(uuid=payload["spans"][0]["uuid"])
    assert span.quote == TEXT[span.start : span.end] == "Ivanova said"
    assert payload["warnings"][0]["code"] == "attribution_unlinked"


def test_a_selection_inside_a_word_snaps_to_whole_words(world, client_for):
    annotation_set = _set_with_text(world)
    start = TEXT.index("ответили") + 2
    response = _create(client_for(world.analyst), annotation_set, "claim", start, start + 14)
    span = response.json()["spans"][0]
    assert span["quote"] == "ответили, что бюджет"


def test_snapping_can_be_turned_off_by_the_project(world, client_for):
    world.project.snap_to_words = False
    world.project.save()
    annotation_set = _set_with_text(world)
    start = TEXT.index("ответили") + 2
    span = _create(client_for(world.analyst), annotation_set, "claim", start, start + 4).json()["spans"][0]
    assert span["quote"] == "вети"


def test_a_selection_that_does_not_match_the_text_is_refused_with_a_reason(world, client_for):
    annotation_set = _set_with_text(world)
    url = reverse("annotations:annotate_span_create", args=[annotation_set.pk])
    response = _post(
        client_for(world.analyst), url,
        {"label": "claim", "start": 0, "end": 5, "quote": "Other", "expected_version": annotation_set.version},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "the selection [0, 5) does not match the document text; reload the page",
        "field": "quote",
    }


def test_malformed_json_and_a_missing_version_are_400_not_500(world, client_for):
    client = client_for(world.analyst)
    url = reverse("annotations:annotate_span_create", args=[world.analyst_set.pk])
    assert client.post(url, data="{not json", content_type="application/json").status_code == 400
    response = _post(client, url, {"label": "claim", "start": 0, "end": 3, "quote": world.document.text[:3]})
    assert response.status_code == 400
    assert response.json()["field"] == "expected_version"


def test_a_stale_version_is_409_with_the_current_version(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    assert _create(client, annotation_set, "claim", 0, 8).status_code == 201
    response = _create(client, annotation_set, "claim", 0, 8, expected_version=annotation_set.version)
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert response.json()["version"] == annotation_set.version + 1


def test_another_analyst_may_not_write_to_my_set(world, client_for):
    world.project.blind_mode = False
    world.project.save()
    response = _create(client_for(world.other_analyst), world.analyst_set, "claim", 0, 8)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_relabel_attributes_note_and_nudge_go_through_span_update(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    start = TEXT.index("Critics")
    created = _create(client, annotation_set, "claim", start, start + len("Critics replied")).json()
    span_uuid, version = created["spans"][0]["uuid"], created["version"]
    url = reverse("annotations:annotate_span_update", args=[annotation_set.pk, span_uuid])
    relabelled = _post(client, url, {"label": "counter-claim", "expected_version": version}).json()
    assert relabelled["spans"][0]["label"] == "counter-claim"
    with_attributes = _post(
        client, url,
        {"attributes": {"check_worthy": "yes", "hedged": True}, "note": "tone", "expected_version": version + 1},
    ).json()  # fmt: skip
    assert with_attributes["spans"][0]["attributes"] == {"check_worthy": "yes", "hedged": True}
    assert with_attributes["spans"][0]["note"] == "tone"
    nudged = _post(
        client, url, {"nudge": {"edge": "end", "direction": 1, "by_word": True}, "expected_version": version + 2}
    ).json()
    assert nudged["spans"][0]["quote"] == "Critics replied that"


def test_a_bad_attribute_value_names_the_attribute(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    created = _create(client, annotation_set, "claim", 0, 8).json()
    url = reverse("annotations:annotate_span_update", args=[annotation_set.pk, created["spans"][0]["uuid"]])
    response = _post(client, url, {"attributes": {"check_worthy": "maybe"}, "expected_version": created["version"]})
    assert response.status_code == 400
    assert "check_worthy" in response.json()["message"]


def test_linking_infers_the_type_and_refuses_a_wrong_pair_saying_why(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    attribution = _create(client, annotation_set, "attribution", TEXT.index("Ivanova"), TEXT.index(" «")).json()
    claim = _create(client, annotation_set, "claim", TEXT.index("taxes"), TEXT.index("»")).json()
    url = reverse("annotations:annotate_relation_create", args=[annotation_set.pk])
    source, target = attribution["spans"][0]["uuid"], claim["spans"][0]["uuid"]
    linked = _post(client, url, {"source": source, "target": target, "expected_version": claim["version"]})
    assert linked.status_code == 201
    assert linked.json()["relations"][0]["type"] == "sources"
    backwards = _post(client, url, {"source": target, "target": source, "expected_version": claim["version"] + 1})
    assert backwards.status_code == 400
    assert "No link goes from claim to attribution" in backwards.json()["message"]


def test_delete_then_undo_brings_the_span_and_its_link_back(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    attribution = _create(client, annotation_set, "attribution", TEXT.index("Ivanova"), TEXT.index(" «")).json()
    claim = _create(client, annotation_set, "claim", TEXT.index("taxes"), TEXT.index("»")).json()
    source, target = attribution["spans"][0]["uuid"], claim["spans"][0]["uuid"]
    link = _post(
        client, reverse("annotations:annotate_relation_create", args=[annotation_set.pk]),
        {"source": source, "target": target, "expected_version": claim["version"]},
    ).json()  # fmt: skip
    deleted = _post(
        client, reverse("annotations:annotate_span_delete", args=[annotation_set.pk, target]),
        {"expected_version": link["version"]},
    ).json()  # fmt: skip
    assert deleted["removedSpans"] == [target]
    assert deleted["removedRelations"] == [link["relations"][0]["uuid"]]
    undone = _post(
        client, reverse("annotations:annotate_undo", args=[annotation_set.pk]), {"expected_version": deleted["version"]}
    )
    assert undone.status_code == 200
    assert [s["uuid"] for s in undone.json()["spans"]] == [target]
    assert [r["uuid"] for r in undone.json()["relations"]] == [link["relations"][0]["uuid"]]
    assert Span.objects.filter(uuid=target).exists()


def test_undo_with_nothing_left_is_a_clear_400(world, client_for):
    response = _post(
        client_for(world.analyst), reverse("annotations:annotate_undo", args=[world.analyst_set.pk]),
        {"expected_version": world.analyst_set.version},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "nothing_to_undo"


def test_submit_lists_warnings_then_submits_with_a_note_and_points_to_the_next_document(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    created = _create(client, annotation_set, "attribution", TEXT.index("Ivanova"), TEXT.index(" «")).json()
    url = reverse("annotations:annotate_submit", args=[annotation_set.pk])
    refused = _post(client, url, {"expected_version": created["version"]})
    assert refused.status_code == 400
    assert refused.json()["code"] == "submit_warnings"
    assert refused.json()["warnings"][0]["code"] == "attribution_unlinked"
    submitted = _post(client, url, {"expected_version": created["version"], "note": "the claim is implicit"})
    assert submitted.status_code == 200
    assert submitted.json()["next"] == reverse("annotations:document_annotate", args=[world.analyst_set.pk])
    assert AnnotationSet.objects.get(pk=annotation_set.pk).state == SetState.SUBMITTED
    again = _create(client, annotation_set, "claim", 0, 8)
    assert again.status_code == 403
    assert again.json()["code"] == "read_only"


def test_a_write_returns_only_the_touched_paragraphs_rendered_as_the_full_page_renders_them(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    outer = _create(client, annotation_set, "attribution", TEXT.index("Critics"), TEXT.index(" rise")).json()
    inner = _create(client, annotation_set, "claim", TEXT.index("the budget"), TEXT.index(" shows")).json()
    [fragment] = inner["paragraphs"]
    assert (fragment["start"], fragment["end"]) == (TEXT.index("Критики"), TEXT.index("\nCafé"))
    spans = [SpanMark(str(s.uuid), s.label, s.start, s.end) for s in Span.objects.filter(annotation_set=annotation_set)]
    full = str(document_html(segment_text(TEXT, spans), nesting_depths(spans), {"claim": 0, "attribution": 1}))
    assert fragment["html"] in full
    assert outer["spans"][0]["uuid"] in fragment["html"]


def test_paragraphs_widen_until_no_span_crosses_their_edges(world):
    annotation_set = _set_with_text(world)
    crossing_end = TEXT.index("растёт") + 3
    annotating.span_create(
        annotation_set=annotation_set, label="claim", start=0, end=crossing_end, quote=TEXT[:crossing_end],
        actor=world.analyst, expected_version=annotation_set.version,
    )  # fmt: skip
    start = TEXT.index("Critics")
    fragment = paragraphs_html(TEXT, annotation_set, start, start + 7, {"claim": 0})
    assert fragment["start"] == 0


def test_the_project_page_links_to_the_analysts_own_set(world, client_for):
    page = (
        client_for(world.analyst).get(reverse("annotations:project_detail", args=[world.project.pk])).content.decode()
    )
    assert reverse("annotations:document_annotate", args=[world.analyst_set.pk]) in page
    assert ">Annotate<" in page


def test_history_records_the_analyst_as_actor(world, client_for):
    annotation_set = _set_with_text(world)
    _create(client_for(world.analyst), annotation_set, "claim", 0, 8, uuid=str(uuid.uuid4()))
    assert Change.objects.filter(annotation_set=annotation_set).get().actor == world.analyst


def test_a_write_rechecks_the_warnings_of_the_spans_around_it(world, client_for):
    annotation_set = _set_with_text(world)
    client = client_for(world.analyst)
    attribution = _create(client, annotation_set, "attribution", TEXT.index("Ivanova"), TEXT.index(" «")).json()
    claim = _create(client, annotation_set, "claim", TEXT.index("taxes"), TEXT.index("»")).json()
    source, target = attribution["spans"][0]["uuid"], claim["spans"][0]["uuid"]
    linked = _post(
        client, reverse("annotations:annotate_relation_create", args=[annotation_set.pk]),
        {"source": source, "target": target, "expected_version": claim["version"]},
    ).json()  # fmt: skip
    assert source in linked["warningScope"] and linked["warnings"] == []
    link_uuid = linked["relations"][0]["uuid"]
    delete_url = reverse("annotations:annotate_relation_delete", args=[annotation_set.pk, link_uuid])
    unlinked = _post(client, delete_url, {"expected_version": linked["version"]}).json()
    assert [(w["code"], w["spans"]) for w in unlinked["warnings"]] == [("attribution_unlinked", [source])]
