"""CSV: one row is one document, a header row names the columns.

The text comes from the column `options.csv_text_column` ("text" unless the
caller says otherwise). "title" and the metadata keys (`source_url`,
`outlet`, `author`, `published`, `language`, `external_id`) come from the
columns `options.csv_mapping` names, or from columns of the same name when
the mapping leaves a key out; other columns are ignored. The delimiter is
`options.csv_delimiter`, or guessed from the header among comma, semicolon
(spreadsheets in many locales) and tab.

Errors carry real file lines: a row whose quoted cell spans several lines
is reported at the line where it starts. The encoding is detected from the
start of the file (UTF-8, UTF-16 from Excel's "Unicode text", Windows-1251,
…), and the file is read row by row. CSV carries no spans.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from annotations.importers._records import RecordBuilder, clean_metadata, preview
from annotations.importers._streams import Line, iter_lines
from annotations.importers.base import (
    METADATA_KEYS,
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    ParsedDocument,
    RowError,
    count_lines,
)
from annotations.text import UndecodableText

MAPPABLE_KEYS: tuple[str, ...] = ("title", *METADATA_KEYS)
_DELIMITERS = (",", ";", "\t")


def guess_delimiter(header: str) -> str:
    """The candidate delimiter that occurs most often in the header line (comma on a tie)."""
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


class _LineFeed:
    """Feeds decoded lines to csv.reader and remembers the raw bytes and decode failures of the current row."""

    def __init__(self, first: Line, rest: Iterator[Line]) -> None:
        self._first: Line | None = first
        self._rest = rest
        self.raw: list[bytes] = []
        self.undecodable = False

    def take_row(self) -> tuple[bytes, bool]:
        raw, undecodable = b"".join(self.raw), self.undecodable
        self.raw, self.undecodable = [], False
        return raw, undecodable

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._first is not None:
            line, self._first = self._first, None
        else:
            line = next(self._rest)
        self.raw.append(line.raw)
        if line.text is None:
            self.undecodable = True
            return line.raw.decode("utf-8", errors="replace")
        return line.text


class CsvImporter(ImporterBase):
    key: ClassVar[str] = "csv"
    label: ClassVar[str] = "CSV (one row per document)"
    extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv")

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        # csv refuses cells over 128 KiB by default; a long article is bigger. The
        # limit is process-wide, so it is only ever raised, and a row is bounded
        # by the file size limit anyway.
        if csv.field_size_limit() < options.max_file_bytes:
            csv.field_size_limit(options.max_file_bytes)
        try:
            yield from self._parse(stream, source_name, options)
        except (UndecodableText, LimitExceeded) as error:
            yield RowError(source_name, None, str(error))

    def _parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        lines = iter_lines(stream, limit=options.max_file_bytes)
        first = next(lines, None)
        if first is None or first.text is None or not first.text.strip():
            yield RowError(source_name, 1, "the first line must be a header naming the columns")
            return
        delimiter = options.csv_delimiter or guess_delimiter(first.text)
        feed = _LineFeed(first, lines)
        reader = csv.reader(feed, delimiter=delimiter)
        try:
            header = [cell.strip().lstrip("\ufeff") for cell in next(reader)]
        except csv.Error as error:
            yield RowError(source_name, 1, f"malformed CSV header: {error}")
            return
        feed.take_row()
        columns, problem = _columns(header, options)
        if problem is not None:
            yield RowError(source_name, 1, problem)
            return

        last_line = reader.line_num
        while True:
            start_line = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                last_line = reader.line_num
                feed.take_row()
                yield RowError(source_name, start_line, f"malformed CSV: {error}")
                continue
            last_line = reader.line_num
            raw, undecodable = feed.take_row()
            if not any(cell.strip() for cell in row):
                continue
            if undecodable:
                yield RowError(source_name, start_line, "the row is not valid text in the file's encoding")
                continue
            if len(row) != len(header):
                yield RowError(source_name, start_line, f"the row has {len(row)} cells; the header has {len(header)}")
                continue
            yield from _document(row, columns, raw, source_name, start_line)

    def count_hint(self, stream: BinaryIO) -> int | None:
        lines = count_lines(stream)
        return None if lines is None else max(lines - 1, 0)


def _columns(header: list[str], options: ImportOptions) -> tuple[dict[str, int], str | None]:
    """Column index of the text and of each mapped key; or a reason the header does not fit."""
    unknown = sorted(set(options.csv_mapping) - set(MAPPABLE_KEYS))
    if unknown:
        return {}, f"the column mapping names unknown keys {unknown}; expected some of {list(MAPPABLE_KEYS)}"
    if header.count(options.csv_text_column) != 1:
        found = "twice" if options.csv_text_column in header else "no"
        listed = ", ".join(preview(name) for name in header[:20])
        return {}, f"the header has {found} column {preview(options.csv_text_column)} (columns: {listed})"
    columns = {"text": header.index(options.csv_text_column)}
    for key in MAPPABLE_KEYS:
        name = options.csv_mapping.get(key, key)
        if name in header:
            columns[key] = header.index(name)
        elif key in options.csv_mapping:
            return {}, f"the header has no column {preview(name)} (mapped to {key!r})"
    return columns, None


def _document(
    row: list[str], columns: dict[str, int], raw: bytes, source_name: str, line: int
) -> Iterator[ParsedDocument | RowError]:
    record = RecordBuilder(source_name=source_name, line=line, raw_text=row[columns["text"]])
    metadata = None
    try:
        metadata = clean_metadata({key: row[index] for key, index in columns.items() if key in METADATA_KEYS})
    except ValueError as error:
        record.fail(str(error))
    title = row[columns["title"]] if "title" in columns else None
    yield from record.finish(title=title, raw_source=raw, metadata=metadata)
