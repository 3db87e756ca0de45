"""A small annotated project for the exporter tests: every label, both relation types, attributes,
notes, an emoji (astral, two UTF-16 units), Cyrillic, a span across a line break, a quote that a
spreadsheet would run as a formula, a submitted set, an in-progress set and a gold set."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest

from annotations.models import AnnotationSet, Document, Job, Project
from annotations.services import annotating, exporting, projects
from annotations.services.documents import document_create

TEXT = (
    "Mukhtar Ablyazov stated that the bank lost 😀 4 billion tenge in 2023.\n"
    "The ministry denied that the bank lost money, writes «Время».\n"
    "=1+1 is two, the spreadsheet said."
)


@dataclass
class Annotated:
    project: Project
    document: Document
    analyst_set: AnnotationSet
    other_set: AnnotationSet
    gold_set: AnnotationSet
    world: Any


def _span(annotation_set: AnnotationSet, actor: Any, label: str, quote: str, occurrence: int = 0, **kwargs: Any) -> Any:
    text = annotation_set.document.text
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(quote, start + 1)
    annotation_set.refresh_from_db()
    return annotating.span_create(
        annotation_set=annotation_set,
        label=label,
        start=start,
        end=start + len(quote),
        quote=quote,
        actor=actor,
        expected_version=annotation_set.version,
        **kwargs,
    )


def _link(annotation_set: AnnotationSet, actor: Any, type_: str, source: Any, target: Any, **kwargs: Any) -> Any:
    annotation_set.refresh_from_db()
    return annotating.relation_create(
        annotation_set=annotation_set,
        type=type_,
        source=source,
        target=target,
        actor=actor,
        expected_version=annotation_set.version,
        **kwargs,
    )


@pytest.fixture
def annotated(world: Any) -> Annotated:
    document = document_create(project=world.project, text=TEXT, title="Bank «losses» = disputed", actor=world.manager)
    analyst_set = projects.annotation_set_assign(document=document, annotator=world.analyst, actor=world.manager)
    other_set = projects.annotation_set_assign(document=document, annotator=world.other_analyst, actor=world.manager)
    gold_set = projects.gold_set_get_or_create(document=document)

    who = world.analyst
    stated = _span(
        analyst_set,
        who,
        "attribution",
        "Mukhtar Ablyazov stated",
        attributes={"quote": "indirect", "source_entity": "Mukhtar Ablyazov", "source_type": "named_person"},
    )
    lost = _span(
        analyst_set,
        who,
        "claim",
        "the bank lost 😀 4 billion tenge in 2023",
        attributes={"check_worthy": "yes", "hedged": False},
        note="a number; check the 2023 report",
    )
    denied = _span(
        analyst_set, who, "attribution", "The ministry denied", attributes={"source_type": "named_organisation"}
    )
    money = _span(analyst_set, who, "counter-claim", "the bank lost money", attributes={"hedged": True})
    across = _span(analyst_set, who, "claim", "2023.\nThe ministry")
    formula = _span(analyst_set, who, "claim", "=1+1 is two")
    _link(analyst_set, who, "sources", stated, lost, note="the speaker")
    _link(analyst_set, who, "disputes", money, lost)
    _link(analyst_set, who, "sources", denied, money)
    assert across and formula
    analyst_set.refresh_from_db()
    annotating.annotation_set_submit(
        annotation_set=analyst_set, actor=who, expected_version=analyst_set.version, override_note="test data"
    )

    _span(other_set, world.other_analyst, "claim", "the bank lost money")
    _span(
        gold_set,
        world.reviewer,
        "claim",
        "the bank lost 😀 4 billion tenge in 2023",
        attributes={"check_worthy": "yes"},
    )
    for annotation_set in (analyst_set, other_set, gold_set):
        annotation_set.refresh_from_db()
    return Annotated(world.project, document, analyst_set, other_set, gold_set, world)


def run_export(project: Project, format: str, scope: str = "all", filters: dict[str, Any] | None = None) -> bytes:
    """Export through the real job service and return the stored file's bytes."""
    job = exporting.export_job_create(project=project, format=format, scope=scope, filters=filters, actor=None)
    job = exporting.export_job_run(job.pk)
    assert job is not None
    assert job.status == "done", job.error
    with job.output_file.open("rb") as stored:
        return stored.read()


def finished_job(project: Project, format: str, **kwargs: Any) -> Job:
    job = exporting.export_job_create(project=project, format=format, actor=None, **kwargs)
    result = exporting.export_job_run(job.pk)
    assert result is not None
    return result


@pytest.fixture
def as_stream() -> Any:
    return lambda data: io.BytesIO(data)
