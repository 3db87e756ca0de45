"""On PostgreSQL, JSONL and CSV are rendered by SQL (annotations/services/exporting_sql.py); the bytes
must be exactly those the Python exporters write from the same snapshot, for every scope and filter,
including the values that are hard to escape or to compact."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection

from annotations.exporters import get_exporter
from annotations.models import Document, Relation, Span
from annotations.services import exporting
from annotations.services.documents import document_create
from tests.annotations.exporters.conftest import run_export

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQL renderer is PostgreSQL's; on SQLite every export takes the Python path the other tests cover",
)

FORMATS = ("jsonl", "csv")
CASES: list[tuple[str, dict[str, Any]]] = [
    ("all", {}),
    ("submitted", {}),
    ("gold", {}),
    ("all", {"labels": ["claim", "counter-claim"]}),
    ("all", {"labels": ["attribution"]}),
    ("all", {"states": ["in_progress", "assigned"]}),
    ("all", {"date_from": "2000-01-01", "date_to": "2999-12-31"}),
]


def _hard_values(annotated: Any) -> None:
    """Values the SQL must escape, compact and sort exactly as orjson and the csv rules do."""
    spans = list(Span.objects.filter(annotation_set=annotated.analyst_set).order_by("pk"))
    hard = [
        {"source_entity": 'back\\slash "quoted": yes, "no"', "quote": "direct", "source_type": "author"},
        {"z": True, "a": None, "mm": 7, "b": 2.5, "nested": [1, "a, b: c", {"a": 1, "b": [True]}]},
        {"note": "ctrl \x01\x1f\t\r\n del \x7f and \u2028 😀 «Время»"},
        {"only": "=SUM(A1)"},
        # A plain replace() of ", \"" and "\": " would eat the spaces inside these strings.
        {"a": ": starts like a separator", "b": "ends like one, ", "c": 1.5},
    ]
    for span, attributes in zip(spans, hard, strict=False):
        Span.objects.filter(pk=span.pk).update(attributes=attributes)
    Span.objects.filter(pk=spans[-1].pk).update(
        note='-starts with a minus, has "quotes"\r\nand a break', provenance={"from": ["a", "b"], "k": {"x": 1}}
    )
    Span.objects.filter(pk=spans[0].pk).update(provenance=[])  # falsy: written as no provenance at all
    # A label and a relation type the schema no longer has take the general escaping, not the schema's.
    Span.objects.filter(pk=spans[1].pk).update(label='=old, "label"')
    relation = Relation.objects.filter(annotation_set=annotated.analyst_set).order_by("pk").first()
    Relation.objects.filter(pk=relation.pk).update(
        attributes={"b": "x", "a": 'y"'}, note="@mention\ttab", provenance={"decision": "kept"}, type='legacy "type"'
    )
    # A second link from one span: the CSV links cell lists both, in relation order.
    source = Span.objects.get(pk=relation.source_id)
    claims = Span.objects.filter(annotation_set=annotated.analyst_set, label="claim").order_by("pk")
    second_target = claims.exclude(pk=relation.target_id).first()
    Relation.objects.create(annotation_set=annotated.analyst_set, type="sources", source=source, target=second_target)
    Document.objects.filter(pk=annotated.document.pk).update(
        outlet="Outlet, «Время»", author='He said "no"', language="en", external_id="=cmd|' /C calc'!A0"
    )
    document_create(project=annotated.project, text="A bare document, no sets.", title="+bare", actor=None)


def _python_then_sql(project: Any, format: str, scope: str, raw_filters: dict[str, Any]) -> tuple[bytes, bytes]:
    filters = exporting.export_filters_parse(project, raw_filters)
    exporter = get_exporter(format)
    by_python, by_sql = io.BytesIO(), io.BytesIO()
    python_counts, sql_counts = exporting._Counts(), exporting._Counts()
    with exporting._snapshot():
        exporter.write(exporting.export_documents(project, scope, filters, python_counts), by_python, None)
        exporter.write_rendered(
            exporting.export_rendered(project, format, scope, filters, sql_counts, chunk_size=1), by_sql, None
        )
    assert sql_counts == python_counts
    return by_python.getvalue(), by_sql.getvalue()


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize(("scope", "filters"), CASES)
def test_sql_renders_the_same_bytes_as_the_python_exporter(annotated, format, scope, filters):
    _hard_values(annotated)
    by_python, by_sql = _python_then_sql(annotated.project, format, scope, filters)
    assert by_python, "the case exports something"
    assert by_sql == by_python


def test_the_hard_values_really_are_in_the_export(annotated):
    _hard_values(annotated)
    _, jsonl = _python_then_sql(annotated.project, "jsonl", "all", {})
    assert b'back\\\\slash \\"quoted\\": yes' in jsonl and b"\\u0001\\u001f\\t\\r\\n" in jsonl
    assert b'"provenance":{"k":{"x":1},"from":["a","b"]}' in jsonl, "jsonb's key order, compact"
    assert b'{"a":": starts like a separator","b":"ends like one, ","c":1.5}' in jsonl
    assert b'"label":"=old, \\"label\\""' in jsonl and b'"type":"legacy \\"type\\""' in jsonl
    _, csv = _python_then_sql(annotated.project, "csv", "all", {})
    assert b'"\'-starts with a minus, has ""quotes""\r\nand a break"' in csv
    assert b',"\'=old, ""label""",' in csv
    assert b'"legacy ""type"" ' in csv and b"; sources " in csv, "two links from one span, one cell"
    assert b'"{""a"":null,""b"":2.5,""mm"":7,""nested"":[1,""a, b: c"",{""a"":1,""b"":[true]}],""z"":true}"' in csv


def test_a_job_renders_on_parallel_readers_in_one_snapshot(transactional_db, annotated, settings, monkeypatch):
    # Outside a test transaction the job exports its snapshot and reader connections import it.
    _hard_values(annotated)
    settings.CLAIMBENCH_EXPORT_READERS = 2
    monkeypatch.setattr(exporting, "RENDER_CHUNK_DOCUMENTS", 1)  # a chunk per document, so readers share them
    parallel_runs = []
    render_in_parallel = exporting._render_in_parallel

    def counted(*args: Any) -> Any:
        parallel_runs.append(args[1])
        return render_in_parallel(*args)

    monkeypatch.setattr(exporting, "_render_in_parallel", counted)
    for format in FORMATS:
        exported = run_export(annotated.project, format)
        by_python, _ = _python_then_sql(annotated.project, format, "all", {})
        assert exported == by_python
    assert len(parallel_runs) == 2 and min(parallel_runs) >= 2, "both exports rendered by readers, a chunk each"
