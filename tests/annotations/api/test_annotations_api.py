"""Spans and relations through the API: the set version as ETag, If-Match on
every write, 412 on a stale one, and one error shape for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from annotations.models import Change, Span

pytestmark = pytest.mark.django_db

TEXT_START = "The minister said"


def span_body(world: Any, start: int = 0, end: int = 12, label: str = "claim") -> dict[str, Any]:
    return {"label": label, "start": start, "end": end, "quote": world.document.text[start:end]}


def create(client: Any, world: Any, version: int, **kwargs: Any) -> Any:
    return client.post(
        f"/api/v1/sets/{world.analyst_set.pk}/spans/", span_body(world, **kwargs), format="json",
        HTTP_IF_MATCH=f'"{version}"',
    )  # fmt: skip


def test_a_set_answers_with_its_version_as_etag(world, api_for):
    response = api_for(world.analyst).get(f"/api/v1/sets/{world.analyst_set.pk}/")
    assert response["ETag"] == f'"{world.analyst_set.version}"'
    assert response.json()["version"] == world.analyst_set.version


def test_creating_a_span_returns_it_with_the_new_version(world, api_for):
    client = api_for(world.analyst)
    response = create(client, world, world.analyst_set.version)
    assert response.status_code == 201
    body = response.json()
    assert body["quote"] == world.document.text[:12]
    assert body["document"] == world.document.pk
    assert response["ETag"] == f'"{world.analyst_set.version + 1}"'
    assert Span.objects.get(uuid=body["uuid"]).annotation_set_id == world.analyst_set.pk


def test_a_write_without_if_match_is_refused_with_428(world, api_for):
    client = api_for(world.analyst)
    response = client.post(f"/api/v1/sets/{world.analyst_set.pk}/spans/", span_body(world), format="json")
    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"


def test_a_stale_if_match_is_refused_with_412_and_the_current_etag(world, api_for):
    client = api_for(world.analyst)
    seen = world.analyst_set.version
    assert create(client, world, seen).status_code == 201
    response = create(client, world, seen, start=13, end=17)
    assert response.status_code == 412
    assert response.json()["code"] == "stale_version"
    assert response["ETag"] == f'"{seen + 1}"'
    assert Span.objects.count() == 1


def test_an_if_match_that_is_not_a_version_is_a_400_naming_the_header(world, api_for):
    response = api_for(world.analyst).post(
        f"/api/v1/sets/{world.analyst_set.pk}/spans/", span_body(world), format="json", HTTP_IF_MATCH="yesterday"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "If-Match"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"label": "claim", "start": 0, "end": 12, "quote": "wrong words!"}, "quote", "quote_mismatch"),
        ({"label": "rumour", "start": 0, "end": 12, "quote": None}, "quote", "null"),
        ({"label": "rumour", "start": 0, "end": 3, "quote": "The"}, "label", "invalid"),
        ({"label": "claim", "start": 5, "end": 2, "quote": "x"}, "end", "invalid"),
        ({"label": "claim", "start": 0, "end": 10_000, "quote": "x"}, "end", "invalid"),
        ({"label": "claim", "start": "zero", "end": 3, "quote": "The"}, "start", "invalid"),
        ({"start": 0, "end": 3, "quote": "The"}, "label", "required"),
        # Past PostgreSQL's integer: refused by the bounds, not a 500 from the set read's text slice.
        ({"label": "claim", "start": 0, "end": 2**31, "quote": "x"}, "end", "max_value"),
        ({"label": "claim", "start": 2**40, "end": 2**41, "quote": "x"}, "start", "max_value"),
        ({"label": "claim", "start": 0, "end": 2**70, "quote": "x"}, "end", "max_value"),
    ],
)
def test_bad_span_input_is_a_400_that_names_the_field_and_the_reason(world, api_for, body, field, code):
    response = api_for(world.analyst).post(
        f"/api/v1/sets/{world.analyst_set.pk}/spans/", body, format="json",
        HTTP_IF_MATCH=f'"{world.analyst_set.version}"',
    )  # fmt: skip
    assert response.status_code == 400
    error = response.json()
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]


def test_malformed_json_and_non_object_bodies_are_400_not_500(world, api_for):
    client = api_for(world.analyst)
    url = f"/api/v1/sets/{world.analyst_set.pk}/spans/"
    response = client.generic("POST", url, "{not json", content_type="application/json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    response = client.post(url, [1, 2], format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 400


def test_updating_and_deleting_a_span_follow_the_version(world, api_for):
    client = api_for(world.analyst)
    created = create(client, world, world.analyst_set.version)
    span_id, version = created.json()["id"], int(created["ETag"].strip('"'))
    response = client.patch(
        f"/api/v1/spans/{span_id}/", {"note": "check the budget table"}, format="json", HTTP_IF_MATCH=f'"{version}"'
    )
    assert response.status_code == 200
    assert response.json()["note"] == "check the budget table"
    version += 1
    assert response["ETag"] == f'"{version}"'
    stale = client.delete(f"/api/v1/spans/{span_id}/", HTTP_IF_MATCH=f'"{version - 1}"')
    assert stale.status_code == 412
    gone = client.delete(f"/api/v1/spans/{span_id}/", HTTP_IF_MATCH=f'"{version}"')
    assert gone.status_code == 204
    assert client.get(f"/api/v1/spans/{span_id}/").status_code == 404
    assert Change.objects.filter(action="delete", object_type="span").count() == 1


def test_relations_link_spans_by_uuid_and_reject_a_wrong_label_pair(world, api_for):
    client = api_for(world.analyst)
    text = world.document.text
    said = text.index("said")
    claim = create(client, world, 1, start=said + 5, end=text.index(".")).json()
    attribution = create(client, world, 2, start=0, end=said + 4, label="attribution").json()
    url = f"/api/v1/sets/{world.analyst_set.pk}/relations/"
    wrong = client.post(
        url, {"type": "sources", "source": claim["uuid"], "target": attribution["uuid"]}, format="json",
        HTTP_IF_MATCH='"3"',
    )  # fmt: skip
    assert wrong.status_code == 400 and wrong.json()["field"] == "type"
    response = client.post(
        url, {"type": "sources", "source": attribution["uuid"], "target": claim["uuid"]}, format="json",
        HTTP_IF_MATCH='"3"',
    )  # fmt: skip
    assert response.status_code == 201
    relation = response.json()
    assert (relation["source"], relation["target"]) == (attribution["uuid"], claim["uuid"])
    listed = client.get(f"/api/v1/projects/{world.project.pk}/relations/?type=sources").json()["results"]
    assert [r["uuid"] for r in listed] == [relation["uuid"]]
    deleted = client.delete(f"/api/v1/relations/{relation['id']}/", HTTP_IF_MATCH='"4"')
    assert deleted.status_code == 204


def test_a_submitted_set_is_read_only_through_the_api(world, api_for):
    from annotations.services import annotating

    annotating.annotation_set_submit(annotation_set=world.analyst_set, actor=world.analyst, expected_version=None)
    world.analyst_set.refresh_from_db()
    response = create(api_for(world.analyst), world, world.analyst_set.version)
    assert response.status_code == 403
    assert response.json()["code"] == "read_only"


def test_span_lists_filter_by_label_and_page_with_a_cursor(world, api_for):
    client = api_for(world.analyst)
    version = world.analyst_set.version
    words = [(0, 3), (4, 12), (13, 17), (18, 23), (24, 29)]
    for index, (start, end) in enumerate(words):
        label = "claim" if index % 2 == 0 else "attribution"
        assert create(client, world, version, start=start, end=end, label=label).status_code == 201
        version += 1
    seen: list[str] = []
    url = f"/api/v1/projects/{world.project.pk}/spans/?page_size=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [s["uuid"] for s in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5
    claims = client.get(f"/api/v1/projects/{world.project.pk}/spans/?label=claim").json()["results"]
    assert {s["label"] for s in claims} == {"claim"} and len(claims) == 3


def test_filters_refuse_values_they_cannot_read(world, api_for):
    client = api_for(world.manager)
    response = client.get(f"/api/v1/projects/{world.project.pk}/spans/?updated_after=last-tuesday")
    assert response.status_code == 400
    assert response.json()["field"] == "updated_after"
    response = client.get(f"/api/v1/projects/{world.project.pk}/sets/?state=archived")
    assert response.status_code == 400
    response = client.get(f"/api/v1/projects/{world.project.pk}/changes/?after=-1")
    assert response.status_code == 400 and response.json()["field"] == "after"
