"""Label Studio JSON: a list of tasks, in the shape Label Studio imports with pre-made annotations.

    [{"data": {"text": "…", "title": "…", "document_uuid": "…"},
      "annotations": [{"completed_by": {"username": "alice"}, "ground_truth": false, "result": [
          {"id": "s1", "from_name": "label", "to_name": "text", "type": "labels",
           "value": {"start": 10, "end": 42, "text": "…", "labels": ["claim"]}},
          {"id": "s1", "from_name": "check_worthy", "to_name": "text", "type": "choices",
           "value": {"start": 10, "end": 42, "text": "…", "choices": ["yes"]}},
          {"id": "s1", "from_name": "note", "to_name": "text", "type": "textarea",
           "value": {"start": 10, "end": 42, "text": ["…"]}},
          {"from_id": "s2", "to_id": "s1", "type": "relation", "direction": "right", "labels": ["sources"]}]}]}]

One task per document, one annotation per set; the gold set is the
annotation with "ground_truth": true. Label Studio's `start`/`end` count
UTF-16 code units (JavaScript string offsets), so offsets are converted
with annotations.offsets.Utf16Index; without astral characters (emoji)
they equal code points. Attributes are per-region "choices" results (free
text ones "textarea"), the note a per-region "textarea" named "note".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, BinaryIO, ClassVar

from annotations.exporters.base import ExportDocument, ExportSet, Manifest
from annotations.offsets import Utf16Index

FREE_TEXT_ATTRIBUTES = frozenset({"source_entity", "implicit_source"})


def annotation_result(annotation_set: ExportSet, index: Utf16Index) -> list[dict[str, Any]]:
    region_ids = {span.id: f"s{number}" for number, span in enumerate(annotation_set.spans, start=1)}
    result: list[dict[str, Any]] = []
    for span in annotation_set.spans:
        region = {"start": index.to_utf16(span.start), "end": index.to_utf16(span.end), "text": span.quote}
        common = {"id": region_ids[span.id], "to_name": "text"}
        result.append({**common, "from_name": "label", "type": "labels", "value": {**region, "labels": [span.label]}})
        for name, value in sorted(span.attributes.items()):
            if name in FREE_TEXT_ATTRIBUTES or not isinstance(value, str | bool):
                item = {"from_name": name, "type": "textarea", "value": {**region, "text": [str(value)]}}
            else:
                choice = str(value).lower() if isinstance(value, bool) else value
                item = {"from_name": name, "type": "choices", "value": {**region, "choices": [choice]}}
            result.append({**common, **item})
        if span.note:
            result.append({**common, "from_name": "note", "type": "textarea", "value": {**region, "text": [span.note]}})
    for relation in annotation_set.relations:
        result.append(
            {
                "from_id": region_ids[relation.source_id],
                "to_id": region_ids[relation.target_id],
                "type": "relation",
                "direction": "right",
                "labels": [relation.type],
            }
        )
    return result


def task_record(document: ExportDocument) -> dict[str, Any]:
    index = Utf16Index(document.text)
    return {
        "data": {"text": document.text, "title": document.title, "document_uuid": document.uuid},
        "annotations": [
            {
                "completed_by": {"username": annotation_set.name},
                "ground_truth": annotation_set.is_gold,
                "result": annotation_result(annotation_set, index),
            }
            for annotation_set in document.sets
        ],
    }


class LabelStudioExporter:
    key: ClassVar[str] = "label_studio"
    label: ClassVar[str] = "Label Studio JSON"
    extension: ClassVar[str] = ".json"
    media_type: ClassVar[str] = "application/json"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        out.write(b"[")
        first = True
        for document in documents:
            out.write(b"\n" if first else b",\n")
            out.write(json.dumps(task_record(document), ensure_ascii=False).encode())
            first = False
        out.write(b"\n]\n")
