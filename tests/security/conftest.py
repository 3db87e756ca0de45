"""Security fixtures: a victim project with one object behind every kind of id a route takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps

from annotations.models import AnnotationSet, ApiToken, Job, JobKind, JobStatus, Relation, Span
from annotations.services import annotating, exporting, projects, tokens


@dataclass
class Victim:
    """`world`'s project filled in: spans, a relation, gold, an import and a finished export, a token."""

    world: Any
    span: Span
    relation: Relation
    gold_set: AnnotationSet
    import_job: Job
    export_job: Job
    token: ApiToken
    token_secret: str


def _span(annotation_set: AnnotationSet, actor: Any, label: str, quote: str, **kwargs: Any) -> Span:
    annotation_set.refresh_from_db()
    start = annotation_set.document.text.index(quote)
    return annotating.span_create(
        annotation_set=annotation_set, label=label, start=start, end=start + len(quote), quote=quote,
        actor=actor, expected_version=annotation_set.version, **kwargs,
    )  # fmt: skip


@pytest.fixture
def victim(world: Any) -> Victim:
    analyst_set = world.analyst_set
    said = _span(analyst_set, world.analyst, "attribution", "The minister said")
    claim = _span(analyst_set, world.analyst, "claim", "taxes will fall next year", note="analyst's private note")
    analyst_set.refresh_from_db()
    relation = annotating.relation_create(
        annotation_set=analyst_set, type="sources", source=said, target=claim,
        actor=world.analyst, expected_version=analyst_set.version,
    )  # fmt: skip
    _span(world.other_set, world.other_analyst, "claim", "the budget shows a rise of 4 percent")
    gold_set = projects.gold_set_get_or_create(document=world.document)
    import_job = Job.objects.create(
        project=world.project, kind=JobKind.IMPORT, format="jsonl", status=JobStatus.FAILED, error="row 1: broken"
    )
    export = exporting.export_job_create(project=world.project, format="jsonl", actor=None)
    export_job = exporting.export_job_run(export.pk)
    assert export_job is not None and export_job.status == JobStatus.DONE, export_job and export_job.error
    created = tokens.api_token_create(user=world.analyst, name="analyst's script")
    for annotation_set in (analyst_set, world.other_set):
        annotation_set.refresh_from_db()
    return Victim(world, claim, relation, gold_set, import_job, export_job, created.token, created.secret)


# Rows that legitimately change on any request (sessions, lockout bookkeeping) are not "the data".
_VOLATILE_MODELS = {"sessions.session", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}


def database_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model, as plain values: equal snapshots mean nothing was written."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in _VOLATILE_MODELS:
            continue
        rows = []
        for row in model._default_manager.order_by("pk").values():
            rows.append({k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()})
        snapshot[label] = rows
    return snapshot
