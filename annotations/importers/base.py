"""The contract every import format implements, and the plain data it yields.

An importer turns the bytes of one uploaded file into a stream of
`ParsedDocument` (a document, with any annotation sets the file carries) and
`RowError` (one bad input record: file, line, reason). Importers are pure:
no ORM, no network, no files written. The job layer persists what they yield.

Offsets in every `ParsedSpan` are Unicode code points, half-open, into
`ParsedDocument.text`, which is already normalised with
`annotations.text.normalise_text` (DESIGN "Text and offsets"). Formats whose
offsets point into the text *before* normalisation map them through
`normalise_with_offset_map`; a boundary that has no image in the normalised
text (inside a CRLF pair, inside a character that NFC composes) is a row error,
never a silent shift (DESIGN rule 7).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, Protocol, TypeAlias

from annotations.text import normalise_text

MiB = 1024 * 1024

# The document metadata every importer fills (missing values are None).
METADATA_KEYS: tuple[str, ...] = ("source_url", "outlet", "author", "published", "language", "external_id")


class UnknownFormat(ValueError):
    """The format key is not registered, or a file does not look like any supported format."""


class LimitExceeded(Exception):
    """An input is larger than an `ImportOptions` limit allows; the message says which and by how much."""


@dataclass(frozen=True)
class ImportOptions:
    """What the caller may tune for one import.

    `csv_mapping` maps a metadata key (or "title") to a CSV column; keys left
    out default to the column of the same name when the header has one.
    The limits guard memory and disk against hostile uploads (DESIGN rules 6, 11).
    """

    cleanup: bool = True
    csv_text_column: str = "text"
    csv_mapping: dict[str, str] = field(default_factory=dict)
    csv_delimiter: str | None = None  # None: guess from the header among "," ";" and tab
    max_file_bytes: int = 200 * MiB
    max_archive_members: int = 10_000
    max_member_bytes: int = 200 * MiB
    max_total_expanded_bytes: int = 1024 * MiB
    max_compression_ratio: float = 200.0


@dataclass(frozen=True)
class ParsedSpan:
    """One labelled stretch of text. `quote` is `text[start:end]` of the normalised text once parsed."""

    local_id: str
    label: str
    start: int
    end: int
    quote: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # where a gold span came from (Claimbench JSONL)


@dataclass(frozen=True)
class ParsedRelation:
    """A directed link between two spans of the same set, named by their `local_id`."""

    type: str
    source_local_id: str
    target_local_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # where a gold relation came from


@dataclass(frozen=True)
class ParsedSet:
    """One annotation set of a document.

    `annotator` is a username, or None for a set nobody owns: the gold set
    (`is_gold=True`), and sets from formats that carry no annotator (doccano,
    brat, Label Studio predictions). The caller assigns an unowned, non-gold
    set to a pseudo-annotator of its choice (for example "label-studio-model").
    `state` is a workflow state when the source names one (Claimbench JSONL).
    """

    annotator: str | None
    is_gold: bool
    spans: tuple[ParsedSpan, ...]
    relations: tuple[ParsedRelation, ...]
    state: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """One document ready to store.

    `metadata` always has exactly the keys in `METADATA_KEYS` (values str or
    None; `published` is an ISO date "YYYY-MM-DD"). `raw_source` is the input
    as it came (the file, the HTML, or the record's own bytes for multi-record
    files). `removed_lines` lists what cleanup dropped, for the job summary, and
    `repeated_lines` those of them it dropped as repeats of an earlier paragraph.
    `line` is the 1-based line where the record starts, None for one-document files.
    """

    text: str
    title: str
    raw_source: bytes
    source_name: str
    line: int | None
    metadata: dict[str, str | None]
    sets: tuple[ParsedSet, ...] = ()
    removed_lines: tuple[str, ...] = ()
    repeated_lines: tuple[str, ...] = ()
    uuid: str | None = None


@dataclass(frozen=True)
class RowError:
    """One input record that could not be imported.

    `source_name` names the file ("corpus.zip:2024/article.txt" inside an
    archive); `line` is the 1-based line (or, for JSON, the line where the
    record starts), None when the whole file is at fault.
    """

    source_name: str
    line: int | None
    reason: str


class Importer(Protocol):
    key: ClassVar[str]  # "jsonl": the name the registry, the API and the CLI use
    label: ClassVar[str]  # "Claimbench JSON Lines": what the UI shows
    extensions: ClassVar[tuple[str, ...]]  # (".jsonl",): lower case, with the dot

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        """Yield one item per input record; never raise for a bad row.

        A record with any invalid span or relation yields only RowErrors (one
        per problem) and no document, so that a corrected re-import is not
        blocked by the dedupe on the text of a half-imported document.
        """
        ...

    def count_hint(self, stream: BinaryIO) -> int | None:
        """Roughly how many records `parse` will yield, for a progress bar; None when unknown.

        Leaves a seekable stream at its start; answers None for one that is not seekable.
        """
        ...


class ImporterBase:
    """Shared defaults for the concrete importers (they still satisfy `Importer` structurally)."""

    def count_hint(self, stream: BinaryIO) -> int | None:
        return 1


def count_lines(stream: BinaryIO, chunk_size: int = MiB) -> int | None:
    """Count the lines of a seekable stream (blank ones too), then rewind it; None if it cannot seek."""
    if not stream.seekable():
        return None
    start = stream.tell()
    count = 0
    last = b"\n"
    while chunk := stream.read(chunk_size):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    stream.seek(start)
    return count + (last != b"\n")


def empty_metadata() -> dict[str, str | None]:
    return dict.fromkeys(METADATA_KEYS)


# ---------------------------------------------------------------------------
# Normalisation with an offset map
# ---------------------------------------------------------------------------

# The same character classes as annotations.text.normalise_text, in one pass:
# CRLF and a lone CR become LF; a BOM and other controls (except \t and \n) go.
_LINE_BREAK_AND_CONTROL = re.compile("\r\n|[\r\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The same without the CRLF alternative: four times faster to scan, for the no-change test.
_ANY_CHANGE = re.compile("[\r\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f]")


# In ASCII text the characters _ANY_CHANGE finds are these bytes (CR included).
_ASCII_CONTROLS = bytes(range(0x00, 0x09)) + bytes(range(0x0B, 0x20)) + b"\x7f"


def _needs_line_or_control_fix(text: str) -> bool:
    """Whether `text` holds a CR, a BOM or a control character other than \\t and \\n.

    ASCII text (str.isascii is a flag, not a scan) is checked as bytes with
    bytes.translate, about seven times faster on a 4 KB article than the regex,
    which still answers for anything else.
    """
    if text.isascii():
        data = text.encode("ascii")
        return len(data.translate(None, _ASCII_CONTROLS)) != len(data)
    return _ANY_CHANGE.search(text) is not None


OffsetMap: TypeAlias = Callable[[int], int | None]
"""Maps a code-point offset in a raw text to the same place in its normalised form.

Returns None for an offset outside the raw text, or strictly inside a change
that leaves no equivalent position (between the CR and LF of a pair, between a
letter and the accent NFC composes into it). An offset next to a removed
character maps to where that character was: for "a\\x00b", 1 and 2 both map to 1.
"""


class _EditMap:
    """An OffsetMap built from edits `(raw_start, raw_end, new_length)`, sorted and disjoint."""

    def __init__(self, raw_length: int, edits: list[tuple[int, int, int]]) -> None:
        self._raw_length = raw_length
        self._starts = [start for start, _, _ in edits]
        self._ends = [end for _, end, _ in edits]
        self._shift_after: list[int] = []
        shift = 0
        for start, end, new_length in edits:
            shift += (end - start) - new_length
            self._shift_after.append(shift)

    def __call__(self, offset: int) -> int | None:
        if not 0 <= offset <= self._raw_length:
            return None
        index = bisect_right(self._starts, offset) - 1
        if index < 0:
            return offset
        if offset == self._starts[index]:
            return offset - (self._shift_after[index - 1] if index else 0)
        if offset < self._ends[index]:
            return None
        return offset - self._shift_after[index]


class _ComposedMap:
    def __init__(self, first: OffsetMap, second: OffsetMap) -> None:
        self._first = first
        self._second = second

    def __call__(self, offset: int) -> int | None:
        middle = self._first(offset)
        return None if middle is None else self._second(middle)


def _nfc_edits(text: str) -> list[tuple[int, int, int]] | None:
    """Edits that NFC makes to text, as groups that normalise independently; None if grouping fails.

    A group starts at a character of canonical combining class 0 unless NFC
    composes it with the group before (Hangul jamo, some Indic vowel signs);
    each group is checked by normalising it together with its neighbour.
    """
    edits: list[tuple[int, int, int]] = []
    pieces: list[str] = []
    group_start = 0
    group_end = 0
    length = len(text)
    while group_end < length:
        # The next segment: one character plus the non-starters that follow it.
        segment_end = group_end + 1
        while segment_end < length and unicodedata.combining(text[segment_end]):
            segment_end += 1
        if group_end > group_start:
            group = text[group_start:group_end]
            segment = text[group_end:segment_end]
            if unicodedata.normalize("NFC", group + segment) == unicodedata.normalize(
                "NFC", group
            ) + unicodedata.normalize("NFC", segment):
                composed = unicodedata.normalize("NFC", group)
                pieces.append(composed)
                if composed != group:
                    edits.append((group_start, group_end, len(composed)))
                group_start = group_end
        group_end = segment_end
    group = text[group_start:group_end]
    composed = unicodedata.normalize("NFC", group)
    pieces.append(composed)
    if composed != group:
        edits.append((group_start, group_end, len(composed)))
    if "".join(pieces) != unicodedata.normalize("NFC", text):
        return None
    return edits


def normalise_with_offset_map(text: str) -> tuple[str, OffsetMap]:
    """Return `(normalise_text(text), offset_map)`; see `OffsetMap` for what the map answers.

    Already-normal text (the common case: exports of Claimbench itself) costs
    two C-speed scans and gets an identity map.
    """
    if not _needs_line_or_control_fix(text) and unicodedata.is_normalized("NFC", text):
        return text, _EditMap(len(text), [])

    line_edits: list[tuple[int, int, int]] = []
    pieces: list[str] = []
    position = 0
    for match in _LINE_BREAK_AND_CONTROL.finditer(text):
        pieces.append(text[position : match.start()])
        replacement = "\n" if match.group() in ("\r\n", "\r") else ""
        pieces.append(replacement)
        if match.end() - match.start() != len(replacement):
            line_edits.append((match.start(), match.end(), len(replacement)))
        position = match.end()
    pieces.append(text[position:])
    cleaned = "".join(pieces)
    line_map = _EditMap(len(text), line_edits)

    offset_map: OffsetMap
    if unicodedata.is_normalized("NFC", cleaned):
        result, offset_map = cleaned, line_map
    else:
        nfc_edits = _nfc_edits(cleaned)
        result = unicodedata.normalize("NFC", cleaned)
        if nfc_edits is None:
            # Could not split the text into independent groups: keep only the
            # two ends mappable, so every inner span is reported, never shifted.
            nfc_edits = [(0, len(cleaned), len(result))] if cleaned != result else []
        offset_map = _ComposedMap(line_map, _EditMap(len(cleaned), nfc_edits))

    if result != normalise_text(text):  # pragma: no cover - a guard against the two drifting apart
        raise AssertionError("normalise_with_offset_map disagrees with normalise_text")
    return result, offset_map
