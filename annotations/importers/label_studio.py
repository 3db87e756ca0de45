"""Label Studio JSON exports: a JSON list of tasks over a `<Text>` object.

Accepted shape (the "JSON" export of a text project; other keys are ignored):

    [
      {"id": 1,
       "data": {"text": "…", "title": "…", "source_url": "…", …},
       "annotations": [
         {"completed_by": 3, "ground_truth": false, "was_cancelled": false,
          "result": [
            {"id": "r1", "type": "labels", "from_name": "label", "to_name": "text",
             "value": {"start": 10, "end": 42, "text": "…", "labels": ["claim"]},
             "meta": {"text": ["a note"]}},
            {"id": "r1", "type": "choices", "from_name": "check_worthy",
             "value": {"choices": ["yes"]}},
            {"type": "relation", "from_id": "r2", "to_id": "r1", "direction": "right",
             "labels": ["sources"]}
          ]}
       ],
       "predictions": [{"model_version": "…", "result": [ … as above … ]}]}
    ]

Offsets. Label Studio measures `value.start`/`value.end` in the browser, in
JavaScript string positions: UTF-16 code units, where an emoji counts two.
They are converted to code points with `annotations.offsets.Utf16Index`,
then `value.text`, when present, must equal the text at the converted
offsets; a mismatch is a row error (with a hint when the offsets were
evidently written in code points by some other tool: they are not guessed).

Sets. Each annotation is a set: `ground_truth: true` makes it the gold set;
otherwise its annotator is the user's e-mail when the export embeds the user
object, or "label-studio-<id>" for the numeric user id of current exports (the
caller maps these to its users). Cancelled annotations are skipped. Each
prediction becomes an unowned set (annotator None, not gold) for a
pseudo-annotator the caller chooses. Per-region results that share a
region's id (`choices`, `textarea`, `number`, `rating`, `taxonomy`) become
span attributes named by `from_name` (a `textarea` named "note" is the span's
note, as is the region's `meta.text`). A region must have exactly one label,
a relation exactly one label and direction "right" (or "left", reversed).

Reading. The file is parsed task by task from the stream: only one task's
JSON is held at a time, so memory stays flat for large exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from annotations.importers._records import RecordBuilder, SetBuilder, clean_metadata, preview
from annotations.importers._streams import JsonArrayError, iter_json_array
from annotations.importers.base import (
    METADATA_KEYS,
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    ParsedDocument,
    RowError,
)
from annotations.offsets import Utf16Index
from annotations.text import UndecodableText

_REGION_RESULT_TYPES = {
    "choices": "choices",
    "textarea": "text",
    "number": "number",
    "rating": "rating",
    "taxonomy": "taxonomy",
}


class LabelStudioImporter(ImporterBase):
    key: ClassVar[str] = "label_studio"
    label: ClassVar[str] = "Label Studio JSON export"
    extensions: ClassVar[tuple[str, ...]] = (".json",)

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        try:
            for item in iter_json_array(stream, limit=options.max_file_bytes):
                yield from parse_task(item.value, item.source.encode("utf-8"), source_name, item.line, item.index)
        except JsonArrayError as error:
            yield RowError(source_name, error.line, f"{error} (expected a JSON list of Label Studio tasks)")
        except (UndecodableText, LimitExceeded) as error:
            yield RowError(source_name, None, str(error))

    def count_hint(self, stream: BinaryIO) -> int | None:
        return None


def annotator_name(completed_by: object) -> str | None:
    """A username for Label Studio's `completed_by`: the embedded e-mail, or "label-studio-<id>"."""
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("email") or completed_by.get("username") or completed_by.get("id")
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return f"label-studio-{completed_by}"
    if isinstance(completed_by, str) and completed_by.strip():
        return completed_by.strip()
    return None


def parse_task(task: Any, raw: bytes, source_name: str, line: int, index: int) -> Iterator[ParsedDocument | RowError]:
    """Turn one task into a ParsedDocument, or RowErrors (reported at the line where the task starts)."""
    data = task.get("data") if isinstance(task, dict) else None
    if not isinstance(data, dict):
        yield RowError(source_name, line, f'task {index}: expected an object with a "data" object')
        return
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        yield RowError(source_name, line, f'task {index}: "data.text" must be a non-empty string')
        return
    record = RecordBuilder(source_name=source_name, line=line, raw_text=text)
    metadata = None
    try:
        metadata = clean_metadata({key: data[key] for key in METADATA_KEYS if data.get(key) is not None})
    except ValueError as error:
        record.fail(f"task {index}: {error}")
    positions = Utf16Index(text)

    annotations = task.get("annotations", task.get("completions")) or []
    predictions = task.get("predictions") or []
    if not isinstance(annotations, list) or not isinstance(predictions, list):
        record.fail(f'task {index}: "annotations" and "predictions" must be lists')
        annotations, predictions = [], []
    for number, annotation in enumerate(annotations, start=1):
        if not isinstance(annotation, dict):
            record.fail(f"task {index}, annotation {number}: expected an object")
            continue
        if annotation.get("was_cancelled"):
            continue
        is_gold = annotation.get("ground_truth") is True
        annotator = None if is_gold else annotator_name(annotation.get("completed_by"))
        where = f"task {index}, annotation {annotation.get('id', number)}"
        builder = record.new_set(where)
        _parse_results(record, builder, annotation.get("result"), positions, where)
        builder.close(annotator=annotator, is_gold=is_gold)
    for number, prediction in enumerate(predictions, start=1):
        if not isinstance(prediction, dict):
            record.fail(f"task {index}, prediction {number}: expected an object")
            continue
        where = f"task {index}, prediction {number}"
        builder = record.new_set(where)
        _parse_results(record, builder, prediction.get("result"), positions, where)
        builder.close(annotator=None, is_gold=False)

    title = data.get("title") if isinstance(data.get("title"), str) else None
    yield from record.finish(title=title, raw_source=raw, metadata=metadata)


def _parse_results(
    record: RecordBuilder, builder: SetBuilder, results: object, positions: Utf16Index, where: str
) -> None:
    if results is None:
        results = []
    if not isinstance(results, list):
        record.fail(f'{where}: "result" must be a list')
        return
    regions: dict[str, dict[str, Any]] = {}
    region_results: list[dict[str, Any]] = []
    relations: list[dict[str, Any]] = []
    for number, result in enumerate(results, start=1):
        kind = result.get("type") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(kind, str):
            record.fail(f"{where}, result {number}: expected an object with a type")
        elif kind == "labels":
            region_id = result.get("id")
            if not isinstance(region_id, str) or not region_id:
                record.fail(f"{where}, result {number}: a labels result needs an id")
            elif region_id in regions:
                record.fail(f"{where}, region {preview(region_id)}: the id is used twice")
            else:
                regions[region_id] = result
        elif kind == "relation":
            relations.append(result)
        elif kind in _REGION_RESULT_TYPES:
            region_results.append(result)
        else:
            record.fail(f"{where}, result {number}: result type {preview(kind)} is not supported")

    attributes: dict[str, dict[str, Any]] = {region_id: {} for region_id in regions}
    notes: dict[str, list[str]] = {region_id: [] for region_id in regions}
    for region_id, region in regions.items():
        meta = region.get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("text"), list):
            notes[region_id].extend(str(note) for note in meta["text"])
    for result in region_results:
        _region_attribute(record, result, attributes, notes, where)

    for region_id, region in regions.items():
        _add_region(record, builder, region_id, region, positions, attributes[region_id], notes[region_id], where)
    for number, relation in enumerate(relations, start=1):
        _add_relation(record, builder, relation, number, where)


def _region_attribute(
    record: RecordBuilder,
    result: dict[str, Any],
    attributes: dict[str, dict[str, Any]],
    notes: dict[str, list[str]],
    where: str,
) -> None:
    kind, region_id, name = result["type"], result.get("id"), result.get("from_name")
    value = result.get("value")
    if region_id not in attributes:
        record.fail(f"{where}: a document-level {kind!r} result ({preview(str(name))}) is not supported")
        return
    if not isinstance(name, str) or not name or not isinstance(value, dict):
        record.fail(f"{where}, region {preview(str(region_id))}: a {kind!r} result needs from_name and value")
        return
    content = value.get(_REGION_RESULT_TYPES[kind])
    if kind == "textarea":
        content = "\n".join(str(part) for part in content) if isinstance(content, list) else content
        if name == "note" and isinstance(content, str):
            notes[region_id].append(content)
            return
    if kind == "choices" and isinstance(content, list) and len(content) == 1:
        content = content[0]
    attributes[region_id][name] = content


def _add_region(
    record: RecordBuilder,
    builder: SetBuilder,
    region_id: str,
    region: dict[str, Any],
    positions: Utf16Index,
    attributes: dict[str, Any],
    notes: list[str],
    where: str,
) -> None:
    value = region.get("value")
    labels = value.get("labels") if isinstance(value, dict) else None
    region_where = f"{where}, region {preview(region_id)}"
    if not isinstance(value, dict) or not isinstance(labels, list) or len(labels) != 1:
        record.fail(f"{region_where}: a region needs exactly one label in value.labels")
        return
    start, end = value.get("start"), value.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        record.fail(f"{region_where}: value.start and value.end must be integers")
        return
    try:
        code_start, code_end = positions.to_codepoint(start), positions.to_codepoint(end)
    except ValueError as error:
        record.fail(f"{region_where}: UTF-16 offsets {start}..{end} do not fit the text: {error}")
        return
    quote = value.get("text")
    text = record.raw_text
    if isinstance(quote, str) and text[code_start:code_end] != quote:
        hint = ""
        if text[start:end] == quote:
            hint = (
                "; the text matches if the offsets are read as code points, so the file was probably "
                "written by a tool that does not count like Label Studio"
            )
        record.fail(
            f"{region_where}: quote mismatch: the text at UTF-16 {start}..{end} reads "
            f"{preview(text[code_start:code_end])}, value.text says {preview(quote)}{hint}"
        )
        return
    builder.add_span(
        local_id=region_id,
        label=labels[0],
        start=code_start,
        end=code_end,
        quote=quote,
        attributes=attributes,
        note="\n".join(notes),
    )


def _add_relation(
    record: RecordBuilder, builder: SetBuilder, relation: dict[str, Any], number: int, where: str
) -> None:
    source, target = relation.get("from_id"), relation.get("to_id")
    labels = relation.get("labels")
    direction = relation.get("direction", "right")
    label = f"relation {number} ({source!s:.20} → {target!s:.20})"
    if direction == "left":
        source, target = target, source
    elif direction != "right":
        record.fail(f"{where}, {label}: direction {preview(str(direction))} is not supported (only right or left)")
        return
    if not isinstance(labels, list) or len(labels) != 1:
        record.fail(f"{where}, {label}: a relation needs exactly one label")
        return
    builder.add_relation(type=labels[0], source=source, target=target, where=label)
