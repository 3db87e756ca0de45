"""Segments, nesting levels and the document HTML: nested and overlapping spans, escaping, markdown."""

from __future__ import annotations

import lxml.html
from hypothesis import given
from hypothesis import strategies as st

from annotations.rendering import (
    SpanMark,
    document_html,
    label_initials,
    nesting_depths,
    render_document,
    render_markdown,
    segment_text,
)

TEXT = "The minister said taxes will fall.\nCritics replied that the budget rises 😀 by 4 percent."


def mark(uuid: str, quote: str, label: str = "claim", text: str = TEXT) -> SpanMark:
    start = text.index(quote)
    return SpanMark(uuid, label, start, start + len(quote))


SPANS = [
    mark("outer", "The minister said taxes will fall", "attribution"),
    mark("inner", "taxes will fall"),  # nested in outer
    mark("left", "Critics replied that the budget", "attribution"),
    mark("right", "the budget rises 😀 by 4", "counter-claim"),  # overlaps left
]


def all_segments(paragraphs):
    return [segment for paragraph in paragraphs for segment in paragraph.segments]


def test_segments_concatenate_to_the_text_without_its_line_breaks():
    segments = all_segments(segment_text(TEXT, SPANS))
    assert "".join(s.text for s in segments) == TEXT.replace("\n", "")
    for segment in segments:
        assert TEXT[segment.start : segment.end] == segment.text


def test_each_segment_is_covered_by_exactly_the_spans_around_it():
    for segment in all_segments(segment_text(TEXT, SPANS)):
        expected = {s.uuid for s in SPANS if s.start <= segment.start and segment.end <= s.end}
        assert {s.uuid for s in segment.spans} == expected
        assert not any(s.start < segment.end and segment.start < s.end and s.uuid not in expected for s in SPANS)


def test_paragraphs_start_after_each_line_break():
    paragraphs = segment_text("one\n\ntwo", [])
    assert [p.start for p in paragraphs] == [0, 4, 5]
    assert paragraphs[1].segments == ()


def test_nested_and_overlapping_spans_get_different_levels():
    depths = nesting_depths(SPANS)
    assert depths["outer"] != depths["inner"]
    assert depths["left"] != depths["right"]
    assert depths["outer"] == 0 and depths["left"] == 0


def test_disjoint_spans_share_the_first_level():
    spans = [mark("a", "The minister"), mark("b", "Critics")]
    assert nesting_depths(spans) == {"a": 0, "b": 0}


spans_strategy = st.lists(
    st.tuples(st.integers(0, len(TEXT) - 1), st.integers(1, 30), st.sampled_from(["claim", "attribution"])),
    max_size=12,
).map(
    lambda items: [
        SpanMark(f"s{i}", label, start, min(start + length, len(TEXT)))
        for i, (start, length, label) in enumerate(items)
    ]
)


@given(spans_strategy)
def test_any_spans_segment_the_text_exactly_and_levels_never_collide(spans):
    segments = all_segments(segment_text(TEXT, spans))
    assert "".join(s.text for s in segments) == TEXT.replace("\n", "")
    depths = nesting_depths(spans)
    for a in spans:
        for b in spans:
            if a.uuid < b.uuid and a.start < b.end and b.start < a.end:
                assert depths[a.uuid] != depths[b.uuid]


@given(spans_strategy)
def test_the_one_pass_renderer_draws_exactly_what_segments_and_document_html_draw(spans):
    label_index = {"claim": 0}  # "attribution" has no index: the fallback class too
    expected = document_html(segment_text(TEXT, spans), nesting_depths(spans), label_index)
    assert render_document(TEXT, spans, label_index) == expected


@given(spans_strategy)
def test_a_closed_range_renders_as_the_same_paragraphs_of_the_whole_text(spans):
    start, end = TEXT.index("Critics"), len(TEXT)
    inside = [s for s in spans if start <= s.start and s.end <= end]
    whole = render_document(TEXT, inside, {"claim": 0})
    assert whole.endswith(render_document(TEXT, inside, {"claim": 0}, start, end))


def test_empty_texts_and_blank_lines_render_as_empty_paragraphs():
    for text in ("", "\n", "one\n\ntwo\n"):
        assert render_document(text, [], {}) == document_html(segment_text(text, []), {}, {})


def parse(html: str):
    return lxml.html.fragment_fromstring(f"<div>{html}</div>")


def test_the_html_has_a_segment_per_piece_with_its_code_point_start():
    paragraphs = segment_text(TEXT, SPANS)
    html = document_html(paragraphs, nesting_depths(SPANS), {"claim": 0, "attribution": 1, "counter-claim": 2})
    root = parse(html)

    segments = root.xpath('//span[@class="seg"]')
    assert "".join(s.text_content() for s in segments) == TEXT.replace("\n", "")
    for element in segments:
        start = int(element.get("data-start"))
        assert TEXT[start:].startswith(element.text_content())
    for span in SPANS:
        marks = root.xpath(f'//span[@data-span="{span.uuid}"]')
        assert "".join(m.text_content() for m in marks) == TEXT[span.start : span.end]
        assert "first" in marks[0].get("class").split()
        assert all("first" not in m.get("class").split() for m in marks[1:])
    assert [int(p.get("data-start")) for p in root.xpath("//p")] == [0, TEXT.index("Critics")]


def test_markup_in_the_text_is_escaped():
    text = 'Breaking: <script>alert(1)</script> & <img src=x onerror="alert(2)">'
    span = mark("s", "<script>alert(1)</script>", text=text)
    html = document_html(segment_text(text, [span]), {"s": 0}, {"claim": 0})

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert parse(html).text_content() == text


def test_a_label_key_is_escaped_in_the_attribute():
    span = SpanMark("s", 'x" onclick="alert(1)', 0, 3)
    html = document_html(segment_text("abcdef", [span]), {"s": 0}, {})
    element = parse(html).xpath('//span[@data-span="s"]')[0]
    assert element.get("onclick") is None
    assert element.get("data-label") == 'x" onclick="alert(1)'


def test_markdown_keeps_formatting_and_drops_scripts_handlers_and_javascript_links():
    source = (
        "# Guidelines\n\n**Mark** claims. [ok](https://example.org) [bad](javascript:alert(1))\n\n"
        '<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n<a href="#" onclick="alert(3)">x</a>\n\n'
        "<style>body{display:none}</style>"
    )
    html = render_markdown(source)

    assert "<h1>Guidelines</h1>" in html
    assert "<strong>Mark</strong>" in html
    assert 'href="https://example.org"' in html
    lowered = html.lower()
    for forbidden in ("<script", "javascript:", "onerror", "onclick", "<img", "<style"):
        assert forbidden not in lowered, forbidden
    assert 'rel="noopener noreferrer nofollow"' in html


def test_label_initials_are_letters_only():
    assert label_initials("Counter-claim") == "CC"
    assert label_initials("'; }</style>") == "S"
    assert label_initials("—") == "?"
