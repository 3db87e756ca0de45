"""Import jobs run synchronously through the service: what lands, what is reported, what is never duplicated."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from annotations.exceptions import InvalidInput, NotAllowed, NothingToUndo
from annotations.models import (
    AnnotationSet,
    Change,
    ChangeAction,
    ChangeObject,
    Document,
    Job,
    JobRowError,
    JobStatus,
    Relation,
    Span,
)
from annotations.services import annotating, jobs

ARTICLE = (
    "Scroll Top\n"
    "Ministry rejects report on grain exports\n"
    "The ministry said on Monday that exports rose by 12 percent.\n"
    "Add comment\n"
    "Farmers' unions replied that the figure ignores the drought.\n"
    "Farmers' unions replied that the figure ignores the drought.\n"
    "Write your comment 15\n"
)

CLAIM_TEXT = "The ministry said exports rose by 12 percent. The union denied that exports rose."


def upload(name: str, data: bytes | str) -> jobs.UploadedInput:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return jobs.UploadedInput(name, io.BytesIO(raw))


def run(world: Any, *files: jobs.UploadedInput, format: str = "auto", **options: Any) -> Job:
    job = jobs.import_job_create(
        project=world.project, files=files, format=format, options=options, actor=world.manager
    )
    finished = jobs.import_job_run(job.pk)
    assert finished is not None
    return finished


def jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def annotated_record(annotator: str | None = "analyst", **overrides: Any) -> dict[str, Any]:
    claim_start = CLAIM_TEXT.index("exports rose by 12 percent")
    counter_start = CLAIM_TEXT.index("The union denied")
    record: dict[str, Any] = {
        "text": CLAIM_TEXT,
        "metadata": {"external_id": "grain-1", "outlet": "Daily Wire Service"},
        "sets": [
            {
                "annotator": annotator,
                "spans": [
                    {"id": "a", "label": "attribution", "start": 0, "end": 17, "quote": "The ministry said"},
                    {"id": "c", "label": "claim", "start": claim_start, "end": claim_start + 26,
                     "attributes": {"check_worthy": "yes"}},
                    {"id": "k", "label": "counter-claim", "start": counter_start, "end": len(CLAIM_TEXT) - 1},
                ],
                "relations": [
                    {"type": "sources", "source": "a", "target": "c"},
                    {"type": "disputes", "source": "k", "target": "c"},
                ],
            }
        ],
    }  # fmt: skip
    record.update(overrides)
    return record


def test_a_plain_text_file_becomes_one_cleaned_document_and_the_summary_says_what_cleanup_removed(world: Any) -> None:
    job = run(world, upload("grain.txt", ARTICLE))

    assert job.status == JobStatus.DONE
    document = Document.objects.get(project=world.project, import_job=job)
    assert "Scroll Top" not in document.text and "Add comment" not in document.text
    assert document.text.count("Farmers' unions replied") == 1
    assert document.title == "Ministry rejects report on grain exports"
    assert document.raw_source == ARTICLE.encode()
    removed = job.summary["files"]["grain.txt"]
    assert removed["removed_lines"] == 4
    assert "Write your comment 15" in removed["removed"]
    assert removed["repeated_lines"] == 1
    assert removed["repeated"] == ["Farmers' unions replied that the figure ignores the drought."]


def test_the_job_page_says_why_each_removed_line_went(world: Any, client: Any) -> None:
    job = run(world, upload("grain.txt", ARTICLE))
    client.force_login(world.manager)

    page = client.get(reverse("annotations:job_detail", args=[job.pk])).content.decode()

    assert "1 repeated" in page
    assert "<q>Farmers&#x27; unions replied that the figure ignores the drought.</q> " in page
    repeat_at = page.index("<q>Farmers&#x27; unions replied")
    assert page.index("repeats an earlier paragraph", repeat_at) < page.index("</li>", repeat_at)
    furniture_at = page.index("<q>Write your comment 15</q>")
    assert page.index("site furniture", furniture_at) < page.index("</li>", furniture_at)


def test_importing_the_same_file_twice_skips_every_document_as_a_duplicate(world: Any) -> None:
    first = run(world, upload("corpus.jsonl", jsonl({"text": "First article text."}, {"text": "Second one."})))
    second = run(world, upload("corpus.jsonl", jsonl({"text": "First article text."}, {"text": "Second one."})))

    assert first.summary["documents_created"] == 2
    assert second.summary["documents_created"] == 0
    assert second.summary["skipped_duplicates"] == 2
    assert second.rows_failed == 0
    reasons = list(JobRowError.objects.filter(job=second).values_list("reason", flat=True))
    assert all(reason.startswith("skipped: duplicate of document") for reason in reasons)
    assert Document.objects.filter(project=world.project, text="Second one.").count() == 1


def test_duplicates_inside_one_file_and_by_external_id_are_skipped_too(world: Any) -> None:
    job = run(
        world,
        upload(
            "dupes.jsonl",
            jsonl(
                {"text": "Same text."},
                {"text": "Same text."},
                {"text": "Other text.", "metadata": {"external_id": "x1"}},
                {"text": "Yet another text.", "metadata": {"external_id": "x1"}},
            ),
        ),
    )

    assert job.summary["documents_created"] == 2
    assert job.summary["skipped_duplicates"] == 2


def test_a_later_import_skips_records_whose_external_id_or_text_is_already_in_the_project(world: Any) -> None:
    run(world, upload("first.jsonl", jsonl({"text": "Kept text.", "metadata": {"external_id": "wire-7"}})))
    again = run(
        world,
        upload(
            "second.jsonl",
            jsonl(
                {"text": "A revised text under the same id.", "metadata": {"external_id": "wire-7"}},
                {"text": "Kept text.", "metadata": {"external_id": "wire-8"}},
                {"text": "A new article.", "metadata": {"external_id": "wire-9"}},
            ),
        ),
    )

    assert again.summary["documents_created"] == 1
    assert again.summary["skipped_duplicates"] == 2
    reasons = dict(JobRowError.objects.filter(job=again).values_list("line", "reason"))
    assert reasons[1].endswith("(same external id)") and reasons[2].endswith("(same text)")
    assert set(
        Document.objects.filter(project=world.project).exclude(external_id="").values_list("external_id", flat=True)
    ) == {
        "wire-7",
        "wire-9",
    }


def test_a_json_lines_record_points_at_its_line_of_the_kept_upload_instead_of_copying_it(world: Any) -> None:
    content = jsonl({"text": "First record."}, {"text": "Second record.", "metadata": {"external_id": "r2"}})
    job = run(world, upload("records.jsonl", content))

    document = Document.objects.get(project=world.project, external_id="r2")
    assert document.raw_source is None
    assert document.raw_source_name == "records.jsonl, line 2"
    # The provenance is the stored upload itself: that line of it is the record as it came.
    stored = job.parameters["files"][0]
    with default_storage.open(stored["path"], "rb") as kept:
        assert kept.read().decode().splitlines()[1] == content.splitlines()[1]
    assert stored["name"] == "records.jsonl" and document.import_job_id == job.pk


def test_good_rows_land_while_bad_rows_are_reported_with_file_line_and_reason(world: Any) -> None:
    content = jsonl({"text": "A good article."}) + "{not json\n" + jsonl({"title": "no text"}, {"text": "Another."})
    job = run(world, upload("mixed.jsonl", content))

    assert job.status == JobStatus.DONE
    assert job.summary["documents_created"] == 2
    assert job.rows_failed == 2
    rows = list(JobRowError.objects.filter(job=job).order_by("line"))
    assert [(row.source_name, row.line) for row in rows] == [("mixed.jsonl", 2), ("mixed.jsonl", 3)]
    assert all(row.reason for row in rows)


def test_pre_annotated_sets_land_with_spans_relations_and_the_analyst_as_owner(world: Any) -> None:
    job = run(world, upload("annotated.jsonl", jsonl(annotated_record())))

    assert job.rows_failed == 0, list(JobRowError.objects.filter(job=job).values_list("reason", flat=True))
    document = Document.objects.get(external_id="grain-1")
    annotation_set = AnnotationSet.objects.get(document=document)
    assert annotation_set.annotator == world.analyst
    spans = {span.label: span for span in Span.objects.filter(annotation_set=annotation_set)}
    assert spans["claim"].quote == "exports rose by 12 percent"
    assert spans["claim"].attributes == {"check_worthy": "yes"}
    assert Relation.objects.filter(annotation_set=annotation_set).count() == 2
    assert job.summary["spans_created"] == 3 and job.summary["relations_created"] == 2


def test_an_imported_set_has_one_import_history_row_with_its_state_job_and_counts(world: Any) -> None:
    job = run(world, upload("annotated.jsonl", jsonl(annotated_record())))

    annotation_set = AnnotationSet.objects.get(document__external_id="grain-1")
    (change,) = Change.objects.filter(annotation_set=annotation_set)
    assert (change.object_type, change.object_uuid, change.action) == (
        ChangeObject.SET, annotation_set.uuid, ChangeAction.IMPORT
    )  # fmt: skip
    assert change.before is None
    assert change.after == {"state": annotation_set.state, "job": job.pk, "spans": 3, "relations": 2}
    assert change.actor == world.manager and change.project_id == world.project.pk
    # The set's version counts its spans and relations, as if each had been drawn in turn.
    assert change.set_version == annotation_set.version == 6
    # The feed finds what the import wrote by the row's time (annotations/api/feed.py).
    assert {span.created_at for span in Span.objects.filter(annotation_set=annotation_set)} == {change.created_at}
    assert {r.created_at for r in Relation.objects.filter(annotation_set=annotation_set)} == {change.created_at}
    assert job.status == JobStatus.DONE


def test_an_analyst_cannot_undo_an_import_into_their_set(world: Any) -> None:
    run(world, upload("annotated.jsonl", jsonl(annotated_record())))
    annotation_set = AnnotationSet.objects.get(document__external_id="grain-1")

    with pytest.raises(NothingToUndo):
        annotating.change_undo(annotation_set=annotation_set, actor=world.analyst, expected_version=None)
    assert Span.objects.filter(annotation_set=annotation_set).count() == 3


def test_tabs_newlines_backslashes_and_quotes_in_spans_survive_the_copy(world: Any) -> None:
    # Imports spell COPY's text format by hand (jobs._span_line and friends): every
    # character that format escapes must come back exactly.
    text = 'Minister\t"Ivanov" said:\nC:\\grain\\exports rose \\N percent — «да».\nThe union denied it.'
    claim_start = text.index("C:")
    claim_end = text.index("— «да».") + len("— «да».")
    attribution_end = text.index(":") + 1
    counter_start = text.index("The union")
    record = {
        "text": text,
        "metadata": {"external_id": "escapes-1"},
        "sets": [
            {
                "annotator": "analyst",
                "spans": [
                    {"id": "a", "label": "attribution", "start": 0, "end": attribution_end,
                     "attributes": {"source_entity": 'Ivanov\t"the\\minister"\n'}, "note": "tab\there\nnew \\ line"},
                    {"id": "c", "label": "claim", "start": claim_start, "end": claim_end},
                    {"id": "k", "label": "counter-claim", "start": counter_start, "end": len(text)},
                ],
                "relations": [
                    {"type": "sources", "source": "a", "target": "c", "note": "a\\b\tc"},
                    {"type": "disputes", "source": "k", "target": "c"},
                ],
            }
        ],
    }  # fmt: skip
    job = run(world, upload("escapes.jsonl", jsonl(record)))

    assert job.rows_failed == 0, list(JobRowError.objects.filter(job=job).values_list("reason", flat=True))
    document = Document.objects.get(external_id="escapes-1")
    assert document.text == text
    annotation_set = AnnotationSet.objects.get(document=document)
    spans = {span.label: span for span in Span.objects.filter(annotation_set=annotation_set)}
    assert spans["attribution"].quote == 'Minister\t"Ivanov" said:'
    assert spans["attribution"].attributes == {"source_entity": 'Ivanov\t"the\\minister"\n'}
    assert spans["attribution"].note == "tab\there\nnew \\ line"
    assert spans["claim"].quote == "C:\\grain\\exports rose \\N percent — «да»."
    link = Relation.objects.select_related("source", "target").get(annotation_set=annotation_set, type="sources")
    assert link.note == "a\\b\tc"


def test_a_gold_set_lands_as_the_documents_gold(world: Any) -> None:
    record = annotated_record(annotator=None)
    record["sets"][0]["gold"] = True
    job = run(world, upload("gold.jsonl", jsonl(record)))

    assert job.rows_failed == 0
    assert AnnotationSet.objects.get(document__external_id="grain-1").is_gold


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        (lambda r: r["sets"][0].update(annotator="stranger"), "not a member of this project"),
        (lambda r: r["sets"][0]["spans"][1].update(label="opinion"), "unknown label 'opinion'"),
        (lambda r: r["sets"][0]["spans"][1].update(attributes={"check_worthy": "maybe"}), "check_worthy"),
        (lambda r: r["sets"][0]["relations"][0].update(source="c", target="a"), "a 'sources' link goes from"),
        (lambda r: r["sets"][0]["relations"][0].update(target="nope"), "nope"),
    ],
)
def test_an_invalid_annotation_is_reported_and_its_document_is_not_half_imported(
    world: Any, change: Any, reason_part: str
) -> None:
    record = annotated_record()
    change(record)
    job = run(world, upload("bad.jsonl", jsonl(record, {"text": "An unrelated good article."})))

    assert job.rows_failed == 1
    reasons = " | ".join(JobRowError.objects.filter(job=job).values_list("reason", flat=True))
    assert reason_part in reasons
    assert not Document.objects.filter(external_id="grain-1").exists()
    assert Document.objects.filter(text="An unrelated good article.").exists()


def test_several_files_and_a_mixed_zip_import_in_one_job(world: Any) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a/first.txt", "A first article from the archive.\n")
        zf.writestr("b/page.html", "<html><head><title>Page</title></head><body><article><p>"
                    + "An HTML article body that is long enough to be kept by extraction. " * 5
                    + "</p></article></body></html>")  # fmt: skip
        zf.writestr("c/rows.jsonl", jsonl({"text": "A JSON line article."}))
        zf.writestr("d/table.csv", "text,outlet\nA CSV article.,Gazette\n")
    job = run(world, upload("mixed.zip", archive.getvalue()), upload("loose.txt", "A loose text article.\n"))

    assert job.status == JobStatus.DONE, job.error
    assert job.rows_failed == 0, list(JobRowError.objects.filter(job=job).values_list("source_name", "reason"))
    assert job.summary["documents_created"] == 5
    assert Document.objects.get(text="A CSV article.").outlet == "Gazette"


def test_a_binary_file_and_an_unknown_type_fail_with_a_clear_reason(world: Any) -> None:
    job = run(world, upload("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(100)), upload("notes.docx", b"PK\x03\x04xx"))

    assert job.status == JobStatus.DONE
    reasons = dict(JobRowError.objects.filter(job=job).values_list("source_name", "reason"))
    assert "PNG image" in reasons["photo.txt"]
    assert "unsupported file type" in reasons["notes.docx"]


def test_a_path_traversal_member_is_refused_and_the_rest_of_the_archive_lands(world: Any) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../etc/evil.txt", "Evil text.\n")
        zf.writestr("ok.txt", "A fine article.\n")
    job = run(world, upload("sneaky.zip", archive.getvalue()))

    assert Document.objects.filter(project=world.project, text="A fine article.").exists()
    assert not Document.objects.filter(text="Evil text.").exists()
    assert job.rows_failed >= 1


def test_a_redelivered_job_resumes_after_its_last_committed_batch(world: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(jobs, "BATCH_SIZE", 2)
    records = [{"text": f"Article number {n}."} for n in range(7)]
    job = jobs.import_job_create(
        project=world.project, files=[upload("seven.jsonl", jsonl(*records))], actor=world.manager
    )
    # The first delivery commits one batch and then "dies" (the worker is killed).
    commits: list[int] = []

    def die_after_first_batch(current: Job) -> None:
        commits.append(current.done)
        raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        jobs.import_job_run(job.pk, progress=die_after_first_batch)
    job.refresh_from_db()
    assert job.checkpoint == {"file": 0, "records": 2}
    assert Document.objects.filter(import_job=job).count() == 2
    # A SystemExit is not an error the job reports: it stays running, and the heartbeat goes stale.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at="2000-01-01T00:00:00Z")

    resumed = jobs.import_job_run(job.pk)

    assert resumed is not None and resumed.status == JobStatus.DONE
    assert resumed.deliveries == 2
    assert Document.objects.filter(import_job=job).count() == 7
    assert resumed.summary["skipped_duplicates"] == 0


def test_a_second_delivery_leaves_a_job_alone_while_its_worker_is_alive(world: Any) -> None:
    job = jobs.import_job_create(project=world.project, files=[upload("a.txt", "Text.\n")], actor=world.manager)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, heartbeat_at="2999-01-01T00:00:00Z")

    assert jobs.import_job_run(job.pk) is None
    assert Document.objects.filter(import_job=job).count() == 0


def test_a_poison_job_fails_after_too_many_deliveries_and_can_be_retried(world: Any) -> None:
    job = jobs.import_job_create(project=world.project, files=[upload("a.txt", "Some text.\n")], actor=world.manager)
    Job.objects.filter(pk=job.pk).update(deliveries=jobs.MAX_DELIVERIES)

    failed = jobs.import_job_run(job.pk)

    assert failed is not None and failed.status == JobStatus.FAILED
    assert "gave up after" in failed.error
    retried = jobs.import_job_retry(job=failed, actor=world.manager)
    assert retried.status == JobStatus.QUEUED and retried.deliveries == 0
    assert jobs.import_job_run(job.pk).status == JobStatus.DONE  # type: ignore[union-attr]


def test_only_managers_create_imports_and_unknown_formats_are_refused(world: Any) -> None:
    with pytest.raises(NotAllowed):
        jobs.import_job_create(project=world.project, files=[upload("a.txt", "x")], actor=world.analyst)
    with pytest.raises(InvalidInput, match="unknown format"):
        jobs.import_job_create(project=world.project, files=[upload("a.txt", "x")], format="pdf", actor=world.manager)
    with pytest.raises(InvalidInput, match="at least one file"):
        jobs.import_job_create(project=world.project, files=[], actor=world.manager)


# --- pages -------------------------------------------------------------------------------


def test_the_import_page_starts_a_job_and_the_job_page_shows_its_progress(
    world: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from workbench.celery import app

    app.conf.task_always_eager = True
    try:
        client = client_for(world.manager)
        page = client.get(reverse("annotations:project_import", args=[world.project.pk]))
        assert page.status_code == 200 and b'type="file"' in page.content and b"multiple" in page.content
        with_files = {"files": [io.BytesIO(ARTICLE.encode())], "format": "auto", "cleanup": "on",
                      "csv_text_column": "text"}  # fmt: skip
        with_files["files"][0].name = "grain.txt"  # type: ignore[attr-defined]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("annotations:project_import", args=[world.project.pk]), with_files)
    finally:
        app.conf.task_always_eager = False
    job = Job.objects.get(project=world.project)
    assert response.status_code == 302 and response.url == reverse("annotations:job_detail", args=[job.pk])
    assert job.status == JobStatus.DONE
    progress = client.get(reverse("annotations:job_progress", args=[job.pk]))
    assert progress.status_code == 286  # htmx: stop polling
    assert "Write your comment 15" in progress.content.decode()
    listing = client.get(reverse("annotations:job_list", args=[world.project.pk]))
    assert b"grain.txt" in listing.content


def test_import_pages_are_for_managers_only(world: Any, client_for: Any) -> None:
    job = jobs.import_job_create(project=world.project, files=[upload("a.txt", "Text.\n")], actor=world.manager)
    analyst = client_for(world.analyst)
    outsider = client_for(world.outsider)

    assert analyst.get(reverse("annotations:project_import", args=[world.project.pk])).status_code == 403
    assert analyst.get(reverse("annotations:job_detail", args=[job.pk])).status_code == 403
    assert outsider.get(reverse("annotations:job_detail", args=[job.pk])).status_code == 404


def test_a_queued_job_with_no_worker_says_so_plainly(world: Any, client_for: Any, monkeypatch: Any) -> None:
    job = jobs.import_job_create(project=world.project, files=[upload("a.txt", "Text.\n")], actor=world.manager)
    Job.objects.filter(pk=job.pk).update(created_at="2000-01-01T00:00:00Z")
    monkeypatch.setattr(jobs, "workers_available", lambda: False)

    page = client_for(world.manager).get(reverse("annotations:job_progress", args=[job.pk]))

    assert page.status_code == 200
    assert "No worker is running" in page.content.decode()


def test_the_import_documents_command_imports_files_and_prints_a_summary(world: Any, tmp_path: Any) -> None:
    path = tmp_path / "grain.txt"
    path.write_text(ARTICLE)
    out = io.StringIO()

    call_command("import_documents", str(world.project.pk), str(path), stdout=out, stderr=io.StringIO())

    assert "1 documents created" in out.getvalue()
    assert "cleanup removed 4 line(s), 1 of them a repeated paragraph" in out.getvalue()
    assert "the figure ignores the drought.  (repeat)" in out.getvalue()
    assert Document.objects.filter(project=world.project, raw_source_name="grain.txt").exists()


def test_the_import_task_is_a_django_task_acknowledged_only_after_it_ran() -> None:
    from celery.contrib.django.task import DjangoTask

    from annotations.tasks import run_import_job

    assert isinstance(run_import_job, DjangoTask)
    assert run_import_job.acks_late is True
    assert run_import_job.reject_on_worker_lost is True


def test_bulk_uuids_are_distinct_time_ordered_version_7_uuids_in_canonical_spelling() -> None:
    import time

    before = time.time_ns() // 1_000_000
    spelled = jobs._uuid7_strings(2000)
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(value) for value in spelled]
    assert len(set(spelled)) == 2000
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in parsed)
    assert [str(value) for value in parsed] == spelled
    # RFC 9562: the top 48 bits are the Unix time in milliseconds, so later batches sort after earlier ones.
    assert all(before <= value.int >> 80 <= after for value in parsed)
    time.sleep(0.002)
    assert min(jobs._uuid7_strings(100)) > max(spelled)
    # The rest is random: no two of a batch share their last 62 bits.
    assert len({value.int & (2**62 - 1) for value in parsed}) == 2000
    assert jobs._uuid7_strings(0) == []
