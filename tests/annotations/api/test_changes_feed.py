"""The changes feed: a syncing client sees creates, edits and deletions (tombstones)
exactly once, in an order that is safe against transactions committing out of order."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from annotations.api import feed
from annotations.models import AnnotationSet, Change, Span
from annotations.services import annotating

pytestmark = pytest.mark.django_db


class SyncClient:
    """What a downstream tool does: keep a local copy of spans keyed by uuid, pull the feed."""

    def __init__(self, client: Any, project_id: int) -> None:
        self.client, self.project_id = client, project_id
        self.after = 0
        self.spans: dict[str, dict[str, Any]] = {}
        self.seen_ids: list[int] = []

    def pull(self) -> None:
        while True:
            page = self.client.get(
                f"/api/v1/projects/{self.project_id}/changes/", {"after": self.after, "page_size": 3}
            ).json()
            for change in page["results"]:
                self.seen_ids.append(change["id"])
                if change["object_type"] != "span":
                    continue
                if change["action"] == "delete":
                    self.spans.pop(change["object_uuid"], None)
                else:
                    self.spans[change["object_uuid"]] = change["after"]
            self.after = page["next_after"]
            if not page["has_more"]:
                return


def server_state(annotation_set: Any) -> dict[str, dict[str, Any]]:
    return {str(s.uuid): annotating.span_snapshot(s) for s in Span.objects.filter(annotation_set=annotation_set)}


def test_a_client_pulling_between_edits_ends_with_exactly_the_servers_state(world, api_for):
    sync = SyncClient(api_for(world.reviewer), world.project.pk)
    text = world.document.text
    aset, actor = world.analyst_set, world.analyst

    def make(start: int, end: int) -> Span:
        return annotating.span_create(annotation_set=aset, label="claim", start=start, end=end,
                                      quote=text[start:end], actor=actor, expected_version=None)  # fmt: skip

    first, second, third = make(0, 3), make(4, 12), make(13, 17)
    sync.pull()
    assert sync.spans == server_state(aset)

    annotating.span_update(span=second, actor=actor, expected_version=None, note="edited after the first pull")
    annotating.span_delete(span=first, actor=actor, expected_version=None)
    fourth = make(18, 23)
    sync.pull()
    assert sync.spans == server_state(aset)
    assert str(first.uuid) not in sync.spans

    annotating.span_update(span=fourth, actor=actor, expected_version=None, label="counter-claim")
    annotating.span_delete(span=third, actor=actor, expected_version=None)
    annotating.change_undo(annotation_set=aset, actor=actor, expected_version=None)  # brings `third` back
    sync.pull()
    sync.pull()  # nothing new: a second pull changes nothing
    assert sync.spans == server_state(aset)
    assert len(sync.seen_ids) == len(set(sync.seen_ids)), "a change was served twice"
    assert sync.seen_ids == sorted(sync.seen_ids)


def test_tombstones_carry_the_deleted_object(world, api_for):
    text = world.document.text
    span = annotating.span_create(annotation_set=world.analyst_set, label="claim", start=0, end=3, quote=text[:3],
                                  actor=world.analyst, expected_version=None)  # fmt: skip
    annotating.span_delete(span=span, actor=world.analyst, expected_version=None)
    changes = api_for(world.manager).get(f"/api/v1/projects/{world.project.pk}/changes/").json()["results"]
    tombstone = changes[-1]
    assert (tombstone["action"], tombstone["object_uuid"], tombstone["after"]) == ("delete", str(span.uuid), None)
    assert tombstone["before"]["quote"] == text[:3]


def test_changes_younger_than_the_commit_lag_are_held_back(world, api_for, settings):
    settings.CLAIMBENCH_CHANGES_COMMIT_LAG = 60
    text = world.document.text
    annotating.span_create(annotation_set=world.analyst_set, label="claim", start=0, end=3, quote=text[:3],
                           actor=world.analyst, expected_version=None)  # fmt: skip
    page = api_for(world.manager).get(f"/api/v1/projects/{world.project.pk}/changes/").json()
    assert page == {"results": [], "next_after": 0, "has_more": False}


def test_the_feed_stops_at_the_first_change_that_is_not_yet_settled():
    now = timezone.now()
    old, young = now - datetime.timedelta(seconds=10), now
    rows = [{"id": 1, "created_at": old}, {"id": 3, "created_at": young}, {"id": 4, "created_at": old}]
    # id 4 is old but comes after a young one: serving it would move the cursor past id 3's neighbours.
    taken, held_back = feed.settled_prefix(rows, now - datetime.timedelta(seconds=2))
    assert [r["id"] for r in taken] == [1]
    assert held_back


def test_the_safe_bound_is_before_the_oldest_open_writing_transaction(monkeypatch, settings):
    settings.CLAIMBENCH_CHANGES_COMMIT_LAG = 2
    now = timezone.now()
    open_since = now - datetime.timedelta(seconds=30)
    monkeypatch.setattr(feed, "oldest_writing_transaction_start", lambda: open_since)
    assert feed.safe_bound(now) == open_since - datetime.timedelta(seconds=2)
    monkeypatch.setattr(feed, "oldest_writing_transaction_start", lambda: None)
    assert feed.safe_bound(now) == now - datetime.timedelta(seconds=2)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_change_committed_out_of_order_is_never_skipped(world, api_for):
    import threading
    import uuid

    from django.db import connection, connections, transaction

    from annotations.models import Change

    if connection.vendor != "postgresql":
        pytest.skip("out-of-order commits need concurrent transactions: run with DATABASE_URL=postgres://…")
    inserted, release = threading.Event(), threading.Event()
    slow_uuid = uuid.uuid4()
    thread_errors: list[BaseException] = []

    def slow_writer() -> None:
        # Written directly, not through a service: today's services lock the project row, which happens to
        # serialise writers within a project; the feed must not depend on that.
        try:
            with transaction.atomic():
                Change.objects.create(
                    project=world.project, annotation_set=world.analyst_set, object_type="span",
                    object_uuid=slow_uuid, action="create", after={"uuid": str(slow_uuid)}, set_version=1,
                )  # fmt: skip
                inserted.set()
                release.wait()  # no timeout: the main thread always sets it (finally)
        except BaseException as error:  # reported by the main thread
            thread_errors.append(error)
            inserted.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert inserted.wait(30)
        text = world.document.text
        late = annotating.span_create(annotation_set=world.other_set, label="claim", start=4, end=12,
                                      quote=text[4:12], actor=world.other_analyst, expected_version=None)  # fmt: skip
        sync = SyncClient(api_for(world.manager), world.project.pk)
        sync.pull()
        assert str(late.uuid) not in sync.spans, "the feed served a change while an earlier one was in flight"
    finally:
        release.set()
        thread.join()
    assert not thread_errors
    sync.pull()
    assert set(sync.spans) == {str(slow_uuid), str(late.uuid)}
    assert sync.seen_ids == sorted(sync.seen_ids)


# --- imported work: one history row per set, served as the set's entry and a create per item ---


def _import(world: Any, *serials: str) -> None:
    """Import one JSONL document per serial, each with 3 spans and 2 relations in the analyst's set."""
    import io
    import json

    from annotations.services import jobs

    lines = []
    for serial in serials:
        text = f"Report {serial}: the ministry said exports rose by 12 percent. The union denied it."
        claim, counter = text.index("exports rose"), text.index("The union")
        spans = [
            {"id": "a", "label": "attribution", "start": 0, "end": text.index(" exports")},
            {"id": "c", "label": "claim", "start": claim, "end": claim + 26},
            {"id": "k", "label": "counter-claim", "start": counter, "end": len(text) - 1, "note": "tab\there"},
        ]
        relations = [{"type": "sources", "source": "a", "target": "c"},
                     {"type": "disputes", "source": "k", "target": "c"}]  # fmt: skip
        record = {"text": text, "metadata": {"external_id": serial},
                  "sets": [{"annotator": "analyst", "spans": spans, "relations": relations}]}  # fmt: skip
        lines.append(json.dumps(record) + "\n")
    job = jobs.import_job_create(project=world.project, files=[jobs.UploadedInput("feed.jsonl", io.BytesIO(
        "".join(lines).encode()))], format="jsonl", actor=world.manager)  # fmt: skip
    finished = jobs.import_job_run(job.pk)
    assert finished is not None and finished.rows_failed == 0


def project_state(project: Any) -> dict[str, dict[str, Any]]:
    spans = Span.objects.filter(annotation_set__document__project=project)
    return {str(s.uuid): annotating.span_snapshot(s) for s in spans}


def test_a_client_pulling_after_an_import_gets_every_imported_span_in_its_current_state(world, api_for):
    sync = SyncClient(api_for(world.reviewer), world.project.pk)
    sync.pull()
    _import(world, "r-1", "r-2")
    imported = list(Span.objects.filter(annotation_set__document__external_id="r-1").order_by("pk"))
    # Edited and deleted before the client's next pull: the feed serves the current state, then the changes.
    annotating.span_update(span=imported[1], actor=world.analyst, expected_version=None, note="checked")
    annotating.span_delete(span=imported[2], actor=world.analyst, expected_version=None)

    sync.pull()

    assert sync.spans == project_state(world.project)
    assert len(sync.spans) == 5 and sync.spans[str(imported[1].uuid)]["note"] == "checked"
    assert str(imported[2].uuid) not in sync.spans
    assert sync.seen_ids == sorted(sync.seen_ids)


def test_an_import_row_is_served_as_its_set_then_a_create_per_span_and_relation(world, api_for):
    _import(world, "r-1")
    annotation_set = AnnotationSet.objects.get(document__external_id="r-1")
    page = api_for(world.manager).get(f"/api/v1/projects/{world.project.pk}/changes/").json()

    results = page["results"]
    assert [(item["object_type"], item["action"]) for item in results] == [
        ("set", "import"), ("span", "create"), ("span", "create"), ("span", "create"),
        ("relation", "create"), ("relation", "create"),
    ]  # fmt: skip
    assert results[0]["after"]["spans"] == 3 and results[0]["after"]["relations"] == 2
    assert {item["id"] for item in results} == {page["next_after"]}, "one feed position for the whole set"
    assert {item["annotation_set"] for item in results} == {annotation_set.pk}
    spans = {str(s.uuid): annotating.span_snapshot(s) for s in annotation_set.spans.all()}
    assert {item["object_uuid"]: item["after"] for item in results[1:4]} == spans
    links = annotation_set.relations.select_related("source", "target")
    assert [item["after"] for item in results[4:]] == [annotating.relation_snapshot(r) for r in links.order_by("pk")]
    assert all(item["before"] is None for item in results[1:])


def test_filtering_by_object_type_expands_an_import_into_that_type_only(world, api_for):
    _import(world, "r-1")
    client, url = api_for(world.manager), f"/api/v1/projects/{world.project.pk}/changes/"

    def kinds(object_type: str) -> list[tuple[str, str]]:
        results = client.get(url, {"object_type": object_type}).json()["results"]
        return [(item["object_type"], item["action"]) for item in results]

    assert kinds("span") == [("span", "create")] * 3
    assert kinds("relation") == [("relation", "create")] * 2
    assert kinds("set") == [("set", "import")]


def test_a_page_counts_items_and_never_splits_an_imported_set(world, api_for):
    _import(world, "r-1", "r-2", "r-3")  # six items each: the set, three spans, two relations
    client, url = api_for(world.manager), f"/api/v1/projects/{world.project.pk}/changes/"
    rows = list(Change.objects.filter(action="import").order_by("pk").values_list("pk", flat=True))

    first = client.get(url, {"page_size": 7}).json()
    assert len(first["results"]) == 6 and first["next_after"] == rows[0] and first["has_more"]
    tiny = client.get(url, {"page_size": 1, "after": rows[0]}).json()
    assert len(tiny["results"]) == 6 and tiny["next_after"] == rows[1], "a set larger than the page comes whole"
    rest = client.get(url, {"page_size": 100, "after": rows[1]}).json()
    assert len(rest["results"]) == 6 and not rest["has_more"]
