from __future__ import annotations

import json

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from annotations.models import Relation, Span
from annotations.services import exporting

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the test writes from a second connection while the export reads",
)


def test_an_export_shows_one_moment_although_spans_are_deleted_while_it_runs(transactional_db, annotated):
    spans_before = Span.objects.filter(annotation_set__document__project=annotated.project).count()
    job = exporting.export_job_create(project=annotated.project, format="jsonl", actor=None)
    writer = connections.create_connection(DEFAULT_DB_ALIAS)
    deleted = []

    def analysts_keep_working(done: int, total: int | None) -> None:
        # Runs inside the export's read transaction, after its snapshot is fixed: another
        # connection deletes every span and commits, as an analyst's undo would.
        if not deleted:
            with writer.cursor() as cursor:
                cursor.execute(f"DELETE FROM {Relation._meta.db_table}")
                cursor.execute(f"DELETE FROM {Span._meta.db_table}")
                deleted.append(cursor.rowcount)

    try:
        job = exporting.export_job_run(job.pk, progress=analysts_keep_working)
    finally:
        writer.close()
    assert deleted == [spans_before] and Span.objects.count() == 0
    assert job.summary["manifest"]["isolation"] == "repeatable read, read only"
    with job.output_file.open("rb") as stored:
        exported = sum(len(s["spans"]) for line in stored for s in json.loads(line)["sets"])
    assert exported == spans_before
