"""Code point <-> UTF-16 offsets: exact round trips, refusal inside surrogate pairs, the index agrees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.offsets import Utf16Index, codepoint_to_utf16, utf16_length, utf16_to_codepoint

PIECES = ["😀", "👩‍👩‍👧", "🇰🇿", "𝕏", "e\u0301", "中文", "مرحبا", "שלום", "Пётр", "\n", "\t", "a", " "]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=25).map("".join)


def js_prefix_length(text: str, codepoints: int) -> int:
    """What a browser counts: UTF-16 code units of the prefix."""
    return len(text[:codepoints].encode("utf-16-le")) // 2


@given(texts)
def test_every_code_point_offset_round_trips_through_utf16(text):
    for offset in range(len(text) + 1):
        utf16 = codepoint_to_utf16(text, offset)
        assert utf16 == js_prefix_length(text, offset)
        assert utf16_to_codepoint(text, utf16) == offset


@given(texts)
def test_utf16_length_is_what_a_browser_counts(text):
    assert utf16_length(text) == len(text.encode("utf-16-le")) // 2


@given(texts)
def test_an_offset_inside_a_surrogate_pair_is_refused(text):
    for index, char in enumerate(text):
        if ord(char) > 0xFFFF:
            inside = codepoint_to_utf16(text, index) + 1
            with pytest.raises(ValueError, match="surrogate pair"):
                utf16_to_codepoint(text, inside)
            with pytest.raises(ValueError, match="surrogate pair"):
                Utf16Index(text).to_codepoint(inside)


@given(texts)
def test_the_index_agrees_with_the_plain_functions_everywhere(text):
    index = Utf16Index(text)
    for offset in range(len(text) + 1):
        assert index.to_utf16(offset) == codepoint_to_utf16(text, offset)
    for utf16 in range(utf16_length(text) + 1):
        try:
            expected = utf16_to_codepoint(text, utf16)
        except ValueError:
            with pytest.raises(ValueError):
                index.to_codepoint(utf16)
        else:
            assert index.to_codepoint(utf16) == expected


@given(texts, st.integers(min_value=1, max_value=50))
def test_offsets_outside_the_text_are_refused_by_both(text, beyond):
    index = Utf16Index(text)
    for bad in (-beyond, len(text) + beyond):
        with pytest.raises(ValueError):
            codepoint_to_utf16(text, bad)
        with pytest.raises(ValueError):
            index.to_utf16(bad)
    for bad in (-beyond, utf16_length(text) + beyond):
        with pytest.raises(ValueError):
            utf16_to_codepoint(text, bad)
        with pytest.raises(ValueError):
            index.to_codepoint(bad)


def test_an_emoji_takes_two_utf16_units():
    text = "Fire 🔥 then a claim"
    assert codepoint_to_utf16(text, text.index("then")) == text.index("then") + 1
    assert utf16_to_codepoint(text, 8) == 7
    with pytest.raises(ValueError, match="surrogate pair at code point 5"):
        utf16_to_codepoint(text, 6)
