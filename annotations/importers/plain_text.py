"""Plain text: one file is one document.

The file's encoding is detected (`annotations.text.decode_bytes`), the text
normalised, and, unless `options.cleanup` is off, scraper debris removed
(`cleanup.clean_text`, reported in `removed_lines`). The title is the first
non-empty line, else the file name. Plain text carries no spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from annotations.importers._records import title_from_text
from annotations.importers._streams import describe_binary, read_limited, utf16_without_bom
from annotations.importers.base import (
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    ParsedDocument,
    RowError,
    empty_metadata,
)
from annotations.importers.cleanup import Cleaned, clean_text
from annotations.text import UndecodableText, decode_bytes, normalise_text


def decode_file(raw: bytes) -> str:
    """Detect the encoding and return the text as decoded (not yet normalised).

    Raises UndecodableText, naming the kind of file when it is a known binary one.
    """
    binary = describe_binary(raw[:4096])
    if binary is not None:
        raise UndecodableText(f"this is {binary}, not text")
    bomless = utf16_without_bom(raw)
    if bomless is not None:
        try:
            return raw.decode(bomless)
        except UnicodeDecodeError:
            pass
    return decode_bytes(raw).text


class PlainTextImporter(ImporterBase):
    key: ClassVar[str] = "text"
    label: ClassVar[str] = "Plain text (one file per document)"
    extensions: ClassVar[tuple[str, ...]] = (".txt",)

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        try:
            raw = read_limited(stream, options.max_file_bytes)
            text = normalise_text(decode_file(raw))
        except (LimitExceeded, UndecodableText) as error:
            yield RowError(source_name, None, str(error))
            return
        cleaned = clean_text(text) if options.cleanup else Cleaned(text, ())
        text, removed = cleaned.text, cleaned.removed_lines
        if not text.strip():
            yield RowError(source_name, None, "the file has no text" + (" left after cleanup" if removed else ""))
            return
        yield ParsedDocument(
            text=text,
            title=title_from_text(text, source_name),
            raw_source=raw,
            source_name=source_name,
            line=None,
            metadata=empty_metadata(),
            removed_lines=removed,
            repeated_lines=cleaned.repeated_lines,
        )
