"""brat, doccano and Label Studio exports read back by Claimbench's own importers keep every span and relation."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from typing import Any

from annotations.importers import ImportOptions
from annotations.importers.brat import parse_pair
from annotations.importers.doccano import DoccanoImporter
from annotations.importers.label_studio import LabelStudioImporter
from annotations.models import AnnotationSet
from tests.annotations.exporters.conftest import run_export

Item = tuple[Any, ...]


def _expected(project: Any) -> tuple[Counter[Item], Counter[Item]]:
    """(spans, relations) of every set with at least one span, keyed by document text and position."""
    spans: Counter[Item] = Counter()
    relations: Counter[Item] = Counter()
    for annotation_set in AnnotationSet.objects.filter(document__project=project).select_related("document"):
        text = annotation_set.document.text
        for span in annotation_set.spans.all():
            spans[(text, span.label, span.start, span.end)] += 1
        for relation in annotation_set.relations.select_related("source", "target"):
            relations[
                (
                    text,
                    relation.type,
                    relation.source.start,
                    relation.source.end,
                    relation.target.start,
                    relation.target.end,
                )
            ] += 1
    return spans, relations


def _parsed(documents: list[Any]) -> tuple[Counter[Item], Counter[Item]]:
    spans: Counter[Item] = Counter()
    relations: Counter[Item] = Counter()
    for document in documents:
        assert not hasattr(document, "reason"), document
        for parsed_set in document.sets:
            by_id = {span.local_id: span for span in parsed_set.spans}
            for span in parsed_set.spans:
                assert document.text[span.start : span.end] == (span.quote or document.text[span.start : span.end])
                spans[(document.text, span.label, span.start, span.end)] += 1
            for relation in parsed_set.relations:
                source, target = by_id[relation.source_local_id], by_id[relation.target_local_id]
                relations[(document.text, relation.type, source.start, source.end, target.start, target.end)] += 1
    return spans, relations


def test_brat_export_reads_back_with_every_span_and_relation(annotated):
    archive = zipfile.ZipFile(io.BytesIO(run_export(annotated.project, "brat")))
    names = archive.namelist()
    assert "annotation.conf" in names and "manifest.json" in names
    documents = []
    for name in names:
        if name.endswith(".ann"):
            txt = archive.read(name[:-4] + ".txt")
            documents.extend(
                parse_pair(txt, archive.read(name), name[:-4] + ".txt", options=ImportOptions(cleanup=False))
            )
    assert _parsed(documents) == _expected(annotated.project)
    conf = archive.read("annotation.conf").decode()
    assert "sources\tArg1:attribution, Arg2:claim|counter-claim" in conf


def test_doccano_export_reads_back_with_every_span_and_relation(annotated):
    data = run_export(annotated.project, "doccano")
    documents = list(DoccanoImporter().parse(io.BytesIO(data), "export.jsonl", ImportOptions(cleanup=False)))
    expected_spans, expected_relations = _expected(annotated.project)
    spans, relations = _parsed(documents)
    assert (spans, relations) == (expected_spans, expected_relations)
    assert all(json.loads(line)["annotator"] for line in data.splitlines())


def test_label_studio_export_reads_back_with_every_span_relation_and_gold_flag(annotated):
    data = run_export(annotated.project, "label_studio")
    documents = list(LabelStudioImporter().parse(io.BytesIO(data), "export.json", ImportOptions(cleanup=False)))
    assert _parsed(documents) == _expected(annotated.project)
    gold = [s for d in documents for s in d.sets if s.is_gold]
    assert len(gold) == 1 and gold[0].annotator is None


def test_label_studio_offsets_count_utf16_units_after_an_emoji(annotated):
    tasks = json.loads(run_export(annotated.project, "label_studio"))
    task = next(t for t in tasks if t["data"]["text"] == annotated.document.text)
    region = next(
        r["value"]
        for a in task["annotations"]
        for r in a["result"]
        if r["type"] == "labels" and r["value"]["text"] == "the bank lost money"
    )
    code_point_start = annotated.document.text.index("the bank lost money")
    assert region["start"] == code_point_start + 1, "the emoji before it counts two UTF-16 units"
