"""Bulk pre-annotations: validated as a whole, all or nothing, per-item errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from annotations.models import AnnotationSet, Change, Relation, Span
from annotations.services import annotating

pytestmark = pytest.mark.django_db


def words(text: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for index, char in enumerate(text + " "):
        if char.isalnum() and start is None:
            start = index
        elif not char.isalnum() and start is not None:
            spans.append((start, index))
            start = None
    return spans


def bulk(client: Any, world: Any, body: dict[str, Any], version: int | None = None) -> Any:
    version = world.analyst_set.version if version is None else version
    return client.post(f"/api/v1/sets/{world.analyst_set.pk}/bulk/", body, format="json", HTTP_IF_MATCH=f'"{version}"')


def test_bulk_creates_spans_and_relations_in_one_version_step(world, api_for):
    text = world.document.text
    attribution_id, claim_id = str(uuid.uuid4()), str(uuid.uuid4())
    said = text.index("said")
    body = {
        "spans": [
            {"uuid": attribution_id, "label": "attribution", "start": 0, "end": said + 4, "quote": text[: said + 4]},
            {"uuid": claim_id, "label": "claim", "start": said + 5, "end": text.index("."),
             "quote": text[said + 5 : text.index(".")], "attributes": {"check_worthy": "yes"}},
        ],
        "relations": [{"type": "sources", "source": attribution_id, "target": claim_id}],
    }  # fmt: skip
    response = bulk(api_for(world.analyst), world, body)
    assert response.status_code == 201, response.json()
    result = response.json()
    assert result["spans"] == [attribution_id, claim_id]
    assert result["version"] == world.analyst_set.version + 1
    assert response["ETag"] == f'"{result["version"]}"'
    relation = Relation.objects.get()
    assert (str(relation.source.uuid), str(relation.target.uuid)) == (attribution_id, claim_id)
    changes = Change.objects.filter(annotation_set=world.analyst_set)
    assert changes.count() == 3 and changes.values("group").distinct().count() == 1


def test_one_bad_item_refuses_the_whole_request_and_every_bad_item_is_listed(world, api_for):
    text = world.document.text
    good = [{"label": "claim", "start": s, "end": e, "quote": text[s:e]} for s, e in words(text)[:5]]
    bad = [
        {"label": "claim", "start": 0, "end": 3, "quote": "Tha"},
        {"label": "opinion", "start": 0, "end": 3, "quote": text[:3]},
        "not an object",
    ]
    body = {
        "spans": good[:2] + [bad[0]] + good[2:] + [bad[1], bad[2]],
        "relations": [{"type": "sources", "source": str(uuid.uuid4()), "target": str(uuid.uuid4())}],
    }
    response = bulk(api_for(world.analyst), world, body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "bulk_invalid"
    assert [(e["item"], e["field"]) for e in error["errors"]] == [
        ("spans[2]", "quote"),
        ("spans[6]", "label"),
        ("spans[7]", None),
        ("relations[0]", "source"),
    ]
    assert error["field"] == "spans[2].quote"
    assert Span.objects.count() == 0
    assert AnnotationSet.objects.get(pk=world.analyst_set.pk).version == world.analyst_set.version


def test_bulk_refuses_a_stale_version_and_a_uuid_already_taken(world, api_for):
    client = api_for(world.analyst)
    text = world.document.text
    span = annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=0, end=3, quote=text[:3], actor=world.analyst,
        expected_version=None,
    )  # fmt: skip
    item = {"uuid": str(span.uuid), "label": "claim", "start": 4, "end": 12, "quote": text[4:12]}
    assert bulk(client, world, {"spans": [item]}, version=1).status_code == 412
    response = bulk(client, world, {"spans": [item]}, version=2)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "uuid"


def test_bulk_needs_a_json_object_with_lists(world, api_for):
    client = api_for(world.analyst)
    assert bulk(client, world, {"spans": "many"}).json()["field"] == "spans"
    assert bulk(client, world, {"spanz": []}).status_code == 400
    assert bulk(client, world, {}).status_code == 400


def test_a_bulk_batch_is_undone_by_one_undo(world, api_for):
    text = world.document.text
    body = {"spans": [{"label": "claim", "start": s, "end": e, "quote": text[s:e]} for s, e in words(text)[:10]]}
    result = bulk(api_for(world.analyst), world, body).json()
    annotating.change_undo(annotation_set=world.analyst_set, actor=world.analyst, expected_version=result["version"])
    assert Span.objects.count() == 0


def test_relations_may_link_spans_already_in_the_set_but_not_twice(world, api_for):
    client = api_for(world.analyst)
    text = world.document.text
    said = text.index("said")
    attribution = annotating.span_create(
        annotation_set=world.analyst_set, label="attribution", start=0, end=said + 4, quote=text[: said + 4],
        actor=world.analyst, expected_version=None,
    )  # fmt: skip
    claim = annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=said + 5, end=text.index("."),
        quote=text[said + 5 : text.index(".")], actor=world.analyst, expected_version=None,
    )  # fmt: skip
    world.analyst_set.refresh_from_db()
    link = {"type": "sources", "source": str(attribution.uuid), "target": str(claim.uuid)}
    response = bulk(client, world, {"relations": [link]})
    assert response.status_code == 201, response.json()
    relation = Relation.objects.get(uuid=response.json()["relations"][0])
    assert (relation.source_id, relation.target_id) == (attribution.pk, claim.pk)
    again = bulk(client, world, {"relations": [link]}, version=response.json()["version"])
    assert again.status_code == 400
    assert [(e["item"], e["field"]) for e in again.json()["errors"]] == [("relations[0]", "target")]
    assert "already linked" in again.json()["errors"][0]["message"]


def test_a_relation_uuid_already_taken_and_bad_references_are_item_errors(world, api_for):
    client = api_for(world.analyst)
    text = world.document.text
    first = bulk(client, world, {"spans": [{"uuid": str(uuid.uuid4()), "label": "attribution", "start": 0,
                                            "end": 12, "quote": text[:12]},
                                           {"uuid": str(uuid.uuid4()), "label": "claim", "start": 13, "end": 17,
                                            "quote": text[13:17]},
                                           {"label": "claim", "start": 18, "end": 23, "quote": text[18:23]}]}
                 ).json()  # fmt: skip
    source, target, other_claim = first["spans"]
    taken = bulk(client, world, {"relations": [{"type": "sources", "source": source, "target": target}]},
                 version=first["version"]).json()  # fmt: skip
    body = {
        "relations": [
            {"type": "sources", "source": target, "target": source},
            {"type": "sources", "source": "not-a-uuid", "target": target},
            {"type": "sources", "source": source, "target": source},
            {"type": "sources", "source": source, "target": other_claim, "attributes": {"colour": "red"}},
            {"uuid": taken["relations"][0], "type": "sources", "source": source, "target": other_claim},
        ]
    }
    response = bulk(client, world, body, version=taken["version"])
    assert response.status_code == 400
    assert [(e["item"], e["field"]) for e in response.json()["errors"]] == [
        ("relations[0]", "type"),  # wrong direction: claim -> attribution
        ("relations[1]", "source"),
        ("relations[2]", "target"),
        ("relations[3]", "attributes"),
        ("relations[4]", "uuid"),
    ]
    assert Relation.objects.count() == 1


def test_history_rows_hold_the_same_snapshot_single_writes_record(world, api_for):
    text = world.document.text
    body = {"spans": [{"label": "claim", "start": s, "end": e, "quote": text[s:e], "note": "pre-annotated",
                       "attributes": {"check_worthy": "unsure"}} for s, e in words(text)[:3]]}  # fmt: skip
    result = bulk(api_for(world.analyst), world, body).json()
    for span in Span.objects.filter(annotation_set=world.analyst_set):
        change = Change.objects.get(object_uuid=span.uuid)
        assert change.action == "create" and change.before is None and change.set_version == result["version"]
        assert change.after == annotating.span_snapshot(span)
        assert change.actor_id == world.analyst.pk and change.project_id == world.project.pk


def test_a_bulk_request_costs_the_same_queries_for_ten_items_or_a_hundred(world, api_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_for(world.analyst)
    client.get("/api/v1/me/")  # the token's first use also records its last-used time
    text = world.document.text
    offsets = [(s, e) for s, e in words(text)] * 10
    counts = []
    for annotation_set, count in ((world.analyst_set, 10), (world.other_set, 100)):
        client = api_for(annotation_set.annotator)
        client.get("/api/v1/me/")
        body = {"spans": [{"label": "claim", "start": s, "end": e, "quote": text[s:e]} for s, e in offsets[:count]]}
        with CaptureQueriesContext(connection) as queries:
            response = client.post(f"/api/v1/sets/{annotation_set.pk}/bulk/", body, format="json",
                                   HTTP_IF_MATCH=f'"{annotation_set.version}"')  # fmt: skip
        assert response.status_code == 201, response.json()
        # Inserts are one COPY per table on PostgreSQL; SQLite's bulk_create splits them by its parameter limit.
        counts.append(len([q for q in queries if connection.vendor == "postgresql" or "INSERT" not in q["sql"]]))
    assert counts[0] == counts[1]
    assert Span.objects.filter(annotation_set=world.other_set).count() == 100


def test_a_large_batch_streams_in_chunks_and_each_item_keeps_its_uuid_row_and_history(world, api_for):
    # More spans than one COPY write carries (jobs._LINES_PER_WRITE), so the numbered, chunked
    # stream is crossed; client-chosen uuids mixed with server-drawn ones, and relations between them.
    from annotations.services import jobs

    text = world.document.text
    offsets = words(text)
    said = text.index("said")
    attribution_id, claim_id = str(uuid.uuid4()), str(uuid.uuid4())
    plain = [
        {"label": "claim", "start": s, "end": e, "quote": text[s:e]}
        for s, e in (offsets * (jobs._LINES_PER_WRITE // len(offsets) + 2))[: jobs._LINES_PER_WRITE + 300]
    ]
    named = [
        {"uuid": attribution_id, "label": "attribution", "start": 0, "end": said + 4, "quote": text[: said + 4]},
        {"uuid": claim_id, "label": "claim", "start": said + 5, "end": text.index("."),
         "quote": text[said + 5 : text.index(".")]},
    ]  # fmt: skip
    body = {
        "spans": plain[:1000] + named + plain[1000:],
        "relations": [{"type": "sources", "source": attribution_id, "target": claim_id}],
    }
    response = bulk(api_for(world.analyst), world, body)
    assert response.status_code == 201, response.json()
    result = response.json()
    assert len(result["spans"]) == len(body["spans"]) == len(set(result["spans"]))
    assert result["spans"][1000:1002] == [attribution_id, claim_id]
    drawn = [value for value in result["spans"] + result["relations"] if value not in (attribution_id, claim_id)]
    assert all(uuid.UUID(value).version == 7 for value in drawn), "the server draws time-ordered uuids"
    rows = {str(span.uuid): span for span in Span.objects.filter(annotation_set=world.analyst_set)}
    for span_uuid, item in zip(result["spans"], body["spans"], strict=True):
        span = rows[span_uuid]
        assert (span.label, span.start, span.end, span.quote) == (
            item["label"],
            item["start"],
            item["end"],
            item["quote"],
        )
    history = {str(change.object_uuid): change for change in Change.objects.filter(annotation_set=world.analyst_set)}
    assert set(history) == set(result["spans"]) | set(result["relations"])
    for span_uuid in result["spans"][::97] + [attribution_id, claim_id]:
        assert history[span_uuid].after == annotating.span_snapshot(rows[span_uuid])
        assert history[span_uuid].set_version == result["version"]
    relation = Relation.objects.get(uuid=result["relations"][0])
    assert (str(relation.source.uuid), str(relation.target.uuid)) == (attribution_id, claim_id)
    assert history[result["relations"][0]].after["source"] == attribution_id
