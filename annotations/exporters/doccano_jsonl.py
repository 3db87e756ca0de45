"""doccano JSONL: one line per annotation set, in the shape doccano's sequence labelling (with relations) imports.

    {"text": "…", "entities": [{"id": 1, "label": "claim", "start_offset": 10, "end_offset": 42}],
     "relations": [{"id": 1, "from_id": 2, "to_id": 1, "type": "sources"}],
     "document_uuid": "…", "title": "…", "annotator": "alice", "set_state": "submitted"}

doccano counts offsets in Python string indices (code points), like
Claimbench, so none are converted. The extra keys become the example's
metadata in doccano. Entity and relation ids are numbered within the line.
Attributes and notes have no place in this format and are left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, BinaryIO, ClassVar

from annotations.exporters.base import ExportDocument, Manifest


class DoccanoJsonlExporter:
    key: ClassVar[str] = "doccano"
    label: ClassVar[str] = "doccano JSONL"
    extension: ClassVar[str] = ".jsonl"
    media_type: ClassVar[str] = "application/x-ndjson"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        for document in documents:
            for annotation_set in document.sets:
                numbers = {span.id: number for number, span in enumerate(annotation_set.spans, start=1)}
                record: dict[str, Any] = {
                    "text": document.text,
                    "entities": [
                        {
                            "id": numbers[span.id],
                            "label": span.label,
                            "start_offset": span.start,
                            "end_offset": span.end,
                        }
                        for span in annotation_set.spans
                    ],
                    "relations": [
                        {
                            "id": number,
                            "from_id": numbers[relation.source_id],
                            "to_id": numbers[relation.target_id],
                            "type": relation.type,
                        }
                        for number, relation in enumerate(annotation_set.relations, start=1)
                    ],
                    "document_uuid": document.uuid,
                    "title": document.title,
                    "annotator": annotation_set.name,
                    "set_state": annotation_set.state,
                }
                out.write(json.dumps(record, ensure_ascii=False).encode())
                out.write(b"\n")
