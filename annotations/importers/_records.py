"""Building one ParsedDocument from one input record, collecting every reason it is invalid.

Shared by the formats that carry annotations: they hand raw offsets into the
text as the source wrote it; `RecordBuilder` normalises the text once, maps
each span through the offset map, checks quotes, and yields either the
document or one RowError per problem (never both).
"""

from __future__ import annotations

import datetime
import uuid as uuid_module
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from annotations.importers.base import (
    METADATA_KEYS,
    ParsedDocument,
    ParsedRelation,
    ParsedSet,
    ParsedSpan,
    RowError,
    empty_metadata,
    normalise_with_offset_map,
)
from annotations.text import normalise_text

TITLE_MAX_CHARS = 300
_TITLE_SCAN_CHARS = 4 * TITLE_MAX_CHARS
_PREVIEW_CHARS = 60


def preview(text: str) -> str:
    """A short repr of attacker-controlled text for an error message."""
    if len(text) > _PREVIEW_CHARS:
        text = text[: _PREVIEW_CHARS - 1] + "…"
    return repr(text)


def title_from_text(text: str, source_name: str) -> str:
    """The first non-empty line of the text, else the file's name without its extension.

    `text` is a document's normalised text (every caller's is), so its line needs no second normalisation.
    """
    start = 0
    # Line by line without splitting the whole article: the first line is usually the one.
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        line = text[start:end]
        if line.strip():
            return clean_title(line, normalised=True)
        start = end + 1
    return clean_title(PurePosixPath(source_name.rsplit(":", 1)[-1].replace("\\", "/")).stem) or "Untitled"


def clean_title(title: str, *, normalised: bool = False) -> str:
    """One line, single spaces, at most TITLE_MAX_CHARS (cut at a word, with an ellipsis).

    `normalised`: the title is already in normalise_text's form (a line of a document's text).
    """
    normalise = _unchanged if normalised else normalise_text
    if len(title) > _TITLE_SCAN_CHARS:
        # A one-line article is its own "first line": clean only its start. Cut at a space or
        # newline, normalisation and word splitting of the head equal those of the whole up
        # to the cut, so when the head alone is long enough the result is the same.
        cut = max(title.rfind(" ", 0, _TITLE_SCAN_CHARS), title.rfind("\n", 0, _TITLE_SCAN_CHARS))
        head = " ".join(normalise(title[:cut]).split()) if cut > 0 else ""
        if len(head) > TITLE_MAX_CHARS:
            title = head
    title = " ".join(normalise(title).split())
    if len(title) > TITLE_MAX_CHARS:
        cut = title.rfind(" ", 0, TITLE_MAX_CHARS)
        title = title[: cut if cut > TITLE_MAX_CHARS // 2 else TITLE_MAX_CHARS - 1].rstrip() + "…"
    return title


def _unchanged(text: str) -> str:
    return text


def parse_published(value: str) -> str:
    """An ISO date ("2024-05-28") from an ISO date or date-time; raises ValueError otherwise."""
    value = value.strip()
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        raise ValueError(f"published date {preview(value)} is not an ISO date (YYYY-MM-DD)") from None


def clean_metadata(values: Mapping[str, object]) -> dict[str, str | None]:
    """Validate declared metadata into the METADATA_KEYS shape; raises ValueError with a reason.

    Values must be strings (an integer external_id is accepted); empty means
    missing. `source_url` must be http(s): it ends up as a link in the
    interface, and a `javascript:` URL there would be a script (DESIGN rule 4).
    It is stored, never fetched (rule 5).
    """
    unknown = sorted(set(values) - set(METADATA_KEYS))
    if unknown:
        raise ValueError(f"unknown metadata keys {unknown}; expected some of {list(METADATA_KEYS)}")
    metadata = empty_metadata()
    for key in METADATA_KEYS:
        value = values.get(key)
        if value is None:
            continue
        if key == "external_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f"metadata {key!r} must be a string, not {type(value).__name__}")
        value = " ".join(normalise_text(value).split())
        if not value:
            continue
        if key == "published":
            value = parse_published(value)
        if key == "source_url" and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"source_url {preview(value)} is not an http(s) URL")
        metadata[key] = value
    return metadata


def parse_uuid(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"uuid must be a string, not {type(value).__name__}")
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise ValueError(f"uuid {preview(value)} is not a UUID") from None


def _as_int(value: object) -> int | None:
    """The value if it is a JSON integer (not a bool, not a float), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class RecordBuilder:
    """One record's text, sets and problems.

    `raw_text` is the text the record's offsets point into (code points);
    `text` is its normalised form, which every ParsedSpan points into.
    `error_source_name` names the file problems are reported against when it
    is not the document's own (brat: the .ann beside the .txt).
    """

    def __init__(
        self, *, source_name: str, line: int | None, raw_text: str, error_source_name: str | None = None
    ) -> None:
        self.source_name = source_name
        self.error_source_name = error_source_name or source_name
        self.line = line
        self.raw_text = raw_text
        self.text, self.offset_map = normalise_with_offset_map(raw_text)
        self.text_unchanged = self.text == raw_text
        self.problems: list[tuple[int | None, str]] = []
        self.sets: list[ParsedSet] = []
        self._annotators: set[str] = set()
        self._has_gold = False

    def fail(self, reason: str, line: int | None = None) -> None:
        """Record a problem; `line` overrides the record's line (brat: the .ann line)."""
        self.problems.append((self.line if line is None else line, reason))

    def new_set(self, where: str) -> SetBuilder:
        return SetBuilder(self, where)

    def add_set(self, parsed: ParsedSet, where: str) -> None:
        if parsed.is_gold:
            if parsed.annotator is not None:
                self.fail(f"{where}: a gold set has no annotator (got {preview(parsed.annotator)})")
                return
            if self._has_gold:
                self.fail(f"{where}: the record has more than one gold set")
                return
            self._has_gold = True
        elif parsed.annotator is not None:
            if parsed.annotator in self._annotators:
                self.fail(f"{where}: annotator {preview(parsed.annotator)} has more than one set")
                return
            self._annotators.add(parsed.annotator)
        self.sets.append(parsed)

    def finish(
        self,
        *,
        title: str | None,
        raw_source: bytes,
        metadata: dict[str, str | None] | None = None,
        uuid: str | None = None,
        removed_lines: tuple[str, ...] = (),
    ) -> Iterator[ParsedDocument | RowError]:
        """Yield the document, or one RowError per problem if there is any."""
        if not self.text.strip():
            self.fail("the text is empty")
        if self.problems:
            for line, reason in self.problems:
                yield RowError(self.error_source_name, line, reason)
            return
        yield ParsedDocument(
            text=self.text,
            title=clean_title(title) if title and title.strip() else title_from_text(self.text, self.source_name),
            raw_source=raw_source,
            source_name=self.source_name,
            line=self.line,
            metadata=metadata if metadata is not None else empty_metadata(),
            sets=tuple(self.sets),
            removed_lines=removed_lines,
            uuid=uuid,
        )


class _SpanWhere:
    """ "set 1 (alice), span 's3'", formatted when an error message is built, not before."""

    __slots__ = ("_set_where", "_local_id")

    def __init__(self, set_where: str, local_id: str) -> None:
        self._set_where = set_where
        self._local_id = local_id

    def __str__(self) -> str:
        return f"{self._set_where}, span {preview(self._local_id)}"

    def __format__(self, spec: str) -> str:  # f-strings call this, not __str__
        return format(str(self), spec)


class SetBuilder:
    """Spans and relations of one annotation set, validated as they are added.

    `where` prefixes every problem ("set 2 (alice)"), and each span or
    relation adds its own id, so a reason names exactly what is wrong.
    """

    def __init__(self, record: RecordBuilder, where: str) -> None:
        self._record = record
        self._where = where
        self._spans: dict[str, ParsedSpan] = {}
        self._seen_ids: set[str] = set()  # includes rejected spans, to avoid a second error per relation
        self._relations: list[ParsedRelation] = []

    def add_span(
        self,
        *,
        local_id: object,
        label: object,
        start: object,
        end: object,
        quote: object = None,
        attributes: object = None,
        note: object = "",
        provenance: object = None,
        line: int | None = None,
        newline_matches_space: bool = False,
    ) -> None:
        """Validate one span given in raw-text code points, map it, and keep it.

        `quote`, when given, must equal the raw text at [start, end).
        `newline_matches_space` is for brat, whose .ann lines cannot hold a
        newline: a newline in the text matches a space in the quote.
        """
        record = self._record
        if _as_int(local_id) is not None:
            local_id = str(local_id)
        if not isinstance(local_id, str) or not local_id:
            record.fail(f"{self._where}: a span has no id (got {preview(str(local_id))})", line)
            return
        # Spelled only for an error: formatting it for each of millions of good spans cost more than checking them.
        where = _SpanWhere(self._where, local_id)
        if local_id in self._seen_ids:
            record.fail(f"{where}: the id is used twice", line)
            return
        self._seen_ids.add(local_id)
        if not isinstance(label, str) or not label.strip():
            record.fail(f"{where}: the label must be a non-empty string", line)
            return
        start, end = _as_int(start), _as_int(end)
        if start is None or end is None:
            record.fail(f"{where}: start and end must be integers", line)
            return
        raw_length = len(record.raw_text)
        if not 0 <= start < end <= raw_length:
            record.fail(
                f"{where}: offsets {start}..{end} are not a non-empty range inside the text (0..{raw_length})", line
            )
            return
        raw_quote = record.raw_text[start:end]
        if quote is not None:
            if not isinstance(quote, str):
                record.fail(f"{where}: the quote must be a string", line)
                return
            found = raw_quote.replace("\n", " ") if newline_matches_space else raw_quote
            if quote != found:
                record.fail(
                    f"{where}: quote mismatch: the text at {start}..{end} reads {preview(raw_quote)}, "
                    f"the file says {preview(quote)}",
                    line,
                )
                return
        if record.text_unchanged:
            new_start, new_end, mapped_quote = start, end, raw_quote
        else:
            mapped_start, mapped_end = record.offset_map(start), record.offset_map(end)
            if mapped_start is None or mapped_end is None:
                record.fail(
                    f"{where}: offsets {start}..{end} fall inside a line break (CR LF) or a character "
                    "that normalisation merges, so they have no place in the imported text",
                    line,
                )
                return
            new_start, new_end = mapped_start, mapped_end
            mapped_quote = record.text[new_start:new_end]
            # The map guarantees this; checked anyway because a wrong offset here is silent corruption.
            if not mapped_quote or mapped_quote != normalise_text(raw_quote):
                record.fail(
                    f"{where}: after normalising the text the span reads {preview(mapped_quote)}, "
                    f"not {preview(raw_quote)}",
                    line,
                )
                return
        checked_attributes = self._attributes(attributes, where, line)
        checked_provenance = self._attributes(provenance, where, line, what="provenance")
        if checked_attributes is None or checked_provenance is None:
            return
        if not isinstance(note, str):
            record.fail(f"{where}: the note must be a string", line)
            return
        self._spans[local_id] = ParsedSpan(
            local_id=local_id,
            label=label.strip(),
            start=new_start,
            end=new_end,
            quote=mapped_quote,
            attributes=checked_attributes,
            note=normalise_text(note) if note else "",
            provenance=checked_provenance,
        )

    def add_relation(
        self,
        *,
        type: object,
        source: object,
        target: object,
        attributes: object = None,
        note: object = "",
        provenance: object = None,
        where: str = "a relation",
        line: int | None = None,
    ) -> None:
        """Validate one relation between spans of this set, named by their local ids."""
        record = self._record
        where = f"{self._where}, {where}"
        if not isinstance(type, str) or not type.strip():
            record.fail(f"{where}: the relation type must be a non-empty string", line)
            return
        ids: list[str] = []
        for role, value in (("source", source), ("target", target)):
            if _as_int(value) is not None:
                value = str(value)
            if not isinstance(value, str) or not value:
                record.fail(f"{where}: the {role} must be a span id", line)
                return
            if value not in self._seen_ids:
                record.fail(f"{where}: the {role} {preview(value)} is not a span of this set", line)
                return
            ids.append(value)
        if ids[0] == ids[1]:
            record.fail(f"{where}: a relation cannot link a span to itself", line)
            return
        if not all(span_id in self._spans for span_id in ids):
            return  # a linked span was rejected; its own error says why
        checked_attributes = self._attributes(attributes, where, line)
        checked_provenance = self._attributes(provenance, where, line, what="provenance")
        if checked_attributes is None or checked_provenance is None:
            return
        if not isinstance(note, str):
            record.fail(f"{where}: the note must be a string", line)
            return
        self._relations.append(
            ParsedRelation(
                type=type.strip(),
                source_local_id=ids[0],
                target_local_id=ids[1],
                attributes=checked_attributes,
                note=normalise_text(note) if note else "",
                provenance=checked_provenance,
            )
        )

    def has_span(self, local_id: str) -> bool:
        return local_id in self._seen_ids

    def close(self, *, annotator: object, is_gold: bool, state: object = None) -> None:
        """Hand the finished set to the record (which checks one set per annotator, one gold set)."""
        if annotator is not None and (not isinstance(annotator, str) or not annotator.strip()):
            self._record.fail(f"{self._where}: the annotator must be a username or null")
            return
        if state is not None and (not isinstance(state, str) or not state.strip()):
            self._record.fail(f"{self._where}: the state must be a string or null")
            return
        self._record.add_set(
            ParsedSet(
                annotator=annotator.strip() if isinstance(annotator, str) else None,
                is_gold=is_gold,
                spans=tuple(self._spans.values()),
                relations=tuple(self._relations),
                state=state.strip() if isinstance(state, str) else None,
            ),
            self._where,
        )

    def _attributes(
        self, attributes: object, where: str | _SpanWhere, line: int | None, what: str = "attributes"
    ) -> dict[str, Any] | None:
        """A copy of a JSON object with non-empty string keys (None, an empty one); None and a problem otherwise."""
        if attributes is None:
            return {}
        if not isinstance(attributes, dict) or not all(isinstance(key, str) and key for key in attributes):
            self._record.fail(f"{where}: {what} must be an object with string keys", line)
            return None
        return dict(attributes)
