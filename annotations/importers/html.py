"""HTML pages: the article's main text and metadata, extracted with trafilatura.

One file is one document. The raw HTML is kept as `raw_source`; the text is
what trafilatura finds as the main content (navigation, comments and footers
left out), normalised and cleaned like plain text. Metadata: title, author,
date (→ published), canonical URL (→ source_url), site name (→ outlet), and
the `<html lang>` attribute (→ language).

Nothing is fetched (DESIGN rule 5): trafilatura gets the markup as a string
and no URL, so neither it nor htmldate dereferences links, and the canonical
URL is only stored.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import trafilatura

from annotations.importers._records import clean_metadata, clean_title, title_from_text
from annotations.importers._streams import read_limited
from annotations.importers.base import (
    ImporterBase,
    ImportOptions,
    LimitExceeded,
    ParsedDocument,
    RowError,
)
from annotations.importers.cleanup import Cleaned, clean_text
from annotations.importers.plain_text import decode_file
from annotations.text import UndecodableText, normalise_text

_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)", re.IGNORECASE)


class HtmlImporter(ImporterBase):
    key: ClassVar[str] = "html"
    label: ClassVar[str] = "HTML page (main text extracted)"
    extensions: ClassVar[tuple[str, ...]] = (".html", ".htm")

    def parse(self, stream: BinaryIO, source_name: str, options: ImportOptions) -> Iterator[ParsedDocument | RowError]:
        try:
            raw = read_limited(stream, options.max_file_bytes)
            markup = decode_file(raw)
        except (LimitExceeded, UndecodableText) as error:
            yield RowError(source_name, None, str(error))
            return
        try:
            extracted = trafilatura.bare_extraction(
                markup,
                with_metadata=True,
                include_comments=False,
                include_tables=True,
                include_images=False,
                include_links=False,
                deduplicate=False,
                # Only dates the page states (meta tags, <time>): the default search also
                # guesses from text, and turns "© 2021" in a footer into 2021-01-01.
                date_extraction_params={"extensive_search": False, "original_date": True},
            )
        except Exception as error:
            # A parser crash on hostile markup is this file's row error, not the whole job's.
            yield RowError(source_name, None, f"could not read the HTML: {type(error).__name__}")
            return
        body = getattr(extracted, "text", None) if extracted is not None else None
        if not body or not body.strip():
            yield RowError(source_name, None, "no article text found in the HTML")
            return
        text = normalise_text(body)
        cleaned = clean_text(text) if options.cleanup else Cleaned(text, ())
        text, removed = cleaned.text, cleaned.removed_lines
        if not text.strip():
            yield RowError(source_name, None, "no article text left after cleanup")
            return
        language = _HTML_LANG.search(markup[:65536])
        metadata = clean_metadata(
            {
                "author": _string(extracted, "author"),
                "outlet": _string(extracted, "sitename"),
                "language": language.group(1).lower() if language else None,
            }
        )
        # Derived from the page, so a value we cannot use is dropped, not an error.
        for key, attribute in (("published", "date"), ("source_url", "url")):
            with contextlib.suppress(ValueError):
                metadata[key] = clean_metadata({key: _string(extracted, attribute)})[key]
        title = _string(extracted, "title")
        yield ParsedDocument(
            text=text,
            title=clean_title(title) if title else title_from_text(text, source_name),
            raw_source=raw,
            source_name=source_name,
            line=None,
            metadata=metadata,
            removed_lines=removed,
            repeated_lines=cleaned.repeated_lines,
        )


def _string(extracted: object, attribute: str) -> str | None:
    value = getattr(extracted, attribute, None)
    return value if isinstance(value, str) and value.strip() else None
