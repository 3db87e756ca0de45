"""Text normalisation and decoding: property tests over the scripts and characters articles contain."""

from __future__ import annotations

import codecs
import hashlib
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.text import UndecodableText, decode_bytes, normalise_text, text_sha256

# Pieces articles really contain: emoji (astral, ZWJ sequences, flags), combining marks,
# CJK, Arabic and Hebrew (RTL), Cyrillic, every line-ending style, BOM, NUL and other controls.
PIECES = [
    "😀",
    "👩‍👩‍👧",
    "🇰🇿",
    "🌾",
    "e\u0301",
    "A\u030a",
    "\u0301",
    "ﬁ",
    "中文新闻",
    "記者",
    "مرحبا بالعالم",
    "שלום",
    "Пётр сказал",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\ufeff",
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    " ",
    "«»",
    "—",
]
article_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=30).map("".join)

ALLOWED_CONTROLS = {"\n", "\t"}


@given(article_text)
def test_normalising_twice_gives_the_same_text(text):
    once = normalise_text(text)
    assert normalise_text(once) == once


@given(article_text)
def test_normalised_text_has_no_carriage_return_bom_or_control_other_than_newline_and_tab(text):
    result = normalise_text(text)
    assert "\r" not in result
    assert "\ufeff" not in result
    for char in result:
        assert unicodedata.category(char) != "Cc" or char in ALLOWED_CONTROLS, repr(char)


@given(article_text)
def test_normalised_text_is_nfc(text):
    result = normalise_text(text)
    assert unicodedata.is_normalized("NFC", result)


@given(article_text)
def test_every_line_ending_becomes_one_newline(text):
    lines_before = text.count("\r\n") + text.replace("\r\n", "").count("\r") + text.replace("\r\n", "").count("\n")
    assert normalise_text(text).count("\n") == lines_before


def test_examples_of_each_rule():
    assert normalise_text("\ufeffOne\r\nTwo\rThree\x00!") == "One\nTwo\nThree!"
    assert normalise_text("Cafe\u0301") == "Café"
    assert normalise_text("tab\tstays") == "tab\tstays"
    assert normalise_text("emoji 😀 stays") == "emoji 😀 stays"


def test_the_hash_is_the_sha256_of_the_utf8_text():
    assert text_sha256("a") == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    assert text_sha256("Пётр") == hashlib.sha256("Пётр".encode()).hexdigest()


CYRILLIC = "Министр заявил, что налоги в следующем году снизятся. Критики ответили, что бюджет показывает рост."


@given(st.text(max_size=200))
def test_utf8_bytes_decode_to_the_same_text(text):
    assert decode_bytes(text.encode("utf-8")).text == text


@given(st.text(max_size=200))
def test_utf8_with_a_bom_decodes_without_the_bom(text):
    decoded = decode_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert decoded.text == text
    assert decoded.encoding == "utf-8-sig"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@given(text=st.text(max_size=200))
def test_utf16_with_a_bom_decodes_in_either_byte_order(codec, text):
    bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
    assert decode_bytes(bom + text.encode(codec)).text == text


def test_a_windows_1251_russian_sentence_is_detected():
    decoded = decode_bytes(CYRILLIC.encode("cp1251"))
    assert decoded.text == CYRILLIC
    assert decoded.encoding.replace("_", "").replace("-", "").lower() in {"cp1251", "windows1251"}


def test_binary_data_is_refused():
    png_like = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    with pytest.raises(UndecodableText, match="binary"):
        decode_bytes(png_like)


def test_a_file_of_nul_and_random_bytes_is_refused():
    with pytest.raises(UndecodableText):
        decode_bytes(b"\x00\xff\x00\xfe\x00\x01\x02\x03" * 512)
