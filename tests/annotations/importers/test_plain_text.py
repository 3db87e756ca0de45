from __future__ import annotations

import pytest

from annotations.importers._records import title_from_text

PLAIN = "Парламент одобрил закон\n\nДепутаты заявили, что «налоги не вырастут».\n"


def test_plain_text_is_decoded_normalised_cleaned_and_titled(parse, data):
    raw = (data / "article.txt").read_bytes()
    assert b"\r\n" in raw
    documents, errors = parse("text", raw, "article.txt")
    assert errors == []
    [document] = documents
    assert document.title == "Ministry denies plans to halt grain exports"
    assert "\r" not in document.text
    assert document.text.startswith("Ministry denies plans to halt grain exports\n\nAstana, 4 March")
    assert "«grain exports will continue without interruption»" in document.text
    assert "“has already stopped issuing new licences” to traders 📉." in document.text
    assert document.text.endswith("Ведомство назвало эти сообщения «фейком» и пообещало опубликовать статистику.")
    assert document.removed_lines == (
        "Scroll Top",
        "Ministry denies plans to halt grain exports",
        "Share",
        "Add comment…",
        "Write your comment 3",
        "© 2024 Steppe Herald. All rights reserved.",
    )
    assert document.raw_source == raw
    assert document.line is None
    assert document.sets == ()
    assert set(document.metadata.values()) == {None}


def test_cleanup_can_be_turned_off(parse, data):
    [document], _ = parse("text", (data / "article.txt").read_bytes(), "article.txt", cleanup=False)
    assert document.title == "Scroll Top"
    assert document.text.count("Ministry denies plans to halt grain exports") == 2
    assert document.removed_lines == ()


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(PLAIN.encode("utf-8"), id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + PLAIN.encode("utf-8"), id="utf-8 with BOM"),
        pytest.param(b"\xff\xfe" + PLAIN.encode("utf-16-le"), id="utf-16 LE with BOM"),
        pytest.param(PLAIN.encode("utf-16-le"), id="utf-16 LE without BOM"),
        pytest.param(PLAIN.encode("utf-16-be"), id="utf-16 BE without BOM"),
        pytest.param(PLAIN.encode("cp1251"), id="windows-1251"),
        pytest.param(PLAIN.replace("\n", "\r\n").encode("cp1251"), id="windows-1251 CRLF"),
    ],
)
def test_encodings_are_detected(parse, raw):
    [document], errors = parse("text", raw, "закон.txt")
    assert errors == []
    assert document.text == PLAIN.strip("\n")
    assert document.title == "Парламент одобрил закон"


def test_an_empty_file_is_a_row_error(parse):
    documents, errors = parse("text", b"\n\n   \n", "archive.zip:2024/empty-note.txt")
    assert documents == []
    assert [error.reason for error in errors] == ["the file has no text"]


def test_the_title_is_the_first_non_empty_line(parse):
    [document], _ = parse("text", b"   \n\nText.", "dir/note.txt")
    assert document.title == "Text."


def test_title_from_text_falls_back_to_the_file_name():
    assert title_from_text("", "corpus.zip:2024/grain-exports.txt") == "grain-exports"
    assert title_from_text("  \n", "notes") == "notes"


def test_a_very_long_first_line_is_cut_at_a_word():
    title = title_from_text("word " * 200, "x.txt")
    assert len(title) <= 300
    assert title.endswith("word…")


def test_a_png_renamed_txt_is_a_row_error(parse):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    documents, [error] = parse("text", png, "photo.txt")
    assert documents == []
    assert error.source_name == "photo.txt"
    assert "PNG" in error.reason


def test_a_file_over_the_size_limit_is_a_row_error(parse):
    documents, [error] = parse("text", b"x" * 101, "big.txt", max_file_bytes=100)
    assert documents == []
    assert "limit of 100 bytes" in error.reason
