from __future__ import annotations

import io
import json
from typing import Any

from annotations.models import Project, Role
from annotations.services import jobs, projects
from tests.annotations.exporters.conftest import run_export


def _comparable(data: bytes) -> list[str]:
    """Each line with the ids that must differ after a re-import (the document UUID) removed, keys sorted."""
    lines = []
    for line in data.decode().splitlines():
        record = json.loads(line)
        record.pop("uuid")
        lines.append(json.dumps(record, sort_keys=True, ensure_ascii=False))
    return sorted(lines)


def _import_into_new_project(data: bytes, world: Any) -> Project:
    project = projects.project_create(name="Re-import", actor=world.manager)
    for user in (world.analyst, world.other_analyst):
        projects.membership_set_role(project=project, user=user, role=Role.ANNOTATOR, actor=world.manager)
    job = jobs.import_job_create(
        project=project,
        files=[jobs.UploadedInput("export.jsonl", io.BytesIO(data))],
        format="jsonl",
        actor=world.manager,
    )
    job = jobs.import_job_run(job.pk)
    assert job is not None and job.status == "done", (job.error, list(job.row_errors.values_list("reason", flat=True)))
    assert job.rows_failed == 0
    return project


def _without_uuids(data: bytes) -> bytes:
    # Document UUIDs are unique across the whole database, so a copy in a second project needs new ones.
    records = [json.loads(line) for line in data.decode().splitlines()]
    return "".join(json.dumps({k: v for k, v in r.items() if k != "uuid"}) + "\n" for r in records).encode()


def test_an_export_reimported_into_a_new_project_exports_the_same_content(annotated):
    first = run_export(annotated.project, "jsonl")
    copy = _import_into_new_project(_without_uuids(first), annotated.world)
    second = run_export(copy, "jsonl")
    assert _comparable(first) == _comparable(second)


def test_the_export_carries_sets_states_attributes_notes_and_relations(annotated):
    records = [json.loads(line) for line in run_export(annotated.project, "jsonl").splitlines()]
    record = next(r for r in records if r["title"] == annotated.document.title)
    sets = {s["annotator"]: s for s in record["sets"]}
    assert set(sets) == {"analyst", "analyst2", None}
    analyst = sets["analyst"]
    assert analyst["state"] == "submitted" and analyst["gold"] is False
    by_id = {span["id"]: span for span in analyst["spans"]}
    for span in analyst["spans"]:
        assert record["text"][span["start"] : span["end"]] == span["quote"]
    links = {(r["type"], by_id[r["source"]]["quote"], by_id[r["target"]]["quote"]) for r in analyst["relations"]}
    assert ("sources", "Mukhtar Ablyazov stated", "the bank lost 😀 4 billion tenge in 2023") in links
    assert ("disputes", "the bank lost money", "the bank lost 😀 4 billion tenge in 2023") in links
    lost = next(s for s in analyst["spans"] if s["quote"].startswith("the bank lost 😀"))
    assert lost["attributes"] == {"check_worthy": "yes", "hedged": False}
    assert lost["note"] == "a number; check the 2023 report"
    assert sets[None]["gold"] is True


def test_gold_only_scope_exports_only_gold_sets(annotated):
    records = [json.loads(line) for line in run_export(annotated.project, "jsonl", scope="gold").splitlines()]
    assert records and all(s["gold"] for r in records for s in r["sets"])


def test_a_label_filter_keeps_only_those_spans_and_the_relations_between_them(annotated):
    data = run_export(annotated.project, "jsonl", filters={"labels": ["claim", "counter-claim"]})
    record = next(r for r in map(json.loads, data.splitlines()) if r["title"] == annotated.document.title)
    analyst = next(s for s in record["sets"] if s["annotator"] == "analyst")
    assert {span["label"] for span in analyst["spans"]} == {"claim", "counter-claim"}
    assert [r["type"] for r in analyst["relations"]] == ["disputes"]


def test_gold_provenance_is_written_when_a_gold_item_has_one(annotated):
    span = annotated.gold_set.spans.get()
    span.provenance = {"decision": "unanimous", "from": ["analyst", "analyst2"]}
    span.save()
    records = [json.loads(line) for line in run_export(annotated.project, "jsonl", scope="gold").splitlines()]
    gold_span = records[0]["sets"][0]["spans"][0]
    assert gold_span["provenance"] == {"decision": "unanimous", "from": ["analyst", "analyst2"]}
