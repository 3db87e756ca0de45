"""brat standoff: a `.txt` document and its `.ann` annotations, paired by file stem.

The .ann lines read (fields separated by a tab):

    T1  claim 10 42  the text of the span          a span: label, start, end, text
    T2  attribution 0 9;12 20  …                    discontinuous: refused, with its line
    R1  sources Arg1:T2 Arg2:T1                     relation: type, Arg1 = source, Arg2 = target
    A1  quote T2 direct                             attribute with a value on a span
    A2  hedged T1                                   binary attribute: value true
    #1  AnnotatorNotes T1  a note                   a note on a span or a relation

(M lines, brat's old name for attributes, are read like A lines.) Events,
normalisations and equivalences (E, N, *) are not part of Claimbench's
schema and are reported.

Offsets are code points into the .txt as brat reads it (UTF-8, a BOM
counting as one character), so they are mapped through normalisation; the
text after the offsets must match the document (a newline in the document
matching a space in the .ann, which cannot hold one). A pair is one record:
all spans land, or the document is reported with one error per bad line.
brat files carry no annotator: the spans form one unowned set.

Upload pairs in a ZIP (the archive importer pairs `dir/doc.txt` with
`dir/doc.ann`); `parse_pair` reads one pair given as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO, ClassVar

from annotations.importers._records import RecordBuilder, preview
from annotations.importers._streams import prepend
from annotations.importers.base import (
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    ParsedDocument,
    RowError,
)
from annotations.importers.plain_text import decode_file
from annotations.text import UndecodableText

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class BratImporter(ImporterBase):
    key: ClassVar[str] = "brat"
    label: ClassVar[str] = "brat standoff (.txt + .ann pairs in a ZIP)"
    extensions: ClassVar[tuple[str, ...]] = (".ann",)

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        """Read a ZIP of .txt/.ann pairs; a lone .ann cannot be read without its text."""
        head = stream.read(4)
        if head in _ZIP_MAGIC:
            # Imported here: the archive importer itself reads brat pairs with parse_pair.
            from annotations.importers.archive import ArchiveImporter

            yield from ArchiveImporter().parse(prepend(head, stream), source_name, options)
            return
        yield RowError(
            source_name,
            None,
            "a brat .ann file needs its .txt: upload both, with the same name, in a ZIP archive",
        )

    def count_hint(self, stream: BinaryIO) -> int | None:
        return None


def _decode_brat_text(raw: bytes) -> str:
    text = decode_file(raw)
    # brat opens the .txt as plain UTF-8, so a BOM is a character its offsets count.
    return "\ufeff" + text if raw.startswith(b"\xef\xbb\xbf") else text


def parse_pair(
    txt_bytes: bytes,
    ann_bytes: bytes,
    source_name: str,
    *,
    ann_source_name: str | None = None,
    options: ImportOptions | None = None,
) -> Iterator[ParsedDocument | RowError]:
    """Read one brat document: `source_name` names the .txt, `ann_source_name` the .ann (errors cite its lines)."""
    options = options or ImportOptions()
    ann_name = ann_source_name or str(PurePosixPath(source_name).with_suffix(".ann"))
    try:
        if len(txt_bytes) > options.max_file_bytes or len(ann_bytes) > options.max_file_bytes:
            raise LimitExceeded(f"the pair is larger than the limit of {options.max_file_bytes:,} bytes")
        raw_text = _decode_brat_text(txt_bytes)
    except (UndecodableText, LimitExceeded) as error:
        yield RowError(source_name, None, str(error))
        return
    try:
        ann_text = decode_file(ann_bytes)
    except UndecodableText as error:
        yield RowError(ann_name, None, str(error))
        return
    record = RecordBuilder(source_name=source_name, line=None, raw_text=raw_text, error_source_name=ann_name)
    spans: dict[str, dict[str, Any]] = {}
    relations: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(ann_text.lstrip("\ufeff").split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            _read_line(record, line, number, spans, relations)

    builder = record.new_set("brat")
    for span_id, span in spans.items():
        builder.add_span(
            local_id=span_id,
            label=span["label"],
            start=span["start"],
            end=span["end"],
            quote=span["quote"],
            attributes=span["attributes"],
            note="\n".join(span["notes"]),
            line=span["line"],
            newline_matches_space=True,
        )
    for relation_id, relation in relations.items():
        builder.add_relation(
            type=relation["type"],
            source=relation["source"],
            target=relation["target"],
            note="\n".join(relation["notes"]),
            where=f"relation {relation_id}",
            line=relation["line"],
        )
    if spans:
        builder.close(annotator=None, is_gold=False)
    yield from record.finish(title=None, raw_source=txt_bytes)


def _read_line(
    record: RecordBuilder,
    line: str,
    number: int,
    spans: dict[str, dict[str, Any]],
    relations: dict[str, dict[str, Any]],
) -> None:
    fields = line.split("\t")
    ident = fields[0].strip()
    kind = ident[:1]
    if ident in spans or ident in relations:
        record.fail(f"{ident}: the id is used twice", number)
    elif kind == "T":
        _read_span(record, ident, fields, number, spans)
    elif kind == "R":
        parts = fields[1].split() if len(fields) > 1 else []
        arguments = dict(part.split(":", 1) for part in parts[1:] if ":" in part)
        if len(parts) != 3 or set(arguments) != {"Arg1", "Arg2"}:
            record.fail(f"{ident}: expected 'type Arg1:T… Arg2:T…', got {preview(line)}", number)
            return
        relations[ident] = {
            "type": parts[0],
            "source": arguments["Arg1"],
            "target": arguments["Arg2"],
            "notes": [],
            "line": number,
        }
    elif kind in ("A", "M"):
        parts = fields[1].split() if len(fields) > 1 else []
        if len(parts) not in (2, 3):
            record.fail(f"{ident}: expected 'name T… [value]', got {preview(line)}", number)
        elif parts[1] not in spans:
            record.fail(f"{ident}: attribute on {preview(parts[1])}, which is not a span defined above", number)
        else:
            spans[parts[1]]["attributes"][parts[0]] = parts[2] if len(parts) == 3 else True
    elif kind == "#":
        parts = fields[1].split() if len(fields) > 1 else []
        target = parts[1] if len(parts) == 2 else None
        owner = spans.get(target or "") or relations.get(target or "")
        if owner is None or len(fields) < 3:
            record.fail(f"{ident}: expected a note on a span or relation defined above, got {preview(line)}", number)
        else:
            owner["notes"].append("\t".join(fields[2:]))
    elif kind in ("E", "N", "*"):
        record.fail(
            f"{ident}: brat {kind} annotations (events, normalisations, equivalences) are not supported", number
        )
    else:
        record.fail(f"unrecognised line {preview(line)}", number)


def _read_span(record: RecordBuilder, ident: str, fields: list[str], number: int, spans: dict[str, Any]) -> None:
    parts = fields[1].split(" ", 1) if len(fields) > 1 else []
    if len(parts) != 2 or len(fields) < 3:
        record.fail(f"{ident}: expected 'label start end<TAB>text', got {preview(chr(9).join(fields))}", number)
        return
    label, offsets = parts
    if ";" in offsets:
        record.fail(
            f"{ident}: discontinuous span ({offsets}); Claimbench spans are one contiguous stretch, "
            "so split it into separate spans in brat first",
            number,
        )
        return
    bounds = offsets.split()
    if len(bounds) != 2 or not all(bound.isascii() and bound.isdigit() for bound in bounds):
        record.fail(f"{ident}: offsets {preview(offsets)} are not 'start end'", number)
        return
    spans[ident] = {
        "label": label,
        "start": int(bounds[0]),
        "end": int(bounds[1]),
        "quote": "\t".join(fields[2:]),
        "attributes": {},
        "notes": [],
        "line": number,
    }
