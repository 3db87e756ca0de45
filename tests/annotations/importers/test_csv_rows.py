from __future__ import annotations

import io

from annotations.importers import get_importer


def test_the_sample_yields_one_document_per_row_with_real_line_numbers(parse, data):
    documents, errors = parse("csv", (data / "documents.csv").read_bytes(), "documents.csv")
    assert [document.line for document in documents] == [2, 3, 7]
    assert [(error.line, error.reason) for error in errors] == [
        (5, "published date 'yesterday' is not an ISO date (YYYY-MM-DD)"),
        (6, "the row has 2 cells; the header has 5"),
    ]
    first, second, third = documents
    assert first.title == "Tariff row"
    assert first.text == "The minister said that «tariffs will not rise this year»."
    assert first.metadata["source_url"] == "https://herald.example/t/1"
    assert first.metadata["outlet"] == "Steppe Herald"
    assert first.metadata["published"] == "2024-02-01"
    assert first.raw_source.startswith(b"Tariff row,") and first.raw_source.endswith(b"\r\n")
    # A quoted cell over two lines: CRLF inside it becomes LF, and the next row's line counts both.
    assert second.text == "Opposition MP: “the tariff rise is already decided”.\nThe ministry declined to comment 🤐."
    assert second.metadata["source_url"] is None
    assert third.title == "A row without a title; the first line becomes the title."


def test_columns_can_be_mapped_and_a_semicolon_file_in_windows_1251_is_read(parse):
    raw = ("Заголовок;Статья;Издание\r\nТарифы;Министр заявил, что «тарифы не вырастут»;Степной вестник\r\n").encode(
        "cp1251"
    )
    [document], errors = parse(
        "csv", raw, "export.csv", csv_text_column="Статья", csv_mapping={"title": "Заголовок", "outlet": "Издание"}
    )
    assert errors == []
    assert document.title == "Тарифы"
    assert document.text == "Министр заявил, что «тарифы не вырастут»"
    assert document.metadata["outlet"] == "Степной вестник"


def test_a_missing_text_column_stops_the_file_with_a_header_error(parse):
    documents, [error] = parse("csv", b"headline,body\r\nA,B\r\n", "wrong.csv")
    assert documents == []
    assert error.line == 1
    assert "no column 'text'" in error.reason and "'headline', 'body'" in error.reason


def test_a_mapping_to_a_missing_column_is_a_header_error(parse):
    documents, [error] = parse("csv", b"text\r\nA\r\n", "x.csv", csv_mapping={"author": "byline"})
    assert error.line == 1 and "'byline'" in error.reason


def test_a_row_with_an_empty_text_is_a_row_error_and_blank_rows_are_skipped(parse):
    documents, [error] = parse("csv", b"title,text\n\nA,\nB,The vote is on Friday.\n", "x.csv")
    assert [document.line for document in documents] == [4]
    assert (error.line, error.reason) == (3, "the text is empty")


def test_a_utf16_tab_separated_file_from_excel_is_read(parse):
    raw = "text\ttitle\nДепутат заявил о референдуме.\tРеферендум\n".encode("utf-16")
    [document], errors = parse("csv", raw, "excel.csv")
    assert errors == []
    assert document.title == "Референдум"


def test_count_hint_leaves_out_the_header(data):
    stream = io.BytesIO((data / "documents.csv").read_bytes())
    assert get_importer("csv").count_hint(stream) == 6
