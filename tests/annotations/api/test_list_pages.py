"""List pages: keyset cursors both ways, the PostgreSQL JSON path spelling exactly
what the Python shapes spell, one query per page whatever its size, and the
orjson renderer writing what DRF's JSONRenderer writes."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from annotations.api import views
from annotations.api.renderers import FastJSONRenderer
from annotations.models import Span
from annotations.services import annotating, projects
from tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

# Cyrillic, guillemets, an emoji, a tab, a newline, quotes, a backslash and the two JavaScript line separators.
AWKWARD_TEXT = 'Он сказал: «налоги упадут» 📉\tthen "left"\\\nU+2028 here:\u2028 and U+2029 here:\u2029 end.'


def spans_in(world: Any, count: int) -> list[Span]:
    text = world.document.text
    words = text.split(" ")
    created, position = [], 0
    for word in words[:count]:
        created.append(
            annotating.span_create(
                annotation_set=world.analyst_set, label="claim", start=position, end=position + len(word),
                quote=word, actor=world.analyst, expected_version=None,
            )
        )  # fmt: skip
        position += len(word) + 1
    return created


def pull(client: Any, url: str) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        pages.append(response.json())
        url = pages[-1]["next"]
    return pages


def test_pages_go_forward_and_back_over_the_same_rows_in_id_order(world, api_for):
    created = spans_in(world, 7)
    client = api_for(world.analyst)
    pages = pull(client, f"/api/v1/sets/{world.analyst_set.pk}/spans/?page_size=3")
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    forward = [s["uuid"] for p in pages for s in p["results"]]
    assert forward == [str(s.uuid) for s in sorted(created, key=lambda s: s.pk)]
    # Back from the last page: the same pages, each still in id order.
    back, url = [], pages[-1]["previous"]
    while url:
        page = client.get(url).json()
        back.insert(0, [s["uuid"] for s in page["results"]])
        url = page["previous"]
    assert back == [[s["uuid"] for s in p["results"]] for p in pages[:-1]]


def test_a_row_created_while_paging_is_neither_skipped_nor_repeated(world, api_for):
    spans_in(world, 4)
    client = api_for(world.analyst)
    first = client.get(f"/api/v1/projects/{world.project.pk}/spans/?page_size=2").json()
    text = world.document.text
    late = annotating.span_create(
        annotation_set=world.analyst_set, label="claim", start=len(text) - 3, end=len(text) - 1,
        quote=text[-3:-1], actor=world.analyst, expected_version=None,
    )  # fmt: skip
    rest = pull(client, first["next"])
    seen = [s["uuid"] for s in first["results"]] + [s["uuid"] for p in rest for s in p["results"]]
    assert len(seen) == len(set(seen)) == 5 and seen[-1] == str(late.uuid)


@pytest.mark.parametrize("cursor", ["garbage!", "bjEyYQ", "eDU", ""])
def test_an_unreadable_cursor_is_a_404_in_the_error_shape_and_an_empty_one_is_the_start(world, api_for, cursor):
    spans_in(world, 2)
    response = api_for(world.analyst).get(f"/api/v1/projects/{world.project.pk}/spans/?cursor={cursor}")
    if cursor == "":
        assert response.status_code == 200 and len(response.json()["results"]) == 2
    else:
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Invalid cursor.", "field": None}


def test_page_size_is_capped_and_an_unreadable_one_means_the_default(world, api_for):
    spans_in(world, 3)
    client = api_for(world.analyst)
    for size, expected in (("5000", 3), ("0", 3), ("-2", 3), ("two", 3), ("1", 1)):
        body = client.get(f"/api/v1/sets/{world.analyst_set.pk}/spans/?page_size={size}").json()
        assert len(body["results"]) == expected, size


def test_list_rows_are_exactly_the_detail_shape_on_every_backend(world, api_for):
    """On PostgreSQL list rows come from SQL text columns (views.paginate_fast): they must match span_dict."""
    document = DocumentFactory(project=world.project, text=AWKWARD_TEXT)
    annotation_set = projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)
    bounds = [
        (0, 9),
        (AWKWARD_TEXT.index("«"), AWKWARD_TEXT.index("»") + 1),
        (AWKWARD_TEXT.index("📉"), len(AWKWARD_TEXT)),
    ]
    for start, end in bounds:
        annotating.span_create(
            annotation_set=annotation_set, label="claim", start=start, end=end, quote=AWKWARD_TEXT[start:end],
            attributes={"check_worthy": "yes", "hedged": True, "implicit_source": "«Кто-то» \u2028"},
            note='a "note"\nwith\ttabs \\ and \u2029', actor=world.analyst, expected_version=None,
        )  # fmt: skip
    # One timestamp on a whole second: Python's isoformat leaves the microseconds out, and so must SQL.
    whole_second = timezone.now().replace(microsecond=0)
    first = Span.objects.filter(annotation_set=annotation_set).order_by("pk").values_list("pk", flat=True)[0]
    Span.objects.filter(pk=first).update(updated_at=whole_second)
    client = api_for(world.analyst)
    for url in (f"/api/v1/sets/{annotation_set.pk}/spans/", f"/api/v1/projects/{world.project.pk}/spans/"):
        response = client.get(url, {"document": document.pk} if "projects" in url else {})
        listed = response.json()["results"]
        spans = Span.objects.filter(annotation_set=annotation_set).select_related("annotation_set").order_by("pk")
        expected = [json.loads(FastJSONRenderer().render(views.span_instance_dict(span))) for span in spans]
        assert listed == expected
        assert listed[0]["updated_at"] == whole_second.isoformat().replace("+00:00", "Z")
        raw = response.content.decode()
        assert "\u2028" not in raw and "\u2029" not in raw and "\\u2028" in raw


def test_a_span_page_costs_the_same_queries_at_any_size(world, api_for):
    spans_in(world, 12)
    client = api_for(world.analyst)
    client.get("/api/v1/me/")  # the token's first use also records its last-used time
    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/projects/{world.project.pk}/spans/?page_size={size}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1, "b": [True, False, None], "c": 'Он «сказал» 📉 "q" \\ \n\t', "d": {"e": []}},
        {"when": datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC), "day": datetime.date(2026, 1, 2)},
        {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "amount": decimal.Decimal("1.50")},
        {"lazy": gettext_lazy("Not found."), "separators": "a\u2028b\u2029c"},
        {1: "an integer key", "big": 2**70},
    ],
)
def test_the_fast_renderer_writes_the_bytes_drf_writes(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_an_indent_in_accept_still_pretty_prints(world, api_for):
    response = api_for(world.analyst).get("/api/v1/me/", HTTP_ACCEPT="application/json; indent=2")
    assert response.status_code == 200
    assert response.content.decode().startswith('{\n  "user"')


def test_small_row_lists_page_up_to_5000_and_documents_up_to_1000():
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from annotations.api.pagination import MAX_PAGE_SIZE, MAX_ROW_PAGE_SIZE, page_size_from

    def size(raw: str, **limit: int) -> int:
        return page_size_from(Request(APIRequestFactory().get("/", {"page_size": raw})), **limit)

    assert (MAX_PAGE_SIZE, MAX_ROW_PAGE_SIZE) == (1000, 5000)
    assert size("9000") == 1000 and size("9000", max_size=MAX_ROW_PAGE_SIZE) == 5000
    assert size("2500", max_size=MAX_ROW_PAGE_SIZE) == 2500 and size("2500") == 1000


def test_the_schema_documents_each_lists_bound(api_for, world):
    schema = api_for(world.analyst).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    def described(path: str) -> str:
        parameters = schema["paths"][path]["get"]["parameters"]
        return next(p["description"] for p in parameters if p["name"] == "page_size")

    assert described("/api/v1/projects/{project_id}/spans/") == "1 to 5000."
    assert described("/api/v1/projects/{project_id}/documents/") == "1 to 1000."
