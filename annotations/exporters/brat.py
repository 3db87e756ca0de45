"""brat standoff: a ZIP with one `.txt` and one `.ann` per annotation set, an `annotation.conf` and a manifest.

Layout: `<document id>-<set name>.txt|.ann`, `annotation.conf`, `manifest.json`.
brat counts offsets in Python string indices (code points), like Claimbench.
A span is a T line (`T1<TAB>claim 10 42<TAB>quote`); the text field cannot hold a
line break, so one inside a span is written as a space there, while the
offsets stay one continuous range (what Claimbench's brat importer reads
back; brat's own editor shows such a span but flags it). A relation
is an R line (`R1<TAB>sources Arg1:T2 Arg2:T1`); an attribute with a short
value is an A line (`A1<TAB>check_worthy T1 yes`; `true` becomes a binary
attribute, `false` is left out); a free-text attribute and the note become
AnnotatorNotes lines (`#1<TAB>AnnotatorNotes T1<TAB>source_entity: …`).
`annotation.conf` lists the labels, relation argument types and attribute
values that occur in the export.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from typing import BinaryIO, ClassVar

from annotations.exporters.base import ExportDocument, ExportSet, Manifest

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_BRAT_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")


def file_stem(document: ExportDocument, annotation_set: ExportSet) -> str:
    return f"{document.id}-{_SAFE_NAME.sub('_', annotation_set.name)}"


def _one_line(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ").replace("\t", " ")


class _Conf:
    def __init__(self) -> None:
        self.labels: set[str] = set()
        self.relations: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        self.attributes: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))

    def render(self) -> str:
        lines = ["[entities]", *sorted(self.labels), "", "[relations]"]
        for name, (sources, targets) in sorted(self.relations.items()):
            lines.append(f"{name}\tArg1:{'|'.join(sorted(sources))}, Arg2:{'|'.join(sorted(targets))}")
        lines += ["", "[events]", "", "[attributes]"]
        for name, (labels, values) in sorted(self.attributes.items()):
            line = f"{name}\tArg:{'|'.join(sorted(labels))}"
            if values:
                line += f", Value:{'|'.join(sorted(values))}"
            lines.append(line)
        return "\n".join(lines) + "\n"


def ann_text(document: ExportDocument, annotation_set: ExportSet, conf: _Conf) -> str:
    lines: list[str] = []
    t_ids: dict[int, str] = {}
    labels: dict[int, str] = {}
    attribute_count = 0
    note_count = 0
    for number, span in enumerate(annotation_set.spans, start=1):
        t_id = f"T{number}"
        t_ids[span.id] = t_id
        labels[span.id] = span.label
        conf.labels.add(span.label)
        lines.append(f"{t_id}\t{span.label} {span.start} {span.end}\t{_one_line(span.quote)}")
        for name, value in sorted(span.attributes.items()):
            if value is True:
                attribute_count += 1
                lines.append(f"A{attribute_count}\t{name} {t_id}")
                conf.attributes[name][0].add(span.label)
            elif isinstance(value, str) and _BRAT_VALUE.match(value):
                attribute_count += 1
                lines.append(f"A{attribute_count}\t{name} {t_id} {value}")
                conf.attributes[name][0].add(span.label)
                conf.attributes[name][1].add(value)
            elif value is not False:
                note_count += 1
                lines.append(f"#{note_count}\tAnnotatorNotes {t_id}\t{name}: {_one_line(str(value))}")
        if span.note:
            note_count += 1
            lines.append(f"#{note_count}\tAnnotatorNotes {t_id}\t{_one_line(span.note)}")
    for number, relation in enumerate(annotation_set.relations, start=1):
        lines.append(f"R{number}\t{relation.type} Arg1:{t_ids[relation.source_id]} Arg2:{t_ids[relation.target_id]}")
        sources, targets = conf.relations[relation.type]
        sources.add(labels[relation.source_id])
        targets.add(labels[relation.target_id])
    return "".join(line + "\n" for line in lines)


class BratExporter:
    key: ClassVar[str] = "brat"
    label: ClassVar[str] = "brat standoff (ZIP)"
    extension: ClassVar[str] = ".zip"
    media_type: ClassVar[str] = "application/zip"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        conf = _Conf()
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for document in documents:
                for annotation_set in document.sets:
                    stem = file_stem(document, annotation_set)
                    archive.writestr(f"{stem}.txt", document.text)
                    archive.writestr(f"{stem}.ann", ann_text(document, annotation_set, conf))
            archive.writestr("annotation.conf", conf.render())
            archive.writestr("manifest.json", json.dumps(manifest.as_dict(), indent=2, ensure_ascii=False))
