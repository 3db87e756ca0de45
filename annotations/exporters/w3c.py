"""W3C Web Annotation (JSON-LD, http://www.w3.org/ns/anno.jsonld).

The file is one AnnotationCollection whose first (and only) AnnotationPage
holds every annotation. A span becomes an annotation with motivation
"tagging": its label is a TextualBody with purpose "tagging", each attribute
a TextualBody with purpose "describing" and value "name=value", the note a
TextualBody with purpose "commenting". Its target names the document by
"urn:uuid:<document uuid>" and carries a TextQuoteSelector (exact, plus up
to 32 characters of prefix and suffix) and a TextPositionSelector.
Positions count Unicode code points, as the Web Annotation model requires
(not UTF-16 units), so they equal Claimbench offsets. A relation becomes a
"linking" annotation whose target is the source span's annotation and whose
body is the target span's annotation plus a TextualBody naming the type.
The collection states the snapshot (`generated`) and, under the
Claimbench-specific key "claimbench:manifest" (an IRI, kept by JSON-LD
processors), the scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, BinaryIO, ClassVar

from annotations.exporters.base import ExportDocument, ExportSet, ExportSpan, Manifest

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
CONTEXT_AFFIX = 32
MANIFEST_KEY = "https://claimbench.example/ns#manifest"


def urn(uuid: str) -> str:
    return f"urn:uuid:{uuid}"


def _creator(annotation_set: ExportSet) -> dict[str, Any]:
    if annotation_set.is_gold:
        return {"type": "Software", "name": "Claimbench gold"}
    return {"type": "Person", "nickname": annotation_set.annotator or ""}


def span_annotation(document: ExportDocument, annotation_set: ExportSet, span: ExportSpan) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = [{"type": "TextualBody", "purpose": "tagging", "value": span.label}]
    for name, value in sorted(span.attributes.items()):
        bodies.append({"type": "TextualBody", "purpose": "describing", "value": f"{name}={value}"})
    if span.note:
        bodies.append({"type": "TextualBody", "purpose": "commenting", "value": span.note})
    text = document.text
    return {
        "id": urn(span.uuid),
        "type": "Annotation",
        "motivation": "tagging",
        "creator": _creator(annotation_set),
        "body": bodies,
        "target": {
            "source": urn(document.uuid),
            "selector": [
                {
                    "type": "TextQuoteSelector",
                    "exact": span.quote,
                    "prefix": text[max(0, span.start - CONTEXT_AFFIX) : span.start],
                    "suffix": text[span.end : span.end + CONTEXT_AFFIX],
                },
                {"type": "TextPositionSelector", "start": span.start, "end": span.end},
            ],
        },
    }


def set_annotations(document: ExportDocument, annotation_set: ExportSet) -> Iterable[dict[str, Any]]:
    uuids = {span.id: span.uuid for span in annotation_set.spans}
    for span in annotation_set.spans:
        yield span_annotation(document, annotation_set, span)
    for relation in annotation_set.relations:
        bodies: list[Any] = [urn(uuids[relation.target_id])]
        bodies.append({"type": "TextualBody", "purpose": "tagging", "value": relation.type})
        if relation.note:
            bodies.append({"type": "TextualBody", "purpose": "commenting", "value": relation.note})
        yield {
            "id": urn(relation.uuid),
            "type": "Annotation",
            "motivation": "linking",
            "creator": _creator(annotation_set),
            "body": bodies,
            "target": urn(uuids[relation.source_id]),
        }


class W3cExporter:
    key: ClassVar[str] = "w3c"
    label: ClassVar[str] = "W3C Web Annotation (JSON-LD)"
    extension: ClassVar[str] = ".jsonld"
    media_type: ClassVar[str] = "application/ld+json"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        head = {
            "@context": CONTEXT,
            "type": "AnnotationCollection",
            "label": f"{manifest.project}: {manifest.scope} annotations",
            "generated": manifest.snapshot_at,
            MANIFEST_KEY: json.dumps(manifest.as_dict(), sort_keys=True),
        }
        # Written piecewise: the page's items stream out, and the head is closed by hand.
        out.write(json.dumps(head, ensure_ascii=False)[:-1].encode())
        out.write(b', "first": {"type": "AnnotationPage", "items": [\n')
        total = 0
        for document in documents:
            for annotation_set in document.sets:
                for annotation in set_annotations(document, annotation_set):
                    if total:
                        out.write(b",\n")
                    out.write(json.dumps(annotation, ensure_ascii=False).encode())
                    total += 1
        out.write(f'\n]}}, "total": {total}}}\n'.encode())
