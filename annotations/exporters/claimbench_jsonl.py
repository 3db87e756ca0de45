"""Claimbench JSON Lines: full fidelity, the shape annotations/importers/claimbench_jsonl.py reads.

One document per line:

    {"uuid": "…", "title": "…", "text": "…",
     "metadata": {"source_url": …, "outlet": …, "author": …, "published": "2024-05-28", "language": …,
                  "external_id": …},
     "sets": [{"annotator": "alice", "gold": false, "state": "submitted",
               "spans": [{"id": "s1", "label": "claim", "start": 10, "end": 42, "quote": "…",
                          "attributes": {…}, "note": ""}],
               "relations": [{"type": "sources", "source": "s2", "target": "s1", "attributes": {}, "note": ""}]}]}

Span ids are ordinals within their set, in reading order ("s1", "s2", …), so
that an export, its re-import and the export of that re-import are equal
line for line. Lines are compact JSON (no spaces after `,` and `:`), written
by orjson. A gold span or relation carries `"provenance"` only when it
has one (where the gold item came from). The manifest (snapshot time, scope)
travels beside the file: a header line would be read as a document by every
JSON Lines reader.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, BinaryIO, ClassVar

import orjson

from annotations.exporters.base import ExportDocument, ExportSet, Manifest, write_batched


def set_record(annotation_set: ExportSet) -> dict[str, Any]:
    spans = []
    local_ids: dict[int, str] = {}
    for number, (span_id, _, label, start, end, quote, attributes, note, provenance) in enumerate(
        annotation_set.spans, start=1
    ):
        local_ids[span_id] = local_id = f"s{number}"
        item: dict[str, Any] = {
            "id": local_id,
            "label": label,
            "start": start,
            "end": end,
            "quote": quote,
            "attributes": attributes,
            "note": note,
        }
        if provenance:
            item["provenance"] = provenance
        spans.append(item)
    relations = []
    for _, _, type_, source_id, target_id, attributes, note, provenance in annotation_set.relations:
        link: dict[str, Any] = {
            "type": type_,
            "source": local_ids[source_id],
            "target": local_ids[target_id],
            "attributes": attributes,
            "note": note,
        }
        if provenance:
            link["provenance"] = provenance
        relations.append(link)
    return {
        "annotator": annotation_set.annotator,
        "gold": annotation_set.is_gold,
        "state": annotation_set.state,
        "spans": spans,
        "relations": relations,
    }


def document_record(document: ExportDocument) -> dict[str, Any]:
    return {
        "uuid": document.uuid,
        "title": document.title,
        "text": document.text,
        "metadata": document.metadata,
        "sets": [set_record(annotation_set) for annotation_set in document.sets],
    }


def encode_line(record: dict[str, Any]) -> bytes:
    """One compact JSON line, UTF-8, keys in insertion order.

    orjson is about fifteen times faster than the standard library here and
    writes the same JSON a stdlib `json.dumps(record, ensure_ascii=False,
    separators=(",", ":"))` writes; that is the fallback for the values orjson
    refuses (an integer beyond 64 bits in an attribute).
    """
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class JsonlExporter:
    key: ClassVar[str] = "jsonl"
    label: ClassVar[str] = "Claimbench JSON Lines"
    extension: ClassVar[str] = ".jsonl"
    media_type: ClassVar[str] = "application/x-ndjson"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        write_batched((encode_line(document_record(document)) for document in documents), out)

    def write_rendered(self, lines: Iterable[bytes], out: BinaryIO, manifest: Manifest) -> None:
        """Write lines the database already rendered in this format (annotations/services/exporting_sql.py)."""
        write_batched(lines, out)
