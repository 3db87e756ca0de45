"""Turning stored text and spans into what a page draws. Pure: no ORM.

The document is cut into segments at every span boundary and line break; each
segment knows its code-point start and the spans covering it, so overlapping
and nested spans render as stacked underlines and the browser maps a
selection back to code points from the segment it lands in.
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import markdown as markdown_lib
import nh3

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "hr", "i", "kbd", "li",
    "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip


def label_initials(name: str) -> str:
    """'Counter-claim' -> 'CC'. Letters and digits only: the result goes into CSS."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    return "".join(w[0].upper() for w in words)[:3] or "?"


def render_markdown(source: str) -> SafeString:
    """Markdown to HTML through an allow-list sanitiser (nh3): no scripts, styles or handlers."""
    from django.utils.safestring import mark_safe

    # Safe: _clean_markdown's output went through the nh3 allow-list below (no scripts, styles,
    # handlers or javascript: links). Without this the template escapes it again and the page shows raw tags.
    return mark_safe(_clean_markdown(source))  # noqa: S308


@functools.lru_cache(maxsize=64)
def _clean_markdown(source: str) -> str:
    # Cached by source: every annotation page carries the project's guidelines, which rarely change.
    html = markdown_lib.markdown(source, extensions=["tables", "sane_lists"], output_format="html")
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned


@dataclass(frozen=True)
class SpanMark:
    uuid: str
    label: str
    start: int
    end: int


@dataclass(frozen=True)
class Segment:
    start: int
    text: str
    spans: tuple[SpanMark, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class Paragraph:
    start: int
    segments: tuple[Segment, ...]


def segment_text(text: str, spans: Iterable[SpanMark]) -> list[Paragraph]:
    """Cut text into paragraphs (at '\\n') and segments (at span boundaries).

    Line breaks themselves belong to no paragraph: a selection cannot start on
    one, which matches how the reader sees the page. O((n + s) log s).
    """
    span_list = sorted(spans, key=lambda s: (s.start, -s.end, s.uuid))
    boundaries = {0, len(text)}
    for span in span_list:
        boundaries.add(span.start)
        boundaries.add(span.end)
    position = text.find("\n")
    while position != -1:
        boundaries.add(position)
        boundaries.add(position + 1)
        position = text.find("\n", position + 1)
    cuts = sorted(b for b in boundaries if 0 <= b <= len(text))

    paragraphs: list[Paragraph] = []
    current: list[Segment] = []
    paragraph_start = 0
    active: list[SpanMark] = []
    next_span = 0
    for left, right in zip(cuts, cuts[1:], strict=False):
        active = [s for s in active if s.end > left]
        while next_span < len(span_list) and span_list[next_span].start <= left:
            if span_list[next_span].end > left:
                active.append(span_list[next_span])
            next_span += 1
        piece = text[left:right]
        if piece == "\n":
            paragraphs.append(Paragraph(paragraph_start, tuple(current)))
            current, paragraph_start = [], right
            continue
        current.append(Segment(left, piece, tuple(sorted(active, key=lambda s: (s.start, -s.end, s.uuid)))))
    paragraphs.append(Paragraph(paragraph_start, tuple(current)))
    return paragraphs


def nesting_depths(spans: Sequence[SpanMark]) -> dict[str, int]:
    """A stacking level per span so overlapping underlines don't sit on each other.

    Interval-graph colouring in start order: each span takes the lowest level
    free at its start. O(s log s) for sorted input, s small per level.
    """
    levels: dict[str, int] = {}
    ends_by_level: list[int] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end, s.uuid)):
        for level, end in enumerate(ends_by_level):
            if end <= span.start:
                ends_by_level[level] = span.end
                levels[span.uuid] = level
                break
        else:
            levels[span.uuid] = len(ends_by_level)
            ends_by_level.append(span.end)
    return levels


def document_html(paragraphs: Sequence[Paragraph], depths: dict[str, int], label_index: dict[str, int]) -> str:
    """The document body as HTML: paragraphs of segments, each covering span a nested
    underline element. Every piece of document text is escaped here; the result is
    safe to insert. Built in Python, not a template loop, because a 200 KB article
    has thousands of segments and this keeps the page under its time budget.
    """
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    out: list[str] = []
    started: set[str] = set()
    for paragraph in paragraphs:
        if not paragraph.segments:
            out.append(f'<p class="para empty" data-start="{paragraph.start}"></p>')
            continue
        out.append(f'<p class="para" data-start="{paragraph.start}">')
        for segment in paragraph.segments:
            out.append(f'<span class="seg" data-start="{segment.start}">')
            layers = sorted(segment.spans, key=lambda s: depths.get(s.uuid, 0))
            for span in layers:
                first = span.uuid not in started
                started.add(span.uuid)
                out.append(
                    f'<span class="mark lab-{label_index.get(span.label, "x")} lvl-{min(depths.get(span.uuid, 0), 5)}'
                    f'{" first" if first else ""}" data-span="{span.uuid}" data-label="{escape(span.label)}">'
                )
            out.append(escape(segment.text))
            out.append("</span>" * len(layers))
            out.append("</span>")
        out.append("</p>")
    # Safe: the only stored data above (segment text, label keys) went through escape();
    # numbers and uuids are generated by us.
    return mark_safe("".join(out))  # noqa: S308


def render_document(
    text: str, spans: Iterable[SpanMark], label_index: dict[str, int], start: int = 0, end: int | None = None
) -> str:
    """The HTML of text[start:end] with its spans, exactly as
    document_html(segment_text(...), nesting_depths(...), label_index) renders it,
    in one pass and without the intermediate objects.

    Offsets (data-start, span offsets) are absolute; the spans must lie inside
    [start, end). The annotation page draws a 200 KB article with a thousand
    spans through this: cutting, stacking and escaping in a single loop over the
    cut points, with each span's opening tag built once instead of per segment.
    Every piece of document text and every label key is escaped here (the
    standard library's html.escape, which is what Django's escape() calls); the
    result is safe to insert.
    """
    from django.utils.safestring import mark_safe

    end = len(text) if end is None else end
    escape = html_lib.escape
    span_list = sorted(spans, key=lambda s: (s.start, -s.end, s.uuid))
    depths = nesting_depths(span_list)
    # Opening tags per span: the first segment of a span carries "first" (its initials badge).
    first_tag: dict[str, str] = {}
    next_tag: dict[str, str] = {}
    boundaries = {start, end}
    for span in span_list:
        level = depths[span.uuid]
        head = f'<span class="mark lab-{label_index.get(span.label, "x")} lvl-{min(level, 5)}'
        tail = f'" data-span="{span.uuid}" data-label="{escape(span.label)}">'
        first_tag[span.uuid] = f"{head} first{tail}"
        next_tag[span.uuid] = head + tail
        boundaries.add(span.start)
        boundaries.add(span.end)
    position = text.find("\n", start, end)
    while position != -1:
        boundaries.add(position)
        boundaries.add(position + 1)
        position = text.find("\n", position + 1, end)
    cuts = sorted(b for b in boundaries if start <= b <= end)

    out: list[str] = []
    append = out.append
    paragraph_start = start
    paragraph: list[str] = []
    active: list[SpanMark] = []
    started: set[str] = set()
    next_span = 0
    count = len(span_list)
    for left, right in zip(cuts, cuts[1:], strict=False):
        if active:
            active = [s for s in active if s.end > left]
        while next_span < count and span_list[next_span].start <= left:
            if span_list[next_span].end > left:
                active.append(span_list[next_span])
            next_span += 1
        piece = text[left:right]
        if piece == "\n":
            if paragraph:
                append(f'<p class="para" data-start="{paragraph_start}">')
                out.extend(paragraph)
                append("</p>")
            else:
                append(f'<p class="para empty" data-start="{paragraph_start}"></p>')
            paragraph, paragraph_start = [], right
            continue
        if not active:
            paragraph.append(f'<span class="seg" data-start="{left}">{escape(piece)}</span>')
            continue
        # Overlapping spans never share a level, so ordering by level alone is total.
        layers = active if len(active) == 1 else sorted(active, key=lambda s: depths[s.uuid])
        tags = []
        for span in layers:
            if span.uuid in started:
                tags.append(next_tag[span.uuid])
            else:
                started.add(span.uuid)
                tags.append(first_tag[span.uuid])
        paragraph.append(
            f'<span class="seg" data-start="{left}">{"".join(tags)}{escape(piece)}{"</span>" * (len(layers) + 1)}'
        )
    if paragraph:
        append(f'<p class="para" data-start="{paragraph_start}">')
        out.extend(paragraph)
        append("</p>")
    else:
        append(f'<p class="para empty" data-start="{paragraph_start}"></p>')
    # Safe: the only stored data above (text pieces, label keys) went through html.escape;
    # numbers and uuids are generated by us.
    return mark_safe("".join(out))  # noqa: S308
