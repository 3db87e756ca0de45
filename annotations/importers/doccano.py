"""doccano JSON Lines exports (sequence labelling, and relation extraction).

Two shapes are accepted, one JSON object per line:

    {"text": "…", "label": [[10, 42, "claim"], [0, 9, "attribution"]]}

    {"text": "…",
     "entities": [{"id": 1, "label": "claim", "start_offset": 10, "end_offset": 42}],
     "relations": [{"id": 7, "from_id": 2, "to_id": 1, "type": "sources"}]}

Older exports name the text "data" instead of "text"; that is accepted too.
doccano counts offsets in Unicode code points (its backend is Python and
slices `text[start:end]`), the same unit as Claimbench, so no conversion is
needed; offsets into a text that normalisation changes (CRLF) are mapped.
doccano exports carry no quote, so there is nothing to cross-check beyond the
mapping itself.

Spans become one unowned set (annotator None, not gold): doccano writes one
file per user, and the caller names the pseudo-annotator. Span ids are the
entity ids, or "T1", "T2"… in the order of "label". Metadata keys of
Claimbench (`source_url`, `outlet`, `author`, `published`, `language`,
`external_id`) and "title" are read from the top level (metadata also from
a "meta" object); other
keys (doccano's "id", "Comments", …) are ignored. Read line by line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from annotations.importers._records import RecordBuilder, clean_metadata
from annotations.importers.base import (
    METADATA_KEYS,
    ParsedDocument,
    RowError,
)
from annotations.importers.claimbench_jsonl import JsonLinesImporter


class DoccanoImporter(JsonLinesImporter):
    key: ClassVar[str] = "doccano"
    label: ClassVar[str] = "doccano JSON Lines"

    @staticmethod
    def parse_record(value: Any, raw: bytes, source_name: str, line: int | None) -> Iterator[ParsedDocument | RowError]:
        return parse_record(value, raw, source_name, line)


def parse_record(value: Any, raw: bytes, source_name: str, line: int | None) -> Iterator[ParsedDocument | RowError]:
    """Turn one doccano record into a ParsedDocument, or RowErrors saying what is wrong."""
    if not isinstance(value, dict):
        yield RowError(source_name, line, f"expected a JSON object, got {type(value).__name__}")
        return
    text = value.get("text", value.get("data"))
    if not isinstance(text, str) or not text.strip():
        yield RowError(source_name, line, '"text" must be a non-empty string')
        return
    record = RecordBuilder(source_name=source_name, line=line, raw_text=text)
    metadata = None
    meta = value.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    declared = {key: value.get(key, meta.get(key)) for key in METADATA_KEYS}
    try:
        metadata = clean_metadata({key: item for key, item in declared.items() if item is not None})
    except ValueError as error:
        record.fail(str(error))

    builder = record.new_set("doccano set")
    has_spans = False
    if "entities" in value or "relations" in value:
        entities, relations = value.get("entities") or [], value.get("relations") or []
        if not isinstance(entities, list) or not isinstance(relations, list):
            record.fail('"entities" and "relations" must be lists')
        else:
            for index, entity in enumerate(entities, start=1):
                if not isinstance(entity, dict):
                    record.fail(f"entity {index}: expected an object")
                    continue
                has_spans = True
                builder.add_span(
                    local_id=entity.get("id"),
                    label=entity.get("label"),
                    start=entity.get("start_offset"),
                    end=entity.get("end_offset"),
                )
            for index, relation in enumerate(relations, start=1):
                if not isinstance(relation, dict):
                    record.fail(f"relation {index}: expected an object")
                    continue
                builder.add_relation(
                    type=relation.get("type"),
                    source=relation.get("from_id"),
                    target=relation.get("to_id"),
                    where=f"relation {relation.get('id', index)!r}",
                )
    else:
        labels = value.get("label", value.get("labels")) or []
        if not isinstance(labels, list):
            record.fail('"label" must be a list of [start, end, label]')
            labels = []
        for index, item in enumerate(labels, start=1):
            if isinstance(item, str):
                record.fail("this looks like a text-classification dataset (labels without offsets)")
                break
            if not (isinstance(item, list) and len(item) == 3):
                record.fail(f"label {index}: expected [start, end, label], got {item!r:.60}")
                continue
            has_spans = True
            start, end, label = item
            builder.add_span(local_id=f"T{index}", label=label, start=start, end=end)
    if has_spans:
        builder.close(annotator=None, is_gold=False)
    title = value.get("title") if isinstance(value.get("title"), str) else None
    yield from record.finish(title=title, raw_source=raw, metadata=metadata)
