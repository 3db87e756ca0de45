"""CoNLL-style BIO: one token per line, one tag column per label.

    # document_id = 12
    # document_uuid = 0b5f…
    # set = alice (submitted)
    The	0	3	O	O	O
    minister	4	12	B-attribution	O	O
    said	13	17	I-attribution	O	O

Columns: token, start, end (code points), then one BIO column per label in
the order of the header comment `# columns = …` at the top of the file.
Tokens are runs of word characters or single other non-space characters.
Nesting rule: spans of different labels never compete, since each label
has its own column. Within one label's column, overlapping spans are
resolved by "first start wins, then the longer": a token already tagged by
an earlier-starting (or, at the same start, longer) span keeps that tag, and
the later span continues only on tokens it does not share (so a
same-label span that sticks out of an earlier one extends it). A span that
covers part of a token tags the whole token. Documents and sets are
separated by a blank line; comment lines start with "# ".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import BinaryIO, ClassVar

from annotations.exporters.base import ExportDocument, ExportSet, Manifest

TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    return [(match.group(), match.start(), match.end()) for match in TOKEN.finditer(text)]


def bio_columns(tokens: list[tuple[str, int, int]], annotation_set: ExportSet, labels: list[str]) -> list[list[str]]:
    """One tag list per label, aligned with tokens, by the nesting rule in the module docstring."""
    columns = {label: ["O"] * len(tokens) for label in labels}
    starts = [start for _, start, _ in tokens]
    for span in sorted(annotation_set.spans, key=lambda s: (s.start, -s.end, s.id)):
        tags = columns[span.label]
        # Tokens overlapping [span.start, span.end): those starting before the span's end and ending after its start.
        first = max(bisect_right(starts, span.start) - 1, 0)
        last = bisect_left(starts, span.end)
        began = False
        for position in range(first, last):
            if tokens[position][2] <= span.start:
                continue
            if tags[position] == "O":
                tags[position] = ("I-" if began else "B-") + span.label
            began = True
    return [columns[label] for label in labels]


class ConllBioExporter:
    key: ClassVar[str] = "conll"
    label: ClassVar[str] = "CoNLL BIO (one column per label)"
    extension: ClassVar[str] = ".conll"
    media_type: ClassVar[str] = "text/plain"

    def write(self, documents: Iterable[ExportDocument], out: BinaryIO, manifest: Manifest) -> None:
        labels = list(manifest.labels)
        out.write(f"# snapshot_at = {manifest.snapshot_at}\n# scope = {manifest.scope}\n".encode())
        out.write(
            f"# project = {_one_line(manifest.project)}\n# columns = token start end {' '.join(labels)}\n\n".encode()
        )
        for document in documents:
            tokens = tokenize(document.text)
            for annotation_set in document.sets:
                for span in annotation_set.spans:
                    if span.label not in labels:
                        labels.append(span.label)  # a label outside the schema still gets a column, announced here
                        out.write(f"# columns = token start end {' '.join(labels)}\n".encode())
                columns = bio_columns(tokens, annotation_set, labels)
                head = f"# document_id = {document.id}\n# document_uuid = {document.uuid}\n"
                head += f"# set = {_one_line(annotation_set.name)} ({annotation_set.state})\n"
                rows = [
                    "\t".join((token, str(start), str(end), *(column[i] for column in columns)))
                    for i, (token, start, end) in enumerate(tokens)
                ]
                out.write((head + "\n".join(rows) + "\n\n").encode())


def _one_line(value: str) -> str:
    return " ".join(value.split())
