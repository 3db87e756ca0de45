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
